//! The source snapshot seen per user: whether and how the user is assigned, the app roles that
//! gives (Default Access gives none), the groups the user is a direct member of, and the
//! attributes expressions read, including the computed `appRoleAssignments`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value as Json};

use crate::expr::Value;
use crate::model::{SourceSnapshot, SourceUser as Snapshotted};

/// The all-zero role id of "Default Access".
const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";

/// One source user, as the planner sees it.
pub(crate) struct SourceUser<'s> {
    pub(crate) id: &'s str,
    /// userPrincipalName, the user's key in plans.
    pub(crate) key: String,
    pub(crate) raw: &'s Map<String, Json>,
    pub(crate) assigned: bool,
    /// How the user is assigned: "directly", "via group SF Sales", ...
    pub(crate) via: Vec<String>,
    /// App-role values (and display names, for rules that name those).
    pub(crate) roles: BTreeSet<String>,
    pub(crate) role_names: BTreeSet<String>,
    /// Object ids and display names of the groups the user is a direct member of.
    pub(crate) groups: BTreeSet<String>,
    /// What expressions read.
    pub(crate) attributes: BTreeMap<String, Value>,
}

impl SourceUser<'_> {
    pub(crate) fn assignment_reason(&self) -> String {
        if self.via.is_empty() {
            "in scope".to_owned()
        } else {
            format!("assigned {}", self.via.join(" and "))
        }
    }
}

/// Every source user of the snapshot, with assignments resolved.
pub(crate) fn users(source: &SourceSnapshot) -> Vec<SourceUser<'_>> {
    let roles: HashMap<&str, (Option<&str>, &str)> = source
        .application
        .app_roles
        .iter()
        .map(|r| (r.id.as_str(), (r.value.as_deref(), r.display_name.as_str())))
        .collect();
    let mut direct: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut group_roles: HashMap<&str, Vec<&str>> = HashMap::new();
    for a in &source.assignments {
        match a.principal_type.as_str() {
            "User" => direct
                .entry(&a.principal_id)
                .or_default()
                .push(&a.app_role_id),
            "Group" => group_roles
                .entry(&a.principal_id)
                .or_default()
                .push(&a.app_role_id),
            _ => {}
        }
    }
    let mut member_of: HashMap<&str, Vec<&crate::model::Group>> = HashMap::new();
    for group in &source.groups {
        for member in &group.members {
            member_of.entry(member).or_default().push(group);
        }
    }
    source
        .users
        .iter()
        .map(|user| view(user, &roles, &direct, &group_roles, &member_of))
        .collect()
}

fn view<'s>(
    user: &'s Snapshotted,
    roles: &HashMap<&str, (Option<&str>, &str)>,
    direct: &HashMap<&str, Vec<&str>>,
    group_roles: &HashMap<&str, Vec<&str>>,
    member_of: &HashMap<&str, Vec<&'s crate::model::Group>>,
) -> SourceUser<'s> {
    let mut view = SourceUser {
        id: &user.id,
        key: user
            .attributes
            .get("userPrincipalName")
            .and_then(Json::as_str)
            .unwrap_or(&user.id)
            .to_owned(),
        raw: &user.attributes,
        assigned: false,
        via: Vec::new(),
        roles: BTreeSet::new(),
        role_names: BTreeSet::new(),
        groups: BTreeSet::new(),
        attributes: BTreeMap::new(),
    };
    let grant = |view: &mut SourceUser<'s>, role_id: &str| {
        view.assigned = true;
        if role_id == DEFAULT_ACCESS {
            return;
        }
        if let Some((Some(value), name)) = roles.get(role_id) {
            view.roles.insert((*value).to_owned());
            view.role_names.insert((*name).to_owned());
        }
    };
    if let Some(ids) = direct.get(user.id.as_str()) {
        view.via.push("directly".to_owned());
        for id in ids {
            grant(&mut view, id);
        }
    }
    for group in member_of.get(user.id.as_str()).into_iter().flatten() {
        view.groups.insert(group.id.clone());
        view.groups.insert(group.display_name.clone());
        if let Some(ids) = group_roles.get(group.id.as_str()) {
            view.via.push(format!("via group {}", group.display_name));
            for id in ids {
                grant(&mut view, id);
            }
        }
    }
    for (name, value) in &user.attributes {
        if let Ok(value) = Value::from_json(value) {
            view.attributes.insert(name.clone(), value);
        }
    }
    view.attributes.insert(
        "appRoleAssignments".to_owned(),
        Value::Multi(view.roles.iter().cloned().collect()),
    );
    view
}
