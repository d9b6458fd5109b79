//! The plan in Terraform's grammar: a header comment per user, its reason, `+`/`~`/`-` lines
//! with keys aligned, `old -> new`, hidden unchanged attributes, and one `Plan:` line.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::Quoted;
use crate::field_value::FieldValue;
use crate::grants::GrantKind;
use crate::plan::{Action, Cause, Change, Plan, ProblemKind};

fn style(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(color.into()))
}

fn symbol(action: Action) -> (&'static str, Style) {
    match action {
        Action::Create => ("+", style(AnsiColor::Green)),
        Action::Update | Action::Reactivate => ("~", style(AnsiColor::Yellow)),
        Action::Deactivate | Action::Freeze => ("-", style(AnsiColor::Red)),
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Reactivate => "will be reactivated",
        Action::Deactivate => "will be deactivated",
        Action::Freeze => "will be frozen",
    }
}

/// Strings longer than this (in characters) change word by word, not as `old -> new`.
const LONG: usize = 60;

/// How a changed string is best shown when `old -> new` would hide the change.
#[derive(Debug, PartialEq, Eq)]
enum Diffed {
    /// One line with the removed words as `[-old-]` and the added ones as `{+new+}`.
    Words(String),
    /// Every line of a multi-line value, each marked `-`, `+` or ` `.
    Lines(Vec<(char, String)>),
}

/// The diff of a changed string: by line when either side has several lines, by word when
/// either is long, none otherwise.
fn diffed(before: &str, after: &str) -> Option<Diffed> {
    use similar::{ChangeTag, TextDiff};
    if before.contains('\n') || after.contains('\n') {
        let lines = TextDiff::from_lines(before, after)
            .iter_all_changes()
            .map(|c| {
                let mark = match c.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                (mark, c.value().trim_end_matches(['\n', '\r']).to_owned())
            })
            .collect();
        return Some(Diffed::Lines(lines));
    }
    if before.chars().count().max(after.chars().count()) <= LONG {
        return None;
    }
    // Runs of one kind, then changes separated only by spaces merged into one `[-..-]{+..+}`.
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for c in TextDiff::from_words(before, after).iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == c.tag() => text.push_str(c.value()),
            _ => runs.push((c.tag(), c.value().to_owned())),
        }
    }
    let mut text = String::new();
    let (mut removed, mut added) = (String::new(), String::new());
    let flush = |text: &mut String, removed: &mut String, added: &mut String| {
        // A side holding only the spaces merged into it changed nothing.
        if !removed.trim().is_empty() {
            let _ = write!(text, "[-{removed}-]");
        }
        if !added.trim().is_empty() {
            let _ = write!(text, "{{+{added}+}}");
        }
        removed.clear();
        added.clear();
    };
    for (i, (tag, run)) in runs.iter().enumerate() {
        let inside = !removed.is_empty() || !added.is_empty();
        match tag {
            ChangeTag::Delete => removed.push_str(run),
            ChangeTag::Insert => added.push_str(run),
            ChangeTag::Equal
                if inside
                    && run.trim().is_empty()
                    && runs.get(i + 1).is_some_and(|(t, _)| *t != ChangeTag::Equal) =>
            {
                removed.push_str(run);
                added.push_str(run);
            }
            ChangeTag::Equal => {
                flush(&mut text, &mut removed, &mut added);
                text.push_str(run);
            }
        }
    }
    flush(&mut text, &mut removed, &mut added);
    Some(Diffed::Words(text))
}

/// A value as the plan shows it: strings quoted, ids with their names.
fn show(value: &FieldValue, change: &Change) -> String {
    match value {
        FieldValue::Null => "null".to_owned(),
        FieldValue::Text(s) => {
            let mut shown = String::with_capacity(s.len() + 2);
            match change.labels.get(s) {
                Some(name) => {
                    super::push_quoted(&mut shown, name);
                    let _ = write!(shown, " ({s})");
                }
                None => super::push_quoted(&mut shown, s),
            }
            shown
        }
        other => other.to_string(),
    }
}

/// `{name:<width$} = {value}`, made without the formatter (which pads a character at a time):
/// a text plan of 100,000 creates has some 1.5 million such lines.
fn assigned(name: &str, width: usize, value: &str) -> String {
    let pad = width.saturating_sub(name.chars().count());
    let mut line = String::with_capacity(name.len() + pad + 3 + value.len());
    line.push_str(name);
    line.extend(std::iter::repeat_n(' ', pad));
    line.push_str(" = ");
    line.push_str(value);
    line
}

