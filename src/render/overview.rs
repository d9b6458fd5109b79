//! A big plan's overview, before the per-user detail: how many users each reason touches, and
//! how many updates change each attribute or permission set. A reviewer of 3,000 changes reads
//! "2,950 × Department" and "40 × out of scope: disabled in Entra" before any single user.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::plan::{Action, Change, Plan, Situation};

/// From this many changes on, text and markdown open with the overview.
pub(crate) const BIG: usize = 20;

/// Counts by reason and by attribute, largest first (ties by name).
pub(crate) struct Overview {
    /// (reason, users).
    pub(crate) reasons: Vec<(String, usize)>,
    /// (attribute or `+`/`-` permission set, updates and reactivations changing it).
    pub(crate) attributes: Vec<(String, usize)>,
}

/// The overview of a plan of at least `BIG` changes.
pub(crate) fn of(plan: &Plan) -> Option<Overview> {
    if plan.changes.len() < BIG {
        return None;
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut attributes: BTreeMap<String, usize> = BTreeMap::new();
    for change in &plan.changes {
        *reasons.entry(reason(change)).or_default() += 1;
        if matches!(change.action, Action::Update | Action::Reactivate) {
            for field in change.after.keys() {
                *attributes.entry(field.to_string()).or_default() += 1;
            }
            for g in &change.grants.add {
                *attributes.entry(format!("+ {g}")).or_default() += 1;
            }
            for g in &change.grants.remove {
                *attributes.entry(format!("- {g}")).or_default() += 1;
            }
        }
    }
    Some(Overview {
        reasons: largest_first(reasons),
        attributes: largest_first(attributes),
    })
}

fn largest_first(counts: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// A change's reason without what is particular to its user: the situation, and for users out
/// of scope or orphaned the rule that put them there (the reason up to its details in
/// parentheses).
fn reason(change: &Change) -> String {
    match (change.situation, change.action) {
        (Situation::Unmatched, _) => "unmatched: no Salesforce user matched".to_owned(),
        (Situation::Linked, Action::Reactivate) => "linked, inactive in Salesforce".to_owned(),
        (Situation::Linked | Situation::Disputed, _) => {
            "linked, Salesforce differs from the configuration".to_owned()
        }
        (Situation::Orphaned, _) => "orphaned: owned, and no Entra user links to it".to_owned(),
        (Situation::OutOfScope, _) => change
            .reason
            .split(" (")
            .next()
            .unwrap_or(&change.reason)
            .to_owned(),
    }
}

/// The overview as plain text lines: two aligned tables, aligned by the columns a terminal
/// gives each name (`unicode-width`: a CJK character takes two, a combining mark none), since
/// a scoping filter's name in a reason is the config's own text.
pub(crate) fn text(overview: &Overview, changes: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr as _;
    let width = overview
        .reasons
        .iter()
        .chain(&overview.attributes)
        .map(|(name, _)| name.width())
        .max()
        .unwrap_or(0)
        .max(36);
    let padded = |name: &str| format!("{name}{}", " ".repeat(width - name.width()));
    let mut out = vec![format!("Overview of {changes} changes:"), String::new()];
    let mut table = |title: &str, rows: &[(String, usize)]| {
        if rows.is_empty() {
            return;
        }
        out.push(format!("  {}  users", padded(title)));
        for (name, n) in rows {
            out.push(format!("  {}  {n:>5}", padded(name)));
        }
        out.push(String::new());
    };
    table("By reason", &overview.reasons);
    table("Changed by updates", &overview.attributes);
    out
}

/// The overview as two markdown tables.
pub(crate) fn markdown(overview: &Overview) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::new();
    for (title, rows) in [
        ("Reason", &overview.reasons),
        ("Changed by updates", &overview.attributes),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "| {title} | Users |\n|---|---:|");
        for (name, n) in rows {
            let _ = writeln!(out, "| {} | {n} |", cell(name));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    /// Counts line up in one column however wide the names' characters are on a terminal: a
    /// scoping filter named in Japanese takes two columns a character.
    #[test]
    fn counts_line_up_whatever_the_names_characters() {
        use unicode_width::UnicodeWidthStr as _;
        let overview = super::Overview {
            reasons: vec![
                (
                    "out of scope: scoping filter 営業部の社員だけ".to_owned(),
                    3,
                ),
                ("unmatched: no Salesforce user matched".to_owned(), 20),
                ("out of scope: café\u{301}".to_owned(), 1),
            ],
            attributes: vec![("Department".to_owned(), 2)],
        };
        let lines = super::text(&overview, 24);
        let ends: Vec<usize> = lines
            .iter()
            .filter(|l| l.starts_with("  "))
            .map(|l| l.width())
            .collect();
        assert_eq!(ends.len(), 6, "{lines:#?}");
        assert!(ends.iter().all(|&e| e == ends[0]), "{lines:#?}");
    }
}
