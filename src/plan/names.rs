//! The org records `roster.yaml` names — profiles, roles, permission sets — resolved once per
//! plan. A name the org does not have, or has on two records, is a config problem at the name's
//! place in the file (reported once, with the closest names or both ids), never an error repeated
//! for every user it touches.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{Config, RecordId, RecordRef, RoleCondition};
use crate::grants::GrantKind;
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::salesforce::same_id;
use crate::suggest::closest;

/// A problem with the config that only the org can show, at a JSON pointer into the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigProblem {
    /// Where in `roster.yaml`, e.g. `/roles/rules/2/profile`.
    pub(crate) pointer: String,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

/// One rule's records: (name as shown, id), each shared by every change that names it.
#[derive(Clone, Debug, Default)]
pub(super) struct Resolved {
    pub(super) profile: Option<(Arc<str>, Arc<str>)>,
    pub(super) role: Option<(Arc<str>, Arc<str>)>,
    /// The rule's grants: (kind, name as written, id).
    pub(super) grants: Vec<(GrantKind, Arc<str>, Arc<str>)>,
}

/// A (name, id) pair, shared.
fn shared((name, id): (String, String)) -> (Arc<str>, Arc<str>) {
    (name.into(), id.into())
}

/// Every rule's records, and the problems with any of them (app roles the application does not
/// define among them).
pub(super) fn resolve(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> (Vec<Resolved>, Vec<ConfigProblem>) {
    let profiles: Vec<(&str, &str)> = target
        .profiles
        .iter()
        .map(|p| (p.name.as_str(), p.id.as_str()))
        .collect();
    let mut roles: Vec<(&str, &str)> = Vec::new();
    for r in &target.roles {
        roles.push((&r.name, &r.id));
        if let Some(dev) = r.developer_name.as_deref().filter(|d| *d != r.name) {
            roles.push((dev, &r.id));
        }
    }
    // Each kind's objects by name, and by their second name where they have one.
    let mut access: crate::hash::HashMap<GrantKind, Vec<(&str, &str)>> =
        crate::hash::HashMap::default();
    for o in &target.access_objects {
        let names = access.entry(o.kind).or_default();
        names.push((o.name.as_str(), o.id.as_str()));
        if let Some(alias) = o.alias.as_deref() {
            names.push((alias, o.id.as_str()));
        }
    }
    let none = Vec::new();
    let of_kind = |kind: GrantKind| access.get(&kind).unwrap_or(&none);
    let mut problems = Vec::new();
    let wanted = super::app_roles::wanted_profiles(config, target, &mut problems);
    let going = super::app_roles::names_going_away(&wanted, source, target);
    problems.extend(app_roles(config, source, &wanted, &going));
    problems.extend(groups(config, source));
    let resolved = config
        .roles
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let pointer = format!("/roles/rules/{i}");
            Resolved {
                profile: rule.profile.as_ref().and_then(|r| {
                    one(
                        "profile",
                        r,
                        &profiles,
                        &format!("{pointer}/profile"),
                        &mut problems,
                    )
                    .map(shared)
                }),
                role: rule.role.as_ref().and_then(|r| {
                    one("role", r, &roles, &format!("{pointer}/role"), &mut problems).map(shared)
                }),
                grants: GrantKind::ALL
                    .into_iter()
                    .flat_map(|kind| {
                        rule.grants(kind)
                            .iter()
                            .enumerate()
                            .map(move |(j, name)| (kind, j, name))
                    })
                    .filter_map(|(kind, j, name)| {
                        one_grant(
                            kind,
                            name,
                            of_kind(kind),
                            &format!("{pointer}/{}/{j}", kind.spec().rule_key),
                            &mut problems,
                        )
                        .map(|(name, id)| (kind, name.into(), id.into()))
                    })
                    .collect(),
            }
        })
        .collect();
    managed_names(config, &of_kind, &mut problems);
    // A protected Username nobody has protects nobody: a typo, or a stray space, would leave
    // the user it meant unprotected.
    for (j, name) in config.protect.usernames.iter().enumerate() {
        if target
            .users
            .iter()
            .any(|u| u.username.eq_ignore_ascii_case(name))
        {
            continue;
        }
        problems.push(ConfigProblem {
            pointer: format!("/protect/usernames/{j}"),
            message: format!("no Salesforce user has the Username {name:?}"),
            help: closest(name, target.users.iter().map(|u| u.username.as_str()))
                .map(|c| format!("did you mean {c:?}?")),
        });
    }
    // A protected profile the org does not have protects nobody: a typo here would let roster
    // deactivate the very admins it names.
    for (j, name) in config.protect.profiles.iter().enumerate() {
        one(
            "profile",
            &RecordRef::Name(name.clone()),
            &profiles,
            &format!("/protect/profiles/{j}"),
            &mut problems,
        );
    }
    unlisted_profiles_hint(target, &profiles, &mut problems);
    (resolved, problems)
}

