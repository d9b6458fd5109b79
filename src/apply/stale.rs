//! Whether a saved plan is still true. `roster apply PLAN` plans again from the config and the
//! live Entra and Salesforce state, and carries the saved plan out only when the plan made now
//! has exactly its changes: Terraform's and Atlantis' contract (apply what was reviewed, while it
//! is still true). Nothing in the file is trusted — an edited change, a removed fingerprint or a
//! forged `safety` block simply differs from the plan made now — and a change in Entra since the
//! plan (a user disabled or unassigned) is caught like a change in Salesforce.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::field_value::FieldValue;

use crate::model::{TargetSnapshot, TargetUser};
use crate::plan::{Action, AppRoleChange, Change, Plan, Problem, ProblemKind};
use crate::salesforce::id15;

/// Why `saved` is not the plan `fresh` (made now, from the same config and the live world) is;
/// empty when their changes are the same. `target` is the Salesforce state `fresh` was made
/// from, to say what moved. Each reason is one line naming the user. (`roster apply` compares as
/// the saved plan streams: `Comparison`.)
#[cfg(test)]
pub(crate) fn differences(saved: &Plan, fresh: &Plan, target: &TargetSnapshot) -> Vec<String> {
    let mut comparison = Comparison::new(fresh, target);
    for change in &saved.changes {
        comparison.offer(change);
    }
    comparison.finish(&saved.target.org_id, &saved.app_roles)
}

/// The comparison of a saved plan's changes, offered one at a time in the plan's order (as
/// `differences` has them, or as they stream from the file: `commands::plan::compare_saved`),
/// with the plan made now. Only what differs is kept: a saved change that no change made now
/// matches (normally none), and per key what the reasons need — so a 100,000-user saved plan is
/// never held beside the one made now.
pub(crate) struct Comparison<'f> {
    fresh: &'f Plan,
    /// The plan made now's changes (their places in `fresh.changes`) by lower-case key.
    now: BTreeMap<String, Vec<usize>>,
    /// By place in `fresh.changes`: some saved change of its key is the same.
    matched: Vec<bool>,
    /// The saved changes by lower-case key, as far as the reasons need them.
    then: BTreeMap<String, Saved>,
    users: HashMap<&'f str, &'f TargetUser>,
    usernames: HashMap<String, &'f TargetUser>,
}

/// What the comparison keeps of one key's saved changes.
#[derive(Default)]
struct Saved {
    /// How many there were.
    count: usize,
    /// Each was the same as the change made now at its place (`differences`' test).
    in_step: bool,
    /// Those the same as no change made now of the key, in order.
    unmatched: Vec<Change>,
    /// The first one's key as written (for the count's reason), when it is not in lower case.
    first_key: Option<Box<str>>,
}

