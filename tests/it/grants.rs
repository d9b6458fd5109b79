//! Grants end to end against the emulated org: the demo converges with every kind, a fault in
//! the licence phase is finished by the next apply, and the org refuses what Salesforce
//! refuses.

use reqwest::Method;
use serde_json::{Value, json};

use crate::apply::World;

/// The emulated org's records of `object`.
fn objects(world: &World, object: &str) -> Vec<Value> {
    world.emulator.admin_call(Method::GET, "world", None)["salesforce"]["objects"][object]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn id_of(world: &World, object: &str, field: &str, name: &str) -> Value {
    objects(world, object)
        .into_iter()
        .find(|o| o[field] == name)
        .unwrap_or_else(|| panic!("no {object} {name}"))["Id"]
        .clone()
}

fn user_id(world: &World, username: &str) -> Value {
    objects(world, "User")
        .into_iter()
        .find(|u| {
            u["Username"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(username)
        })
        .unwrap_or_else(|| panic!("no user {username}"))["Id"]
        .clone()
}

/// Whether `user` holds the access object `target` in the junction `object`.
fn holds(
    world: &World,
    object: &str,
    user_field: &str,
    field: &str,
    user: &Value,
    target: &Value,
) -> bool {
    objects(world, object)
        .iter()
        .any(|a| a[user_field] == *user && a[field] == *target)
}

#[test]
fn the_demo_converges_with_every_kind_of_grant() {
    let world = World::demo("grants-demo");
    let plan = world.plan_json();
    let kinds: std::collections::BTreeSet<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["grants"]["add"].as_array().unwrap().clone())
        .map(|g| g["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "package_license",
            "permission_set",
            "permission_set_group",
            "permission_set_license",
            "public_group",
            "queue"
        ]
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();

    // A new sales rep: the permission sets, the package licence, the public group, and the
    // licence Salesforce assigned along with Sales_Engagement_Cadences.
    let rep = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["action"] == "create"
                && c["grants"]["add"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g["implied_by"] == "Sales_Engagement_Cadences")
        })
        .expect("a create with an implied licence");
    let rep = user_id(&world, rep["after"]["Username"].as_str().unwrap());
    let psl = id_of(
        &world,
        "PermissionSetLicense",
        "DeveloperName",
        "Sales_Engagement_PSL",
    );
    assert!(holds(
        &world,
        "PermissionSetLicenseAssign",
        "AssigneeId",
        "PermissionSetLicenseId",
        &rep,
        &psl
    ));
    let sbqq = id_of(&world, "PackageLicense", "NamespacePrefix", "sbqq");
    assert!(holds(
        &world,
        "UserPackageLicense",
        "UserId",
        "PackageLicenseId",
        &rep,
        &sbqq
    ));
    let all_sales = id_of(&world, "Group", "DeveloperName", "All_Sales");
    assert!(holds(
        &world,
        "GroupMember",
        "UserOrGroupId",
        "GroupId",
        &rep,
        &all_sales
    ));
    // Noah's Legacy_Partners membership is not managed: it stays.
    let noah = user_id(&world, "noah.okafor@contoso.com.dev1");
    let legacy = id_of(&world, "Group", "DeveloperName", "Legacy_Partners");
    assert!(holds(
        &world,
        "GroupMember",
        "UserOrGroupId",
        "GroupId",
        &noah,
        &legacy
    ));

    assert_a_step_per_grant(&world);
}

/// The audit log has a step per grant written, by kind and name; never one for the licence
/// Salesforce assigned itself.
fn assert_a_step_per_grant(world: &World) {
    let steps: Vec<String> = world
        .audit()
        .iter()
        .flat_map(|l| l["steps"].as_array().unwrap().clone())
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect();
    for step in [
        "add permission set licence Knowledge_PSL",
        "add package licence sbqq",
        "add permission set Knowledge_Author",
        "add permission set group Sales_Leadership",
        "add public group All_Sales",
        "add queue Support_Tier_1",
    ] {
        assert!(
            steps.iter().any(|s| s == step),
            "{step} missing in {steps:?}"
        );
    }
    assert!(
        !steps.iter().any(|s| s.contains("Sales_Engagement_PSL")),
        "{steps:?}"
    );
}

