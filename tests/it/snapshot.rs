//! `roster snapshot` against an emulator child process: what it writes, what `-vv` logs, and
//! that no secret or token appears anywhere.

use crate::support::{Emulator, Scratch, repo};

/// Every secret the demo world knows, and the shapes of the tokens the emulator issues.
const SECRETS: &[&str] = &[
    "demo-entra-client-secret",
    "demo-salesforce-client-secret",
    "demo-password",
    "demoToken123",
    "demo-actions-request-token",
    "PRIVATE KEY",
    ".graph-",
    "!AQ-emulator-",
    "eyJ",
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} contains {secret:?}:\n{text}"
        );
    }
}

#[test]
fn snapshot_writes_both_files_and_no_secret_anywhere() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("snapshot-demo");
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap();
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config, "snapshot", "--out", "seen", "-vv"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Wrote seen/entra.json (30 Entra users, 8 assignments) and seen/salesforce.json (10 Salesforce users).\n"
    );
    // -v logs every request by method and path, with status and duration.
    assert!(
        out.stderr
            .contains("GET /v1.0/servicePrincipals?$filter=displayName eq 'Salesforce Sandbox'"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("POST /services/oauth2/token -> 200 in "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("warning: group \"SF Support\" contains the nested group")
    );
    assert!(out.stderr.contains("peak memory"));
    let entra = std::fs::read_to_string(scratch.dir.join("seen/entra.json")).unwrap();
    let salesforce = std::fs::read_to_string(scratch.dir.join("seen/salesforce.json")).unwrap();
    let entra_json: serde_json::Value = serde_json::from_str(&entra).unwrap();
    assert_eq!(entra_json["format_version"], 5);
    // The org's description of the User fields travels with the snapshot.
    let salesforce_json: serde_json::Value = serde_json::from_str(&salesforce).unwrap();
    let time_zone = salesforce_json["user_describe"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "TimeZoneSidKey")
        .expect("TimeZoneSidKey described");
    assert_eq!(time_zone["restricted_picklist"], true);
    assert!(
        time_zone["picklist_values"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("America/Los_Angeles"))
    );
    assert_eq!(
        entra_json["application"]["display_name"],
        "Salesforce Sandbox"
    );
    for (what, text) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("entra.json", &entra),
        ("salesforce.json", &salesforce),
    ] {
        assert_no_secret(what, text);
    }
    // --quiet: only errors and the requested output (the files), so not the read's warnings,
    // which the snapshot keeps.
    let quiet = emulator.roster(
        &scratch.dir,
        &["-c", config, "-q", "snapshot", "--out", "quiet"],
        &[],
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    let kept = std::fs::read_to_string(scratch.dir.join("quiet/entra.json")).unwrap();
    assert!(kept.contains("contains the nested group"), "{kept}");
}

#[test]
fn federated_and_password_credentials_leak_nothing_at_vv() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("snapshot-federated");
    let demo = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    let config = demo
        .replace(
            "    client_secret: {env: AZURE_CLIENT_SECRET}\n",
            "    federated: github_actions\n",
        )
        .replace(
            "    client_credentials:\n      client_id: 3MVG9contoso.roster.dev1\n      client_secret: {env: SF_CLIENT_SECRET}\n",
            "    password:\n      username: integration@contoso.com.dev1\n      password: {env: SF_PASSWORD}\n      security_token: {env: SF_SECURITY_TOKEN}\n      client_id: 3MVG9contoso.roster.dev1\n      client_secret: {env: SF_CLIENT_SECRET}\n",
        );
    assert!(config.contains("federated") && config.contains("password:"));
    scratch.write("roster.yaml", config);
    let url = format!("{}/_github/idtoken", emulator.base);
    let out = emulator.roster(
        &scratch.dir,
        &["snapshot", "-vv"],
        &[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                "demo-actions-request-token",
            ),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("discourages the username-password flow")
    );
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    for file in ["snapshot/entra.json", "snapshot/salesforce.json"] {
        assert_no_secret(
            file,
            &std::fs::read_to_string(scratch.dir.join(file)).unwrap(),
        );
    }
}

