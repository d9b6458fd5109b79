//! `roster explain`: how the planner sees one source user, step by step — the scope decision
//! with each filter clause's result, the matching attempts in order, each field's mapping and
//! value, and the role rules that fired — as data `render::explain` prints, or JSON.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use super::mapping::{FieldTrace, roles};
use super::matching::{Attempt, Link, link, match_index};
use super::reconcile::State;
use super::{Change, Inputs, Plan, Problem};
use crate::config::Config;
use crate::model::{SourceSnapshot, TargetSnapshot, UnreadUser};

/// How the planner sees one Entra user, and what the plan does with them.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(title = "roster explain")]
pub(crate) struct Explanation {
    /// The userPrincipalName.
    pub(crate) key: String,
    /// The Entra object id.
    pub(crate) source_id: String,
    pub(crate) scope: ScopeTrace,
    pub(crate) matching: MatchingTrace,
    pub(crate) fields: FieldsTrace,
    pub(crate) roles: RolesTrace,
    /// The plan's change for this user, if any.
    pub(crate) change: Option<Change>,
    /// Why the plan does not act on this user, if it does not.
    pub(crate) problem: Option<Problem>,
    /// Why the whole plan is refused, when it is: then nobody is changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plan_refused: Option<String>,
    /// What the config names that the org does not have (the plan's `config_problems`), each
    /// at a JSON pointer into the file: the command lists them at their places and exits 1, as
    /// `plan` does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) config_problems: Vec<super::ConfigProblem>,
    /// The users (by key) whose updates in this plan give up a unique value this user's change
    /// takes: Salesforce refuses this user's write until theirs is written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) written_after: Vec<String>,
}

/// The scope decision.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct ScopeTrace {
    pub(crate) in_scope: bool,
    pub(crate) reason: String,
    /// The app roles the user holds, by value.
    pub(crate) app_roles: Vec<String>,
    pub(crate) filters: Vec<FilterTrace>,
}

/// One scoping filter and its clauses' results.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct FilterTrace {
    pub(crate) name: String,
    pub(crate) clauses: Vec<ClauseTrace>,
}

/// One clause, as written, and whether it holds.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct ClauseTrace {
    pub(crate) clause: String,
    pub(crate) holds: bool,
}

/// The matching rules tried, in order, and the outcome.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct MatchingTrace {
    pub(crate) attempts: Vec<Attempt>,
    /// `linked by FIELD to USERNAME (ID)`, `unmatched`, or the dispute.
    pub(crate) result: String,
}

/// Each mapping's value, as created or as updated.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct FieldsTrace {
    /// The user would be created (no Salesforce user is linked).
    pub(crate) creating: bool,
    pub(crate) mappings: Vec<FieldTrace>,
    pub(crate) errors: Vec<String>,
}

/// The role rules that fired and what they give.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct RolesTrace {
    /// The rules that matched, numbered from 1.
    pub(crate) rules: Vec<usize>,
    pub(crate) profile: Option<String>,
    pub(crate) role: Option<String>,
    /// Every grant the rules give, with the first rule that gave it.
    pub(crate) grants: Vec<GrantTrace>,
    pub(crate) errors: Vec<String>,
}

/// One grant the role rules give a user.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct GrantTrace {
    /// `permission_set`, ..., or `feature_license`.
    pub(crate) kind: String,
    pub(crate) name: String,
    /// The rule that gave it, numbered from 1.
    pub(crate) rule: usize,
}

