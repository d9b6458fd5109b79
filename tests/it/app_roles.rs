//! `roles.app_roles`: the enterprise application's app roles follow the org's profiles — added,
//! renamed and disabled by plan and apply through the emulator's Graph, never a role removed
//! while it is enabled or still assigned — and the emulator refuses what Graph refuses.

use serde_json::{Value, json};

use crate::support::{Emulator, Output, Scratch, read, repo};

/// The demo world's client, granted the write app roles need too.
const GRANTED: &str = "      federated_subjects: [\"repo:contoso/iam:ref:refs/heads/main\"]\n";

struct World {
    emulator: Emulator,
    scratch: Scratch,
}

/// The demo world with `roles` as the application's extra app roles (YAML lines) and
/// `writable` saying whether the client may write them; the demo config with `app_roles`.
fn world(name: &str, roles: &str, writable: bool, app_roles: &str) -> World {
    let scratch = Scratch::new(name);
    let mut text = read("examples/demo/world.yaml").replace(
        "        - {id: 0000000a-0000-0000-0000-000000000003, display_name: Support Agent, value: Support_Agent}\n",
        &format!(
            "        - {{id: 0000000a-0000-0000-0000-000000000003, display_name: Support Agent, value: Support_Agent}}\n{roles}"
        ),
    );
    if writable {
        text = text.replace(
            GRANTED,
            &format!(
                "{GRANTED}      roles: [Application.Read.All, GroupMember.Read.All, User.Read.All, Application.ReadWrite.OwnedBy]\n"
            ),
        );
    }
    let path = scratch.write("world.yaml", text);
    let emulator = Emulator::start_with(&["--world", path.to_str().unwrap()], &repo());
    let config = read("examples/demo/roster.yaml").replace(
        "  # Only what is listed here is ever removed.\n",
        &format!("  app_roles: {app_roles}\n  # Only what is listed here is ever removed.\n"),
    );
    scratch.write("roster.yaml", config);
    World { emulator, scratch }
}

impl World {
    fn roster(&self, args: &[&str]) -> Output {
        self.emulator.roster(&self.scratch.dir, args, &[])
    }