/// The demo world's emulator, a scratch directory named `name`, and the demo config's path,
/// with a snapshot of the world taken into `seen` in that directory.
fn demo_snapshot(name: &str) -> (Emulator, Scratch, String) {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new(name);
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap().to_owned();
    let out = emulator.roster(
        &scratch.dir,
        &["-c", &config, "snapshot", "--out", "seen"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    (emulator, scratch, config)
}

/// A snapshot an editor saved with a byte-order mark first plans as it did without one.
#[test]
fn a_snapshot_saved_with_a_byte_order_mark_is_read() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-bom");
    let plan = || {
        emulator.roster(
            &scratch.dir,
            &[
                "-c",
                &config,
                "plan",
                "--snapshot",
                "seen",
                "--format",
                "json",
            ],
            &[],
        )
    };
    let before = plan();
    assert_ne!(before.code, 1, "{}", before.stderr);
    for name in ["entra.json", "salesforce.json"] {
        let path = scratch.dir.join("seen").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
    }
    let after = plan();
    assert_eq!(after.code, before.code, "{}", after.stderr);
    assert_eq!(after.stdout, before.stdout);
}

/// A snapshot edited by hand is held to what a live read accepts: a value of a type Graph
/// never sends (`accountEnabled: "false"` would read as enabled) fails the plan, naming the file,
/// the user and the value.
#[test]
fn a_snapshot_holding_a_type_graph_never_sends_is_refused() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-types");
    let config = config.as_str();
    let plan = emulator.roster(
        &scratch.dir,
        &["-c", config, "plan", "--snapshot", "seen"],
        &[],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let path = scratch.dir.join("seen/entra.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (attribute, value, expected) in [
        (
            "accountEnabled",
            serde_json::json!("false"),
            r#"has accountEnabled "false", not a boolean"#,
        ),
        (
            "userPrincipalName",
            serde_json::json!(5),
            "has userPrincipalName 5, not text",
        ),
    ] {
        let mut edited = original.clone();
        edited["users"][0]["attributes"][attribute] = value;
        std::fs::write(&path, serde_json::to_string(&edited).unwrap()).unwrap();
        let out = emulator.roster(
            &scratch.dir,
            &["-c", config, "plan", "--snapshot", "seen"],
            &[],
        );
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert!(
            out.stderr.contains("entra.json")
                && out.stderr.contains("users[0]")
                && out.stderr.contains(expected),
            "{}",
            out.stderr
        );
    }
}

/// A snapshot that lists a user twice (in either file), names an assignment mode a read never
/// writes, or gives a key twice, was edited by hand: refused, not planned (a user listed twice was planned as
/// two, each disputing the other's account).
#[test]
fn a_snapshot_listing_a_user_twice_or_an_unknown_assignment_is_refused() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-twice");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(scratch.dir.join("seen").join(name)).unwrap())
            .unwrap()
    };
    let (entra, salesforce) = (read("entra.json"), read("salesforce.json"));
    let write = |name: &str, value: &serde_json::Value| {
        std::fs::write(scratch.dir.join("seen").join(name), value.to_string()).unwrap();
    };
    let mut twice = entra.clone();
    let first = twice["users"][0].clone();
    twice["users"].as_array_mut().unwrap().push(first);
    let mut bogus = entra.clone();
    bogus["assignment"] = serde_json::json!("bogus");
    let mut sf_twice = salesforce.clone();
    let first = sf_twice["users"][1].clone();
    sf_twice["users"].as_array_mut().unwrap().push(first);
    // A key roster never writes (a hand edit, a typo) is refused, as in a saved plan, not
    // skipped: `isActive` for `is_active` would be read as the default.
    let mut unknown = salesforce.clone();
    unknown["users"][0]["isActive"] = serde_json::json!(false);
    let mut unknown_top = entra.clone();
    unknown_top["userz"] = serde_json::json!([]);
    // A misspelt administrative permission would read System Administrator as a plain profile.
    let mut misspelt = salesforce.clone();
    misspelt["profiles"][0]["administrative"] = serde_json::json!(["ModifyAllDta"]);
    // An assignment of an object whose assignments were not read: a live read refuses one.
    let mut unread = salesforce.clone();
    let object = unread["grants"][0]["object_id"]
        .as_str()
        .unwrap()
        .to_owned();
    unread["access_read"]["assignments_of"]
        .as_array_mut()
        .unwrap()
        .retain(|id| *id != object.as_str());
    // Case sensitivity on a field that is not unique: no org compares such a field with case.
    let mut case_sensitive = salesforce.clone();
    case_sensitive["user_describe"][0]["case_sensitive"] = serde_json::json!(true);
    let case_sensitive_error = format!(
        "user_describe[0] ({}) is case_sensitive but not unique",
        salesforce["user_describe"][0]["name"].as_str().unwrap()
    );
    let unread_error = format!(
        "grants[0].object_id: {object} is not among access_read.assignments_of, the objects \
         whose assignments were read"
    );
    for (name, edited, expected) in [
        ("entra.json", &twice, "users[0] and users["),
        ("entra.json", &bogus, "its assignment is \"bogus\""),
        ("salesforce.json", &sf_twice, "users[1] and users["),
        ("salesforce.json", &unknown, "unknown field `isActive`"),
        ("entra.json", &unknown_top, "unknown field `userz`"),
        (
            "salesforce.json",
            &misspelt,
            "\"ModifyAllDta\" is not an administrative permission roster reads (one of \
             ModifyAllData, ViewAllData, ManageUsers, CustomizeApplication)",
        ),
        ("salesforce.json", &unread, &unread_error),
        ("salesforce.json", &case_sensitive, &case_sensitive_error),
    ] {
        write("entra.json", &entra);
        write("salesforce.json", &salesforce);
        write(name, edited);
        let out = emulator.roster(
            &scratch.dir,
            &["-c", &config, "plan", "--snapshot", "seen"],
            &[],
        );
        assert_eq!(out.code, 1, "{expected}: {}", out.stderr);
        assert!(
            out.stderr.contains(name) && out.stderr.contains(expected),
            "{expected}: {}",
            out.stderr
        );
    }
}

