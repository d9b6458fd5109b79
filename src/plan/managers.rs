//! Deactivations Salesforce refuses as a plan stands because the account is someone's Manager:
//! "a User cannot report to an inactive User" (Salesforce KB 000004425; the refusal is "Cannot
//! inactivate user that is the value of a hierarchy field", KB 000386275).

use std::collections::{HashMap, HashSet};

use super::{Action, Change, Plan};
use crate::config::WhenRefused;
use crate::model::TargetSnapshot;

/// A Salesforce user id in its 15-character form (`salesforce::canonical_id`).
type Id = [u8; 15];

/// Each manager's reports who are active when apply sends the deactivations, by id (`None`: a
/// user the plan creates), with the name a warning gives them.
type Reports<'p> = HashMap<Id, Vec<(Option<Id>, &'p str)>>;

/// A warning per deactivation Salesforce will refuse as `plan` stands: the account is the
/// `ManagerId` of a user who stays active after it. As apply goes: updates and reactivations
/// first (a `ManagerId` they write counts), then the deactivations, a refused one sent again once
/// others went through — so a manager goes once every report has gone, and never in a loop of
/// managers, nor above a report whose own deactivation is refused. Each warning names the reports
/// who stay (the first five) and what apply does then (`when_refused`).
pub(super) fn warnings(
    plan: &Plan,
    target: &TargetSnapshot,
    when_refused: WhenRefused,
) -> Vec<String> {
    /// Reports a warning names; the rest are counted.
    const NAMED: usize = 5;
    let deactivated: HashSet<Id> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Deactivate)
        .filter_map(account)
        .collect();
    if deactivated.is_empty() {
        return Vec::new();
    }
    let reports = reports(plan, target, &deactivated);
    let gone = going(&deactivated, &reports);
    let then = match when_refused {
        WhenRefused::Freeze => "apply freezes them instead (deprovision.when_refused: freeze)",
        WhenRefused::Fail => {
            "apply leaves them active (deprovision.when_refused: fail; `freeze` locks them out \
             meanwhile)"
        }
    };
    let mut warnings = Vec::new();
    for change in plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Deactivate)
    {
        let Some(manager) = account(change).filter(|a| !gone.contains(a)) else {
            continue;
        };
        let staying: Vec<&str> = reports
            .get(&manager)
            .into_iter()
            .flatten()
            .filter(|(r, _)| r.is_none_or(|r| !gone.contains(&r)))
            .map(|(_, name)| *name)
            .collect();
        let username = target
            .users
            .iter()
            .find(|u| crate::salesforce::canonical_id(&u.id) == Some(manager))
            .map_or(change.key.as_str(), |u| u.username.as_str());
        let more = staying.len().saturating_sub(NAMED);
        warnings.push(format!(
            "Salesforce will refuse to deactivate {username}: it is the Manager of {} user(s) \
             who stay active after this plan ({}{}), and a user cannot report to an inactive \
             user (\"Cannot inactivate user that is the value of a hierarchy field\"). Give them \
             another manager first; else {then}",
            staying.len(),
            staying[..staying.len().min(NAMED)].join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    warnings
}

/// The Salesforce user `change` touches.
fn account(change: &Change) -> Option<Id> {
    change
        .target_id
        .as_deref()
        .and_then(crate::salesforce::canonical_id)
}

/// The reports of each manager in `deactivated` who are active when apply sends the
/// deactivations: active or reactivated users whose `ManagerId` — as the plan writes it, else as
/// the org holds it — is that manager, and creates given one.
fn reports<'p>(
    plan: &'p Plan,
    target: &'p TargetSnapshot,
    deactivated: &HashSet<Id>,
) -> Reports<'p> {
    let canonical = crate::salesforce::canonical_id;
    // `Some(None)`: the plan clears the user's ManagerId.
    let manager_in = |change: &Change| match change.after.get("ManagerId") {
        Some(crate::field_value::FieldValue::Text(manager)) => Some(canonical(manager)),
        Some(_) => Some(None),
        None => None,
    };
    let mut planned: HashMap<Id, Option<Id>> = HashMap::new();
    let mut reactivated: HashSet<Id> = HashSet::new();
    let mut reports = Reports::new();
    for change in &plan.changes {
        match (change.action, account(change)) {
            (Action::Create, _) => {
                if let Some(Some(manager)) = manager_in(change) {
                    reports
                        .entry(manager)
                        .or_default()
                        .push((None, &change.key));
                }
            }
            (Action::Update | Action::Reactivate, Some(user)) => {
                if change.action == Action::Reactivate {
                    reactivated.insert(user);
                }
                if let Some(manager) = manager_in(change) {
                    planned.insert(user, manager);
                }
            }
            _ => {}
        }
    }
    for user in &target.users {
        let Some(id) = canonical(&user.id) else {
            continue;
        };
        if !user.is_active && !reactivated.contains(&id) {
            continue;
        }
        let manager = planned
            .get(&id)
            .copied()
            .unwrap_or_else(|| user.text("ManagerId").and_then(canonical));
        if let Some(manager) = manager.filter(|m| *m != id && deactivated.contains(m)) {
            reports
                .entry(manager)
                .or_default()
                .push((Some(id), &user.username));
        }
    }
    reports
}

/// The deactivations that go through, round by round as apply sends them again: a manager once
/// each of their reports has gone.
fn going(deactivated: &HashSet<Id>, reports: &Reports<'_>) -> HashSet<Id> {
    let mut gone: HashSet<Id> = HashSet::new();
    loop {
        let before = gone.len();
        for manager in deactivated {
            let free = reports
                .get(manager)
                .is_none_or(|rs| rs.iter().all(|(r, _)| r.is_some_and(|r| gone.contains(&r))));
            if free {
                gone.insert(*manager);
            }
        }
        if gone.len() == before {
            return gone;
        }
    }
}