/// `before`, `value` as `Quoted` shows it, `after`: made without the formatter, as `assigned`
/// is (each user's block starts with two such lines).
fn quoted_between(before: &str, value: &str, after: &str) -> String {
    let mut line = String::with_capacity(before.len() + value.len() + 2 + after.len());
    line.push_str(before);
    super::push_quoted(&mut line, value);
    line.push_str(after);
    line
}

/// `after` shown as `before` is typed: the plan holds a checkbox's or a number's new value as
/// the text it writes (`"true"`), Salesforce's current one typed (`false`); `false -> "true"`
/// would read as a change of type, so such a text is shown bare (`false -> true`).
fn show_like(after: &FieldValue, before: &FieldValue, change: &Change) -> String {
    match (before, after.as_str()) {
        (FieldValue::Bool(_), Some(text)) if text.eq_ignore_ascii_case("true") => "true".to_owned(),
        (FieldValue::Bool(_), Some(text)) if text.eq_ignore_ascii_case("false") => {
            "false".to_owned()
        }
        (FieldValue::Other(number), Some(text))
            if number.is_number() && text.parse::<f64>().is_ok_and(f64::is_finite) =>
        {
            text.to_owned()
        }
        _ => show(after, change),
    }
}

/// The `Plan: ...` line, or the no-changes sentence (`Summary::headline`).
pub(crate) fn summary_line(plan: &Plan) -> String {
    plan.summary.headline()
}

/// One line of a rendered plan: its indentation, its change mark (`+`, `~`, `-`) if any, the
/// style of the mark (or, unmarked, of the whole text), and the text after it. Text and
/// markdown both print these, so markdown never has to read text back.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    indent: usize,
    mark: Option<char>,
    style: Style,
    text: String,
}

impl Line {
    /// Every line's text is `visible`: what Entra or Salesforce put in it shows, and acts on
    /// neither the terminal nor the lines after it.
    fn plain(indent: usize, text: impl Into<String>) -> Line {
        Line {
            indent,
            mark: None,
            style: Style::new(),
            text: super::visible_string(text.into()),
        }
    }

    fn styled(indent: usize, style: Style, text: impl Into<String>) -> Line {
        Line {
            style,
            ..Line::plain(indent, text)
        }
    }

    fn marked(indent: usize, mark: char, style: Style, text: impl Into<String>) -> Line {
        Line {
            mark: Some(mark),
            style,
            ..Line::plain(indent, text)
        }
    }

    /// As a terminal shows it.
    pub(crate) fn to_text(&self, color: bool) -> String {
        self.as_text(color).to_string()
    }

    /// As a terminal shows it, to be written where it goes without a string of its own: a
    /// 100,000-user plan has some 1.5 million lines.
    pub(crate) fn as_text(&self, color: bool) -> AsText<'_> {
        AsText { line: self, color }
    }

    /// Writes the line as `as_text` shows it without colour, and a line break, without the
    /// formatter: the indentation, the mark and a space, the text.
    pub(crate) fn write_plain(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        const SPACES: &[u8; 16] = b"                ";
        let mut indent = self.indent;
        while indent > 0 {
            let n = indent.min(SPACES.len());
            out.write_all(&SPACES[..n])?;
            indent -= n;
        }
        if let Some(mark) = self.mark {
            let mut bytes = [0u8; 4];
            out.write_all(mark.encode_utf8(&mut bytes).as_bytes())?;
            out.write_all(b" ")?;
        }
        out.write_all(self.text.as_bytes())?;
        out.write_all(b"\n")
    }

    /// As a `diff` block shows it: the mark in the first column (`~` as `!`), where diff
    /// highlighting looks for it.
    pub(crate) fn to_diff(&self) -> String {
        match self.mark {
            Some(mark) => format!(
                "{}{} {}",
                if mark == '~' { '!' } else { mark },
                " ".repeat(self.indent.saturating_sub(1)),
                self.text
            ),
            None => format!("{}{}", " ".repeat(self.indent), self.text),
        }
    }
}

/// A `Line` as a terminal shows it (`Line::as_text`): the indentation, then the mark in its
/// style and the text, or the whole text in its style.
pub(crate) struct AsText<'l> {
    line: &'l Line,
    color: bool,
}

