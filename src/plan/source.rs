//! The source snapshot seen per user: whether and how the user is assigned, the app roles that
//! gives (Default Access gives none), the groups the user is a direct member of, and the
//! attributes expressions read, including the computed `appRoleAssignments`.

use crate::hash::HashMap;

use crate::expr::Value;
use crate::model::{SourceSnapshot, SourceUser as Snapshotted};
use crate::sorted_map::Name;
use crate::user_attributes::{AttributeValue, UserAttributes};

/// The all-zero role id of "Default Access".
const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";
/// The role every gallery app ships for plain access (`value: null`): Default Access too.
const GALLERY_DEFAULT_ACCESS: &str = "msiam_access";

/// One source user, as the planner sees it.
pub(crate) struct SourceUser<'s> {
    pub(crate) id: &'s str,
    /// userPrincipalName, the user's key in plans.
    pub(crate) key: &'s str,
    /// The attributes, read through `raw()`.
    raw: Raw<'s>,
    pub(crate) assigned: bool,
    /// Assigned directly, and the assigned groups the user is a direct member of.
    pub(crate) direct: bool,
    /// `via`, `roles`, `role_names` and `groups` one after the other, and where each of the
    /// last three starts: one allocation a user where four lists cost four (and 72 bytes more
    /// of the 100,000 views a plan holds).
    names: Box<[&'s str]>,
    starts: [u32; 3],
}

/// A user's attributes as the planner holds them: borrowed from a snapshot the caller keeps, or
/// taken from a snapshot the planner was given and let go once the user is planned
/// (`SourceUser::release`) — 100,000 users' attributes are some 42 MB the plan's peak then does
/// not hold. No cell: the views are shared with the planner's threads, and only the pass that
/// owns them (`&mut`) lets attributes go.
enum Raw<'s> {
    Kept(&'s UserAttributes),
    /// `None` once released.
    Held(Option<UserAttributes>),
}

/// A small sorted set of names, one of a user's (`SourceUser::roles` and the like).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Names<'a, 's>(&'a [&'s str]);

impl<'a, 's> Names<'a, 's> {
    pub(crate) fn contains(self, name: &str) -> bool {
        self.0.binary_search(&name).is_ok()
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// In order.
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a &'s str> {
        self.0.iter()
    }
}

/// Inserts `name` into the sorted `names` unless it is there.
fn insert_sorted<'s>(names: &mut Vec<&'s str>, name: &'s str) {
    if let Err(at) = names.binary_search(&name) {
        names.insert(at, name);
    }
}

impl<'s> SourceUser<'s> {
    /// Display names of the assigned groups the user is a direct member of, in group order.
    pub(crate) fn via(&self) -> &[&'s str] {
        &self.names[..self.starts[0] as usize]
    }

    /// App-role values (display names for roles without one).
    pub(crate) fn roles(&self) -> Names<'_, 's> {
        Names(&self.names[self.starts[0] as usize..self.starts[1] as usize])
    }

    /// App-role display names, for rules that name those.
    pub(crate) fn role_names(&self) -> Names<'_, 's> {
        Names(&self.names[self.starts[1] as usize..self.starts[2] as usize])
    }

    /// Object ids and display names of the groups the user is a direct member of.
    pub(crate) fn groups(&self) -> Names<'_, 's> {
        Names(&self.names[self.starts[2] as usize..])
    }

    /// The user's attributes (Entra names).
    ///
    /// # Panics
    /// In debug builds, when the user was released: nothing reads a planned user's attributes.
    pub(crate) fn raw(&self) -> &UserAttributes {
        static EMPTY: std::sync::LazyLock<UserAttributes> =
            std::sync::LazyLock::new(UserAttributes::default);
        match &self.raw {
            Raw::Kept(fields) => fields,
            Raw::Held(held) => {
                debug_assert!(
                    held.is_some(),
                    "{}'s attributes read after release",
                    self.key
                );
                held.as_ref().unwrap_or_else(|| &EMPTY)
            }
        }
    }

    /// Lets go of attributes taken from the snapshot (`users_taking`): the planner is done with
    /// the user. Borrowed attributes stay where they are.
    pub(crate) fn release(&mut self) {
        if let Raw::Held(held) = &mut self.raw {
            *held = None;
        }
    }

    /// "assigned directly and via group SF Sales".
    pub(crate) fn assignment_reason(&self) -> String {
        let mut how: Vec<String> = Vec::new();
        if self.direct {
            how.push("directly".to_owned());
        }
        how.extend(self.via().iter().map(|g| format!("via group {g}")));
        if how.is_empty() {
            "in scope".to_owned()
        } else {
            format!("assigned {}", how.join(" and "))
        }
    }
}

/// Whether `name` is `appRoleAssignments`, computed from the user's app roles: one comparison
/// of the name's one copy (`Name`), where comparing the text cost a `memcmp` for each of the
/// ten or so attributes a plan reads of each user.
fn is_app_role_assignments(name: Name) -> bool {
    static APP_ROLE_ASSIGNMENTS: std::sync::LazyLock<Name> =
        std::sync::LazyLock::new(|| Name::from("appRoleAssignments"));
    name == *APP_ROLE_ASSIGNMENTS
}

