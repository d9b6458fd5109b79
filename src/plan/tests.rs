//! The planner, rule by rule, on small worlds built in code.

use serde_json::{Map, Value, json};

use super::{Action, Inputs, Plan, ProblemKind, Situation, plan, plan_taking};
use crate::config::Config;
use crate::expr::DateTime;
use crate::grants::GrantKind;
use crate::model::{
    AccessObject, AppRole, AppRoleAssignment, GrantAssignment, Group, Profile, ServicePrincipal,
    SourceSnapshot, SourceUser, TargetSnapshot, TargetUser, UserLicense, UserLogin, UserRole,
};

const CONFIG: &str = r#"
version: 1
source: {tenant_id: t, client_id: c, credential: {client_secret: {env: X}}, application: {display_name: App}}
target: {auth: {client_credentials: {client_id: c, client_secret: {env: Y}}}}
matching:
  - {source: '[employeeId]', target: EmployeeNumber}
  - {source: '[userPrincipalName]', target: FederationIdentifier}
ownership: {username_suffix: .dev1}
protect: {profiles: [System Administrator]}
mappings:
  - {target: Username, expression: 'Append([userPrincipalName], ".dev1")', apply: on_create}
  - {target: Email, source: mail}
  - {target: LastName, source: surname, default: "."}
  - {target: Alias, expression: 'Left([userPrincipalName], 4)'}
  - {target: FederationIdentifier, source: userPrincipalName}
  - {target: Title, source: jobTitle}
  - {target: CommunityNickname, source: mailNickname, apply: on_create}
  - {target: TimeZoneSidKey, constant: America/Los_Angeles}
  - {target: LocaleSidKey, constant: en_US}
  - {target: LanguageLocaleKey, constant: en_US}
  - {target: EmailEncodingKey, constant: UTF-8}
roles:
  rules:
    - {when: {app_role: Manager}, profile: Sales Manager, role: Boss, permission_sets: [Reports]}
    - {when: {app_role: Rep}, profile: Standard User, permission_sets: [Sales]}
    - {when: {group: Support}, permission_sets: [Service]}
  managed_permission_sets: [Sales, Reports, Service]
safety: {max_deactivations: 10}
"#;

fn config(changes: &[(&str, &str)]) -> Config {
    let mut text = CONFIG.to_owned();
    for (from, to) in changes {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    match crate::config::load_bytes(std::path::Path::new("roster.yaml"), text.into_bytes()) {
        Ok(loaded) => loaded.config,
        Err(crate::config::LoadError::Invalid(d)) => {
            panic!("{}", crate::diagnostic::render_all(&d, false))
        }
        Err(e) => panic!("{e}"),
    }
}

/// The plan's inputs: a fixed clock (the Unix epoch) and seed, limited to `targets`.
fn inputs(targets: &[String]) -> Inputs<'_> {
    Inputs {
        config_sha256: "abc".into(),
        now: DateTime {
            ticks: crate::expr::UNIX_EPOCH_TICKS,
            offset: None,
            local: false,
        },
        seed: 7,
        targets,
    }
}

/// A small tenant and org: app roles Manager and Rep, groups Sales (Rep), Leads (Manager),
/// Support (not assigned), and an org with profiles, a role, permission sets and a licence.
struct World {
    source: SourceSnapshot,
    target: TargetSnapshot,
}

const MANAGER: &str = "10000000-0000-0000-0000-000000000001";
const REP: &str = "10000000-0000-0000-0000-000000000002";
const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";

impl World {
    fn new() -> World {
        let role = |id: &str, value: &str| AppRole {
            id: id.into(),
            display_name: value.into(),
            value: Some(value.into()),
            is_enabled: true,
        };
        let group = |id: &str, name: &str, assigned: bool| Group {
            id: id.into(),
            display_name: name.into(),
            assigned,
            members: Vec::new(),
            nested_groups: Vec::new(),
        };
        let mut world = World {
            source: SourceSnapshot {
                format_version: 1,
                tenant_id: "t".into(),
                application: ServicePrincipal {
                    id: "sp".into(),
                    app_id: "app".into(),
                    display_name: "App".into(),
                    app_roles: vec![role(MANAGER, "Manager"), role(REP, "Rep")],
                },
                assignment: "assigned".into(),
                assignments: Vec::new(),
                groups: vec![
                    group("g-sales", "Sales", true),
                    group("g-leads", "Leads", true),
                    group("g-support", "Support", false),
                ],
                users: Vec::new(),
                attributes: Vec::new(),
                role_groups: Vec::new(),
                deleted_users: Vec::new(),
                unassigned_users: Some(Vec::new()),
                warnings: Vec::new(),
            },
            target: TargetSnapshot {
                format_version: 1,
                access_read: crate::model::AccessRead::default(),
                user_describe: Vec::new(),
                api_user_id: None,
                instance_url: "https://x.my.salesforce.com".into(),
                api_version: "62.0".into(),
                org: crate::model::Org {
                    id: "00D".into(),
                    name: "Org".into(),
                    is_sandbox: true,
                },
                users: Vec::new(),
                fields: Vec::new(),
                profiles: vec![
                    profile("00e000000000001", "Standard User"),
                    profile("00e000000000002", "Sales Manager"),
                    profile("00e000000000003", "System Administrator"),
                ],
                licenses: vec![UserLicense {
                    id: "100000000000001".into(),
                    name: "Salesforce".into(),
                    total: 100,
                    used: 2,
                }],
                roles: vec![UserRole {
                    id: "00E000000000001".into(),
                    name: "Boss".into(),
                    developer_name: Some("Boss".into()),
                }],
                access_objects: ["Sales", "Reports", "Service", "Legacy"]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        access(GrantKind::PermissionSet, &format!("0PS00000000000{i}"), n)
                    })
                    .collect(),
                grants: Vec::new(),
                feature_license_seats: std::collections::BTreeMap::new(),
                api_usage: None,
                warnings: Vec::new(),
            },
        };
        world.assign_group("g-sales", REP);
        world.assign_group("g-leads", MANAGER);
        world
    }

    fn assign_group(&mut self, group: &str, role: &str) {
        let n = self.source.assignments.len();
        self.source.assignments.push(AppRoleAssignment {
            id: format!("a{n}"),
            principal_type: "Group".into(),
            principal_id: group.into(),
            principal_display_name: None,
            app_role_id: role.into(),
        });
    }

    /// An Entra user `name@x.com` with the usual attributes plus `extra`.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "json! literals read best inline"
    )]
    fn user(&mut self, name: &str, extra: Value) -> String {
        let upn = format!("{name}@x.com");
        let mut attributes: Map<String, Value> = json!({
            "userPrincipalName": upn, "mail": upn, "surname": name, "mailNickname": name,
            "accountEnabled": true, "jobTitle": "Engineer",
        })
        .as_object()
        .cloned()
        .unwrap();
        for (k, v) in extra.as_object().into_iter().flatten() {
            let (k, v) = (k.clone(), v.clone());
            if v.is_null() {
                attributes.remove(&k);
            } else {
                attributes.insert(k, v);
            }
        }
        self.source.users.push(SourceUser {
            id: format!("id-{name}"),
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (crate::sorted_map::Name::from(k), v))
                .collect(),
        });
        upn
    }

    fn join(&mut self, name: &str, group: &str) {
        let g = self
            .source
            .groups
            .iter_mut()
            .find(|g| g.id == group)
            .unwrap();
        g.members.push(format!("id-{name}"));
    }

    /// Gives user `name` the object id `id` (a GUID, as Graph's are) in place of `id-{name}`:
    /// as their id, their `objectId` attribute and in the groups they are a member of.
    fn object_id(&mut self, name: &str, id: &str) {
        let old = format!("id-{name}");
        let user = self.source.users.iter_mut().find(|u| u.id == old).unwrap();
        user.id = id.into();
        user.attributes
            .insert(crate::sorted_map::Name::from("objectId"), json!(id));
        for member in self.source.groups.iter_mut().flat_map(|g| &mut g.members) {
            if *member == old {
                *member = id.into();
            }
        }
    }

    fn direct(&mut self, name: &str, role: &str) {
        let n = self.source.assignments.len();
        self.source.assignments.push(AppRoleAssignment {
            id: format!("a{n}"),
            principal_type: "User".into(),
            principal_id: format!("id-{name}"),
            principal_display_name: None,
            app_role_id: role.into(),
        });
    }

    /// A Salesforce user already in step with `name`'s Entra attributes, as a Rep.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "json! literals read best inline"
    )]
    fn salesforce(&mut self, name: &str, extra: Value) -> String {
        let id = format!("005{:012}", self.target.users.len() + 1);
        let upn = format!("{name}@x.com");
        let mut fields: Map<String, Value> = json!({
            "Username": format!("{upn}.dev1"), "Email": upn, "LastName": name,
            "Alias": upn.chars().take(4).collect::<String>(), "FederationIdentifier": upn,
            "Title": "Engineer", "CommunityNickname": name, "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US", "LanguageLocaleKey": "en_US", "EmailEncodingKey": "UTF-8",
            "IsActive": true, "ProfileId": "00e000000000001", "UserRoleId": null,
            "SystemModstamp": "2026-01-01T00:00:00.000+0000",
        })
        .as_object()
        .cloned()
        .unwrap();
        for (k, v) in extra.as_object().into_iter().flatten() {
            let (k, v) = (k.clone(), v.clone());
            fields.insert(k, v);
        }
        fields.insert("Id".into(), json!(id));
        let mut user = TargetUser::from_row(fields).expect("a User row");
        // The world names records by their 15-character ids; a read keeps the canonical
        // 18-character form, which begins with them.
        user.id.truncate(15);
        for id in [&mut user.profile_id, &mut user.user_role_id]
            .into_iter()
            .flatten()
        {
            id.truncate(15);
        }
        user.login = Some(UserLogin {
            id: format!("060{:012}", self.target.users.len() + 1),
            is_frozen: false,
        });
        self.target.users.push(user);
        // In step: a Rep holds the Sales permission set.
        self.holds(&id, "Sales");
        id
    }

    fn holds(&mut self, user: &str, set: &str) {
        self.holds_grant(user, GrantKind::PermissionSet, set);
    }

    /// `user` holds the access object of `kind` named `name`.
    fn holds_grant(&mut self, user: &str, kind: GrantKind, name: &str) {
        let object = self
            .target
            .access_objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
            .unwrap()
            .id
            .clone();
        let n = self.target.grants.len();
        self.target.grants.push(GrantAssignment {
            kind,
            id: format!("0Pa{n:012}").into(),
            assignee_id: user.into(),
            object_id: object.into(),
        });
    }

    /// Adds an access object; returns its id.
    fn object(&mut self, kind: GrantKind, name: &str) -> String {
        let prefix = match kind {
            GrantKind::PermissionSetLicense => "0PL",
            GrantKind::PackageLicense => "050",
            GrantKind::PermissionSet => "0PS",
            GrantKind::PermissionSetGroup => "0PG",
            GrantKind::PublicGroup | GrantKind::Queue => "00G",
        };
        let id = format!("{prefix}{:012}", self.target.access_objects.len() + 100);
        let mut object = access(kind, &id, name);
        if kind == GrantKind::PermissionSetGroup {
            object.status = Some("Updated".to_owned());
        }
        self.target.access_objects.push(object);
        id
    }

    fn plan(&self, config: &Config) -> Plan {
        self.plan_targets(config, &[])
    }

    fn plan_targets(&self, config: &Config, targets: &[String]) -> Plan {
        let inputs = inputs(targets);
        let kept = plan(config, &self.source, &self.target, &inputs);
        // Every world is planned both ways: taking the snapshot apart changes nothing.
        let taken = plan_taking(config, self.source.clone(), &self.target, &inputs);
        assert_eq!(taken, kept, "plan_taking differs from plan");
        kept
    }
}

fn access(kind: GrantKind, id: &str, name: &str) -> AccessObject {
    AccessObject {
        kind,
        id: id.into(),
        name: name.into(),
        alias: None,
        status: None,
        seats: None,
        license_id: None,
    }
}

fn profile(id: &str, name: &str) -> Profile {
    Profile {
        id: id.into(),
        name: name.into(),
        user_license_id: Some("100000000000001".into()),
        ..Profile::default()
    }
}

fn only(plan: &Plan, key: &str) -> super::Change {
    let found: Vec<_> = plan.changes.iter().filter(|c| c.key == key).collect();
    assert_eq!(found.len(), 1, "{key}: {:#?}", plan.changes);
    found[0].clone()
}

fn problem(plan: &Plan, key: &str) -> super::Problem {
    plan.errors
        .iter()
        .find(|p| p.key == key)
        .cloned()
        .unwrap_or_else(|| panic!("no problem for {key}: {:#?}", plan.errors))
}

#[test]
fn a_user_in_two_groups_gets_the_first_rules_profile_and_every_rules_permission_sets() {
    let mut w = World::new();
    let upn = w.user("ava", json!({}));
    w.join("ava", "g-sales");
    w.join("ava", "g-leads");
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Create);
    assert_eq!(change.after["ProfileId"], "00e000000000002");
    assert_eq!(&*change.labels["00e000000000002"], "Sales Manager");
    assert_eq!(change.after["UserRoleId"], "00E000000000001");
    let sets: Vec<&str> = change.grants.add.iter().map(|p| &*p.name).collect();
    assert_eq!(sets, ["Reports", "Sales"]);
    assert!(
        change
            .reason
            .starts_with("unmatched: no Salesforce user with"),
        "{}",
        change.reason
    );
    assert_eq!(change.after["Username"], "ava@x.com.dev1");
    assert_eq!(change.after["LastName"], "ava");
}

#[test]
fn a_default_access_only_user_is_an_error_item_not_a_create() {
    let mut w = World::new();
    let upn = w.user("bo", json!({}));
    w.direct("bo", DEFAULT_ACCESS);
    let plan = w.plan(&config(&[]));
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    let p = problem(&plan, &upn);
    assert_eq!(p.kind, ProblemKind::Error);
    assert!(
        p.reason.contains("no valid app role") && p.reason.contains("Default Access"),
        "{}",
        p.reason
    );
    assert_eq!(plan.summary.in_scope, 1);
}