/// `roster explain`: how the planner sees one source user, by UPN or object id, with the
/// plan's change or problem for them (from the same state, so the world is planned once).
/// `None` when the source snapshot does not hold the user.
pub(crate) fn explain(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
    who: &str,
) -> Option<Explanation> {
    let mut state = State::new(config, source, target, inputs);
    let i = state
        .users
        .iter()
        .position(|u| u.id.eq_ignore_ascii_case(who) || u.key.eq_ignore_ascii_case(who))?;
    let user = &state.users[i];
    let decision = super::scope::decide(config, user, true);
    let scope = ScopeTrace {
        in_scope: decision.in_scope,
        reason: decision.reason,
        app_roles: user.roles().iter().map(|r| (*r).to_owned()).collect(),
        filters: decision
            .clauses
            .into_iter()
            .map(|(name, clauses)| FilterTrace {
                name,
                clauses: clauses
                    .into_iter()
                    .map(|(clause, holds)| ClauseTrace { clause, holds })
                    .collect(),
            })
            .collect(),
    };
    let mut attempts = Vec::new();
    let suffix = config.safety.sandbox_email_suffix.as_str();
    let mut index = match_index(&state.compiled, target, suffix);
    super::matching::note_read(
        &state.compiled,
        &mut index,
        &state.users,
        &state.context(),
        suffix,
    );
    let _ = link(
        &state.compiled,
        &index,
        target,
        user,
        &state.context(),
        suffix,
        &|id| state.knows(id),
        &|t| state.org.protected(config, &target.users[t]),
        Some(&mut attempts),
    );
    let result = link_result(&state, config, target, i);
    let creating = matches!(state.links[i], Link::Unmatched { .. });
    let wanted = state.desired(user, creating, true);
    let roles = roles(config, &state.resolved, user, &state.context());
    // The trace holds its own copies: planning takes the state the rules' records are in.
    let roles = RolesTrace {
        grants: grant_traces(&roles),
        rules: roles.fired.iter().map(|i| i + 1).collect(),
        profile: roles.profile.map(|p| p.0.to_string()),
        role: roles.role.map(|r| r.0.to_string()),
        errors: roles.errors,
    };
    let (key, source_id) = (user.key.to_owned(), user.id);
    let plan: Plan = super::planned(&mut state, source);
    let written_after = crate::concurrent::lock(&state.handed_over)
        .iter()
        .filter(|(taker, _)| *taker == key)
        .map(|(_, giver)| giver.clone())
        .collect();
    Some(Explanation {
        written_after,
        plan_refused: plan.refused.clone(),
        config_problems: plan.config_problems.clone(),
        change: plan
            .changes
            .into_iter()
            .find(|c| c.key.eq_ignore_ascii_case(&key)),
        problem: plan
            .errors
            .into_iter()
            .chain(plan.skipped)
            .find(|p| p.key.eq_ignore_ascii_case(&key)),
        key,
        source_id: source_id.to_owned(),
        scope,
        matching: MatchingTrace { attempts, result },
        fields: FieldsTrace {
            creating,
            mappings: wanted.traces,
            errors: wanted.errors,
        },
        roles,
    })
}

/// What matching made of user `i`, in the words of `Explanation::matching`'s `result`: the
/// Salesforce user it is linked to and by which rule, with what keeps roster from acting on it
/// (inactive, frozen, protected and why), or why it is not linked.
fn link_result(state: &State<'_>, config: &Config, target: &TargetSnapshot, i: usize) -> String {
    match &state.links[i] {
        Link::Linked { target: t, by } => {
            let linked = &target.users[*t];
            let mut notes = String::new();
            if !linked.is_active {
                notes.push_str(", inactive");
            }
            if linked.is_frozen() {
                notes.push_str(", frozen");
            }
            if let Some(why) = state.org.protection(config, linked) {
                let _ = write!(
                    notes,
                    ", protected ({why}): roster never changes, deactivates or freezes it"
                );
            }
            format!(
                "linked by {by} to {} ({}){notes}",
                linked.username, linked.id
            )
        }
        Link::Unmatched { .. } => "unmatched".to_owned(),
        Link::Disputed(dispute) => dispute.0.clone(),
        Link::Undecided(reason) => reason.to_string(),
    }
}

/// Every grant the rules give, feature licences last, each with the first rule giving it.
fn grant_traces(roles: &super::mapping::Roles) -> Vec<GrantTrace> {
    roles
        .grants
        .iter()
        .map(|(kind, name, _, rule)| GrantTrace {
            kind: serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            name: name.to_string(),
            rule: rule + 1,
        })
        .chain(roles.features.iter().map(|(f, rule)| GrantTrace {
            kind: "feature_license".to_owned(),
            name: format!("{} ({})", f.name, f.label),
            rule: rule + 1,
        }))
        .collect()
}

/// Why an Entra user roster did not read is out of scope, from what Graph says about them.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(title = "roster explain (a user roster did not read)")]
pub(crate) struct NotRead {
    /// The userPrincipalName.
    pub(crate) key: String,
    /// The Entra object id.
    pub(crate) source_id: String,
    pub(crate) display_name: Option<String>,
    /// Always false: roster reads only the users the application's assignments reach.
    pub(crate) in_scope: bool,
    /// Each fact that keeps the user out, one sentence each.
    pub(crate) reasons: Vec<String>,
    /// The Salesforce users their matching rules find (none is linked to them, as they were not
    /// read), each with the plan's change for it: an owned one is deactivated as an orphan.
    pub(crate) salesforce_users: Vec<FoundUser>,
    /// A matching rule that cannot be evaluated for them: an account it would find is not in
    /// `salesforce_users`.
    pub(crate) matching_error: Option<String>,
}

