//! The enterprise application's app roles kept in step with the org's profiles
//! (`roles.app_roles`), as Entra's Salesforce connector keeps them when it imports the profiles
//! as app roles, so that admins assign users "as" a profile.
//!
//! A role follows a profile when its `value` is the profile's id (the roles roster adds) or,
//! failing that, its display name is the profile's name (roles the connector imported or an
//! admin added). Wanted profiles without a role get one; a renamed profile renames its role; a
//! disabled role of a wanted profile is enabled again. A role roster added (its value a profile
//! id) whose profile is no longer wanted is disabled; once disabled, it is removed when nobody
//! is assigned to it — never before: Graph refuses to delete an enabled role
//! (`CannotDeleteOrUpdateEnabledEntitlement`), and removing a role deletes its assignments.
//! Other roles (`msiam_access`, custom roles) are never touched.

use super::names::ConfigProblem;
use super::{AppRoleAction, AppRoleChange, AppRoleState};
use crate::config::{AppRolesFrom, Config};
use crate::model::{Profile, SourceSnapshot, TargetSnapshot};
use crate::salesforce::same_id;

/// The profiles the app roles follow; a listed name the org lacks, or has twice, is a problem
/// at its place in the file.
pub(super) fn wanted_profiles<'t>(
    config: &Config,
    target: &'t TargetSnapshot,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<&'t Profile> {
    let mut wanted: Vec<&Profile> = match &config.roles.app_roles {
        None => return Vec::new(),
        // Two profiles of one name cannot both have a role (display names are unique): neither
        // gets one, and the plan says so (`duplicate_names`).
        Some(AppRolesFrom::All(_)) => target
            .profiles
            .iter()
            .filter(|p| p.user_license_id.is_some())
            .filter(|p| target.profiles.iter().filter(|o| o.name == p.name).count() == 1)
            .collect(),
        Some(AppRolesFrom::Listed(listed)) => listed
            .from_profiles
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let found: Vec<&Profile> =
                    target.profiles.iter().filter(|p| &p.name == name).collect();
                match found.as_slice() {
                    [one] => Some(*one),
                    [] => {
                        problems.push(ConfigProblem {
                            pointer: format!("/roles/app_roles/from_profiles/{i}"),
                            message: format!("the org has no profile named {name:?}"),
                            help: crate::suggest::closest(
                                name,
                                target.profiles.iter().map(|p| p.name.as_str()),
                            )
                            .map(|c| format!("did you mean {c:?}?")),
                        });
                        None
                    }
                    many => {
                        problems.push(ConfigProblem {
                            pointer: format!("/roles/app_roles/from_profiles/{i}"),
                            message: format!(
                                "the org has {} profiles named {name:?}: an app role's display \
                                 name must be unique",
                                many.len()
                            ),
                            help: Some("rename one of the profiles in Salesforce".to_owned()),
                        });
                        None
                    }
                }
            })
            .collect(),
    };
    wanted.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    wanted.dedup_by(|a, b| a.id == b.id);
    wanted
}