impl std::fmt::Display for AsText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Line {
            indent,
            mark,
            style,
            text,
        } = self.line;
        // Without colour the style writes nothing; with it, its codes and the reset.
        let (on, off) = if self.color {
            (*style, *style)
        } else {
            (Style::new(), Style::new())
        };
        match mark {
            Some(mark) => write!(f, "{on}{:indent$}{mark}{off:#} {text}", ""),
            None => write!(f, "{:indent$}{on}{text}{off:#}", ""),
        }
    }
}

/// One user's block, as text.
pub(crate) fn change(out: &mut String, change: &Change, color: bool) {
    change_lines(
        &mut Lines {
            emit: &mut |line: Line| {
                out.push_str(&line.to_text(color));
                out.push('\n');
            },
        },
        change,
    );
}

/// One user's block.
fn change_lines(out: &mut Lines<'_>, change: &Change) {
    let (sym, st) = symbol(change.action);
    let sym = sym.chars().next().unwrap_or('~');
    let mut title = quoted_between("# salesforce_user[", &change.key, "] ");
    title.push_str(verb(change.action));
    out.push(Line::styled(2, Style::new().bold(), title));
    out.push(Line::plain(2, ["# (", &change.reason, ")"].concat()));
    if !change.pending_fields.is_empty() {
        out.push(Line::plain(
            2,
            format!(
                "# (pending regardless of this change to roster.yaml: {})",
                change.pending_fields.join(", ")
            ),
        ));
    }
    out.push(Line::marked(
        2,
        sym,
        st,
        quoted_between("salesforce_user ", &change.key, " {"),
    ));
    let kinds: Vec<GrantKind> = GrantKind::ALL
        .into_iter()
        .filter(|k| {
            change
                .grants
                .add
                .iter()
                .chain(&change.grants.remove)
                .any(|g| g.kind == *k)
        })
        .collect();
    let width = change
        .after
        .keys()
        .map(|k| k.len())
        .chain(kinds.iter().map(|k| k.spec().rule_key.len()))
        .max()
        .unwrap_or(0);
    for (field, after) in &change.after {
        let before = change.before.get(field);
        let line = match (change.action, before) {
            (Action::Create, _) | (_, None) => show(after, change),
            (_, Some(before)) => {
                let strings = before.as_str().zip(after.as_str());
                match strings.and_then(|(b, a)| diffed(b, a)) {
                    Some(Diffed::Words(text)) => Quoted(&text).to_string(),
                    Some(Diffed::Lines(lines)) => {
                        out.push(Line::marked(
                            6,
                            sym,
                            st,
                            format!("{field:<width$} = <<-EOT"),
                        ));
                        for (mark, line) in lines {
                            out.push(match mark {
                                '-' => Line::marked(10, '-', style(AnsiColor::Red), line),
                                '+' => Line::marked(10, '+', style(AnsiColor::Green), line),
                                _ => Line::plain(12, line),
                            });
                        }
                        out.push(Line::plain(8, "EOT"));
                        continue;
                    }
                    None => format!(
                        "{} -> {}",
                        show(before, change),
                        show_like(after, before, change)
                    ),
                }
            }
        };
        out.push(Line::marked(6, sym, st, assigned(field, width, &line)));
    }
    for kind in kinds {
        grants(out, change, kind, (sym, st), width);
    }
    match change.unchanged {
        0 => {}
        1 => out.push(Line::plain(8, "# (1 unchanged attribute hidden)")),
        n => out.push(Line::plain(
            8,
            format!("# ({n} unchanged attributes hidden)"),
        )),
    }
    out.push(Line::plain(4, "}"));
}

