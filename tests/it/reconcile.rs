//! `roster apply --policy`: a scheduled run carries out only what `reconcile.auto_apply` allows
//! — held (exit 3, nothing written) for each kind and limit beyond it, applied within it.

use crate::apply::World;

/// The demo world with `policy` as the config's `reconcile.auto_apply`.
fn world(name: &str, policy: &str) -> World {
    let world = World::demo(name);
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{config}\nreconcile:\n  auto_apply: {policy}\n"),
    )
    .unwrap();
    world
}

#[test]
fn a_plan_within_the_policy_is_applied_unasked() {
    let world = world(
        "reconcile-within",
        "{allow: [create, update, reactivate, deactivate, grants], max_creates: 30, max_updates: 10, max_deactivations: 5}",
    );
    let out = world.roster(&["apply", "--policy"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Apply complete!"), "{}", out.stdout);
    world.assert_converged();
    // Nothing left: still exit 0, and as JSON still one report (of nothing), never an empty
    // stdout a consumer fails to parse.
    let again = world.roster(&["apply", "--policy", "--format", "json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["changes"], serde_json::json!([]), "{report}");
}

#[test]
fn a_plan_beyond_the_policy_is_held_with_every_reason_and_nothing_written() {
    for (policy, reasons) in [
        (
            "{allow: [create, update]}",
            &[
                "1 change(s) to reactivate, which reconcile.auto_apply.allow does not list",
                "2 change(s) to deactivate, which reconcile.auto_apply.allow does not list",
                "change(s) add or remove grants or feature licences, or move a user to another profile or role, which reconcile.auto_apply.allow does not list (`grants`)",
            ][..],
        ),
        (
            "{allow: [create, update, reactivate, deactivate, grants], max_creates: 10}",
            &["23 create(s), more than reconcile.auto_apply.max_creates (10)"][..],
        ),
        (
            "{allow: [create, update, reactivate, deactivate, grants], max_updates: 4}",
            &["5 update(s) and reactivation(s), more than reconcile.auto_apply.max_updates (4)"][..],
        ),
        (
            "{allow: [create, update, reactivate, deactivate, grants], max_deactivations: 1}",
            &[
                "2 deactivation(s) and freeze(s), more than reconcile.auto_apply.max_deactivations (1)",
            ][..],
        ),
    ] {
        let world = world("reconcile-held", policy);
        let out = world.roster(&["apply", "--policy", "--format", "markdown"]);
        assert_eq!(out.code, 3, "{policy}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("held by the reconcile policy (reconcile.auto_apply), nothing written:"),
            "{}",
            out.stderr
        );
        for reason in reasons {
            assert!(
                out.stderr.contains(reason),
                "{policy}: {reason}\n{}",
                out.stderr
            );
        }
        // The plan is shown for the issue the workflow opens; nothing was sent.
        assert!(out.stdout.contains("### roster plan"), "{}", out.stdout);
        // As JSON: the report alone, every change not attempted, and why.
        let out = world.roster(&["apply", "--policy", "--format", "json"]);
        assert_eq!(out.code, 3, "{policy}: {}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["complete"], false, "{report}");
        let stopped = report["stopped"].as_str().unwrap();
        assert!(
            stopped.starts_with("held by the reconcile policy"),
            "{stopped}"
        );
        assert!(reasons.iter().all(|r| stopped.contains(r)), "{stopped}");
        let changes = report["changes"].as_array().unwrap();
        assert!(!changes.is_empty());
        assert!(
            changes.iter().all(|c| c["result"] == "not_attempted"),
            "{report}"
        );
        assert_eq!(world.requests_to("composite"), 0, "{policy}");
        assert!(world.audit().is_empty());
    }
}

/// A plan over `safety.max_deactivations` that the policy holds anyway is held with both
/// reasons (exit 3), not refused on the threshold alone with a hint that leads to the policy's
/// refusal next; over the threshold alone, it is refused as without --policy.
#[test]
fn a_plan_over_the_threshold_and_the_policy_is_held_with_both_reasons() {
    let world = world(
        "reconcile-threshold",
        "{allow: [create, update, reactivate, grants]}",
    );
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        config.replace("  max_deactivations: 5\n", "  max_deactivations: 1\n"),
    )
    .unwrap();
    let out = world.roster(&["apply", "--policy"]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    for reason in [
        "2 deactivations, more than safety.max_deactivations allows (1)",
        "2 change(s) to deactivate, which reconcile.auto_apply.allow does not list",
    ] {
        assert!(out.stderr.contains(reason), "{reason}\n{}", out.stderr);
    }
    assert_eq!(world.requests_to("composite"), 0);
    assert!(world.audit().is_empty());

    // The policy allows it all: the threshold alone refuses, as without --policy.
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        config.replace(
            "allow: [create, update, reactivate, grants]",
            "allow: [create, update, reactivate, deactivate, grants]",
        ),
    )
    .unwrap();
    let out = world.roster(&["apply", "--policy"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("--allow-deactivations"),
        "{}",
        out.stderr
    );
    assert_eq!(world.requests_to("composite"), 0);
}

#[test]
fn a_saved_plan_is_held_too_and_without_a_policy_the_flag_is_refused() {
    let world = world("reconcile-saved", "{allow: [create]}");
    let out = world.roster(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = world.roster(&["apply", "plan.json", "--policy"]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Plan: 23 to create"), "{}", out.stdout);
    // The plan was given: the way on is to apply it without the policy.
    assert!(
        out.stderr.contains("apply it without --policy"),
        "{}",
        out.stderr
    );
    assert_eq!(world.requests_to("composite"), 0);

    let plain = World::demo("reconcile-none");
    let out = plain.roster(&["apply", "--policy"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("the file has none"), "{}", out.stderr);
    // --auto-approve applies any plan, --policy only one within it: not both.
    let out = world.roster(&["apply", "--policy", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("'--policy' cannot be used with '--auto-approve'"),
        "{}",
        out.stderr
    );
    assert_eq!(world.requests_to("composite"), 0);
}

/// `config` (written to `path`) under a policy that allows every kind of change but `grants`:
/// `apply --policy` is held for `reason` and writes nothing; with `grants` allowed too, it
/// applies, and `reason` is not given.
fn held_until_grants_are_allowed(
    world: &World,
    path: &std::path::Path,
    config: &str,
    reason: &str,
) {
    for (allow, held) in [
        ("[create, update, reactivate, deactivate]", true),
        ("[create, update, reactivate, deactivate, grants]", false),
    ] {
        std::fs::write(
            path,
            format!("{config}\nreconcile:\n  auto_apply: {{allow: {allow}}}\n"),
        )
        .unwrap();
        let out = world.roster(&["apply", "--policy"]);
        if held {
            assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
            assert!(out.stderr.contains(reason), "{}", out.stderr);
            assert!(world.audit().is_empty(), "nothing written");
        } else {
            assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
            assert!(!out.stderr.contains(reason), "{}", out.stderr);
        }
    }
}

/// A dormant administrator given sign-in back is an administrator made, as a create into that
/// profile is: Henry Tanaka, inactive in Salesforce in System Administrator, which the config's
/// rules give him too (and which it does not protect), is reactivated with no profile move. The plan names him; `apply
/// --policy` holds the reactivation without `grants`, however `reactivate` is allowed, and
/// carries it out with it.
#[test]
fn a_reactivated_administrator_is_held_without_grants() {
    let world = World::demo_editing("reconcile-admin-reactivate", |demo| {
        demo.replacen(
            "Profile: Support User\n      FederationIdentifier: henry.tanaka@contoso.com",
            "Profile: System Administrator\n      FederationIdentifier: henry.tanaka@contoso.com",
            1,
        )
    });
    let key = "henry.tanaka@contoso.com";
    let path = world.scratch.dir.join("roster.yaml");
    // The demo protects System Administrator's users; a careless config does not.
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("  profiles: [System Administrator]\n", "", 1)
        .replacen(
        "  rules:\n",
        &format!(
            "  rules:\n    - when: {{expression: 'IIF([userPrincipalName] = \"{key}\", \"True\", \"False\")'}}\n      profile: System Administrator\n"
        ),
        1,
    );
    std::fs::write(&path, &config).unwrap();
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let change = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap();
    assert_eq!(change["action"], "reactivate", "{change}");
    assert!(
        change["after"].get("ProfileId").is_none(),
        "no move: {change}"
    );
    let warning = format!(
        "1 user(s) get the profile System Administrator, which has administrative permissions \
         (ModifyAllData, ViewAllData, ManageUsers, CustomizeApplication): {key} (reactivated)"
    );
    assert!(
        plan["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == warning.as_str()),
        "{}",
        plan["warnings"]
    );
    let reason = "1 reactivation(s) or unfreeze(s) give sign-in back to a user holding a profile \
                  with administrative permissions (1 in System Administrator: ModifyAllData, \
                  ViewAllData, ManageUsers, CustomizeApplication), which \
                  reconcile.auto_apply.allow does not list (`grants`)";
    held_until_grants_are_allowed(&world, &path, &config, reason);
    let reactivated = world
        .audit()
        .into_iter()
        .find(|line| line["key"] == key)
        .expect("the reactivation is in the audit log");
    assert_eq!(reactivated["action"], "reactivate", "{reactivated}");
    assert_eq!(reactivated["result"], "applied", "{reactivated}");
}

/// A new user created straight into an administrator's profile is an administrator made, as a
/// move into that profile would be: held without `grants`, the reason naming the profile and
/// its administrative permissions (read from the org's Profile records), and created as
/// planned once `grants` is allowed.
#[test]
fn a_create_into_an_administrators_profile_is_held_without_grants() {
    let world = World::demo("reconcile-admin-create");
    let out = world.roster(&["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let key = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "create")
        .and_then(|c| c["key"].as_str())
        .unwrap()
        .to_owned();
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    let admin_rule = format!(
        "  rules:\n    - when: {{expression: 'IIF([userPrincipalName] = \"{key}\", \"True\", \"False\")'}}\n      profile: System Administrator\n"
    );
    let config = config.replacen("  rules:\n", &admin_rule, 1);
    std::fs::write(&path, &config).unwrap();
    // The plan a reviewer reads says so.
    let out = world.roster(&["plan"]);
    assert!(
        out.stdout.contains(&format!(
            "1 user(s) get the profile System Administrator, which has administrative permissions \
             (ModifyAllData, ViewAllData, ManageUsers, CustomizeApplication): {key} (created)"
        )),
        "{}",
        out.stdout
    );
    let reason = "1 create(s) into a profile with administrative permissions (1 into System \
                  Administrator: ModifyAllData, ViewAllData, ManageUsers, CustomizeApplication), \
                  which reconcile.auto_apply.allow does not list (`grants`)";
    held_until_grants_are_allowed(&world, &path, &config, reason);
    let created = world
        .audit()
        .into_iter()
        .find(|line| line["key"] == key.as_str())
        .expect("the admin's create is in the audit log");
    assert_eq!(created["result"], "applied", "{created}");
    let org = world
        .emulator
        .admin_call(reqwest::Method::GET, "world", None);
    let administrator = org["salesforce"]["objects"]["Profile"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Name"] == "System Administrator")
        .unwrap();
    assert_eq!(
        created["after"]["ProfileId"], administrator["Id"],
        "{created}"
    );
}
