//! `roster import entra`: an Entra provisioning job's schema and secrets as a `roster.yaml` that
//! means the same thing. What has no equivalent in roster is kept as a comment at its place,
//! with the reason, and listed in the notes; what would change who is in scope (a scoping
//! clause roster cannot read) is an error instead, since a guess there deprovisions people.
//!
//! Translations (Microsoft Learn, "Tutorial - Customize user provisioning attribute-mappings";
//! Graph `attributeMapping`; `entra-sync-schema.md` §2–§6):
//! - Direct (`Attribute`) → `source`, Constant → `constant`, Expression (`Function`) →
//!   `expression`; `defaultValue` → `default`; `ObjectAddOnly` → `apply: on_create`; a mapping
//!   with no source and a default (the portal's "None") → `constant` + `apply: on_create`.
//! - `matchingPriority` > 0 → `matching`, lowest first.
//! - `ProfileName ← SingleAppRoleAssignment([appRoleAssignments])` → one `roles.rules` entry per
//!   enabled app role (its display name the profile); `Switch(SingleAppRoleAssignment(...),
//!   default, role, profile, ...)` → one rule per pair.
//! - `IsActive ← Not([IsSoftDeleted])` → roster's lifecycle (deactivate out of scope).
//! - Scoping filter groups → `scope.filters`; secrets `SyncAll` → `scope.assignment`,
//!   `SkipOutOfScopeDeletions` → `deprovision.out_of_scope: ignore`, `SyncNotificationSettings`'
//!   accidental-deletion threshold N → `safety.max_deactivations: N - 1` (N allows N - 1).

use super::{
    AttributeMapping, Filter, FilterClause, ObjectMapping, Secret, SynchronizationSchema,
    graph_names, user_mapping,
};
use crate::config::{Application, Operand};
use crate::model::AppRole;
use crate::render::visible;
use std::fmt::Write as _;

/// What `import` reads: the job's schema, its secrets (sensitive values masked as Graph returns
/// them), and the service principal's app roles when known.
#[derive(Clone, Debug)]
pub(crate) struct Provisioning {
    pub(crate) schema: SynchronizationSchema,
    pub(crate) secrets: Vec<Secret>,
    /// `None` when only a downloaded schema is at hand.
    pub(crate) app_roles: Option<Vec<AppRole>>,
    /// Where the job came from, for the file's header (`job SfSandboxOutDelta.1a2b... of
    /// "Salesforce Sandbox"`, or a file name).
    pub(crate) origin: String,
}

/// How the written config connects: Entra's tenant, roster's app registration and the
/// enterprise application; the Salesforce connected app. Unknown parts become placeholders,
/// named in the notes.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    pub(crate) tenant_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) application: Option<Application>,
    pub(crate) salesforce_client_id: Option<String>,
}

/// The written config and what the reader must know about it.
#[derive(Clone, Debug)]
pub(crate) struct Imported {
    pub(crate) yaml: String,
    /// One line each: what was not carried over as is, or needs filling in, and why.
    pub(crate) notes: Vec<String>,
}

/// A placeholder the reader must replace; `validate` accepts it, the first login names it.
const PLACEHOLDER: &str = "REPLACE-ME";

/// Translates a job; an error names what cannot be translated without changing who is in scope
/// or which profile a user gets.
pub(crate) fn import(job: &Provisioning, connection: &Connection) -> Result<Imported, String> {
    let (_, mapping) = user_mapping(&job.schema)?;
    if !mapping.enabled {
        return Err(
            "the User -> User object mapping is disabled: the job provisions nobody, and a \
             config would provision everyone in scope; enable it in Entra first, or write the \
             config by hand"
                .to_owned(),
        );
    }
    let mut out = Writer::default();
    out.header(job);
    out.connection(job, connection);
    out.scope(job, mapping)?;
    out.matching(mapping)?;
    let profile = out.mappings(mapping)?;
    out.roles(job, profile.as_ref())?;
    out.deprovision(job, mapping)?;
    out.safety(job)?;
    Ok(Imported {
        yaml: out.text,
        notes: out.notes,
    })
}

#[derive(Default)]
struct Writer {
    text: String,
    notes: Vec<String>,
}

/// The ProfileName mapping, as roster reads it: role → profile pairs, or every app role.
enum ProfileSource {
    EveryAppRole,
    Pairs(Vec<(String, String)>),
}