/// `[appRoleAssignments]` is the user's app roles, computed: an expression reads them, not an
/// attribute of that name in Entra's data.
#[test]
fn app_role_assignments_are_the_users_roles() {
    let mut w = World::new();
    let upn = w.user("rae", json!({"appRoleAssignments": "not the roles"}));
    w.direct("rae", REP);
    let plan = w.plan(&config(&[(
        "  - {target: Title, source: jobTitle}",
        "  - {target: Title, expression: 'SingleAppRoleAssignment([appRoleAssignments])'}",
    )]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Create, "{change:?}");
    assert_eq!(change.after["Title"], "Rep", "{change:?}");
}

#[test]
fn an_app_role_without_a_value_is_a_role_known_by_its_name() {
    let mut w = World::new();
    // Salesforce profiles imported as app roles carry no claim value; msiam_access neither.
    for (id, name) in [
        ("10000000-0000-0000-0000-000000000009", "Standard User"),
        ("10000000-0000-0000-0000-00000000000a", "msiam_access"),
    ] {
        w.source.application.app_roles.push(AppRole {
            id: id.into(),
            display_name: name.into(),
            value: None,
            is_enabled: true,
        });
    }
    let upn = w.user("pat", json!({}));
    w.direct("pat", "10000000-0000-0000-0000-000000000009");
    let gallery = w.user("gil", json!({}));
    w.direct("gil", "10000000-0000-0000-0000-00000000000a");
    let plan = w.plan(&config(&[(
        "{when: {group: Support}",
        "{when: {app_role: Standard User}, profile: Standard User}\n    - {when: {group: Support}",
    )]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Create);
    assert_eq!(
        change.labels.get("00e000000000001").map(|l| &**l),
        Some("Standard User")
    );
    // The gallery's plain-access role is Default Access: no profile from it.
    assert!(
        problem(&plan, &gallery)
            .reason
            .contains("no valid app role")
    );
}

#[test]
fn a_frozen_user_in_scope_is_unfrozen_and_reactivated_if_inactive() {
    let mut w = World::new();
    let upn = w.user("fay", json!({}));
    w.join("fay", "g-sales");
    w.salesforce("fay", json!({"IsActive": false}));
    if let Some(login) = w.target.users[0].login.as_mut() {
        login.is_frozen = true;
    }
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Reactivate);
    assert_eq!(change.before.get("IsFrozen"), Some(&json!(true).into()));
    assert_eq!(change.after.get("IsFrozen"), Some(&json!(false).into()));
    assert_eq!(change.after.get("IsActive"), Some(&json!(true).into()));
    assert_eq!(change.login_id.as_deref(), Some("060000000000001"));
}

#[test]
fn a_reason_says_which_side_holds_what_and_where_the_value_comes_from() {
    let mut w = World::new();
    let upn = w.user("ed", json!({}));
    w.join("ed", "g-sales");
    // An admin edited the title in Salesforce; the config changed its time zone constant.
    w.salesforce(
        "ed",
        json!({"Title": "Edited", "TimeZoneSidKey": "Europe/Paris"}),
    );
    let plan = w.plan(&config(&[]));
    assert_eq!(
        &*only(&plan, &upn).reason,
        "linked by FederationIdentifier; TimeZoneSidKey: Salesforce has \"Europe/Paris\", \
         roster.yaml gives \"America/Los_Angeles\"; Title: Salesforce has \"Edited\", Entra \
         gives \"Engineer\""
    );
}

/// A required field Salesforce stores blank text as null in: a create whose value is only a
/// control character, and an update that would empty one, are errors in the plan — never a
/// change every apply fails with `REQUIRED_FIELD_MISSING`.
#[test]
fn a_required_field_blank_once_trimmed_is_an_error_on_create_and_update() {
    let mut w = World::new();
    let hire = w.user("hire", json!({"surname": "\u{1}"}));
    w.join("hire", "g-sales");
    let linked = w.user("lin", json!({"mail": " "}));
    w.join("lin", "g-sales");
    w.salesforce("lin", json!({}));
    let plan = w.plan(&config(&[(
        "{target: LastName, source: surname, default: \".\"}",
        "{target: LastName, source: surname}",
    )]));
    assert!(
        problem(&plan, &hire)
            .reason
            .contains("requires LastName on create"),
        "{}",
        problem(&plan, &hire).reason
    );
    assert!(
        problem(&plan, &linked)
            .reason
            .contains("Salesforce requires Email, and the mappings would empty it"),
        "{}",
        problem(&plan, &linked).reason
    );
}

#[test]
fn errors_are_never_green() {
    let mut w = World::new();
    w.user("bo", json!({}));
    w.direct("bo", DEFAULT_ACCESS);
    let plan = w.plan(&config(&[]));
    assert!(plan.changes.is_empty());
    assert_eq!(plan.headline, "No changes to make; 1 user needs attention.");
    w.user("cy", json!({}));
    w.join("cy", "g-sales");
    let plan = w.plan(&config(&[]));
    assert_eq!(
        plan.headline,
        "Plan: 1 to create, 0 to update, 0 to deactivate; 1 user needs attention."
    );
}

#[test]
fn members_of_nested_groups_and_unassigned_users_are_out_of_scope() {
    let mut w = World::new();
    // A user only in a group that is not assigned (as a nested group's member would be).
    w.user("cy", json!({}));
    w.join("cy", "g-support");
    let sf = w.salesforce("cy", json!({}));
    w.user("di", json!({}));
    w.join("di", "g-sales");
    let plan = w.plan(&config(&[]));
    let change = plan
        .changes
        .iter()
        .find(|c| c.target_id.as_deref() == Some(&sf))
        .unwrap();
    assert_eq!(change.action, Action::Deactivate);
    assert_eq!(change.situation, Situation::OutOfScope);
    assert_eq!(
        &*change.reason,
        "out of scope: not assigned to the application"
    );
}

#[test]
fn a_disabled_account_is_out_of_scope_and_its_salesforce_user_deactivated() {
    let mut w = World::new();
    let upn = w.user("ed", json!({"accountEnabled": false}));
    w.join("ed", "g-sales");
    w.salesforce("ed", json!({}));
    w.user("other", json!({}));
    w.join("other", "g-sales");
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Deactivate);
    assert_eq!(
        &*change.reason,
        "out of scope: disabled in Entra (accountEnabled is false)"
    );
    assert_eq!(change.after["IsActive"], false);
    assert_eq!(
        change.fingerprint.as_deref(),
        Some("2026-01-01T00:00:00.000+0000")
    );
}

#[test]
fn a_scoping_clause_on_a_null_attribute_is_false_except_is_null() {
    let mut w = World::new();
    let with = w.user("fay", json!({"department": "Sales"}));
    let without = w.user("gus", json!({}));
    w.join("fay", "g-sales");
    w.join("gus", "g-sales");
    let filter = (
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\nscope:\n  filters:\n    - {name: sales, all: [{attribute: department, operator: equals, value: Sales}]}\n",
    );
    let plan = w.plan(&config(&[filter]));
    assert_eq!(only(&plan, &with).action, Action::Create);
    assert!(plan.changes.iter().all(|c| c.key != without));
    assert_eq!(plan.summary.in_scope, 1);
    // not_equals is false on null too: Entra's rule, not "null is not Sales".
    let not_equals = (
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\nscope:\n  filters:\n    - {all: [{attribute: department, operator: not_equals, value: Marketing}]}\n",
    );
    let plan = w.plan(&config(&[not_equals]));
    assert_eq!(plan.summary.in_scope, 1);
    let is_null = (
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\nscope:\n  filters:\n    - {all: [{attribute: department, operator: is_null}]}\n",
    );
    let plan = w.plan(&config(&[is_null]));
    assert_eq!(only(&plan, &without).action, Action::Create);
    assert_eq!(plan.summary.in_scope, 1);
}

#[test]
fn matching_tries_rules_in_order_the_first_misses_the_second_links() {
    let mut w = World::new();
    let upn = w.user("hal", json!({"employeeId": "E1", "jobTitle": "Lead"}));
    w.join("hal", "g-sales");
    // No EmployeeNumber yet: the anchor rule finds nobody, FederationIdentifier links.
    w.salesforce("hal", json!({}));
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Update);
    assert_eq!(
        &*change.reason,
        "linked by FederationIdentifier; Title: Salesforce has \"Engineer\", Entra gives \"Lead\""
    );
    assert_eq!(change.before["Title"], "Engineer");
    assert_eq!(change.after["Title"], "Lead");
}

/// A rule that reads one attribute reads it as evaluating it would: held as text, as it is;
/// held otherwise (a number in a snapshot), as the expression language converts it; blank, as
/// no value. The unmatched reason names the values looked up.
#[test]
fn a_one_attribute_rule_reads_the_value_as_evaluating_it_would() {
    let mut w = World::new();
    let upn = w.user("hal", json!({"employeeId": 1002}));
    w.join("hal", "g-sales");
    w.salesforce(
        "hal",
        json!({"EmployeeNumber": "1002", "FederationIdentifier": "someone@else.com"}),
    );
    let blank = w.user("ivy", json!({"employeeId": "  "}));
    w.join("ivy", "g-sales");
    let plan = w.plan(&config(&[]));
    assert_eq!(only(&plan, &upn).action, Action::Update);
    assert!(
        only(&plan, &upn)
            .reason
            .starts_with("linked by EmployeeNumber")
    );
    let create = only(&plan, &blank);
    assert_eq!(create.action, Action::Create);
    assert_eq!(
        &*create.reason,
        "unmatched: no Salesforce user with FederationIdentifier = \"ivy@x.com\""
    );
}

#[test]
fn an_account_whose_anchor_holds_another_persons_value_is_never_handed_over() {
    // Hal's UPN now leads to an account whose EmployeeNumber (the anchor) is someone else's:
    // a reused UPN. The fallback rule must not link it; Hal's create meets the taken Username
    // as a conflict that names the anchor.
    let mut w = World::new();
    let upn = w.user("hal", json!({"employeeId": "E1"}));
    w.join("hal", "g-sales");
    w.salesforce("hal", json!({"EmployeeNumber": "E9"}));
    let plan = w.plan(&config(&[]));
    assert!(
        plan.changes
            .iter()
            .all(|c| c.key != upn || c.action != Action::Update),
        "{plan:#?}"
    );
    let p = problem(&plan, &upn);
    assert_eq!(p.kind, ProblemKind::Conflict);
    assert!(
        p.reason
            .contains("EmployeeNumber holds \"E9\", not this user's \"E1\""),
        "{}",
        p.reason
    );
    // Anchors compare without case: an upper-case object id is the same id.
    let mut w = World::new();
    let upn = w.user("ivy", json!({"employeeId": "e-abc"}));
    w.join("ivy", "g-sales");
    w.salesforce("ivy", json!({"EmployeeNumber": "E-ABC", "Title": "Old"}));
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert!(
        change.reason.starts_with("linked by EmployeeNumber"),
        "{}",
        change.reason
    );
}

/// An unmatched user's reason names the account a rule found but did not count, as its anchor
/// holds another person's value: "no Salesforce user with Email = ..." alone is untrue
/// (helper-61).
#[test]
fn an_unmatched_reason_names_the_account_another_persons_anchor_holds() {
    let mut w = World::new();
    let jo = w.user("jo", json!({"employeeId": "E1"}));
    w.join("jo", "g-sales");
    w.salesforce(
        "legacy",
        json!({"Email": "jo@x.com", "EmployeeNumber": "E9", "FederationIdentifier": null}),
    );
    let plan = w.plan(&config(&[(
        "{source: '[userPrincipalName]', target: FederationIdentifier}",
        "{source: '[mail]', target: Email}",
    )]));
    let create = only(&plan, &jo);
    assert_eq!(create.action, Action::Create);
    assert_eq!(
        &*create.reason,
        "unmatched: no Salesforce user with EmployeeNumber = \"E1\" or Email = \"jo@x.com\"; \
         legacy@x.com.dev1 has Email = \"jo@x.com\", but its EmployeeNumber holds another \
         person's value"
    );
}

/// The third matching rule of these tests: the Username roster gives.
const USERNAME_RULE: (&str, &str) = (
    "  - {source: '[userPrincipalName]', target: FederationIdentifier}\n",
    "  - {source: '[userPrincipalName]', target: FederationIdentifier}\n  - {source: 'Append([userPrincipalName], \".dev1\")', target: Username}\n",
);

/// A later rule's finding disputes a link only when it is another account in use and no anchor
/// made the link (helper-62): an anchored, renamed person is not blocked by a stranger's
/// account holding their new Username, and an old inactive account does not dispute the
/// active one an earlier rule linked.
#[test]
fn a_later_rule_disputes_only_a_link_no_anchor_made_and_only_with_an_account_in_use() {
    let mut w = World::new();
    let bob = w.user("bob", json!({"employeeId": "E1", "jobTitle": "Lead"}));
    w.join("bob", "g-sales");
    w.salesforce(
        "bobold",
        json!({"EmployeeNumber": "E1", "FederationIdentifier": "bob@x.com"}),
    );
    w.salesforce("bob", json!({"FederationIdentifier": "stranger@x.com"}));
    let mo = w.user("mo", json!({"jobTitle": "Lead"}));
    w.join("mo", "g-sales");
    w.salesforce("moentra", json!({"FederationIdentifier": "mo@x.com"}));
    w.salesforce(
        "mo",
        json!({"FederationIdentifier": "mo.trial@x.com", "IsActive": false}),
    );
    let plan = w.plan(&config(&[USERNAME_RULE]));
    let bob = only(&plan, &bob);
    assert_eq!(bob.action, Action::Update);
    assert!(
        bob.reason
            .starts_with("linked by EmployeeNumber to Salesforce user bobold@x.com.dev1;"),
        "{}",
        bob.reason
    );
    let mo = only(&plan, &mo);
    assert_eq!(mo.action, Action::Update);
    assert!(
        mo.reason
            .starts_with("linked by FederationIdentifier to Salesforce user moentra@x.com.dev1;"),
        "{}",
        mo.reason
    );
}

/// A FederationIdentifier that differs from the person's only in case is theirs (the org keeps
/// it unique without case): linked, and corrected by the update, where it was a conflict with
/// the person's own account (helper-62).
#[test]
fn a_federation_identifier_in_another_case_links_and_is_corrected() {
    let mut w = World::new();
    let nia = w.user("nia", json!({}));
    w.join("nia", "g-sales");
    w.salesforce("niahand", json!({"FederationIdentifier": "Nia@X.com"}));
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &nia);
    assert_eq!(change.action, Action::Update, "{change:?}");
    assert_eq!(
        change.after.get("FederationIdentifier"),
        Some(&json!("nia@x.com").into())
    );
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
}

/// Every matching rule compares without case, as Entra's query of the org does (SOQL's `=`
/// compares text without case but on a unique, case-sensitive field): Kai's badge in another
/// case links his account, and the update corrects it. Where describe marks the unique field
/// case-sensitive, `B-7` is not `b-7`: no link, and no duplicate either, so Kai is created.
#[test]
fn matching_compares_without_case_unless_the_unique_field_is_case_sensitive() {
    let config = config(&[
        (
            "{source: '[employeeId]', target: EmployeeNumber}",
            "{source: '[department]', target: Badge__c}",
        ),
        (
            "  - {target: Title, source: jobTitle}\n",
            "  - {target: Title, source: jobTitle}\n  - {target: Badge__c, source: department}\n",
        ),
    ]);
    for case_sensitive in [false, true] {
        let mut w = World::new();
        w.target.user_describe.push(crate::model::FieldDescribe {
            unique: true,
            case_sensitive,
            ..text_field("Badge__c", 10)
        });
        let kai = w.user("kai", json!({"department": "b-7"}));
        w.join("kai", "g-sales");
        w.salesforce(
            "kaiold",
            json!({"Badge__c": "B-7", "FederationIdentifier": null}),
        );
        let plan = w.plan(&config);
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        let change = only(&plan, &kai);
        if case_sensitive {
            assert_eq!(change.action, Action::Create, "{change:?}");
            assert!(
                change
                    .reason
                    .starts_with("unmatched: no Salesforce user with Badge__c = \"b-7\""),
                "{}",
                change.reason
            );
        } else {
            assert_eq!(change.action, Action::Update, "{change:?}");
            assert!(
                change
                    .reason
                    .starts_with("linked by Badge__c to Salesforce user kaiold@x.com.dev1"),
                "{}",
                change.reason
            );
            assert_eq!(change.after.get("Badge__c"), Some(&json!("b-7").into()));
        }
    }
}

/// A world whose org keeps FederationIdentifier, with Ann (`employeeId` E1) in scope; her key.
fn ann_with_federation_ids() -> (World, String) {
    let mut w = World::new();
    w.target
        .user_describe
        .push(text_field("FederationIdentifier", 512));
    let ann = w.user("ann", json!({"employeeId": "E1"}));
    w.join("ann", "g-sales");
    (w, ann)
}

/// A unique value another account holds in another form — another case, or spaces around it
/// in a case-sensitive field — is the same value to Salesforce: the conflict shows the
/// holder's as the org keeps it and says why they are one (helper-84); held as written, it
/// says nothing more.
#[test]
fn a_unique_value_held_in_another_form_is_shown_as_held() {
    let config = config(&[(
        "  - {target: Title, source: jobTitle}\n",
        "  - {target: Title, source: jobTitle}\n  - {target: Badge__c, source: department}\n",
    )]);
    for (case_sensitive, held, why) in [
        (
            false,
            "b2",
            " (as \"b2\", the same value to Salesforce, which compares it without case)",
        ),
        (
            true,
            " B2 ",
            " (as \" B2 \", the same value to Salesforce, which compares it without the spaces around it)",
        ),
        (true, "B2", ""),
        (
            false,
            "  b2 ",
            " (as \"  b2 \", the same value to Salesforce, which compares it without case or the spaces around it)",
        ),
    ] {
        let mut w = World::new();
        w.target.user_describe.push(crate::model::FieldDescribe {
            unique: true,
            case_sensitive,
            ..text_field("Badge__c", 10)
        });
        let ann = w.user("ann", json!({"department": "B2"}));
        w.join("ann", "g-sales");
        w.salesforce("bob", json!({"Badge__c": held}));
        let plan = w.plan(&config);
        assert_eq!(
            problem(&plan, &ann).reason,
            format!(
                "Badge__c \"B2\" is already held by Salesforce user bob@x.com.dev1{why}; the \
                 org's Badge__c field is unique"
            )
        );
    }
}

