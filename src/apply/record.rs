//! What an apply leaves behind, as typed documents with committed JSON Schemas: one audit-log
//! line per change (`schemas/audit-line.schema.json`) and the machine-readable report
//! (`schemas/apply-report.schema.json`, `roster apply --format json`).

use schemars::JsonSchema;
use serde::Serialize;

use super::{ChangeResult, Report, Status, Step};
use crate::endpoint::Env;
use crate::plan::{Action, Change, Fields, Plan, Situation};

/// The version of the audit line and report documents.
pub(crate) const RECORD_FORMAT: u32 = 1;

/// The CI run that applied, from the variables GitHub Actions sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub(crate) struct GithubRun {
    /// `GITHUB_SHA`: the commit applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha: Option<String>,
    /// `GITHUB_ACTOR`: who triggered the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) actor: Option<String>,
    /// `GITHUB_RUN_ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) run_id: Option<String>,
    /// `GITHUB_REPOSITORY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) repository: Option<String>,
}

impl GithubRun {
    fn from_env(env: Env<'_>) -> Option<GithubRun> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let run = GithubRun {
            sha: var("GITHUB_SHA"),
            actor: var("GITHUB_ACTOR"),
            run_id: var("GITHUB_RUN_ID"),
            repository: var("GITHUB_REPOSITORY"),
        };
        (run != GithubRun::default()).then_some(run)
    }
}

/// One line of the audit log: what one change was, and what became of each of its steps. It
/// holds what the plan shows and Salesforce ids — never a credential or token.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(title = "roster audit line")]
pub(crate) struct AuditLine {
    /// When the change was settled, UTC (`2026-11-30T10:15:00.123Z`).
    pub(crate) time: String,
    /// SHA-256 of the saved plan file applied, or of the plan's JSON when apply planned.
    pub(crate) plan_sha256: String,
    /// SHA-256 of the config the plan was made from.
    pub(crate) config_sha256: String,
    pub(crate) org_id: String,
    pub(crate) instance_url: String,
    pub(crate) action: Action,
    /// The Entra userPrincipalName, or the Salesforce Username when none is linked.
    pub(crate) key: String,
    pub(crate) situation: Situation,
    pub(crate) reason: String,
    /// Entra object id.
    pub(crate) source_id: Option<String>,
    /// Salesforce User id (the new one for a create).
    pub(crate) target_id: Option<String>,
    pub(crate) before: Fields,
    pub(crate) after: Fields,
    /// Access granted and taken away (kind, name, id; a licence Salesforce assigns along
    /// with a permission set names it in `implied_by`).
    pub(crate) grants: crate::plan::GrantChanges,
    /// `applied` only when every step was.
    pub(crate) result: Status,
    /// Every change has at least one step: a line of none, whatever its result, is not one
    /// roster wrote.
    #[schemars(length(min = 1))]
    pub(crate) steps: Vec<Step>,
    /// Ids of the assignment records created (PermissionSetAssignment, GroupMember, ...).
    pub(crate) assignment_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
    /// The CI run, when GitHub Actions ran the apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) github: Option<GithubRun>,
}

/// What every line of one apply shares.
pub(crate) struct AuditLog<'p> {
    plan: &'p Plan,
    plan_sha256: String,
    github: Option<GithubRun>,
}

impl<'p> AuditLog<'p> {
    /// `reviewed` is the SHA-256 of the saved plan file applied, if one was.
    pub(crate) fn new(plan: &'p Plan, reviewed: Option<&str>, env: Env<'_>) -> AuditLog<'p> {
        let plan_sha256 = reviewed.map_or_else(
            || {
                // The plan's JSON as `roster plan --format json` prints it, hashed as it is
                // written: never held as text.
                let mut digest = crate::digest::Sha256Writer::new();
                let _ = crate::render::write(
                    &mut digest,
                    plan,
                    crate::render::Format::Json,
                    false,
                    false,
                );
                digest.hex()
            },
            str::to_owned,
        );
        AuditLog {
            plan,
            plan_sha256,
            github: GithubRun::from_env(env),
        }
    }

    /// The line for one settled change, with its newline.
    pub(crate) fn line(&self, change: &Change, result: &ChangeResult) -> String {
        let line = AuditLine {
            time: crate::expr::format_date(crate::clock::now(), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'"),
            plan_sha256: self.plan_sha256.clone(),
            config_sha256: self.plan.config_sha256.clone(),
            org_id: self.plan.target.org_id.clone(),
            instance_url: self.plan.target.instance_url.clone(),
            action: change.action,
            key: change.key.clone(),
            situation: change.situation,
            reason: change.reason.to_string(),
            source_id: change.source_id.as_deref().map(str::to_owned),
            target_id: result.target_id.clone(),
            before: change.before.clone(),
            after: change.after.clone(),
            grants: change.grants.clone(),
            result: result.status,
            steps: result.steps.clone(),
            assignment_ids: result.assignment_ids.clone(),
            note: result.note.clone(),
            github: self.github.clone(),
        };
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// One app-role change in the audit log (`"kind": "entra_app_role"`): written after the Graph
/// write, with its outcome.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct AppRoleAuditLine {
    /// When the write settled, UTC.
    pub(crate) time: String,
    pub(crate) plan_sha256: String,
    pub(crate) config_sha256: String,
    /// Always `entra_app_role`.
    pub(crate) kind: &'static str,
    pub(crate) action: crate::plan::AppRoleAction,
    /// The app role's id and display name.
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) reason: String,
    pub(crate) before: Option<crate::plan::AppRoleState>,
    pub(crate) after: Option<crate::plan::AppRoleState>,
    pub(crate) result: Status,
    /// Graph's error, when the write failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) github: Option<GithubRun>,
}

