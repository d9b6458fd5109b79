//! The reconcile policy (`reconcile.auto_apply`): whether a plan may be carried out without a
//! review, as `roster apply --policy` does on a schedule. A plan is held when it holds a kind of
//! change the policy does not allow, or more of a kind than its limit; each reason says which.

use std::collections::{BTreeMap, HashMap};

use super::{Action, AppRoleAction, Plan};
use crate::config::{AutoApply, PolicyAction};
use crate::field_value::FieldValue;
use crate::model::{Profile, TargetSnapshot};

/// What the policy and the plan's warnings read of the org besides the plan: its profiles, and
/// the profile each user holds now whom a change gives sign-in back to without moving them
/// (a reactivation or an unfreeze of a dormant administrator).
#[derive(Clone, Debug, Default)]
pub(crate) struct Standing {
    pub(crate) profiles: Vec<Profile>,
    /// Salesforce User id → its `ProfileId` now, for those changes' users only.
    pub(crate) profile_now: HashMap<Box<str>, Box<str>>,
}

impl Standing {
    /// The org's profiles, and the profile of each user `plan` reactivates or unfreezes, from
    /// the snapshot the plan was made from.
    pub(crate) fn read(plan: &Plan, target: &TargetSnapshot) -> Standing {
        let ids: std::collections::HashSet<&str> = plan
            .changes
            .iter()
            .filter(|c| gives_sign_in_back(c))
            .filter_map(|c| c.target_id.as_deref())
            .collect();
        Standing {
            profiles: target.profiles.clone(),
            profile_now: target
                .users
                .iter()
                .filter(|u| ids.contains(u.id.as_str()))
                .filter_map(|u| Some((u.id.as_str().into(), u.profile_id.as_deref()?.into())))
                .collect(),
        }
    }
}

/// How a change makes a user an administrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Made {
    /// Created into the profile.
    Created,
    /// Moved to it from another (an update or a reactivation writing `ProfileId`).
    Moved,
    /// Reactivated in the profile they hold.
    Reactivated,
    /// Unfrozen in the profile they hold.
    Unfrozen,
}

impl Made {
    /// The word plans use for it: `alice@example.com (reactivated)`.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Made::Created => "created",
            Made::Moved => "moved",
            Made::Reactivated => "reactivated",
            Made::Unfrozen => "unfrozen",
        }
    }
}

/// Whether `change` unfreezes its user: an update writing `IsFrozen` from true to false.
fn unfreezes(change: &super::Change) -> bool {
    change.action == Action::Update
        && change.before.get("IsFrozen") == Some(&FieldValue::Bool(true))
        && change.after.get("IsFrozen") == Some(&FieldValue::Bool(false))
}

/// Whether `change` gives its user sign-in back: a reactivation or an unfreeze.
fn gives_sign_in_back(change: &super::Change) -> bool {
    change.action == Action::Reactivate || unfreezes(change)
}