/// An org whose Federation ID is case-sensitive may keep one value in two forms; a person
/// whose value both hold is a conflict naming both, and neither account is deactivated as an
/// orphan — whichever the org lists first (helper-86: the one not named was deactivated). One
/// of them the person's own account: theirs to keep, no conflict.
#[test]
fn a_unique_value_the_org_holds_in_two_forms_names_and_keeps_both() {
    let config = config(&[(
        "  - {source: '[userPrincipalName]', target: FederationIdentifier}\n",
        "",
    )]);
    for order in [["hfed1", "hfed2"], ["hfed2", "hfed1"]] {
        let (mut w, ann) = ann_with_federation_ids();
        for name in order {
            let held = if name == "hfed1" {
                "ann@x.com"
            } else {
                "ANN@X.COM"
            };
            w.salesforce(name, json!({"FederationIdentifier": held}));
        }
        let plan = w.plan(&config);
        let p = problem(&plan, &ann);
        assert_eq!(p.kind, ProblemKind::Conflict, "{p:?}");
        let as_held = " (as \"ANN@X.COM\", the same value to Salesforce, which compares it \
                       without case unless the org's Federation IDs are case-sensitive)";
        let holders = match order[0] {
            "hfed1" => format!("hfed1@x.com.dev1 and Salesforce user hfed2@x.com.dev1{as_held}"),
            _ => format!("hfed2@x.com.dev1{as_held} and Salesforce user hfed1@x.com.dev1"),
        };
        assert_eq!(
            p.reason,
            format!(
                "FederationIdentifier \"ann@x.com\" is already held by Salesforce user \
                 {holders}; the org's FederationIdentifier field is unique"
            )
        );
        assert!(plan.changes.is_empty(), "{order:?}: {:#?}", plan.changes);
        // The person's own account (linked by EmployeeNumber) holds one of the two forms, the
        // update writing it in a third.
        let (mut w, ann) = ann_with_federation_ids();
        for name in order {
            let (held, badge) = if name == "hfed1" {
                ("Ann@x.com", "E1")
            } else {
                ("ANN@X.COM", "E9")
            };
            w.salesforce(
                name,
                json!({"FederationIdentifier": held, "EmployeeNumber": badge}),
            );
        }
        let plan = w.plan(&config);
        assert!(
            plan.errors.iter().all(|p| p.key != ann),
            "{order:?}: {:?}",
            plan.errors
        );
        assert_eq!(only(&plan, &ann).action, Action::Update, "{order:?}");
    }
}

/// Holders of a person's value in other forms are each shown with their form, and why that is
/// the same value to Salesforce is said once when it is the same for all of them (helper-87:
/// it was repeated after each), after each when it is not.
#[test]
fn holders_in_other_forms_say_why_once_when_it_is_one_reason() {
    let config = config(&[(
        "  - {source: '[userPrincipalName]', target: FederationIdentifier}\n",
        "",
    )]);
    let fed = "the same value to Salesforce, which compares it without case unless the org's \
               Federation IDs are case-sensitive";
    for (second, holders) in [
        (
            "ANN@X.COM",
            format!(
                "Salesforce user hfed1@x.com.dev1 (as \"Ann@x.com\") and Salesforce user \
                 hfed2@x.com.dev1 (as \"ANN@X.COM\"), {fed}"
            ),
        ),
        (
            " ann@x.com",
            format!(
                "Salesforce user hfed1@x.com.dev1 (as \"Ann@x.com\", {fed}) and Salesforce user \
                 hfed2@x.com.dev1 (as \" ann@x.com\", the same value to Salesforce, which \
                 compares it without the spaces around it)"
            ),
        ),
    ] {
        let (mut w, ann) = ann_with_federation_ids();
        w.salesforce("hfed1", json!({"FederationIdentifier": "Ann@x.com"}));
        w.salesforce("hfed2", json!({"FederationIdentifier": second}));
        let plan = w.plan(&config);
        assert_eq!(
            problem(&plan, &ann).reason,
            format!(
                "FederationIdentifier \"ann@x.com\" is already held by {holders}; the org's \
                 FederationIdentifier field is unique"
            )
        );
    }
}

/// A value the org holds in two forms, one of which a rename in this plan gives up: the other
/// form's account still holds it, so the person is a conflict naming that account alone, and
/// it is not deactivated — whichever the org lists first, and whether the rename is planned
/// before the person or after (helper-87: listed second, the giver's account hid the other,
/// which was deactivated; helper-88: planned after, the giver was named too).
#[test]
fn a_value_held_in_two_forms_one_given_up_is_still_held_by_the_other() {
    let config = config(&[(
        "  - {source: '[userPrincipalName]', target: FederationIdentifier}\n",
        "",
    )]);
    // The renamer planned before Ann (aaron) and after her (zed, listed after her: Ann waits
    // for his update).
    for (renamer, order) in [
        ("aaron", ["xold", "hfed1"]),
        ("aaron", ["hfed1", "xold"]),
        ("zed", ["xold", "hfed1"]),
        ("zed", ["hfed1", "xold"]),
    ] {
        let mut w = World::new();
        w.target
            .user_describe
            .push(text_field("FederationIdentifier", 512));
        // The renamer is linked to xold by his badge, and his update renames its
        // FederationIdentifier, which held Ann's UPN.
        let mut ann = String::new();
        if renamer == "zed" {
            ann = w.user("ann", json!({"employeeId": "E1"}));
        }
        let renamed = w.user(renamer, json!({"employeeId": "E7"}));
        if renamer != "zed" {
            ann = w.user("ann", json!({"employeeId": "E1"}));
        }
        w.join(renamer, "g-sales");
        w.join("ann", "g-sales");
        for name in order {
            let fields = if name == "xold" {
                json!({"FederationIdentifier": "ann@x.com", "EmployeeNumber": "E7"})
            } else {
                json!({"FederationIdentifier": "ANN@X.COM"})
            };
            w.salesforce(name, fields);
        }
        let plan = w.plan(&config);
        let p = problem(&plan, &ann);
        assert!(
            p.reason.starts_with(
                "FederationIdentifier \"ann@x.com\" is already held by Salesforce user \
                 hfed1@x.com.dev1 (as \"ANN@X.COM\""
            ) && !p.reason.contains("xold"),
            "{renamer} {order:?}: {p:?}"
        );
        assert_eq!(plan.changes.len(), 1, "{order:?}: {:#?}", plan.changes);
        assert_eq!(only(&plan, &renamed).action, Action::Update, "{order:?}");
    }
}

/// A world whose org keeps a unique, case-sensitive Badge__c, and Kai, assigned, with the
/// employee id `b-7` (his key second).
fn kai_with_a_case_sensitive_badge() -> (World, String) {
    let mut w = World::new();
    w.target.user_describe.push(crate::model::FieldDescribe {
        unique: true,
        case_sensitive: true,
        ..text_field("Badge__c", 10)
    });
    let kai = w.user("kai", json!({"employeeId": "b-7"}));
    w.join("kai", "g-sales");
    (w, kai)
}

/// An anchor in a unique, case-sensitive field (`[employeeId]` → Badge__c) holding the person's
/// value in another case is two values to Salesforce, and likely one person's: Kai is a
/// conflict that names both, and his account (found by FederationIdentifier) is neither
/// created beside nor deactivated (helper-83: a create and a deactivation). Another value is
/// another person's, as before: Kai's create is planned, and held back only as its Username
/// is that account's.
#[test]
fn a_case_sensitive_anchor_in_another_case_is_disputed_not_replaced() {
    let config = config(&[(
        "{source: '[employeeId]', target: EmployeeNumber}",
        "{source: '[employeeId]', target: Badge__c}",
    )]);
    for (held, disputed) in [("B-7", true), ("Z-9", false)] {
        let (mut w, kai) = kai_with_a_case_sensitive_badge();
        w.salesforce("kai", json!({"Badge__c": held}));
        let plan = w.plan(&config);
        if disputed {
            assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
            let p = problem(&plan, &kai);
            assert_eq!(p.kind, ProblemKind::Conflict, "{p:?}");
            assert_eq!(
                p.reason,
                "disputed: Salesforce user kai@x.com.dev1's Badge__c holds \"B-7\", this user's \
                 \"b-7\" in another case: the field is case-sensitive, so Salesforce holds two \
                 values; write the right one on the account (or in Entra) to link them, or clear \
                 it if the account is not theirs"
            );
        } else {
            let p = problem(&plan, &kai);
            assert!(
                p.reason.starts_with(
                    "unmatched, but Username \"kai@x.com.dev1\" already belongs to Salesforce \
                     user 005000000000001 whose Badge__c holds \"Z-9\", not this user's \"b-7\""
                ),
                "{p:?}"
            );
        }
    }
}

/// The account holding the person's case-sensitive anchor in another case is disputed where no
/// other rule finds it too — no query of the org finds it, yet it is likely theirs — and when
/// another rule, or the anchor itself, links another account (two accounts for one person):
/// helper-84 saw Kai created anew, or linked elsewhere, and this account deactivated as an
/// orphan.
#[test]
fn an_account_found_only_by_its_anchor_in_another_case_is_disputed() {
    let config = config(&[(
        "{source: '[employeeId]', target: EmployeeNumber}",
        "{source: '[employeeId]', target: Badge__c}",
    )]);
    // Kai's other account: none, one FederationIdentifier finds, one holding his badge as is.
    for other in [
        None,
        Some(("FederationIdentifier", "kai@x.com", 2)),
        Some(("Badge__c", "b-7", 1)),
    ] {
        let (mut w, kai) = kai_with_a_case_sensitive_badge();
        w.salesforce(
            "kaisf",
            json!({"Badge__c": "B-7", "FederationIdentifier": "kai.sf@x.com"}),
        );
        let mut reason = String::from("disputed: ");
        if let Some((field, value, rule)) = other {
            w.salesforce("kai", json!({ field: value }));
            reason = format!(
                "{reason}matching rule {rule} ({field} = {value:?}) links Salesforce user \
                 kai@x.com.dev1, and "
            );
        }
        reason.push_str(
            "Salesforce user kaisf@x.com.dev1's Badge__c holds \"B-7\", this user's \"b-7\" in \
             another case: the field is case-sensitive, so Salesforce holds two values; write \
             the right one on the account (or in Entra) to link them, or clear it if the \
             account is not theirs",
        );
        let plan = w.plan(&config);
        assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
        let p = problem(&plan, &kai);
        assert_eq!(p.kind, ProblemKind::Conflict, "{p:?}");
        assert_eq!(p.reason, reason);
        // `explain` counts the account its anchor rule found in another case (helper-84: "0
        // Salesforce user(s)", then the dispute naming it).
        let seen = super::explain::explain(&config, &w.source, &w.target, &inputs(&[]), &kai)
            .expect("explained");
        let anchor = &seen.matching.attempts[0];
        assert_eq!(
            (anchor.rule, anchor.found),
            (1, 1 + usize::from(other.is_some_and(|o| o.0 == "Badge__c")))
        );
    }
}

/// Two people whose employee ids differ only in case, in a case-sensitive anchor field, are
/// two values to Salesforce and to roster: each links their own account, neither disputes the
/// other's (helper-85). A third account in yet another case, which no one read holds, is
/// disputed by both.
#[test]
fn two_people_whose_ids_differ_only_in_case_each_keep_their_own_account() {
    let config = config(&[(
        "{source: '[employeeId]', target: EmployeeNumber}",
        "{source: '[employeeId]', target: Badge__c}",
    )]);
    for stray in [false, true] {
        let mut w = World::new();
        w.target.user_describe.push(crate::model::FieldDescribe {
            unique: true,
            case_sensitive: true,
            ..text_field("Badge__c", 10)
        });
        let mut keys = Vec::new();
        for (name, badge) in [("kai", "ab-1"), ("bo", "AB-1")] {
            keys.push(w.user(name, json!({ "employeeId": badge })));
            w.join(name, "g-sales");
            w.salesforce(name, json!({ "Badge__c": badge }));
        }
        if stray {
            w.salesforce(
                "stray",
                json!({"Badge__c": "Ab-1", "FederationIdentifier": null}),
            );
        }
        let plan = w.plan(&config);
        if stray {
            assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
            for key in &keys {
                let p = problem(&plan, key);
                assert!(
                    p.reason
                        .contains("stray@x.com.dev1's Badge__c holds \"Ab-1\""),
                    "{p:?}"
                );
            }
        } else {
            assert!(plan.errors.is_empty(), "{:?}", plan.errors);
            assert!(
                plan.changes
                    .iter()
                    .all(|c| c.action == Action::Update
                        && c.reason.starts_with("linked by Badge__c")),
                "{:#?}",
                plan.changes
            );
        }
    }
}

/// An owned account no one links whose case-sensitive anchor holds a read user's value in
/// another case is no orphan: Kai is linked by his object id (an anchor's link stands, so no
/// later rule looks further), and the account holding his badge as `B-7` is kept, as a
/// conflict that names him (helper-85: it was deactivated).
#[test]
fn an_unlinked_account_holding_a_badge_in_another_case_is_kept() {
    const GUID: &str = "0000000e-0000-4000-8000-00000000abcd";
    let config = config(&[
        (
            "  - {source: '[employeeId]', target: EmployeeNumber}\n",
            "  - {source: '[objectId]', target: Anchor__c}\n  - {source: '[employeeId]', target: Badge__c}\n",
        ),
        (
            "  - {target: Title, source: jobTitle}\n",
            "  - {target: Title, source: jobTitle}\n  - {target: Anchor__c, source: objectId}\n",
        ),
    ]);
    let (mut w, kai) = kai_with_a_case_sensitive_badge();
    w.target.user_describe.push(text_field("Anchor__c", 36));
    w.object_id("kai", GUID);
    w.salesforce("kai", json!({ "Anchor__c": GUID }));
    w.salesforce(
        "kaisf",
        json!({"Badge__c": "B-7", "FederationIdentifier": "kai.sf@x.com"}),
    );
    let plan = w.plan(&config);
    assert!(
        plan.changes
            .iter()
            .all(|c| c.key == kai && c.action == Action::Update),
        "{:#?}",
        plan.changes
    );
    let kept = problem(&plan, "kaisf@x.com.dev1");
    assert_eq!(kept.kind, ProblemKind::Conflict);
    assert_eq!(
        kept.reason,
        "kept: no Entra user links to it, but its Badge__c holds \"B-7\", the Entra user \
         kai@x.com's value in another case; the field is case-sensitive, so it may be their \
         second account: settle whose it is (correct or clear the value on it)"
    );
}

/// An object-id anchor in a case-sensitive unique field holding the person's id in capitals
/// (an import script's `[guid]`) is still the person's id: a GUID's case means nothing.
#[test]
fn an_object_id_anchor_in_capitals_links_in_a_case_sensitive_field() {
    const GUID: &str = "0000000e-0000-4000-8000-00000000abcd";
    let config = config(&[
        (
            "{source: '[employeeId]', target: EmployeeNumber}",
            "{source: '[objectId]', target: Anchor__c}",
        ),
        (
            "  - {target: Title, source: jobTitle}\n",
            "  - {target: Title, source: jobTitle}\n  - {target: Anchor__c, source: objectId}\n",
        ),
    ]);
    let mut w = World::new();
    w.target.user_describe.push(crate::model::FieldDescribe {
        unique: true,
        case_sensitive: true,
        ..text_field("Anchor__c", 36)
    });
    let kai = w.user("kai", json!({}));
    w.join("kai", "g-sales");
    w.object_id("kai", GUID);
    w.salesforce(
        "kaiold",
        json!({"Anchor__c": GUID.to_uppercase(), "FederationIdentifier": null}),
    );
    let plan = w.plan(&config);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let change = only(&plan, &kai);
    assert_eq!(change.action, Action::Update, "{change:?}");
    assert!(
        change
            .reason
            .starts_with("linked by Anchor__c to Salesforce user kaiold@x.com.dev1"),
        "{}",
        change.reason
    );
    assert_eq!(change.after.get("Anchor__c"), Some(&json!(GUID).into()));
}

/// The describe of a User text field of `length` characters.
fn text_field(name: &str, length: usize) -> crate::model::FieldDescribe {
    crate::model::FieldDescribe {
        name: name.into(),
        label: name.into(),
        kind: "string".into(),
        length,
        ..crate::model::FieldDescribe::default()
    }
}

/// A world of people anchored by employeeId whose UPNs (and so FederationIdentifiers, unique in
/// the org) are now `upns` — (name, new UPN) in the users' order — each with an account that
/// holds their old one, `name@x.com`.
fn renamed(upns: &[(&str, &str)]) -> World {
    let mut w = World::new();
    w.target.user_describe = vec![text_field("FederationIdentifier", 512)];
    for (n, (name, upn)) in upns.iter().enumerate() {
        let employee = format!("E{n}");
        w.user(
            name,
            json!({"employeeId": employee, "userPrincipalName": upn, "mail": format!("{name}@x.com")}),
        );
        w.join(name, "g-sales");
        w.salesforce(
            name,
            json!({"EmployeeNumber": employee, "Alias": upn.chars().take(4).collect::<String>()}),
        );
    }
    w
}

/// A FederationIdentifier one person's rename gives up is another's in the same plan, whichever
/// of the two is planned first and along a chain of three (Ann's old UPN to Bob, Bob's to Cy):
/// every account is updated, none is a conflict waiting for the next run (helper-60).
#[test]
fn a_unique_value_handed_on_by_a_rename_is_taken_in_the_same_plan() {
    for upns in [
        [
            ("ann", "ann.lee@x.com"),
            ("bob", "ann@x.com"),
            ("cy", "bob@x.com"),
        ],
        [
            ("cy", "bob@x.com"),
            ("bob", "ann@x.com"),
            ("ann", "ann.lee@x.com"),
        ],
        [
            ("bob", "ann@x.com"),
            ("cy", "bob@x.com"),
            ("ann", "ann.lee@x.com"),
        ],
    ] {
        let plan = renamed(&upns).plan(&config(&[]));
        assert!(plan.errors.is_empty(), "{upns:?}: {:?}", plan.errors);
        for (name, upn) in upns {
            let change = only(&plan, upn);
            assert_eq!(change.action, Action::Update, "{upns:?}");
            assert_eq!(
                change.before["FederationIdentifier"],
                format!("{name}@x.com")
            );
            assert_eq!(change.after["FederationIdentifier"], upn, "{upns:?}");
        }
    }
}

