//! The plan as one pull-request comment: a hidden marker so CI updates the same comment, the
//! summary line and per-action lists outside `<details>`, a banner when users are deactivated or
//! errors exist, and the full plan as a `diff` block inside — never longer than GitHub allows.

use std::fmt::Write as _;

use crate::plan::{Action, Plan};

/// The hidden line CI finds its comment by.
pub(crate) const MARKER: &str = "<!-- roster-plan -->";
/// GitHub refuses comments over 65,536 characters; roster stays under this.
pub(crate) const MAX_CHARS: usize = 65_000;
/// Keys listed per action outside the details block.
const LISTED: usize = 50;

/// The comment, `mask`ed (email local parts hidden) before it is measured: masking can lengthen
/// text.
pub(crate) fn render(plan: &Plan, mask: bool) -> String {
    render_chunked(plan, mask, super::CHUNK)
}

/// `render`, the users' blocks made `chunk` at a time on threads of their own.
fn render_chunked(plan: &Plan, mask: bool, chunk: usize) -> String {
    let masked = |text: String| super::masked(text, mask);
    let mut head = String::new();
    let _ = writeln!(head, "{MARKER}");
    let _ = writeln!(head, "### roster plan\n");
    if let Some(refused) = &plan.refused {
        let _ = writeln!(
            head,
            "> [!CAUTION]\n> **Plan refused:** {}",
            super::markdown_text(refused)
        );
        return masked(super::visible_lines(&head).into_owned());
    }
    let _ = writeln!(head, "**{}**\n", super::text::summary_line(plan));
    banner(&mut head, plan);
    if let Some(overview) = super::overview::of(plan) {
        head.push_str(&super::overview::markdown(&overview));
    }
    grants(&mut head, plan);
    app_roles(&mut head, plan);
    lists(&mut head, plan);
    if let Some(run) = run_url() {
        let _ = writeln!(
            head,
            "\nThe whole plan, as JSON and as this comment, is attached to [this workflow \
             run]({run}) as an artifact."
        );
    }

    // What Entra or Salesforce put in the lists shows and does not act (the plan's lines are
    // `visible` already).
    let mut head = masked(super::visible_lines(&head).into_owned());
    cap(&mut head);
    let open = "\n<details><summary>Full plan</summary>\n\n```diff\n";
    let close = "```\n\n</details>\n";
    let budget = MAX_CHARS.saturating_sub(head.len() + open.len() + close.len() + 400);
    let mut fit = Fit::new(budget);
    // The users' blocks (some two million lines for 100,000 users) made on threads a chunk at a
    // time, and fitted in order.
    super::text::each_piece(plan, &mut |piece| match piece {
        super::text::Piece::Line(line) => fit.push(masked(line.to_diff())),
        super::text::Piece::Changes(changes) => {
            let fitted: Result<(), std::convert::Infallible> = super::in_chunks(
                changes,
                chunk,
                |_, changes| {
                    let mut lines = Vec::new();
                    super::text::blocks(changes, &mut |line| {
                        lines.push(masked(line.to_diff()));
                    });
                    lines
                },
                |lines| {
                    for line in lines {
                        fit.push(line);
                    }
                    Ok(())
                },
            );
            let Ok(()) = fitted;
        }
    });
    let (body, note) = fit.finish();
    let mut out = head;
    if let Some(note) = &note {
        let _ = writeln!(out, "\n> [!NOTE]\n> {note}");
    }
    out.push_str(open);
    out.push_str(&body);
    out.push_str(close);
    out
}

/// The part above the plan's lines, cut after a line to half the comment when its lists and
/// warnings take more (hundreds of nested groups, errors quoting 10,000-character values): the
/// plan's own lines still show, and the comment stays under GitHub's limit.
fn cap(head: &mut String) {
    const HEAD: usize = MAX_CHARS / 2;
    if head.len() <= HEAD {
        return;
    }
    let cut = head.as_bytes()[..HEAD]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |at| at + 1);
    let hidden = head[cut..].lines().count();
    head.truncate(cut);
    let _ = writeln!(
        head,
        "\n> [!NOTE]\n> {hidden} more lines of lists and warnings are not shown: the whole \
         plan is in the plan file (`roster show PLAN`)."
    );
}