    fn plan(&self) -> Value {
        let out = self.roster(&["plan", "--format", "json"]);
        assert!(out.code == 0, "{}\n{}", out.stdout, out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// The application's app roles, as Graph returns them.
    fn roles(&self) -> Vec<Value> {
        self.emulator.graph_get(
            "servicePrincipals/9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d?$select=appRoles",
        )["appRoles"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn role(&self, name: &str) -> Option<Value> {
        self.roles().into_iter().find(|r| r["displayName"] == name)
    }
}

/// The demo org's profile ids (the emulator numbers them in world order).
const STANDARD_USER: &str = "00e8c0000000003AAA";
const SUPPORT_USER: &str = "00e8c0000000004AAA";
const READ_ONLY: &str = "00e8c0000000005AAA";

fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["app_roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .map(|r| {
                    (
                        r["action"].as_str().unwrap().to_owned(),
                        r["after"]["display_name"]
                            .as_str()
                            .or(r["before"]["display_name"].as_str())
                            .unwrap()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn profiles_without_a_role_get_one_and_the_next_plan_is_in_step() {
    let world = world(
        "app-roles-add",
        "",
        true,
        "{from_profiles: [Sales Manager, Standard User, Support User]}",
    );
    // Sales Manager already has a role by its name (the connector's import); the other two not.
    let plan = world.plan();
    assert_eq!(
        actions(&plan),
        [
            ("add".to_owned(), "Standard User".to_owned()),
            ("add".to_owned(), "Support User".to_owned())
        ],
        "{:#}",
        plan["app_roles"]
    );
    assert_eq!(plan["app_roles"][0]["after"]["value"], STANDARD_USER);
    assert!(
        plan["headline"]
            .as_str()
            .unwrap()
            .contains(", 2 app role changes;"),
        "{}",
        plan["headline"]
    );
    let text = world.roster(&["plan"]);
    assert!(
        text.stdout.contains(
            "  # entra_app_role[\"Standard User\"] will be added (profile \"Standard User\" has no app role)\n  + entra_app_role \"Standard User\" {\n      + displayName = \"Standard User\"\n      + value       = \"00e8c0000000003AAA\"\n      + isEnabled   = true\n    }"
        ),
        "{}",
        text.stdout
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(", 2 app role change(s)."),
        "{}",
        out.stdout
    );
    let added = world.role("Standard User").expect("the role was added");
    assert_eq!(added["value"], STANDARD_USER);
    assert_eq!(added["isEnabled"], true);
    assert_eq!(added["allowedMemberTypes"], json!(["User"]));
    // Every role the application had is still there.
    for kept in [
        "Sales Manager",
        "Sales Rep",
        "Support Agent",
        "Support User",
    ] {
        assert!(world.role(kept).is_some(), "{kept}");
    }
    assert_eq!(actions(&world.plan()), []);
    // The audit log has a line per app-role change.
    let audit = std::fs::read_to_string(world.scratch.dir.join("roster-audit.jsonl")).unwrap();
    let roles: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["kind"] == "entra_app_role")
        .collect();
    assert_eq!(roles.len(), 2);
    assert!(
        roles
            .iter()
            .all(|l| l["result"] == "applied" && l["action"] == "add")
    );
}

#[test]
fn a_renamed_profile_renames_its_role_and_a_disabled_one_is_enabled() {
    let world = world(
        "app-roles-rename",
        &format!(
            "        - {{id: 0000000a-0000-0000-0000-0000000000a1, display_name: Std User, value: {STANDARD_USER}}}\n        - {{id: 0000000a-0000-0000-0000-0000000000a2, display_name: Support User, value: {SUPPORT_USER}, is_enabled: false}}\n"
        ),
        true,
        "{from_profiles: [Standard User, Support User]}",
    );
    let plan = world.plan();
    assert_eq!(
        actions(&plan),
        [
            ("update".to_owned(), "Standard User".to_owned()),
            ("update".to_owned(), "Support User".to_owned())
        ]
    );
    assert_eq!(
        plan["app_roles"][0]["reason"],
        "profile \"Std User\" was renamed \"Standard User\""
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let renamed = world.role("Standard User").unwrap();
    assert_eq!(renamed["id"], "0000000a-0000-0000-0000-0000000000a1");
    assert_eq!(world.role("Support User").unwrap()["isEnabled"], true);
    assert_eq!(actions(&world.plan()), []);
}

impl World {
    /// Replaces the config's `app_roles` value.
    fn follow(&self, app_roles: &str) {
        let path = self.scratch.dir.join("roster.yaml");
        let config = std::fs::read_to_string(&path).unwrap();
        let line = config
            .lines()
            .find(|l| l.starts_with("  app_roles: "))
            .unwrap()
            .to_owned();
        std::fs::write(
            &path,
            config.replace(&line, &format!("  app_roles: {app_roles}")),
        )
        .unwrap();
    }

    fn apply(&self) {
        let out = self.roster(&["apply", "--auto-approve"]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    }
}

#[test]
fn a_role_roster_added_is_disabled_when_its_profile_goes_then_removed_once_unassigned() {
    let world = world(
        "app-roles-retire",
        "",
        true,
        "{from_profiles: [Sales Manager, Read Only]}",
    );
    world.apply();
    let added = world.role("Read Only").expect("roster added the role");
    assert_eq!(added["value"], READ_ONLY);
    world.emulator.admin(
        "entra/assignments",
        &json!({"application": "Salesforce Sandbox", "user": "ava.martinez@contoso.com", "role": "Read Only"}),
    );
    // Read Only is no longer followed: its role is disabled, not removed (it is assigned).
    world.follow("{from_profiles: [Sales Manager]}");
    let plan = world.plan();
    assert_eq!(
        actions(&plan),
        [("disable".to_owned(), "Read Only".to_owned())]
    );
    assert_eq!(plan["app_roles"][0]["assignments"], 1);
    world.apply();
    assert_eq!(world.role("Read Only").unwrap()["isEnabled"], false);
    // Disabled but still assigned: kept, and the plan says why.
    let plan = world.plan();
    assert_eq!(actions(&plan), []);
    assert!(
        plan["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("app role \"Read Only\" is disabled and still assigned to 1 user(s)")),
        "{:#}",
        plan["warnings"]
    );
    // Once nobody is assigned, it goes.
    let assigned = world
        .emulator
        .graph_get("servicePrincipals/9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d/appRoleAssignedTo");
    let assignment = assigned["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["appRoleId"] == added["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    world.emulator.admin_call(
        reqwest::Method::DELETE,
        &format!("entra/assignments/{assignment}"),
        None,
    );
    assert_eq!(
        actions(&world.plan()),
        [("remove".to_owned(), "Read Only".to_owned())]
    );
    world.apply();
    assert!(world.role("Read Only").is_none());
    // Roles roster did not add were never touched.
    for kept in ["Sales Rep", "Support Agent", "Sales Manager"] {
        assert!(world.role(kept).is_some(), "{kept}");
    }
}

#[test]
fn a_role_an_admin_made_is_never_disabled_or_removed() {
    // Its value is a profile id, as roster's are, but roster did not make it (its id is not the
    // one roster derives), and its profile is gone or not followed.
    let world = world(
        "app-roles-not-ours",
        &format!(
            "        - {{id: 0000000a-0000-0000-0000-0000000000b1, display_name: Ghost, value: 00e8c0000000099AAA}}\n        - {{id: 0000000a-0000-0000-0000-0000000000b2, display_name: Read Only, value: {READ_ONLY}, is_enabled: false}}\n"
        ),
        true,
        "{from_profiles: [Sales Manager]}",
    );
    assert_eq!(actions(&world.plan()), []);
    world.apply();
    assert_eq!(world.role("Ghost").unwrap()["isEnabled"], true);
    assert!(world.role("Read Only").is_some());
}

#[test]
fn a_rule_on_a_role_this_plan_renames_is_refused() {
    let world = world(
        "app-roles-rule-renamed",
        &format!(
            "        - {{id: 0000000a-0000-0000-0000-0000000000a1, display_name: Std User, value: {STANDARD_USER}}}\n"
        ),
        true,
        "{from_profiles: [Standard User]}",
    );
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap().replace(
        "    - when: {group: SF Report Builders}\n",
        "    - when: {app_role: Std User}\n      permission_sets: [Reports_Export]\n    - when: {group: SF Report Builders}\n",
    );
    std::fs::write(&path, config).unwrap();
    let out = world.roster(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "roles.app_roles renames the app role \"Std User\" to \"Standard User\" in this plan"
        ) && out.stderr.contains("name it \"Standard User\""),
        "{}",
        out.stderr
    );
}

#[test]
fn two_profiles_of_one_name_get_no_role_and_the_plan_says_why() {
    let text = read("examples/demo/world.yaml");
    let profiles = "    - {name: Read Only, license: Salesforce Platform}\n";
    assert!(text.contains(profiles));
    let scratch = Scratch::new("app-roles-twins");
    let path = scratch.write(
        "world.yaml",
        text.replace(
            profiles,
            &format!(
                "{profiles}    - {{name: Twin, license: Salesforce}}\n    - {{name: Twin, license: Salesforce Platform}}\n"
            ),
        ),
    );
    let emulator = Emulator::start_with(&["--world", path.to_str().unwrap()], &repo());
    scratch.write(
        "roster.yaml",
        read("examples/demo/roster.yaml").replace(
            "  # Only what is listed here is ever removed.\n",
            "  app_roles: from_profiles\n  # Only what is listed here is ever removed.\n",
        ),
    );
    let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        !actions(&plan).iter().any(|(_, name)| name == "Twin"),
        "{:#}",
        plan["app_roles"]
    );
    assert!(
        plan["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("profiles \"Twin\" each share their name")),
        "{:#}",
        plan["warnings"]
    );
}

#[test]
fn without_the_write_permission_apply_fails_naming_it_and_the_users_are_still_written() {
    let world = world(
        "app-roles-forbidden",
        "",
        false,
        "{from_profiles: [Standard User]}",
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("error: entra_app_role: writing the app roles failed:")
            && out.stdout.contains("Authorization_RequestDenied")
            && out.stdout.contains("Application.ReadWrite.OwnedBy"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("; 1 app role change(s) not applied."),
        "{}",
        out.stdout
    );
    // The users were written; only the app role remains.
    let plan = world.plan();
    assert_eq!(plan["changes"], json!([]));
    assert_eq!(
        actions(&plan),
        [("add".to_owned(), "Standard User".to_owned())]
    );
    // And `check` says so before any apply.
    let check = world.roster(&["check", "--connections-only"]);
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("the token lacks Application.ReadWrite.OwnedBy"),
        "{}",
        check.stdout
    );
}

#[test]
fn an_unknown_listed_profile_is_refused_at_its_place() {
    let world = world(
        "app-roles-unknown",
        "",
        true,
        "{from_profiles: [Standard Usr]}",
    );
    let out = world.roster(&["plan"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "/roles/app_roles/from_profiles/0: the org has no profile named \"Standard Usr\""
        ) && out.stderr.contains("did you mean \"Standard User\"?"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_emulator_refuses_to_remove_or_revalue_an_enabled_role() {
    let world = world("app-roles-refusals", "", true, "from_profiles");
    let roles = world.roles();
    let patch = |body: Value| -> (u16, Value) {
        world.emulator.graph_send(
            reqwest::Method::PATCH,
            "servicePrincipals/9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            &body,
        )
    };
    // Sales Rep dropped while enabled.
    let without: Vec<Value> = roles
        .iter()
        .filter(|r| r["displayName"] != "Sales Rep")
        .cloned()
        .collect();
    let (status, answer) = patch(json!({"appRoles": without}));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["code"],
        "CannotDeleteOrUpdateEnabledEntitlement"
    );
    // Its value changed while enabled.
    let mut revalued = roles.clone();
    for r in &mut revalued {
        if r["displayName"] == "Sales Rep" {
            r["value"] = json!("Sales_Representative");
        }
    }
    let (status, answer) = patch(json!({"appRoles": revalued}));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["code"],
        "CannotDeleteOrUpdateEnabledEntitlement"
    );
    // Two roles with one value.
    let mut twice = roles.clone();
    let mut copy = twice[0].clone();
    copy["id"] = json!("0000000a-0000-0000-0000-0000000000ff");
    twice.push(copy);
    let (status, _) = patch(json!({"appRoles": twice}));
    assert_eq!(status, 400);
    // Disabled first, then it may go.
    let mut disabled = roles.clone();
    for r in &mut disabled {
        if r["displayName"] == "Sales Rep" {
            r["isEnabled"] = json!(false);
        }
    }
    assert_eq!(patch(json!({"appRoles": disabled})).0, 204);
    assert_eq!(patch(json!({"appRoles": without})).0, 204);
    assert!(world.role("Sales Rep").is_none());
}
