//! The plan in Terraform's grammar: a header comment per user, its reason, `+`/`~`/`-` lines
//! with keys aligned, `old -> new`, hidden unchanged attributes, and one `Plan:` line.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use crate::plan::{Action, Change, Plan, ProblemKind};

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

/// A value as the plan shows it: strings quoted, ids with their names.
fn show(value: &Value, change: &Change) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => match change.labels.get(s) {
            Some(name) => format!("{name:?} ({s})"),
            None => format!("{s:?}"),
        },
        other => other.to_string(),
    }
}

/// The `Plan: ...` line, or the no-changes sentence.
pub(crate) fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    if s.changes() == 0 {
        return "No changes. Salesforce matches the configuration.".to_owned();
    }
    let mut parts = vec![
        format!("{} to create", s.create),
        format!("{} to update", s.update),
    ];
    if s.reactivate > 0 {
        parts.push(format!("{} to reactivate", s.reactivate));
    }
    parts.push(format!("{} to deactivate", s.deactivate));
    if s.freeze > 0 {
        parts.push(format!("{} to freeze", s.freeze));
    }
    format!("Plan: {}.", parts.join(", "))
}

/// One user's block.
pub(crate) fn change(out: &mut String, change: &Change, color: bool) {
    let (sym, st) = symbol(change.action);
    let (st, reset) = if color {
        (format!("{st}"), format!("{st:#}"))
    } else {
        (String::new(), String::new())
    };
    let bold = if color {
        format!("{}", Style::new().bold())
    } else {
        String::new()
    };
    let unbold = if color {
        format!("{:#}", Style::new().bold())
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  {bold}# salesforce_user[{:?}] {}{unbold}",
        change.key,
        verb(change.action)
    );
    let _ = writeln!(out, "  # ({})", change.reason);
    let _ = writeln!(
        out,
        "{st}  {sym}{reset} salesforce_user {:?} {{",
        change.key
    );
    let sets = !change.permission_sets.is_empty();
    let width = change
        .after
        .keys()
        .map(|k| k.len())
        .chain(sets.then_some("permission_sets".len()))
        .max()
        .unwrap_or(0);
    for (field, after) in &change.after {
        let line = match (change.action, change.before.get(field)) {
            (Action::Create, _) | (_, None) => show(after, change),
            (_, Some(before)) => format!("{} -> {}", show(before, change), show(after, change)),
        };
        let _ = writeln!(out, "{st}      {sym}{reset} {field:<width$} = {line}");
    }
    if sets {
        let added: Vec<String> = change
            .permission_sets
            .add
            .iter()
            .map(|p| format!("{:?}", p.name))
            .collect();
        if change.action == Action::Create {
            let _ = writeln!(
                out,
                "{st}      {sym}{reset} {:<width$} = [{}]",
                "permission_sets",
                added.join(", ")
            );
        } else {
            let _ = writeln!(out, "{st}      ~{reset} {:<width$} = [", "permission_sets");
            for name in &added {
                let _ = writeln!(
                    out,
                    "{}          +{} {name},",
                    style_of(color, AnsiColor::Green),
                    end(color)
                );
            }
            for p in &change.permission_sets.remove {
                let _ = writeln!(
                    out,
                    "{}          -{} {:?},",
                    style_of(color, AnsiColor::Red),
                    end(color),
                    p.name
                );
            }
            let _ = writeln!(out, "        ]");
        }
    }
    match change.unchanged {
        0 => {}
        1 => {
            let _ = writeln!(out, "        # (1 unchanged attribute hidden)");
        }
        n => {
            let _ = writeln!(out, "        # ({n} unchanged attributes hidden)");
        }
    }
    let _ = writeln!(out, "    }}");
}

fn style_of(color: bool, c: AnsiColor) -> String {
    if color {
        format!("{}", style(c))
    } else {
        String::new()
    }
}

fn end(color: bool) -> String {
    if color {
        format!("{:#}", Style::new())
    } else {
        String::new()
    }
}

/// The whole plan.
pub(crate) fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if let Some(refused) = &plan.refused {
        let _ = writeln!(out, "Plan refused: {refused}");
        return out;
    }
    if !plan.targeted.is_empty() {
        let _ = writeln!(
            out,
            "Warning: this plan is limited to --target {}; changes to other users are not shown, \
             and applying it leaves the rest of Salesforce out of step with the configuration.\n",
            plan.targeted.join(", ")
        );
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "Warning: {warning}");
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    if !plan.changes.is_empty() {
        out.push_str("roster will perform the following actions:\n\n");
        for c in &plan.changes {
            change(&mut out, c, color);
            out.push('\n');
        }
    }
    if !plan.errors.is_empty() {
        let _ = writeln!(
            out,
            "roster will not act on these users until they are fixed ({} error(s), {} conflict(s)):\n",
            plan.summary.errors, plan.summary.conflicts
        );
        for problem in &plan.errors {
            let kind = match problem.kind {
                ProblemKind::Error => "error",
                ProblemKind::Conflict => "conflict",
            };
            let _ = writeln!(
                out,
                "  ! salesforce_user[{:?}]: {kind}: {}",
                problem.key, problem.reason
            );
        }
        out.push('\n');
    }
    let bold = if color {
        format!("{}", Style::new().bold())
    } else {
        String::new()
    };
    let unbold = if color {
        format!("{:#}", Style::new().bold())
    } else {
        String::new()
    };
    let _ = writeln!(out, "{bold}{}{unbold}", summary_line(plan));
    if plan.safety.exceeded {
        let _ = writeln!(
            out,
            "\nSafety: {} deactivations exceed safety.max_deactivations ({}): `roster apply` refuses \
             this plan unless given --allow-deactivations {}.",
            plan.safety.deactivations, plan.safety.max_deactivations, plan.safety.deactivations
        );
    }
    out
}