impl<'f> Comparison<'f> {
    pub(crate) fn new(fresh: &'f Plan, target: &'f TargetSnapshot) -> Comparison<'f> {
        Comparison {
            fresh,
            now: fresh
                .changes
                .iter()
                .enumerate()
                .fold(BTreeMap::new(), |mut now, (at, change)| {
                    now.entry(change.key.to_lowercase())
                        .or_insert_with(Vec::new)
                        .push(at);
                    now
                }),
            matched: vec![false; fresh.changes.len()],
            then: BTreeMap::new(),
            users: target.users.iter().map(|u| (id15(&u.id), u)).collect(),
            usernames: target
                .users
                .iter()
                .map(|u| (u.username.to_lowercase(), u))
                .collect(),
        }
    }

    /// One saved change, in the saved plan's order.
    pub(crate) fn offer(&mut self, change: &Change) {
        let key = change.key.to_lowercase();
        let changes = &self.fresh.changes;
        let now = self.now.get(&key).map_or(&[][..], Vec::as_slice);
        let first_key = (key != change.key).then(|| change.key.as_str().into());
        let saved = self.then.entry(key).or_insert_with(|| Saved {
            in_step: true,
            first_key,
            ..Saved::default()
        });
        let place = saved.count;
        saved.count += 1;
        saved.in_step &= now.get(place).is_some_and(|at| same(change, &changes[*at]));
        let mut any = false;
        for at in now {
            if same(change, &changes[*at]) {
                any = true;
                self.matched[*at] = true;
            }
        }
        if !any {
            saved.unmatched.push(change.clone());
        }
    }

    /// The reasons, once every saved change was offered; `org_id` and `app_roles` are the saved
    /// plan's.
    pub(crate) fn finish(self, org_id: &str, app_roles: &[AppRoleChange]) -> Vec<String> {
        let fresh = self.fresh;
        if id15(org_id) != id15(&fresh.target.org_id) {
            return vec![format!(
                "the plan was made for org {}, but the config now logs in to org {}",
                org_id, fresh.target.org_id
            )];
        }
        let (users, usernames) = (&self.users, &self.usernames);
        // Which fresh change each user's ids belong to: a saved change under another user's
        // key is named as that (an edited key), not as a change a plan made now would not make.
        let owners = Owners::of(fresh, self.then.values().any(|t| !t.unmatched.is_empty()));
        // The changes made now that a saved change under another key is named with (`gone`:
        // the same account, planned for someone else now): each is one line, not that and
        // another under its own key (helper-91).
        let told: std::collections::HashSet<usize> = self
            .then
            .values()
            .flat_map(|t| &t.unmatched)
            .filter_map(|saved| owners.other_key(saved).map(|(at, _)| at))
            .collect();
        let mut reasons = Vec::new();
        let keys: std::collections::BTreeSet<&String> =
            self.then.keys().chain(self.now.keys()).collect();
        let none = Saved {
            in_step: true,
            ..Saved::default()
        };
        for key in keys {
            let then = self.then.get(key).unwrap_or(&none);
            let places = self.now.get(key).map_or(&[][..], Vec::as_slice);
            if then.count == places.len() && then.in_step
                || then.count == 0 && places.iter().all(|at| told.contains(at))
            {
                continue;
            }
            let now: Vec<&Change> = places.iter().map(|at| &fresh.changes[*at]).collect();
            if let ([saved], [fresh], 1) = (then.unmatched.as_slice(), now.as_slice(), then.count) {
                reasons.push(changed(saved, fresh, users));
                continue;
            }
            let before = reasons.len();
            for saved in &then.unmatched {
                reasons.push(gone(saved, (users, usernames), &now, &owners));
            }
            for (at, fresh) in places.iter().zip(&now) {
                if !self.matched[*at] && !told.contains(at) {
                    reasons.push(format!(
                        "{}: a plan made now would {} this user ({}); the saved plan does not",
                        fresh.key,
                        verb(fresh.action),
                        fresh.reason
                    ));
                }
            }
            if reasons.len() == before {
                // The same changes, but not as many (a change copied in the file).
                reasons.push(format!(
                    "{}: the saved plan has {} change(s) for this user, a plan made now has {}",
                    if then.count > 0 {
                        then.first_key.as_deref().unwrap_or(key.as_str())
                    } else {
                        now.first().map_or(key.as_str(), |c| c.key.as_str())
                    },
                    then.count,
                    now.len()
                ));
            }
        }
        for role in app_roles.iter().filter(|r| !fresh.app_roles.contains(r)) {
            reasons.push(format!(
                "entra_app_role[{:?}]: the saved plan would {} it; a plan made now would not",
                role.name(),
                role.action.verb()
            ));
        }
        for role in fresh.app_roles.iter().filter(|r| !app_roles.contains(r)) {
            reasons.push(format!(
                "entra_app_role[{:?}]: a plan made now would {} it ({}); the saved plan does not",
                role.name(),
                role.action.verb(),
                role.reason
            ));
        }
        reasons
    }
}