impl Writer {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// A comment at this place in the file and the same in the notes, under `section`. `what`
    /// and `why` quote the job (an expression, a target's name, a filter's value), so every
    /// character that acts rather than shows is written as its escape (`\n`, `\t`, `\u{2028}`;
    /// `render::visible`): a line break from Entra would end the comment and make the rest of
    /// the line config (a mapping, a `protect:` list) that `validate` accepts, and YAML 1.1
    /// readers (PyYAML, yamllint) break lines at U+0085, U+2028 and U+2029 as well.
    fn kept(&mut self, indent: &str, section: &str, what: &str, why: &str) {
        let (what, why) = (visible(what), visible(why));
        for (i, part) in wrap(&format!("not imported: {what} — {why}"), 96 - indent.len())
            .iter()
            .enumerate()
        {
            let lead = if i == 0 { "# " } else { "#   " };
            self.line(&format!("{indent}{lead}{part}"));
        }
        self.notes.push(format!("{section}: {what} — {why}"));
    }

    fn header(&mut self, job: &Provisioning) {
        self.line("# yaml-language-server: $schema=schemas/roster.schema.json");
        self.line("#");
        self.line(&format!(
            "# Imported by `roster import entra` from {}.",
            visible(&job.origin)
        ));
        self.line("# What Entra has and roster cannot express is kept below as comments, with the reason.");
        self.line("version: 1");
    }

    fn connection(&mut self, job: &Provisioning, connection: &Connection) {
        let mut placeholder = |what: &str, value: &Option<String>| -> String {
            value.clone().unwrap_or_else(|| {
                self.notes.push(format!(
                    "{what}: written as {PLACEHOLDER}; fill it in before `roster plan`"
                ));
                PLACEHOLDER.to_owned()
            })
        };
        let tenant = placeholder("source.tenant_id", &connection.tenant_id);
        let client = placeholder("source.client_id", &connection.client_id);
        let sf_client = placeholder(
            "target.auth.client_credentials.client_id (the connected app's consumer key)",
            &connection.salesforce_client_id,
        );
        self.line("");
        self.line("source:");
        self.line(&format!("  tenant_id: {}", scalar(&tenant)));
        self.line(&format!("  client_id: {}", scalar(&client)));
        self.line("  credential:");
        self.line("    client_secret: {env: AZURE_CLIENT_SECRET}");
        self.line("  application:");
        match &connection.application {
            Some(Application::DisplayName(name)) => {
                self.line(&format!("    display_name: {}", scalar(name)));
            }
            Some(Application::ServicePrincipalId(id)) => {
                self.line(&format!("    service_principal_id: {}", scalar(id)));
            }
            Some(Application::AppId(id)) => self.line(&format!("    app_id: {}", scalar(id))),
            None => {
                self.notes.push(format!(
                    "source.application: written as {PLACEHOLDER}; name the enterprise application"
                ));
                self.line(&format!("    display_name: {PLACEHOLDER}"));
            }
        }
        // Why the job's BaseAddress is not kept, in words that never show a password in it.
        let base = secret(job, "BaseAddress").map(|given| {
            let https = url::Url::parse(given.trim()).is_ok_and(|u| u.scheme() == "https");
            if https {
                crate::url_rules::check_base_url(given).map(|_| given)
            } else {
                Err(format!(
                    "{} is not an https URL",
                    crate::url_rules::shown(given)
                ))
            }
        });
        self.line("");
        self.line("target:");
        match base {
            // Salesforce logs in at the host's root (`/services/oauth2/token`): a path Entra
            // was given (the SOAP endpoint, `/services/Soap/u/20.0`) would be put before it.
            Some(Ok(given)) => match url::Url::parse(given.trim()) {
                Ok(url) if !matches!(url.path(), "" | "/") => {
                    let origin = url.origin().ascii_serialization();
                    self.kept(
                        "  ",
                        "target.login_url",
                        &format!("the path {} of the job's BaseAddress", url.path()),
                        &format!("Salesforce's login is at the host's root; written as {origin}"),
                    );
                    self.line(&format!("  login_url: {}", scalar(&origin)));
                }
                _ => self.line(&format!("  login_url: {}", scalar(given))),
            },
            Some(Err(why)) => {
                self.kept(
                    "  ",
                    "target.login_url",
                    "the job's BaseAddress",
                    &format!("{why}; written as https://test.salesforce.com"),
                );
                self.line("  login_url: https://test.salesforce.com");
            }
            None => self.line("  login_url: https://test.salesforce.com"),
        }
        self.line("  api_version: \"62.0\"");
        self.line("  # Entra signs in with an admin's password and security token; roster uses a");
        self.line("  # connected app (see the README's \"Setting it up, once\").");
        self.line("  auth:");
        self.line("    client_credentials:");
        self.line(&format!("      client_id: {}", scalar(&sf_client)));
        self.line("      client_secret: {env: SF_CLIENT_SECRET}");
    }

