//! Semantic checks the JSON Schema cannot express — required Salesforce fields covered, reserved
//! fields left alone, field names that exist, operands that fit their operator, regexes that
//! compile, expressions that parse, references between sections — and, when nothing is wrong,
//! the typed desired state built from what the checks parsed (`desired.rs`). No network.

use std::collections::HashMap;
use std::sync::Arc;

use super::desired;
use super::locate::Part;
use super::types::{
    ApplyMode, ClauseValue, Config, Mapping, MappingValue, Operand, RoleCondition, RoleRule,
    Threshold,
};
use crate::diagnostic::Severity;
use crate::grants::GrantKind;
use crate::suggest::closest;
use crate::user_fields::{
    READ_ONLY, REQUIRED_ON_CREATE, RESERVED, USER_FIELDS, api_name_problem, is_custom_field,
    user_field,
};

/// A problem at a JSON pointer, before it is placed in the file.
#[derive(Clone, Debug)]
pub(crate) struct Finding {
    pub(crate) severity: Severity,
    pub(crate) pointer: String,
    pub(crate) part: Part,
    /// A byte range inside the string value (an expression's error position).
    pub(crate) inner: Option<std::ops::Range<usize>>,
    pub(crate) message: String,
    pub(crate) label: String,
    pub(crate) help: Option<String>,
    /// The value was written unquoted and YAML read it as a number or boolean where text is
    /// expected: the help quotes the text as written in the file (`0012345`, not `12345.0`).
    pub(crate) unquoted: bool,
}

impl Finding {
    pub(crate) fn error(pointer: &str, message: String) -> Self {
        Finding {
            severity: Severity::Error,
            pointer: pointer.to_owned(),
            part: Part::Value,
            inner: None,
            message,
            label: String::new(),
            help: None,
            unquoted: false,
        }
    }

    pub(crate) fn warning(pointer: &str, message: String) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(pointer, message)
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `help`, when there is one.
    pub(crate) fn help_maybe(mut self, help: Option<String>) -> Self {
        self.help = help.or(self.help);
        self
    }

    pub(crate) fn part(mut self, part: Part) -> Self {
        self.part = part;
        self
    }

    pub(crate) fn at(mut self, pointer: &str, part: Part) -> Self {
        pointer.clone_into(&mut self.pointer);
        self.part = part;
        self
    }
}

/// Every semantic finding, in file order of the sections, and the desired state when none of
/// them is an error.
pub(crate) fn check(config: &Config) -> (Vec<Finding>, Option<desired::Config>) {
    let mut out = Vec::new();
    check_urls(config, &mut out);
    check_placeholders(config, &mut out);
    let scope = build_scope(config, &mut out);
    check_matching(config, &mut out);
    let mut expressions = parse_expressions(config, &mut out);
    check_attributes(config, &expressions, &mut out);
    check_anchor(config, &expressions, &mut out);
    check_matched_mappings(config, &expressions, &mut out);
    check_mappings(config, &mut out);
    check_roles(config, &mut out);
    check_ownership(config, &mut out);
    if let Some(reconcile) = &config.reconcile {
        let allow: Vec<String> = reconcile
            .auto_apply
            .allow
            .iter()
            .map(|kind| kind.name().to_owned())
            .collect();
        listed_twice(&allow, "/reconcile/auto_apply/allow", &mut out);
    }
    let threshold = build_threshold(config, &mut out);
    if out.iter().any(|f| f.severity == Severity::Error) {
        return (out, None);
    }
    let built = scope
        .zip(threshold)
        .and_then(|(scope, threshold)| build(config, scope, threshold, &mut expressions));
    if built.is_none() {
        out.push(Finding::error(
            "",
            "internal: a checked part of the config was not built; please report this".to_owned(),
        ));
    }
    (out, built)
}