/// One kind's grants as a list attribute named by its rule key (`permission_set_groups`): a
/// line for a create, a block for an update, added `+`, removed `-`; a licence Salesforce
/// assigns along with a permission set says so.
fn grants(
    out: &mut Lines<'_>,
    change: &Change,
    kind: GrantKind,
    (sym, st): (char, Style),
    width: usize,
) {
    let key = kind.spec().rule_key;
    // In a list, the comma follows the name, before any comment.
    let listed = |g: &crate::plan::GrantRef| match &g.implied_by {
        Some(set) => format!("{}, # with permission set {set}", Quoted(&g.name)),
        None => format!("{},", Quoted(&g.name)),
    };
    let shown = |g: &crate::plan::GrantRef| Quoted(&g.name).to_string();
    let added: Vec<&crate::plan::GrantRef> = change
        .grants
        .add
        .iter()
        .filter(|g| g.kind == kind)
        .collect();
    let implied = added.iter().any(|g| g.implied_by.is_some());
    if change.action == Action::Create && !implied {
        let names: Vec<String> = added.iter().map(|g| shown(g)).collect();
        out.push(Line::marked(
            6,
            sym,
            st,
            format!("{key:<width$} = [{}]", names.join(", ")),
        ));
        return;
    }
    let (mark, st) = if change.action == Action::Create {
        (sym, st)
    } else {
        ('~', st)
    };
    out.push(Line::marked(6, mark, st, format!("{key:<width$} = [")));
    for g in added {
        out.push(Line::marked(10, '+', style(AnsiColor::Green), listed(g)));
    }
    for g in change.grants.remove.iter().filter(|g| g.kind == kind) {
        out.push(Line::marked(10, '-', style(AnsiColor::Red), listed(g)));
    }
    out.push(Line::plain(8, "]"));
}

/// The codes that start and end `style` on a terminal; nothing without colour. (The end is
/// the style's own reset: a plain style's reset renders as nothing.)
pub(crate) fn codes(color: bool, style: Style) -> (String, String) {
    if color {
        (format!("{style}"), format!("{style:#}"))
    } else {
        (String::new(), String::new())
    }
}

/// The changes, grouped by cause when the plan was compared with a baseline config.
fn changes(out: &mut Pieces<'_>, plan: &Plan) {
    let blank = |out: &mut Pieces<'_>| out.push(Line::plain(0, ""));
    if !plan.changes.is_empty() {
        out.push(Line::plain(0, "roster will perform the following actions:"));
        blank(out);
        if plan.baseline.is_some() {
            // The reviewer's question first: what does this change to roster.yaml do?
            for (cause, title) in [
                (Cause::ConfigChange, "Caused by this change to roster.yaml"),
                (
                    Cause::Pending,
                    "Pending regardless (Entra changes, Salesforce drift)",
                ),
            ] {
                let group: Vec<&Change> = plan
                    .changes
                    .iter()
                    .filter(|c| c.cause == Some(cause))
                    .collect();
                out.push(Line::styled(
                    0,
                    Style::new().bold(),
                    format!("{title} ({}):", group.len()),
                ));
                blank(out);
                (out.emit)(Piece::Changes(&group));
            }
        } else {
            let all: Vec<&Change> = plan.changes.iter().collect();
            (out.emit)(Piece::Changes(&all));
        }
    }
    if let Some(baseline) = plan
        .baseline
        .as_ref()
        .filter(|b| !b.no_longer_changed.is_empty())
    {
        out.push(Line::plain(
            0,
            format!(
                "No longer changed with this change to roster.yaml ({}): {}",
                baseline.no_longer_changed.len(),
                baseline.no_longer_changed.join(", ")
            ),
        ));
        blank(out);
    }
}