    fn scope(&mut self, job: &Provisioning, mapping: &ObjectMapping) -> Result<(), String> {
        let all = flag(job, "SyncAll")?.unwrap_or(false);
        self.line("");
        self.line("scope:");
        self.line(&format!(
            "  assignment: {}",
            if all { "all" } else { "assigned" }
        ));
        let filter = mapping.scope.clone().unwrap_or_default();
        if !filter.groups.is_empty() {
            self.line("  filters:");
        }
        for (g, group) in filter.groups.iter().enumerate() {
            let name = group
                .name
                .clone()
                .unwrap_or_else(|| format!("filter {}", g + 1));
            if group.clauses.is_empty() {
                return Err(format!("scoping filter {name:?} has no clause"));
            }
            self.line(&format!("    - name: {}", scalar(&name)));
            self.line("      all:");
            for clause in &group.clauses {
                let written =
                    clause_yaml(clause).map_err(|e| format!("scoping filter {name:?}: {e}"))?;
                self.line(&format!("        - {written}"));
            }
        }
        self.experimental(&filter);
        Ok(())
    }

    /// Input and category filter groups (experimental in Graph) have no counterpart.
    fn experimental(&mut self, filter: &Filter) {
        for (kind, groups) in [
            ("inputFilterGroups", &filter.input_filter_groups),
            ("categoryFilterGroups", &filter.category_filter_groups),
        ] {
            for group in groups {
                let clauses: Vec<String> = group
                    .clauses
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} {}",
                            c.source_operand_name,
                            c.operator_name,
                            c.target_operand
                                .as_ref()
                                .map(|o| o.values.join("|"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                self.kept(
                    "  ",
                    "scope",
                    &format!(
                        "{kind} {:?} ({})",
                        group.name.clone().unwrap_or_default(),
                        clauses.join(" AND ")
                    ),
                    "an experimental Graph filter with no roster equivalent; check the plan's \
                     creates for users it excluded",
                );
            }
        }
    }

    fn matching(&mut self, mapping: &ObjectMapping) -> Result<(), String> {
        if let Some(m) = mapping
            .attribute_mappings
            .iter()
            .find(|m| m.matching_priority < 0)
        {
            return Err(format!(
                "matching attribute {} has matchingPriority {}; Entra's are 0 (not matching) or \
                 positive",
                m.target_attribute_name, m.matching_priority
            ));
        }
        let mut matching: Vec<&AttributeMapping> = mapping
            .attribute_mappings
            .iter()
            .filter(|m| m.matching_priority > 0)
            .collect();
        matching.sort_by_key(|m| m.matching_priority);
        if let Some(pair) = matching
            .windows(2)
            .find(|w| w[0].matching_priority == w[1].matching_priority)
        {
            return Err(format!(
                "matching attributes {} and {} share matchingPriority {}: which Entra tries \
                 first is not defined, and roster will not guess",
                pair[0].target_attribute_name,
                pair[1].target_attribute_name,
                pair[0].matching_priority
            ));
        }
        if matching.is_empty() {
            return Err(
                "the User mapping has no matching attribute (matchingPriority above 0); Entra \
                 needs one and so does roster"
                    .to_owned(),
            );
        }
        self.line("");
        self.line("# Entra's matching attributes, in their matching precedence.");
        self.line("matching:");
        for m in matching {
            let Some(source) = &m.source else {
                return Err(format!(
                    "matching attribute {} has no source to match with",
                    m.target_attribute_name
                ));
            };
            let text = graph_names(&source.text());
            check_expression(&text)
                .map_err(|e| format!("matching attribute {}: {e}", m.target_attribute_name))?;
            self.line(&format!(
                "  - {{source: {}, target: {}}}",
                quoted(&text),
                scalar(&m.target_attribute_name)
            ));
        }
        Ok(())
    }

    /// Writes `mappings`; returns how ProfileName is chosen, for `roles`.
    fn mappings(&mut self, mapping: &ObjectMapping) -> Result<Option<ProfileSource>, String> {
        let mut profile = None;
        self.line("");
        self.line("mappings:");
        let mut ordered: Vec<&AttributeMapping> = mapping.attribute_mappings.iter().collect();
        // Entra does not keep an order ("the backend sorts"); the matching attributes first,
        // then by name, reads best and is stable.
        ordered.sort_by(|a, b| {
            (a.matching_priority == 0, &a.target_attribute_name)
                .cmp(&(b.matching_priority == 0, &b.target_attribute_name))
        });
        for m in ordered {
            let target = m.target_attribute_name.as_str();
            let text = m.source.as_ref().map(|s| graph_names(&s.text()));
            match target {
                "ProfileName" => {
                    profile = Some(profile_source(text.as_deref().unwrap_or_default())?);
                    self.line("  # ProfileName: chosen by roles.rules below.");
                    if let Some(default) = m.default_value.as_deref().filter(|d| !d.is_empty()) {
                        self.kept(
                            "  ",
                            "mappings",
                            &format!(
                                "ProfileName's default {default:?} for users without an app role"
                            ),
                            "roster makes such a user an error item (Default Access gives no \
                             profile) rather than provisioning them with a default profile",
                        );
                    }
                    continue;
                }
                "IsActive" => {
                    if text.as_deref().map(compact) == Some(compact("Not([IsSoftDeleted])")) {
                        self.line(
                            "  # IsActive <- Not([IsSoftDeleted]): roster's lifecycle (see deprovision).",
                        );
                    } else {
                        self.kept(
                            "  ",
                            "mappings",
                            &format!("IsActive <- {}", text.unwrap_or_default()),
                            "roster decides IsActive from scope and deprovision.out_of_scope",
                        );
                    }
                    continue;
                }
                _ => {}
            }
            match mapping_yaml(m, text.as_deref()) {
                Ok(line) => self.line(&format!("  - {line}")),
                Err(why) => self.kept(
                    "  ",
                    "mappings",
                    &format!(
                        "{target} <- {}",
                        text.unwrap_or_else(|| "(none)".to_owned())
                    ),
                    &why,
                ),
            }
        }
        Ok(profile)
    }

    fn roles(&mut self, job: &Provisioning, profile: Option<&ProfileSource>) -> Result<(), String> {
        let pairs: Vec<(String, String)> = match profile {
            None => {
                return Err(
                    "the User mapping has no ProfileName mapping; roster needs a profile per \
                     user (roles.rules)"
                        .to_owned(),
                );
            }
            Some(ProfileSource::Pairs(pairs)) => pairs.clone(),
            Some(ProfileSource::EveryAppRole) => {
                let Some(roles) = &job.app_roles else {
                    return Err(
                        "ProfileName is SingleAppRoleAssignment([appRoleAssignments]): each app role \
                         is a profile, and a downloaded schema does not list the app roles; pass \
                         --app-roles with the service principal's JSON (Graph `GET \
                         /servicePrincipals/{id}?$select=appRoles`) or its manifest's appRoles"
                            .to_owned(),
                    );
                };
                // Two roles of one display name give one rule: the same condition and profile.
                let mut seen = std::collections::HashSet::new();
                roles
                    .iter()
                    .filter(|r| r.is_enabled)
                    .map(|r| r.display_name.clone())
                    .filter(|name| name != "msiam_access" && !name.trim().is_empty())
                    .filter(|name| seen.insert(name.clone()))
                    .map(|name| (name.clone(), name))
                    .collect()
            }
        };
        if pairs.is_empty() {
            return Err(
                "no app role gives a profile (the service principal has no enabled app role \
                 besides msiam_access)"
                    .to_owned(),
            );
        }
        self.line("");
        self.line("roles:");
        self.line("  # Entra's ProfileName comes from the user's single app role.");
        self.line("  rules:");
        for (role, profile) in pairs {
            self.line(&format!("    - when: {{app_role: {}}}", scalar(&role)));
            self.line(&format!("      profile: {}", scalar(&profile)));
        }
        Ok(())
    }

    fn deprovision(&mut self, job: &Provisioning, mapping: &ObjectMapping) -> Result<(), String> {
        let skip = flag(job, "SkipOutOfScopeDeletions")?.unwrap_or(false);
        let no_delete = !mapping.flows("Delete");
        self.line("");
        self.line("deprovision:");
        if skip {
            self.line(
                "  # SkipOutOfScopeDeletions is True: users leaving the scope are left alone.",
            );
            self.line("  out_of_scope: ignore");
        } else if no_delete {
            self.line(
                "  # The object mapping's target actions lack Delete: nothing is deprovisioned.",
            );
            self.line("  out_of_scope: ignore");
        } else {
            self.line("  out_of_scope: deactivate");
        }
        if !mapping.flows("Add") || !mapping.flows("Update") {
            self.kept(
                "  ",
                "deprovision",
                &format!(
                    "target object actions {:?}",
                    mapping.flow_types.clone().unwrap_or_default()
                ),
                "roster always creates and updates the users in scope",
            );
        }
        Ok(())
    }

    fn safety(&mut self, job: &Provisioning) -> Result<(), String> {
        self.line("");
        self.line("safety:");
        if let Some(n) = deletion_threshold(job)? {
            self.line(&format!(
                "  # Entra's accidental-deletion threshold {n} allows {} per cycle.",
                n - 1
            ));
            self.line(&format!("  max_deactivations: {}", n - 1));
        } else {
            self.line("  # Entra had no accidental-deletion threshold; roster's default is 10.");
            self.line("  max_deactivations: 10");
        }
        Ok(())
    }
}

/// A True/False secret (`SyncAll`, `SkipOutOfScopeDeletions`), in any case; anything else is
/// an error, since guessing would pick a default that may deprovision people.
fn flag(job: &Provisioning, key: &str) -> Result<Option<bool>, String> {
    match secret(job, key) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(format!(
            "the secret {key} is {}; Entra reads True or False",
            crate::render::quoted(v)
        )),
    }
}