/// Expressions read the snapshot's attributes as they are, plus `appRoleAssignments`.
impl crate::expr::Attributes for SourceUser<'_> {
    fn attribute(&self, name: Name) -> Value {
        if is_app_role_assignments(name) {
            return Value::Multi(self.roles().iter().map(|r| (*r).to_owned()).collect());
        }
        let raw = self.raw();
        let found = raw.get_named(name).or_else(|| {
            // Graph attribute names are camelCase; forgive a different case.
            raw.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                .map(|(_, v)| v)
        });
        match found {
            Some(AttributeValue::Text(text)) => Value::Str(text.to_owned()),
            Some(AttributeValue::Json(json)) => Value::from_json(json).unwrap_or(Value::Null),
            None => Value::Null,
        }
    }

    fn text(&self, name: Name) -> Option<&str> {
        if is_app_role_assignments(name) {
            return None;
        }
        self.raw().get_named(name)?.as_str()
    }
}

/// Every source user of the snapshot, with assignments resolved.
pub(crate) fn users(source: &SourceSnapshot) -> Vec<SourceUser<'_>> {
    let users = source
        .users
        .iter()
        .map(|user| (user.id.as_str(), key_of(user), Raw::Kept(&user.attributes)));
    let members: Vec<&[String]> = source.groups.iter().map(|g| g.members.as_slice()).collect();
    views(source, users, &members)
}

/// The source users taken from a snapshot whose user list is gone: each user's object id and
/// key (userPrincipalName, or the id) from `names`, kept apart (what the views borrow), and its
/// attributes from `attributes` (in the same order), let go when the planner releases it.
/// `members` are the groups' members, taken from them too (in their order): read here, and
/// free to go once this returns.
pub(crate) fn users_taking<'s>(
    source: &'s SourceSnapshot,
    attributes: Vec<UserAttributes>,
    names: impl ExactSizeIterator<Item = (&'s str, &'s str)>,
    members: &[Vec<String>],
) -> Vec<SourceUser<'s>> {
    let users = names
        .zip(attributes)
        .map(|((id, key), fields)| (id, key, Raw::Held(Some(fields))));
    let members: Vec<&[String]> = members.iter().map(Vec::as_slice).collect();
    views(source, users, &members)
}

/// Each user's userPrincipalName, or its object id when it has none: a user's key in plans.
pub(crate) fn key_of(user: &Snapshotted) -> &str {
    user.attributes
        .text("userPrincipalName")
        .unwrap_or(&user.id)
}

/// The views of the users `users` gives (object id, key, attributes), with `source`'s
/// assignments and app roles and each group's members (in the snapshot's order).
fn views<'s>(
    source: &'s SourceSnapshot,
    users: impl ExactSizeIterator<Item = (&'s str, &'s str, Raw<'s>)>,
    members: &[&[String]],
) -> Vec<SourceUser<'s>> {
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
    let users: Vec<(&'s str, &'s str, Raw<'s>)> = users.collect();
    let ids: Vec<&str> = users.iter().map(|(id, _, _)| *id).collect();
    let memberships = memberships(&ids, members);
    drop(ids);
    let lookups = Lookups {
        roles: &roles,
        direct: &direct,
        group_roles: &group_roles,
    };
    let mut scratch = Scratch::default();
    let mut rest = memberships.as_slice();
    users
        .into_iter()
        .enumerate()
        .map(|(i, (id, key, raw))| {
            // The user's groups: the pairs that start with its index, in group order.
            let here = rest
                .iter()
                .take_while(|(user, _)| *user as usize == i)
                .count();
            let (mine, after) = rest.split_at(here);
            rest = after;
            let groups = mine.iter().map(|(_, g)| &source.groups[*g as usize]);
            view(id, key, raw, groups, &lookups, &mut scratch)
        })
        .collect()
}