/// The application's app roles to change (`roles.app_roles`), each as a resource block.
fn app_roles(out: &mut Pieces<'_>, plan: &Plan) {
    use crate::plan::AppRoleAction;
    for role in &plan.app_roles {
        let (mark, colour, verb) = match role.action {
            AppRoleAction::Add => ('+', AnsiColor::Green, "will be added"),
            AppRoleAction::Update => ('~', AnsiColor::Yellow, "will be updated in-place"),
            AppRoleAction::Disable => ('~', AnsiColor::Yellow, "will be disabled"),
            AppRoleAction::Remove => ('-', AnsiColor::Red, "will be removed"),
        };
        let assigned = match role.assignments {
            0 => String::new(),
            1 => "; 1 assignment".to_owned(),
            n => format!("; {n} assignments"),
        };
        out.push(Line::plain(
            2,
            format!(
                "# entra_app_role[{}] {verb} ({}{assigned})",
                Quoted(role.name()),
                role.reason
            ),
        ));
        out.push(Line::marked(
            2,
            mark,
            style(colour),
            format!("entra_app_role {} {{", Quoted(role.name())),
        ));
        let show = |v: Option<&str>| v.map_or_else(|| "null".to_owned(), |v| Quoted(v).to_string());
        let fields: [(&str, Option<String>, Option<String>); 3] = [
            (
                "displayName",
                role.before
                    .as_ref()
                    .map(|r| Quoted(&r.display_name).to_string()),
                role.after
                    .as_ref()
                    .map(|r| Quoted(&r.display_name).to_string()),
            ),
            (
                "value",
                role.before.as_ref().map(|r| show(r.value.as_deref())),
                role.after.as_ref().map(|r| show(r.value.as_deref())),
            ),
            (
                "isEnabled",
                role.before.as_ref().map(|r| r.is_enabled.to_string()),
                role.after.as_ref().map(|r| r.is_enabled.to_string()),
            ),
        ];
        for (name, before, after) in fields {
            match (before, after) {
                (None, Some(after)) => out.push(Line::marked(
                    6,
                    '+',
                    style(AnsiColor::Green),
                    format!("{name:<11} = {after}"),
                )),
                (Some(before), None) => out.push(Line::marked(
                    6,
                    '-',
                    style(AnsiColor::Red),
                    format!("{name:<11} = {before}"),
                )),
                (Some(before), Some(after)) if before != after => out.push(Line::marked(
                    6,
                    '~',
                    style(AnsiColor::Yellow),
                    format!("{name:<11} = {before} -> {after}"),
                )),
                _ => {}
            }
        }
        out.push(Line::plain(4, "}"));
        out.push(Line::plain(0, ""));
    }
}

/// Where the lines of a user's block go as they are made.
pub(crate) struct Lines<'a> {
    emit: &'a mut dyn FnMut(Line),
}

impl Lines<'_> {
    fn push(&mut self, line: Line) {
        (self.emit)(line);
    }
}

/// What the whole plan is made of, in order (`each_piece`): lines, and runs of users' blocks.
pub(crate) enum Piece<'p> {
    Line(Line),
    /// Each change's block and a blank line after it (`blocks`): a plan of 100,000 creates is
    /// some two million lines here, which a writer may render on several threads.
    Changes(&'p [&'p Change]),
}

/// Where the pieces of a plan go as they are made: written out at once when rendering (never
/// held together), or collected.
struct Pieces<'a> {
    emit: &'a mut dyn FnMut(Piece<'_>),
}

impl Pieces<'_> {
    fn push(&mut self, line: Line) {
        (self.emit)(Piece::Line(line));
    }
}

/// `changes`' blocks, each followed by a blank line, line by line to `emit`.
pub(crate) fn blocks(changes: &[&Change], emit: &mut dyn FnMut(Line)) {
    let out = &mut Lines { emit };
    for change in changes {
        change_lines(out, change);
        out.push(Line::plain(0, ""));
    }
}

/// The users roster will not act on (errors and conflicts) and those a mapping skips.
fn not_acted_on(out: &mut Pieces<'_>, plan: &Plan) {
    let section = |out: &mut Pieces<'_>, heading: String, users: Vec<(char, &str, String)>| {
        if users.is_empty() {
            return;
        }
        out.push(Line::plain(0, heading));
        out.push(Line::plain(0, ""));
        for (mark, key, what) in users {
            let line = format!("{mark} salesforce_user[{}]: {what}", Quoted(key));
            out.push(Line::plain(2, line));
        }
        out.push(Line::plain(0, ""));
    };
    let errors = plan.errors.iter().map(|problem| {
        let kind = match problem.kind {
            ProblemKind::Error => "error",
            ProblemKind::Conflict => "conflict",
            ProblemKind::Skipped => "skipped",
        };
        (
            '!',
            problem.key.as_str(),
            format!("{kind}: {}", problem.reason),
        )
    });
    section(
        out,
        format!(
            "roster will not act on these users until they are fixed ({} error(s), {} \
             conflict(s)):",
            plan.summary.errors, plan.summary.conflicts
        ),
        errors.collect(),
    );
    let skipped = plan
        .skipped
        .iter()
        .map(|skipped| ('·', skipped.key.as_str(), skipped.reason.clone()));
    section(
        out,
        "roster leaves these users as they are in this run, as a mapping expression asks:"
            .to_owned(),
        skipped.collect(),
    );
}