/// A Salesforce user an unread Entra user's matching rules find, and the plan's change for it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub(crate) struct FoundUser {
    pub(crate) username: String,
    pub(crate) id: String,
    /// The first matching rule that finds it, as `Field ← expression`.
    pub(crate) found_by: String,
    pub(crate) is_active: bool,
    /// roster never changes, deactivates or freezes it (`protect`, or the API user).
    pub(crate) protected: bool,
    /// The Entra user (of those roster read) it is linked to: the change is theirs.
    pub(crate) linked_to: Option<String>,
    pub(crate) change: Option<Change>,
    /// Why the plan makes no change to it (protected, held back by a conflict, not owned, ...),
    /// or why `apply` refuses the change as the plan stands (`safety.max_deactivations`).
    pub(crate) held_back: Option<String>,
}

/// Explains a user Graph knows but roster's read did not include: not assigned to the
/// application, in an assigned group only through a nested group (Entra provisions direct
/// members only), assigned to other applications, or disabled.
pub(crate) fn not_read(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
    user: &UnreadUser,
) -> NotRead {
    let application = &source.application.display_name;
    let mut reasons = Vec::new();
    if config.scope.assignment == crate::config::Assignment::All {
        reasons.push(format!(
            "roster reads every user of the tenant (`scope.assignment: all`), and the read did \
             not include {}: the user was created after it, or Graph did not list them",
            user.user_principal_name
        ));
    }
    let assigned_groups = source
        .assignments
        .iter()
        .filter(|a| a.principal_type == "Group")
        .map(|a| a.principal_id.as_str());
    for group in assigned_groups {
        let name = |id: &str| {
            source
                .groups
                .iter()
                .find(|g| g.id == id)
                .map_or_else(|| id.to_owned(), |g| g.display_name.clone())
        };
        let holds = |groups: &[(String, String)]| groups.iter().any(|(id, _)| id == group);
        if !holds(&user.all_groups) || holds(&user.direct_groups) {
            continue;
        }
        let assigned = name(group);
        let nested_in = source
            .groups
            .iter()
            .find(|g| g.id == group)
            .map(|g| g.nested_groups.clone())
            .unwrap_or_default();
        // The user's own groups that lead to the assigned one.
        let via: Vec<&str> = user
            .direct_groups
            .iter()
            .filter(|(id, _)| user.all_groups.iter().any(|(g, _)| g == id))
            .map(|(_, n)| n.as_str())
            .filter(|n| nested_in.iter().any(|nested| nested == n))
            .collect();
        reasons.push(if via.is_empty() {
            format!(
                "member of the assigned group {assigned} only through nested groups; Entra does \
                 not provision members of nested groups, and neither does roster"
            )
        } else {
            format!(
                "member of {}, which is nested in the assigned group {assigned}; Entra does not \
                 provision members of nested groups, and neither does roster",
                via.join(", ")
            )
        });
    }
    if config.scope.assignment != crate::config::Assignment::All {
        reasons.push(format!(
            "not assigned to {application}, directly or through a group they are a direct \
             member of"
        ));
    }
    let others: Vec<&str> = user
        .applications
        .iter()
        .map(String::as_str)
        .filter(|a| a != application)
        .collect();
    if !others.is_empty() {
        reasons.push(format!(
            "assigned to other applications: {}",
            others.join(", ")
        ));
    }
    if user.account_enabled == Some(false) {
        reasons.push(
            "disabled in Entra (accountEnabled is false): out of scope even once assigned"
                .to_owned(),
        );
    }
    let (salesforce_users, matching_error) =
        found_by_matching(config, source, target, inputs, user);
    NotRead {
        key: user.user_principal_name.clone(),
        source_id: user.id.clone(),
        display_name: user.display_name.clone(),
        in_scope: false,
        reasons,
        salesforce_users,
        matching_error,
    }
}