/// Whether two changes do the same thing. What `--baseline-config` adds for the reviewer (the
/// cause, the fields pending regardless) is not part of what apply does: a plan saved with it
/// applies like one saved without.
fn same(saved: &Change, fresh: &Change) -> bool {
    let bare = |c: &Change| Change {
        cause: None,
        pending_fields: Vec::new(),
        ..c.clone()
    };
    bare(saved) == bare(fresh)
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Reactivate => "reactivate",
        Action::Deactivate => "deactivate",
        Action::Freeze => "freeze",
    }
}

/// What moved under a Salesforce user the saved change touches, if anything did.
fn moved(change: &Change, users: &HashMap<&str, &TargetUser>) -> Option<String> {
    let id = change.target_id.as_deref()?;
    let Some(user) = users.get(id15(id)) else {
        return Some(format!("Salesforce user {id} no longer exists"));
    };
    let now = user.system_modstamp.as_deref().unwrap_or_default();
    match change.fingerprint.as_deref() {
        Some(then) if then != now => Some(format!(
            "Salesforce user {id} changed since the plan (SystemModstamp {then} -> {now})"
        )),
        None => Some(format!(
            "the saved change has no fingerprint (SystemModstamp {now} now)"
        )),
        Some(_) => None,
    }
}

/// The fresh plan's changes (their places in it) by the users' ids (the Entra object id, the
/// Salesforce user id in its 15-character form), and its errors, conflicts and skips by
/// lower-case key: built only when some saved change is unmatched.
struct Owners<'f> {
    fresh: &'f Plan,
    by_id: HashMap<String, usize>,
    problems: HashMap<String, &'f Problem>,
}