/// A plan limited to the user who takes a value keeps the updates that give it up, along the
/// chain, each with a warning: Salesforce refuses the taker's write before theirs (helper-66:
/// a targeted plan showed a clean update apply could only fail). The first giver alone needs
/// no one.
#[test]
fn a_targeted_plan_keeps_the_updates_that_hand_a_value_on_to_its_target() {
    let w = renamed(&[
        ("ann", "ann.lee@x.com"),
        ("bob", "ann@x.com"),
        ("cy", "bob@x.com"),
    ]);
    let config = config(&[]);
    let plan = w.plan_targets(&config, &["bob@x.com".to_owned()]);
    let keys: Vec<&str> = plan.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        ["ann.lee@x.com", "ann@x.com", "bob@x.com"],
        "{plan:#?}"
    );
    for (giver, taker) in [("ann@x.com", "bob@x.com"), ("ann.lee@x.com", "ann@x.com")] {
        let warning = format!(
            "{giver}'s update is in this plan though --target does not name it: {taker}'s change \
             takes a unique value that update gives up, which Salesforce refuses until it is \
             written"
        );
        assert!(plan.warnings.contains(&warning), "{:?}", plan.warnings);
    }
    // explain says whom the taker's write waits for; the first giver waits for no one.
    for (key, after) in [
        ("bob@x.com", &["ann@x.com"][..]),
        ("ann@x.com", &["ann.lee@x.com"][..]),
        ("ann.lee@x.com", &[][..]),
    ] {
        let explained = super::explain(&config, &w.source, &w.target, &inputs(&[]), key).unwrap();
        assert_eq!(explained.written_after, after, "{key}");
        let text = crate::render::explain::text(&explained);
        assert_eq!(
            text.contains("Salesforce refuses this write until"),
            !after.is_empty(),
            "{text}"
        );
    }
    let plan = w.plan_targets(&config, &["ann.lee@x.com".to_owned()]);
    let keys: Vec<&str> = plan.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["ann.lee@x.com"]);
    assert!(
        plan.warnings
            .iter()
            .all(|w| !w.contains("--target does not name")),
        "{:?}",
        plan.warnings
    );
}

/// Two people who trade UPNs trade FederationIdentifiers, which Salesforce refuses whichever
/// account is written first: both are conflicts that say so, naming the circle and what
/// settles it, and a third person's rename in the same plan goes ahead. So are three people
/// who pass their values round.
#[test]
fn a_swap_of_unique_values_is_a_conflict_that_says_so() {
    let swap = |holder: &str, circle: &str, n: usize| {
        format!(
            "; {holder}'s update gives it up, but the updates of {n} users wait on each other's \
             values in a circle ({circle}): a swap, which the unique field refuses whichever \
             account is written first. Set the value aside on one of their Salesforce users \
             (clear it, or write another), and the next plan writes them all"
        )
    };
    let plan = renamed(&[
        ("ann", "bob@x.com"),
        ("dee", "dee.ray@x.com"),
        ("bob", "ann@x.com"),
    ])
    .plan(&config(&[]));
    assert_eq!(only(&plan, "dee.ray@x.com").action, Action::Update);
    assert_eq!(plan.errors.len(), 2, "{:?}", plan.errors);
    for (key, holder) in [("bob@x.com", "ann@x.com"), ("ann@x.com", "bob@x.com")] {
        let p = problem(&plan, key);
        assert_eq!(p.kind, ProblemKind::Conflict);
        let circle = format!("{key} → {holder} → {key}");
        assert!(p.reason.contains(&swap(holder, &circle, 2)), "{p:?}");
    }
    // Ann takes Bob's, Bob Cy's, Cy Ann's.
    let plan = renamed(&[
        ("ann", "bob@x.com"),
        ("bob", "cy@x.com"),
        ("cy", "ann@x.com"),
    ])
    .plan(&config(&[]));
    assert_eq!(plan.errors.len(), 3, "{:?}", plan.errors);
    for (key, holder, last) in [
        ("bob@x.com", "cy@x.com", "ann@x.com"),
        ("cy@x.com", "ann@x.com", "bob@x.com"),
        ("ann@x.com", "bob@x.com", "cy@x.com"),
    ] {
        let p = problem(&plan, key);
        let circle = format!("{key} → {holder} → {last} → {key}");
        assert!(p.reason.contains(&swap(holder, &circle, 3)), "{p:?}");
    }
}

/// Ann is renamed and takes Bob's badge, which Bob keeps; Bob takes Ann's old UPN. Each waits
/// on the other, but Bob's update never gives the badge up: two Entra users give one badge,
/// not a swap. Both are conflicts that say only who holds what — advice to set a value aside
/// would hand Bob's badge to Ann (helper-66).
#[test]
fn two_users_giving_one_value_wait_on_each_other_but_are_no_swap() {
    let mut w = renamed(&[("ann", "ann2@x.com"), ("bob", "ann@x.com")]);
    w.target.user_describe.push(crate::model::FieldDescribe {
        unique: true,
        ..text_field("Badge__c", 10)
    });
    for (n, badge) in [(0, "B1"), (1, "B2")] {
        w.target.users[n].fields.insert(
            crate::sorted_map::Name::from("Badge__c"),
            json!(badge).into(),
        );
        w.source.users[n]
            .attributes
            .insert("department".into(), json!("B2"));
    }
    let config = config(&[(
        "  - {target: Title, source: jobTitle}\n",
        "  - {target: Title, source: jobTitle}\n  - {target: Badge__c, source: department}\n",
    )]);
    let plan = w.plan(&config);
    assert_eq!(plan.errors.len(), 2, "{:?}", plan.errors);
    for p in &plan.errors {
        assert_eq!(p.kind, ProblemKind::Conflict, "{p:?}");
        assert!(!p.reason.contains("swap"), "{p:?}");
    }
    assert!(
        problem(&plan, "ann2@x.com")
            .reason
            .starts_with("Badge__c \"B2\" is already held by Salesforce user bob@x.com.dev1"),
        "{:?}",
        plan.errors
    );
}

/// Ann's rename would give her old UPN to Bob, but her update is held back (her new job title
/// is longer than the org's Title field): Bob's conflict says whose account holds the value and
/// that its update is held back, whichever of the two is planned first (helper-66).
#[test]
fn a_value_whose_givers_update_is_held_back_stays_the_givers_and_says_so() {
    for upns in [
        [("ann", "ann.lee@x.com"), ("bob", "ann@x.com")],
        [("bob", "ann@x.com"), ("ann", "ann.lee@x.com")],
    ] {
        let mut w = renamed(&upns);
        let ann = usize::from(upns[0].0 == "bob");
        w.target.user_describe.push(text_field("Title", 10));
        w.source.users[ann]
            .attributes
            .insert("jobTitle".into(), json!("Principal Engineer"));
        let plan = w.plan(&config(&[]));
        assert_eq!(plan.errors.len(), 2, "{:?}", plan.errors);
        assert_eq!(problem(&plan, "ann.lee@x.com").kind, ProblemKind::Error);
        let bob = problem(&plan, "ann@x.com");
        assert_eq!(bob.kind, ProblemKind::Conflict);
        assert!(
            bob.reason.ends_with(
                "; that account is ann.lee@x.com's, whose own update in this plan is held back \
                 by a problem of its own"
            ),
            "{upns:?}: {bob:?}"
        );
    }
}

/// A value whose holder's update keeps it is no one else's: a conflict, as ever.
#[test]
fn a_unique_value_its_holder_keeps_is_a_conflict_whoever_is_planned_first() {
    for upns in [
        [("ann", "ann@x.com"), ("bob", "ann@x.com")],
        [("bob", "ann@x.com"), ("ann", "ann@x.com")],
    ] {
        let mut w = renamed(&upns);
        // Ann's job changes: her account is updated, her FederationIdentifier kept.
        w.source.users[usize::from(upns[0].0 == "bob")]
            .attributes
            .insert("jobTitle".into(), json!("Lead"));
        let plan = w.plan(&config(&[]));
        assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
        let p = &plan.errors[0];
        assert!(
            p.reason
                .contains("is already held by Salesforce user ann@x.com.dev1"),
            "{p:?}"
        );
        assert!(!p.reason.contains("swap"), "{p:?}");
    }
}

/// A person in dispute who leaves scope is listed, not dropped in silence: no account in the
/// dispute is deactivated, and the plan says so (helper-62: "No changes" while a disabled
/// person's account stayed active).
#[test]
fn a_disputed_user_out_of_scope_is_a_conflict_the_plan_lists() {
    let mut w = World::new();
    let ann = w.user("ann", json!({"accountEnabled": false}));
    w.join("ann", "g-sales");
    // Someone in scope, or the plan is refused as empty.
    w.user("zed", json!({}));
    w.join("zed", "g-sales");
    w.salesforce("ann", json!({}));
    w.salesforce("ann2", json!({"FederationIdentifier": "ann@x.com"}));
    let plan = w.plan(&config(&[]));
    assert!(
        plan.changes
            .iter()
            .all(|c| c.target_id.is_none() && c.key != ann),
        "{:?}",
        plan.changes
    );
    let p = problem(&plan, &ann);
    assert_eq!(p.kind, ProblemKind::Conflict);
    assert!(
        p.reason
            .starts_with("disputed: 2 Salesforce users have FederationIdentifier")
            && p.reason.contains(
                "the user is out of scope (disabled in Entra (accountEnabled is false)), but \
                 roster deactivates none of the accounts in dispute"
            ),
        "{}",
        p.reason
    );
}

#[test]
fn a_disputed_anchor_keeps_each_users_own_account() {
    // Two Entra users share an employee id: both are in dispute over the first one's account,
    // and the second one's own account is not an orphan for it.
    let mut w = World::new();
    let ann = w.user("ann", json!({"employeeId": "E5"}));
    let bob = w.user("bob", json!({"employeeId": "E5"}));
    w.join("ann", "g-sales");
    w.join("bob", "g-sales");
    w.salesforce("ann", json!({"EmployeeNumber": "E5"}));
    w.salesforce("bob", json!({"EmployeeNumber": "E6"}));
    let plan = w.plan(&config(&[]));
    assert!(plan.changes.is_empty(), "{plan:#?}");
    assert_eq!(problem(&plan, &ann).kind, ProblemKind::Conflict);
    assert_eq!(problem(&plan, &bob).kind, ProblemKind::Conflict);
}

#[test]
fn a_disputed_match_in_either_direction_is_a_conflict_never_acted_on() {
    let mut w = World::new();
    let upn = w.user("ida", json!({}));
    w.join("ida", "g-sales");
    w.salesforce("ida", json!({"Title": "Old"}));
    w.salesforce("ida", json!({"Username": "ida2@x.com.dev1"}));
    let plan = w.plan(&config(&[]));
    assert!(plan.changes.iter().all(|c| c.key != upn));
    let p = problem(&plan, &upn);
    assert_eq!(p.kind, ProblemKind::Conflict);
    assert!(
        p.reason
            .starts_with("disputed: 2 Salesforce users have FederationIdentifier"),
        "{}",
        p.reason
    );

    // Two Entra users, one Salesforce user.
    let mut w = World::new();
    let a = w.user("jo", json!({"employeeId": "E7"}));
    let b = w.user("kim", json!({}));
    w.join("jo", "g-sales");
    w.join("kim", "g-sales");
    w.salesforce("kim", json!({"EmployeeNumber": "E7"}));
    let plan = w.plan(&config(&[]));
    for key in [&a, &b] {
        let p = problem(&plan, key);
        assert_eq!(p.kind, ProblemKind::Conflict);
        assert!(
            p.reason.contains("is matched by 2 Entra users"),
            "{}",
            p.reason
        );
    }
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

/// Users linked to protected accounts are left as they are whatever differs: a plan without
/// changes does not say Salesforce matches the configuration for them (helper-77).
#[test]
fn the_no_changes_headline_counts_protected_users() {
    let summary = |protected, conflicts| super::Summary {
        conflicts,
        protected,
        ..super::Summary::default()
    };
    assert_eq!(
        summary(0, 0).headline(),
        "No changes. Salesforce matches the configuration."
    );
    assert_eq!(
        summary(2, 0).headline(),
        "No changes. 2 users are linked to protected Salesforce users, which roster leaves as \
         they are; the rest matches the configuration."
    );
    assert_eq!(
        summary(2, 1).headline(),
        "No changes to make; 1 user needs attention."
    );
}

#[test]
fn a_sandbox_refreshed_invalid_email_is_not_drift() {
    let mut w = World::new();
    w.user("lou", json!({}));
    w.join("lou", "g-sales");
    w.salesforce(
        "lou",
        json!({"Email": "LOU@x.com.invalid", "Title": "Engineer  "}),
    );
    let plan = w.plan(&config(&[]));
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(plan.summary.unchanged, 1);
    assert_eq!(
        super::super::render::text::summary_line(&plan),
        "No changes. Salesforce matches the configuration."
    );
}

#[test]
fn an_inactive_linked_user_in_scope_is_reactivated() {
    let mut w = World::new();
    let upn = w.user("max", json!({}));
    w.join("max", "g-sales");
    w.salesforce("max", json!({"IsActive": false}));
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Reactivate);
    assert_eq!(change.before["IsActive"], false);
    assert_eq!(change.after["IsActive"], true);
    assert!(
        change
            .reason
            .contains("inactive in Salesforce and in scope again"),
        "{}",
        change.reason
    );
    assert_eq!(plan.summary.reactivate, 1);
}

