//! `roster diff BASE.yaml HEAD.yaml`: what a change to the config means, not which lines moved —
//! a mapping's source became an expression, a rule now grants `Reports_Export`, the threshold
//! went from 10 to 5. Both files are checked as `validate` checks them; each is then read as
//! facts (a path and its value, or a set of names), and the facts are compared.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::cli::{DiffArgs, DiffFormat};
use crate::config::{
    ClauseOperand, Config, LoadError, MappingValue, OutOfScope, RecordRef, RoleCondition,
    Threshold, WhenRefused,
};
use crate::error::{Error, Outcome};
use crate::grants::GrantKind;

/// A fact's value: one text, a text compared in a canonical form, or a set of names (compared
/// by membership, shown as `+`/`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fact {
    Text(String),
    /// Shown as written, compared as the second: a value written another way that means the
    /// same (a GUID's case, an 18-character id's, a URL's host case or trailing slash) is no
    /// change.
    Canonical(String, String),
    Names(Vec<String>),
}

impl Fact {
    /// Whether the two say the same.
    fn same(&self, other: &Fact) -> bool {
        match (self, other) {
            (Fact::Canonical(_, a), Fact::Canonical(_, b)) => a == b,
            _ => self == other,
        }
    }
}

/// `value` shown as written and compared as `canonical` makes it.
fn put_canonical(out: &mut Vec<(String, Fact)>, path: &str, value: &str, canonical: String) {
    out.push((
        path.to_owned(),
        Fact::Canonical(value.to_owned(), canonical),
    ));
}

/// A URL as the client reads it (WHATWG: the host in lower case, an empty path as `/`); the
/// text as it is when it is no URL.
fn canonical_url(text: &str) -> String {
    url::Url::parse(text.trim()).map_or_else(|_| text.to_owned(), |u| u.to_string())
}

/// A record named by name as written; by id, in its 15-character form (`canonical_id`: the
/// 18-character form in any case is the same record).
fn canonical_record(record: &RecordRef) -> String {
    match record {
        RecordRef::Id(crate::config::RecordId { id }) => crate::salesforce::canonical_id(id)
            .map_or_else(
                || format!("id {id}"),
                |id| format!("id {}", String::from_utf8_lossy(&id)),
            ),
        RecordRef::Name(_) => record.to_string(),
    }
}

/// One difference.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Difference {
    /// Where in the config: `mappings["Title"]`, `roles.rules[app_role "Sales Manager"].permission_sets`.
    path: String,
    /// `added`, `removed` or `changed`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// For a set: the names it gained and lost.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    added: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    removed: Vec<String>,
}