/// The whole plan, piece by piece, each given to `emit` as it is made: warnings, users deleted
/// in Entra, each change (in runs of users' blocks, `Piece::Changes`), the users not acted on,
/// the summary and the safety verdict.
pub(crate) fn each_piece(plan: &Plan, emit: &mut dyn FnMut(Piece<'_>)) {
    let out = &mut Pieces { emit };
    let blank = |out: &mut Pieces<'_>| out.push(Line::plain(0, ""));
    if let Some(refused) = &plan.refused {
        out.push(Line::plain(0, format!("Plan refused: {refused}")));
        return;
    }
    if !plan.targeted.is_empty() {
        out.push(Line::plain(
            0,
            format!(
                "Warning: this plan is limited to --target {}; changes to other users are not \
                 shown, and applying it leaves the rest of Salesforce out of step with the \
                 configuration.",
                plan.targeted.join(", ")
            ),
        ));
        blank(out);
    }
    for warning in &plan.warnings {
        out.push(Line::plain(0, format!("Warning: {warning}")));
    }
    if !plan.warnings.is_empty() {
        blank(out);
    }
    if !plan.deleted_in_entra.is_empty() {
        out.push(Line::plain(
            0,
            format!(
                "Assigned, but deleted in Entra ({}): no Entra user links their Salesforce user \
                 any more, so it is treated as out of scope:",
                plan.deleted_in_entra.len()
            ),
        ));
        for user in &plan.deleted_in_entra {
            out.push(Line::plain(2, format!("- {}", user.shown())));
        }
        blank(out);
    }
    changes(out, plan);
    app_roles(out, plan);
    not_acted_on(out, plan);
    out.push(Line::styled(0, Style::new().bold(), summary_line(plan)));
    if plan.safety.exceeded {
        let outside = match plan.safety.outside_target {
            0 => String::new(),
            n => format!(" (with {n} more waiting outside --target)"),
        };
        blank(out);
        out.push(Line::plain(
            0,
            format!(
                "Safety: {}{outside}, more than safety.max_deactivations allows ({}): \
                 `roster apply` refuses this plan unless given --allow-deactivations {}.",
                plan.safety.what(),
                plan.safety.allowance,
                plan.safety.counted()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use super::*;
    use crate::plan::Situation;

    fn update(field: &str, before: &str, after: &str) -> Change {
        Change {
            reason: "linked by Username".into(),
            target_id: Some("005".into()),
            before: crate::plan::Fields::from([(field.into(), before.into())]),
            after: crate::plan::Fields::from([(field.into(), after.into())]),
            ..Change::new(
                Action::Update,
                "ava@contoso.com".to_owned(),
                Situation::Linked,
            )
        }
    }

    /// The lines made without the formatter are what the formatter makes: padding counted in
    /// characters, names longer than the width, values that quote, escape and act.
    #[test]
    fn lines_made_by_hand_are_what_the_formatter_writes() {
        let values = [
            "",
            "Sales",
            "say \"hi\"",
            "back\\slash",
            "\u{1b}[31mred",
            "Zoë",
            "é\u{200b}",
        ];
        for name in ["", "Title", "Überschrift", "A_Very_Long_Field_Name__c"] {
            for width in [0, 3, 5, 11, 30] {
                for value in values {
                    assert_eq!(
                        super::assigned(name, width, value),
                        format!("{name:<width$} = {value}")
                    );
                }
            }
        }
        for value in values {
            assert_eq!(
                super::quoted_between("# salesforce_user[", value, "] "),
                format!("# salesforce_user[{}] ", Quoted(value))
            );
        }
    }

    fn rendered(change: &Change) -> String {
        let mut out = String::new();
        super::change(&mut out, change, false);
        out
    }

    #[test]
    fn coloured_marks_end_their_colour() {
        let mut change = update("AboutMe", "a\nb", "a\nc");
        change.grants.add.push(crate::plan::GrantRef {
            kind: GrantKind::PermissionSet,
            name: "Sales".into(),
            id: "0PS".into(),
            assignment_id: None,
            implied_by: None,
        });
        let mut out = String::new();
        super::change(&mut out, &change, true);
        for mark in ["- b", "+ c", "+ \"Sales\","] {
            let line = out
                .lines()
                .find(|l| l.contains(&mark[2..]) && l.contains(&mark[..1]))
                .unwrap_or_else(|| panic!("{mark:?} missing in {out:?}"));
            assert!(
                line.contains("\u{1b}[0m"),
                "{line:?} never resets its colour"
            );
        }
    }

    #[test]
    fn names_in_every_script_show_as_written_and_invisible_ones_do_not_hide() {
        let out = rendered(&update("FirstName", "Anuradha", "अनुराधा"));
        assert!(
            out.contains("FirstName = \"Anuradha\" -> \"अनुराधा\""),
            "{out}"
        );
        // Decomposed (as macOS writes it): the same letters, not `\u{308}`.
        let out = rendered(&update("LastName", "Zoe", "Zoe\u{308}"));
        assert!(out.contains("-> \"Zoe\u{308}\""), "{out}");
        // A zero-width space makes two names look alike: it shows.
        let out = rendered(&update("LastName", "Ava", "A\u{200b}va"));
        assert!(out.contains("-> \"A\\u{200b}va\""), "{out}");
    }

    /// A checkbox or a number Salesforce holds typed, whose new value the plan holds as text,
    /// shows both alike; a text that is not one stays quoted.
    #[test]
    fn a_checkbox_or_a_number_shows_its_new_value_as_it_shows_the_old() {
        let typed = |field: &str, before: serde_json::Value, after: &str| {
            let mut change = update(field, "", after);
            change.before.insert(field.into(), before.into());
            rendered(&change)
        };
        let out = typed("UserPermissionsKnowledgeUser", json!(false), "True");
        assert!(
            out.contains("UserPermissionsKnowledgeUser = false -> true"),
            "{out}"
        );
        let out = typed("Level__c", json!(3.0), "4");
        assert!(out.contains("Level__c = 3.0 -> 4"), "{out}");
        let out = typed("Level__c", json!(3.0), "NaN");
        assert!(out.contains("Level__c = 3.0 -> \"NaN\""), "{out}");
        let out = typed("UserPermissionsKnowledgeUser", json!(false), "yes");
        assert!(out.contains("false -> \"yes\""), "{out}");
    }

    #[test]
    fn short_strings_show_old_and_new() {
        assert!(
            rendered(&update("Title", "Engineer", "Lead"))
                .contains(r#"Title = "Engineer" -> "Lead""#)
        );
    }

    #[test]
    fn long_strings_show_the_words_that_changed() {
        let before = "Ava Martinez | Senior Account Executive, West | Contoso Ltd. | +1 555 0100";
        let after = "Ava Martinez | Sales Director, West | Contoso Ltd. | +1 555 0100";
        assert!(
            rendered(&update("Signature", before, after)).contains(
                r#"~ Signature = "Ava Martinez | [-Senior Account Executive,-]{+Sales Director,+} West | Contoso Ltd. | +1 555 0100""#
            ),
            "{}",
            rendered(&update("Signature", before, after))
        );
    }

    #[test]
    fn words_only_removed_or_only_added_show_one_side() {
        let base = "Contoso Ltd. | Sales Operations | Building 4, Floor 2 | Redmond WA";
        let shorter = "Contoso Ltd. | Sales Operations | Redmond WA";
        let Some(Diffed::Words(text)) = diffed(base, shorter) else {
            panic!("a long string is diffed by word");
        };
        assert_eq!(
            text,
            "Contoso Ltd. | Sales Operations | [-Building 4, Floor 2 | -]Redmond WA"
        );
        let Some(Diffed::Words(text)) = diffed(shorter, base) else {
            panic!("a long string is diffed by word");
        };
        assert_eq!(
            text,
            "Contoso Ltd. | Sales Operations | {+Building 4, Floor 2 | +}Redmond WA"
        );
    }

    #[test]
    fn multi_line_strings_show_a_line_diff() {
        let out = rendered(&update(
            "AboutMe",
            "Sales, West\nJoined 2019\nLikes hiking",
            "Sales, West\nJoined 2019\nLikes climbing",
        ));
        assert!(
            out.contains(
                "      ~ AboutMe = <<-EOT\n            Sales, West\n            Joined 2019\n          - Likes hiking\n          + Likes climbing\n        EOT\n"
            ),
            "{out}"
        );
        // In the pull-request comment's diff block the marks sit in the first column.
        let mut plan = Plan::default();
        plan.summary.update = 1;
        plan.changes.push(update("AboutMe", "a\nb", "a\nc"));
        let markdown = super::super::markdown::render(&plan, false);
        assert!(
            markdown.contains("\n-          b\n+          c\n"),
            "{markdown}"
        );
    }
}