/// A key given twice is named, not taken for a missing format_version; so is an attribute
/// given twice in a user's attributes: which value the user has cannot be told (serde_json
/// would keep the last).
#[test]
fn a_snapshot_giving_a_key_twice_is_refused() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-key-twice");
    let text = std::fs::read_to_string(scratch.dir.join("seen/entra.json")).unwrap();
    let text = serde_json::from_str::<serde_json::Value>(&text)
        .unwrap()
        .to_string();
    let at = text.find("\"attributes\":{").unwrap() + "\"attributes\":{".len();
    for (edited, expected) in [
        (
            format!("{{\"tenant_id\": \"x\", {}", &text[1..]),
            "is not a snapshot this roster reads: the key \"tenant_id\" is given twice".to_owned(),
        ),
        (
            format!(
                "{}\"department\":\"A\",\"department\":\"B\",{}",
                &text[..at],
                &text[at..]
            ),
            // At the key given again (serde_json's column: its closing quote's byte).
            format!(
                "entra.json:1:{} is not a snapshot this roster reads: the key \"department\" is \
                 given twice",
                text[..at].len() + "\"department\":\"A\",\"department\"".len()
            ),
        ),
    ] {
        std::fs::write(scratch.dir.join("seen/entra.json"), edited).unwrap();
        let out = emulator.roster(
            &scratch.dir,
            &["-c", &config, "plan", "--snapshot", "seen"],
            &[],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("entra.json")
                && out.stderr.contains(&expected)
                && !out.stderr.contains("format_version"),
            "{}",
            out.stderr
        );
    }
}

