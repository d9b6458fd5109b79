//! What an apply reports: text for people, markdown for the job summary, JSON for machines
//! (the typed documents are `apply::ApplyReport` and `apply::AuditLine`).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::apply::{self, ApplyReport, Report, Tally, complete};
use crate::plan::Plan;

/// `resources`, then the changes not (wholly) applied.
fn unfinished(t: &Tally) -> String {
    let mut line = format!("{}; {} failed", resources(t), t.failed);
    if t.frozen_instead > 0 {
        let _ = write!(
            line,
            " ({} deactivation(s) refused, frozen instead)",
            t.frozen_instead
        );
    }
    if t.unknown > 0 {
        let _ = write!(line, ", {} unknown", t.unknown);
    }
    if t.incomplete > 0 {
        let _ = write!(line, ", {} partly applied", t.incomplete);
    }
    let _ = write!(line, ", {} not attempted", t.not_attempted);
    if t.app_roles_failed > 0 {
        let _ = write!(
            line,
            "; {} app role change(s) not applied",
            t.app_roles_failed
        );
    }
    line
}

/// The applied changes by action, as the plan counts them.
fn resources(t: &Tally) -> String {
    let mut line = format!("{} created, {} updated", t.created, t.updated);
    if t.reactivated > 0 {
        let _ = write!(line, ", {} reactivated", t.reactivated);
    }
    let _ = write!(line, ", {} deactivated", t.deactivated);
    if t.frozen > 0 {
        let _ = write!(line, ", {} frozen", t.frozen);
    }
    if t.app_roles > 0 {
        let _ = write!(line, ", {} app role change(s)", t.app_roles);
    }
    line
}

/// Why the app-role changes were not written, when they were not.
fn app_roles_failure(report: &Report) -> Option<String> {
    let outcome = report.app_roles.as_ref()?;
    match (&outcome.status, &outcome.error) {
        (apply::Status::Applied, _) => None,
        (_, Some(error)) => Some(format!("writing the app roles failed: {error}")),
        (_, None) => Some("the app roles were not written: roster stopped first".to_owned()),
    }
}

/// The report for people.
pub(crate) fn text(plan: &Plan, report: &Report, color: bool) -> String {
    let paint = |style: Style, text: &str| {
        let (on, off) = super::text::codes(color, style);
        format!("{on}{text}{off}")
    };
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let green = Style::new().fg_color(Some(AnsiColor::Green.into())).bold();
    let t = Tally::of(plan, report);
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
    if let Some(failure) = app_roles_failure(report) {
        let _ = writeln!(out, "{} entra_app_role: {failure}", paint(red, "error:"));
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
pub(crate) fn markdown(plan: &Plan, report: &Report) -> String {
    let t = Tally::of(plan, report);
    let cell = super::markdown_text;
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
    if let Some(failure) = app_roles_failure(report) {
        let _ = writeln!(out, "> **Entra app roles:** {}\n", cell(&failure));
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
                super::code_cell(key),
                cell(step.strip_suffix(" failed").unwrap_or(step)),
                super::code_cell(&f.code),
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

/// The machine-readable report (`schemas/apply-report.schema.json`).
pub(crate) fn json(plan: &Plan, report: &Report) -> String {
    let mut text =
        serde_json::to_string_pretty(&ApplyReport::new(plan, report)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {

    #[test]
    fn messages_are_text_in_the_job_summary() {
        assert_eq!(
            crate::render::markdown_text("<!-- roster-plan --> [click](https://evil) a|b\nc & d"),
            "&lt;!-- roster-plan --&gt; \\[click\\](https://evil) a\\|b c &amp; d"
        );
        // An image, a mention, emphasis and a code span stay text.
        assert_eq!(
            crate::render::markdown_text("![x](https://e/i.png) @team *b* `t` _u_"),
            "!\\[x\\](https://e/i.png) &#64;team \\*b\\* &#96;t&#96; \\_u\\_"
        );
    }
}