pub(crate) fn run(args: &DiffArgs) -> Result<Outcome, Error> {
    // Both files are checked before either's problems are said: all of them at once.
    let (base, head) = match (load(&args.base, "BASE"), load(&args.head, "HEAD")) {
        (Ok(base), Ok(head)) => (base, head),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (
            Err(Error::Config(LoadError::Invalid(mut first))),
            Err(Error::Config(LoadError::Invalid(second))),
        ) => {
            first.extend(second);
            return Err(Error::Diagnostics(first));
        }
        (Err(first), Err(second)) => {
            super::report_error(&first);
            return Err(second);
        }
    };
    let rules = RuleNames::of(&base, &head);
    let differences = compare(
        &facts(&base, &rules.base, rules.reordered),
        &facts(&head, &rules.head, rules.reordered),
    );
    let out = match args.format {
        DiffFormat::Text => text(&differences),
        DiffFormat::Markdown => markdown(&differences),
        DiffFormat::Json => {
            let mut text = serde_json::to_string_pretty(&differences)
                .map_err(|e| Error::Output(std::io::Error::other(e)))?;
            text.push('\n');
            text
        }
    };
    super::print(&out)?;
    Ok(if args.detailed_exitcode && !differences.is_empty() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

/// `path`'s config; a file missing or unreadable named as the argument it was (`BASE`, `HEAD`):
/// a first run's hint about `-c` and `ROSTER_CONFIG` does not fit here.
fn load(path: &Path, side: &str) -> Result<Config, Error> {
    match crate::config::load(path) {
        Ok(loaded) => Ok(loaded.config),
        Err(LoadError::Read {
            path: given,
            source,
        }) if given == path => Err(Error::Usage(format!(
            "{side} {}: {}",
            crate::diagnostic::display_path(path),
            if source.kind() == std::io::ErrorKind::NotFound {
                "there is no such file".to_owned()
            } else {
                format!("cannot be read: {source}")
            }
        ))),
        Err(e) => Err(e.into()),
    }
}

fn put(out: &mut Vec<(String, Fact)>, path: &str, value: String) {
    out.push((path.to_owned(), Fact::Text(value)));
}

/// The config as facts, in the file's order; its role rules named by `rule_names` (one per
/// rule), with the rules' order when `reordered` (the other file has the same rules in
/// another order).
fn facts(config: &Config, rule_names: &[String], reordered: bool) -> Vec<(String, Fact)> {
    let mut out: Vec<(String, Fact)> = Vec::new();
    let source = &config.source;
    // A GUID in either case is the same tenant.
    put_canonical(
        &mut out,
        "source.tenant_id",
        &source.tenant_id,
        source.tenant_id.to_ascii_lowercase(),
    );
    put(&mut out, "source.client_id", source.client_id.clone());
    // Where each secret comes from (never its value): a change of source — another variable, a
    // file anywhere on the machine — is a change a reviewer must see.
    put(
        &mut out,
        "source.credential",
        match &source.credential {
            crate::config::SourceCredential::ClientSecret(secret) => {
                format!("client_secret from {secret}")
            }
            crate::config::SourceCredential::Certificate(c) => format!(
                "certificate from {}, private_key from {}",
                c.certificate, c.private_key
            ),
            // GitHub Actions' OIDC token, the one provider.
            crate::config::SourceCredential::Federated(_) => "federated, github_actions".to_owned(),
        },
    );
    put(
        &mut out,
        "source.application",
        match &source.application {
            crate::config::Application::DisplayName(n) => format!("display_name {n:?}"),
            crate::config::Application::ServicePrincipalId(i) => {
                format!("service_principal_id {i}")
            }
            crate::config::Application::AppId(i) => format!("app_id {i}"),
        },
    );
    for (path, url) in [
        ("source.login_url", &source.login_url),
        ("source.graph_url", &source.graph_url),
    ] {
        if let Some(url) = url {
            put_canonical(&mut out, path, url, canonical_url(url));
        }
    }
    put_canonical(
        &mut out,
        "target.login_url",
        &config.target.login_url,
        canonical_url(&config.target.login_url),
    );
    put(
        &mut out,
        "target.api_version",
        config.target.api_version.clone(),
    );
    put(
        &mut out,
        "target.auth",
        match &config.target.auth {
            crate::config::TargetAuth::JwtBearer(j) => format!(
                "jwt_bearer, client {}, user {}, private_key from {}",
                j.client_id, j.username, j.private_key
            ),
            crate::config::TargetAuth::ClientCredentials(c) => format!(
                "client_credentials, client {}, client_secret from {}",
                c.client_id, c.client_secret
            ),
            crate::config::TargetAuth::Password(p) => format!(
                "password, client {}, user {}, client_secret from {}, password from {}{}",
                p.client_id,
                p.username,
                p.client_secret,
                p.password,
                p.security_token
                    .as_ref()
                    .map(|t| format!(", security_token from {t}"))
                    .unwrap_or_default()
            ),
        },
    );
    scope_and_mappings(config, &mut out);
    roles(config, rule_names, reordered, &mut out);
    policy(config, &mut out);
    out
}

/// Protection, deprovisioning, safety and the reconcile policy.
fn policy(config: &Config, out: &mut Vec<(String, Fact)>) {
    for (path, names) in [
        ("protect.usernames", &config.protect.usernames),
        ("protect.profiles", &config.protect.profiles),
    ] {
        if !names.is_empty() {
            out.push((path.to_owned(), Fact::Names(names.clone())));
        }
    }
    put(
        out,
        "deprovision.out_of_scope",
        match config.deprovision.out_of_scope {
            OutOfScope::Deactivate => "deactivate",
            OutOfScope::Freeze => "freeze",
            OutOfScope::Ignore => "ignore",
        }
        .to_owned(),
    );
    put(
        out,
        "deprovision.when_refused",
        match config.deprovision.when_refused {
            WhenRefused::Freeze => "freeze",
            WhenRefused::Fail => "fail",
        }
        .to_owned(),
    );
    put(
        out,
        "safety.max_deactivations",
        match config.safety.max_deactivations {
            Threshold::Count(n) => n.to_string(),
            Threshold::Ratio(r) => format!("{}%", r * 100.0),
        },
    );
    put(
        out,
        "safety.refuse_empty_source",
        config.safety.refuse_empty_source.to_string(),
    );
    put(
        out,
        "safety.sandbox_email_suffix",
        config.safety.sandbox_email_suffix.clone(),
    );
    // What a scheduled run may carry out with no one reviewing it.
    if let Some(reconcile) = &config.reconcile {
        let policy = &reconcile.auto_apply;
        out.push((
            "reconcile.auto_apply.allow".to_owned(),
            Fact::Names(policy.allow.iter().map(|a| a.name().to_owned()).collect()),
        ));
        for (path, limit) in [
            ("reconcile.auto_apply.max_creates", policy.max_creates),
            ("reconcile.auto_apply.max_updates", policy.max_updates),
            (
                "reconcile.auto_apply.max_deactivations",
                policy.max_deactivations,
            ),
        ] {
            if let Some(limit) = limit {
                put(out, path, limit.to_string());
            }
        }
    }
}

/// Scope, matching, ownership and mappings.
fn scope_and_mappings(config: &Config, out: &mut Vec<(String, Fact)>) {
    put(
        out,
        "scope.assignment",
        match config.scope.assignment {
            crate::config::Assignment::Assigned => "assigned",
            crate::config::Assignment::All => "all",
        }
        .to_owned(),
    );
    // Filters are OR-ed: their order means nothing, and two may share a name. Each is one
    // member of a set, `name: clause AND clause`.
    let filters: Vec<String> = config
        .scope
        .filters
        .iter()
        .enumerate()
        .map(|(i, filter)| {
            // Clauses are AND-ed and a list is a set of values: neither's order means
            // anything, nor does a value listed twice.
            let mut clauses: Vec<String> = filter
                .all
                .iter()
                .map(|c| {
                    let operand = match &c.operand {
                        ClauseOperand::None => String::new(),
                        ClauseOperand::Text(t) => format!(" {t:?}"),
                        ClauseOperand::Integer(n) => format!(" {n}"),
                        ClauseOperand::List(l) => {
                            let mut set: Vec<&String> = l.iter().collect();
                            set.sort();
                            set.dedup();
                            format!(" {set:?}")
                        }
                        ClauseOperand::Regex { pattern, .. } => format!(" /{pattern}/"),
                    };
                    format!("{} {}{operand}", c.attribute, c.operator.name())
                })
                .collect();
            clauses.sort();
            clauses.dedup();
            let name = filter
                .name
                .clone()
                .unwrap_or_else(|| format!("filter {}", i + 1));
            format!("{name:?}: {}", clauses.join(" AND "))
        })
        .collect();
    if !filters.is_empty() {
        out.push(("scope.filters".to_owned(), Fact::Names(filters)));
    }
    put(
        out,
        "matching",
        config
            .matching
            .iter()
            .map(|m| format!("{} = {}", m.source.text, m.target))
            .collect::<Vec<_>>()
            .join("; then "),
    );
    // Salesforce compares Usernames without case.
    if let Some(suffix) = &config.ownership.username_suffix {
        put_canonical(
            out,
            "ownership.username_suffix",
            suffix,
            suffix.to_lowercase(),
        );
    }
    for m in &config.mappings {
        let mut value = match &m.value {
            MappingValue::Source(s) => format!("source {s}"),
            MappingValue::Constant(c) => format!("constant {c:?}"),
            MappingValue::Expression(e) => format!("expression {}", e.text),
        };
        if let Some(default) = &m.default {
            let _ = write!(value, ", default {default:?}");
        }
        if m.apply == crate::config::ApplyMode::OnCreate {
            value.push_str(", on create only");
        }
        put(out, &format!("mappings[{:?}]", m.target), value);
    }
}

/// A role rule's condition as `roles.rules[…]` shows it: `app_role "Sales Rep"`.
fn condition(rule: &crate::config::RoleRule) -> String {
    match &rule.when {
        RoleCondition::AppRole(r) => format!("app_role {r:?}"),
        RoleCondition::Group(g) => format!("group {g:?}"),
        RoleCondition::Expression(e) => format!("expression {}", e.text),
    }
}

/// How each file's role rules are named in the facts, so that the rules of BASE and HEAD that
/// are one rule compare with each other. Rules are ordered (the first with a profile sets it)
/// and two may share a condition, so a rule is known by its position and its condition; the
/// rules of the two files are paired by condition (the first of a condition in BASE with the
/// first in HEAD, and so on), so inserting or removing one rule leaves the others alone. A rule
/// of BASE is named as its partner in HEAD (`2: app_role "Sales Rep"`); one HEAD has not, by
/// its own position — or, when that reads as a HEAD rule's name, `1 in BASE: …`. When the pairs
/// are in another order in HEAD, the order of the rules is a fact of each file, shown whole
/// (which rule comes before which is what a move changes; a position alone does not say it).
struct RuleNames {
    base: Vec<String>,
    head: Vec<String>,
    /// Whether rules moved: two rules of both files are in another order.
    reordered: bool,
}

impl RuleNames {
    fn of(base: &Config, head: &Config) -> RuleNames {
        let conditions = |c: &Config| c.roles.rules.iter().map(condition).collect::<Vec<_>>();
        let (then, now) = (conditions(base), conditions(head));
        let partner = partners(&then, &now);
        // In order when BASE's partners, read in HEAD's order, only go up.
        let paired: Vec<usize> = partner.iter().flatten().copied().collect();
        let reordered = paired.windows(2).any(|w| w[0] > w[1]);
        let head: Vec<String> = now
            .iter()
            .enumerate()
            .map(|(j, when)| format!("{j}: {when}"))
            .collect();
        let head_names: HashSet<&str> = head.iter().map(String::as_str).collect();
        let mut base: Vec<String> = then
            .iter()
            .enumerate()
            .map(|(i, when)| {
                let own = format!("{i}: {when}");
                if head_names.contains(own.as_str()) {
                    format!("{i} in BASE: {when}")
                } else {
                    own
                }
            })
            .collect();
        for (j, i) in partner.iter().enumerate() {
            if let Some(i) = i {
                base[*i].clone_from(&head[j]);
            }
        }
        RuleNames {
            base,
            head,
            reordered,
        }
    }
}

/// For each of `now`'s conditions, the one of `then` it is paired with. First in order: the
/// longest common subsequence, walked from the front so that equal conditions pair as early as
/// they can (a rule inserted after another of its condition is the new one), the common start
/// set aside (a change touches a few rules), while the table stays under 2^24 cells (some
/// 4,000 rules changed on each side); then each condition's rules left over, first with first
/// (those moved).
fn partners(then: &[String], now: &[String]) -> Vec<Option<usize>> {
    let start = then
        .iter()
        .zip(now)
        .take_while(|(old, new)| old == new)
        .count();
    let mut partner: Vec<Option<usize>> =
        (0..now.len()).map(|k| (k < start).then_some(k)).collect();
    let (olds, news) = (&then[start..], &now[start..]);
    if olds.len().saturating_mul(news.len()) <= 1 << 24 {
        // common[i * width + j]: the longest common order of olds[i..] and news[j..].
        let width = news.len() + 1;
        let mut common = vec![0u32; (olds.len() + 1) * width];
        for i in (0..olds.len()).rev() {
            for j in (0..news.len()).rev() {
                common[i * width + j] = if olds[i] == news[j] {
                    common[(i + 1) * width + j + 1] + 1
                } else {
                    common[(i + 1) * width + j].max(common[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < olds.len() && j < news.len() {
            if olds[i] == news[j] {
                partner[start + j] = Some(start + i);
                (i, j) = (i + 1, j + 1);
            } else if common[i * width + j + 1] >= common[(i + 1) * width + j] {
                j += 1;
            } else {
                i += 1;
            }
        }
    }
    let mut taken = vec![false; then.len()];
    for old in partner.iter().flatten() {
        taken[*old] = true;
    }
    let mut left: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (old, when) in then.iter().enumerate().filter(|(old, _)| !taken[*old]) {
        left.entry(when.as_str()).or_default().push_back(old);
    }
    for (found, when) in partner.iter_mut().zip(now) {
        if found.is_none() {
            *found = left.get_mut(when.as_str()).and_then(VecDeque::pop_front);
        }
    }
    partner
}

/// Role rules and what they grant, the managed lists, licences needed, app roles.
fn roles(config: &Config, names: &[String], reordered: bool, out: &mut Vec<(String, Fact)>) {
    if reordered {
        let order: Vec<String> = config.roles.rules.iter().map(condition).collect();
        put(out, "roles.rules order", order.join(", "));
    }
    for (rule, when) in config.roles.rules.iter().zip(names) {
        for (what, record) in [("profile", &rule.profile), ("role", &rule.role)] {
            if let Some(record) = record {
                put_canonical(
                    out,
                    &format!("roles.rules[{when}].{what}"),
                    &record.to_string(),
                    canonical_record(record),
                );
            }
        }
        for kind in GrantKind::ALL {
            let names = rule.grants(kind);
            if !names.is_empty() {
                out.push((
                    format!("roles.rules[{when}].{}", kind.spec().rule_key),
                    Fact::Names(names.to_vec()),
                ));
            }
        }
        if !rule.feature_licenses.is_empty() {
            out.push((
                format!("roles.rules[{when}].feature_licenses"),
                Fact::Names(
                    rule.feature_licenses
                        .iter()
                        .map(|f| f.name.to_owned())
                        .collect(),
                ),
            ));
        }
    }
    for kind in GrantKind::ALL {
        let names = config.roles.managed(kind);
        if !names.is_empty() {
            out.push((
                format!("roles.managed_{}", kind.spec().rule_key),
                Fact::Names(names.to_vec()),
            ));
        }
    }
    if !config.roles.managed_feature_licenses.is_empty() {
        out.push((
            "roles.managed_feature_licenses".to_owned(),
            Fact::Names(
                config
                    .roles
                    .managed_feature_licenses
                    .iter()
                    .map(|f| f.name.to_owned())
                    .collect(),
            ),
        ));
    }
    for (set, licences) in &config.roles.requires_licenses {
        out.push((
            format!("roles.requires_licenses[{set:?}]"),
            Fact::Names(licences.clone()),
        ));
    }
    if let Some(app_roles) = &config.roles.app_roles {
        out.push((
            "roles.app_roles".to_owned(),
            match app_roles {
                crate::config::AppRolesFrom::All(_) => {
                    Fact::Text("from every profile with a user licence".to_owned())
                }
                crate::config::AppRolesFrom::Listed(l) => Fact::Names(l.from_profiles.clone()),
            },
        ));
    }
}

/// The differences from `base` to `head`: head's order, then what only base had.
fn compare(base: &[(String, Fact)], head: &[(String, Fact)]) -> Vec<Difference> {
    let find = |facts: &[(String, Fact)], path: &str| {
        facts
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, f)| f.clone())
    };
    let shown = |fact: &Fact| match fact {
        Fact::Text(t) | Fact::Canonical(t, _) => t.clone(),
        Fact::Names(n) => n.join(", "),
    };
    let mut out = Vec::new();
    for (path, now) in head {
        let difference = match find(base, path) {
            None => Difference {
                path: path.clone(),
                kind: "added",
                before: None,
                after: Some(shown(now)),
                added: Vec::new(),
                removed: Vec::new(),
            },
            Some(then) if then.same(now) => continue,
            Some(Fact::Names(then)) if matches!(now, Fact::Names(_)) => {
                let Fact::Names(now) = now else { continue };
                Difference {
                    path: path.clone(),
                    kind: "changed",
                    before: None,
                    after: None,
                    added: now.iter().filter(|n| !then.contains(n)).cloned().collect(),
                    removed: then.iter().filter(|n| !now.contains(n)).cloned().collect(),
                }
            }
            Some(then) => Difference {
                path: path.clone(),
                kind: "changed",
                before: Some(shown(&then)),
                after: Some(shown(now)),
                added: Vec::new(),
                removed: Vec::new(),
            },
        };
        // A set whose members only moved is the same set.
        if difference.kind == "changed"
            && difference.before.is_none()
            && difference.added.is_empty()
            && difference.removed.is_empty()
        {
            continue;
        }
        out.push(difference);
    }
    for (path, then) in base {
        if find(head, path).is_none() {
            out.push(Difference {
                path: path.clone(),
                kind: "removed",
                before: Some(shown(then)),
                after: None,
                added: Vec::new(),
                removed: Vec::new(),
            });
        }
    }
    out
}

/// One line per difference: `+ path: value`, `- path: value`, `~ path: before -> after`, or for
/// a set `~ path: + name, - name`.
fn lines(differences: &[Difference]) -> Vec<String> {
    differences
        .iter()
        .map(|d| match d.kind {
            "added" => format!("+ {}: {}", d.path, d.after.as_deref().unwrap_or_default()),
            "removed" => format!("- {}: {}", d.path, d.before.as_deref().unwrap_or_default()),
            _ if d.before.is_some() => format!(
                "~ {}: {} -> {}",
                d.path,
                d.before.as_deref().unwrap_or_default(),
                d.after.as_deref().unwrap_or_default()
            ),
            _ => {
                let names: Vec<String> = d
                    .added
                    .iter()
                    .map(|n| format!("+ {n}"))
                    .chain(d.removed.iter().map(|n| format!("- {n}")))
                    .collect();
                format!("~ {}: {}", d.path, names.join(", "))
            }
        })
        .collect()
}

fn text(differences: &[Difference]) -> String {
    if differences.is_empty() {
        return "No differences: both files configure the same.\n".to_owned();
    }
    let mut out = String::new();
    for line in shown_lines(differences) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// One line per difference (`lines`), every character that acts escaped (`render::visible`):
/// a condition or a value holding an escape sequence or a bidi mark must not hide the lines
/// after it from the review.
fn shown_lines(differences: &[Difference]) -> Vec<String> {
    lines(differences)
        .into_iter()
        .map(crate::render::visible_string)
        .collect()
}

/// A `diff` block, for the pull-request comment above the plan.
fn markdown(differences: &[Difference]) -> String {
    if differences.is_empty() {
        return "**The config:** no change to what roster does.\n".to_owned();
    }
    let mut out = format!(
        "**The config:** {} change(s) to what roster does\n\n```diff\n",
        differences.len()
    );
    for line in shown_lines(differences) {
        // The fence must survive any text in the file.
        let _ = writeln!(out, "{}", line.replace("```", "'''"));
    }
    out.push_str("```\n");
    out
}