/// A line of the audit log: a user's change, or an app role's.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
#[allow(
    dead_code,
    reason = "the type of the audit-line schema; lines are written as either"
)]
pub(crate) enum AuditRecord {
    User(AuditLine),
    AppRole(AppRoleAuditLine),
}

impl AuditLog<'_> {
    /// The lines of the plan's app-role changes, with their outcome.
    pub(crate) fn app_role_lines(&self, outcome: &super::AppRolesOutcome) -> String {
        let mut text = String::new();
        for change in &self.plan.app_roles {
            let line = AppRoleAuditLine {
                time: crate::expr::format_date(crate::clock::now(), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'"),
                plan_sha256: self.plan_sha256.clone(),
                config_sha256: self.plan.config_sha256.clone(),
                kind: "entra_app_role",
                action: change.action,
                id: change.id.clone(),
                display_name: change.name().to_owned(),
                reason: change.reason.clone(),
                before: change.before.clone(),
                after: change.after.clone(),
                result: outcome.status,
                error: outcome.error.clone(),
                github: self.github.clone(),
            };
            text.push_str(&serde_json::to_string(&line).unwrap_or_default());
            text.push('\n');
        }
        text
    }
}

/// Counts of changes by outcome.
#[derive(Clone, Copy, Debug, Default, Serialize, JsonSchema)]
pub(crate) struct Tally {
    pub(crate) created: usize,
    pub(crate) updated: usize,
    pub(crate) reactivated: usize,
    pub(crate) deactivated: usize,
    pub(crate) frozen: usize,
    pub(crate) failed: usize,
    /// Of the failed: deactivations Salesforce refused whose user was frozen instead.
    pub(crate) frozen_instead: usize,
    pub(crate) unknown: usize,
    pub(crate) incomplete: usize,
    pub(crate) not_attempted: usize,
    /// App-role changes applied (`roles.app_roles`).
    #[serde(default, skip_serializing_if = "crate::plan::is_zero")]
    pub(crate) app_roles: usize,
    /// App-role changes not applied: their write failed, or roster stopped first.
    #[serde(default, skip_serializing_if = "crate::plan::is_zero")]
    pub(crate) app_roles_failed: usize,
}

impl Tally {
    pub(crate) fn of(plan: &Plan, report: &Report) -> Tally {
        let mut t = Tally::default();
        for (change, result) in plan.changes.iter().zip(&report.results) {
            match result.status {
                Status::Failed => {
                    t.failed += 1;
                    let frozen = result
                        .steps
                        .iter()
                        .any(|s| &*s.name == "freeze" && s.result == Status::Applied);
                    if change.action == Action::Deactivate && frozen {
                        t.frozen_instead += 1;
                    }
                }
                Status::Incomplete => t.incomplete += 1,
                Status::Unknown => t.unknown += 1,
                Status::NotAttempted => t.not_attempted += 1,
                Status::Applied => match change.action {
                    Action::Create => t.created += 1,
                    Action::Update => t.updated += 1,
                    Action::Reactivate => t.reactivated += 1,
                    Action::Deactivate => t.deactivated += 1,
                    Action::Freeze => t.frozen += 1,
                },
            }
        }
        match report.app_roles.as_ref().map(|a| a.status) {
            Some(Status::Applied) => t.app_roles = plan.app_roles.len(),
            Some(_) => t.app_roles_failed = plan.app_roles.len(),
            None => {}
        }
        t
    }
}