/// The Salesforce users `user`'s matching rules find, in the org's order, with the plan's
/// change for each: what happens to the account of someone roster does not read; and the
/// first rule that cannot be evaluated for them, if one cannot.
fn found_by_matching(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
    user: &UnreadUser,
) -> (Vec<FoundUser>, Option<String>) {
    // The user alone, as a read would have given them, with the application's roles.
    let alone = SourceSnapshot {
        application: source.application.clone(),
        users: vec![crate::model::SourceUser {
            id: user.id.clone(),
            attributes: user.attributes.clone(),
        }],
        ..SourceSnapshot::default()
    };
    let views = super::source::users(&alone);
    let Some(view) = views.first() else {
        return (Vec::new(), None);
    };
    let compiled = super::mapping::compile(config, &target.user_describe);
    let suffix = config.safety.sandbox_email_suffix.as_str();
    let index = match_index(&compiled, target, suffix);
    let ctx = crate::expr::Context::new(inputs.now, inputs.seed);
    let known = |id: &str| {
        source.users.iter().any(|u| u.id.eq_ignore_ascii_case(id)) || source.left_application(id)
    };
    let org = super::target::Org::new(target);
    let protected = |t: usize| org.protected(config, &target.users[t]);
    let matching_error = match link(
        &compiled, &index, target, view, &ctx, suffix, &known, &protected, None,
    ) {
        Link::Undecided(reason) => Some(reason.into_string()),
        _ => None,
    };
    // Each account once, with the first rule that found it.
    let mut found = super::matching::candidates(&compiled, &index, view, &ctx, suffix);
    found.sort_unstable();
    found.dedup_by_key(|(t, _)| *t);
    if found.is_empty() {
        return (Vec::new(), matching_error);
    }
    let mut state = State::new(config, source, target, inputs);
    let plan = super::planned(&mut state, source);
    let found = found
        .into_iter()
        .map(|(t, rule)| {
            let sf = &target.users[t];
            let rule = &compiled.matching[rule];
            let protected = state.org.protected(config, sf);
            let change = plan
                .changes
                .iter()
                .find(|c| {
                    c.target_id
                        .as_deref()
                        .is_some_and(|id| crate::salesforce::same_id(id, &sf.id))
                })
                .cloned();
            let linked_to = state
                .linked_source
                .get(&t)
                .map(|&i| state.users[i].key.to_owned());
            let held_back = if let Some(why) = &plan.refused {
                Some(format!(
                    "the plan is refused, so apply changes no one: {why}"
                ))
            } else if change.is_some() {
                refused(&plan)
            } else if protected {
                Some(
                    "it is protected, so roster never changes, deactivates or freezes it"
                        .to_owned(),
                )
            } else {
                Some(no_change(config, &state, &plan, t))
            };
            FoundUser {
                username: sf.username.clone(),
                id: sf.id.to_string(),
                found_by: format!("{} ← {}", rule.field, rule.source),
                is_active: sf.is_active,
                protected,
                held_back,
                linked_to,
                change,
            }
        })
        .collect();
    (found, matching_error)
}

/// Why `apply` refuses a change as the plan stands: the plan exceeds
/// `safety.max_deactivations`, and apply refuses all of it, every change too.
fn refused(plan: &Plan) -> Option<String> {
    plan.safety.exceeded.then(|| {
        format!(
            "apply refuses the plan as it stands: its {} exceed `safety.max_deactivations` ({}); \
             `--allow-deactivations {}` lets it",
            plan.safety.what(),
            plan.safety.allowance,
            plan.safety.counted()
        )
    })
}

/// The plan, and why it has no change for the Salesforce user whose id is `sf_id`, as
/// `no_change` says it (meaningful when the plan has none and the user is not protected):
/// what `roster explain` of a Salesforce user prints then.
pub(crate) fn plan_and_why_not(
    config: &Config,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
    inputs: &super::Inputs<'_>,
    sf_id: &str,
) -> (Plan, Option<String>) {
    let mut state = State::new(config, source, target, inputs);
    let plan = super::planned(&mut state, source);
    let why = target
        .users
        .iter()
        .position(|u| crate::salesforce::same_id(&u.id, sf_id))
        .map(|t| no_change(config, &state, &plan, t));
    (plan, why)
}