impl<'f> Owners<'f> {
    fn of(fresh: &'f Plan, needed: bool) -> Owners<'f> {
        let mut by_id = HashMap::new();
        let mut problems = HashMap::new();
        if needed {
            for (at, change) in fresh.changes.iter().enumerate() {
                if let Some(id) = change.source_id.as_deref() {
                    by_id.insert(id.to_lowercase(), at);
                }
                if let Some(id) = change.target_id.as_deref() {
                    by_id.insert(id15(id).to_owned(), at);
                }
            }
            for problem in fresh.errors.iter().chain(&fresh.skipped) {
                problems
                    .entry(problem.key.to_lowercase())
                    .or_insert(problem);
            }
        }
        Owners {
            fresh,
            by_id,
            problems,
        }
    }

    /// The fresh change (and its place), under another key than `saved`'s, for the same user
    /// as `saved`.
    fn other_key(&self, saved: &Change) -> Option<(usize, &'f Change)> {
        let source = saved.source_id.as_deref().map(str::to_lowercase);
        let target = saved.target_id.as_deref().map(|id| id15(id).to_owned());
        [source, target]
            .into_iter()
            .flatten()
            .find_map(|id| self.by_id.get(&id).copied())
            .map(|at| (at, &self.fresh.changes[at]))
            .filter(|(_, c)| !c.key.eq_ignore_ascii_case(&saved.key))
    }
}

/// A saved change that a plan made now does not have; `now` are the fresh plan's changes
/// under the same key.
fn gone(
    saved: &Change,
    (users, usernames): (&HashMap<&str, &TargetUser>, &HashMap<String, &TargetUser>),
    now: &[&Change],
    owners: &Owners<'_>,
) -> String {
    if let Some((_, owner)) = owners.other_key(saved) {
        // A change keyed by the account's Username (a leaver's, an orphan's) that a plan made
        // now keys by a person's userPrincipalName, or the other way round: Entra changed who
        // the account is planned for — assigned or unassigned since — no edit (helper-89).
        let account = saved
            .target_id
            .as_deref()
            .and_then(|id| users.get(id15(id)));
        let keyed_by_username =
            |key: &str| account.is_some_and(|a| a.username.eq_ignore_ascii_case(key));
        if keyed_by_username(&saved.key) || keyed_by_username(&owner.key) {
            // Keyed by the account's own Username now: no user of the application links it
            // (helper-90: "as ada@x.com.dev1's" read as a person's).
            let whose = if keyed_by_username(&owner.key) {
                "as an account no user of the application links".to_owned()
            } else {
                format!("as {}'s", owner.key)
            };
            return format!(
                "{}: the saved plan would {} this user; a plan made now would {} it {whose} \
                 ({}): who the account is planned for changed in Entra since the plan (a user \
                 assigned, unassigned or deleted)",
                saved.key,
                verb(saved.action),
                verb(owner.action),
                owner.reason
            );
        }
        // The saved key is no one's now: the person's userPrincipalName (the key) may have
        // changed in Entra, which a file's edit cannot be told from (helper-93: a rename was
        // blamed on an edit). Another user's now: the key was edited.
        let why = if now.is_empty() {
            "the user's userPrincipalName changed in Entra since the plan, or the saved change's \
             key was edited"
        } else {
            "the saved change's key was edited"
        };
        return format!(
            "{}: the saved plan has a change to {} this user that is {}'s in a plan made now \
             (the same Entra or Salesforce user's id): {why}",
            saved.key,
            verb(saved.action),
            owner.key
        );
    }
    let mut line = if now.is_empty() {
        format!(
            "{}: the saved plan would {} this user; a plan made now would not",
            saved.key,
            verb(saved.action)
        )
    } else {
        format!(
            "{}: the saved plan has a change to {} this user that a plan made now does not have",
            saved.key,
            verb(saved.action)
        )
    };
    let taken = saved
        .after
        .get("Username")
        .and_then(FieldValue::as_str)
        .filter(|_| saved.action == Action::Create)
        .and_then(|name| usernames.get(&name.to_lowercase()));
    let held_back = owners.problems.get(&saved.key.to_lowercase());
    if let Some(user) = taken {
        let _ = write!(line, ": Salesforce user {} has this Username now", user.id);
    } else if let Some(why) = moved(saved, users) {
        line.push_str(": ");
        line.push_str(&why);
    } else if let Some(problem) = held_back {
        let what = match problem.kind {
            ProblemKind::Error => "an error",
            ProblemKind::Conflict => "a conflict",
            ProblemKind::Skipped => "a skip",
        };
        let _ = write!(
            line,
            ": a plan made now has {what} for this user instead: {}",
            problem.reason
        );
    } else if now.is_empty() {
        // Nothing moved in Salesforce, and the config is the saved plan's (`check_config`):
        // Entra changed, or the file did (helper-92: the line gave no reason).
        line.push_str(match (saved.action, &saved.target_id) {
            (Action::Create, _) => {
                ": no Salesforce user has its Username and nothing holds the user back, so \
                 Entra changed since the plan (the user unassigned, deleted, renamed or out of \
                 scope) or the saved change was edited"
            }
            (Action::Update | Action::Reactivate, Some(_)) => {
                ": the Salesforce user is as it was when planned, so Entra changed since the \
                 plan (the user renamed, out of scope and not deprovisioned, or their attributes \
                 now as the account's) or the saved change was edited"
            }
            _ => {
                ": the Salesforce user is as it was when planned, so Entra changed since the \
                 plan (the user in scope or assigned again) or the saved change was edited"
            }
        });
    }
    line
}

/// A change's grants as a reviewer reads them: `+ permission set X (id, ...)`, `- queue Y (id,
/// assignment id)`, or `none`.
fn grant_names(grants: &crate::plan::GrantChanges) -> String {
    let listed = |list: &[crate::plan::GrantRef], sign: char| {
        list.iter()
            .map(|g| {
                let assignment = g
                    .assignment_id
                    .as_ref()
                    .map(|id| format!(", assignment {id}"))
                    .unwrap_or_default();
                let implied = g
                    .implied_by
                    .as_ref()
                    .map(|set| format!(", with permission set {set}"))
                    .unwrap_or_default();
                format!("{sign} {g} ({}{assignment}{implied})", g.id)
            })
            .collect::<Vec<_>>()
    };
    let all: Vec<String> = listed(&grants.add, '+')
        .into_iter()
        .chain(listed(&grants.remove, '-'))
        .collect();
    if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    }
}