/// Why `plan` is held under `policy`; empty when it may be applied. `standing` is the org's,
/// read with the plan: a create into a profile with administrative permissions makes an
/// administrator, and so does giving sign-in back to a user who holds one; each needs `grants`,
/// as a move into it would.
pub(crate) fn held(plan: &Plan, policy: &AutoApply, standing: &Standing) -> Vec<String> {
    let allows = |action: PolicyAction| policy.allow.contains(&action);
    let count = |actions: &[Action]| {
        plan.changes
            .iter()
            .filter(|c| actions.contains(&c.action))
            .count()
    };
    let mut reasons = Vec::new();
    for (action, kind) in [
        (Action::Create, PolicyAction::Create),
        (Action::Update, PolicyAction::Update),
        (Action::Reactivate, PolicyAction::Reactivate),
        (Action::Deactivate, PolicyAction::Deactivate),
        (Action::Freeze, PolicyAction::Freeze),
    ] {
        let n = count(&[action]);
        if n > 0 && !allows(kind) {
            reasons.push(format!(
                "{n} change(s) to {}, which reconcile.auto_apply.allow does not list",
                kind.name()
            ));
        }
    }
    // An update that unfreezes a user gives sign-in back, as a reactivation does: a freeze an
    // admin made (a compromised account) is not undone unreviewed under `update` alone.
    let unfrozen = plan.changes.iter().filter(|c| unfreezes(c)).count();
    if unfrozen > 0 && !allows(PolicyAction::Reactivate) {
        reasons.push(format!(
            "{unfrozen} change(s) unfreeze a user (sign-in given back), which \
             reconcile.auto_apply.allow does not list (`reactivate`)"
        ));
    }
    let with_grants = plan.changes.iter().filter(|c| changes_access(c)).count();
    if with_grants > 0 && !allows(PolicyAction::Grants) {
        reasons.push(format!(
            "{with_grants} change(s) add or remove grants or feature licences, or move a user \
             to another profile or role, which reconcile.auto_apply.allow does not list \
             (`grants`)"
        ));
    }
    if !allows(PolicyAction::Grants) {
        reasons.extend(administrators_unreviewed(plan, standing));
    }
    if !plan.app_roles.is_empty() && !allows(PolicyAction::AppRoles) {
        let disabling = plan
            .app_roles
            .iter()
            .filter(|r| matches!(r.action, AppRoleAction::Disable | AppRoleAction::Remove))
            .count();
        reasons.push(format!(
            "{} app role change(s) ({disabling} disabling or removing), which \
             reconcile.auto_apply.allow does not list (`app_roles`)",
            plan.app_roles.len()
        ));
    }
    for (limit, actions, what, key) in [
        (
            policy.max_creates,
            &[Action::Create][..],
            "create(s)",
            "max_creates",
        ),
        (
            policy.max_updates,
            &[Action::Update, Action::Reactivate],
            "update(s) and reactivation(s)",
            "max_updates",
        ),
        (
            policy.max_deactivations,
            &[Action::Deactivate, Action::Freeze],
            "deactivation(s) and freeze(s)",
            "max_deactivations",
        ),
    ] {
        let n = count(actions);
        if let Some(limit) = limit
            && n > limit as usize
        {
            reasons.push(format!(
                "{n} {what}, more than reconcile.auto_apply.{key} ({limit})"
            ));
        }
    }
    reasons
}

/// The changes of `plan` that leave a user able to sign in with a profile with administrative
/// permissions (one of `standing.profiles` whose `administrative` list is not empty): a create
/// into it, an update or a reactivation moving the user to it, or a reactivation or an unfreeze
/// of a user who holds it — each with that profile (`None` for one the org does not list) and
/// how. The field name is read in any case, the id in either form.
pub(crate) fn administrators_made<'c, 'p>(
    plan: &'c Plan,
    standing: &'p Standing,
) -> impl Iterator<Item = (&'c super::Change, Option<&'p Profile>, Made)> {
    // Each profile's id in its 15-character form, read once: a plan of 100,000 creates looks
    // a profile up for each.
    let canonical: Vec<Option<[u8; 15]>> = standing
        .profiles
        .iter()
        .map(|p| crate::salesforce::canonical_id(&p.id))
        .collect();
    // The profile each id written is, by the id as written.
    let mut found: crate::hash::HashMap<Box<str>, Option<usize>> = crate::hash::HashMap::default();
    plan.changes.iter().filter_map(move |change| {
        let written = change
            .after
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("ProfileId"))
            .and_then(|(_, id)| id.as_str());
        let (id, made) = match (written, change.action) {
            (Some(id), Action::Create) => (id, Made::Created),
            (Some(id), _) => (id, Made::Moved),
            (None, action) if gives_sign_in_back(change) => {
                let now = standing.profile_now.get(change.target_id.as_deref()?)?;
                let made = if action == Action::Reactivate {
                    Made::Reactivated
                } else {
                    Made::Unfrozen
                };
                (&**now, made)
            }
            (None, _) => return None,
        };
        // `salesforce::same_id`, with the profiles' side read once, and each id written
        // looked up once: 100,000 creates write a handful of profiles' ids.
        let at = if let Some(at) = found.get(id) {
            *at
        } else {
            let wanted = crate::salesforce::canonical_id(id);
            let at = standing
                .profiles
                .iter()
                .zip(&canonical)
                .position(|(p, canonical)| match (canonical, wanted) {
                    (Some(a), Some(b)) => *a == b,
                    _ => p.id.eq_ignore_ascii_case(id),
                });
            found.insert(id.into(), at);
            at
        };
        match at.map(|at| &standing.profiles[at]) {
            Some(p) if p.administrative.is_empty() => None,
            profile => Some((change, profile, made)),
        }
    })
}