/// Which user is a member of which group: (index in `ids`, index in `members`) pairs, sorted,
/// for every id each group's member list holds (a member that is no user in `ids` is left out;
/// a member listed twice counts twice). Found by walking each group's sorted members along the
/// ids in order — the live read gives both sorted — rather than through a map of 100,000 ids
/// (one hash and one list a user: some 40 ms of the plan for 100,000 users). Lists out of order
/// (a hand-edited snapshot) are searched member by member.
fn memberships(ids: &[&str], members: &[&[String]]) -> Vec<(u32, u32)> {
    // Indexes fit: a snapshot of four billion users or groups would not fit in memory.
    let index = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut order: Vec<u32> = (0..index(ids.len())).collect();
    // Stable, and near free when the ids are sorted already.
    order.sort_by(|a, b| ids[*a as usize].cmp(ids[*b as usize]));
    let id = |at: usize| ids[order[at] as usize];
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(members.iter().map(|m| m.len()).sum());
    for (g, list) in members.iter().enumerate() {
        let sorted = list.is_sorted();
        // Where the ids not below the member start: galloping on from the last member's place
        // while the members come in order, so a group's walk reads the ids once, in order.
        let mut from = 0;
        for member in *list {
            if !sorted {
                from = 0;
            }
            let mut step = 1;
            let mut to = from;
            while to < order.len() && id(to) < member.as_str() {
                from = to + 1;
                to = from + step;
                step *= 2;
            }
            let to = to.min(order.len());
            from += order[from..to].partition_point(|i| ids[*i as usize] < member.as_str());
            let mut at = from;
            while at < order.len() && id(at) == member.as_str() {
                pairs.push((order[at], index(g)));
                at += 1;
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

/// The lists a view is gathered in, emptied and used again for the next user: one allocation a
/// user (its `names`) instead of five.
#[derive(Default)]
struct Scratch<'s> {
    via: Vec<&'s str>,
    role_values: Vec<&'s str>,
    role_names: Vec<&'s str>,
    groups: Vec<&'s str>,
}

/// What every view looks up, made once for all users.
struct Lookups<'l, 's> {
    /// App role id → (value, display name).
    roles: &'l HashMap<&'l str, (Option<&'s str>, &'s str)>,
    /// The app role ids assigned to each user directly, by user id.
    direct: &'l HashMap<&'l str, Vec<&'l str>>,
    /// The app role ids assigned to each group, by group id.
    group_roles: &'l HashMap<&'l str, Vec<&'l str>>,
}

/// The view of one user, `groups` those it is a direct member of (in the snapshot's order).
fn view<'s>(
    id: &'s str,
    key: &'s str,
    raw: Raw<'s>,
    groups_of: impl Iterator<Item = &'s crate::model::Group>,
    lookups: &Lookups<'_, 's>,
    scratch: &mut Scratch<'s>,
) -> SourceUser<'s> {
    let Lookups {
        roles,
        direct,
        group_roles,
    } = lookups;
    let (mut assigned, mut directly) = (false, false);
    let Scratch {
        via,
        role_values,
        role_names,
        groups,
    } = scratch;
    for list in [&mut *via, &mut *role_values, &mut *role_names, &mut *groups] {
        list.clear();
    }
    let mut grant = |role_id: &str| {
        assigned = true;
        if role_id == DEFAULT_ACCESS {
            return;
        }
        // A role without a claim value (Salesforce profiles imported as app roles have none)
        // is a real role, known by its display name; only the gallery's msiam_access is Default
        // Access.
        match roles.get(role_id) {
            Some((_, name)) if *name == GALLERY_DEFAULT_ACCESS => {}
            Some((value, name)) => {
                insert_sorted(role_values, value.unwrap_or(name));
                insert_sorted(role_names, name);
            }
            None => {}
        }
    };
    if let Some(ids) = direct.get(id) {
        directly = true;
        for id in ids {
            grant(id);
        }
    }
    for group in groups_of {
        insert_sorted(groups, &group.id);
        insert_sorted(groups, &group.display_name);
        if let Some(ids) = group_roles.get(group.id.as_str()) {
            via.push(group.display_name.as_str());
            for id in ids {
                grant(id);
            }
        }
    }
    // A user is in far fewer than four billion groups.
    let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let starts = [
        at(via.len()),
        at(via.len() + role_values.len()),
        at(via.len() + role_values.len() + role_names.len()),
    ];
    let mut names =
        Vec::with_capacity(via.len() + role_values.len() + role_names.len() + groups.len());
    for list in [&*via, &*role_values, &*role_names, &*groups] {
        names.extend_from_slice(list);
    }
    SourceUser {
        id,
        key,
        raw,
        assigned,
        direct: directly,
        names: names.into_boxed_slice(),
        starts,
    }
}

#[cfg(test)]
mod tests {
    use super::memberships;

    /// What `memberships` finds, found the plain way: every member looked up among every id.
    fn plainly(ids: &[&str], members: &[&[String]]) -> Vec<(u32, u32)> {
        let mut pairs = Vec::new();
        for (g, list) in members.iter().enumerate() {
            for member in *list {
                for (i, id) in ids.iter().enumerate() {
                    if id == member {
                        pairs.push((u32::try_from(i).unwrap(), u32::try_from(g).unwrap()));
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs
    }

    #[test]
    fn memberships_are_found_for_sorted_and_unsorted_lists_alike() {
        // A small generator: the same lists every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % n).unwrap()
        };
        for round in 0..200 {
            let users = next(40);
            let names: Vec<String> = (0..users).map(|_| format!("u{:02}", next(60))).collect();
            let mut ids: Vec<&str> = names.iter().map(String::as_str).collect();
            // Most rounds as the live read gives them (sorted, one of each); some not.
            if round % 3 != 0 {
                ids.sort_unstable();
                ids.dedup();
            }
            let lists: Vec<Vec<String>> = (0..next(6))
                .map(|_| {
                    let mut list: Vec<String> =
                        (0..next(30)).map(|_| format!("u{:02}", next(70))).collect();
                    if next(4) != 0 {
                        list.sort();
                    }
                    list
                })
                .collect();
            let members: Vec<&[String]> = lists.iter().map(Vec::as_slice).collect();
            assert_eq!(
                memberships(&ids, &members),
                plainly(&ids, &members),
                "{ids:?} {members:?}"
            );
        }
    }
}