/// The grants the plan adds and removes, one row per kind and name, in apply's order.
fn grants(head: &mut String, plan: &Plan) {
    let mut rows: std::collections::BTreeMap<(crate::grants::GrantKind, &str), (usize, usize)> =
        std::collections::BTreeMap::new();
    for change in &plan.changes {
        for g in &change.grants.add {
            rows.entry((g.kind, &*g.name)).or_default().0 += 1;
        }
        for g in &change.grants.remove {
            rows.entry((g.kind, &*g.name)).or_default().1 += 1;
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        head,
        "| Grant | Name | Added | Removed |\n|---|---|--:|--:|"
    );
    for ((kind, name), (added, removed)) in rows {
        let _ = writeln!(
            head,
            "| {kind} | `{}` | {added} | {removed} |",
            super::code_cell(name)
        );
    }
    head.push('\n');
}

/// The application's app roles to change, one row each.
fn app_roles(head: &mut String, plan: &Plan) {
    if plan.app_roles.is_empty() {
        return;
    }
    let _ = writeln!(head, "| Entra app role | Change | Why |\n|---|---|---|");
    for role in &plan.app_roles {
        let cell = super::markdown_text;
        let _ = writeln!(
            head,
            "| {} | {} | {} |",
            cell(role.name()),
            role.action.verb(),
            cell(&role.reason)
        );
    }
    head.push('\n');
}

/// The warning banner: deactivations, an exceeded threshold, errors.
fn banner(head: &mut String, plan: &Plan) {
    let deactivations = plan.summary.deactivate + plan.summary.freeze;
    if deactivations > 0 || !plan.errors.is_empty() || plan.safety.exceeded {
        let _ = writeln!(head, "> [!WARNING]");
        if deactivations > 0 {
            let _ = writeln!(
                head,
                "> **{deactivations} user(s) will be deactivated or frozen** in Salesforce.  "
            );
        }
        if plan.safety.exceeded {
            let _ = writeln!(
                head,
                "> That exceeds `safety.max_deactivations` ({}): apply refuses without `--allow-deactivations {}`.  ",
                plan.safety.allowance,
                plan.safety.counted()
            );
        }
        if !plan.errors.is_empty() {
            let _ = writeln!(
                head,
                "> **{} user(s) have errors or conflicts** and will not be changed.",
                plan.errors.len()
            );
        }
        head.push('\n');
    }
}

/// The target note and the per-cause and per-action key lists, errors and deleted assignees.
fn lists(head: &mut String, plan: &Plan) {
    if !plan.targeted.is_empty() {
        // The targets as given: a code span fenced to fit (a backtick in one is text).
        let _ = writeln!(
            head,
            "> [!NOTE]\n> Limited to {}.\n",
            code_span(&format!("--target {}", plan.targeted.join(", ")))
        );
    }
    if plan.baseline.is_some() {
        for (cause, title) in [
            (
                crate::plan::Cause::ConfigChange,
                "Caused by this change to roster.yaml",
            ),
            (crate::plan::Cause::Pending, "Pending regardless"),
        ] {
            let keys: Vec<&str> = plan
                .changes
                .iter()
                .filter(|c| c.cause == Some(cause))
                .map(|c| c.key.as_str())
                .collect();
            list(head, title, &keys);
        }
        if let Some(baseline) = &plan.baseline {
            let gone: Vec<&str> = baseline
                .no_longer_changed
                .iter()
                .map(String::as_str)
                .collect();
            list(head, "No longer changed with this change", &gone);
        }
    }
    for (action, title) in [
        (Action::Create, "Create"),
        (Action::Update, "Update"),
        (Action::Reactivate, "Reactivate"),
        (Action::Deactivate, "Deactivate"),
        (Action::Freeze, "Freeze"),
    ] {
        let keys: Vec<&str> = plan
            .changes
            .iter()
            .filter(|c| c.action == action)
            .map(|c| c.key.as_str())
            .collect();
        list(head, title, &keys);
    }
    let problems = plan
        .errors
        .iter()
        .map(|p| format!("{}: {}", p.key, p.reason));
    let deleted = plan
        .deleted_in_entra
        .iter()
        .map(crate::model::DeletedUser::shown);
    let skipped = plan
        .skipped
        .iter()
        .map(|p| format!("{}: {}", p.key, p.reason));
    for (title, items) in [
        ("Errors and conflicts", problems.collect::<Vec<_>>()),
        (
            "Skipped by expression (IgnoreObjectFlow)",
            skipped.collect(),
        ),
        ("Assigned, but deleted in Entra", deleted.collect()),
    ] {
        list(
            head,
            title,
            &items.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    for warning in &plan.warnings {
        // A warning quotes names (a nested group's): text, never markdown.
        let _ = writeln!(head, "- ⚠️ {}", super::markdown_text(warning));
    }
}

/// The GitHub Actions run this comment is written in, from the variables every job has
/// (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`; GitHub Docs, "Variables
/// reference"); `None` outside Actions.
fn run_url() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL")?.trim_end_matches('/'),
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}

/// `text` as one CommonMark code span, shown literally whatever it holds: fenced by one
/// backtick more than its longest run of backticks, and padded with a space where it starts or
/// ends with a backtick or with spaces on both sides, which the renderer strips one of
/// (CommonMark 0.31, "Code spans"); a line break (which would end the list item) as a space.
fn code_span(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let stripped_anyway = text.starts_with(' ') && text.ends_with(' ') && !text.trim().is_empty();
    let pad = if text.starts_with('`') || text.ends_with('`') || stripped_anyway {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn list(out: &mut String, title: &str, items: &[&str]) {
    if items.is_empty() {
        return;
    }
    let shown: Vec<String> = items.iter().take(LISTED).map(|k| code_span(k)).collect();
    let more = items.len().saturating_sub(LISTED);
    let _ = write!(out, "- **{title} ({}):** {}", items.len(), shown.join(", "));
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out.push('\n');
}

/// The plan's `diff` lines, or their head and tail with a visible cut, in `budget` characters
/// (each line counted with its newline), gathered as the lines are made: a 100,000-user plan
/// has some 1.5 million lines (360 MB as strings), of which a comment shows 65,000 characters,
/// so no more than that is ever held.
struct Fit {
    /// Characters for each of the head and the tail once the lines are over the budget.
    half: usize,
    budget: usize,
    /// The longest prefix within `half`, and its size.
    head: Vec<String>,
    head_size: usize,
    /// A line did not fit the head: the head is closed.
    head_closed: bool,
    /// Every line after the head while all lines fit the budget; once they do not, the
    /// longest suffix within `half`.
    tail: std::collections::VecDeque<String>,
    tail_size: usize,
    /// All lines so far, and their size.
    lines: usize,
    size: usize,
}

impl Fit {
    fn new(budget: usize) -> Fit {
        Fit {
            half: budget / 2,
            budget,
            head: Vec::new(),
            head_size: 0,
            head_closed: false,
            tail: std::collections::VecDeque::new(),
            tail_size: 0,
            lines: 0,
            size: 0,
        }
    }

    fn push(&mut self, line: String) {
        let size = line.len() + 1;
        self.lines += 1;
        self.size += size;
        if !self.head_closed && self.head_size + size <= self.half {
            self.head_size += size;
            self.head.push(line);
            return;
        }
        self.head_closed = true;
        self.tail_size += size;
        self.tail.push_back(line);
        if self.size > self.budget {
            while self.tail_size > self.half
                && let Some(first) = self.tail.pop_front()
            {
                self.tail_size -= first.len() + 1;
            }
        }
    }

    /// The body, and the note saying what was cut, if anything was.
    fn finish(self) -> (String, Option<String>) {
        let Fit { head, tail, .. } = &self;
        if self.size <= self.budget {
            let mut body = String::with_capacity(self.size);
            for line in head.iter().chain(tail) {
                body.push_str(line);
                body.push('\n');
            }
            return (body, None);
        }
        let cut = self.lines - head.len() - tail.len();
        let marker = format!(
            "... {cut} lines truncated: the whole plan is in the plan file (`roster show PLAN`) ..."
        );
        let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
        let body = format!("{}\n{marker}\n{}\n", head.join("\n"), tail.join("\n"));
        let note = format!(
            "This plan is too long for one comment: {cut} of {} lines in the middle are not shown.",
            self.lines
        );
        (body, Some(note))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_code_span_shows_any_text_as_it_is() {
        for (text, span) in [
            ("ava@contoso.com", "`ava@contoso.com`"),
            ("a`b", "``a`b``"),
            ("`quoted`", "`` `quoted` ``"),
            ("a``b`", "``` a``b` ```"),
            (" padded ", "`  padded  `"),
            ("two\nlines", "`two lines`"),
        ] {
            assert_eq!(super::code_span(text), span, "{text:?}");
        }
    }

    use serde_json::json;

    use super::*;
    use crate::plan::{Change, Situation, Summary};

    fn change(i: usize) -> Change {
        Change {
            reason: format!(
                "unmatched: no Salesforce user with FederationIdentifier = \"user{i:05}@contoso.com\""
            )
            .into(),
            source_id: Some(format!("id-{i}").into()),
            after: crate::plan::Fields::from([
                (
                    "Username".into(),
                    format!("user{i:05}@contoso.com.dev1").into(),
                ),
                ("Email".into(), format!("user{i:05}@contoso.com").into()),
                ("LastName".into(), "Nguyen".into()),
            ]),
            ..Change::new(
                Action::Create,
                format!("user{i:05}@contoso.com"),
                Situation::Unmatched,
            )
        }
    }

    #[test]
    fn a_5000_change_plan_fits_github_keeps_its_summary_and_says_it_was_cut() {
        let plan = Plan {
            format_version: 1,
            changes: (0..5000).map(change).collect(),
            summary: Summary {
                create: 5000,
                in_scope: 5000,
                ..Summary::default()
            },
            ..Plan::default()
        };
        let comment = render(&plan, false);
        assert!(comment.chars().count() < 65_536, "{}", comment.len());
        assert!(comment.len() <= MAX_CHARS, "{}", comment.len());
        assert!(comment.starts_with(MARKER));
        assert!(comment.contains("**Plan: 5000 to create, 0 to update, 0 to deactivate.**"));
        assert!(comment.contains("- **Create (5000):** `user00000@contoso.com`"));
        assert!(comment.contains(" and 4950 more"));
        assert!(comment.contains("> This plan is too long for one comment:"));
        assert!(comment.contains("lines truncated: the whole plan is in the plan file"));
        // Head and tail both survive, and the code block is closed.
        assert!(comment.contains("user00000@contoso.com.dev1"));
        assert!(comment.contains("Plan: 5000 to create"));
        assert!(comment.trim_end().ends_with("</details>"));
    }

    /// The comment is the same whether the users' blocks are made in one chunk or many: each
    /// chunk's lines are fitted in the plan's order, the head and the tail kept and the lines
    /// between counted, in a comment that fits and in one cut short.
    #[test]
    fn the_comment_is_the_same_however_its_lines_are_chunked() {
        for changes in [3, 40, 3000] {
            let plan = Plan {
                changes: (0..changes).map(change).collect(),
                ..Plan::default()
            };
            for mask in [false, true] {
                let whole = render_chunked(&plan, mask, usize::MAX);
                assert_eq!(
                    whole.contains("lines truncated"),
                    changes == 3000,
                    "{changes} changes"
                );
                for chunk in [1, 2, 7, 1024] {
                    assert_eq!(
                        render_chunked(&plan, mask, chunk),
                        whole,
                        "{changes} changes, mask {mask}, chunks of {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_lists_and_masked_addresses_keep_the_comment_under_githubs_limit() {
        // 400 warnings of 200 characters (400 nested groups): the lists are cut, the plan's
        // lines still show, and the code block is closed.
        let mut plan = Plan {
            changes: (0..50).map(change).collect(),
            summary: Summary {
                create: 50,
                ..Summary::default()
            },
            warnings: (0..400)
                .map(|i| format!("group \"Team {i:03}\" is nested {}", "x".repeat(180)))
                .collect(),
            ..Plan::default()
        };
        let comment = render(&plan, false);
        assert!(comment.len() <= MAX_CHARS, "{}", comment.len());
        assert!(comment.contains("more lines of lists and warnings are not shown"));
        assert!(comment.contains("Team 000") && !comment.contains("Team 399"));
        assert!(comment.contains("user00049@contoso.com.dev1"), "{comment}");
        assert!(comment.trim_end().ends_with("</details>"));
        // Short local parts grow when masked (`a@` is `•••@`, 2 bytes become 6): the comment is
        // measured masked.
        plan.warnings.clear();
        plan.changes = (0..2000)
            .map(|i| {
                let mut c = change(i);
                c.after.insert(
                    "Title".into(),
                    json!("a@b.cc ".repeat(11).trim_end()).into(),
                );
                c
            })
            .collect();
        let masked = render(&plan, true);
        assert!(masked.len() <= MAX_CHARS, "{}", masked.len());
        assert!(masked.contains("\"•••@b.cc •••@b.cc"), "{masked}");
        assert!(!masked.contains("a@b.cc"));
    }

    #[test]
    fn warnings_and_a_refusal_are_text_in_the_comment() {
        let mut plan = Plan {
            warnings: vec![
                "group \"SF Support\" contains the nested group \"Tier2 [click](http://evil.example/) \
                 *b* @octocat <b>x</b>\""
                    .to_owned(),
            ],
            ..Plan::default()
        };
        let comment = render(&plan, false);
        assert!(
            comment.contains(
                "- ⚠️ group \"SF Support\" contains the nested group \"Tier2 \\[click\\](http\\://evil.example/) \
                 \\*b\\* @<!-- -->octocat &lt;b&gt;x&lt;/b&gt;\""
            ),
            "{comment}"
        );
        // A target with backticks (a Username may hold them) stays inside its code span.
        plan.targeted = vec!["x`a.b`@c.dev1".to_owned()];
        let comment = render(&plan, false);
        assert!(
            comment.contains("> Limited to ``--target x`a.b`@c.dev1``.\n"),
            "{comment}"
        );
        plan.targeted.clear();
        plan.refused = Some("x\n\n[click](http://evil.example/) @octocat".to_owned());
        let comment = render(&plan, false);
        assert!(
            comment.ends_with(
                "**Plan refused:** x  \\[click\\](http\\://evil.example/) @<!-- -->octocat\n"
            ),
            "{comment}"
        );
    }

    /// Lines of 9 characters and a newline: `budget` 100 holds ten whole.
    fn fitted(lines: usize, budget: usize) -> (String, Option<String>) {
        let mut fit = Fit::new(budget);
        for i in 0..lines {
            fit.push(format!("line {i:04}"));
        }
        fit.finish()
    }

    #[test]
    fn lines_exactly_the_budget_are_whole_and_one_more_is_cut_in_the_middle() {
        let (body, note) = fitted(10, 100);
        assert_eq!(note, None);
        assert_eq!(body.len(), 100);
        assert!(body.starts_with("line 0000\n") && body.ends_with("line 0009\n"));
        // One line more: five lines (50 characters) at each end, the one in the middle cut.
        let (body, note) = fitted(11, 100);
        assert_eq!(
            note.as_deref(),
            Some(
                "This plan is too long for one comment: 1 of 11 lines in the middle are not shown."
            )
        );
        assert_eq!(
            body,
            "line 0000\nline 0001\nline 0002\nline 0003\nline 0004\n... 1 lines truncated: the \
             whole plan is in the plan file (`roster show PLAN`) ...\nline 0006\nline 0007\nline \
             0008\nline 0009\nline 0010\n"
        );
        // 100,000 lines: five at the head, and four of the longer last ones (11 characters
        // each) at the tail; nothing else held.
        let (body, note) = fitted(100_000, 100);
        assert!(note.is_some_and(|n| n.contains(": 99991 of 100000 lines")));
        assert!(
            body.contains("line 0004\n... 99991 lines truncated"),
            "{body}"
        );
        assert!(body.contains("...\nline 99996\nline 99997\n"), "{body}");
        assert!(
            body.starts_with("line 0000\n") && body.ends_with("line 99999\n"),
            "{body}"
        );
    }

    #[test]
    fn a_small_plan_is_whole_and_deactivations_raise_a_banner() {
        let mut gone = change(1);
        gone.action = Action::Deactivate;
        let plan = Plan {
            changes: vec![change(0), gone],
            summary: Summary {
                create: 1,
                deactivate: 1,
                ..Summary::default()
            },
            ..Plan::default()
        };
        let comment = render(&plan, false);
        assert!(!comment.contains("truncated"));
        assert!(comment.contains("> [!WARNING]\n> **1 user(s) will be deactivated or frozen**"));
        assert!(comment.contains("+  salesforce_user \"user00000@contoso.com\" {"));
        assert!(comment.contains("-  salesforce_user \"user00001@contoso.com\" {"));
    }
}