/// The typed desired state from the file and what the checks parsed; `None` only if a piece is
/// missing, which the checks rule out.
fn build(
    config: &Config,
    scope: desired::Scope,
    max_deactivations: desired::Threshold,
    expressions: &mut HashMap<String, desired::Expression>,
) -> Option<desired::Config> {
    let mut take = |pointer: String| expressions.remove(&pointer);
    let matching = config
        .matching
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            Some(desired::MatchRule {
                source: take(format!("/matching/{i}/source"))?,
                target: rule.target.clone(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let mappings = config
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let value = match m.value()? {
                MappingValue::Source(s) => desired::MappingValue::Source(s.into()),
                MappingValue::Constant(c) => desired::MappingValue::Constant(c.to_owned()),
                MappingValue::Expression(_) => {
                    desired::MappingValue::Expression(take(format!("/mappings/{i}/expression"))?)
                }
            };
            Some(desired::Mapping {
                target: m.target.clone(),
                value,
                default: m.default.clone(),
                apply: m.apply,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let rules = config
        .roles
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let when = match &rule.when {
                RoleCondition::AppRole(role) => desired::RoleCondition::AppRole(role.clone()),
                RoleCondition::Group(group) => desired::RoleCondition::Group(group.clone()),
                RoleCondition::Expression(_) => desired::RoleCondition::Expression(take(format!(
                    "/roles/rules/{i}/when/expression"
                ))?),
            };
            Some(desired::RoleRule {
                when,
                profile: rule.profile.clone(),
                role: rule.role.clone(),
                grants: grant_lists(|kind| rule.grants(kind)),
                feature_licenses: features(&rule.feature_licenses),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(desired::Config {
        source: config.source.clone(),
        target: config.target.clone(),
        scope,
        matching,
        ownership: config.ownership.clone(),
        protect: config.protect.clone(),
        mappings,
        roles: desired::Roles {
            rules,
            managed: grant_lists(|kind| config.roles.managed(kind)),
            managed_feature_licenses: features(&config.roles.managed_feature_licenses),
            requires_licenses: config.roles.requires_licenses.clone(),
            app_roles: config.roles.app_roles.clone(),
        },
        deprovision: config.deprovision.clone(),
        safety: desired::Safety {
            max_deactivations,
            refuse_empty_source: config.safety.refuse_empty_source,
            sandbox_email_suffix: config.safety.sandbox_email_suffix.clone(),
        },
        reconcile: config.reconcile.clone(),
    })
}

/// What `roster import entra` could not know, written as `REPLACE-ME`: an error until filled in,
/// rather than a login that fails later with the placeholder in it.
fn check_placeholders(config: &Config, out: &mut Vec<Finding>) {
    use super::types::{Application, TargetAuth};
    const PLACEHOLDER: &str = "REPLACE-ME";
    let application = match &config.source.application {
        Application::DisplayName(v) => ("/source/application/display_name", v),
        Application::ServicePrincipalId(v) => ("/source/application/service_principal_id", v),
        Application::AppId(v) => ("/source/application/app_id", v),
    };
    let client = match &config.target.auth {
        TargetAuth::JwtBearer(j) => ("/target/auth/jwt_bearer/client_id", &j.client_id),
        TargetAuth::ClientCredentials(c) => {
            ("/target/auth/client_credentials/client_id", &c.client_id)
        }
        TargetAuth::Password(p) => ("/target/auth/password/client_id", &p.client_id),
    };
    for (pointer, value) in [
        ("/source/tenant_id", &config.source.tenant_id),
        ("/source/client_id", &config.source.client_id),
        application,
        client,
    ] {
        if value == PLACEHOLDER {
            out.push(
                Finding::error(
                    pointer,
                    format!("{PLACEHOLDER} is a placeholder `roster import entra` wrote"),
                )
                .label("fill this in"),
            );
        }
    }
}

fn check_urls(config: &Config, out: &mut Vec<Finding>) {
    let urls = [
        ("/source/login_url", config.source.login_url.as_deref()),
        ("/source/graph_url", config.source.graph_url.as_deref()),
        ("/target/login_url", Some(config.target.login_url.as_str())),
    ];
    for (pointer, url) in urls {
        if let Some(url) = url
            && let Err(reason) = crate::url_rules::check_base_url(url)
        {
            out.push(Finding::error(pointer, reason).label("not an allowed URL"));
        }
    }
}

/// The scope, each clause's operand checked against its operator and regexes compiled.
fn build_scope(config: &Config, out: &mut Vec<Finding>) -> Option<desired::Scope> {
    let mut filters = Vec::new();
    let mut complete = true;
    for (f, filter) in config.scope.filters.iter().enumerate() {
        let mut all = Vec::new();
        for (c, clause) in filter.all.iter().enumerate() {
            let pointer = format!("/scope/filters/{f}/all/{c}");
            match clause_operand(clause, &pointer, out) {
                Some(operand) => all.push(desired::Clause {
                    attribute: clause.attribute.clone(),
                    operator: clause.operator,
                    operand,
                }),
                None => complete = false,
            }
        }
        filters.push(desired::ScopeFilter {
            name: filter.name.clone(),
            all,
        });
    }
    complete.then(|| desired::Scope {
        assignment: config.scope.assignment,
        filters,
    })
}

/// A clause's operand in the kind its operator takes; a finding when it is not.
fn clause_operand(
    clause: &super::types::Clause,
    pointer: &str,
    out: &mut Vec<Finding>,
) -> Option<desired::ClauseOperand> {
    let op = clause.operator.name();
    match (clause.operator.operand(), &clause.value) {
        (Operand::None, None) => Some(desired::ClauseOperand::None),
        (Operand::List, Some(ClauseValue::List(items))) => {
            Some(desired::ClauseOperand::List(items.clone()))
        }
        (Operand::None, Some(_)) => {
            out.push(
                Finding::error(
                    &format!("{pointer}/value"),
                    format!("`{op}` takes no value"),
                )
                .label("remove this value"),
            );
            None
        }
        (_, None) => {
            out.push(
                Finding::error(pointer, format!("`{op}` needs a `value`")).label("no value given"),
            );
            None
        }
        (Operand::List, Some(_)) => {
            out.push(
                Finding::error(
                    &format!("{pointer}/value"),
                    format!("`{op}` needs a list of values, e.g. [Sales, Marketing]"),
                )
                .label("expected a list"),
            );
            None
        }
        (_, Some(ClauseValue::List(_))) => {
            out.push(
                Finding::error(
                    &format!("{pointer}/value"),
                    format!("`{op}` compares with one value, not a list"),
                )
                .label("expected one value")
                .help("use `in` or `not_in` to compare with a list"),
            );
            None
        }
        (Operand::Integer, Some(ClauseValue::Integer(n))) => {
            Some(desired::ClauseOperand::Integer(*n))
        }
        (Operand::Integer, Some(ClauseValue::Text(text))) => {
            if let Ok(n) = text.trim().parse::<i64>() {
                return Some(desired::ClauseOperand::Integer(n));
            }
            out.push(
                Finding::error(
                    &format!("{pointer}/value"),
                    format!("`{op}` compares integers; {text:?} is not one"),
                )
                .label("expected an integer"),
            );
            None
        }
        (Operand::Regex, Some(value)) => {
            let pattern = match value {
                ClauseValue::Text(text) => text.clone(),
                ClauseValue::Integer(n) => n.to_string(),
                ClauseValue::List(_) => return None,
            };
            match crate::expr::dotnet_regex::compile(&pattern) {
                Ok(regex) => Some(desired::ClauseOperand::Regex { pattern, regex }),
                Err(problem) => {
                    let mut finding = Finding::error(
                        &format!("{pointer}/value"),
                        "the regular expression cannot run".to_owned(),
                    )
                    .label("invalid regex")
                    .help(format!("the pattern has an error: {}", problem.message));
                    finding.inner = problem.offset.map(|at| at..at + 1);
                    out.push(finding);
                    None
                }
            }
        }
        (Operand::Text, Some(ClauseValue::Text(text))) => {
            Some(desired::ClauseOperand::Text(text.clone()))
        }
        (Operand::Text, Some(ClauseValue::Integer(n))) => {
            Some(desired::ClauseOperand::Text(n.to_string()))
        }
    }
}

fn check_matching(config: &Config, out: &mut Vec<Finding>) {
    for (i, rule) in config.matching.iter().enumerate() {
        check_field_name(&rule.target, &format!("/matching/{i}/target"), out);
    }
}

/// Every expression parses, and SelectUniqueValue sits only where Entra allows it. The parsed
/// expressions, by JSON pointer.
fn parse_expressions(
    config: &Config,
    out: &mut Vec<Finding>,
) -> HashMap<String, desired::Expression> {
    let mut expressions: Vec<(String, &str, Place)> = Vec::new();
    for (i, rule) in config.matching.iter().enumerate() {
        expressions.push((
            format!("/matching/{i}/source"),
            &rule.source,
            Place::Matching,
        ));
    }
    for (i, mapping) in config.mappings.iter().enumerate() {
        if let Some(MappingValue::Expression(e)) = mapping.value() {
            let place = match mapping.apply {
                ApplyMode::OnCreate => Place::CreateOnly,
                ApplyMode::Always => Place::Always,
            };
            expressions.push((format!("/mappings/{i}/expression"), e, place));
        }
    }
    for (i, rule) in config.roles.rules.iter().enumerate() {
        if let RoleCondition::Expression(e) = &rule.when {
            expressions.push((
                format!("/roles/rules/{i}/when/expression"),
                e,
                Place::Matching,
            ));
        }
    }
    let mut parsed_all = HashMap::new();
    for (pointer, source, place) in expressions {
        let parsed = match crate::expr::parse(source) {
            Err(err) => {
                let mut finding = Finding::error(&pointer, err.message).label("here");
                finding.inner = Some(err.span);
                finding.help = err.help;
                out.push(finding);
                continue;
            }
            Ok(parsed) => parsed,
        };
        let mut constants = Vec::new();
        crate::expr::constant_problems(&parsed, &mut constants);
        for (span, why) in constants {
            let mut finding = Finding::error(&pointer, why).label("fails for every user");
            finding.inner = Some(span);
            out.push(finding);
        }
        let mut patterns = Vec::new();
        crate::expr::regex_literals(&parsed, &mut patterns);
        for (pattern, span) in patterns {
            if let Err(problem) = crate::expr::dotnet_regex::compile(&pattern) {
                let mut finding =
                    Finding::error(&pointer, "the regular expression cannot run".to_owned())
                        .label("in this pattern")
                        .help(format!("the pattern has an error: {}", problem.message));
                finding.inner = Some(span);
                out.push(finding);
            }
        }
        if let Some((name, span, why)) = crate::expr::refused_call(&parsed) {
            let mut finding =
                Finding::error(&pointer, format!("{name} {why}")).label("not for Salesforce");
            finding.inner = Some(span);
            out.push(finding);
        }
        if crate::expr::is_select_unique_value(&parsed) {
            match place {
                Place::CreateOnly => {}
                Place::Always => out.push(
                    Finding::error(
                        &pointer,
                        "SelectUniqueValue only works on create".to_owned(),
                    )
                    .label("used on every update")
                    .help("add `apply: on_create` to this mapping, as Entra requires"),
                ),
                Place::Matching => out.push(
                    Finding::error(&pointer, "SelectUniqueValue cannot be used here".to_owned())
                        .label("not allowed in matching rules or role conditions")
                        .help("Entra allows it only in a mapping applied on create"),
                ),
            }
        }
        parsed_all.insert(
            pointer.clone(),
            desired::Expression {
                text: source.to_owned(),
                pointer,
                parsed: Arc::new(parsed),
            },
        );
    }
    select_unique_value_on_matched_fields(config, &parsed_all, out);
    parsed_all
}

/// Every Entra attribute the config reads is one roster can read (`check_attribute`), and
/// every scoping-filter attribute one Entra lets a filter use: a misspelt `source: jobTitel`
/// Whether an Entra attribute holds several values (`otherMails`, `appRoleAssignments`).
fn multi_valued(name: &str) -> bool {
    crate::graph::attributes::COLLECTION_PROPERTIES.contains(&name)
        || name == crate::graph::attributes::APP_ROLE_ASSIGNMENTS
}

/// The warning for a mapping that writes a multi-valued attribute to one User field.
fn multi_valued_warning(pointer: &str, name: &str) -> Finding {
    Finding::warning(
        pointer,
        format!("`{name}` is multi-valued; a User field holds one value"),
    )
    .label("a user with two values is an error item")
    .help(format!(
        "write `expression: 'Item([{name}], 1)'` or `'Join(\", \", [{name}])'`"
    ))
}

/// would otherwise map nothing.
fn check_attributes(
    config: &Config,
    expressions: &HashMap<String, desired::Expression>,
    out: &mut Vec<Finding>,
) {
    use crate::graph::attributes::{check_attribute, scoping_refusal};
    let unknown = |name: &str| format!("Entra users have no attribute `{name}`");
    for (i, mapping) in config.mappings.iter().enumerate() {
        let Some(MappingValue::Source(name)) = mapping.value() else {
            continue;
        };
        let pointer = format!("/mappings/{i}/source");
        if !is_attribute_name(name) {
            continue;
        }
        if let Err(help) = check_attribute(name) {
            out.push(
                Finding::error(&pointer, unknown(name))
                    .label("not an attribute roster can read")
                    .help(help),
            );
        } else if multi_valued(name) {
            out.push(multi_valued_warning(&pointer, name));
        }
    }
    let mut pointers: Vec<&String> = expressions.keys().collect();
    pointers.sort();
    for pointer in pointers {
        // `expression: '[otherMails]'` is `source: otherMails` said another way: warned alike.
        if pointer.starts_with("/mappings/")
            && let crate::expr::ExprKind::Attribute(name) = &expressions[pointer].parsed.kind
            && multi_valued(name)
        {
            out.push(multi_valued_warning(pointer, name));
        }
        let mut found = Vec::new();
        crate::expr::attribute_spans(&expressions[pointer].parsed, &mut found);
        for (name, span) in found {
            if let Err(help) = check_attribute(&name) {
                let mut finding = Finding::error(pointer, unknown(&name))
                    .label("not an attribute roster can read")
                    .help(help);
                finding.inner = Some(span);
                out.push(finding);
            }
        }
    }
    for (f, filter) in config.scope.filters.iter().enumerate() {
        for (c, clause) in filter.all.iter().enumerate() {
            let pointer = format!("/scope/filters/{f}/all/{c}/attribute");
            let name = clause.attribute.as_str();
            if let Err(help) = check_attribute(name) {
                out.push(
                    Finding::error(&pointer, unknown(name))
                        .label("not an attribute roster can read")
                        .help(help),
                );
            } else if let Some(why) = scoping_refusal(name) {
                out.push(
                    Finding::error(&pointer, format!("a scoping filter cannot use `{name}`"))
                        .label(why)
                        .help(
                            "scope by group assignment instead, or filter on a single-valued \
                             text attribute (e.g. `department`, `employeeType`)",
                        ),
                );
            }
        }
    }
}

/// Warns when no matching rule uses an immutable attribute, and when a rule on one compares
/// with a field no mapping writes (the anchor would never be set).
fn check_anchor(
    config: &Config,
    expressions: &HashMap<String, desired::Expression>,
    out: &mut Vec<Finding>,
) {
    let mut anchored = false;
    for (i, rule) in config.matching.iter().enumerate() {
        let Some(parsed) = expressions.get(&format!("/matching/{i}/source")) else {
            return;
        };
        if !desired::is_anchor(&parsed.parsed) {
            continue;
        }
        anchored = true;
        if !config
            .mappings
            .iter()
            .any(|m| m.target.eq_ignore_ascii_case(&rule.target))
        {
            out.push(
                Finding::warning(
                    &format!("/matching/{i}/target"),
                    format!("no mapping writes `{}`, so this rule links only users someone stamped by hand", rule.target),
                )
                .label("never written")
                .help(format!(
                    "add the mapping `{{target: {}, source: ...}}` with the same attribute",
                    rule.target
                )),
            );
        }
    }
    if !anchored && !config.matching.is_empty() {
        out.push(
            Finding::warning(
                "/matching",
                "no matching rule uses an attribute that survives a rename (objectId, employeeId): \
                 a user whose userPrincipalName changes would be created again and the old \
                 Salesforce user deactivated"
                    .to_owned(),
            )
            .label("no immutable anchor")
            .help(
                "store the object id in a custom field and match on it first: \
                 `- {source: '[objectId]', target: Entra_Object_Id__c}`, with the mapping \
                 `{target: Entra_Object_Id__c, source: objectId}`",
            ),
        );
    }
}

/// Warns where a mapping writes a field matching rules compare with, but none of them looks for
/// what it writes (`[mail]` where the rule reads `[userPrincipalName]`): an account roster
/// creates holds the mapping's value, which the rules do not find on the next plan — the user
/// is created again, or, where another rule finds the account, its anchor disagrees (a
/// conflict). In Entra the two cannot differ: matching precedence is set on an attribute
/// mapping, whose expression both writes and matches ("Tutorial - Customize user provisioning
/// attribute-mappings", Microsoft Learn). What matching ignores is no difference
/// (`matched_form`); a constant is left alone, and so is a `default:` (an empty value matches
/// nothing either way).
fn check_matched_mappings(
    config: &Config,
    expressions: &HashMap<String, desired::Expression>,
    out: &mut Vec<Finding>,
) {
    let suffix = config.safety.sandbox_email_suffix.as_str();
    for (j, mapping) in config.mappings.iter().enumerate() {
        let field = mapping.target.as_str();
        let rules: Vec<(usize, &desired::Expression)> = config
            .matching
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.target.eq_ignore_ascii_case(field))
            .filter_map(|(i, _)| Some((i, expressions.get(&format!("/matching/{i}/source"))?)))
            .collect();
        let Some(&(first, _)) = rules.first() else {
            continue;
        };
        let (pointer, text, written) = match mapping.value() {
            Some(MappingValue::Source(name)) => (
                format!("/mappings/{j}/source"),
                format!("[{name}]"),
                crate::expr::Expr {
                    kind: crate::expr::ExprKind::Attribute(name.into()),
                    span: 0..0,
                },
            ),
            Some(MappingValue::Expression(text)) => {
                let pointer = format!("/mappings/{j}/expression");
                // An expression that did not parse is an error already.
                let Some(parsed) = expressions.get(&pointer) else {
                    continue;
                };
                (pointer, text.to_owned(), (*parsed.parsed).clone())
            }
            Some(MappingValue::Constant(_)) | None => continue,
        };
        if rules
            .iter()
            .any(|(_, rule)| same_matched(&rule.parsed, &written, field, suffix))
        {
            continue;
        }
        let rule = &config.matching[first];
        out.push(
            Finding::warning(
                &pointer,
                format!(
                    "matching rule {} looks for {} in {}, but this mapping writes {} there",
                    first + 1,
                    crate::render::quoted(&rule.source),
                    rule.target,
                    crate::render::quoted(&text)
                ),
            )
            .label("not what the matching rule looks for")
            .help(
                "write the same expression in both, as Entra keeps one (matching precedence is \
                 set on the mapping): an account roster creates holds what the mapping writes, \
                 which the rule does not look for — on the next plan no rule on this field finds \
                 it (the user created again), or another rule does and the anchor disagrees (a \
                 conflict)",
            ),
        );
    }
}

/// `expr` without what matching sets aside, as a rule compares values (`compare::match_key`):
/// an empty value's skip (`IgnoreFlowIfNullOrEmpty`), case (`ToLower`, `ToUpper`) but in a
/// custom field, which the org may keep unique and case-sensitive, and, in Email, the sandbox
/// suffix appended.
fn matched_form<'e>(
    expr: &'e crate::expr::Expr,
    field: &str,
    suffix: &str,
) -> &'e crate::expr::Expr {
    use crate::expr::ExprKind;
    let ExprKind::Call { name, args } = &expr.kind else {
        return expr;
    };
    let Some(Some(first)) = args.first() else {
        return expr;
    };
    let custom = field.to_ascii_lowercase().ends_with("__c");
    let peeled = match (*name, args.len()) {
        ("IgnoreFlowIfNullOrEmpty", 1) => true,
        ("ToLower" | "ToUpper", 1 | 2) => !custom,
        ("Append", 2) => {
            field.eq_ignore_ascii_case("Email")
                && !suffix.is_empty()
                && matches!(&args[1], Some(crate::expr::Expr { kind: ExprKind::Str(s), .. }) if s.eq_ignore_ascii_case(suffix))
        }
        _ => false,
    };
    if peeled {
        matched_form(first, field, suffix)
    } else {
        expr
    }
}

/// Whether `written` and `sought` give one value as a rule on `field` compares it:
/// `Expr::same_as`, with what matching sets aside (`matched_form`) set aside at every depth and
/// literals compared without case but in a custom field: `Append(ToLower([userPrincipalName]),
/// ".DEV1")` is `Append([userPrincipalName], ".dev1")` to a rule on Username.
fn same_matched(
    written: &crate::expr::Expr,
    sought: &crate::expr::Expr,
    field: &str,
    suffix: &str,
) -> bool {
    use crate::expr::ExprKind;
    let caseless = !field.to_ascii_lowercase().ends_with("__c");
    written.same_as(
        sought,
        &|e| matched_form(e, field, suffix),
        &|mine, theirs| match (mine, theirs) {
            (ExprKind::Str(mine), ExprKind::Str(theirs)) if caseless => {
                mine.to_lowercase() == theirs.to_lowercase()
            }
            _ => mine == theirs,
        },
    )
}

/// A field matched on cannot take a value chosen among alternatives: the user it creates with
/// `Username` `.b` would not be found by the rule that looks for `.a`, and the next run would
/// create them again. Entra: SelectUniqueValue "can't be applied to attributes that have a
/// matching precedence" (Microsoft, "Reference for writing expressions").
fn select_unique_value_on_matched_fields(
    config: &Config,
    parsed: &HashMap<String, desired::Expression>,
    out: &mut Vec<Finding>,
) {
    for (i, mapping) in config.mappings.iter().enumerate() {
        let pointer = format!("/mappings/{i}/expression");
        let unique = parsed
            .get(&pointer)
            .is_some_and(|e| crate::expr::is_select_unique_value(&e.parsed));
        if let Some(rule) = config
            .matching
            .iter()
            .position(|r| r.target.eq_ignore_ascii_case(&mapping.target))
            .filter(|_| unique)
        {
            out.push(
                Finding::error(
                    &pointer,
                    format!(
                        "SelectUniqueValue cannot give {}, which matching rule {} matches on",
                        mapping.target,
                        rule + 1
                    ),
                )
                .label("a value chosen among alternatives")
                .help(
                    "Entra does not allow SelectUniqueValue on an attribute with a matching \
                     precedence: a user created with another alternative would not be matched \
                     by the rule on the next run, and would be created again; match on another \
                     field (an anchor such as the Entra object id), or map one value",
                ),
            );
        }
    }
}

/// Where an expression is used, for SelectUniqueValue's rules.
#[derive(Clone, Copy)]
enum Place {
    Matching,
    CreateOnly,
    Always,
}

fn check_mappings(config: &Config, out: &mut Vec<Finding>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, mapping) in config.mappings.iter().enumerate() {
        if let Some(MappingValue::Constant(
            keyword @ ("IgnoreObjectFlow" | "IgnoreAttributeFlow"),
        )) = mapping.value()
        {
            out.push(
                Finding::warning(
                    &format!("/mappings/{i}/constant"),
                    format!("this writes the text {keyword:?} into every user"),
                )
                .label("a constant, not the keyword")
                .help(format!("to use the keyword, write `expression: {keyword}` (usually inside IIF or Switch)")),
            );
        }
        let pointer = format!("/mappings/{i}/target");
        let key = mapping.target.to_ascii_lowercase();
        if let Some(first) = seen.get(&key) {
            out.push(
                Finding::error(&pointer, format!("`{}` is mapped twice", mapping.target))
                    .label("second mapping of this field")
                    .help(format!("the first is /mappings/{first}; keep one")),
            );
            continue;
        }
        seen.insert(key, i);
        if let Some(reserved) = RESERVED
            .iter()
            .find(|r| r.eq_ignore_ascii_case(&mapping.target))
        {
            let owner = match *reserved {
                "Id" => "Salesforce assigns it, and every write names its record by it",
                "IsActive" => "the lifecycle (create, deactivate, reactivate) sets it",
                "IsFrozen" => {
                    "it lives on the user's UserLogin, and `deprovision` freezes and unfreezes"
                }
                _ => "`roles` sets it",
            };
            out.push(
                Finding::error(&pointer, format!("`{reserved}` cannot be mapped: {owner}"))
                    .label("reserved field"),
            );
            continue;
        }
        if let Some(read_only) = READ_ONLY
            .iter()
            .find(|r| r.eq_ignore_ascii_case(&mapping.target))
        {
            out.push(
                Finding::error(
                    &pointer,
                    format!("`{read_only}` cannot be mapped: Salesforce sets it and refuses writes to it"),
                )
                .label("read-only field"),
            );
            continue;
        }
        check_field_name(&mapping.target, &pointer, out);
        check_literal_lengths(mapping, i, out);
        if let Some(MappingValue::Source(attribute)) = mapping.value()
            && !is_attribute_name(attribute)
        {
            out.push(
                Finding::error(
                    &format!("/mappings/{i}/source"),
                    format!("{attribute:?} is not an attribute name"),
                )
                .label("expected a bare attribute name")
                .help(format!(
                    "`source` takes an attribute name such as `mail`; for an expression write `expression: {attribute}`"
                )),
            );
        }
    }
    for required in REQUIRED_ON_CREATE {
        if !seen.contains_key(&required.to_ascii_lowercase()) {
            out.push(
                Finding::error(
                    "/mappings",
                    format!("no mapping produces `{required}`, which Salesforce requires to create a user"),
                )
                .part(Part::Key)
                .label("add a mapping for it")
                .help(format!(
                    "every user needs Username, LastName, Email, Alias, TimeZoneSidKey, LocaleSidKey, EmailEncodingKey and LanguageLocaleKey; e.g. `- {{target: {required}, constant: ...}}`"
                )),
            );
        }
    }
}

fn check_roles(config: &Config, out: &mut Vec<Finding>) {
    let roles = &config.roles;
    if !roles.rules.iter().any(|r| r.profile.is_some()) {
        out.push(
            Finding::error(
                "/roles/rules",
                "no rule sets a `profile`, so no user could be created".to_owned(),
            )
            .label("rules without a profile")
            .help("Salesforce needs a profile for every new user; add `profile:` to a rule"),
        );
    }
    for (i, rule) in roles.rules.iter().enumerate() {
        let pointer = format!("/roles/rules/{i}");
        let grants_nothing = GrantKind::ALL.iter().all(|k| rule.grants(*k).is_empty())
            && rule.feature_licenses.is_empty();
        if rule.profile.is_none() && rule.role.is_none() && grants_nothing {
            out.push(
                Finding::error(&pointer, "the rule sets nothing".to_owned())
                    .label("no profile, role or grant")
                    .help(
                        "give it a `profile`, a `role` or a grant (`permission_sets`, \
                         `permission_set_groups`, `queues`, ...), or remove it",
                    ),
            );
        }
        dead_profile_or_role(&roles.rules, i, &pointer, out);
        protected_profile(config, rule, &pointer, out);
        for kind in GrantKind::ALL {
            let spec = kind.spec();
            listed_twice(
                rule.grants(kind),
                &format!("{pointer}/{}", spec.rule_key),
                out,
            );
            for (j, name) in rule.grants(kind).iter().enumerate() {
                if !roles.managed(kind).iter().any(|m| m == name) {
                    out.push(
                        Finding::warning(
                            &format!("{pointer}/{}/{j}", spec.rule_key),
                            format!(
                                "{} `{name}` is granted but not in `managed_{}`, so roster never \
                                 removes it",
                                spec.noun, spec.rule_key
                            ),
                        )
                        .label("not managed")
                        .help(format!(
                            "add it to roles.managed_{} to have it removed when no rule grants it",
                            spec.rule_key
                        )),
                    );
                }
            }
        }
        check_feature_names(
            &rule.feature_licenses,
            &format!("{pointer}/feature_licenses"),
            out,
        );
        for (j, name) in rule.feature_licenses.iter().enumerate() {
            let managed = roles.managed_feature_licenses.iter().any(|m| {
                crate::grants::feature_license(m).map(|f| f.field)
                    == crate::grants::feature_license(name).map(|f| f.field)
            });
            if !managed && crate::grants::feature_license(name).is_some() {
                out.push(
                    Finding::warning(
                        &format!("{pointer}/feature_licenses/{j}"),
                        format!(
                            "feature licence `{name}` is granted but not in \
                             `managed_feature_licenses`, so roster never turns it off"
                        ),
                    )
                    .label("not managed")
                    .help("add it to roles.managed_feature_licenses to have it turned off when no rule grants it"),
                );
            }
        }
    }
    check_feature_names(
        &roles.managed_feature_licenses,
        "/roles/managed_feature_licenses",
        out,
    );
    for kind in GrantKind::ALL {
        listed_twice(
            roles.managed(kind),
            &format!("/roles/managed_{}", kind.spec().rule_key),
            out,
        );
    }
}

/// A rule's `profile` or `role` that can never apply. The first matching rule with a profile
/// sets the profile and the role (`plan::mapping::roles`): a role on a rule without a profile is
/// never set (an error: the config says what it will not do), and the profile and role of a rule
/// whose condition an earlier rule with a profile repeats word for word are never reached (a
/// warning: its grants still accumulate).
fn dead_profile_or_role(rules: &[RoleRule], i: usize, pointer: &str, out: &mut Vec<Finding>) {
    let rule = &rules[i];
    if rule.profile.is_none() && rule.role.is_some() {
        out.push(
            Finding::error(
                &format!("{pointer}/role"),
                "a role on a rule without a profile is never set: the first matching rule with \
                 a profile sets both the profile and the role"
                    .to_owned(),
            )
            .label("role without a profile")
            .help(
                "give this rule the `profile` its users should have, or move the role to the \
                 rule that sets their profile",
            ),
        );
    }
    if rule.profile.is_none() && rule.role.is_none() {
        return;
    }
    let same = |earlier: &RoleRule| match (&earlier.when, &rule.when) {
        (RoleCondition::AppRole(a), RoleCondition::AppRole(b))
        | (RoleCondition::Group(a), RoleCondition::Group(b)) => a == b,
        (RoleCondition::Expression(a), RoleCondition::Expression(b)) => a.trim() == b.trim(),
        _ => false,
    };
    if let Some(first) = rules[..i]
        .iter()
        .position(|earlier| earlier.profile.is_some() && same(earlier))
    {
        let (what, never) = match (&rule.profile, &rule.role) {
            (Some(_), Some(_)) => ("profile", "profile and role never apply"),
            (Some(_), None) => ("profile", "profile never applies"),
            (None, _) => ("role", "role never applies"),
        };
        out.push(
            Finding::warning(
                &format!("{pointer}/{what}"),
                format!(
                    "this rule's {never}: /roles/rules/{first} has the same condition and sets \
                     the profile and role first"
                ),
            )
            .label("never reached")
            .help(format!(
                "set the profile and role on /roles/rules/{first} only, or give this rule \
                 another condition"
            )),
        );
    }
}

/// A warning for each name of `names` (at `pointer`) given again: once says it, and a second
/// copy is often a typo for another name. Salesforce's API names compare without case.
fn listed_twice(names: &[String], pointer: &str, out: &mut Vec<Finding>) {
    for (j, name) in names.iter().enumerate() {
        if let Some(first) = names[..j].iter().position(|n| n.eq_ignore_ascii_case(name)) {
            out.push(
                Finding::warning(
                    &format!("{pointer}/{j}"),
                    format!("`{name}` is listed twice (first at {pointer}/{first})"),
                )
                .label("again")
                .help("list it once; if another name was meant, write that one"),
            );
        }
    }
}

/// A warning when `rule` gives a profile `protect.profiles` names: roster would create users
/// it can then never change or deprovision (helper-60).
fn protected_profile(
    config: &Config,
    rule: &crate::config::types::RoleRule,
    pointer: &str,
    out: &mut Vec<Finding>,
) {
    if let Some(crate::config::RecordRef::Name(profile)) = &rule.profile
        && config.protect.profiles.iter().any(|p| p == profile)
    {
        out.push(
            Finding::warning(
                &format!("{pointer}/profile"),
                format!(
                    "`{profile}` is protected: roster creates users with it, then never \
                     changes, deactivates or freezes them, even once they leave"
                ),
            )
            .label("a protected profile")
            .help(
                "give this rule another profile, or take the profile out of \
                 `protect.profiles` and protect those users by Username",
            ),
        );
    }
}

/// Each name must be one of the feature licences the API can set.
fn check_feature_names(names: &[String], pointer: &str, out: &mut Vec<Finding>) {
    for (j, name) in names.iter().enumerate() {
        if crate::grants::feature_license(name).is_none() {
            let known = crate::grants::FEATURE_LICENSES.iter().map(|f| f.name);
            let mut finding = Finding::error(
                &format!("{pointer}/{j}"),
                format!("`{name}` is not a feature licence roster can set"),
            )
            .label("unknown feature licence");
            finding = match crate::suggest::closest(name, known) {
                Some(c) => finding.help(format!("did you mean `{c}`?")),
                None => finding.help(format!(
                    "one of: {}",
                    crate::grants::FEATURE_LICENSES
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            out.push(finding);
        }
    }
}

/// A rule's (or the managed lists') names per kind, without the empty kinds.
fn grant_lists<'a>(
    names: impl Fn(GrantKind) -> &'a [String],
) -> std::collections::BTreeMap<GrantKind, Vec<String>> {
    GrantKind::ALL
        .into_iter()
        .filter(|k| !names(*k).is_empty())
        .map(|k| (k, names(k).to_vec()))
        .collect()
}

/// The feature licences named (validated first, so none is unknown).
fn features(names: &[String]) -> Vec<&'static crate::grants::FeatureLicense> {
    let mut out: Vec<&'static crate::grants::FeatureLicense> = Vec::new();
    for f in names
        .iter()
        .filter_map(|n| crate::grants::feature_license(n))
    {
        if !out.iter().any(|o| o.field == f.field) {
            out.push(f);
        }
    }
    out
}

/// The ownership suffix: every Username ends with the empty string, so an empty or blank suffix
/// would make roster own — and deactivate — every user in the org.
fn check_ownership(config: &Config, out: &mut Vec<Finding>) {
    let Some(suffix) = &config.ownership.username_suffix else {
        return;
    };
    if config.protect.usernames.is_empty() && config.protect.profiles.is_empty() {
        out.push(
            Finding::warning(
                "/ownership/username_suffix",
                "roster owns every Username ending in this suffix and nothing is protected: admins \
                 no Entra user links are deactivated as orphans (only the user roster signs in as \
                 is always spared)"
                    .to_owned(),
            )
            .label("no `protect`")
            .help("add `protect: {usernames: [...], profiles: [System Administrator]}`"),
        );
    }
    if suffix.trim().is_empty() || suffix.chars().any(char::is_whitespace) {
        out.push(
            Finding::error(
                "/ownership/username_suffix",
                format!("the ownership suffix {suffix:?} is empty or contains whitespace"),
            )
            .label("would match every Username, or none")
            .help("use the sandbox suffix roster's Usernames end with, e.g. `.dev1`, or remove `ownership`"),
        );
    }
}

/// The deactivation threshold: a count, or a percentage turned into a ratio.
fn build_threshold(config: &Config, out: &mut Vec<Finding>) -> Option<desired::Threshold> {
    match &config.safety.max_deactivations {
        Threshold::Count(n) => Some(desired::Threshold::Count(*n)),
        Threshold::Percent(text) => {
            let number = text
                .trim_end_matches('%')
                .parse::<f64>()
                .unwrap_or(f64::NAN);
            if (0.0..=100.0).contains(&number) {
                Some(desired::Threshold::Ratio(number / 100.0))
            } else {
                out.push(
                    Finding::error(
                        "/safety/max_deactivations",
                        format!("{text} is not a percentage between 0% and 100%"),
                    )
                    .label("out of range"),
                );
                None
            }
        }
    }
}

/// A constant or default longer than the field allows would fail every create.
fn check_literal_lengths(mapping: &Mapping, index: usize, out: &mut Vec<Finding>) {
    let literals = [
        ("constant", mapping.constant.as_deref()),
        ("default", mapping.default.as_deref()),
    ];
    // A constant for a restricted picklist must at least look like one of its values; the
    // org's own list is checked by `plan`, against describe.
    for (key, value) in literals {
        if let Some(value) = value
            && let Some(problem) =
                crate::user_fields::picklist_shape_problem(&mapping.target, value)
        {
            out.push(
                Finding::error(&format!("/mappings/{index}/{key}"), problem)
                    .label("not a value of this restricted picklist")
                    .help(crate::user_fields::picklist_help(&mapping.target)),
            );
        }
    }
    let Some(max) = user_field(&mapping.target).and_then(|f| f.max_len) else {
        return;
    };
    for (key, value) in literals {
        if let Some(value) = value
            && value.chars().count() > max
        {
            out.push(
                Finding::error(
                    &format!("/mappings/{index}/{key}"),
                    format!(
                        "`{}` holds at most {max} characters; this {key} has {}",
                        mapping.target,
                        value.chars().count()
                    ),
                )
                .label("too long for Salesforce"),
            );
        }
    }
}

/// A target field must be a User field: a known standard field or a custom `__c` field; any
/// name must at least be a field API name, since it becomes part of a SOQL query.
fn check_field_name(name: &str, pointer: &str, out: &mut Vec<Finding>) {
    // Salesforce reads a field's name in any case, but the plan, the policy (feature licences
    // are grants), the org's field rules and the audit log know a field by its one spelling: a
    // standard field is written as Salesforce spells it.
    if let Some(field) = user_field(name)
        && field.name != name
    {
        out.push(
            Finding::error(
                pointer,
                format!("`{name}` is spelled `{}` in Salesforce", field.name),
            )
            .label("another spelling")
            .help(format!("write `{}`", field.name)),
        );
        return;
    }
    if user_field(name).is_some() || is_custom_field(name) {
        return;
    }
    if let Some(problem) = api_name_problem(name) {
        let mut finding = Finding::error(
            pointer,
            format!("`{name}` is not a Salesforce field API name: {problem}"),
        )
        .label("not a field name");
        if let Some(best) = closest(name, USER_FIELDS.iter().map(|f| f.name)) {
            finding = finding.help(format!("did you mean `{best}`?"));
        } else {
            finding = finding.help(
                "standard fields are letters and digits (`Department`); custom fields end in \
                 `__c` (`Cost_Center__c`)",
            );
        }
        out.push(finding);
        return;
    }
    let known = USER_FIELDS.iter().map(|f| f.name);
    match closest(name, known) {
        Some(best) => out.push(
            Finding::error(pointer, format!("`{name}` is not a Salesforce User field"))
                .label("unknown field")
                .help(format!("did you mean `{best}`?")),
        ),
        None => out.push(
            Finding::warning(
                pointer,
                format!("`{name}` is not a User field roster knows"),
            )
            .label("unknown field")
            .help("custom fields end in `__c`; Salesforce rejects fields that do not exist"),
        ),
    }
}

/// Entra attribute names: letters, digits, `_`, `-`, `.` (e.g. `extension_<appid>_costCenter`).
fn is_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
