//! The source snapshot seen per user: whether and how the user is assigned, the app roles that
//! gives (Default Access gives none), the groups the user is a direct member of, and the
//! attributes expressions read, including the computed `appRoleAssignments`.

use super::hash::HashMap;

use serde_json::Value as Json;

use crate::expr::Value;
use crate::model::{SourceSnapshot, SourceUser as Snapshotted};

/// The all-zero role id of "Default Access".
const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";
/// The role every gallery app ships for plain access (`value: null`): Default Access too.
const GALLERY_DEFAULT_ACCESS: &str = "msiam_access";

/// One source user, as the planner sees it.
pub(crate) struct SourceUser<'s> {
    pub(crate) id: &'s str,
    /// userPrincipalName, the user's key in plans.
    pub(crate) key: &'s str,
    pub(crate) raw: &'s crate::sorted_map::Fields,
    pub(crate) assigned: bool,
    /// Assigned directly, and the assigned groups the user is a direct member of.
    pub(crate) direct: bool,
    pub(crate) via: Vec<&'s str>,
    /// App-role values (and display names, for rules that name those).
    pub(crate) roles: Names<'s>,
    pub(crate) role_names: Names<'s>,
    /// Object ids and display names of the groups the user is a direct member of.
    pub(crate) groups: Names<'s>,
}

/// A small sorted set of names: a user holds a handful, and a Vec of them costs one allocation
/// where a `BTreeSet` costs a node, for each of 100,000 users.
#[derive(Debug, Default)]
pub(crate) struct Names<'s>(Vec<&'s str>);

impl<'s> Names<'s> {
    pub(crate) fn insert(&mut self, name: &'s str) {
        if let Err(at) = self.0.binary_search(&name) {
            // Room for exactly the names held: a Vec would make room for four at once, and
            // 100,000 users hold three of these each.
            self.0.reserve_exact(1);
            self.0.insert(at, name);
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.binary_search(&name).is_ok()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &&'s str> {
        self.0.iter()
    }
}

impl SourceUser<'_> {
    /// "assigned directly and via group SF Sales".
    pub(crate) fn assignment_reason(&self) -> String {
        let mut how: Vec<String> = Vec::new();
        if self.direct {
            how.push("directly".to_owned());
        }
        how.extend(self.via.iter().map(|g| format!("via group {g}")));
        if how.is_empty() {
            "in scope".to_owned()
        } else {
            format!("assigned {}", how.join(" and "))
        }
    }
}

/// Expressions read the snapshot's attributes as they are, plus `appRoleAssignments`.
impl crate::expr::Attributes for SourceUser<'_> {
    fn attribute(&self, name: &str) -> Value {
        if name == "appRoleAssignments" {
            return Value::Multi(self.roles.iter().map(|r| (*r).to_owned()).collect());
        }
        let found = self.raw.get(name).or_else(|| {
            // Graph attribute names are camelCase; forgive a different case.
            self.raw
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        });
        found
            .and_then(|v| Value::from_json(v).ok())
            .unwrap_or(Value::Null)
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
    let mut direct: HashMap<&str, Vec<&str>> = HashMap::default();
    let mut group_roles: HashMap<&str, Vec<&str>> = HashMap::default();
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
    let mut member_of: HashMap<&str, Vec<&crate::model::Group>> = HashMap::default();
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
    roles: &HashMap<&str, (Option<&'s str>, &'s str)>,
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
            .unwrap_or(&user.id),
        raw: &user.attributes,
        assigned: false,
        direct: false,
        via: Vec::new(),
        roles: Names::default(),
        role_names: Names::default(),
        groups: Names::default(),
    };
    let grant = |view: &mut SourceUser<'s>, role_id: &str| {
        view.assigned = true;
        if role_id == DEFAULT_ACCESS {
            return;
        }
        // A role without a claim value (Salesforce profiles imported as app roles have none)
        // is a real role, known by its display name; only the gallery's msiam_access is Default
        // Access.
        match roles.get(role_id) {
            Some((_, name)) if *name == GALLERY_DEFAULT_ACCESS => {}
            Some((value, name)) => {
                view.roles.insert(value.unwrap_or(name));
                view.role_names.insert(name);
            }
            None => {}
        }
    };
    if let Some(ids) = direct.get(user.id.as_str()) {
        view.direct = true;
        for id in ids {
            grant(&mut view, id);
        }
    }
    for group in member_of.get(user.id.as_str()).into_iter().flatten() {
        view.groups.insert(&group.id);
        view.groups.insert(&group.display_name);
        if let Some(ids) = group_roles.get(group.id.as_str()) {
            view.via.reserve_exact(1);
            view.via.push(&group.display_name);
            for id in ids {
                grant(&mut view, id);
            }
        }
    }
    view
}
