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
    /// Current assignments of the access objects the config names, by user id (15 characters).
    pub(super) grants: HashMap<&'t str, Vec<&'t GrantAssignment>>,
    /// Access objects by id (15 characters).
    pub(super) objects: HashMap<&'t str, &'t AccessObject>,
    /// The User roster signs in as.
    pub(super) api_user_id: Option<&'t str>,
}

impl<'t> Org<'t> {
    pub(super) fn new(target: &'t TargetSnapshot) -> Org<'t> {
        let mut grants: HashMap<&str, Vec<&GrantAssignment>> = HashMap::default();
        for a in &target.grants {
            grants
                .entry(crate::salesforce::id15(&a.assignee_id))
                .or_default()
                .push(a);
        }
        Org {
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
