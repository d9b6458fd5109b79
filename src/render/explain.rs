//! `roster explain` for people: the planner's view of one user, section by section.

use std::fmt::Write as _;

use crate::plan::{Explanation, NotRead};

/// The explanation as text.
pub(crate) fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} (Entra object id {})\n", e.key, e.source_id);
    scope(&mut out, e);
    matching(&mut out, e);
    fields(&mut out, e);
    roles(&mut out, e);
    out.push('\n');
    if let Some(refused) = &e.plan_refused {
        let _ = writeln!(out, "Plan refused, so no user is changed: {refused}");
        return out;
    }
    match (&e.change, &e.problem) {
        (Some(change), _) => {
            out.push_str("Plan:\n");
            super::text::change(&mut out, change, false);
            for giver in &e.written_after {
                let _ = writeln!(
                    out,
                    "  Salesforce refuses this write until {giver}'s update, which gives up a \
                     unique value it takes, is written: apply writes that first, or sends this \
                     one again once it is."
                );
            }
        }
        (None, Some(problem)) => {
            let _ = writeln!(out, "Plan: not acted on: {}", problem.reason);
        }
        (None, None) => out.push_str("Plan: no change for this user.\n"),
    }
    out
}

/// A user roster did not read, as text: who they are and why they are out of scope.
pub(crate) fn not_read(n: &NotRead) -> String {
    let mut out = String::new();
    let name = n
        .display_name
        .as_deref()
        .map(|d| format!("{d}, "))
        .unwrap_or_default();
    let _ = writeln!(out, "{} ({name}Entra object id {})\n", n.key, n.source_id);
    let _ = writeln!(out, "Scope: out of scope — roster did not read this user:");
    for reason in &n.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    // A leaver's account the plan deactivates is theirs: "no change" would read as none.
    out.push_str(if n.salesforce_users.iter().any(|f| f.change.is_some()) {
        "\nPlan: nothing is created or updated for this user; the plan changes a Salesforce \
         account their matching rules find, below.\n"
    } else {
        "\nPlan: no change for this user.\n"
    });
    if let Some(error) = &n.matching_error {
        let _ = writeln!(
            out,
            "\nNot every matching rule can be evaluated for them — {error} — so an account that \
             rule would find is not listed below."
        );
    }
    for found in &n.salesforce_users {
        // Linked to someone else (their anchor or UPN on it): said, as the change is theirs.
        let linked = found
            .linked_to
            .as_ref()
            .map(|key| format!("; it is linked to the Entra user {key}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\nTheir matching rule {} finds the Salesforce user {} ({}{}), which roster does not \
             link to a user it did not read{linked}:",
            found.found_by,
            found.username,
            found.id,
            if found.is_active { "" } else { ", inactive" }
        );
        match (&found.change, &found.held_back) {
            (Some(change), held_back) => {
                super::text::change(&mut out, change, false);
                if let Some(why) = held_back {
                    let _ = writeln!(out, "  but {why}.");
                }
            }
            (None, Some(why)) => {
                let _ = writeln!(out, "  no change for it: {why}.");
            }
            (None, None) => out.push_str("  no change for it.\n"),
        }
    }
    out
}

fn scope(out: &mut String, e: &Explanation) {
    let _ = writeln!(
        out,
        "Scope: {} — {}",
        if e.scope.in_scope {
            "in scope"
        } else {
            "out of scope"
        },
        e.scope.reason
    );
    let _ = writeln!(
        out,
        "  app roles: {}",
        if e.scope.app_roles.is_empty() {
            "none (Default Access or unassigned)".to_owned()
        } else {
            e.scope.app_roles.join(", ")
        }
    );
    for filter in &e.scope.filters {
        let _ = writeln!(out, "  {}:", filter.name);
        for c in &filter.clauses {
            let _ = writeln!(
                out,
                "    {} {}",
                if c.holds { "true " } else { "false" },
                c.clause
            );
        }
    }
}

fn matching(out: &mut String, e: &Explanation) {
    out.push_str("\nMatching (in order):\n");
    for a in &e.matching.attempts {
        let _ = match (&a.value, &a.error) {
            (Some(value), _) => writeln!(
                out,
                "  rule {}: {} = {}: {} Salesforce user(s){}",
                a.rule,
                a.field,
                super::Quoted(value),
                a.found,
                if a.anothers.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", and {} whose anchor holds another person's value",
                        a.anothers
                            .iter()
                            .map(|u| crate::render::visible(u))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            (None, Some(error)) => writeln!(
                out,
                "  rule {}: {} <- {}: error: {error}",
                a.rule, a.field, a.expression
            ),
            (None, None) => writeln!(
                out,
                "  rule {}: {} <- {}: no value",
                a.rule, a.field, a.expression
            ),
        };
    }
    let _ = writeln!(out, "  result: {}\n", e.matching.result);
}

fn fields(out: &mut String, e: &Explanation) {
    let _ = writeln!(
        out,
        "Fields ({}):",
        if e.fields.creating {
            "as created"
        } else {
            "as updated"
        }
    );
    for m in &e.fields.mappings {
        let _ = if m.on_create_only {
            writeln!(out, "  {}: on_create only, not updated", m.field)
        } else {
            writeln!(
                out,
                "  {} <- {}: {}",
                m.field,
                m.from,
                m.value.as_deref().map_or_else(
                    || "null (nothing flows)".to_owned(),
                    |v| super::Quoted(v).to_string(),
                )
            )
        };
    }
    for error in &e.fields.errors {
        let _ = writeln!(out, "  error: {error}");
    }
}

fn roles(out: &mut String, e: &Explanation) {
    let rules: Vec<String> = e
        .roles
        .rules
        .iter()
        .map(|i| format!("roles rule {i}"))
        .collect();
    let _ = writeln!(
        out,
        "\nRoles: {}",
        if rules.is_empty() {
            "no rule matches".to_owned()
        } else {
            rules.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "  profile: {}",
        e.roles.profile.as_deref().unwrap_or("none")
    );
    if let Some(role) = &e.roles.role {
        let _ = writeln!(out, "  role: {role}");
    }
    if e.roles.grants.is_empty() {
        let _ = writeln!(out, "  grants: none");
    }
    for g in &e.roles.grants {
        let _ = writeln!(
            out,
            "  {} {} (rule {})",
            g.kind.replace('_', " ").replace("license", "licence"),
            g.name,
            g.rule
        );
    }
    for error in &e.roles.errors {
        let _ = writeln!(out, "  error: {error}");
    }
}