#[test]
fn a_failure_in_the_licence_phase_is_finished_by_the_next_apply() {
    let world = World::demo("grants-licence-fault");
    // Every insert of a permission set licence assignment fails as a whole (retries too).
    world.emulator.admin(
        "faults",
        &json!({"route": "POST /services/data/{v}/composite/sobjects",
            "body_contains": "PermissionSetLicenseAssign", "kind": "status", "status": 500,
            "count": 50}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("roster stopped sending requests"), "{said}");
    let audit = world.audit();
    let step = |name: &str| -> Vec<String> {
        audit
            .iter()
            .flat_map(|l| l["steps"].as_array().unwrap().clone())
            .filter(|s| s["step"] == name)
            .map(|s| s["result"].as_str().unwrap().to_owned())
            .collect()
    };
    // The licence writes failed (their outcome looked up: not in the org), and nothing that
    // needs them — nor anything after — was sent.
    let licences = step("add permission set licence Knowledge_PSL");
    assert!(!licences.is_empty());
    assert!(licences.iter().all(|r| r == "failed"), "{licences:?}");
    let authors = step("add permission set Knowledge_Author");
    assert!(authors.iter().all(|r| r == "not_attempted"), "{authors:?}");
    assert!(objects(&world, "PermissionSetLicenseAssign").iter().all(
        |a| a["PermissionSetLicenseId"]
            != id_of(
                &world,
                "PermissionSetLicense",
                "DeveloperName",
                "Knowledge_PSL"
            )
    ));

    world.emulator.admin_call(Method::DELETE, "faults", None);
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();
}

#[test]
fn grants_above_the_bulk_threshold_go_through_bulk_jobs_and_converge() {
    let world = World::demo("grants-bulk");
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "3"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();
    // One job for the users, one per grant write above 3 records (permission set licences,
    // package licences, permission sets, group members); the few permission set group
    // assignments go through collections.
    assert_eq!(
        world.requests_to("POST /services/data/{v}/jobs/ingest"),
        6,
        "{}",
        world.requests()
    );
    assert_eq!(
        world.requests_to("POST /services/data/{v}/composite/sobjects"),
        1,
        "{}",
        world.requests()
    );
    let steps: Vec<Value> = world
        .audit()
        .iter()
        .flat_map(|l| l["steps"].as_array().unwrap().clone())
        .collect();
    assert!(steps.iter().all(|s| s["result"] == "applied"), "{steps:?}");
}

#[test]
fn a_licence_a_held_permission_set_needs_is_kept_when_the_set_is_no_longer_managed() {
    let world = World::demo("grants-needed-licence");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The team stops managing Sales_Engagement_Cadences (linked to Sales_Engagement_PSL, which
    // stays managed), and Knowledge_Author (which needs Knowledge_PSL): the users keep both
    // permission sets, so their licences must stay.
    let config = crate::support::read("examples/demo/roster.yaml")
        .replace(
            "permission_sets: [Sales_Cloud_User, Sales_Engagement_Cadences]",
            "permission_sets: [Sales_Cloud_User]",
        )
        .replace(
            "permission_sets: [Service_Cloud_User, Knowledge_Author]",
            "permission_sets: [Service_Cloud_User]",
        )
        .replace("Sales_Engagement_Cadences, Knowledge_Author]", "]")
        .replace("      permission_set_licenses: [Knowledge_PSL]\n", "");
    assert!(!config.contains("Sales_Engagement_Cadences"), "{config}");
    world.scratch.write("roster.yaml", config);
    let out = world.roster(&["plan", "--detailed-exitcode"]);
    let plan = world.plan_json();
    let removed: Vec<&Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["grants"]["remove"].as_array().unwrap())
        .collect();
    assert!(removed.is_empty(), "{removed:?}\n{}", out.stdout);
    world.assert_converged();
}

#[test]
fn grants_no_rule_gives_any_more_are_removed_end_to_end() {
    let world = World::demo("grants-removed");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Sales managers no longer get Reports_Export nor All_Sales (both stay managed).
    let config = crate::support::read("examples/demo/roster.yaml")
        .replacen(
            "      permission_sets: [Sales_Cloud_User, Reports_Export]\n      permission_set_groups: [Sales_Leadership]\n      public_groups: [All_Sales]",
            "      permission_sets: [Sales_Cloud_User]\n      permission_set_groups: [Sales_Leadership]",
            1,
        );
    assert!(!config.contains("permission_sets: [Sales_Cloud_User, Reports_Export]"));
    world.scratch.write("roster.yaml", config);
    let plan = world.plan_json();
    let removed: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["grants"]["remove"].as_array().unwrap().clone())
        .map(|g| {
            (
                g["kind"].as_str().unwrap().to_owned(),
                g["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        removed.contains(&("public_group".to_owned(), "All_Sales".to_owned())),
        "{removed:?}"
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();
    // Ava (a sales manager; a report builder too, so Reports_Export stays) has left All_Sales.
    let ava = user_id(&world, "ava.martinez@contoso.com.dev1");
    let all_sales = id_of(&world, "Group", "DeveloperName", "All_Sales");
    assert!(!holds(
        &world,
        "GroupMember",
        "UserOrGroupId",
        "GroupId",
        &ava,
        &all_sales
    ));
    let steps: Vec<String> = world
        .audit()
        .iter()
        .flat_map(|l| l["steps"].as_array().unwrap().clone())
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        steps.iter().any(|s| s == "remove public group All_Sales"),
        "{steps:?}"
    );
}

#[test]
fn a_feature_licence_seat_freed_by_one_update_is_there_for_another() {
    // One Knowledge seat, held by Noah (a sales rep: the rules turn it off); Ava, before him
    // in key order, is given it. Ava's update may only be written after Noah's.
    let scratch = crate::support::Scratch::new("grants-feature-order");
    let world = crate::support::read("examples/demo/world.yaml")
        .replacen(
            "      Title: Senior AE\n",
            "      Title: Senior AE\n      UserPermissionsKnowledgeUser: true\n",
            1,
        )
        .replacen(
            "feature_licenses: {KnowledgeUser: 10, SupportUser: 10}",
            "feature_licenses: {KnowledgeUser: 1, SupportUser: 10}",
            1,
        );
    assert!(
        world.contains("KnowledgeUser: 1,") && world.contains("UserPermissionsKnowledgeUser: true")
    );
    let world = scratch.write("world.yaml", world);
    let config = crate::support::read("examples/demo/roster.yaml")
        .replacen(
            "feature_licenses: [SupportUser, KnowledgeUser]",
            "feature_licenses: [SupportUser]",
            1,
        )
        .replacen(
            "    - when: {group: SF Report Builders}",
            "    - when: {expression: 'IIF([userPrincipalName] = \"ava.martinez@contoso.com\", \"True\", \"False\")'}\n      feature_licenses: [KnowledgeUser]\n    - when: {group: SF Report Builders}",
            1,
        );
    scratch.write("roster.yaml", config);
    let emulator =
        crate::support::Emulator::start_with(&["--world", world.to_str().unwrap()], &scratch.dir);
    let planned = emulator.roster(&scratch.dir, &["plan", "--out", "plan.json"], &[]);
    assert!(planned.code == 0 || planned.code == 2, "{}", planned.stderr);
    assert!(
        !planned.stdout.contains("no seat left"),
        "the plan counts Noah's seat for Ava: {}",
        planned.stdout
    );
    let applied = emulator.roster(
        &scratch.dir,
        &["apply", "plan.json", "--allow-deactivations", "5"],
        &[],
    );
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    let again = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
    let again: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again["changes"], json!([]), "converged");
}
