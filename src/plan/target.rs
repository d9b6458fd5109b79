//! The Salesforce side as the planner sees it: fields of target users, the org's names and
//! ids, and which users roster owns and may touch.

use crate::hash::HashMap;

use crate::config::Config;
use crate::model::{AccessObject, GrantAssignment, TargetSnapshot, TargetUser};

/// Why roster never changes, deactivates or freezes `user`, if it never does
/// (`Org::protection`).
pub(crate) fn protection(
    config: &Config,
    target: &TargetSnapshot,
    user: &TargetUser,
) -> Option<&'static str> {
    Org::new(target).protection(config, user)
}

/// The org's names and ids, and the rules about which users roster may touch.
pub(super) struct Org<'t> {
    /// Profile names by id (names in the config are resolved in `names.rs`).
    pub(super) profile_names: HashMap<&'t str, &'t str>,
    /// The user licence of each profile that names one, by profile id.
    pub(super) profile_licences: HashMap<&'t str, &'t str>,
    /// Current assignments of the access objects the config names, by user (`grants_of`): in
    /// the snapshot's order within each user, the users one after another.
    assignments: Vec<&'t GrantAssignment>,
    /// Where each user's assignments are in `assignments` (start, count), by user id (15
    /// characters): a range, where a list a user took an allocation of its own (some 3 MB for
    /// 98,000 users).
    grants: HashMap<&'t str, (u32, u32)>,
    /// Access objects by id (15 characters).
    pub(super) objects: HashMap<&'t str, &'t AccessObject>,
    /// The User roster signs in as.
    pub(super) api_user_id: Option<&'t str>,
}

impl<'t> Org<'t> {
    pub(super) fn new(target: &'t TargetSnapshot) -> Org<'t> {
        // Each user's count, then where each user's run starts, then each assignment put in
        // its user's run in the snapshot's order: two passes, no sort of 120,000 ids.
        let assignee = |a: &'t GrantAssignment| crate::salesforce::id15(&a.assignee_id);
        let mut grants: HashMap<&str, (u32, u32)> = HashMap::default();
        for a in &target.grants {
            grants.entry(assignee(a)).or_default().1 += 1;
        }
        let mut next = 0;
        for (start, count) in grants.values_mut() {
            (*start, next, *count) = (next, next + *count, 0);
        }
        let mut assignments: Vec<&GrantAssignment> = target.grants.iter().collect();
        for a in &target.grants {
            if let Some((start, count)) = grants.get_mut(assignee(a)) {
                assignments[(*start + *count) as usize] = a;
                *count += 1;
            }
        }
        Org {
            assignments,
            profile_names: target
                .profiles
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str()))
                .collect(),
            profile_licences: target
                .profiles
                .iter()
                .filter_map(|p| Some((p.id.as_str(), p.user_license_id.as_deref()?)))
                .collect(),
            grants,
            objects: target
                .access_objects
                .iter()
                .map(|o| (crate::salesforce::id15(&o.id), o))
                .collect(),
            api_user_id: target.api_user_id.as_deref(),
        }
    }

    /// The current assignments of user `id` (any form of the id), in the snapshot's order.
    pub(super) fn grants_of(&self, id: &str) -> &[&'t GrantAssignment] {
        self.grants
            .get(crate::salesforce::id15(id))
            .map_or(&[], |&(start, count)| {
                &self.assignments[start as usize..(start + count) as usize]
            })
    }

    /// Protected (`protection`).
    pub(super) fn protected(&self, config: &Config, user: &TargetUser) -> bool {
        self.protection(config, user).is_some()
    }

    /// One of Salesforce's internal users: its profile is not among those the org's Profile
    /// query lists (`protection`). Not a person: never one to deprovision by hand.
    pub(super) fn internal(&self, user: &TargetUser) -> bool {
        user.profile_id
            .as_deref()
            .is_none_or(|id| !self.profile_names.contains_key(id))
    }

    /// Why `user` is protected, if it is: `protect` names it (by Username or profile), roster
    /// signs in as it (deactivating or freezing it would lock roster out), or its profile is
    /// not among those the org's Profile query lists: Salesforce's internal users, such as the
    /// Automated Process user ("autoproc", whose profile "doesn't show up in places like
    /// Profiles"; UnofficialSF, "Understanding the Automated Process User"), which no one but
    /// Salesforce changes.
    pub(super) fn protection(&self, config: &Config, user: &TargetUser) -> Option<&'static str> {
        if self
            .api_user_id
            .is_some_and(|me| crate::salesforce::id15(me) == crate::salesforce::id15(&user.id))
        {
            return Some("roster signs in as it");
        }
        let Some(&profile) = user
            .profile_id
            .as_deref()
            .and_then(|id| self.profile_names.get(id))
        else {
            return Some(
                "its profile is not among those the org lists, as for Salesforce's internal \
                 users such as the Automated Process user",
            );
        };
        if config
            .protect
            .usernames
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&user.username))
        {
            Some("`protect` names it")
        } else if config.protect.profiles.iter().any(|p| p == profile) {
            Some("`protect` names its profile")
        } else {
            None
        }
    }
}

