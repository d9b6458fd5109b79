//! What an apply reports: text for people, markdown for the job summary, JSON for machines
//! (the typed documents are `apply::ApplyReport` and `apply::AuditLine`).

use std::fmt::Write as _;
use std::io::Write as _;

use anstyle::{AnsiColor, Style};

use super::{Quoted, visible};
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

/// Keys a grouped failure names in the terminal report; the rest are counted.
const SHOWN_KEYS: usize = 3;

/// Users whose changes failed the same way: the step, the error code and the message, with
/// the keys in plan order.
struct FailureGroup<'p> {
    error: (String, &'p str, &'p str),
    keys: Vec<&'p str>,
}

/// The apply's failures, one group per distinct (step, code, message), in the order each first
/// failed: 88,000 creates refused for one reason are one line, not 88,000.
fn failure_groups<'p>(plan: &'p Plan, report: &'p Report) -> Vec<FailureGroup<'p>> {
    let mut groups: Vec<FailureGroup<'p>> = Vec::new();
    let mut index: std::collections::HashMap<(String, &str, &str), usize> =
        std::collections::HashMap::new();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        for (step, failure) in result.failures() {
            let error = (step, failure.code.as_str(), failure.message.as_str());
            let at = *index.entry(error.clone()).or_insert_with(|| {
                groups.push(FailureGroup {
                    error,
                    keys: Vec::new(),
                });
                groups.len() - 1
            });
            groups[at].keys.push(&change.key);
        }
    }
    groups
}

/// One line of the text report for what `keys` share (`what`, already made visible): the key
/// itself for one; for more, their count, then the first few.
fn grouped(out: &mut String, mark: &str, keys: &[&str], what: &str) {
    match keys {
        [key] => {
            let _ = writeln!(out, "{mark} salesforce_user[{}]: {what}", Quoted(key));
        }
        keys => {
            let shown: Vec<String> = keys
                .iter()
                .take(SHOWN_KEYS)
                .map(|k| format!("salesforce_user[{}]", Quoted(k)))
                .collect();
            let more = match keys.len().saturating_sub(SHOWN_KEYS) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            let _ = writeln!(
                out,
                "{mark} {} users: {what}\n       {}{more} (`--format json` and the audit log \
                 list every one)",
                keys.len(),
                shown.join(", ")
            );
        }
    }
}