/// A snapshot taken for another config is refused, naming what it lacks (a mapping from an
/// attribute it never read would otherwise plan that field cleared for every user) or how its
/// world differs (tenant, scope), with the command that takes it again for this config. What
/// only the `--baseline-config` reads is a warning: `roster snapshot` reads for one config.
/// A hand-edited snapshot's ids are held to what a live read accepts: an id in its
/// 15-character form (or lower case) plans as the 18-character one it names — a profile id
/// cut short used to name no profile, and now would protect the user — and an id that is not
/// one of its object's is refused, naming where it is.
#[test]
fn a_snapshot_s_ids_plan_in_any_form_and_a_wrong_one_is_refused() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-ids");
    let path = scratch.dir.join("seen").join("salesforce.json");
    let salesforce: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let plan = || {
        emulator.roster(
            &scratch.dir,
            &[
                "-c",
                &config,
                "plan",
                "--snapshot",
                "seen",
                "--format",
                "json",
            ],
            &[],
        )
    };
    let before = plan();
    assert_eq!(before.code, 0, "{}", before.stderr);
    let users = salesforce["users"].as_array().unwrap();
    // Ava, linked and updated by the demo plan.
    let ava = users
        .iter()
        .position(|u| u["username"] == "ava.martinez@contoso.com.dev1")
        .unwrap();
    let mut short = salesforce.clone();
    let profile = short["users"][ava]["profile_id"]
        .as_str()
        .unwrap()
        .to_owned();
    short["users"][ava]["profile_id"] = serde_json::json!(&profile[..15]);
    let id = short["users"][ava]["id"].as_str().unwrap().to_lowercase();
    short["users"][ava]["id"] = serde_json::json!(id);
    let role = short["roles"][0]["id"].as_str().unwrap()[..15].to_owned();
    short["roles"][0]["id"] = serde_json::json!(role);
    // The objects whose assignments the read asked for, too (helper-78).
    for id in short["access_read"]["assignments_of"]
        .as_array_mut()
        .unwrap()
    {
        *id = serde_json::json!(id.as_str().unwrap()[..15].to_owned());
    }
    std::fs::write(&path, short.to_string()).unwrap();
    let after = plan();
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert_eq!(after.stdout, before.stdout);
    // Records listed twice under two forms of one id, and a licence id of another object
    // (helper-78: a role's id given for another's name; a permission set's licence dropped).
    let mut twice = salesforce.clone();
    let first = twice["roles"][0]["id"].as_str().unwrap()[..15].to_owned();
    twice["roles"][1]["id"] = serde_json::json!(first);
    let mut licence = salesforce.clone();
    let linked = licence["access_objects"]
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o.get("license_id").is_some_and(|l| !l.is_null()))
        .unwrap();
    licence["access_objects"][linked]["license_id"] = serde_json::json!(profile);
    for (edited, expected) in [
        (&twice, "roles[1].id ".to_owned()),
        (
            &licence,
            format!("access_objects[{linked}].license_id \"{profile}\" is not the id of"),
        ),
    ] {
        std::fs::write(&path, edited.to_string()).unwrap();
        let out = plan();
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains(&expected), "{expected}: {}", out.stderr);
    }
    for (place, edit, expected) in [
        (
            "users[",
            serde_json::json!(profile.replacen("00e", "005", 1)),
            ".profile_id \"005",
        ),
        (
            "users[",
            serde_json::json!("00e"),
            ".profile_id \"00e\" is not a Salesforce record id",
        ),
    ] {
        let mut wrong = salesforce.clone();
        wrong["users"][ava]["profile_id"] = edit;
        std::fs::write(&path, wrong.to_string()).unwrap();
        let out = plan();
        assert_eq!(out.code, 1, "{}", out.stderr);
        let at = format!("{place}{ava}]{expected}");
        assert!(
            out.stderr.contains("salesforce.json") && out.stderr.contains(&at),
            "{at}: {}",
            out.stderr
        );
    }
}