/// Why `plan` needs `grants` for the administrators it makes without a move (a move is held as
/// any profile move is): the creates, and the reactivations and unfreezes of users who hold
/// such a profile, each counted per profile with its permissions. A profile the org does not
/// list counts as one (a plan made now names only the org's; nothing is let through unseen).
fn administrators_unreviewed(plan: &Plan, standing: &Standing) -> Vec<String> {
    let mut created: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    let mut revived: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for (_, profile, made) in administrators_made(plan, standing) {
        let found = match made {
            Made::Created => &mut created,
            Made::Reactivated | Made::Unfrozen => &mut revived,
            Made::Moved => continue,
        };
        let (name, permissions) = profile.map_or_else(
            || ("a profile the org does not list", "unknown".to_owned()),
            |p| (p.name.as_str(), p.administrative.join(", ")),
        );
        found.entry(name).or_insert((0, permissions)).0 += 1;
    }
    let reason = |found: &BTreeMap<&str, (usize, String)>, what: &str, preposition: &str| {
        let n: usize = found.values().map(|(count, _)| count).sum();
        let named: Vec<String> = found
            .iter()
            .map(|(name, (count, permissions))| {
                format!("{count} {preposition} {name}: {permissions}")
            })
            .collect();
        (n > 0).then(|| {
            format!(
                "{n} {what} a profile with administrative permissions ({}), which \
                 reconcile.auto_apply.allow does not list (`grants`)",
                named.join("; ")
            )
        })
    };
    [
        reason(&created, "create(s) into", "into"),
        reason(
            &revived,
            "reactivation(s) or unfreeze(s) give sign-in back to a user holding",
            "in",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Whether `change` changes what a user can see and do, as `grants` counts it: a grant added
/// or removed; a feature licence turned on or off (it takes or frees one of the org's seats,
/// though the change writes it as a User checkbox, `UserPermissionsKnowledgeUser`, rather than
/// a grant record); or an existing user moved to another profile or role (Standard User to
/// System Administrator is one field). A create's profile is the create's own, unless it makes
/// an administrator (`administrators_unreviewed`, a reason of its own). Field names
/// compare without case, as Salesforce reads them (a saved plan is a file anyone can edit).
fn changes_access(change: &super::Change) -> bool {
    let feature_licence = |name: &crate::sorted_map::Name| {
        crate::grants::FEATURE_LICENSES
            .iter()
            .any(|f| f.field.eq_ignore_ascii_case(name))
    };
    let profile_or_role = |name: &crate::sorted_map::Name| {
        ["ProfileId", "UserRoleId"]
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
    };
    !change.grants.add.is_empty()
        || !change.grants.remove.is_empty()
        || change
            .after
            .keys()
            .chain(change.before.keys())
            .any(feature_licence)
        || (matches!(change.action, Action::Update | Action::Reactivate)
            && change.after.keys().any(profile_or_role))
}

#[cfg(test)]
mod tests {
    use crate::config::{AutoApply, PolicyAction};
    use crate::grants::GrantKind;
    use crate::model::Profile;
    use crate::plan::{Action, Change, GrantRef, Plan, Situation};

    fn change(action: Action, key: &str) -> Change {
        Change::new(action, key.to_owned(), Situation::Linked)
    }

    /// The org's profiles: Standard User, and System Administrator with two administrative
    /// permissions.
    fn profiles() -> Vec<Profile> {
        vec![
            Profile {
                id: "00e000000000001AAA".into(),
                name: "Standard User".into(),
                ..Profile::default()
            },
            Profile {
                id: "00e000000000002AAA".into(),
                name: "System Administrator".into(),
                administrative: vec!["ModifyAllData".into(), "ManageUsers".into()],
                ..Profile::default()
            },
        ]
    }

    /// The org: `profiles()`, with the user `005000000000ADM` holding System Administrator and
    /// `005000000000STD` Standard User.
    fn standing() -> super::Standing {
        super::Standing {
            profiles: profiles(),
            profile_now: [
                ("005000000000ADMAAA", "00e000000000002AAA"),
                ("005000000000STDAAA", "00e000000000001AAA"),
            ]
            .into_iter()
            .map(|(user, profile)| (user.into(), profile.into()))
            .collect(),
        }
    }

    fn held(plan: &Plan, policy: &AutoApply) -> Vec<String> {
        super::held(plan, policy, &standing())
    }

    fn policy(allow: &[PolicyAction]) -> AutoApply {
        AutoApply {
            allow: allow.to_vec(),
            max_creates: Some(2),
            max_updates: None,
            max_deactivations: Some(0),
        }
    }

    /// An update that unfreezes a user needs `reactivate`: `update` alone does not give an
    /// admin's frozen user their sign-in back.
    #[test]
    fn an_unfreeze_needs_reactivate() {
        use PolicyAction::{Reactivate, Update};
        let mut unfrozen = change(Action::Update, "a");
        unfrozen
            .before
            .insert("IsFrozen".into(), (serde_json::json!(true)).into());
        unfrozen
            .after
            .insert("IsFrozen".into(), (serde_json::json!(false)).into());
        let mut plan = Plan {
            changes: vec![unfrozen, change(Action::Update, "b")],
            ..Plan::default()
        };
        assert_eq!(
            held(&plan, &policy(&[Update])),
            ["1 change(s) unfreeze a user (sign-in given back), which \
                 reconcile.auto_apply.allow does not list (`reactivate`)"]
        );
        assert!(held(&plan, &policy(&[Update, Reactivate])).is_empty());
        // A freeze is its own kind, not an unfreeze.
        plan.changes[0]
            .before
            .insert("IsFrozen".into(), (serde_json::json!(false)).into());
        plan.changes[0]
            .after
            .insert("IsFrozen".into(), (serde_json::json!(true)).into());
        assert!(held(&plan, &policy(&[Update])).is_empty());
    }

    /// An existing user moved to another profile or role (Standard User to System
    /// Administrator is one field) is an access change: it needs `grants`, as a permission set
    /// does, whether the move comes with an update or a reactivation, and however a hand-edited
    /// plan spells the field. A create into a profile without administrative permissions is
    /// the create's own.
    #[test]
    fn a_profile_or_role_move_needs_grants() {
        use PolicyAction::{Create, Grants, Reactivate, Update};
        for (action, field) in [
            (Action::Update, "ProfileId"),
            (Action::Update, "UserRoleId"),
            (Action::Reactivate, "ProfileId"),
            (Action::Update, "profileid"),
        ] {
            let mut moved = change(action, "a");
            moved.before.insert(
                field.into(),
                (serde_json::json!("00e000000000001AAA")).into(),
            );
            moved.after.insert(
                field.into(),
                (serde_json::json!("00e000000000002AAA")).into(),
            );
            let plan = Plan {
                changes: vec![moved, change(Action::Update, "b")],
                ..Plan::default()
            };
            let reasons = held(&plan, &policy(&[Update, Reactivate]));
            assert_eq!(reasons.len(), 1, "{field}: {reasons:?}");
            assert!(
                reasons[0].starts_with("1 change(s) add or remove grants")
                    && reasons[0].contains("another profile or role"),
                "{reasons:?}"
            );
            assert!(held(&plan, &policy(&[Update, Reactivate, Grants])).is_empty());
        }
        let mut created = change(Action::Create, "c");
        created.after.insert(
            "ProfileId".into(),
            (serde_json::json!("00e000000000001AAA")).into(),
        );
        let plan = Plan {
            changes: vec![created],
            ..Plan::default()
        };
        assert!(held(&plan, &policy(&[Create])).is_empty());
    }

    /// A create into a profile with administrative permissions makes an administrator, as a
    /// move into it would: it needs `grants`, and the reason names the profile and what it
    /// grants. The profile's id is read in either of its forms, its field name in any case; a
    /// profile the org does not list counts as one.
    #[test]
    fn a_create_into_an_administrators_profile_needs_grants() {
        use PolicyAction::{Create, Grants};
        let create = |key: &str, field: &str, profile: &str| {
            let mut created = change(Action::Create, key);
            created
                .after
                .insert(field.into(), (serde_json::json!(profile)).into());
            created
        };
        let plan = Plan {
            changes: vec![
                create("a", "ProfileId", "00e000000000002AAA"),
                create("b", "profileid", "00e000000000002"),
            ],
            ..Plan::default()
        };
        assert_eq!(
            held(&plan, &policy(&[Create])),
            [
                "2 create(s) into a profile with administrative permissions (2 into System \
                 Administrator: ModifyAllData, ManageUsers), which reconcile.auto_apply.allow \
                 does not list (`grants`)"
            ]
        );
        assert!(held(&plan, &policy(&[Create, Grants])).is_empty());
        // A Standard User create alone goes through under `create`.
        let plan = Plan {
            changes: vec![create("c", "ProfileId", "00e000000000001AAA")],
            ..Plan::default()
        };
        assert!(held(&plan, &policy(&[Create])).is_empty());
        // A profile the org does not list.
        let plan = Plan {
            changes: vec![create("d", "ProfileId", "00e000000000009AAA")],
            ..Plan::default()
        };
        assert_eq!(
            held(&plan, &policy(&[Create])),
            [
                "1 create(s) into a profile with administrative permissions (1 into a profile \
                 the org does not list: unknown), which reconcile.auto_apply.allow does not \
                 list (`grants`)"
            ]
        );
    }

    /// Giving sign-in back to a dormant administrator (a reactivation or an unfreeze of a user
    /// whose profile has administrative permissions, moving no profile) makes an administrator
    /// as a create into that profile does: it needs `grants` beside `reactivate`. A Standard
    /// User's reactivation does not.
    #[test]
    fn giving_sign_in_back_to_an_administrator_needs_grants() {
        use PolicyAction::{Grants, Reactivate, Update};
        let revive = |action: Action, user: &str| {
            let mut revived = change(action, user);
            revived.target_id = Some(user.into());
            if action == Action::Update {
                revived
                    .before
                    .insert("IsFrozen".into(), (serde_json::json!(true)).into());
                revived
                    .after
                    .insert("IsFrozen".into(), (serde_json::json!(false)).into());
            } else {
                revived
                    .before
                    .insert("IsActive".into(), (serde_json::json!(false)).into());
                revived
                    .after
                    .insert("IsActive".into(), (serde_json::json!(true)).into());
            }
            revived
        };
        let plan = Plan {
            changes: vec![
                revive(Action::Reactivate, "005000000000ADMAAA"),
                revive(Action::Update, "005000000000ADMAAA"),
                revive(Action::Reactivate, "005000000000STDAAA"),
            ],
            ..Plan::default()
        };
        assert_eq!(
            held(&plan, &policy(&[Update, Reactivate])),
            [
                "2 reactivation(s) or unfreeze(s) give sign-in back to a user holding a profile \
                 with administrative permissions (2 in System Administrator: ModifyAllData, \
                 ManageUsers), which reconcile.auto_apply.allow does not list (`grants`)"
            ]
        );
        assert!(held(&plan, &policy(&[Update, Reactivate, Grants])).is_empty());
        let made: Vec<&str> = super::administrators_made(&plan, &standing())
            .map(|(_, _, made)| made.word())
            .collect();
        assert_eq!(made, ["reactivated", "unfrozen"]);
        // The Standard User's alone goes through under `reactivate`.
        let plan = Plan {
            changes: vec![revive(Action::Reactivate, "005000000000STDAAA")],
            ..Plan::default()
        };
        assert!(held(&plan, &policy(&[Reactivate])).is_empty());
    }

    /// A create's `ProfileId` names the org's profile in its 15- or 18-character form, the
    /// latter in any case; an id the org does not list is reported as one, each time.
    #[test]
    fn a_created_administrators_profile_is_found_by_its_id_in_either_form() {
        let create = |profile: &str| {
            let mut created = change(Action::Create, "a");
            created
                .after
                .insert("ProfileId".into(), (serde_json::json!(profile)).into());
            created
        };
        let plan = Plan {
            changes: [
                "00e000000000002",
                "00E000000000002aaa",
                "00e000000000001",
                "00e00000000000X",
                // Each again, after the others: an id is looked up once, and found again.
                "00e000000000001",
                "00E000000000002aaa",
                "00e00000000000X",
                "00e000000000002",
            ]
            .into_iter()
            .map(create)
            .collect(),
            ..Plan::default()
        };
        let standing = standing();
        let made: Vec<Option<&str>> = super::administrators_made(&plan, &standing)
            .map(|(_, profile, _)| profile.map(|p| p.name.as_str()))
            .collect();
        assert_eq!(
            made,
            [
                Some("System Administrator"),
                Some("System Administrator"),
                None,
                Some("System Administrator"),
                None,
                Some("System Administrator"),
            ]
        );
    }

    #[test]
    fn a_plan_is_held_for_each_limit_and_kind_and_applied_within_them() {
        use PolicyAction::{Create, Deactivate, Grants, Update};
        let mut plan = Plan {
            changes: vec![change(Action::Create, "a"), change(Action::Update, "b")],
            ..Plan::default()
        };
        // Within: creates and updates allowed, 1 create of at most 2.
        assert_eq!(
            held(&plan, &policy(&[Create, Update])),
            Vec::<String>::new()
        );
        // A kind not allowed.
        assert_eq!(
            held(&plan, &policy(&[Create])),
            ["1 change(s) to update, which reconcile.auto_apply.allow does not list"]
        );
        // Over a limit.
        plan.changes.push(change(Action::Create, "c"));
        plan.changes.push(change(Action::Create, "d"));
        assert_eq!(
            held(&plan, &policy(&[Create, Update])),
            ["3 create(s), more than reconcile.auto_apply.max_creates (2)"]
        );
        // A deactivation: allowed as a kind, but its limit is 0.
        plan.changes = vec![change(Action::Deactivate, "e")];
        assert_eq!(
            held(&plan, &policy(&[Deactivate])),
            [
                "1 deactivation(s) and freeze(s), more than reconcile.auto_apply.max_deactivations (0)"
            ]
        );
        // Grants need `grants`.
        let mut granted = change(Action::Update, "f");
        granted.grants.add.push(GrantRef {
            kind: GrantKind::PermissionSet,
            name: "Reports_Export".into(),
            id: "0PS000000000001AAA".into(),
            assignment_id: None,
            implied_by: None,
        });
        plan.changes = vec![granted];
        assert_eq!(held(&plan, &policy(&[Update])).len(), 1);
        assert!(held(&plan, &policy(&[Update, Grants])).is_empty());
        // A feature licence turned off or on is a grant: it frees or takes a paid seat.
        for value in ["false", "true"] {
            let mut licence = change(Action::Update, "g");
            licence.after.insert(
                "UserPermissionsKnowledgeUser".into(),
                (serde_json::Value::String(value.to_owned())).into(),
            );
            plan.changes = vec![licence];
            assert_eq!(
                held(&plan, &policy(&[Update])),
                [
                    "1 change(s) add or remove grants or feature licences, or move a user to \
                     another profile or role, which reconcile.auto_apply.allow does not list \
                     (`grants`)"
                ]
            );
            assert!(held(&plan, &policy(&[Update, Grants])).is_empty());
        }
        // Named in another case (a hand-edited plan): still a feature licence.
        let mut miscased = change(Action::Update, "i");
        miscased.after.insert(
            "userpermissionsmarketinguser".into(),
            (serde_json::Value::String("true".to_owned())).into(),
        );
        plan.changes = vec![miscased];
        assert_eq!(held(&plan, &policy(&[Update])).len(), 1);
        // A create that turns one on, likewise.
        let mut created = change(Action::Create, "h");
        created.after.insert(
            "UserPermissionsSupportUser".into(),
            (serde_json::Value::String("true".to_owned())).into(),
        );
        plan.changes = vec![created];
        assert_eq!(held(&plan, &policy(&[Create])).len(), 1);
    }
}