#[test]
fn an_on_create_field_that_drifted_is_not_updated_and_null_never_flows() {
    let mut w = World::new();
    w.user("ned", json!({"jobTitle": null}));
    w.join("ned", "g-sales");
    w.salesforce(
        "ned",
        json!({"CommunityNickname": "someone-else", "Username": "renamed@x.com.dev1"}),
    );
    let plan = w.plan(&config(&[]));
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[test]
fn ignore_flow_drops_the_field_and_defaults_apply_on_create_only() {
    let mut w = World::new();
    let upn = w.user("oli", json!({"jobTitle": "", "surname": null}));
    w.join("oli", "g-sales");
    let ignore = (
        "{target: Title, source: jobTitle}",
        "{target: Title, expression: 'IgnoreFlowIfNullOrEmpty([jobTitle])'}",
    );
    let plan = w.plan(&config(&[ignore]));
    let change = only(&plan, &upn);
    assert!(!change.after.contains_key("Title"));
    assert_eq!(change.after["LastName"], ".");
}

#[test]
fn explain_says_a_linked_user_is_protected() {
    let mut w = World::new();
    let upn = w.user("root", json!({"jobTitle": "Boss"}));
    w.join("root", "g-sales");
    w.salesforce("root", json!({"ProfileId": "00e000000000003"}));
    let config = config(&[]);
    let inputs = inputs(&[]);
    let explained = super::explain(&config, &w.source, &w.target, &inputs, &upn).unwrap();
    assert!(
        explained
            .matching
            .result
            .ends_with(", protected (`protect` names its profile): roster never changes, deactivates or freezes it"),
        "{}",
        explained.matching.result
    );
    assert!(explained.change.is_none());
}

#[test]
fn protected_users_are_never_touched_even_out_of_scope() {
    let mut w = World::new();
    w.salesforce("admin", json!({"Username": "admin@x.com.dev1"}));
    w.salesforce(
        "root",
        json!({"Username": "root@x.com.dev1", "ProfileId": "00e000000000003"}),
    );
    w.user("pat", json!({"accountEnabled": false}));
    w.join("pat", "g-sales");
    w.salesforce(
        "pat",
        json!({"Username": "pat@x.com.dev1", "ProfileId": "00e000000000003"}),
    );
    w.user("keep", json!({}));
    w.join("keep", "g-sales");
    let plan = w.plan(&config(&[(
        "protect: {profiles: [System Administrator]}",
        "protect: {usernames: [admin@x.com.dev1], profiles: [System Administrator]}",
    )]));
    assert!(
        plan.changes.iter().all(|c| c.action == Action::Create),
        "{:#?}",
        plan.changes
    );
}

#[test]
fn orphans_are_deactivated_only_when_owned() {
    let mut w = World::new();
    w.salesforce("gone", json!({}));
    w.salesforce("other", json!({"Username": "other@elsewhere.com"}));
    w.user("stay", json!({}));
    w.join("stay", "g-sales");
    w.salesforce("stay", json!({}));
    let plan = w.plan(&config(&[]));
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let change = &plan.changes[0];
    assert_eq!(change.key, "gone@x.com.dev1");
    assert_eq!(change.situation, Situation::Orphaned);
    let freeze = w.plan(&config(&[(
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\ndeprovision: {out_of_scope: freeze}",
    )]));
    assert_eq!(freeze.changes[0].action, Action::Freeze);
    assert_eq!(
        freeze.changes[0].login_id.as_deref(),
        Some("060000000000001")
    );
    // A user without a UserLogin cannot be frozen: an error item, not a change that fails.
    w.target.users[0].login = None;
    let no_login = w.plan(&config(&[(
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\ndeprovision: {out_of_scope: freeze}",
    )]));
    assert!(no_login.changes.is_empty());
    assert!(
        problem(&no_login, "gone@x.com.dev1")
            .reason
            .ends_with("Salesforce has no UserLogin record for 005000000000001 to freeze")
    );
    let ignore = w.plan(&config(&[(
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\ndeprovision: {out_of_scope: ignore}",
    )]));
    assert!(ignore.changes.is_empty());
}

#[test]
fn the_deactivation_threshold_as_a_count_and_as_a_percentage() {
    let mut w = World::new();
    for name in ["a1", "a2", "a3"] {
        w.salesforce(name, json!({}));
    }
    w.user("b1", json!({}));
    w.join("b1", "g-sales");
    w.salesforce("b1", json!({}));
    // Owned users deactivated earlier are not counted: Salesforce keeps every user, and an
    // allowance that counted them would grow with each run.
    for name in ["gone1", "gone2", "gone3", "gone4"] {
        w.salesforce(name, json!({"IsActive": false}));
    }
    let count = w.plan(&config(&[(
        "max_deactivations: 10",
        "max_deactivations: 2",
    )]));
    assert_eq!(count.safety.deactivations, 3);
    assert_eq!(count.safety.max_deactivations, 2);
    assert!(count.safety.exceeded);
    let within = w.plan(&config(&[(
        "max_deactivations: 10",
        "max_deactivations: 3",
    )]));
    assert!(!within.safety.exceeded);
    // 4 owned users: 50% allows 2, 75% allows 3.
    let half = w.plan(&config(&[(
        "max_deactivations: 10",
        "max_deactivations: \"50%\"",
    )]));
    assert_eq!(half.safety.max_deactivations, 2);
    assert_eq!(half.safety.allowance, "50% of 4 active owned users = 2");
    // A percentage is shown as written, without float noise (0.07 * 100).
    let seven = w.plan(&config(&[(
        "max_deactivations: 10",
        "max_deactivations: \"7%\"",
    )]));
    assert!(
        seven
            .safety
            .allowance
            .starts_with("7% of 4 active owned users"),
        "{}",
        seven.safety.allowance
    );
    assert_eq!(half.safety.what(), "3 deactivations");
    assert!(half.safety.exceeded);
    let most = w.plan(&config(&[(
        "max_deactivations: 10",
        "max_deactivations: \"75%\"",
    )]));
    assert!(!most.safety.exceeded);
    // Targeted one at a time, each deactivation still weighs the ones waiting outside.
    let two = config(&[("max_deactivations: 10", "max_deactivations: 2")]);
    let one = w.plan_targets(&two, &["a1@x.com.dev1".to_owned()]);
    assert_eq!(one.safety.deactivations, 1);
    assert_eq!(one.safety.outside_target, 2);
    assert!(one.safety.exceeded);
    // A targeted plan that deactivates nobody is not held back by them.
    let none = w.plan_targets(&two, &["b1@x.com".to_owned()]);
    assert_eq!(none.safety.counted(), 0);
    assert!(!none.safety.exceeded);
}

#[test]
fn an_empty_source_set_is_refused() {
    let mut w = World::new();
    w.salesforce("a1", json!({}));
    let plan = w.plan(&config(&[]));
    assert!(
        plan.refused
            .as_deref()
            .is_some_and(|r| r.contains("no Entra user is in scope"))
    );
    assert!(plan.changes.is_empty());
    let allowed = w.plan(&config(&[(
        "max_deactivations: 10",
        "max_deactivations: 10, refuse_empty_source: false",
    )]));
    assert_eq!(allowed.changes.len(), 1);
}

#[test]
fn permission_sets_only_managed_ones_are_removed() {
    let mut w = World::new();
    let upn = w.user("rae", json!({}));
    w.join("rae", "g-sales");
    let id = w.salesforce("rae", json!({}));
    w.holds(&id, "Reports");
    w.holds(&id, "Legacy");
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert!(change.grants.add.is_empty());
    let removed: Vec<&str> = change.grants.remove.iter().map(|p| &*p.name).collect();
    assert_eq!(removed, ["Reports"]);
    assert!(change.grants.remove[0].assignment_id.is_some());
    // A role-only group adds its permission set.
    w.join("rae", "g-support");
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    let added: Vec<&str> = change.grants.add.iter().map(|p| &*p.name).collect();
    assert_eq!(added, ["Service"]);
}

#[test]
fn names_the_org_lacks_or_has_twice_are_config_problems_once() {
    let mut w = World::new();
    for name in ["sam", "sue", "sid"] {
        w.user(name, json!({}));
        w.join(name, "g-sales");
    }
    let plan = w.plan(&config(&[(
        "profile: Standard User",
        "profile: Standard Usr",
    )]));
    assert!(
        plan.changes.is_empty() && plan.errors.is_empty(),
        "{plan:#?}"
    );
    assert!(plan.refused.is_some());
    assert_eq!(
        plan.config_problems,
        [super::ConfigProblem {
            pointer: "/roles/rules/1/profile".into(),
            message: "the org has no profile named \"Standard Usr\"".into(),
            help: Some("did you mean \"Standard User\"?".into()),
        }]
    );
    // Two profiles of one name: ambiguous, both ids named; an id picks one.
    w.target
        .profiles
        .push(profile("00e000000000009", "Standard User"));
    let plan = w.plan(&config(&[]));
    assert_eq!(plan.config_problems.len(), 1, "{plan:#?}");
    assert!(
        plan.config_problems[0].message.contains(
            "2 profiles in the org are named \"Standard User\" (00e000000000001, 00e000000000009)"
        ),
        "{:?}",
        plan.config_problems
    );
    let plan = w.plan(&config(&[(
        "profile: Standard User",
        "profile: {id: '00e000000000009'}",
    )]));
    assert!(
        plan.config_problems.is_empty(),
        "{:?}",
        plan.config_problems
    );
    assert_eq!(plan.summary.create, 3);
    // The 18-character form is case-insensitive (its suffix, here `AAQ`, restores the capital
    // X), even written all in lower case; the 15-character form is not.
    w.target
        .profiles
        .push(profile("00e00000000000X", "Standard User"));
    for (id, found) in [
        ("00e00000000000XAAQ", true),
        ("00e00000000000xaaq", true),
        ("00e00000000000x", false),
    ] {
        let plan = w.plan(&config(&[(
            "profile: Standard User",
            &format!("profile: {{id: '{id}'}}"),
        )]));
        assert_eq!(
            plan.config_problems.is_empty(),
            found,
            "{id}: {:?}",
            plan.config_problems
        );
        assert_eq!(plan.summary.create, if found { 3 } else { 0 }, "{id}");
    }
    // A managed permission set the org does not have.
    let plan = w.plan(&config(&[(
        "managed_permission_sets: [Sales, Reports, Service]",
        "managed_permission_sets: [Sales, Reports, Service, Sevrice]",
    )]));
    assert!(
        plan.config_problems
            .iter()
            .any(|p| p.pointer == "/roles/managed_permission_sets/3"
                && p.help.as_deref() == Some("did you mean \"Service\"?")),
        "{:?}",
        plan.config_problems
    );
}

#[test]
fn a_rule_on_an_app_role_the_application_lacks_is_a_config_problem() {
    // A typo in an app role would leave every Rep without a profile, one error per user.
    let mut w = World::new();
    w.user("sam", json!({}));
    w.direct("sam", REP);
    let plan = w.plan(&config(&[("{app_role: Rep}", "{app_role: Reps}")]));
    assert!(
        plan.refused.is_some() && plan.changes.is_empty(),
        "{plan:#?}"
    );
    assert_eq!(
        plan.config_problems,
        [super::ConfigProblem {
            pointer: "/roles/rules/1/when/app_role".into(),
            message: "the application \"App\" has no app role named \"Reps\"".into(),
            help: Some("did you mean \"Rep\"?".into()),
        }]
    );
    // Its display name names it as well as its value.
    "Sales Representative".clone_into(&mut w.source.application.app_roles[1].display_name);
    for name in ["Rep", "Sales Representative"] {
        let plan = w.plan(&config(&[(
            "{app_role: Rep}",
            &format!("{{app_role: {name}}}"),
        )]));
        assert!(
            plan.config_problems.is_empty(),
            "{:?}",
            plan.config_problems
        );
        assert_eq!(plan.summary.create, 1, "{plan:#?}");
    }
}

#[test]
fn a_role_condition_that_cannot_be_evaluated_is_an_error_not_false() {
    let mut w = World::new();
    let upn = w.user(
        "sam",
        json!({"proxyAddresses": ["SMTP:sam@x.com", "smtp:s@x.com"]}),
    );
    w.join("sam", "g-sales");
    // Left() of a multi-valued attribute is an error in Entra's language.
    let plan = w.plan(&config(&[(
        "{when: {group: Support}",
        "{when: {expression: 'IIF(Left([proxyAddresses], 4) = \"SMTP\", \"True\", \"False\")'}",
    )]));
    let p = problem(&plan, &upn);
    assert!(
        p.reason
            .starts_with("role rule 3 (/roles/rules/2/when/expression `IIF(Left("),
        "{}",
        p.reason
    );
    assert!(plan.changes.iter().all(|c| c.key != upn));
}

#[test]
fn two_entra_users_with_one_username_are_a_conflict() {
    let mut w = World::new();
    let a = w.user("tia", json!({}));
    let b = w.user("tib", json!({}));
    w.join("tia", "g-sales");
    w.join("tib", "g-sales");
    let same = (
        "expression: 'Append([userPrincipalName], \".dev1\")'",
        "constant: same@x.com.dev1",
    );
    let plan = w.plan(&config(&[same]));
    for key in [&a, &b] {
        assert_eq!(problem(&plan, key).kind, ProblemKind::Conflict);
    }
    assert!(plan.changes.is_empty());
}

#[test]
fn creates_beyond_the_free_licences_are_errors() {
    let mut w = World::new();
    w.target.licenses[0].total = 3;
    for name in ["u1", "u2", "u3"] {
        w.user(name, json!({}));
        w.join(name, "g-sales");
    }
    let plan = w.plan(&config(&[]));
    assert_eq!(plan.summary.create, 1);
    assert_eq!(plan.summary.errors, 2);
    assert!(
        problem(&plan, "u3@x.com")
            .reason
            .contains("no Salesforce licence left")
    );
}

#[test]
fn preflight_catches_what_salesforce_would_reject() {
    let mut w = World::new();
    let upn = w.user("verylongname", json!({}));
    w.join("verylongname", "g-sales");
    let long_alias = (
        "'Left([userPrincipalName], 4)'",
        "'Left([userPrincipalName], 9)'",
    );
    let plan = w.plan(&config(&[long_alias]));
    assert_eq!(
        problem(&plan, &upn).reason,
        "Alias \"verylongn\" is 9 characters; Salesforce allows 8"
    );
    // Salesforce counts UTF-16 units: seven letters and an emoji are nine.
    let emoji = w.user("emoji", json!({"givenName": "Ana🌻", "surname": "Lima"}));
    w.join("emoji", "g-sales");
    let emoji_alias = (
        "'Left([userPrincipalName], 4)'",
        "'Append([givenName], [surname])'",
    );
    let plan = w.plan(&config(&[emoji_alias]));
    assert!(
        problem(&plan, &emoji).reason.starts_with(
            "Alias \"Ana🌻Lima\" is 9 characters as Salesforce counts them (8 characters"
        ),
        "{}",
        problem(&plan, &emoji).reason
    );
    // Measured as stored, trimmed: the message says so when the value shown has white space
    // around it (helper-69: its two lengths differed, unexplained).
    let padded = w.user(
        "padded",
        json!({"jobTitle": format!("  {}", "y".repeat(300))}),
    );
    w.join("padded", "g-sales");
    let plan = w.plan(&config(&[]));
    let reason = &problem(&plan, &padded).reason;
    assert!(
        reason.ends_with(
            "(302 characters in all) is 300 characters, trimmed of its leading and trailing \
             white space as Salesforce stores it; Salesforce allows 80"
        ),
        "{reason}"
    );
    // A value of a million characters is named by its start and length, not printed whole.
    let huge = w.user("huge", json!({"jobTitle": "x".repeat(1_000_000)}));
    w.join("huge", "g-sales");
    let plan = w.plan(&config(&[]));
    let reason = &problem(&plan, &huge).reason;
    assert!(
        reason.starts_with(&format!(
            "Title \"{}\"… (1000000 characters in all) is 1000000 characters",
            "x".repeat(200)
        )) && reason.len() < 400,
        "{}",
        &reason[..reason.len().min(400)]
    );
    let no_email = (
        "{target: Email, source: mail}",
        "{target: Email, source: faxNumber}",
    );
    let plan = w.plan(&config(&[no_email]));
    assert!(
        problem(&plan, &upn)
            .reason
            .contains("requires Email on create")
    );
    // A Username without an email's shape: describe calls the field a string, Salesforce
    // refuses it all the same (INVALID_EMAIL_ADDRESS), so the plan must not show a create.
    for (expression, username) in [
        ("'Append([mailNickname], \".dev1\")'", "verylongname.dev1"),
        (
            "'Append([userPrincipalName], \"@dev1\")'",
            "verylongname@x.com@dev1",
        ),
        (
            "'Append([userPrincipalName], \".\")'",
            "verylongname@x.com.",
        ),
        (
            "'Append([userPrincipalName], \"..dev1\")'",
            "verylongname@x.com..dev1",
        ),
    ] {
        let bad_username = (
            "expression: 'Append([userPrincipalName], \".dev1\")'",
            &*format!("expression: {expression}"),
        );
        let plan = w.plan(&config(&[bad_username]));
        assert!(plan.changes.iter().all(|c| c.key != upn), "{username}");
        assert_eq!(
            problem(&plan, &upn).reason,
            format!("Username {username:?} is not an email address Salesforce accepts")
        );
    }
}

#[test]
fn select_unique_value_sees_the_orgs_usernames() {
    let mut w = World::new();
    let upn = w.user("uma", json!({}));
    w.join("uma", "g-sales");
    w.salesforce(
        "someone",
        json!({"Username": "uma@x.com.dev1", "FederationIdentifier": "x"}),
    );
    let unique = (
        "expression: 'Append([userPrincipalName], \".dev1\")'",
        "expression: 'SelectUniqueValue(Append([userPrincipalName], \".dev1\"), Append([userPrincipalName], \".dev2\"))'",
    );
    let plan = w.plan(&config(&[unique]));
    assert_eq!(only(&plan, &upn).after["Username"], "uma@x.com.dev2");
}

#[test]
fn ignore_object_flow_skips_the_user_and_says_which_mapping() {
    let mut w = World::new();
    let contractor = w.user("cora", json!({"jobTitle": "Contractor"}));
    let employee = w.user("eli", json!({}));
    w.join("cora", "g-sales");
    w.join("eli", "g-sales");
    // A linked contractor is not updated either, and is not deprovisioned: still in scope.
    let linked = w.user("lin", json!({"jobTitle": "Contractor"}));
    w.join("lin", "g-sales");
    w.salesforce(
        "lin",
        json!({"Username": "lin@x.com.dev1", "FederationIdentifier": "lin@x.com", "Title": "Old"}),
    );
    let skip = (
        "{target: Title, source: jobTitle}",
        "{target: Title, expression: 'IIF([jobTitle] = \"Contractor\", IgnoreObjectFlow, [jobTitle])'}",
    );
    let plan = w.plan(&config(&[skip]));
    let keys: Vec<&str> = plan.skipped.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, [contractor.as_str(), linked.as_str()]);
    assert!(plan.skipped.iter().all(|p| p.kind == ProblemKind::Skipped
        && p.reason.starts_with("skipped by expression: mapping Title (IIF([jobTitle] = \"Contractor\", IgnoreObjectFlow, [jobTitle])) returned IgnoreObjectFlow")));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(
        plan.changes
            .iter()
            .map(|c| c.key.as_str())
            .collect::<Vec<_>>(),
        [employee.as_str()]
    );
    assert_eq!(plan.summary.skipped, 2);
    assert_eq!(
        plan.headline,
        "Plan: 1 to create, 0 to update, 0 to deactivate; 2 users skipped by expression."
    );
    let text = crate::render::render(&plan, crate::render::Format::Text, false, false);
    assert!(
        text.contains(
            "roster leaves these users as they are in this run, as a mapping expression asks:"
        ) && text.contains(&format!(
            "· salesforce_user[{contractor:?}]: skipped by expression"
        )),
        "{text}"
    );
    // IgnoreAttributeFlow drops only the attribute: the user is created without a Title.
    let drop = (
        "{target: Title, source: jobTitle}",
        "{target: Title, expression: 'IIF([jobTitle] = \"Contractor\", IgnoreAttributeFlow, [jobTitle])'}",
    );
    let plan = w.plan(&config(&[drop]));
    assert!(plan.skipped.is_empty());
    let cora = plan.changes.iter().find(|c| c.key == contractor).unwrap();
    assert!(!cora.after.contains_key("Title"), "{:?}", cora.after);
}