/// Two profiles sharing the name the config gives: refused at the name's place, and the place
/// is labelled for what it is — a name several records hold, not one the org lacks
/// (helper-77).
#[test]
fn a_name_two_profiles_share_is_labelled_as_shared() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-two-names");
    let path = scratch.dir.join("seen").join("salesforce.json");
    let mut salesforce: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for profile in salesforce["profiles"].as_array_mut().unwrap() {
        if profile["name"] == "Support User" {
            profile["name"] = serde_json::json!("Standard User");
        }
    }
    std::fs::write(&path, salesforce.to_string()).unwrap();
    let out = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--snapshot", "seen"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let shared = out
        .stderr
        .split("error: ")
        .find(|d| d.contains("2 profiles in the org are named \"Standard User\""))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        shared.contains("names several in the org") && !shared.contains("not in the org"),
        "{shared}"
    );
    // A rule's profile the org lacks is no place for the hint about internal users' profiles,
    // which `protect` alone may name (helper-78).
    assert!(
        out.stderr
            .contains("the org has no profile named \"Support User\"")
            && !out.stderr.contains("protects the users on it already"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_snapshot_taken_for_another_config_is_refused_naming_what_it_lacks() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("snapshot-lacks");
    let demo = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    std::fs::write(scratch.dir.join("roster.yaml"), &demo).unwrap();
    let out = emulator.roster(&scratch.dir, &["snapshot", "--out", "seen"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = emulator.roster(&scratch.dir, &["plan", "--snapshot", "seen"], &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // Title from city (an attribute the snapshot never read) and Division (a User field
    // it never read); another tenant; every user of the tenant.
    let edits = [
        (
            "edited.yaml",
            "  - {target: Title, source: jobTitle}",
            "  - {target: Title, source: city}\n  - {target: Division, source: department}",
            "the config reads the Entra attribute(s) city and the Salesforce User field(s) \
             Division, which it does not hold",
        ),
        // A rule on a group the snapshot never looked up, granting a permission set whose
        // holders it never read: the group would read as missing, every holder as an add.
        (
            "grants.yaml",
            "    - when: {group: SF Report Builders}\n",
            "    - when: {group: All Staff}\n      permission_sets: [Legacy_Import]\n    \
             - when: {group: SF Report Builders}\n",
            "the members of the group(s) role rules name: \"All Staff\" and the holders of the \
             permission set \"Legacy_Import\"",
        ),
        (
            "tenant.yaml",
            "tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47",
            "tenant_id: 72f988bf-86f1-41af-91ab-999999999999",
            "the config is of tenant \"72f988bf-86f1-41af-91ab-999999999999\", the snapshot of \
             tenant \"72f988bf-86f1-41af-91ab-2d7cd011db47\"",
        ),
        // Another API version: the org's describe of User, and what the plan may write, are
        // that version's.
        (
            "api.yaml",
            "  api_version: \"62.0\"",
            "  api_version: \"61.0\"",
            "the config reads Salesforce's API version \"61.0\", the snapshot was read with \
             \"62.0\"",
        ),
    ];
    for (file, from, to, expected) in edits {
        assert!(demo.contains(from), "{from}");
        std::fs::write(scratch.dir.join(file), demo.replace(from, to)).unwrap();
        for command in [
            &["plan", "--snapshot", "seen"][..],
            &["explain", "--snapshot", "seen", "ava.martinez@contoso.com"],
        ] {
            let args = [&["-c", file][..], command].concat();
            let out = emulator.roster(&scratch.dir, &args, &[]);
            assert_eq!(out.code, 1, "{args:?}\n{}\n{}", out.stdout, out.stderr);
            assert!(out.stdout.is_empty(), "{}", out.stdout);
            for expected in [
                "was taken for another config",
                expected,
                &format!("roster -c {file} snapshot --out seen"),
            ] {
                assert!(
                    out.stderr.contains(expected),
                    "{args:?}: {expected}\n{}",
                    out.stderr
                );
            }
        }
    }
    let baseline = emulator.roster(
        &scratch.dir,
        &[
            "plan",
            "--snapshot",
            "seen",
            "--baseline-config",
            "edited.yaml",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(baseline.code, 0, "{}", baseline.stderr);
    let plan: serde_json::Value = serde_json::from_str(&baseline.stdout).unwrap();
    assert!(
        plan["warnings"].to_string().contains(
            "was not read for what only the baseline config reads (the Entra attribute(s) city"
        ),
        "{}",
        plan["warnings"]
    );
}

/// What the snapshot holds is found however the config names or the file orders it (a rule's
/// group by object id, the holders' list reordered); what it does not hold is named (no queues
/// listed, no feature licence seats read).
#[test]
fn a_snapshot_is_refused_only_for_what_it_does_not_hold() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-holds");
    let demo = std::fs::read_to_string(&config).unwrap();
    scratch.write("roster.yaml", &demo);
    // What the snapshot holds however it is named or ordered: the rule's group by its object
    // id, the holders' list in another order.
    let by_id = demo.replace(
        "- when: {group: SF Report Builders}",
        "- when: {group: 00000006-0000-0000-0000-000000000003}",
    );
    assert_ne!(by_id, demo);
    std::fs::write(scratch.dir.join("by-id.yaml"), by_id).unwrap();
    let path = scratch.dir.join("seen/salesforce.json");
    let mut org: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    org["access_read"]["assignments_of"]
        .as_array_mut()
        .unwrap()
        .reverse();
    std::fs::write(&path, org.to_string()).unwrap();
    for config in ["roster.yaml", "by-id.yaml"] {
        let out = emulator.roster(
            &scratch.dir,
            &["-c", config, "plan", "--snapshot", "seen"],
            &[],
        );
        assert_eq!(out.code, 0, "{config}: {}", out.stderr);
    }
    // A snapshot that lists no queues and read no feature licence seats (taken for a config
    // that grants neither): every queue would read as missing, every seat as free.
    let kinds = org["access_read"]["kinds"].as_array_mut().unwrap();
    let before = kinds.len();
    kinds.retain(|k| k != "queue");
    assert_eq!(kinds.len(), before - 1);
    org["access_read"]["feature_license_seats"] = false.into();
    std::fs::write(&path, org.to_string()).unwrap();
    let out = emulator.roster(&scratch.dir, &["plan", "--snapshot", "seen"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "the config reads the queue records and the feature licences' seats \
             (ActiveFeatureLicenseMetric), which it does not hold"
        ),
        "{}",
        out.stderr
    );
}

/// A snapshot file cut short (a copy or an upload that stopped) says so, with the place; one
/// that is not JSON, empty, of a version given as text, or the other file of the snapshot says
/// that.
#[test]
fn a_snapshot_cut_short_says_so() {
    let (emulator, scratch, config) = demo_snapshot("snapshot-cut");
    let config = config.as_str();
    let path = scratch.dir.join("seen/salesforce.json");
    let whole = std::fs::read(&path).unwrap();
    let refused = |expected: &str| {
        let out = emulator.roster(
            &scratch.dir,
            &["-c", config, "plan", "--snapshot", "seen"],
            &[],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("salesforce.json") && out.stderr.contains(expected),
            "{}",
            out.stderr
        );
    };
    let entra = std::fs::read(scratch.dir.join("seen/entra.json")).unwrap();
    // Cut inside a character of two bytes: an "ü" (0xC3 0xBC) without its second byte.
    let mid_character = [&whole[..whole.len() / 2], &[0xC3][..]].concat();
    for (bytes, expected) in [
        (
            &whole[..whole.len() / 2],
            "before its JSON does: the file was cut short",
        ),
        (
            &b"format_version: 4"[..],
            "salesforce.json:1:2 is not a snapshot this roster reads: it is not JSON: expected \
             ident\n",
        ),
        (
            &mid_character,
            "it ends in the middle of a character: the file was cut short",
        ),
        (&b""[..], "it is empty"),
        (
            &br#"{"format_version": "4"}"#[..],
            "it has format_version \"4\" (a number is meant), this roster reads 5: take it \
             again with `roster -c CONFIG snapshot --out DIR`",
        ),
        (
            &br#"{"format_version": 6}"#[..],
            "it has format_version 6, this roster reads 5: a newer roster took it",
        ),
        (
            &entra,
            "it is the Entra snapshot, not the Salesforce one: the files were swapped",
        ),
    ] {
        std::fs::write(&path, bytes).unwrap();
        refused(expected);
    }
    // A link to a device would be read without end: refused before it is read.
    #[cfg(unix)]
    {
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        refused("it is not a regular file");
    }
}

#[test]
fn a_failed_read_exits_one_and_writes_nothing() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    // Only the members pages fail (not the group lookups by name): the read fails the same way
    // whatever the demo's groups are.
    emulator.admin(
        "faults",
        &serde_json::json!({"route": "GET /v1.0/groups/{id}/members", "kind": "status",
            "status": 500, "count": 100}),
    );
    let scratch = Scratch::new("snapshot-failed");
    let config = repo().join("examples/demo/roster.yaml");
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config.to_str().unwrap(), "snapshot"],
        &[],
    );
    let transcript = format!("exit {}\n{}\n{}", out.code, out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{transcript}");
    assert_eq!(out.stdout, "", "{transcript}");
    // Retry warnings may come first on a loaded machine: the error is the last line, whole.
    let error = out
        .stderr
        .lines()
        .rfind(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error.starts_with(
            "error: reading Microsoft Entra failed: Microsoft Graph GET /v1.0/groups/"
        ) && error.contains("/members")
            && error
                .contains(": HTTP 500 serviceNotAvailable: Service unavailable (injected fault)"),
        "{transcript}"
    );
    assert!(!scratch.dir.join("snapshot").exists(), "{transcript}");
}

/// `--out` naming a file is said before anything is read: no request is sent.
#[test]
fn an_out_that_is_a_file_is_refused_before_the_read() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("snapshot-out-file");
    scratch.write("taken", "kept\n");
    let config = repo().join("examples/demo/roster.yaml");
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config.to_str().unwrap(), "snapshot", "--out", "taken"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--out taken is a file, not a directory"),
        "{}",
        out.stderr
    );
    let requests = emulator.admin_call(reqwest::Method::GET, "requests", None);
    assert_eq!(requests, serde_json::json!({}), "{requests}");
    assert_eq!(
        std::fs::read_to_string(scratch.dir.join("taken")).unwrap(),
        "kept\n"
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let scratch = Scratch::new("snapshot-http");
    let config = repo().join("examples/demo/roster.yaml");
    let emulator = Emulator::start("examples/demo/world.yaml");
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config.to_str().unwrap(), "snapshot"],
        &[("ROSTER_GRAPH_URL", "http://graph.example.com")],
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: \"http://graph.example.com\" uses plain http to graph.example.com; only https is allowed, except for loopback hosts (127.0.0.0/8, ::1, localhost) (from environment variable ROSTER_GRAPH_URL)\n"
    );
}

#[test]
fn a_missing_secret_names_the_variable() {
    let scratch = Scratch::new("snapshot-secret");
    let config = repo().join("examples/demo/roster.yaml");
    let emulator = Emulator::start("examples/demo/world.yaml");
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config.to_str().unwrap(), "snapshot"],
        &[("AZURE_CLIENT_SECRET", "")],
    );
    assert_eq!(out.code, 1);
    let line = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l.contains("AZURE_CLIENT_SECRET"))
        .unwrap()
        + 1;
    assert!(
        out.stderr.starts_with("error: /source/credential/client_secret: the secret cannot be read: environment variable AZURE_CLIENT_SECRET is empty")
            && out.stderr.contains(&format!("roster.yaml:{line}:")),
        "{}",
        out.stderr
    );
}