/// Where some users hold a profile the Profile query does not list (Salesforce's internal
/// users), a profile `protect` names but the org does not may be that one: each such problem
/// says so, and that those users are protected already (helper-77: "the org has no profile
/// named \"Automated Process\"" while a user held it).
fn unlisted_profiles_hint(
    target: &TargetSnapshot,
    profiles: &[(&str, &str)],
    problems: &mut [ConfigProblem],
) {
    // Only where the config protects a profile: a rule that gives one cannot give this one.
    let mut unknown: Vec<&mut ConfigProblem> = problems
        .iter_mut()
        .filter(|p| {
            p.pointer.starts_with("/protect/profiles/")
                && p.message.starts_with("the org has no profile ")
        })
        .collect();
    // The org's users are counted only then: every plan resolves names, few fail to.
    if unknown.is_empty() {
        return;
    }
    let holding = target
        .users
        .iter()
        .filter(|u| {
            u.profile_id
                .as_deref()
                .is_none_or(|id| !profiles.iter().any(|(_, p)| *p == id))
        })
        .count();
    if holding == 0 {
        return;
    }
    for problem in &mut unknown {
        let note = format!(
            "{holding} Salesforce user(s) hold a profile the org's Profile query does not list \
             (Salesforce's internal users, such as the Automated Process user): roster cannot \
             name it, and protects the users on it already"
        );
        problem.help = Some(match problem.help.take() {
            Some(help) => format!("{help} Or: {note}"),
            None => note,
        });
    }
}

/// The managed lists and `requires_licenses` name records the org must have.
fn managed_names<'t>(
    config: &Config,
    of_kind: &dyn Fn(GrantKind) -> &'t Vec<(&'t str, &'t str)>,
    problems: &mut Vec<ConfigProblem>,
) {
    for kind in GrantKind::ALL {
        let spec = kind.spec();
        for (j, name) in config.roles.managed(kind).iter().enumerate() {
            one_grant(
                kind,
                name,
                of_kind(kind),
                &format!("/roles/managed_{}/{j}", spec.rule_key),
                problems,
            );
        }
    }
    for (set, licences) in &config.roles.requires_licenses {
        let pointer = format!("/roles/requires_licenses/{}", pointer_token(set));
        one_grant(
            GrantKind::PermissionSet,
            set,
            of_kind(GrantKind::PermissionSet),
            &pointer,
            problems,
        );
        for (j, name) in licences.iter().enumerate() {
            one_grant(
                GrantKind::PermissionSetLicense,
                name,
                of_kind(GrantKind::PermissionSetLicense),
                &format!("{pointer}/{j}"),
                problems,
            );
        }
    }
}

/// Rules on a group Entra does not have (or has twice by that name): they could never match,
/// and the permission sets they grant — if managed — would be removed from everyone.
fn groups(config: &Config, source: &SourceSnapshot) -> Vec<ConfigProblem> {
    let names = || source.groups.iter().map(|g| g.display_name.as_str());
    config
        .roles
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| {
            let RoleCondition::Group(wanted) = &rule.when else {
                return None;
            };
            let known = source
                .groups
                .iter()
                .any(|g| g.id.eq_ignore_ascii_case(wanted) || g.display_name == *wanted);
            if known {
                return None;
            }
            Some(ConfigProblem {
                pointer: format!("/roles/rules/{i}/when/group"),
                message: format!(
                    "Entra has no single group named {wanted:?} (none, or several with that name)"
                ),
                help: Some(closest(wanted, names()).map_or_else(
                    || "give the group's display name or object id".to_owned(),
                    |c| {
                        format!(
                            "did you mean {c:?}? (with several of one name, give the object id)"
                        )
                    },
                )),
            })
        })
        .collect()
}