#[test]
fn guid_and_random_string_differ_between_users_and_not_between_plans() {
    let mut w = World::new();
    let a = w.user("ada", json!({}));
    let b = w.user("bob", json!({}));
    w.join("ada", "g-sales");
    w.join("bob", "g-sales");
    let random = (
        "{target: Title, source: jobTitle}",
        "{target: Title, expression: 'Guid()'}\n  - {target: Division, expression: 'RandomString(10, 1, 1, 1, 1)'}",
    );
    let plan = w.plan(&config(&[random]));
    let value = |key: &str, field: &str| only(&plan, key).after[field].clone();
    assert_ne!(value(&a, "Title"), value(&b, "Title"));
    assert_ne!(value(&a, "Division"), value(&b, "Division"));
    assert_ne!(value(&a, "Title"), value(&a, "Division"));
    assert_eq!(
        plan,
        w.plan(&config(&[random])),
        "a reviewed plan applies as reviewed"
    );
}

#[test]
fn a_scoping_regex_the_engine_gives_up_on_decides_only_when_it_matters() {
    let mut w = World::new();
    let slow = format!("{}b", "a".repeat(37));
    // An employee passes the first filter: the second cannot change that.
    let emp = w.user("emp", json!({"employeeType": "Employee", "jobTitle": slow}));
    // A contractor's only chance is the second filter, whose other clause is false: out.
    let out = w.user(
        "out",
        json!({"employeeType": "Contractor", "department": "HR", "jobTitle": slow}),
    );
    // A contractor whose result hangs on the pattern: undecided, an error item, left alone.
    let hung = w.user(
        "hung",
        json!({"employeeType": "Contractor", "department": "Sales", "jobTitle": slow}),
    );
    for name in ["emp", "out", "hung"] {
        w.join(name, "g-sales");
    }
    w.salesforce("hung", json!({}));
    let scope = (
        "matching:\n",
        "scope:\n  filters:\n    - all: [{attribute: employeeType, operator: equals, value: Employee}]\n    - all:\n        - {attribute: department, operator: equals, value: Sales}\n        - {attribute: jobTitle, operator: regex_match, value: '^(a|aa)+(?!b)$'}\nmatching:\n",
    );
    let plan = w.plan(&config(&[scope]));
    assert_eq!(only(&plan, &emp).action, Action::Create);
    assert!(
        plan.changes.iter().all(|c| c.key != out),
        "{:?}",
        plan.changes
    );
    let p = problem(&plan, &hung);
    assert_eq!(p.kind, ProblemKind::Error);
    assert!(
        p.reason.starts_with("scope cannot be decided: jobTitle regex_match \"^(a|aa)+(?!b)$\": the pattern \"^(a|aa)+(?!b)$\" could not finish matching"),
        "{}",
        p.reason
    );
    assert!(
        plan.changes.iter().all(|c| c.key != hung),
        "never deprovisioned: {:?}",
        plan.changes
    );
}

#[test]
fn an_account_in_a_username_conflict_is_never_deprovisioned_by_the_same_plan() {
    // A matching rule that links no one (a careless edit): the user's own account is named by
    // the create's Username conflict, and is not deactivated as an orphan.
    let mut w = World::new();
    let upn = w.user("nia", json!({}));
    w.join("nia", "g-sales");
    let id = w.salesforce("nia", json!({}));
    let broken = (
        "{source: '[userPrincipalName]', target: FederationIdentifier}",
        "{source: 'Append([userPrincipalName], \".old\")', target: FederationIdentifier}",
    );
    let plan = w.plan(&config(&[broken]));
    let p = problem(&plan, &upn);
    assert_eq!(p.kind, ProblemKind::Conflict);
    assert!(p.reason.contains(&id), "{}", p.reason);
    assert!(
        plan.changes
            .iter()
            .all(|c| c.target_id.as_deref() != Some(id.as_str())),
        "{:?}",
        plan.changes
    );
    assert_eq!(plan.summary.deactivate, 0);
}

/// `explain` of an Entra user roster did not read, whose matching rule finds an account the
/// plan holds back (Nia's, named by her create's Username conflict): it says why that account
/// has no change, where it said only "no change". Without the conflict, it says roster does
/// not own it, or would deactivate it were the threshold not exceeded.
#[test]
fn explain_of_an_unread_user_says_why_the_account_their_rules_find_has_no_change() {
    let mut w = World::new();
    let upn = w.user("nia", json!({}));
    w.join("nia", "g-sales");
    let id = w.salesforce(
        "nia",
        json!({"EmployeeNumber": "E9", "FederationIdentifier": null}),
    );
    let broken = (
        "{source: '[userPrincipalName]', target: FederationIdentifier}",
        "{source: 'ToUpper([userPrincipalName])', target: FederationIdentifier}",
    );
    let inputs = inputs(&[]);
    // Someone assigned to nothing, whose employeeId is the one on Nia's account.
    let ghost = crate::model::UnreadUser {
        id: "id-ghost".into(),
        user_principal_name: "ghost@x.com".into(),
        attributes: [
            (crate::sorted_map::Name::from("employeeId"), json!("E9")),
            (
                crate::sorted_map::Name::from("userPrincipalName"),
                json!("ghost@x.com"),
            ),
        ]
        .into(),
        ..crate::model::UnreadUser::default()
    };
    let found = |w: &World, config: &Config| {
        let n = super::explain::not_read(config, &w.source, &w.target, &inputs, &ghost);
        assert_eq!(n.salesforce_users.len(), 1, "{n:#?}");
        n.salesforce_users[0].clone()
    };
    let held = found(&w, &config(&[broken]));
    assert!(held.change.is_none(), "{held:#?}");
    let why = held.held_back.unwrap_or_default();
    assert!(
        why.starts_with(&format!(
            "the plan holds it back, as it is part of {upn}'s conflict: "
        )) && why.contains(&id),
        "{why}"
    );
    // Renamed, the account is no one's: an orphan of another suffix is not roster's.
    w.target.users[0].username = "nia@x.com.prod".into();
    let foreign = found(&w, &config(&[]));
    assert_eq!(
        foreign.held_back.as_deref(),
        Some("roster does not own it: its Username does not end with .dev1"),
        "{foreign:#?}"
    );
    // Owned, it is deactivated; over the threshold, apply refuses that as the plan stands.
    w.target.users[0].username = "nia.old@x.com.dev1".into();
    let deactivated = found(
        &w,
        &config(&[("{max_deactivations: 10}", "{max_deactivations: 0}")]),
    );
    assert_eq!(
        deactivated.change.as_ref().map(|c| c.action),
        Some(Action::Deactivate)
    );
    assert!(
        deactivated
            .held_back
            .as_deref()
            .is_some_and(|why| why.starts_with(
                "apply refuses the plan as it stands: its 1 deactivation exceed \
             `safety.max_deactivations` (0)"
            )),
        "{deactivated:#?}"
    );
    // Nia's own (her UPN in its FederationIdentifier) and as her config wants it: said so.
    w.target.users[0].fields.insert(
        crate::sorted_map::Name::from("FederationIdentifier"),
        json!(upn).into(),
    );
    let hers = found(&w, &config(&[]));
    assert_eq!(hers.linked_to.as_deref(), Some(upn.as_str()), "{hers:#?}");
    assert_eq!(
        hers.held_back.unwrap_or_default(),
        format!("it is linked to the Entra user {upn}, in scope, whose plan leaves it as it is")
    );
    // Linked to her while she is an error item: said, with her error, never "as wanted".
    let failing = config(&[(
        "{target: Title, source: jobTitle}",
        "{target: Title, expression: 'FormatDateTime([jobTitle], , \"yyyyMMdd\", \"yyyy\")'}",
    )]);
    let erring = found(&w, &failing).held_back.unwrap_or_default();
    assert!(
        erring.starts_with(&format!(
            "it is linked to the Entra user {upn}, who is an error item: mapping Title"
        )),
        "{erring}"
    );
    // No one's again, and inactive: that is why, whatever else names it.
    w.target.users[0].fields.insert(
        crate::sorted_map::Name::from("FederationIdentifier"),
        Value::Null.into(),
    );
    w.target.users[0].is_active = false;
    assert_eq!(
        found(&w, &config(&[])).held_back.as_deref(),
        Some("it is inactive already")
    );
}

/// A linked user without a role, given one by the rules: the role before is null, as any
/// empty field is, not an empty text.
#[test]
fn a_role_given_to_a_user_without_one_was_null_before() {
    let mut w = World::new();
    let upn = w.user("lea", json!({}));
    w.join("lea", "g-leads");
    w.salesforce("lea", json!({"ProfileId": "00e000000000002"}));
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Update, "{change:#?}");
    assert_eq!(change.before["UserRoleId"], Value::Null, "{change:#?}");
    assert!(change.after["UserRoleId"].as_str().is_some(), "{change:#?}");
}

/// `explain` of an unread user whose rules find an account linked to someone out of scope
/// (Ed, disabled) under `out_of_scope: ignore` says that, never "in scope"; a refused plan says
/// it is refused.
#[test]
fn explain_of_an_unread_user_tells_an_account_linked_out_of_scope_and_a_refused_plan() {
    let mut w = World::new();
    w.user("ed", json!({"accountEnabled": false}));
    w.join("ed", "g-sales");
    w.salesforce("ed", json!({"EmployeeNumber": "E7"}));
    w.user("other", json!({}));
    w.join("other", "g-sales");
    let ghost = crate::model::UnreadUser {
        id: "id-ghost".into(),
        user_principal_name: "ghost@x.com".into(),
        attributes: [(crate::sorted_map::Name::from("employeeId"), json!("E7"))].into(),
        ..crate::model::UnreadUser::default()
    };
    let inputs = inputs(&[]);
    let held_back = |config: &Config| {
        let n = super::explain::not_read(config, &w.source, &w.target, &inputs, &ghost);
        assert_eq!(n.salesforce_users.len(), 1, "{n:#?}");
        n.salesforce_users[0].held_back.clone().unwrap_or_default()
    };
    let ignoring = config(&[(
        "safety: {max_deactivations: 10}",
        "safety: {max_deactivations: 10}\ndeprovision: {out_of_scope: ignore}",
    )]);
    assert_eq!(
        held_back(&ignoring),
        "it is linked to the Entra user ed@x.com, out of scope (disabled in Entra \
         (accountEnabled is false)), and `deprovision.out_of_scope: ignore` leaves it as it is"
    );
    let refusing = config(&[("profile: Standard User", "profile: Standard Usr")]);
    assert!(
        held_back(&refusing).starts_with("the plan is refused, so apply changes no one: "),
        "{}",
        held_back(&refusing)
    );
}

/// A reason names a Salesforce user by its whole Username or id, not by a part of another's.
#[test]
fn a_reason_names_an_account_only_by_its_whole_username_or_id() {
    let sf = crate::model::TargetUser {
        id: "005000000000009AAA".into(),
        username: "Doe@x.com.dev1".into(),
        ..crate::model::TargetUser::default()
    };
    let names = |reason: &str| super::explain::names(reason, &sf);
    assert!(names("Username doe@x.com.dev1 is taken"));
    assert!(names("held by 005000000000009 (a conflict)"));
    assert!(names("held by 005000000000009AAA."));
    assert!(!names("Username jdoe@x.com.dev1 is taken"));
    assert!(!names("Username doe@x.com.dev1x is taken"));
    assert!(!names("held by 005000000000009AAB"));
}

#[test]
fn target_limits_the_plan_and_plans_are_deterministic() {
    let mut w = World::new();
    let a = w.user("vic", json!({}));
    w.user("wes", json!({}));
    w.join("vic", "g-sales");
    w.join("wes", "g-sales");
    let all = w.plan(&config(&[]));
    assert_eq!(all, w.plan(&config(&[])));
    let limited = w.plan_targets(&config(&[]), &[a.to_uppercase()]);
    assert_eq!(limited.changes.len(), 1);
    assert_eq!(limited.targeted, [a.to_uppercase()]);
    assert_eq!(limited.summary.create, 1);
}

#[test]
fn the_committed_plan_schema_matches_the_types() {
    let committed = include_str!("../../schemas/plan.schema.json");
    assert!(
        committed == super::plan_schema_text(),
        "schemas/plan.schema.json is stale: run `cargo run -- schema --plan > schemas/plan.schema.json`"
    );
}

