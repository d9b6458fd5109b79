//! The Salesforce side as the planner sees it: fields of target users, the org's names and
//! ids, and which users roster owns and may touch.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::config::Config;
use crate::model::{TargetSnapshot, TargetUser};

/// A field of a target user (Salesforce field names are case-insensitive).
pub(super) fn field<'t>(user: &'t TargetUser, name: &str) -> Option<&'t Json> {
    user.fields.get(name).or_else(|| {
        user.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

pub(super) fn text(user: &TargetUser, name: &str) -> String {
    field(user, name)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn is_active(user: &TargetUser) -> bool {
    field(user, "IsActive") != Some(&Json::Bool(false))
}

/// The org's names and ids, and the rules about which users roster may touch.
pub(super) struct Org<'t> {
    pub(super) profiles: HashMap<&'t str, &'t str>,
    pub(super) profile_names: HashMap<&'t str, &'t str>,
    pub(super) roles: HashMap<&'t str, &'t str>,
    pub(super) sets: HashMap<&'t str, &'t str>,
    /// Current assignments of the sets the config names, by user id.
    pub(super) assignments: HashMap<&'t str, Vec<(&'t str, &'t str)>>,
}

impl<'t> Org<'t> {
    pub(super) fn new(target: &'t TargetSnapshot) -> Org<'t> {
        let mut roles: HashMap<&str, &str> = HashMap::new();
        for r in &target.roles {
            roles.insert(&r.name, &r.id);
            if let Some(dev) = &r.developer_name {
                roles.entry(dev).or_insert(&r.id);
            }
        }
        let mut assignments: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for a in &target.permission_set_assignments {
            assignments
                .entry(&a.assignee_id)
                .or_default()
                .push((&a.permission_set_id, &a.id));
        }
        Org {
            profiles: target
                .profiles
                .iter()
                .map(|p| (p.name.as_str(), p.id.as_str()))
                .collect(),
            profile_names: target
                .profiles
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str()))
                .collect(),
            roles,
            sets: target
                .permission_sets
                .iter()
                .map(|s| (s.name.as_str(), s.id.as_str()))
                .collect(),
            assignments,
        }
    }

    pub(super) fn protected(&self, config: &Config, user: &TargetUser) -> bool {
        let username = text(user, "Username");
        let profile = self
            .profile_names
            .get(text(user, "ProfileId").as_str())
            .copied()
            .unwrap_or_default();
        config
            .protect
            .usernames
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&username))
            || config.protect.profiles.iter().any(|p| p == profile)
    }
}

pub(super) fn owned(config: &Config, user: &TargetUser) -> bool {
    config
        .ownership
        .username_suffix
        .as_deref()
        .is_some_and(|suffix| {
            text(user, "Username")
                .to_lowercase()
                .ends_with(&suffix.to_lowercase())
        })
}

/// Users a percentage threshold counts against: owned ones, or all when no suffix is set.
pub(super) fn owned_count(config: &Config, target: &TargetSnapshot) -> usize {
    if config.ownership.username_suffix.is_none() {
        return target.users.len();
    }
    target.users.iter().filter(|u| owned(config, u)).count()
}

pub(super) fn fingerprint(user: &TargetUser) -> Option<String> {
    field(user, "SystemModstamp")
        .or_else(|| field(user, "LastModifiedDate"))
        .and_then(Json::as_str)
        .map(str::to_owned)
}