/// Rules on an app role the application does not define: they could never match, and every
/// user they were meant for would be left without a profile. Matched by display name or value,
/// as the planner matches them.
/// Rules naming an app role the application lacks. The profiles the app roles follow
/// (`roles.app_roles`) count as roles: the same apply adds those it lacks.
fn app_roles(
    config: &Config,
    source: &SourceSnapshot,
    wanted: &[&crate::model::Profile],
    going: &[(String, Option<String>)],
) -> Vec<ConfigProblem> {
    let roles = &source.application.app_roles;
    let names = || {
        roles
            .iter()
            .flat_map(|r| std::iter::once(r.display_name.as_str()).chain(r.value.as_deref()))
            .filter(|n| !going.iter().any(|(old, _)| old == n))
            .chain(wanted.iter().map(|p| p.name.as_str()))
    };
    config
        .roles
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| {
            let RoleCondition::AppRole(wanted) = &rule.when else {
                return None;
            };
            if names().any(|n| n == wanted) {
                return None;
            }
            if let Some((_, new)) = going.iter().find(|(old, _)| old == wanted) {
                return Some(ConfigProblem {
                    pointer: format!("/roles/rules/{i}/when/app_role"),
                    message: match new {
                        Some(new) => format!(
                            "roles.app_roles renames the app role {wanted:?} to {new:?} in this \
                             plan: the rule would match nobody after it"
                        ),
                        None => format!(
                            "roles.app_roles disables the app role {wanted:?} in this plan: the \
                             rule would match nobody after it"
                        ),
                    },
                    help: new.as_ref().map(|n| format!("name it {n:?}")),
                });
            }
            Some(ConfigProblem {
                pointer: format!("/roles/rules/{i}/when/app_role"),
                message: format!(
                    "the application {:?} has no app role named {wanted:?}",
                    source.application.display_name
                ),
                help: closest(wanted, names()).map(|c| format!("did you mean {c:?}?")),
            })
        })
        .collect()
}

/// The one access object of `kind` named `name` among `records`, or a problem. Grants are
/// named by their API name only, so two records of one name cannot be told apart by id in
/// `roster.yaml`: the help says what to do instead.
fn one_grant(
    kind: GrantKind,
    name: &str,
    records: &[(&str, &str)],
    pointer: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<(String, String)> {
    let before = problems.len();
    let spec = kind.spec();
    let found = one(
        spec.noun,
        &RecordRef::Name(name.to_owned()),
        records,
        pointer,
        problems,
    );
    for p in &mut problems[before..] {
        if p.message.contains(" in the org are named ") {
            p.help = Some(format!(
                "roster names a {} by its {}, which these records share (one may come from a \
                 managed package, or be the other's Name): rename one in Salesforce",
                spec.noun, spec.name_field
            ));
        }
    }
    found
}

/// The one record `wanted` names among `records` (name, id), or a problem.
fn one(
    what: &str,
    wanted: &RecordRef,
    records: &[(&str, &str)],
    pointer: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<(String, String)> {
    let mut problem = |message: String, help: Option<String>| {
        problems.push(ConfigProblem {
            pointer: pointer.to_owned(),
            message,
            help,
        });
    };
    match wanted {
        RecordRef::Id(RecordId { id }) => {
            // Either form, an 18-character id in any case (`same_id`).
            let found = records.iter().find(|(_, rid)| same_id(rid, id));
            if let Some((name, rid)) = found {
                return Some(((*name).to_owned(), (*rid).to_owned()));
            }
            problem(format!("the org has no {what} with id {id}"), None);
            None
        }
        RecordRef::Name(name) => {
            let mut ids: Vec<&str> = records
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, id)| *id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            match ids.as_slice() {
                [id] => Some((name.clone(), (*id).to_owned())),
                [] => {
                    let hint = closest(name, records.iter().map(|(n, _)| *n))
                        .map(|c| format!("did you mean {c:?}?"));
                    problem(format!("the org has no {what} named {name:?}"), hint);
                    None
                }
                several => {
                    problem(
                        format!(
                            "{} {what}s in the org are named {name:?} ({})",
                            several.len(),
                            several.join(", ")
                        ),
                        Some(format!(
                            "name the one you mean by id, e.g. `{{id: {}}}`",
                            several[0]
                        )),
                    );
                    None
                }
            }
        }
    }
}

/// A JSON pointer's token for a map key (RFC 6901: `~` as `~0`, `/` as `~1`).
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