/// Salesforce's message without the `<br>` it writes for its own web pages
/// (`Duplicate Nickname.<br>Another user has ...`): a space in a terminal's line or a table
/// cell. Any case, with white space or a `/` before the `>` (`<BR/>`, `<br />`).
fn without_markup(message: &str) -> std::borrow::Cow<'_, str> {
    let tag_len = |rest: &str| -> Option<usize> {
        let after = rest.get(..3).filter(|t| t.eq_ignore_ascii_case("<br"))?;
        let tail = &rest[after.len()..];
        let inner = tail.len() - tail.trim_start_matches([' ', '\t', '/']).len();
        tail[inner..].starts_with('>').then_some(3 + inner + 1)
    };
    if !message
        .char_indices()
        .any(|(i, _)| tag_len(&message[i..]).is_some())
    {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = tag_len(rest) {
            if !out.ends_with(' ') {
                out.push(' ');
            }
            rest = rest[len..].trim_start_matches(' ');
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    std::borrow::Cow::Owned(out.trim_end().to_owned())
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
    // Notes alike (a lost answer looked up, for each of 177 users) are one line too.
    let mut notes: Vec<(&str, Vec<&str>)> = Vec::new();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        if let Some(note) = &result.note {
            match notes.iter_mut().find(|(n, _)| n == note) {
                Some((_, keys)) => keys.push(&change.key),
                None => notes.push((note, vec![&change.key])),
            }
        }
    }
    for (note, keys) in notes {
        grouped(&mut out, "note:", &keys, &visible(note));
    }
    for group in failure_groups(plan, report) {
        let (step, code, message) = group.error;
        // Salesforce's words, and the names of the org's records in a step ("remove permission
        // set ..."), shown, never acting on the terminal; its `<br>` markup a space.
        let message = without_markup(message);
        let said = format!(
            "{}: {}: {}",
            visible(&step),
            visible(code),
            visible(&message)
        );
        grouped(&mut out, &paint(red, "error:"), &group.keys, &said);
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(
            out,
            "{} roster stopped sending requests: {}",
            paint(red, "error:"),
            visible(why)
        );
    }
    if let Some(failure) = app_roles_failure(report) {
        let _ = writeln!(
            out,
            "{} entra_app_role: {}",
            paint(red, "error:"),
            visible(&failure)
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
/// Characters of one message (or code) a job summary row shows: 200 rows of them stay far
/// under GitHub's 1 MiB a step's summary may hold (a larger one is dropped whole).
const MAX_CELL_CHARS: usize = 1_000;

/// A cell's `text`, escaped for markdown already, cut to `MAX_CELL_CHARS` characters, the cut
/// marked `…`; the JSON report and the audit log keep every message whole.
fn clipped(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_CELL_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]).into(),
        None => text.into(),
    }
}

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
            clipped(&cell(why))
        );
    }
    if let Some(failure) = app_roles_failure(report) {
        let _ = writeln!(out, "> **Entra app roles:** {}\n", clipped(&cell(&failure)));
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
                clipped(&super::code_cell(&f.code)),
                clipped(&cell(&without_markup(&f.message)))
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
pub(crate) fn write_json(
    out: &mut dyn std::io::Write,
    plan: &Plan,
    report: &Report,
) -> std::io::Result<()> {
    // Written as serde goes, not built first: 100,000 changes' report is some 50 MB of text.
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, &ApplyReport::new(plan, report))?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use crate::apply::{ChangeResult, Report, Status, Step};
    use crate::plan::{Action, Change, Plan, Situation};
    use crate::salesforce::write::Failure;

    /// A plan of creates of `user{n}@contoso.com`, the n-th failing with `failures[n]` (code,
    /// message), and its report.
    fn failed(failures: &[(String, String)], stopped: Option<String>) -> (Plan, Report) {
        let mut plan = Plan::default();
        let mut results = Vec::new();
        for (n, (code, message)) in failures.iter().enumerate() {
            plan.changes.push(Change::new(
                Action::Create,
                format!("user{n}@contoso.com"),
                Situation::Unmatched,
            ));
            results.push(ChangeResult {
                status: Status::Failed,
                target_id: None,
                assignment_ids: Vec::new(),
                steps: vec![Step {
                    name: "create".into(),
                    result: Status::Failed,
                    failure: Some(Failure::new(code, message)),
                }],
                note: None,
            });
        }
        let report = Report {
            results,
            stopped,
            app_roles: None,
        };
        (plan, report)
    }

    /// Many users failing the same way are one line with the count and the first keys; a
    /// failure of its own keeps its own line; counts still add up.
    #[test]
    fn the_same_failure_of_many_users_is_one_line() {
        let failures: Vec<(String, String)> = (0..6)
            .map(|n| {
                let (code, message) = if n == 4 {
                    ("DUPLICATE_USERNAME", "Duplicate Username.")
                } else {
                    ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
                };
                (code.to_owned(), message.to_owned())
            })
            .collect();
        let (plan, report) = failed(&failures, None);
        let text = super::text(&plan, &report, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "error: 5 users: create failed: INVALID_CROSS_REFERENCE_KEY: invalid cross reference id",
                "       salesforce_user[\"user0@contoso.com\"], salesforce_user[\"user1@contoso.com\"], \
                 salesforce_user[\"user2@contoso.com\"] and 2 more (`--format json` and the audit log \
                 list every one)",
                "error: salesforce_user[\"user4@contoso.com\"]: create failed: DUPLICATE_USERNAME: \
                 Duplicate Username.",
            ],
            "{text}"
        );
        assert!(text.contains("6 failed"), "{text}");
        // The JSON report keeps every user.
        let mut json = Vec::new();
        super::write_json(&mut json, &plan, &report).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert_eq!(json.matches("INVALID_CROSS_REFERENCE_KEY").count(), 5);
    }

    /// Salesforce's `<br>` markup is a space in the terminal's line; notes alike are one line.
    #[test]
    fn markup_is_a_space_and_notes_alike_are_one_line() {
        let (plan, mut report) = failed(
            &vec![(
                "DUPLICATE_COMM_NICKNAME".to_owned(),
                "Duplicate Nickname.<br>Another user has already selected this nickname.<br>Please select another.".to_owned(),
            ); 4],
            None,
        );
        let text = super::text(&plan, &report, false);
        assert!(
            text.contains("Duplicate Nickname. Another user has already selected this nickname. Please select another.")
                && !text.contains("<br>"),
            "{text}"
        );
        let summary = super::markdown(&plan, &report);
        assert!(
            summary.contains("Duplicate Nickname. Another user") && !summary.contains("br&gt;"),
            "{summary}"
        );
        assert_eq!(
            super::without_markup("A<Br >B<BR/>C<br />D <br> E<bra>"),
            "A B C D E<bra>"
        );
        for result in &mut report.results {
            result.note =
                Some("the answer was lost; looking it up showed it was carried out".into());
        }
        let text = super::text(&plan, &report, false);
        assert_eq!(text.matches("the answer was lost").count(), 1, "{text}");
        assert!(
            text.contains("note: 4 users: the answer was lost"),
            "{text}"
        );
    }

    /// A step names an org's record (a permission set an admin named): its control characters    /// A step names an org's record (a permission set an admin named): its control characters
    /// are shown, never sent to the terminal, as the error's code and message are.
    #[test]
    fn a_step_naming_a_record_does_not_act_on_the_terminal() {
        let (plan, mut report) = failed(&[("X".to_owned(), "no".to_owned())], None);
        report.results[0].steps[0].name =
            "add permission_set Sales\u{1b}]8;;https://evil\u{7}".into();
        let text = super::text(&plan, &report, false);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(
            text.contains("add permission_set Sales\\u{1b}]8;;https://evil\\u{7} failed"),
            "{text}"
        );
    }

    #[test]
    fn a_long_message_is_cut_in_the_job_summary_after_it_is_escaped() {
        assert_eq!(super::clipped("short"), "short");
        let long = "é".repeat(5_000);
        let cut = super::clipped(&long);
        assert_eq!(cut.chars().count(), super::MAX_CELL_CHARS + 1);
        assert!(cut.ends_with("é…"));
        // 200 failures of a message that grows sixfold when escaped stay far under 1 MiB.
        let message = format!("{}{}", "<".repeat(700), "\u{1}".repeat(700));
        let failures = vec![("X".repeat(1_500), message.clone()); 200];
        let (plan, report) = failed(&failures, Some(message));
        let summary = super::markdown(&plan, &report);
        assert!(summary.len() < 500_000, "{}", summary.len());
        for row in summary.lines().filter(|l| l.starts_with("| `user")) {
            assert!(
                row.chars().count() < 2 * super::MAX_CELL_CHARS + 100,
                "{row}"
            );
        }
    }

    #[test]
    fn messages_are_text_in_the_job_summary() {
        assert_eq!(
            crate::render::markdown_text("<!-- roster-plan --> [click](https://evil) a|b\nc & d"),
            "&lt;!-- roster-plan --&gt; \\[click\\](https\\://evil) a\\|b c &amp; d"
        );
        // An image, a mention, emphasis and a code span stay text.
        assert_eq!(
            crate::render::markdown_text("![x](https://e/i.png) @team *b* `t` _u_"),
            "!\\[x\\](https\\://e/i.png) @<!-- -->team \\*b\\* &#96;t&#96; \\_u\\_"
        );
        // A mention, an issue reference and an address each broken by an empty comment (GitHub
        // decodes `&#64;` and `\@` before it links an address); a `#` before no digit is text.
        assert_eq!(
            crate::render::markdown_text("@octocat fixed #12 (C#, ceo@corp.example)"),
            "@<!-- -->octocat fixed #<!-- -->12 (C#, ceo@<!-- -->corp.example)"
        );
        // `GH-12` references an issue, `$` opens math.
        assert_eq!(
            crate::render::markdown_text("GH-12 costs $5, gh-7 too; a GH-b and a-12 do not"),
            "GH<!-- -->-12 costs \\$5, gh<!-- -->-7 too; a GH-b and a-12 do not"
        );
        // Masked, an address keeps no part of its local part, escapes and all.
        assert_eq!(
            crate::render::mask_emails(&crate::render::markdown_text(
                "tom&jerry@contoso.com bob#1@contoso.com"
            )),
            "•••@<!-- -->contoso.com •••@<!-- -->contoso.com"
        );
        // Bare addresses GitHub would link by itself: the `:` of `://` and the `.` of `www.`
        // are escaped (shown as they are), an address's `@` is followed by an empty comment; a
        // colon or a dot elsewhere is left alone.
        assert_eq!(
            crate::render::markdown_text(
                "see https://evil.example/login, HTTP://x.y WWW.evil.example or a@b.example: done."
            ),
            "see https\\://evil.example/login, HTTP\\://x.y WWW\\.evil.example or a@<!-- -->b.example: \
             done."
        );
    }
}