/// Why the plan made from `state` has no change for the Salesforce user `t` (not protected),
/// decided in the order the planner's deprovisioning decides it (`reconcile`).
fn no_change(config: &Config, state: &State<'_>, plan: &Plan, t: usize) -> String {
    use crate::config::OutOfScope;
    let sf = &state.target.users[t];
    // Disputed by one user's matching rule, or named by a create's conflict.
    let disputed = state
        .users
        .iter()
        .zip(&state.links)
        .find_map(|(u, l)| match l {
            Link::Disputed(dispute) if dispute.1.contains(&t) => Some((u.key, dispute.0.as_str())),
            _ => None,
        });
    if !sf.is_active {
        // An inactive account in a dispute is one the plan would otherwise reactivate: the
        // dispute is why it does not (helper-79: "inactive already" hid it).
        return match disputed {
            Some((key, reason)) => format!(
                "it is inactive, and the plan holds it back, as it is part of {key}'s conflict: \
                 {reason}"
            ),
            None => "it is inactive already".to_owned(),
        };
    }
    if let Some(&i) = state.linked_source.get(&t) {
        let key = state.users[i].key;
        if let Some(problem) = plan.errors.iter().find(|p| p.key == key) {
            return format!(
                "it is linked to the Entra user {key}, who is an error item: {}",
                problem.reason
            );
        }
        let super::scope::Scope::Out(why) = &state.decisions[i] else {
            return format!(
                "it is linked to the Entra user {key}, in scope, whose plan leaves it as it is"
            );
        };
        let linked = format!("it is linked to the Entra user {key}, out of scope ({why})");
        return match config.deprovision.out_of_scope {
            OutOfScope::Ignore => {
                format!("{linked}, and `deprovision.out_of_scope: ignore` leaves it as it is")
            }
            OutOfScope::Freeze if sf.is_frozen() => format!("{linked}, and it is frozen already"),
            _ => format!("{linked}; the plan leaves it as it is"),
        };
    }
    if let Some((key, reason)) = disputed {
        return format!("the plan holds it back, as it is part of {key}'s conflict: {reason}");
    }
    if crate::concurrent::lock(&state.in_conflict).contains(&t) {
        return match plan.errors.iter().find(|p| names(&p.reason, sf)) {
            Some(problem) => format!(
                "the plan holds it back, as it is part of {}'s conflict: {}",
                problem.key, problem.reason
            ),
            None => "the plan holds it back: a conflict in the plan's errors names it".to_owned(),
        };
    }
    if let Some((field, id)) = state.departed(sf, &super::reconcile::ReadIds::new(&state.users)) {
        let anchored = format!(
            "it is {}",
            super::reconcile::anchored(field, &id, state.source, sf)
        );
        return match config.deprovision.out_of_scope {
            OutOfScope::Ignore => {
                format!("{anchored}, and `deprovision.out_of_scope: ignore` leaves it as it is")
            }
            OutOfScope::Freeze if sf.is_frozen() => format!("{anchored}, and it is frozen already"),
            _ => format!("{anchored}; the plan leaves it as it is"),
        };
    }
    let Some(suffix) = config.ownership.username_suffix.as_deref() else {
        return "roster deprovisions only the accounts it owns, and owns none it does not link \
                (`ownership.username_suffix` is not set)"
            .to_owned();
    };
    if !super::target::owned(config, sf) {
        return format!("roster does not own it: its Username does not end with {suffix}");
    }
    if state.links.iter().any(|l| matches!(l, Link::Undecided(_))) {
        return "roster withholds deprovisioning the accounts no one links while some user's \
                matching rules cannot be evaluated (see the plan's warnings)"
            .to_owned();
    }
    match config.deprovision.out_of_scope {
        OutOfScope::Ignore => "`deprovision.out_of_scope: ignore` leaves the accounts no one \
                               links as they are"
            .to_owned(),
        OutOfScope::Freeze if sf.is_frozen() => "it is frozen already".to_owned(),
        OutOfScope::Freeze | OutOfScope::Deactivate => plan
            .errors
            .iter()
            .find(|p| names(&p.reason, sf))
            .map_or_else(
                || "the plan leaves it as it is".to_owned(),
                |p| format!("the plan cannot deprovision it: {}", p.reason),
            ),
    }
}

/// Whether `reason` names `sf` by its Username (without case) or its id (15 or 18
/// characters), as a whole word: `doe@x.dev1` is not named by `jdoe@x.dev1`.
pub(super) fn names(reason: &str, sf: &crate::model::TargetUser) -> bool {
    let part = |c: char| c.is_alphanumeric() || "._-+@".contains(c);
    // A full stop that ends the sentence ends the word too.
    let continues = |rest: &str| {
        let mut chars = rest.chars();
        match chars.next() {
            Some('.') => chars.next().is_some_and(part),
            Some(c) => part(c),
            None => false,
        }
    };
    let whole = |haystack: &str, needle: &str| {
        !needle.is_empty()
            && haystack.match_indices(needle).any(|(at, _)| {
                !haystack[..at].ends_with(part) && !continues(&haystack[at + needle.len()..])
            })
    };
    let id = crate::salesforce::id15(&sf.id);
    whole(&reason.to_lowercase(), &sf.username.to_lowercase())
        || whole(reason, &sf.id)
        || whole(reason, id)
}