#[test]
fn every_plan_validates_against_the_schema() {
    let mut w = World::new();
    w.user("xan", json!({}));
    w.join("xan", "g-sales");
    w.salesforce("gone", json!({}));
    let plan = w.plan(&config(&[]));
    let schema: Value = serde_json::from_str(&super::plan_schema_text()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(&plan).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

// ---------------------------------------------------------------------------------------------
// Grants of every kind.

const REP_RULE: &str =
    "- {when: {app_role: Rep}, profile: Standard User, permission_sets: [Sales]}";

/// The config with the Rep rule also granting `extra` (YAML keys, e.g. `queues: [Q]`) and the
/// roles block ending with `managed` (more YAML keys).
fn grant_config(extra: &str, managed: &str) -> Config {
    config(&[
        (
            REP_RULE,
            &format!(
                "- {{when: {{app_role: Rep}}, profile: Standard User, permission_sets: [Sales]{}}}",
                if extra.is_empty() {
                    String::new()
                } else {
                    format!(", {extra}")
                }
            ),
        ),
        (
            "  managed_permission_sets: [Sales, Reports, Service]",
            &format!("  managed_permission_sets: [Sales, Reports, Service]\n{managed}"),
        ),
    ])
}

fn added(change: &super::Change) -> Vec<(GrantKind, String)> {
    change
        .grants
        .add
        .iter()
        .map(|g| (g.kind, g.name.to_string()))
        .collect()
}

fn removed(change: &super::Change) -> Vec<(GrantKind, String)> {
    change
        .grants
        .remove
        .iter()
        .map(|g| (g.kind, g.name.to_string()))
        .collect()
}

#[test]
fn each_kind_is_granted_and_only_its_managed_names_are_removed() {
    for kind in GrantKind::ALL
        .into_iter()
        .filter(|k| *k != GrantKind::PermissionSet)
    {
        let key = kind.spec().rule_key;
        let mut w = World::new();
        w.object(kind, "Wanted");
        w.object(kind, "Old");
        w.object(kind, "Theirs");
        let upn = w.user("rae", json!({}));
        w.join("rae", "g-sales");
        let id = w.salesforce("rae", json!({}));
        w.holds_grant(&id, kind, "Old");
        w.holds_grant(&id, kind, "Theirs");
        let config = grant_config(
            &format!("{key}: [Wanted]"),
            &format!("  managed_{key}: [Wanted, Old]"),
        );
        let plan = w.plan(&config);
        assert!(
            plan.refused.is_none() && plan.errors.is_empty(),
            "{key}: {:#?} {:#?}",
            plan.config_problems,
            plan.errors
        );
        let change = only(&plan, &upn);
        assert_eq!(added(&change), [(kind, "Wanted".to_owned())], "{key}");
        // Theirs is not managed: never removed.
        assert_eq!(removed(&change), [(kind, "Old".to_owned())], "{key}");
        assert!(change.grants.remove[0].assignment_id.is_some());
        // A create gets it too.
        let new = w.user("noa", json!({}));
        w.join("noa", "g-sales");
        let plan = w.plan(&config);
        assert!(
            added(&only(&plan, &new)).contains(&(kind, "Wanted".to_owned())),
            "{key}"
        );
    }
}

#[test]
fn licence_seats_run_out_in_key_order_with_the_licences_numbers() {
    for kind in [GrantKind::PermissionSetLicense, GrantKind::PackageLicense] {
        let key = kind.spec().rule_key;
        let mut w = World::new();
        w.object(kind, "Lic");
        w.target.access_objects.last_mut().unwrap().seats =
            Some(crate::model::Seats { total: 3, used: 2 });
        for name in ["amy", "bob"] {
            w.user(name, json!({}));
            w.join(name, "g-sales");
        }
        let plan = w.plan(&grant_config(&format!("{key}: [Lic]"), ""));
        // One seat left: the first key gets it, the second is an error naming the numbers.
        assert_eq!(plan.changes.len(), 1, "{key}: {:#?}", plan.changes);
        assert!(plan.changes[0].key.starts_with("amy"));
        let p = problem(&plan, &plan.errors[0].key.clone());
        assert!(p.key.starts_with("bob"));
        assert!(
            p.reason.contains("no seat left")
                && p.reason.contains(
                    "Lic: 3 in all, 2 used, 0 freed by this plan; 2 users in it would take one"
                )
                && p.reason.contains("LICENSE_LIMIT_EXCEEDED"),
            "{}",
            p.reason
        );
        // A site licence (negative total) has no limit.
        w.target.access_objects.last_mut().unwrap().seats = Some(crate::model::Seats {
            total: -1,
            used: 500,
        });
        let plan = w.plan(&grant_config(&format!("{key}: [Lic]"), ""));
        assert_eq!(plan.changes.len(), 2, "{key}");
    }
}

#[test]
fn a_linked_licence_comes_with_its_permission_set_and_takes_a_seat() {
    let mut w = World::new();
    let licence = w.object(GrantKind::PermissionSetLicense, "Sales_PSL");
    let sales = w
        .target
        .access_objects
        .iter_mut()
        .find(|o| o.name == "Sales")
        .unwrap();
    sales.license_id = Some(licence);
    let upn = w.user("ava", json!({}));
    w.join("ava", "g-sales");
    let plan = w.plan(&config(&[]));
    let change = only(&plan, &upn);
    let implied = change
        .grants
        .add
        .iter()
        .find(|g| g.kind == GrantKind::PermissionSetLicense)
        .unwrap();
    assert_eq!(&*implied.name, "Sales_PSL");
    assert_eq!(implied.implied_by.as_deref(), Some("Sales"));
    // Salesforce assigns it along: roster never writes it.
    assert_eq!(change.grants.written_adds().count(), 1);
    // It counts against the seats.
    w.target.access_objects.last_mut().unwrap().seats =
        Some(crate::model::Seats { total: 1, used: 1 });
    let plan = w.plan(&config(&[]));
    assert!(
        problem(&plan, &upn)
            .reason
            .contains("Sales_PSL: 1 in all, 1 used")
    );
}

#[test]
fn a_required_licence_is_granted_first_or_the_user_is_an_error() {
    let mut w = World::new();
    w.object(GrantKind::PermissionSetLicense, "Sales_PSL");
    let upn = w.user("ava", json!({}));
    w.join("ava", "g-sales");
    let requires = "  requires_licenses: {Sales: [Sales_PSL]}";
    let plan = w.plan(&grant_config("", requires));
    assert!(
        problem(&plan, &upn)
            .reason
            .contains("needs the permission set licence Sales_PSL"),
        "{:#?}",
        plan.errors
    );
    // Granted by a rule: assigned before the permission set (kinds go in dependency order).
    let plan = w.plan(&grant_config(
        "permission_set_licenses: [Sales_PSL]",
        requires,
    ));
    assert_eq!(
        added(&only(&plan, &upn)),
        [
            (GrantKind::PermissionSetLicense, "Sales_PSL".to_owned()),
            (GrantKind::PermissionSet, "Sales".to_owned())
        ]
    );
}

#[test]
fn a_licence_is_kept_while_a_permission_set_needs_it_and_removed_after() {
    let mut w = World::new();
    let licence = w.object(GrantKind::PermissionSetLicense, "Sales_PSL");
    w.target
        .access_objects
        .iter_mut()
        .find(|o| o.name == "Sales")
        .unwrap()
        .license_id = Some(licence);
    let upn = w.user("rae", json!({}));
    w.join("rae", "g-sales");
    let id = w.salesforce("rae", json!({}));
    w.holds_grant(&id, GrantKind::PermissionSetLicense, "Sales_PSL");
    let managed = "  managed_permission_set_licenses: [Sales_PSL]";
    // Sales stays and needs it: no rule grants the licence, yet it is not removed.
    let plan = w.plan(&grant_config("", managed));
    assert!(
        plan.changes.iter().all(|c| c.key != upn),
        "{:#?}",
        plan.changes
    );
    // The rules stop giving Sales: both go, the licence listed for removal after it (apply
    // removes the last kind first).
    let plan = w.plan(&grant_config("", managed).tap_rep_without_sales());
    let change = only(&plan, &upn);
    assert_eq!(
        removed(&change),
        [
            (GrantKind::PermissionSetLicense, "Sales_PSL".to_owned()),
            (GrantKind::PermissionSet, "Sales".to_owned())
        ]
    );
}

trait WithoutSales {
    fn tap_rep_without_sales(self) -> Config;
}

impl WithoutSales for Config {
    /// The Rep rule granting no permission set.
    fn tap_rep_without_sales(mut self) -> Config {
        for rule in &mut self.roles.rules {
            rule.grants.remove(&GrantKind::PermissionSet);
        }
        self
    }
}

#[test]
fn a_permission_set_group_not_updated_takes_no_new_assignees() {
    let mut w = World::new();
    w.object(GrantKind::PermissionSetGroup, "Sales_Ops");
    w.target.access_objects.last_mut().unwrap().status = Some("Outdated".to_owned());
    let upn = w.user("ava", json!({}));
    w.join("ava", "g-sales");
    let plan = w.plan(&grant_config("permission_set_groups: [Sales_Ops]", ""));
    let p = problem(&plan, &upn);
    assert!(
        p.reason.contains("Sales_Ops has the status Outdated"),
        "{}",
        p.reason
    );
    w.target.access_objects.last_mut().unwrap().status = Some("Updated".to_owned());
    let plan = w.plan(&grant_config("permission_set_groups: [Sales_Ops]", ""));
    assert!(
        added(&only(&plan, &upn))
            .contains(&(GrantKind::PermissionSetGroup, "Sales_Ops".to_owned()))
    );
}

#[test]
fn unknown_and_duplicate_grant_names_are_config_problems_at_their_place() {
    let mut w = World::new();
    w.object(GrantKind::Queue, "Support_Tier_1");
    w.object(GrantKind::PublicGroup, "All_Sales");
    w.object(GrantKind::PublicGroup, "All_Sales");
    w.user("ava", json!({}));
    let plan = w.plan(&grant_config(
        "queues: [Support_Tier1], public_groups: [All_Sales]",
        "",
    ));
    assert!(plan.refused.is_some());
    let typo = plan
        .config_problems
        .iter()
        .find(|p| p.pointer == "/roles/rules/1/queues/0")
        .unwrap();
    assert!(typo.message.contains("no queue named \"Support_Tier1\""));
    assert_eq!(
        typo.help.as_deref(),
        Some("did you mean \"Support_Tier_1\"?")
    );
    let twice = plan
        .config_problems
        .iter()
        .find(|p| p.pointer == "/roles/rules/1/public_groups/0")
        .unwrap();
    assert!(
        twice
            .message
            .contains("2 public groups in the org are named \"All_Sales\"")
    );
}

#[test]
fn feature_licences_are_turned_on_by_rules_and_off_when_managed() {
    let mut w = World::new();
    let upn = w.user("rae", json!({}));
    w.join("rae", "g-sales");
    w.salesforce(
        "rae",
        json!({"UserPermissionsKnowledgeUser": "false", "UserPermissionsSupportUser": "true"}),
    );
    let plan = w.plan(&grant_config(
        "feature_licenses: [KnowledgeUser]",
        "  managed_feature_licenses: [KnowledgeUser, SupportUser]",
    ));
    let change = only(&plan, &upn);
    assert_eq!(change.after["UserPermissionsKnowledgeUser"], "true");
    assert_eq!(change.after["UserPermissionsSupportUser"], "false");
}

#[test]
fn a_user_refused_a_seat_takes_no_other_seat() {
    let mut w = World::new();
    w.object(GrantKind::PermissionSetLicense, "P");
    w.target.access_objects.last_mut().unwrap().seats =
        Some(crate::model::Seats { total: 2, used: 0 });
    w.object(GrantKind::PackageLicense, "K");
    w.target.access_objects.last_mut().unwrap().seats =
        Some(crate::model::Seats { total: 1, used: 0 });
    for (name, group) in [("amy", "g-sales"), ("bob", "g-sales"), ("cat", "g-leads")] {
        w.user(name, json!({}));
        w.join(name, group);
    }
    let config = config(&[
        (
            REP_RULE,
            "- {when: {app_role: Rep}, profile: Standard User, permission_sets: [Sales], \
             permission_set_licenses: [P], package_licenses: [K]}",
        ),
        (
            "role: Boss, permission_sets: [Reports]}",
            "role: Boss, permission_sets: [Reports], permission_set_licenses: [P]}",
        ),
    ]);
    let plan = w.plan(&config);
    // amy takes P and K; bob finds K full and is refused — taking no P — so cat gets P.
    let keys: Vec<&str> = plan.changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys.len(), 2, "{:#?}", plan.errors);
    assert!(keys.iter().any(|k| k.starts_with("amy")) && keys.iter().any(|k| k.starts_with("cat")));
    assert_eq!(plan.errors.len(), 1);
    assert!(plan.errors[0].key.starts_with("bob"));
    assert!(
        plan.errors[0]
            .reason
            .contains("package licence K: 1 in all, 0 used")
    );
}

#[test]
fn seats_freed_by_a_refused_user_are_not_counted() {
    let mut w = World::new();
    w.object(GrantKind::PermissionSetLicense, "P");
    w.target.access_objects.last_mut().unwrap().seats =
        Some(crate::model::Seats { total: 1, used: 1 });
    w.object(GrantKind::PackageLicense, "K");
    w.target.access_objects.last_mut().unwrap().seats =
        Some(crate::model::Seats { total: 0, used: 0 });
    // dan holds P, which the rules no longer give him, and would take K, which has no seat.
    let dan = w.user("dan", json!({}));
    w.join("dan", "g-sales");
    let id = w.salesforce("dan", json!({}));
    w.holds_grant(&id, GrantKind::PermissionSetLicense, "P");
    let amy = w.user("amy", json!({}));
    w.join("amy", "g-leads");
    let config = config(&[
        (
            REP_RULE,
            "- {when: {app_role: Rep}, profile: Standard User, permission_sets: [Sales], \
             package_licenses: [K]}",
        ),
        (
            "role: Boss, permission_sets: [Reports]}",
            "role: Boss, permission_sets: [Reports], permission_set_licenses: [P]}",
        ),
        (
            "  managed_permission_sets: [Sales, Reports, Service]",
            "  managed_permission_sets: [Sales, Reports, Service]\n  managed_permission_set_licenses: [P]",
        ),
    ]);
    let plan = w.plan(&config);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(problem(&plan, &dan).reason.contains("package licence K"));
    // dan's P is not freed this run (his change is withheld): amy waits for it.
    let p = problem(&plan, &amy);
    assert!(
        p.reason
            .contains("permission set licence P: 1 in all, 1 used"),
        "{}",
        p.reason
    );
}

#[test]
fn feature_licence_seats_are_counted_like_licences() {
    let mut w = World::new();
    w.target
        .feature_license_seats
        .insert("KnowledgeUser".to_owned(), 2);
    // One active user holds it already: one seat left, for the first key.
    let holder = w.salesforce("hal", json!({"UserPermissionsKnowledgeUser": "true"}));
    let _ = holder;
    for name in ["amy", "bob"] {
        w.user(name, json!({}));
        w.join(name, "g-sales");
    }
    let plan = w.plan(&grant_config(
        "feature_licenses: [KnowledgeUser]",
        "  managed_feature_licenses: [KnowledgeUser]",
    ));
    let created: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(created.len(), 1, "{:#?}", plan.errors);
    assert!(created[0].starts_with("amy"));
    let bob = plan
        .errors
        .iter()
        .find(|p| p.key.starts_with("bob"))
        .unwrap();
    assert!(
        bob.reason
            .contains("feature licence KnowledgeUser (Knowledge User): 2 in all, 1 used"),
        "{}",
        bob.reason
    );
}

#[test]
fn two_users_swapping_licences_both_get_theirs() {
    let mut w = World::new();
    for name in ["P", "Q"] {
        w.object(GrantKind::PermissionSetLicense, name);
        w.target.access_objects.last_mut().unwrap().seats =
            Some(crate::model::Seats { total: 1, used: 1 });
    }
    // A rep moves to manager and a manager to rep: each needs the seat the other gives up.
    let amy = w.user("amy", json!({}));
    w.join("amy", "g-sales");
    let a = w.salesforce("amy", json!({}));
    w.holds_grant(&a, GrantKind::PermissionSetLicense, "Q");
    let bob = w.user("bob", json!({}));
    w.join("bob", "g-leads");
    let b = w.salesforce("bob", json!({}));
    w.holds_grant(&b, GrantKind::PermissionSetLicense, "P");
    let config = config(&[
        (
            REP_RULE,
            "- {when: {app_role: Rep}, profile: Standard User, permission_sets: [Sales], \
             permission_set_licenses: [P]}",
        ),
        (
            "role: Boss, permission_sets: [Reports]}",
            "role: Boss, permission_sets: [Reports], permission_set_licenses: [Q]}",
        ),
        (
            "  managed_permission_sets: [Sales, Reports, Service]",
            "  managed_permission_sets: [Sales, Reports, Service]\n  managed_permission_set_licenses: [P, Q]",
        ),
    ]);
    let plan = w.plan(&config);
    assert!(plan.errors.is_empty(), "{:#?}", plan.errors);
    assert!(added(&only(&plan, &amy)).contains(&(GrantKind::PermissionSetLicense, "P".to_owned())));
    assert!(added(&only(&plan, &bob)).contains(&(GrantKind::PermissionSetLicense, "Q".to_owned())));
}

#[test]
fn a_user_reactivated_with_a_feature_licence_on_takes_its_seat() {
    let mut w = World::new();
    w.target
        .feature_license_seats
        .insert("KnowledgeUser".to_owned(), 1);
    // hal was deactivated with the box on; amy, earlier in key order, is new.
    let hal = w.user("hal", json!({}));
    w.join("hal", "g-sales");
    w.salesforce("hal", json!({"UserPermissionsKnowledgeUser": true}));
    w.target.users.last_mut().unwrap().is_active = false;
    let amy = w.user("amy", json!({}));
    w.join("amy", "g-sales");
    let plan = w.plan(&grant_config(
        "feature_licenses: [KnowledgeUser]",
        "  managed_feature_licenses: [KnowledgeUser]",
    ));
    assert_eq!(only(&plan, &amy).action, Action::Create);
    assert!(
        problem(&plan, &hal)
            .reason
            .contains("feature licence KnowledgeUser (Knowledge User): 1 in all, 0 used"),
        "{:#?}",
        plan.errors
    );
}

#[test]
fn usernames_match_without_case() {
    let mut w = World::new();
    let upn = w.user("rae", json!({}));
    w.join("rae", "g-sales");
    w.salesforce(
        "rae",
        json!({"Username": "RAE@X.COM.DEV1", "FederationIdentifier": null}),
    );
    let config = config(&[(
        "  - {source: '[employeeId]', target: EmployeeNumber}\n  - {source: '[userPrincipalName]', target: FederationIdentifier}",
        "  - {source: 'Append([userPrincipalName], \".dev1\")', target: Username}",
    )]);
    let plan = w.plan(&config);
    // Linked (an update of the missing FederationIdentifier), never a second user.
    let change = only(&plan, &upn);
    assert_eq!(change.action, Action::Update, "{change:#?}");
    assert!(
        change.reason.starts_with("linked by Username"),
        "{}",
        change.reason
    );
}

/// Scoping clauses and the user values they do and do not take: `attribute | clause | value |
/// in or out`, the value `-` for none (null), `''` for empty, `true` for a boolean.
const OPERATOR_CASES: &str = "
department | operator: equals, value: Sales | Sales | in
department | operator: equals, value: Sales | sales | out
department | operator: not_equals, value: Sales | Support | in
department | operator: not_equals, value: Sales | Sales | out
department | operator: not_equals, value: Sales | '' | out
department | operator: is_null | '' | in
department | operator: is_null | Sales | out
department | operator: is_not_null | Sales | in
department | operator: is_not_null | '' | out
accountEnabled | operator: is_true | true | in
department | operator: regex_match, value: '^Sa' | Sales | in
department | operator: regex_match, value: '^sa' | Sales | out
department | operator: not_regex_match, value: '^Su' | Sales | in
department | operator: not_regex_match, value: '^Su' | Support | out
department | operator: not_regex_match, value: '^Su' | - | out
department | operator: includes, value: ale | Sales | in
department | operator: includes, value: ALE | Sales | out
department | operator: ends_with, value: les | Sales | in
department | operator: ends_with, value: Sal | Sales | out
employeeId | operator: greater_than, value: 10 | 11 | in
employeeId | operator: greater_than, value: 10 | 10 | out
employeeId | operator: greater_than, value: 10 | E11 | out
employeeId | operator: greater_than_or_equals, value: 10 | 10 | in
employeeId | operator: greater_than_or_equals, value: 10 | 9 | out
department | operator: in, value: [Sales, Support] | Support | in
department | operator: in, value: [Sales, Support] | support | out
department | operator: not_in, value: [Sales, Support] | Marketing | in
department | operator: not_in, value: [Sales, Support] | Sales | out
department | operator: not_in, value: [Sales, Support] | - | out
";

#[test]
fn every_scoping_operator_means_what_entra_means() {
    let cases = OPERATOR_CASES
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split(" | ").collect();
            let value = match parts[2] {
                "-" => Value::Null,
                "''" => json!(""),
                "true" => json!(true),
                text => json!(text),
            };
            (parts[0], parts[1], value, parts[3] == "in")
        });
    for (attribute, clause, value, expected) in cases {
        let mut w = World::new();
        let mut attributes = serde_json::Map::new();
        if !value.is_null() {
            attributes.insert(attribute.to_owned(), value.clone());
        }
        w.user("una", Value::Object(attributes));
        w.join("una", "g-sales");
        let filter = format!(
            "safety: {{max_deactivations: 10}}\nscope:\n  filters:\n    - {{all: [{{attribute: {attribute}, {clause}}}]}}\n"
        );
        let plan = w.plan(&config(&[("safety: {max_deactivations: 10}", &filter)]));
        assert_eq!(
            plan.summary.in_scope == 1,
            expected,
            "{attribute} {clause} on {value}: {:#?}",
            plan.refused
        );
    }
}

