//! What an apply reports: text for people, markdown for the job summary, JSON for machines,
//! and the audit log's lines.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::{Value, json};

use crate::apply::{self, ChangeResult, Report, Status};
use crate::endpoint::Env;
use crate::plan::{Action, Plan};
use crate::render;

/// `GITHUB_SHA`, `GITHUB_ACTOR`, `GITHUB_RUN_ID` and the repository, when CI sets them.
pub(super) fn github_env(env: Env<'_>) -> serde_json::Map<String, Value> {
    [
        ("sha", "GITHUB_SHA"),
        ("actor", "GITHUB_ACTOR"),
        ("run_id", "GITHUB_RUN_ID"),
        ("repository", "GITHUB_REPOSITORY"),
    ]
    .into_iter()
    .filter_map(|(key, var)| {
        env(var)
            .filter(|v| !v.is_empty())
            .map(|v| (key.to_owned(), json!(v)))
    })
    .collect()
}

fn timestamp() -> String {
    crate::expr::format_date(crate::clock::now(), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'")
}

/// The SHA-256 the audit log records for a plan: of the saved file applied (`reviewed`), or of
/// the plan's JSON when it was made by this apply.
pub(super) fn plan_sha256(plan: &Plan, reviewed: Option<&str>) -> String {
    reviewed.map_or_else(
        || {
            let plan_json = render::render(plan, render::Format::Json, false, false);
            crate::digest::sha256_hex(plan_json.as_bytes())
        },
        str::to_owned,
    )
}

/// The audit log's line for one change (with its newline): when, which plan and config, who
/// (in CI), and what happened to each step. Only what the plan already shows and Salesforce
/// ids: never a credential.
pub(super) fn audit_line(
    plan: &Plan,
    plan_sha256: &str,
    change: &crate::plan::Change,
    result: &ChangeResult,
    github: &serde_json::Map<String, Value>,
) -> String {
    let names = |sets: &[crate::plan::PermissionSetRef]| -> Vec<String> {
        sets.iter().map(|s| s.name.clone()).collect()
    };
    let mut line = json!({
        "time": timestamp(),
        "plan_sha256": plan_sha256,
        "config_sha256": plan.config_sha256,
        "org_id": plan.target.org_id,
        "instance_url": plan.target.instance_url,
        "action": change.action,
        "key": change.key,
        "situation": change.situation,
        "reason": change.reason,
        "source_id": change.source_id,
        "target_id": result.target_id,
        "before": change.before,
        "after": change.after,
        "permission_sets": {
            "add": names(&change.permission_sets.add),
            "remove": names(&change.permission_sets.remove),
        },
        "result": result.status,
        "steps": result.steps,
        "assignment_ids": result.assignment_ids,
    });
    if let Some(note) = &result.note {
        line["note"] = json!(note);
    }
    if !github.is_empty() {
        line["github"] = Value::Object(github.clone());
    }
    let mut text = line.to_string();
    text.push('\n');
    text
}

/// Whether everything in the plan was applied.
pub(super) fn complete(report: &Report) -> bool {
    report.stopped.is_none() && report.results.iter().all(|r| r.status == Status::Applied)
}

/// Counts of applied changes by kind.
#[derive(Default)]
struct Tally {
    created: usize,
    updated: usize,
    deactivated: usize,
    frozen: usize,
    failed: usize,
    unknown: usize,
    incomplete: usize,
    not_attempted: usize,
}

fn tally(plan: &Plan, report: &Report) -> Tally {
    let mut t = Tally::default();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        match result.status {
            Status::Failed => t.failed += 1,
            Status::Incomplete => t.incomplete += 1,
            Status::Unknown => t.unknown += 1,
            Status::NotAttempted => t.not_attempted += 1,
            Status::Applied => match change.action {
                Action::Create => t.created += 1,
                Action::Update | Action::Reactivate => t.updated += 1,
                Action::Deactivate => t.deactivated += 1,
                Action::Freeze => t.frozen += 1,
            },
        }
    }
    t
}

/// `resources`, then the changes not (wholly) applied.
fn unfinished(t: &Tally) -> String {
    let mut line = format!("{}; {} failed", resources(t), t.failed);
    if t.unknown > 0 {
        let _ = write!(line, ", {} unknown", t.unknown);
    }
    if t.incomplete > 0 {
        let _ = write!(line, ", {} partly applied", t.incomplete);
    }
    let _ = write!(line, ", {} not attempted", t.not_attempted);
    line
}

fn resources(t: &Tally) -> String {
    let mut line = format!(
        "{} created, {} updated, {} deactivated",
        t.created, t.updated, t.deactivated
    );
    if t.frozen > 0 {
        let _ = write!(line, ", {} frozen", t.frozen);
    }
    line
}