/// Whether everything in the plan was applied: every change, whether or not a signal or a
/// failed request also stopped the apply (a stop after the last write leaves nothing undone).
pub(crate) fn complete(report: &Report) -> bool {
    report.results.iter().all(|r| r.status == Status::Applied)
        && report
            .app_roles
            .as_ref()
            .is_none_or(|a| a.status == Status::Applied)
}

/// One change in the report.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct ReportedChange {
    pub(crate) action: Action,
    pub(crate) key: String,
    pub(crate) target_id: Option<String>,
    pub(crate) result: Status,
    pub(crate) steps: Vec<Step>,
    pub(crate) assignment_ids: Vec<String>,
    pub(crate) note: Option<String>,
}

/// The machine-readable report of one apply.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(title = "roster apply report")]
pub(crate) struct ApplyReport {
    /// Always 1.
    pub(crate) format_version: u32,
    /// Every change applied (a stop after the last write leaves nothing undone).
    pub(crate) complete: bool,
    pub(crate) summary: Tally,
    /// Why roster stopped sending requests, when it did.
    pub(crate) stopped: Option<String>,
    /// One per change of the plan, in its order.
    pub(crate) changes: Vec<ReportedChange>,
    /// The app-role changes and their outcome (one Graph write for all), when the plan has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) app_roles: Option<ReportedAppRoles>,
}

/// The app-role changes in the report.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct ReportedAppRoles {
    pub(crate) result: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    pub(crate) changes: Vec<crate::plan::AppRoleChange>,
}

impl ApplyReport {
    pub(crate) fn new(plan: &Plan, report: &Report) -> ApplyReport {
        ApplyReport {
            format_version: RECORD_FORMAT,
            complete: complete(report),
            summary: Tally::of(plan, report),
            stopped: report.stopped.clone(),
            changes: plan
                .changes
                .iter()
                .zip(&report.results)
                .map(|(change, result): (_, &ChangeResult)| ReportedChange {
                    action: change.action,
                    key: change.key.clone(),
                    target_id: result.target_id.clone(),
                    result: result.status,
                    steps: result.steps.clone(),
                    assignment_ids: result.assignment_ids.clone(),
                    note: result.note.clone(),
                })
                .collect(),
            app_roles: report.app_roles.as_ref().map(|a| ReportedAppRoles {
                result: a.status,
                error: a.error.clone(),
                changes: plan.app_roles.clone(),
            }),
        }
    }
}

/// The JSON Schema of a document type, pretty, with a final newline.
fn schema_text<T: JsonSchema>() -> String {
    let schema = schemars::schema_for!(T);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `roster schema --audit-line`; committed as `schemas/audit-line.schema.json`.
pub(crate) fn audit_line_schema_text() -> String {
    schema_text::<AuditRecord>()
}

/// The JSON Schemas of one audit line: a user's change's, and an app role's.
pub(crate) fn audit_line_schemas() -> (serde_json::Value, serde_json::Value) {
    let json = |schema: schemars::Schema| schema.to_value();
    (
        json(schemars::schema_for!(AuditLine)),
        json(schemars::schema_for!(AppRoleAuditLine)),
    )
}

/// `roster schema --apply-report`; committed as `schemas/apply-report.schema.json`.
pub(crate) fn apply_report_schema_text() -> String {
    schema_text::<ApplyReport>()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_record_schemas_match_the_types() {
        assert!(
            include_str!("../../schemas/audit-line.schema.json") == super::audit_line_schema_text(),
            "schemas/audit-line.schema.json is stale: run `cargo run -- schema --audit-line > \
             schemas/audit-line.schema.json`"
        );
        assert!(
            include_str!("../../schemas/apply-report.schema.json")
                == super::apply_report_schema_text(),
            "schemas/apply-report.schema.json is stale: run `cargo run -- schema --apply-report \
             > schemas/apply-report.schema.json`"
        );
    }

    #[test]
    fn a_stop_after_the_last_write_leaves_the_apply_complete() {
        use super::super::{ChangeResult, Report, Status, Step};
        let result = |status: Status| ChangeResult {
            status,
            target_id: None,
            assignment_ids: Vec::new(),
            steps: vec![Step {
                name: "update".into(),
                result: status,
                failure: None,
            }],
            note: None,
        };
        let stopped = Some("interrupted (SIGINT)".to_owned());
        let done = Report {
            results: vec![result(Status::Applied), result(Status::Applied)],
            stopped: stopped.clone(),
            app_roles: None,
        };
        assert!(super::complete(&done));
        let cut = Report {
            results: vec![result(Status::Applied), result(Status::NotAttempted)],
            stopped,
            app_roles: None,
        };
        assert!(!super::complete(&cut));
    }
}