#[test]
fn protected_users_are_never_changed_frozen_or_created_over() {
    let mut w = World::new();
    // Linked and drifted, protected by Username: not updated.
    let rae = w.user("rae", json!({"jobTitle": "Lead"}));
    w.join("rae", "g-sales");
    w.salesforce("rae", json!({"Title": "Engineer"}));
    // Owned, linked to nobody, protected by profile: not frozen.
    w.salesforce("boss", json!({"ProfileId": "00e000000000003"}));
    // An Entra user whose Username would be the protected admin's: never created over it.
    let admin = w.user("admin", json!({}));
    w.join("admin", "g-sales");
    w.salesforce(
        "root",
        json!({"Username": "admin@x.com.dev1", "FederationIdentifier": null}),
    );
    let config = config(&[
        (
            "protect: {profiles: [System Administrator]}",
            "protect: {usernames: [rae@x.com.dev1, admin@x.com.dev1], profiles: [System Administrator]}",
        ),
        (
            "safety: {max_deactivations: 10}",
            "safety: {max_deactivations: 10}\ndeprovision: {out_of_scope: freeze}",
        ),
    ]);
    let plan = w.plan(&config);
    let keys: Vec<&str> = plan.changes.iter().map(|c| c.key.as_str()).collect();
    assert!(!keys.contains(&rae.as_str()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("boss")), "{keys:?}");
    assert!(!keys.contains(&admin.as_str()), "{keys:?}");
    assert_eq!(problem(&plan, &admin).kind, ProblemKind::Conflict);
}

#[test]
fn two_creates_given_one_username_in_different_case_are_both_conflicts() {
    let mut w = World::new();
    let lower = w.user("ann", json!({}));
    let upper = w.user("ANN", json!({}));
    let other = w.user("bo", json!({}));
    for name in ["ann", "ANN", "bo"] {
        w.join(name, "g-sales");
    }
    let plan = w.plan(&config(&[]));
    for key in [&lower, &upper] {
        let problem = problem(&plan, key);
        assert_eq!(problem.kind, ProblemKind::Conflict);
        assert_eq!(
            problem.reason,
            r#"2 Entra users would get the Username "ann@x.com.dev1" (ANN@x.com, ann@x.com)"#
        );
        assert!(plan.changes.iter().all(|c| c.key != *key));
    }
    assert_eq!(only(&plan, &other).action, Action::Create);
}

/// What the planner holds per user stays small: 100,000 users hold one of each.
#[test]
fn the_planners_per_user_records_stay_small() {
    assert!(std::mem::size_of::<super::matching::Link>() <= 32);
    assert!(std::mem::size_of::<super::scope::Scope>() <= 24);
    assert!(std::mem::size_of::<super::source::SourceUser<'_>>() <= 112);
}

/// 5,000 users in group Sales: user `u{n:04}` with the mailNickname `nickname(n)` gives (its
/// name when none), and licences for all.
fn five_thousand_users(nickname: impl Fn(usize) -> Option<&'static str>) -> World {
    let mut w = World::new();
    for n in 0..5000 {
        let name = format!("u{n:04}");
        let nickname = nickname(n).map_or_else(|| name.clone(), str::to_owned);
        w.user(&name, json!({"mailNickname": nickname}));
        w.join(&name, "g-sales");
    }
    w.target.licenses[0].total = 10_000;
    w
}

/// Unique values are claimed in the users' order, however far apart the users are: the first
/// holds the value and the later one is the conflict (a planner that plans users side by side
/// must keep this).
#[test]
fn unique_values_are_claimed_in_user_order_in_a_large_world() {
    let mut w = five_thousand_users(|n| match n {
        // Near each other, next to each other, and a late user against an early one.
        10 | 20 => Some("dup-a"),
        4095 | 4096 => Some("dup-b"),
        1 | 4999 => Some("dup-c"),
        _ => None,
    });
    w.target.user_describe = vec![text_field("CommunityNickname", 40)];
    let plan = w.plan(&config(&[]));
    assert_eq!(plan.errors.len(), 3, "{:?}", plan.errors.first());
    let conflicts: Vec<(&str, &str)> = plan
        .errors
        .iter()
        .map(|p| {
            assert_eq!(p.kind, ProblemKind::Conflict, "{p:?}");
            (p.key.as_str(), p.reason.as_str())
        })
        .collect();
    let held = |value: &str, by: &str| {
        format!(
            "CommunityNickname {value:?} is already held by {by}@x.com, another user of this \
             plan; the org's CommunityNickname field is unique"
        )
    };
    assert_eq!(
        conflicts,
        [
            ("u0020@x.com", &*held("dup-a", "u0010")),
            ("u4096@x.com", &*held("dup-b", "u4095")),
            ("u4999@x.com", &*held("dup-c", "u0001")),
        ]
    );
    assert_eq!(plan.summary.create, 4997);
}

/// `SelectUniqueValue` chooses among what the users before took, however far apart the users
/// are (a planner that plans users side by side must keep this).
#[test]
fn select_unique_value_chooses_in_user_order_in_a_large_world() {
    let w = five_thousand_users(|n| match n {
        // Near each other, next to each other, and far apart.
        100 | 3000 => Some("near"),
        4095 | 4096 => Some("twin"),
        10 | 4500 => Some("late"),
        _ => None,
    });
    let unique = (
        "expression: 'Append([userPrincipalName], \".dev1\")'",
        "expression: 'SelectUniqueValue(Append([mailNickname], \"@x.com.dev1\"), Append([mailNickname], \"@x.com.dev2\"))'",
    );
    let plan = w.plan(&config(&[unique]));
    assert_eq!(plan.errors.len(), 0, "{:?}", plan.errors.first());
    for (key, username) in [
        ("u0100@x.com", "near@x.com.dev1"),
        ("u3000@x.com", "near@x.com.dev2"),
        ("u4095@x.com", "twin@x.com.dev1"),
        ("u4096@x.com", "twin@x.com.dev2"),
        ("u0010@x.com", "late@x.com.dev1"),
        ("u4500@x.com", "late@x.com.dev2"),
        ("u4999@x.com", "u4999@x.com.dev1"),
    ] {
        assert_eq!(only(&plan, key).after["Username"], username, "{key}");
    }
}

/// Users made administrators — created into, or moved to, a profile with administrative
/// permissions — are named in a warning per profile, the first ten of them; a profile without
/// such permissions, and a change that leaves the profile alone, are not.
#[test]
fn users_made_administrators_are_named_in_a_warning() {
    let mut admin = profile("00e000000000002AAA", "System Administrator");
    admin.administrative = vec!["ModifyAllData".into(), "ManageUsers".into()];
    let standing = super::policy::Standing {
        profiles: vec![profile("00e000000000001AAA", "Standard User"), admin],
        ..Default::default()
    };
    let with_profile = |action, key: String, id: &str| {
        let mut change = super::Change::new(action, key, super::Situation::Linked);
        change.after.insert("ProfileId".into(), json!(id).into());
        change
    };
    let mut changes: Vec<super::Change> = (0..12)
        .map(|i| {
            with_profile(
                super::Action::Create,
                format!("new{i:02}@x.com"),
                "00e000000000002AAA",
            )
        })
        .collect();
    changes.push(with_profile(
        super::Action::Update,
        "moved@x.com".into(),
        "00e000000000002",
    ));
    changes.push(with_profile(
        super::Action::Create,
        "plain@x.com".into(),
        "00e000000000001AAA",
    ));
    changes.push(super::Change::new(
        super::Action::Update,
        "title@x.com".into(),
        super::Situation::Linked,
    ));
    let plan = Plan {
        changes,
        ..Plan::default()
    };
    assert_eq!(
        super::administrators_warnings(&plan, &standing),
        [
            "13 user(s) get the profile System Administrator, which has administrative \
             permissions (ModifyAllData, ManageUsers): new00@x.com (created), new01@x.com \
             (created), new02@x.com (created), new03@x.com (created), new04@x.com (created), \
             new05@x.com (created), new06@x.com (created), new07@x.com (created), new08@x.com \
             (created), new09@x.com (created) and 3 more"
        ]
    );
    let no_administrator = Plan {
        changes: plan.changes[13..].to_vec(),
        ..Plan::default()
    };
    assert!(super::administrators_warnings(&no_administrator, &standing).is_empty());
}

/// The manager warning follows what apply will meet: a chain whose bottom report stays warns for
/// every manager up it (each stays active as the one below is refused); a report the plan moves
/// to another manager, or deactivates, frees theirs; one it reactivates holds theirs.
#[test]
fn a_manager_is_warned_of_up_a_chain_and_as_the_plan_moves_reactivates_or_deactivates_reports() {
    use super::Change;
    use crate::config::WhenRefused;
    let user = |n: u8, manager: Option<u8>, active: bool| {
        let row = json!({
            "Id": format!("00500000000000{n}"),
            "Username": format!("u{n}@x.com.dev1"),
            "IsActive": active,
            "ProfileId": "00e000000000001",
            "ManagerId": manager.map(|m| format!("00500000000000{m}")),
        });
        crate::model::TargetUser::from_row(row.as_object().unwrap().clone()).unwrap()
    };
    // 2 reports to 1, 3 to 2, 4 to 3; 6 (inactive) to 1; 5 reports to no one.
    let target = crate::model::TargetSnapshot {
        users: vec![
            user(1, None, true),
            user(2, Some(1), true),
            user(3, Some(2), true),
            user(4, Some(3), true),
            user(5, None, true),
            user(6, Some(1), false),
        ],
        ..crate::model::TargetSnapshot::default()
    };
    let change = |action: Action, n: u8, manager: Option<Option<u8>>| {
        let mut change = Change::new(action, format!("u{n}@x.com"), Situation::OutOfScope);
        change.target_id = Some(format!("00500000000000{n}").into());
        if let Some(manager) = manager {
            change.after.insert(
                "ManagerId".into(),
                manager
                    .map_or(Value::Null, |m| json!(format!("00500000000000{m}")))
                    .into(),
            );
        }
        change
    };
    let warned = |changes: Vec<Change>| -> Vec<String> {
        let plan = Plan {
            changes,
            ..Plan::default()
        };
        super::managers::warnings(&plan, &target, WhenRefused::Freeze)
            .iter()
            .map(|w| w.split(':').next().unwrap().to_owned())
            .collect()
    };
    let leaving = || (1..=3).map(|n| change(Action::Deactivate, n, None));
    assert_eq!(
        warned(leaving().collect()),
        [1, 2, 3].map(|n| format!("Salesforce will refuse to deactivate u{n}@x.com.dev1"))
    );
    // 4 moved to 5 by an update, or leaving too: everyone goes.
    let moved = leaving().chain([change(Action::Update, 4, Some(Some(5)))]);
    assert!(warned(moved.collect()).is_empty());
    let all = leaving().chain([change(Action::Deactivate, 4, None)]);
    assert!(warned(all.collect()).is_empty());
    // 4 cleared of a manager, but 6 reactivated under 1: 1 alone is refused.
    let reactivated = leaving().chain([
        change(Action::Update, 4, Some(None)),
        change(Action::Reactivate, 6, None),
    ]);
    assert_eq!(
        warned(reactivated.collect()),
        ["Salesforce will refuse to deactivate u1@x.com.dev1"]
    );
}

/// Creates given the same profile and role share one list of their names, as the JSON plan
/// still writes it for each; a change's labels changed afterwards are its own.
#[test]
fn creates_with_the_same_profile_and_role_share_their_labels() {
    let mut w = World::new();
    let (ava, bo) = (w.user("ava", json!({})), w.user("bo", json!({})));
    for name in ["ava", "bo"] {
        w.join(name, "g-sales");
        w.join(name, "g-leads");
    }
    let plan = w.plan(&config(&[]));
    let (a, b) = (only(&plan, &ava), only(&plan, &bo));
    let shared = |c: &super::Change| c.labels.0.clone().unwrap();
    assert!(std::sync::Arc::ptr_eq(&shared(&a), &shared(&b)));
    assert_eq!(&*b.labels["00e000000000002"], "Sales Manager");
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(
        json["labels"],
        json!({"00E000000000001": a.labels["00E000000000001"].to_string(), "00e000000000002": "Sales Manager"})
    );
    let mut edited = a.clone();
    edited.labels.insert("00e9".into(), "Other".into());
    assert!(edited.labels.get("00e9").is_some() && b.labels.get("00e9").is_none());
    assert_ne!(edited.labels, b.labels);
    assert_eq!(a.labels, b.labels);
}

/// A saved plan read back shares its changes' labels as the planned one did.
#[test]
fn a_saved_plans_changes_share_their_labels_too() {
    let mut w = World::new();
    let (ava, bo) = (w.user("ava", json!({})), w.user("bo", json!({})));
    w.join("ava", "g-sales");
    w.join("bo", "g-sales");
    let plan = w.plan(&config(&[]));
    let read: Vec<super::Change> =
        serde_json::from_value(serde_json::to_value(&plan.changes).unwrap()).unwrap();
    let labels = |key: &str| {
        read.iter()
            .find(|c| c.key == key)
            .and_then(|c| c.labels.0.clone())
            .unwrap()
    };
    assert!(std::sync::Arc::ptr_eq(&labels(&ava), &labels(&bo)));
    assert_eq!(read, plan.changes);
}

/// The matching index finds every Salesforce user of a value, in snapshot order, under the key
/// the rule compares (FederationIdentifier without case); a key that needs no change is the
/// user's own value, not a copy.
#[test]
fn the_match_index_keeps_every_user_of_a_value_and_borrows_keys_it_can() {
    use std::borrow::Cow;
    let config = config(&[]);
    let compiled = super::mapping::compile(&config, &[]);
    let user = |id: &str, federation: &str| {
        let mut user = TargetUser {
            id: id.into(),
            username: format!("{id}@contoso.com.dev1"),
            ..TargetUser::default()
        };
        user.fields
            .insert("FederationIdentifier".into(), json!(federation).into());
        user
    };
    let target = TargetSnapshot {
        users: vec![
            user("005A", "ava@contoso.com"),
            user("005B", "Ben@Contoso.com"),
            user("005C", "ben@contoso.com"),
            user("005D", "  "),
            user("005E", "BEN@contoso.com"),
        ],
        ..TargetSnapshot::default()
    };
    let index = super::matching::match_index(&compiled, &target, ".invalid");
    // EmployeeNumber, then FederationIdentifier.
    assert_eq!(index.len(), 2);
    assert_eq!(index[0].iter().count(), 0);
    let found = |key: &str| index[1].get(key).to_vec();
    assert_eq!(found("ava@contoso.com"), [0]);
    assert_eq!(found("ben@contoso.com"), [1, 2, 4]);
    assert_eq!(found(""), [] as [usize; 0]);
    assert_eq!(index[1].iter().count(), 2);
    let (ava, _) = index[1]
        .iter()
        .find(|(key, _)| *key == "ava@contoso.com")
        .unwrap();
    assert!(matches!(ava, Cow::Borrowed(_)));
}
