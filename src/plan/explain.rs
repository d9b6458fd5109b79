//! `roster explain`: how the planner sees one source user, step by step — the scope decision
//! with each filter clause's result, the matching attempts in order, each field's mapping and
//! value, and the role rules that fired.

use super::Inputs;
use super::mapping::roles;
use super::matching::{Link, link, match_index};
use super::reconcile::State;
use crate::config::Config;
use crate::model::{SourceSnapshot, TargetSnapshot};

/// `roster explain`: how the planner sees one source user, by UPN or object id, and the whole
/// plan (computed from the same state, so the world is planned once). `None` when the source
/// snapshot does not hold the user.
#[allow(
    clippy::too_many_lines,
    reason = "one section after another, in the order a reader follows them"
)]
pub(crate) fn explain(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
    who: &str,
) -> Option<(Vec<String>, super::Plan)> {
    let state = State::new(config, source, target, inputs);
    let i = state
        .users
        .iter()
        .position(|u| u.id.eq_ignore_ascii_case(who) || u.key.eq_ignore_ascii_case(who))?;
    let user = &state.users[i];
    let decision = &super::scope::decide(config, user, true);
    let mut lines = vec![format!("{} (Entra object id {})", user.key, user.id)];
    lines.push(String::new());
    lines.push(format!(
        "Scope: {} — {}",
        if decision.in_scope {
            "in scope"
        } else {
            "out of scope"
        },
        decision.reason
    ));
    let roles_held: Vec<&str> = user.roles.iter().copied().collect();
    lines.push(format!(
        "  app roles: {}",
        if roles_held.is_empty() {
            "none (Default Access or unassigned)".to_owned()
        } else {
            roles_held.join(", ")
        }
    ));
    for (name, clauses) in &decision.clauses {
        lines.push(format!("  {name}:"));
        for (clause, ok) in clauses {
            lines.push(format!(
                "    {} {clause}",
                if *ok { "true " } else { "false" }
            ));
        }
    }
    lines.push(String::new());
    lines.push("Matching (in order):".to_owned());
    let mut attempts = Vec::new();
    let suffix = config.safety.sandbox_email_suffix.as_str();
    let index = match_index(&state.compiled, target, suffix);
    let _ = link(
        &state.compiled,
        &index,
        target,
        user,
        &state.context(),
        suffix,
        Some(&mut attempts),
    );
    lines.extend(attempts.into_iter().map(|a| format!("  {a}")));
    lines.push(format!(
        "  result: {}",
        match &state.links[i] {
            Link::Linked { target: t, by } => format!(
                "linked by {by} to {} ({})",
                target.users[*t].username.clone(),
                target.users[*t].id
            ),
            Link::Unmatched { .. } => "unmatched".to_owned(),
            Link::Disputed(reason, _) => reason.clone(),
        }
    ));
    lines.push(String::new());
    let creating = matches!(state.links[i], Link::Unmatched { .. });
    lines.push(format!(
        "Fields ({}):",
        if creating { "as created" } else { "as updated" }
    ));
    let wanted = state.desired(user, creating, true);
    lines.extend(wanted.lines.iter().map(|l| format!("  {l}")));
    lines.extend(wanted.errors.iter().map(|e| format!("  error: {e}")));
    lines.push(String::new());
    let roles = roles(config, &state.org, user, &state.context());
    lines.push(format!(
        "Roles: {}",
        if roles.fired.is_empty() {
            "no rule matches".to_owned()
        } else {
            roles
                .fired
                .iter()
                .map(|i| format!("roles rule {}", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    lines.push(format!(
        "  profile: {}",
        roles.profile.as_ref().map_or("none", |p| p.0.as_str())
    ));
    if let Some((role, _)) = &roles.role {
        lines.push(format!("  role: {role}"));
    }
    let sets: Vec<&str> = roles.sets.iter().map(|s| s.0.as_str()).collect();
    lines.push(format!(
        "  permission sets: {}",
        if sets.is_empty() {
            "none".to_owned()
        } else {
            sets.join(", ")
        }
    ));
    lines.extend(roles.errors.iter().map(|e| format!("  error: {e}")));
    Some((lines, super::planned(&state, source)))
}
