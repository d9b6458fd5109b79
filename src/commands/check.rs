//! `roster check`: whether roster can work with this config, before any plan — Entra's "Test
//! Connection", and more. Each check passes, fails with a fix, or is skipped because one it
//! depends on failed; exit 0 only when every check passes.

use std::fmt::Write as _;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::context::{Context, Desired};
use crate::cli::{CheckArgs, CheckFormat};
use crate::error::{Error, Outcome};
use crate::plan::Action;

/// The Graph application permissions `plan` and `apply` read with, each with the broader ones
/// that also allow it (Microsoft Graph permissions reference; README "Setting it up").
const GRAPH_PERMISSIONS: &[(&str, &[&str], &str)] = &[
    (
        "Application.Read.All",
        &[
            "Application.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        "the enterprise application and its assignments",
    ),
    (
        "GroupMember.Read.All",
        &[
            "Group.Read.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        "the members of assigned groups",
    ),
    (
        "User.Read.All",
        &[
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        "the users' attributes",
    ),
];

/// One check's outcome.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Status {
    Pass,
    Fail,
    /// Not run: a check it depends on failed.
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn skipped(name: &'static str, because: &str) -> Check {
        Check {
            name,
            status: Status::Skipped,
            detail: format!("not checked: {because}"),
            fix: None,
        }
    }
}

pub(crate) fn run(ctx: &Context, args: &CheckArgs) -> Result<Outcome, Error> {
    let desired = match ctx.load() {
        Ok(desired) => desired,
        // With --format json, stdout is one document all the same: the config's check failed
        // (its problems, at their places, on stderr as ever).
        Err(error) if args.format == CheckFormat::Json => {
            let detail = match &error {
                Error::Config(crate::config::LoadError::Invalid(diagnostics))
                | Error::Diagnostics(diagnostics) => {
                    crate::diagnostic::render_all(diagnostics, false)
                }
                other => crate::error::with_causes(other),
            };
            let check = Check::fail(
                "config",
                detail.trim_end(),
                format!(
                    "fix {} (`roster validate` lists every problem at its place)",
                    crate::diagnostic::display_path(ctx.config_path())
                ),
            );
            let text =
                serde_json::to_string_pretty(&serde_json::json!({"ok": false, "checks": [check]}))
                    .map_err(|e| Error::Output(std::io::Error::other(e)))?;
            super::print(&format!("{text}\n"))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    let checks = ctx.block_on(checks(ctx, &desired, !args.connections_only))?;
    let passed = checks.iter().all(|c| c.status == Status::Pass);
    match args.format {
        CheckFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&serde_json::json!({"ok": passed, "checks": checks}))
                    .map_err(|e| Error::Output(std::io::Error::other(e)))?;
            text.push('\n');
            super::print(&text)?;
        }
        CheckFormat::Text => super::print(&text(&checks, ctx.color))?,
    }
    Ok(if passed {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn text(checks: &[Check], color: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let mut out = String::new();
    for check in checks {
        let mark = match check.status {
            Status::Pass => paint(green, "✓"),
            Status::Fail => paint(red, "✗"),
            Status::Skipped => "-".to_owned(),
        };
        let _ = writeln!(out, "{mark} {}: {}", check.name, check.detail);
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "    fix: {fix}");
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let skipped = checks
        .iter()
        .filter(|c| c.status == Status::Skipped)
        .count();
    if failed == 0 && skipped == 0 {
        let _ = writeln!(out, "\nAll {} checks passed.", checks.len());
    } else {
        let _ = writeln!(
            out,
            "\n{failed} of {} checks failed{}.",
            checks.len(),
            if skipped > 0 {
                format!(", {skipped} not run")
            } else {
                String::new()
            }
        );
    }
    out
}

async fn checks(ctx: &Context, desired: &Desired, with_plan: bool) -> Vec<Check> {
    let config = &desired.loaded.config;
    let mut checks = Vec::new();
    let unreadable = crate::config::unreadable_secrets(config, &desired.base);
    let source_secret_missing = unreadable
        .iter()
        .any(|e| e.pointer().starts_with("/source"));
    let target_secret_missing = unreadable
        .iter()
        .any(|e| e.pointer().starts_with("/target"));
    if unreadable.is_empty() {
        checks.push(Check::pass(
            "secrets",
            format!("every secret {} names is readable", config_file(desired)),
        ));
    } else {
        for e in &unreadable {
            checks.push(Check::fail(
                "secrets",
                e.to_string(),
                "set the variable (or write the file) the config names; roster never reads a \
                 secret from the config itself",
            ));
        }
    }

    let entra_ok = if source_secret_missing {
        skip(
            &mut checks,
            &["entra", "graph permissions", "application"],
            "the Entra secret cannot be read",
        );
        false
    } else {
        entra(ctx, desired, &mut checks).await
    };
    let salesforce_ok = if target_secret_missing {
        skip(
            &mut checks,
            &["salesforce", "api version", "org", "manage users"],
            "the Salesforce secret cannot be read",
        );
        false
    } else {
        salesforce(ctx, desired, &mut checks).await
    };
    if !with_plan {
        return checks;
    }
    if entra_ok && salesforce_ok {
        plan_checks(ctx, desired, &mut checks).await;
    } else {
        for name in ["names", "licences"] {
            checks.push(Check::skipped(
                name,
                "a whole read and plan runs only when every check above passes",
            ));
        }
    }
    checks
}

/// The config file as messages name it: `roster.yaml`, or the path `--config` gave.
fn config_file(desired: &Desired) -> String {
    crate::diagnostic::display_path(&desired.loaded.file.path)
}

/// The fix when a client cannot be made: a URL the environment overrides (the config's own
/// URLs were checked when it was loaded), or the config's `section`.
fn connect_fix(e: &Error, section: &str, desired: &Desired) -> String {
    match e {
        Error::Endpoint(_) => format!(
            "set the environment variable the message names to an https URL (or a loopback \
             one), or unset it to use {}'s",
            config_file(desired)
        ),
        _ => format!("fix {section} in {}", config_file(desired)),
    }
}

/// `names` not run, `because` a check they depend on failed: listed all the same, so every
/// run shows the same checks.
fn skip(checks: &mut Vec<Check>, names: &[&'static str], because: &str) {
    checks.extend(names.iter().map(|name| Check::skipped(name, because)));
}

/// The Entra checks; whether they all passed.
async fn entra(ctx: &Context, desired: &Desired, checks: &mut Vec<Check>) -> bool {
    let source = &desired.loaded.config.source;
    let graph = match ctx.graph(desired) {
        Ok(graph) => graph,
        Err(e) => {
            checks.push(Check::fail(
                "entra",
                crate::error::with_causes(&e),
                connect_fix(&e, "source", desired),
            ));
            skip(
                checks,
                &["graph permissions", "application"],
                "no Graph client",
            );
            return false;
        }
    };
    let roles = match graph.granted_roles().await {
        Ok(roles) => {
            checks.push(Check::pass(
                "entra",
                format!(
                    "a Microsoft Graph token for client {} in tenant {}",
                    source.client_id, source.tenant_id
                ),
            ));
            roles
        }
        Err(e) => {
            let fix = entra_fix(&e, &source.credential);
            checks.push(Check::fail("entra", e.to_string(), fix));
            skip(checks, &["graph permissions", "application"], "no token");
            return false;
        }
    };
    let permissions = permissions_check(
        &roles,
        &source.client_id,
        desired.loaded.config.roles.app_roles.is_some(),
    );
    let permissions_ok = permissions.status == Status::Pass;
    checks.push(permissions);
    // Reading the application needs Application.Read.All (or a broader permission): without
    // it Graph answers 403, which says nothing of source.application.
    let (needed, broader, _) = GRAPH_PERMISSIONS[0];
    if !roles
        .iter()
        .any(|r| r == needed || broader.contains(&r.as_str()))
    {
        skip(
            checks,
            &["application"],
            &format!("the token lacks {needed}"),
        );
        return false;
    }
    match crate::graph::service_principal(&graph, &source.application).await {
        Ok(sp) => {
            let roles: Vec<&str> = sp
                .app_roles
                .iter()
                .filter(|r| r.is_enabled)
                .map(|r| r.display_name.as_str())
                .collect();
            checks.push(Check::pass(
                "application",
                format!(
                    "{:?} (service principal {}; app roles: {})",
                    sp.display_name,
                    sp.id,
                    if roles.is_empty() {
                        "none".to_owned()
                    } else {
                        roles.join(", ")
                    }
                ),
            ));
            permissions_ok
        }
        Err(e) => {
            let fix = match &e {
                crate::graph::GraphError::Config { help, .. } => help.clone(),
                _ => format!("check source.application in {}", config_file(desired)),
            };
            checks.push(Check::fail("application", e.to_string(), fix));
            false
        }
    }
}

/// What to do when Entra gave no token: reach it first (a connection that failed says nothing
/// of the credentials), then the federated token, then the tenant, client and credential.
fn entra_fix(
    error: &crate::graph::GraphError,
    credential: &crate::config::SourceCredential,
) -> &'static str {
    if matches!(
        error,
        crate::graph::GraphError::Token { error, .. }
            if matches!(**error, crate::http::HttpError::Transport { .. })
    ) {
        "roster could not reach Entra's token endpoint (no answer, so nothing is known of the \
         credentials yet): check the network, a proxy (HTTPS_PROXY), and source.login_url or \
         ROSTER_ENTRA_LOGIN_URL when set"
    } else if matches!(credential, crate::config::SourceCredential::Federated(_)) {
        "a federated credential needs the CI's OIDC token (GitHub Actions with \
         `permissions: id-token: write`) or AZURE_FEDERATED_TOKEN_FILE: run `roster check` in \
         the workflow, or locally with a token file"
    } else {
        "check source.tenant_id, source.client_id and the credential (Entra's AADSTS code in \
         the message says which is wrong)"
    }
}

/// What to do when Salesforce gave no session: reach it first, then the app and its user.
fn salesforce_fix(error: &crate::salesforce::SalesforceError) -> &'static str {
    if matches!(
        error,
        crate::salesforce::SalesforceError::Login { error, .. }
            if matches!(**error, crate::http::HttpError::Transport { .. })
    ) {
        "roster could not reach target.login_url (no answer, so nothing is known of the \
         credentials yet): check the URL, the network, and a proxy (HTTPS_PROXY)"
    } else {
        "check target.login_url and target.auth: the connected app's consumer key, its secret \
         or certificate, and that the integration user is pre-authorized"
    }
}

/// Whether the token's `roles` hold every permission plan and apply read with (or a broader one).
fn permissions_check(roles: &[String], client_id: &str, writes_app_roles: bool) -> Check {
    // roles.app_roles writes the service principal's app roles (Microsoft Graph "Update
    // servicePrincipal").
    const APP_ROLES: (&str, &[&str], &str) = (
        "Application.ReadWrite.OwnedBy",
        &["Application.ReadWrite.All", "Directory.ReadWrite.All"],
        "writes of the application's app roles, roles.app_roles — with roster's app an owner \
         of the enterprise application",
    );
    let missing: Vec<(&str, &str)> = GRAPH_PERMISSIONS
        .iter()
        .chain(writes_app_roles.then_some(&APP_ROLES))
        .filter(|(needed, broader, _)| {
            !roles
                .iter()
                .any(|r| r == needed || broader.contains(&r.as_str()))
        })
        .map(|(needed, _, why)| (*needed, *why))
        .collect();
    if missing.is_empty() {
        Check::pass(
            "graph permissions",
            format!("the token carries {}", roles.join(", ")),
        )
    } else {
        Check::fail(
            "graph permissions",
            format!(
                "the token lacks {} (for {})",
                missing
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", "),
                missing
                    .iter()
                    .map(|(_, why)| *why)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            format!(
                "in Entra > App registrations > {} > API permissions, add the Microsoft Graph \
                 application permission(s) {} and grant admin consent",
                client_id,
                missing
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// The Salesforce checks; whether they all passed.
async fn salesforce(ctx: &Context, desired: &Desired, checks: &mut Vec<Check>) -> bool {
    let config = &desired.loaded.config;
    let salesforce = match ctx.salesforce(desired) {
        Ok(salesforce) => salesforce,
        Err(e) => {
            checks.push(Check::fail(
                "salesforce",
                crate::error::with_causes(&e),
                connect_fix(&e, "target", desired),
            ));
            skip(
                checks,
                &["api version", "org", "manage users"],
                "no Salesforce client",
            );
            return false;
        }
    };
    let session = match salesforce.session().await {
        Ok(session) => session,
        Err(e) => {
            checks.push(Check::fail("salesforce", e.to_string(), salesforce_fix(&e)));
            skip(
                checks,
                &["api version", "org", "manage users"],
                "no Salesforce session",
            );
            return false;
        }
    };
    checks.push(Check::pass(
        "salesforce",
        format!(
            "logged in at {} as user {}",
            session.instance_url,
            session.user_id.as_deref().unwrap_or("(unknown)")
        ),
    ));
    if !api_version_check(&salesforce, &config.target.api_version, checks).await {
        // Every other request goes to the configured version.
        skip(
            checks,
            &["org", "manage users"],
            "the API version is not served",
        );
        return false;
    }
    let org = org_check(&salesforce, &config.target.login_url, checks).await;
    let manage_users = manage_users_check(&salesforce, checks).await;
    org && manage_users
}

/// Whether the org serves `api_version`: `GET /services/data` lists the versions (REST API
/// Developer Guide, "Versions").
async fn api_version_check(
    salesforce: &crate::salesforce::Salesforce,
    api_version: &str,
    checks: &mut Vec<Check>,
) -> bool {
    let mut ok = true;
    // The versions the org serves: `GET /services/data` (REST API Developer Guide, "Versions").
    let versions = salesforce
        .send(
            Method::GET,
            |s| format!("{}/services/data", s.instance_url),
            None,
            &[],
        )
        .await
        .map_err(|e| e.to_string())
        .and_then(|reply| serde_json::from_slice::<Value>(&reply.body).map_err(|e| e.to_string()));
    match versions {
        Ok(Value::Array(list)) => {
            let served: Vec<&str> = list
                .iter()
                .filter_map(|v| v.get("version").and_then(Value::as_str))
                .collect();
            if served.contains(&api_version) {
                checks.push(Check::pass(
                    "api version",
                    format!(
                        "{} is served (the org serves {} to {})",
                        api_version,
                        served.first().unwrap_or(&"?"),
                        served.last().unwrap_or(&"?")
                    ),
                ));
            } else {
                ok = false;
                checks.push(Check::fail(
                    "api version",
                    format!(
                        "{} is not served (the org serves {} to {})",
                        api_version,
                        served.first().unwrap_or(&"?"),
                        served.last().unwrap_or(&"?")
                    ),
                    format!(
                        "set target.api_version to a served version, e.g. \"{}\"",
                        served.last().unwrap_or(&"62.0")
                    ),
                ));
            }
        }
        Ok(other) => {
            ok = false;
            checks.push(Check::fail(
                "api version",
                format!("GET /services/data answered {other}, not a list of versions"),
                "check target.login_url points at Salesforce",
            ));
        }
        Err(e) => {
            ok = false;
            checks.push(Check::fail("api version", e, "check target.login_url"));
        }
    }
    ok
}

/// Whether the org is what `target.login_url` says: a sandbox for a sandbox's login URL
/// (`url_rules::is_sandbox_login`), production otherwise.
async fn org_check(
    salesforce: &crate::salesforce::Salesforce,
    login_url: &str,
    checks: &mut Vec<Check>,
) -> bool {
    let expect_sandbox = crate::url_rules::is_sandbox_login(login_url);
    match salesforce
        .query("SELECT Id, Name, IsSandbox FROM Organization LIMIT 1", None)
        .await
    {
        Ok(rows) => {
            let org = rows.first().cloned().unwrap_or_default();
            let name = org.get("Name").and_then(Value::as_str).unwrap_or("?");
            let id = org.get("Id").and_then(Value::as_str).unwrap_or("?");
            let sandbox = org.get("IsSandbox").and_then(Value::as_bool) == Some(true);
            let what = if sandbox {
                "a sandbox"
            } else {
                "a production org"
            };
            if sandbox == expect_sandbox {
                checks.push(Check::pass("org", format!("{name} ({id}), {what}")));
                true
            } else {
                checks.push(Check::fail(
                    "org",
                    format!(
                        "{name} ({id}) is {what}, but target.login_url ({login_url}) is for {}",
                        if expect_sandbox {
                            "a sandbox"
                        } else {
                            "production"
                        }
                    ),
                    if expect_sandbox {
                        "the credentials log in to production: use the sandbox's connected app \
                         and integration user (Username ending in the sandbox name)"
                    } else {
                        "for a sandbox, set target.login_url to https://test.salesforce.com or \
                         the sandbox's My Domain URL"
                    },
                ));
                false
            }
        }
        Err(e) => {
            checks.push(Check::fail(
                "org",
                e.to_string(),
                "the integration user must be able to query Organization",
            ));
            false
        }
    }
}

/// Whether the integration user can create and edit users: `sobjects/User/describe` says so for
/// the caller (`createable`, `updateable`), which needs the Manage Users permission.
async fn manage_users_check(
    salesforce: &crate::salesforce::Salesforce,
    checks: &mut Vec<Check>,
) -> bool {
    match salesforce
        .data(Method::GET, "sobjects/User/describe", None)
        .await
    {
        Ok(describe) => {
            let flag = |key: &str| describe.get(key).and_then(Value::as_bool) == Some(true);
            if flag("createable") && flag("updateable") {
                checks.push(Check::pass(
                    "manage users",
                    "the integration user can create and edit users",
                ));
                true
            } else {
                checks.push(Check::fail(
                    "manage users",
                    "the integration user cannot create or edit users (User is not createable \
                     and updateable for it)",
                    "give the integration user's profile, or a permission set assigned to it, the \
                     Manage Users permission",
                ));
                false
            }
        }
        Err(e) => {
            checks.push(Check::fail(
                "manage users",
                e.to_string(),
                "the integration user must be able to describe User",
            ));
            false
        }
    }
}

/// A full read and plan: the config's names resolve, and the seats suffice.
async fn plan_checks(ctx: &Context, desired: &Desired, checks: &mut Vec<Check>) {
    let planned = match ctx.plan_against(desired, &[], None).await {
        Ok(planned) => planned,
        Err(e) => {
            checks.push(Check::fail(
                "names",
                crate::error::with_causes(&e),
                "see the error; `roster plan -v` shows each request",
            ));
            checks.push(Check::skipped("licences", "the plan failed"));
            return;
        }
    };
    let plan = &planned.plan;
    if plan.config_problems.is_empty() {
        checks.push(Check::pass(
            "names",
            format!(
                "every profile, role, grant, app role and group {} names resolves",
                config_file(desired)
            ),
        ));
    } else {
        // Each at its place in the file it comes from (a base the config extends, say), as
        // `plan` shows it: `roster.yaml:41:16`.
        for placed in super::context::placed_names(desired, plan) {
            let (line, column) = placed.line_col();
            let file = crate::diagnostic::display_path(&placed.file.path);
            checks.push(Check::fail(
                "names",
                format!("{} ({file}:{line}:{column})", placed.message),
                placed
                    .help
                    .unwrap_or_else(|| format!("fix the name in {file}")),
            ));
        }
    }
    if plan.config_problems.is_empty() {
        checks.push(licence_check(plan, &planned.target));
    } else {
        // A plan refused for its names holds no changes: no seat count to trust.
        checks.push(Check::skipped("licences", "the names must resolve first"));
    }
}

/// The user licence seats the plan's creates and reactivations (an inactive user holds no seat)
/// take, and the users the plan refused for want of one.
fn licence_check(plan: &crate::plan::Plan, target: &crate::model::TargetSnapshot) -> Check {
    let licence_of = |profile: &str| {
        target
            .profiles
            .iter()
            .find(|p| crate::salesforce::same_id(&p.id, profile))
            .and_then(|p| p.user_license_id.clone())
    };
    let mut needed: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for change in &plan.changes {
        if matches!(change.action, Action::Create | Action::Reactivate) {
            let profile = change
                .after
                .get("ProfileId")
                .and_then(crate::field_value::FieldValue::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    target
                        .users
                        .iter()
                        .find(|u| Some(u.id.as_str()) == change.target_id.as_deref())
                        .and_then(|u| u.profile_id.as_deref().map(str::to_owned))
                });
            if let Some(licence) = profile.as_deref().and_then(licence_of) {
                *needed.entry(licence).or_default() += 1;
            }
        }
    }
    let short: Vec<&crate::plan::Problem> = plan
        .errors
        .iter()
        .filter(|p| p.reason.contains("LICENSE_LIMIT_EXCEEDED") || p.reason.contains("seat"))
        .collect();
    // The users refused a seat are not in the plan's changes; they need one all the same.
    for licence in &target.licenses {
        let refused = short
            .iter()
            .filter(|p| {
                p.reason
                    .contains(&format!("no {} licence left", licence.name))
            })
            .count();
        if refused > 0 {
            *needed.entry(licence.id.clone()).or_default() +=
                i64::try_from(refused).unwrap_or(i64::MAX);
        }
    }
    let seats: Vec<String> = target
        .licenses
        .iter()
        .filter(|l| needed.contains_key(&l.id))
        .map(|l| {
            format!(
                "{}: {} needed, {} free of {}",
                l.name,
                needed[&l.id],
                (l.total - l.used).max(0),
                l.total
            )
        })
        .collect();
    let summary = if seats.is_empty() {
        "the plan takes no user licence seat".to_owned()
    } else {
        seats.join("; ")
    };
    if short.is_empty() {
        Check::pass("licences", summary)
    } else {
        Check::fail(
            "licences",
            format!(
                "{} user(s) in scope get no seat ({summary}); first: {}: {}",
                short.len(),
                short[0].key,
                short[0].reason
            ),
            "buy or free seats (deactivate users who left), or narrow the scope",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{SecretRef, SourceCredential};
    use crate::graph::GraphError;
    use crate::http::HttpError;
    use crate::salesforce::SalesforceError;

    fn refused() -> HttpError {
        HttpError::Transport {
            api: "test",
            request: "POST /token".to_owned(),
            detail: "cannot connect: Connection refused".to_owned(),
        }
    }

    fn rejected() -> HttpError {
        HttpError::Status {
            api: "test",
            request: "POST /token".to_owned(),
            status: 401,
            code: Some("invalid_client".to_owned()),
            message: "AADSTS7000215".to_owned(),
            retry_after: None,
        }
    }

    /// No answer says nothing of the credentials: the fix is to reach the service, not to
    /// check a secret that may be right.
    #[test]
    fn a_login_that_got_no_answer_is_told_to_reach_the_service_first() {
        let secret = SourceCredential::ClientSecret(SecretRef::Env("X".to_owned()));
        let token = |error| GraphError::Token {
            client_id: "c".to_owned(),
            tenant: "t".to_owned(),
            error: Box::new(error),
        };
        assert!(super::entra_fix(&token(refused()), &secret).starts_with("roster could not reach"));
        assert!(
            super::entra_fix(&token(rejected()), &secret).starts_with("check source.tenant_id")
        );
        let login = |error| SalesforceError::Login {
            login_url: "https://test.salesforce.com".to_owned(),
            flow: "client credentials",
            error: Box::new(error),
        };
        assert!(super::salesforce_fix(&login(refused())).starts_with("roster could not reach"));
        assert!(super::salesforce_fix(&login(rejected())).starts_with("check target.login_url"));
    }
}