pub(super) fn owned(config: &Config, user: &TargetUser) -> bool {
    config
        .ownership
        .username_suffix
        .as_deref()
        .is_some_and(|suffix| {
            user.username
                .to_lowercase()
                .ends_with(&suffix.to_lowercase())
        })
}

/// Users a percentage threshold counts against: the active owned ones, or every active user
/// when no suffix is set. Inactive users are not counted: Salesforce never deletes a user, so
/// counting those already deactivated would let the allowance grow with every run.
pub(super) fn owned_count(config: &Config, target: &TargetSnapshot) -> usize {
    target
        .users
        .iter()
        .filter(|u| u.is_active && (config.ownership.username_suffix.is_none() || owned(config, u)))
        .count()
}

pub(super) fn fingerprint(user: &TargetUser) -> Option<Box<str>> {
    user.system_modstamp
        .as_deref()
        .or_else(|| user.text("LastModifiedDate"))
        .map(Box::from)
}

#[cfg(test)]
mod tests {
    use super::Org;
    use crate::grants::GrantKind;
    use crate::model::{GrantAssignment, TargetSnapshot};

    /// Each user's assignments, whatever order the snapshot interleaves them in: in the
    /// snapshot's order, found by the user's 15- or 18-character id; none for a user without.
    #[test]
    fn grants_of_a_user_are_theirs_in_the_snapshots_order() {
        let grant = |n: u32, assignee: &str| GrantAssignment {
            kind: GrantKind::PermissionSet,
            id: format!("0Pa00000000000{n}AAA").into(),
            assignee_id: assignee.into(),
            object_id: "0PS000000000001AAA".into(),
        };
        let (ann, bo, cy) = (
            "005000000000001AAA",
            "005000000000002AAA",
            "005000000000003AAA",
        );
        let target = TargetSnapshot {
            grants: vec![
                grant(1, bo),
                grant(2, ann),
                grant(3, bo),
                grant(4, cy),
                grant(5, ann),
                grant(6, bo),
            ],
            ..TargetSnapshot::default()
        };
        let org = Org::new(&target);
        let ids = |user: &str| -> Vec<String> {
            org.grants_of(user)
                .iter()
                .map(|g| g.id.to_string())
                .collect()
        };
        let id = |n: u32| format!("0Pa00000000000{n}AAA");
        assert_eq!(ids(ann), [id(2), id(5)]);
        assert_eq!(ids(bo), [id(1), id(3), id(6)]);
        assert_eq!(ids("005000000000002"), [id(1), id(3), id(6)]);
        assert_eq!(ids(cy), [id(4)]);
        assert!(ids("005000000000004AAA").is_empty());
    }
}
