//! The small inputs from real-world reports (`tests/fixtures/cases/`, each with its README):
//! each run as its report describes it, asserting what roster must do now.

use serde_json::{Value, json};

use crate::support::{Emulator, Output, Scratch, repo};

/// A case's emulator and a scratch copy of its config.
struct Case {
    emulator: Emulator,
    scratch: Scratch,
}

impl Case {
    fn start(name: &str) -> Case {
        let dir = repo().join("tests/fixtures/cases").join(name);
        let scratch = Scratch::new(&format!("case-{name}"));
        scratch.write(
            "roster.yaml",
            std::fs::read(dir.join("roster.yaml")).unwrap(),
        );
        let emulator = Emulator::start(&format!("tests/fixtures/cases/{name}/world.yaml"));
        Case { emulator, scratch }
    }

    fn roster(&self, args: &[&str]) -> Output {
        self.emulator.roster(&self.scratch.dir, args, &[])
    }

    fn plan_json(&self) -> Value {
        let out = self.roster(&["plan", "--format", "json"]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
    }
}

#[test]
fn approle_null_value_a_role_without_a_value_is_a_role() {
    let case = Case::start("approle-null-value");
    let plan = case.plan_json();
    assert_eq!(plan["summary"]["create"], 1, "{plan}");
    assert_eq!(plan["summary"]["update"], 0, "{plan}");
    assert_eq!(plan["errors"], json!([]), "{plan}");
    let explained = case.roster(&["explain", "pat.doe@example.com", "--format", "json"]);
    let explained: Value = serde_json::from_str(&explained.stdout).unwrap();
    assert_eq!(
        explained["roles"]["profile"], "Standard User",
        "{explained}"
    );
    assert!(
        !explained["scope"]["app_roles"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{explained}"
    );
}

#[test]
fn freeze_never_undone_a_returning_user_is_unfrozen() {
    let case = Case::start("freeze-never-undone");
    let group = "entra/groups/dddddddd-0000-4000-8000-000000000001/members";
    case.emulator
        .admin(group, &json!({"remove": ["pat.doe@example.com"]}));
    let out = case.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("1 frozen"), "{}", out.stdout);
    case.emulator
        .admin(group, &json!({"add": ["pat.doe@example.com"]}));
    let plan = case.roster(&["plan"]);
    assert!(
        plan.stdout.contains("IsFrozen = true -> false"),
        "{}",
        plan.stdout
    );
    let explained = case.roster(&["explain", "pat.doe@example.com"]);
    assert!(
        explained.stdout.contains(", frozen"),
        "{}",
        explained.stdout
    );
    let out = case.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let world = case
        .emulator
        .admin_call(reqwest::Method::GET, "world", None);
    let frozen = world["salesforce"]["objects"]["UserLogin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["IsFrozen"] == true)
        .count();
    assert_eq!(frozen, 0, "the login is thawed");
    let audit: Vec<Value> = std::fs::read_to_string(case.scratch.dir.join("roster-audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let thaw = audit.last().unwrap();
    assert_eq!(thaw["steps"][0]["step"], "unfreeze", "{thaw}");
    assert_eq!(thaw["result"], "applied", "{thaw}");
    let again = case.plan_json();
    assert_eq!(again["changes"], json!([]), "{again}");
}

#[test]
fn duplicate_profile_name_is_one_config_error_naming_both_ids() {
    let case = Case::start("duplicate-profile-name");
    let out = case.roster(&["plan"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("Plan refused:"), "{}", out.stdout);
    let ids = regex::Regex::new(r"00e[0-9A-Za-z]{15}").unwrap();
    let named: std::collections::BTreeSet<&str> =
        ids.find_iter(&out.stderr).map(|m| m.as_str()).collect();
    assert_eq!(named.len(), 2, "{}", out.stderr);
    // At the name's place in the file.
    assert!(out.stderr.contains("roster.yaml:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("name the one you mean by id"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_profile_typo_is_one_config_error_with_the_closest_name() {
    let case = Case::start("approle-null-value");
    let path = case.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains("profile: Standard User"));
    std::fs::write(
        &path,
        config.replace("profile: Standard User", "profile: Standard Usr"),
    )
    .unwrap();
    let out = case.roster(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr.matches("the org has no profile named").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean \"Standard User\"?"),
        "{}",
        out.stderr
    );
    let line = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .position(|l| l.contains("Standard Usr"))
        .unwrap()
        + 1;
    assert!(
        out.stderr.contains(&format!("roster.yaml:{line}:")),
        "{}",
        out.stderr
    );
}

#[test]
fn upn_rename_creates_duplicate_the_anchor_keeps_a_renamed_user() {
    let case = Case::start("upn-rename-creates-duplicate");
    // The report's config: validate says a rename would not survive its matching rules.
    let out = case.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no matching rule uses an attribute that survives a rename"),
        "{}",
        out.stderr
    );
    // With the anchor first and mapped, as the README and the demo have it.
    let config = case.scratch.dir.join("roster.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace(
            "matching:\n",
            "matching:\n  - {source: '[objectId]', target: Entra_Object_Id__c}\n",
        )
        .replace(
            "mappings:\n",
            "mappings:\n  - {target: Entra_Object_Id__c, source: objectId}\n",
        );
    std::fs::write(&config, text).unwrap();
    let out = case.roster(&["validate"]);
    assert!(!out.stderr.contains("survives a rename"), "{}", out.stderr);
    // The first apply stamps the anchor on the users the UPN rules link.
    let out = case.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let plan = case.plan_json();
    assert_eq!(plan["changes"], json!([]), "{plan}");
    // pat.doe marries: UPN, mail and surname change; the object id does not.
    case.emulator.admin_call(
        reqwest::Method::PATCH,
        "entra/users/cccccccc-0000-4000-8000-000000000001",
        Some(&json!({"userPrincipalName": "pat.smith@example.com",
                     "mail": "pat.smith@example.com", "surname": "Smith"})),
    );
    let plan = case.plan_json();
    let summary = &plan["summary"];
    assert_eq!(
        (
            summary["create"].as_u64(),
            summary["update"].as_u64(),
            summary["deactivate"].as_u64()
        ),
        (Some(0), Some(1), Some(0)),
        "{plan}"
    );
    let change = &plan["changes"][0];
    assert_eq!(change["key"], "pat.smith@example.com", "{change}");
    for field in ["FederationIdentifier", "Email", "LastName", "Alias"] {
        assert!(change["after"].get(field).is_some(), "{field}: {change}");
    }
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains("linked by Entra_Object_Id__c"),
        "{change}"
    );
    // Username is create-only here: the Salesforce user keeps its login name.
    assert!(change["after"].get("Username").is_none(), "{change}");
    let out = case.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(case.plan_json()["changes"], json!([]));
}

#[test]
fn restricted_picklist_timezone_is_refused_before_apply_and_by_the_emulator() {
    let case = Case::start("restricted-picklist-timezone");
    // The constant is no time zone Salesforce has: validate says so at its line.
    let out = case.roster(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("\"Pacific Standard Time\" is not a TimeZoneSidKey value")
            && out.stderr.contains("roster.yaml:28:")
            && out
                .stderr
                .contains("IANA ids such as `America/Los_Angeles`"),
        "{}",
        out.stderr
    );
    // An expression producing it passes validate; the plan checks it against describe.
    let config = case.scratch.dir.join("roster.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "{target: TimeZoneSidKey, constant: Pacific Standard Time}",
        "{target: TimeZoneSidKey, expression: 'Join(\" \", \"Pacific\", \"Standard\", \"Time\")'}",
    );
    std::fs::write(&config, text).unwrap();
    let plan = case.plan_json();
    assert_eq!(plan["summary"]["create"], 0, "{plan}");
    let reason = plan["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(
            "TimeZoneSidKey \"Pacific Standard Time\" is not a value of the org's restricted picklist Time Zone"
        ),
        "{plan}"
    );
    // And apply sends nothing the org would refuse: the user is still not there.
    let out = case.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let world = case
        .emulator
        .admin_call(reqwest::Method::GET, "world", None);
    let users = world["salesforce"]["objects"]["User"].as_array().unwrap();
    assert!(
        !users
            .iter()
            .any(|u| u["Username"] == "pat.doe@example.com.dev1"),
        "{users:?}"
    );
}