/// The accidental-deletion threshold of `SyncNotificationSettings` (`DeleteThresholdEnabled`,
/// `DeleteThresholdValue`, a JSON object stored as a string): `None` when it is absent or not
/// enabled; an error when it cannot be read, rather than a looser limit.
fn deletion_threshold(job: &Provisioning) -> Result<Option<u64>, String> {
    let Some(text) = secret(job, "SyncNotificationSettings") else {
        return Ok(None);
    };
    let refused = |why: &str, guess: &str| {
        Err(format!(
            "the secret SyncNotificationSettings is {}: {why}; roster will not guess {guess}",
            crate::render::quoted(text)
        ))
    };
    let unreadable = |why: &str| refused(why, "the accidental-deletion threshold");
    // Read strictly: a setting given twice (`DeleteThresholdValue` 6 and 7) cannot be told.
    let settings = match crate::json::unambiguous(text) {
        Ok(serde_json::Value::Object(settings)) => settings,
        // A key given twice is said so; text that is no JSON is no JSON object.
        Err(e) if e.is_data() => return refused(&crate::json::reason(&e), "which one Entra reads"),
        Ok(_) | Err(_) => return unreadable("not a JSON object"),
    };
    // Its names in any case, as .NET's reader takes them: any setting named twice, in two
    // cases, is as unreadable as one named twice.
    let mut keys: Vec<&String> = settings.keys().collect();
    keys.sort_by_cached_key(|k| k.to_ascii_lowercase());
    if let Some(pair) = keys
        .windows(2)
        .find(|pair| pair[0].eq_ignore_ascii_case(pair[1]))
    {
        return refused(
            &format!(
                "one setting is given twice, as {} and {}",
                crate::render::quoted(pair[0]),
                crate::render::quoted(pair[1])
            ),
            "which one Entra reads",
        );
    }
    let named = |name: &str| {
        settings
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    let (enabled, value) = (
        named("DeleteThresholdEnabled"),
        named("DeleteThresholdValue"),
    );
    match enabled {
        None | Some(serde_json::Value::Bool(false)) => return Ok(None),
        Some(serde_json::Value::Bool(true)) => {}
        Some(_) => return unreadable("DeleteThresholdEnabled is not true or false"),
    }
    let value = match value {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    // The threshold blocks at its value, so it allows one fewer: up to 4294967296, which is
    // what `export` writes for the largest `safety.max_deactivations`.
    match value {
        Some(n) if n >= 1 && u32::try_from(n - 1).is_ok() => Ok(Some(n)),
        _ => unreadable(
            "DeleteThresholdValue is not a whole number from 1 to 4294967296 \
             (safety.max_deactivations 0 to 4294967295)",
        ),
    }
}

/// How ProfileName is chosen, from its expression.
fn profile_source(text: &str) -> Result<ProfileSource, String> {
    let refused = || {
        Err(format!(
            "ProfileName <- {text}: roster chooses profiles with roles.rules, and reads \
             SingleAppRoleAssignment([appRoleAssignments]) or Switch(SingleAppRoleAssignment(\
             [appRoleAssignments]), default, role, profile, ...)"
        ))
    };
    let single = "SingleAppRoleAssignment([appRoleAssignments])";
    if compact(text) == compact(single) {
        return Ok(ProfileSource::EveryAppRole);
    }
    let Ok(parsed) = crate::expr::parse(text) else {
        return refused();
    };
    let crate::expr::ExprKind::Call {
        name: "Switch",
        args,
    } = &parsed.kind
    else {
        return refused();
    };
    let literal = |arg: &Option<crate::expr::Expr>| match arg.as_ref().map(|a| &a.kind) {
        Some(crate::expr::ExprKind::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let is_single = args
        .first()
        .and_then(Option::as_ref)
        .is_some_and(|a| compact(&text[a.span.clone()]) == compact(single));
    if !is_single {
        return refused();
    }
    if literal(&args[1]).is_some_and(|d| !d.is_empty()) {
        return Err(format!(
            "ProfileName <- {text}: a default profile for users whose app role has no pair has \
             no roster equivalent (a user without a rule is an error item); make the default \
             \"\" or add a pair per role"
        ));
    }
    let mut pairs = Vec::new();
    for pair in args[2..].chunks(2) {
        match (literal(&pair[0]), pair.get(1).and_then(literal)) {
            (Some(role), Some(profile)) => pairs.push((role, profile)),
            _ => return refused(),
        }
    }
    Ok(ProfileSource::Pairs(pairs))
}

/// A mapping as a YAML flow mapping, or why it has no roster equivalent.
fn mapping_yaml(m: &AttributeMapping, text: Option<&str>) -> Result<String, String> {
    let target = m.target_attribute_name.as_str();
    if crate::user_fields::RESERVED.contains(&target) {
        return Err(format!("roster sets {target} itself"));
    }
    if crate::user_fields::READ_ONLY.contains(&target) {
        return Err(format!("Salesforce does not accept writes to {target}"));
    }
    if crate::user_fields::user_field(target).is_none()
        && !crate::user_fields::is_custom_field(target)
    {
        return Err(format!(
            "{target} is not a Salesforce User field roster writes (standard fields and custom `__c` fields)"
        ));
    }
    let on_create = match m.flow_type.as_deref().unwrap_or("Always") {
        "Always" => false,
        "ObjectAddOnly" => true,
        other => {
            return Err(format!(
                "flow type {other} (only the portal's \"Always\" and \"Only during creation\" have a \
                 roster equivalent)"
            ));
        }
    };
    let mut parts = vec![format!("target: {}", scalar(target))];
    let default = m.default_value.as_deref().filter(|d| !d.is_empty());
    match (m.source.as_ref(), text) {
        (Some(source), Some(text)) => {
            match source.kind.as_str() {
                "Constant" => parts.push(format!(
                    "constant: {}",
                    scalar(source.name.as_deref().unwrap_or_default())
                )),
                "Attribute" if !text.contains('(') => {
                    let attribute = text.trim_start_matches('[').trim_end_matches(']');
                    crate::graph::attributes::check_attribute(attribute)
                        .map_err(|e| format!("attribute {attribute}: {e}"))?;
                    parts.push(format!("source: {}", scalar(attribute)));
                }
                _ => {
                    check_expression(text)?;
                    parts.push(format!("expression: {}", quoted(text)));
                }
            }
            if let Some(default) = default
                && source.kind != "Constant"
            {
                parts.push(format!("default: {}", scalar(default)));
            }
            if on_create {
                parts.push("apply: on_create".to_owned());
            }
        }
        _ => match default {
            // The portal's "None" with a default: the value on create, never on update.
            Some(default) => {
                parts.push(format!("constant: {}", scalar(default)));
                parts.push("apply: on_create".to_owned());
            }
            None => return Err("no source and no default: nothing flows".to_owned()),
        },
    }
    Ok(format!("{{{}}}", parts.join(", ")))
}

/// A scoping clause as a YAML flow mapping.
fn clause_yaml(clause: &FilterClause) -> Result<String, String> {
    let op = super::operator(&clause.operator_name).ok_or_else(|| {
        format!(
            "operator {:?} on {} has no roster equivalent (roster reads {})",
            clause.operator_name,
            clause.source_operand_name,
            super::OPERATORS
                .iter()
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let attribute = graph_names(&format!("[{}]", clause.source_operand_name));
    if attribute.contains('(') {
        return Err(format!(
            "{} is multi-valued in Graph and cannot be a scoping attribute",
            clause.source_operand_name
        ));
    }
    let attribute = attribute.trim_start_matches('[').trim_end_matches(']');
    crate::graph::attributes::check_attribute(attribute)
        .map_err(|e| format!("attribute {attribute}: {e}"))?;
    let values = clause
        .target_operand
        .as_ref()
        .map(|o| o.values.clone())
        .unwrap_or_default();
    let mut parts = vec![
        format!("attribute: {}", scalar(attribute)),
        format!("operator: {}", op.name()),
    ];
    let one = || match values.as_slice() {
        [value] => Ok(value.clone()),
        _ => Err(format!(
            "{} {} takes one value, the clause has {}",
            attribute,
            op.name(),
            values.len()
        )),
    };
    match op.operand() {
        Operand::None => {}
        Operand::List => parts.push(format!(
            "value: [{}]",
            values
                .iter()
                .map(|v| scalar(v))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Operand::Integer => {
            let value = one()?;
            let n: i64 = value.trim().parse().map_err(|_| {
                format!("{attribute} {} compares integers, not {value:?}", op.name())
            })?;
            parts.push(format!("value: {n}"));
        }
        Operand::Text => parts.push(format!("value: {}", scalar(&one()?))),
        Operand::Regex => parts.push(format!("value: {}", quoted(&one()?))),
    }
    Ok(format!("{{{}}}", parts.join(", ")))
}

/// Whether roster reads the expression: its syntax and every attribute it names.
fn check_expression(text: &str) -> Result<(), String> {
    let parsed = crate::expr::parse(text).map_err(|e| format!("expression {text}: {e}"))?;
    let mut attributes = Vec::new();
    crate::expr::attributes(&parsed, &mut attributes);
    for attribute in attributes {
        crate::graph::attributes::check_attribute(&attribute)
            .map_err(|e| format!("attribute {attribute}: {e}"))?;
    }
    Ok(())
}

/// The value of a secret, unless absent, empty or masked (`*`).
/// The job's secret `key`, matched without case as the import's refusal of two entries of one
/// key compares them (a `syncall` entry is the `SyncAll` setting: Entra's reader is .NET's,
/// and dropping it would quietly choose a default that may deprovision people).
fn secret<'a>(job: &'a Provisioning, key: &str) -> Option<&'a str> {
    job.secrets
        .iter()
        .find(|s| s.key.eq_ignore_ascii_case(key))
        .and_then(|s| s.value.as_deref())
        .filter(|v| !v.is_empty() && *v != "*")
}

/// Expression text without spaces, to compare forms that differ only in spacing.
fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A YAML scalar: plain when that reads back as the same string, else quoted.
pub(crate) fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.trim() == text
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || " _-./@+".contains(c))
        && text.starts_with(|c: char| c.is_alphabetic())
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain { text.to_owned() } else { quoted(text) }
}

/// A quoted YAML scalar on one line: single-quoted (only `'` doubled), or double-quoted with
/// escapes when the text holds a character that acts rather than shows (`render::acts`): one a
/// single-quoted scalar cannot keep — a control character (C0, DEL, C1: U+0085 is a line break
/// to YAML 1.1 readers), U+2028 and U+2029 (line breaks to YAML 1.1, folded into a space),
/// U+FEFF (a byte order mark, not allowed inside a document), the noncharacters U+FFFE and
/// U+FFFF, which YAML does not print — or one that would hide from the file's reviewer what it
/// says (a bidirectional override, a zero-width space). Source: YAML 1.2.2, "5.5 White Space
/// Characters" and "5.7 Escaped Characters".
pub(crate) fn quoted(text: &str) -> String {
    let escaped = crate::render::acts;
    if !text.chars().any(escaped) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    let mut out = String::with_capacity(text.len() + 8);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // All of them are in the Basic Multilingual Plane: four hex digits say each.
            c if escaped(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words of `text` in lines of at most `width` characters (a word longer, or words joined by
/// more than one space, make a longer line), none ending in a space: a linter's
/// `trailing-spaces` rule (yamllint's) refuses a comment that does.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    // Broken only at a single space between words: the spaces of a quoted value (`"a  b"`)
    // stay as they are, on one line, and no other white space is a place to break.
    let mut first = true;
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        if !word.is_empty()
            && !last.trim_end().is_empty()
            && !last.ends_with(' ')
            && last.chars().count() + 1 + word.chars().count() > width
        {
            lines.push(word.to_owned());
        } else {
            if !first {
                last.push(' ');
            }
            last.push_str(word);
        }
        first = false;
    }
    // No line ends in white space, ASCII or not (U+00A0, U+3000 at a break).
    for line in &mut lines {
        line.truncate(line.trim_end().len());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::{Connection, Provisioning, import};

    /// The documented default Salesforce job, from `origin`, with the fixture's app roles and
    /// `more` roles, imported with nothing of the connection known.
    fn import_default(origin: &str, more: &[serde_json::Value]) -> super::Imported {
        let schema = serde_json::from_str(include_str!(
            "../../tests/fixtures/entra/salesforce-default-schema.json"
        ))
        .unwrap();
        let mut roles: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/entra/salesforce-app-roles.json"
        ))
        .unwrap();
        roles["appRoles"]
            .as_array_mut()
            .unwrap()
            .extend_from_slice(more);
        let job = Provisioning {
            schema,
            secrets: Vec::new(),
            app_roles: Some(crate::graph::app_roles_of(&roles).unwrap()),
            origin: origin.to_owned(),
        };
        let connection = Connection {
            tenant_id: None,
            client_id: None,
            application: None,
            salesforce_client_id: None,
        };
        import(&job, &connection).unwrap()
    }

    /// Two app roles of one display name (Entra requires only their values to differ) give
    /// one rule, not the same rule twice.
    #[test]
    fn app_roles_of_one_display_name_give_one_rule() {
        let twin = serde_json::json!({"id": "0a9e1e8c-2f4b-4b7e-9a35-3c1d2e4f5a6b",
            "displayName": "Standard User", "value": "standard2", "isEnabled": true,
            "allowedMemberTypes": ["User"], "description": "again"});
        let imported = import_default("a downloaded schema", &[twin]);
        let rules = imported
            .yaml
            .matches("- when: {app_role: Standard User}")
            .count();
        assert_eq!(rules, 1, "{}", imported.yaml);
    }

    /// Where the job came from (a job id read from Graph) is one line of the header: a line
    /// break in it, YAML 1.1's too, is written as its escape and adds no config.
    #[test]
    fn the_header_names_the_origin_on_one_line() {
        let imported = import_default(
            "job X.1\nprotect:\n  profiles: [Standard User]\u{2028}y\u{85}z\u{fffe}",
            &[],
        );
        let header = imported.yaml.lines().nth(2).unwrap();
        assert_eq!(
            header,
            "# Imported by `roster import entra` from job X.1\\nprotect:\\n  profiles: \
             [Standard User]\\u{2028}y\\u{85}z\\u{fffe}."
        );
        assert!(!imported.yaml.contains("\nprotect"), "{}", imported.yaml);
    }

    /// Comments break at single spaces only: the spaces of a quoted value stay as they are.
    #[test]
    fn wrapping_keeps_the_spaces_of_a_value() {
        let text = format!("not imported: \"a  b\u{a0}c\" {}", "word ".repeat(30));
        let lines = super::wrap(&text, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert!(lines[0].contains("\"a  b\u{a0}c\""), "{lines:?}");
        assert_eq!(lines.join(" ").trim_end(), text.trim_end());
        assert_eq!(super::wrap("", 10), vec![String::new()]);
        // No line ends in a space: not where two spaces meet the width, nor at the end.
        assert_eq!(super::wrap("aaaa  bbbb", 6), vec!["aaaa  bbbb"]);
        assert_eq!(super::wrap("aaaa bbbb  ", 6), vec!["aaaa", "bbbb"]);
        assert_eq!(
            super::wrap("why: \"x  y\" ends here", 9),
            vec!["why: \"x  y\"", "ends here"]
        );
        for width in 1..50 {
            for line in super::wrap(&text, width) {
                assert!(!line.ends_with(' '), "{width}: {line:?}");
            }
        }
    }
}