/// With `from_profiles`, the names several profiles share: no role is made for them.
pub(super) fn duplicate_names(config: &Config, target: &TargetSnapshot) -> Option<String> {
    if !matches!(config.roles.app_roles, Some(AppRolesFrom::All(_))) {
        return None;
    }
    let mut shared: Vec<&str> = target
        .profiles
        .iter()
        .filter(|p| p.user_license_id.is_some())
        .filter(|p| target.profiles.iter().filter(|o| o.name == p.name).count() > 1)
        .map(|p| p.name.as_str())
        .collect();
    shared.sort_unstable();
    shared.dedup();
    (!shared.is_empty()).then(|| {
        format!(
            "profiles {} each share their name with another profile: an app role's display \
             name must be unique, so roles.app_roles makes no role for them (rename one in \
             Salesforce)",
            shared
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The display names this plan takes away: a role renamed after its profile (old name, new
/// name), a role disabled or removed (name, none). A rule naming one would stop matching.
pub(super) fn names_going_away(
    wanted: &[&Profile],
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> Vec<(String, Option<String>)> {
    changes(wanted, source, target)
        .into_iter()
        .filter_map(|c| {
            let before = c.before?.display_name;
            match c.after {
                Some(after) if after.display_name != before && after.is_enabled => {
                    Some((before, Some(after.display_name)))
                }
                Some(after) if after.is_enabled => None,
                _ => Some((before, None)),
            }
        })
        .collect()
}

/// Whether an app role's value is a Salesforce profile id: the roles roster adds.
fn is_profile_id(value: &str) -> bool {
    matches!(value.len(), 15 | 18)
        && value.starts_with("00e")
        && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new role's id: a GUID derived from the org and the profile, so that the plan made again at
/// apply time is the same plan.
fn role_id(org_id: &str, profile_id: &str) -> String {
    let hex =
        crate::digest::sha256_hex(format!("roster app role {org_id} {profile_id}").as_bytes());
    let mut hex: Vec<char> = hex.chars().take(32).collect();
    // Version 8 (custom), RFC 9562 variant.
    hex[12] = '8';
    hex[16] = ['8', '9', 'a', 'b'][hex[16].to_digit(16).unwrap_or(0) as usize % 4];
    let hex: String = hex.into_iter().collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The app-role changes that bring the application's roles in step with `wanted`.
pub(super) fn changes(
    wanted: &[&Profile],
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> Vec<AppRoleChange> {
    let roles = &source.application.app_roles;
    let assigned = |role: &str| {
        source
            .assignments
            .iter()
            .filter(|a| a.app_role_id == role)
            .count()
    };
    let mut followed = vec![false; roles.len()];
    let mut out = Vec::new();
    for profile in wanted {
        let by_value = roles.iter().position(|r| {
            r.value
                .as_deref()
                .is_some_and(|v| is_profile_id(v) && same_id(v, &profile.id))
        });
        let by_name = || roles.iter().position(|r| r.display_name == profile.name);
        let after = AppRoleState {
            display_name: profile.name.clone(),
            value: Some(profile.id.clone()),
            is_enabled: true,
        };
        let Some(i) = by_value.or_else(by_name) else {
            out.push(AppRoleChange {
                action: AppRoleAction::Add,
                id: role_id(&target.org.id, &profile.id),
                profile_id: Some(profile.id.clone()),
                reason: format!("profile {:?} has no app role", profile.name),
                before: None,
                after: Some(after),
                assignments: 0,
            });
            continue;
        };
        followed[i] = true;
        let role = &roles[i];
        if role.is_enabled && role.display_name == profile.name {
            continue;
        }
        let before = AppRoleState {
            display_name: role.display_name.clone(),
            value: role.value.clone(),
            is_enabled: role.is_enabled,
        };
        let reason = if role.display_name == profile.name {
            format!("the app role of profile {:?} is disabled", profile.name)
        } else {
            format!(
                "profile {:?} was renamed {:?}",
                role.display_name, profile.name
            )
        };
        out.push(AppRoleChange {
            action: AppRoleAction::Update,
            id: role.id.clone(),
            profile_id: Some(profile.id.clone()),
            reason,
            after: Some(AppRoleState {
                value: role.value.clone(),
                ..after
            }),
            before: Some(before),
            assignments: assigned(&role.id),
        });
    }
    for (role, _) in roles.iter().zip(&followed).filter(|(_, f)| !**f) {
        out.extend(retired(role, target, assigned(&role.id)));
    }
    out.sort_by(|a, b| a.name().cmp(b.name()).then(a.id.cmp(&b.id)));
    out
}

/// The profile id of a role roster added: its value a profile id, and its id the one roster derives
/// from this org and that profile (`role_id`). Only such roles are ever disabled or removed — a
/// role an admin made with a profile id as its value is not roster's to take away (and after a
/// sandbox refresh, which gives the org a new id, roster's earlier roles are left alone too).
fn roster_made<'r>(role: &'r crate::model::AppRole, target: &TargetSnapshot) -> Option<&'r str> {
    role.value
        .as_deref()
        .filter(|v| is_profile_id(v) && role.id == role_id(&target.org.id, v))
}

/// The change a role roster added needs when no wanted profile is its own: disabled first,
/// removed once disabled and unassigned.
fn retired(
    role: &crate::model::AppRole,
    target: &TargetSnapshot,
    assignments: usize,
) -> Option<AppRoleChange> {
    let value = roster_made(role, target)?;
    let before = AppRoleState {
        display_name: role.display_name.clone(),
        value: role.value.clone(),
        is_enabled: role.is_enabled,
    };
    let gone = if target.profiles.iter().any(|p| same_id(&p.id, value)) {
        "is no longer one the app roles follow"
    } else {
        "no longer exists"
    };
    if role.is_enabled {
        Some(AppRoleChange {
            action: AppRoleAction::Disable,
            id: role.id.clone(),
            profile_id: Some(value.to_owned()),
            reason: format!(
                "profile {:?} {gone}; a role is disabled before it can be removed",
                role.display_name
            ),
            after: Some(AppRoleState {
                is_enabled: false,
                ..before.clone()
            }),
            before: Some(before),
            assignments,
        })
    } else if assignments == 0 {
        Some(AppRoleChange {
            action: AppRoleAction::Remove,
            id: role.id.clone(),
            profile_id: Some(value.to_owned()),
            reason: format!(
                "profile {:?} {gone}, and its disabled role has no assignments",
                role.display_name
            ),
            before: Some(before),
            after: None,
            assignments,
        })
    } else {
        None
    }
}

/// Roles kept although their profile is gone: disabled, and still assigned.
pub(super) fn kept(
    wanted: &[&Profile],
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> Vec<String> {
    source
        .application
        .app_roles
        .iter()
        .filter(|r| !r.is_enabled)
        .filter(|r| {
            roster_made(r, target).is_some_and(|v| !wanted.iter().any(|p| same_id(&p.id, v)))
        })
        .filter_map(|r| {
            let n = source
                .assignments
                .iter()
                .filter(|a| a.app_role_id == r.id)
                .count();
            (n > 0).then(|| {
                format!(
                    "app role {:?} is disabled and still assigned to {n} user(s) or group(s): \
                     remove those assignments in Entra and roster removes the role",
                    r.display_name
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{changes, role_id};
    use crate::model::{AppRole, AppRoleAssignment, Profile, SourceSnapshot, TargetSnapshot};
    use crate::plan::AppRoleAction;

    fn profile(id: &str, name: &str) -> Profile {
        Profile {
            id: id.to_owned(),
            name: name.to_owned(),
            user_license_id: Some("100000000000001AAA".to_owned()),
            ..Profile::default()
        }
    }

    fn role(id: &str, name: &str, value: &str, enabled: bool) -> AppRole {
        AppRole {
            id: id.to_owned(),
            display_name: name.to_owned(),
            value: Some(value.to_owned()),
            is_enabled: enabled,
        }
    }

    #[test]
    fn each_kind_of_change_and_roles_roster_did_not_add_left_alone() {
        let sales = profile("00e000000000001AAA", "Sales");
        let support = profile("00e000000000002AAA", "Support Desk");
        let mut target = TargetSnapshot::default();
        target.org.id = "00D000000000001AAA".to_owned();
        target.profiles = vec![sales.clone(), support.clone()];
        // Roles roster added carry the id it derives from the org and the profile.
        let gone = role_id("00D000000000001AAA", "00e000000000009AAA");
        let done = role_id("00D000000000001AAA", "00e000000000008AAA");
        let mut source = SourceSnapshot::default();
        source.application.app_roles = vec![
            // Support renamed in Salesforce: its role is found by the id in its value.
            role("r-support", "Support", "00e000000000002AAA", true),
            // A profile that is gone: disabled first (it is assigned), never removed yet.
            role(&gone, "Old", "00e000000000009AAA", true),
            // Already disabled and nobody assigned: removed.
            role(&done, "Older", "00e000000000008AAA", false),
            // Made by hand with a profile id as its value: not roster's to take away.
            role("r-hand", "Hand", "00e000000000007AAA", true),
            // Not roster's (no profile id in its value): untouched.
            role("r-custom", "Sales Rep", "Sales_Rep", true),
        ];
        source.assignments = vec![AppRoleAssignment {
            app_role_id: gone.clone(),
            ..AppRoleAssignment::default()
        }];
        let planned = changes(&[&sales, &support], &source, &target);
        let summary: Vec<(AppRoleAction, &str)> =
            planned.iter().map(|c| (c.action, c.name())).collect();
        assert_eq!(
            summary,
            [
                (AppRoleAction::Disable, "Old"),
                (AppRoleAction::Remove, "Older"),
                (AppRoleAction::Add, "Sales"),
                (AppRoleAction::Update, "Support Desk"),
            ]
        );
        assert_eq!(planned[0].assignments, 1);
        // The new role's id is the same for the same org and profile, and differs otherwise.
        assert_eq!(
            planned[2].id,
            role_id("00D000000000001AAA", "00e000000000001AAA")
        );
        assert_ne!(
            planned[2].id,
            role_id("00D000000000002AAA", "00e000000000001AAA")
        );
        let id: Vec<&str> = planned[2].id.split('-').collect();
        assert_eq!(
            id.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(id[2].starts_with('8'));
        // In step: nothing to do.
        source.application.app_roles = vec![
            role("r-sales", "Sales", "00e000000000001AAA", true),
            role("r-support", "Support Desk", "00e000000000002AAA", true),
        ];
        assert_eq!(changes(&[&sales, &support], &source, &target), []);
    }
}