/// One user's change, planned both times but not the same.
fn changed(saved: &Change, fresh: &Change, users: &HashMap<&str, &TargetUser>) -> String {
    let key = &saved.key;
    if saved.action != fresh.action {
        return format!(
            "{key}: the saved plan would {} this user, a plan made now would {} ({})",
            verb(saved.action),
            verb(fresh.action),
            fresh.reason
        );
    }
    let mut parts = Vec::new();
    if saved.key != fresh.key {
        parts.push(format!(
            "the key reads {} in the saved plan, {} now",
            crate::render::quoted(&saved.key),
            crate::render::quoted(&fresh.key)
        ));
    }
    // Another user's id in the saved change: its fingerprint is the planned user's, so
    // comparing it with that other user's SystemModstamp would say something untrue.
    if let (Some(then), Some(now)) = (&saved.target_id, &fresh.target_id)
        && then != now
        && crate::salesforce::same_id(then, now)
    {
        parts.push(format!(
            "the same Salesforce user's id reads {then} in the saved plan, {now} now"
        ));
    } else if saved.target_id != fresh.target_id {
        parts.push(format!(
            "Salesforce user {} then, {} now",
            saved.target_id.as_deref().unwrap_or("none"),
            fresh.target_id.as_deref().unwrap_or("none")
        ));
    } else if let Some(why) = moved(saved, users) {
        parts.push(why);
    } else if saved.fingerprint != fresh.fingerprint {
        parts.push("its fingerprint differs from the user's SystemModstamp".to_owned());
    }
    let fields: std::collections::BTreeSet<&crate::sorted_map::Name> =
        saved.after.keys().chain(fresh.after.keys()).collect();
    for field in fields {
        let (then, now) = (saved.after.get(field), fresh.after.get(field));
        if then != now {
            parts.push(format!(
                "{field} = {} in the saved plan, {} now",
                shown(then),
                shown(now)
            ));
        }
    }
    if saved.grants != fresh.grants {
        parts.push(format!(
            "grants [{}] in the saved plan, [{}] now",
            grant_names(&saved.grants),
            grant_names(&fresh.grants)
        ));
    }
    // Only the reason differs (a leaver deleted in Entra since the plan, say): both said, as a
    // reviewer cannot tell what changed from "not the same reason" (helper-91).
    if parts.is_empty() && saved.reason != fresh.reason {
        parts.push(format!(
            "the reason reads {} in the saved plan, {} now",
            crate::render::quoted(&saved.reason),
            crate::render::quoted(&fresh.reason)
        ));
    }
    if parts.is_empty() {
        let details: Vec<&str> = [
            (saved.before != fresh.before, "before values"),
            (saved.labels != fresh.labels, "labels"),
            (saved.situation != fresh.situation, "situation"),
            (saved.source_id != fresh.source_id, "Entra object id"),
            (
                saved.unchanged != fresh.unchanged,
                "count of unchanged fields",
            ),
            (saved.login_id != fresh.login_id, "UserLogin id"),
        ]
        .into_iter()
        .filter_map(|(differs, what)| differs.then_some(what))
        .collect();
        parts.push(if details.is_empty() {
            "its details differ".to_owned()
        } else {
            format!("not the same {} as a plan made now", details.join(", "))
        });
    }
    format!(
        "{key}: {} differs: {}",
        verb(saved.action),
        parts.join("; ")
    )
}

fn shown(value: Option<&FieldValue>) -> String {
    value.map_or_else(|| "(not written)".to_owned(), FieldValue::to_string)
}

#[cfg(test)]
mod tests {

    use serde_json::{Value, json};

    use super::differences;
    use crate::model::{TargetSnapshot, TargetUser};
    use crate::plan::{Action, Change, Plan, Situation};

    fn user(id: &str, username: &str, stamp: &str) -> TargetUser {
        TargetUser {
            id: id.into(),
            username: username.to_owned(),
            is_active: true,
            system_modstamp: Some(stamp.into()),
            ..TargetUser::default()
        }
    }