pub(super) fn render_text(plan: &Plan, report: &Report, color: bool) -> String {
    let paint = |style: Style, text: &str| {
        let (on, off) = render::text::codes(color, style);
        format!("{on}{text}{off}")
    };
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let green = Style::new().fg_color(Some(AnsiColor::Green.into())).bold();
    let t = tally(plan, report);
    let mut out = String::new();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        if let Some(note) = &result.note {
            let _ = writeln!(out, "note: {}: {note}", change.key);
        }
        for (step, failure) in result.failures() {
            let _ = writeln!(
                out,
                "{} salesforce_user[{:?}]: {step}: {}: {}",
                paint(red, "error:"),
                change.key,
                failure.code,
                failure.message
            );
        }
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(
            out,
            "{} roster stopped sending requests: {why}",
            paint(red, "error:")
        );
    }
    if complete(report) {
        out.push_str(&paint(
            green,
            &format!("Apply complete! Resources: {}.", resources(&t)),
        ));
        out.push('\n');
    } else {
        out.push_str(&paint(
            red,
            &format!("Apply incomplete. Resources: {}.", unfinished(&t)),
        ));
        out.push_str(
            "\nRun `roster plan` to see exactly what remains; `roster apply` again converges.\n",
        );
    }
    if let Some(note) = not_acted_on(plan) {
        let _ = writeln!(out, "{note}");
    }
    out
}

/// The users the plan itself refused to act on (errors and conflicts), which no apply changes.
fn not_acted_on(plan: &Plan) -> Option<String> {
    let n = plan.errors.len();
    (n > 0).then(|| {
        format!(
            "Note: the plan did not act on {n} user{} with errors or conflicts; `roster plan` \
             lists them with the reason.",
            if n == 1 { "" } else { "s" }
        )
    })
}

/// Failures listed in the job summary at most.
const MAX_SUMMARY_FAILURES: usize = 200;

/// The report for the GitHub Actions job summary: outcome, counts, every failure (up to a cap)
/// in a table.
pub(super) fn render_markdown(plan: &Plan, report: &Report) -> String {
    let t = tally(plan, report);
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    if complete(report) {
        let _ = writeln!(
            out,
            "### ✅ roster apply\n\n**Apply complete! Resources: {}.**",
            resources(&t)
        );
        if let Some(note) = not_acted_on(plan) {
            let _ = writeln!(out, "\n{note}");
        }
        return out;
    }
    let _ = writeln!(
        out,
        "### ❌ roster apply failed\n\n**Apply incomplete. Resources: {}.** Run `roster apply` \
         again once the cause is fixed: it converges.\n",
        unfinished(&t)
    );
    if let Some(why) = &report.stopped {
        let _ = writeln!(
            out,
            "> **roster stopped sending requests:** {}\n",
            cell(why)
        );
    }
    let failures: Vec<(&str, String, &apply::Failure)> = plan
        .changes
        .iter()
        .zip(&report.results)
        .flat_map(|(c, r)| r.failures().map(move |(step, f)| (c.key.as_str(), step, f)))
        .collect();
    if !failures.is_empty() {
        out.push_str("| user | step | code | message |\n|---|---|---|---|\n");
        for (key, step, f) in failures.iter().take(MAX_SUMMARY_FAILURES) {
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` | {} |",
                cell(key),
                cell(step.strip_suffix(" failed").unwrap_or(step)),
                cell(&f.code),
                cell(&f.message)
            );
        }
        if failures.len() > MAX_SUMMARY_FAILURES {
            let _ = writeln!(
                out,
                "\n… and {} more failures: see the job log and the audit log.",
                failures.len() - MAX_SUMMARY_FAILURES
            );
        }
    }
    out
}

/// The machine-readable report.
pub(super) fn render_json(plan: &Plan, report: &Report) -> String {
    let t = tally(plan, report);
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .zip(&report.results)
        .map(|(change, result): (_, &ChangeResult)| {
            json!({
                "action": change.action,
                "key": change.key,
                "target_id": result.target_id,
                "result": result.status,
                "steps": result.steps,
                "assignment_ids": result.assignment_ids,
                "note": result.note,
            })
        })
        .collect();
    let document = json!({
        "format_version": 1,
        "complete": complete(report),
        "summary": {
            "created": t.created,
            "updated": t.updated,
            "deactivated": t.deactivated,
            "frozen": t.frozen,
            "failed": t.failed,
            "unknown": t.unknown,
            "incomplete": t.incomplete,
            "not_attempted": t.not_attempted,
        },
        "stopped": report.stopped,
        "changes": changes,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