    fn change(action: Action, key: &str, id: Option<&str>, after: &[(&str, Value)]) -> Change {
        Change {
            reason: "because".into(),
            target_id: id.map(Box::from),
            after: after
                .iter()
                .map(|(k, v)| (crate::sorted_map::Name::from(*k), v.into()))
                .collect(),
            fingerprint: id.map(|_| "2024-01-01T00:00:00.000+0000".into()),
            ..Change::new(action, key.to_owned(), Situation::Linked)
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        let mut plan = Plan::default();
        plan.target.org_id = "00D000000000001AAA".to_owned();
        plan.changes = changes;
        plan
    }

    fn org() -> TargetSnapshot {
        TargetSnapshot {
            users: vec![
                user(
                    "005000000000001AAA",
                    "ada@x.com.dev1",
                    "2024-01-01T00:00:00.000+0000",
                ),
                user(
                    "005000000000002AAA",
                    "admin@x.com.dev1",
                    "2024-01-01T00:00:00.000+0000",
                ),
            ],
            ..TargetSnapshot::default()
        }
    }

    #[test]
    fn the_same_changes_are_no_difference() {
        let a = plan(vec![change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        )]);
        assert!(differences(&a, &a.clone(), &org()).is_empty());
    }

    #[test]
    fn a_forged_change_a_changed_value_and_a_missing_fingerprint_each_differ() {
        let fresh = plan(vec![change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        )]);
        let mut forged = fresh.clone();
        forged.changes.push(change(
            Action::Deactivate,
            "admin@x.com.dev1",
            Some("005000000000002AAA"),
            &[("IsActive", json!(false))],
        ));
        forged.safety.exceeded = false;
        let reasons = differences(&forged, &fresh, &org());
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(
            reasons[0].starts_with("admin@x.com.dev1: the saved plan would deactivate"),
            "{reasons:?}"
        );

        let mut edited = fresh.clone();
        edited.changes[0]
            .after
            .insert("ProfileId".into(), json!("00e000000000001AAA").into());
        let reasons = differences(&edited, &fresh, &org());
        assert_eq!(
            reasons,
            [
                "ada@x.com: update differs: ProfileId = \"00e000000000001AAA\" in the saved plan, (not written) now"
            ]
        );

        let mut unprinted = fresh.clone();
        unprinted.changes[0].fingerprint = None;
        let reasons = differences(&unprinted, &fresh, &org());
        assert!(reasons[0].contains("no fingerprint"), "{reasons:?}");
    }

    #[test]
    fn a_user_changed_in_salesforce_or_gone_from_entra_is_named() {
        let saved = plan(vec![change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        )]);
        let mut moved = org();
        moved.users[0].system_modstamp = Some("2024-02-02T00:00:00.000+0000".into());
        let reasons = differences(&saved, &plan(Vec::new()), &moved);
        assert_eq!(
            reasons,
            [
                "ada@x.com: the saved plan would update this user; a plan made now would not: \
              Salesforce user 005000000000001AAA changed since the plan (SystemModstamp \
              2024-01-01T00:00:00.000+0000 -> 2024-02-02T00:00:00.000+0000)"
            ]
        );
        let mut gone = change(
            Action::Deactivate,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("IsActive", json!(false))],
        );
        gone.reason = "out of scope: not assigned".into();
        let reasons = differences(&saved, &plan(vec![gone]), &org());
        assert_eq!(
            reasons,
            [
                "ada@x.com: the saved plan would update this user, a plan made now would \
              deactivate (out of scope: not assigned)"
            ]
        );
    }

    /// An edit is named for what it changed: another user's id, not that user's stamp against
    /// the planned user's fingerprint; a key in another case; a reason.
    #[test]
    fn an_edited_id_key_or_reason_is_named_as_such() {
        let fresh = plan(vec![change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        )]);
        let mut moved = org();
        moved.users[1].system_modstamp = Some("2024-03-03T00:00:00.000+0000".into());
        let mut other = fresh.clone();
        other.changes[0].target_id = Some("005000000000002AAA".into());
        assert_eq!(
            differences(&other, &fresh, &moved),
            [
                "ada@x.com: update differs: Salesforce user 005000000000002AAA then, \
                 005000000000001AAA now"
            ]
        );
        let mut short = fresh.clone();
        short.changes[0].target_id = Some("005000000000001".into());
        assert_eq!(
            differences(&short, &fresh, &org()),
            [
                "ada@x.com: update differs: the same Salesforce user's id reads \
                 005000000000001 in the saved plan, 005000000000001AAA now"
            ]
        );
        let mut shouted = fresh.clone();
        shouted.changes[0].key = "ADA@x.com".into();
        assert_eq!(
            differences(&shouted, &fresh, &org()),
            [
                "ADA@x.com: update differs: the key reads \"ADA@x.com\" in the saved plan, \"ada@x.com\" now"
            ]
        );
        // Ada's change under Bob's key, beside Bob's own: Ada's key was edited.
        let mut two = fresh.clone();
        two.changes.push(change(
            Action::Update,
            "bob@x.com",
            Some("005000000000002AAA"),
            &[("Title", json!("CTO"))],
        ));
        // One line, not that and Ada's change made now on a line of its own (helper-91).
        let mut rekeyed = two.clone();
        rekeyed.changes[0].key = "bob@x.com".into();
        assert_eq!(
            differences(&rekeyed, &two, &org()),
            [
                "bob@x.com: the saved plan has a change to update this user that is \
                 ada@x.com's in a plan made now (the same Entra or Salesforce user's id): the \
                 saved change's key was edited"
            ]
        );
        // With its ids edited too, it is a change a plan made now does not have, beside the
        // one it does.
        rekeyed.changes[0].target_id = Some("005000000000009AAA".into());
        let reasons = differences(&rekeyed, &two, &org());
        assert_eq!(
            reasons[0],
            "ada@x.com: a plan made now would update this user (because); the saved plan does not"
        );
        assert_eq!(
            reasons[1],
            "bob@x.com: the saved plan has a change to update this user that a plan made now \
             does not have: Salesforce user 005000000000009AAA no longer exists"
        );
        let mut reasoned = fresh.clone();
        reasoned.changes[0].reason = "because I said so".into();
        assert_eq!(
            differences(&reasoned, &fresh, &org()),
            [
                "ada@x.com: update differs: the reason reads \"because I said so\" in the saved \
                 plan, \"because\" now"
            ]
        );
    }

    /// A leaver's deactivation, keyed by the account's Username, that a plan made now plans
    /// as the person's own update (assigned again since): Entra changed, no key was edited
    /// (helper-89: the message blamed an edit of the file). One line for the one account
    /// (helper-91: the change made now was listed again under its own key).
    #[test]
    fn an_account_planned_for_someone_else_now_says_entra_changed() {
        let mut leaver = change(
            Action::Deactivate,
            "ada@x.com.dev1",
            Some("005000000000001AAA"),
            &[("IsActive", json!(false))],
        );
        leaver.source_id = Some("0000000e-0000-0000-0000-0000000000aa".into());
        let mut back = change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        );
        back.source_id = leaver.source_id.clone();
        assert_eq!(
            differences(
                &plan(vec![leaver.clone()]),
                &plan(vec![back.clone()]),
                &org()
            ),
            [
                "ada@x.com.dev1: the saved plan would deactivate this user; a plan made now \
                 would update it as ada@x.com's (because): who the account is planned for \
                 changed in Entra since the plan (a user assigned, unassigned or deleted)"
            ]
        );
        // And the other way round: unassigned since.
        let unassigned = differences(&plan(vec![back]), &plan(vec![leaver]), &org());
        assert_eq!(
            unassigned,
            [
                "ada@x.com: the saved plan would update this user; a plan made now would \
                 deactivate it as an account no user of the application links (because): who \
                 the account is planned for changed in Entra since the plan (a user assigned, \
                 unassigned or deleted)"
            ]
        );
    }

    /// A user renamed in Entra since the plan: the saved change's key is no one's now, and the
    /// line says the name may have changed rather than that the file was edited (helper-93).
    #[test]
    fn a_user_renamed_in_entra_is_not_said_to_be_an_edit() {
        let mut saved = change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        );
        saved.source_id = Some("0000000e-0000-0000-0000-0000000000aa".into());
        let mut renamed = saved.clone();
        renamed.key = "ada.lovelace@x.com".to_owned();
        assert_eq!(
            differences(&plan(vec![saved]), &plan(vec![renamed]), &org()),
            [
                "ada@x.com: the saved plan has a change to update this user that is \
                 ada.lovelace@x.com's in a plan made now (the same Entra or Salesforce user's \
                 id): the user's userPrincipalName changed in Entra since the plan, or the saved \
                 change's key was edited"
            ]
        );
    }

    /// A saved change a plan made now does not make, the Salesforce user unchanged: the line
    /// says what holds the user back now, or that Entra changed (helper-92: it gave no reason
    /// when the person had been unassigned).
    #[test]
    fn a_change_a_plan_made_now_does_not_make_says_why() {
        let update = change(
            Action::Update,
            "ada@x.com",
            Some("005000000000001AAA"),
            &[("Title", json!("CEO"))],
        );
        let saved = plan(vec![update.clone()]);
        assert_eq!(
            differences(&saved, &plan(Vec::new()), &org()),
            [
                "ada@x.com: the saved plan would update this user; a plan made now would not: \
                 the Salesforce user is as it was when planned, so Entra changed since the plan \
                 (the user renamed, out of scope and not deprovisioned, or their attributes now \
                 as the account's) or the saved change was edited"
            ]
        );
        let mut conflicted = plan(Vec::new());
        conflicted.errors.push(crate::plan::Problem {
            kind: crate::plan::ProblemKind::Conflict,
            key: "ADA@x.com".to_owned(),
            reason: "Title is already held".to_owned(),
        });
        assert_eq!(
            differences(&saved, &conflicted, &org()),
            [
                "ada@x.com: the saved plan would update this user; a plan made now would not: a \
                 plan made now has a conflict for this user instead: Title is already held"
            ]
        );
        let create = plan(vec![change(
            Action::Create,
            "bob@x.com",
            None,
            &[("Username", json!("bob@x.com.dev1"))],
        )]);
        assert_eq!(
            differences(&create, &plan(Vec::new()), &org()),
            [
                "bob@x.com: the saved plan would create this user; a plan made now would not: \
                 no Salesforce user has its Username and nothing holds the user back, so Entra \
                 changed since the plan (the user unassigned, deleted, renamed or out of scope) \
                 or the saved change was edited"
            ]
        );
        let mut deactivation = update;
        deactivation.action = Action::Deactivate;
        assert!(
            differences(&plan(vec![deactivation]), &plan(Vec::new()), &org())[0]
                .ends_with("(the user in scope or assigned again) or the saved change was edited")
        );
    }

    #[test]
    fn a_create_whose_username_is_taken_now_says_by_whom() {
        let saved = plan(vec![change(
            Action::Create,
            "ada@x.com",
            None,
            &[("Username", json!("ADA@x.com.dev1"))],
        )]);
        let reasons = differences(&saved, &plan(Vec::new()), &org());
        assert!(
            reasons[0].ends_with("Salesforce user 005000000000001AAA has this Username now"),
            "{reasons:?}"
        );
    }

    #[test]
    fn another_org_is_the_only_reason_given() {
        let saved = plan(Vec::new());
        let mut fresh = plan(Vec::new());
        fresh.target.org_id = "00D000000000002AAA".to_owned();
        let reasons = differences(&saved, &fresh, &org());
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].contains("org 00D000000000002AAA"));
    }
}
