//! `roster import entra` and `roster export entra`: Entra's provisioning job to a config that
//! plans the same, from Graph (the demo world's job) or a downloaded schema; the written YAML
//! for real-shaped schemas; the round trip through `export`; and what careless input gets.

use serde_json::{Value, json};

use crate::support::{Emulator, Output, Scratch, read, repo};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11";
const SF_CLIENT: &str = "3MVG9contoso.roster.dev1";

/// `--tenant-id ... --client-id ... --salesforce-client-id ...`, then `extra`.
fn import_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "import",
        "entra",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--salesforce-client-id",
        SF_CLIENT,
    ];
    args.extend_from_slice(extra);
    args
}

/// `roster import entra` of the documented default Salesforce schema with `secrets` (a job's
/// secrets list) and the app roles, then `extra`, in a scratch directory of its own.
fn import_default_with(name: &str, secrets: &Value, extra: &[&str]) -> (Scratch, Output) {
    let scratch = Scratch::new(name);
    scratch.write(
        "schema.json",
        read("tests/fixtures/entra/salesforce-default-schema.json"),
    );
    scratch.write("secrets.json", secrets.to_string());
    let roles = repo().join("tests/fixtures/entra/salesforce-app-roles.json");
    let mut args = vec![
        "--from",
        "schema.json",
        "--secrets",
        "secrets.json",
        "--app-roles",
        roles.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = scratch.roster(&import_args(&args));
    (scratch, out)
}

/// The JSON plan of `config` against the emulator, without the config's digest.
fn plan(emulator: &Emulator, scratch: &Scratch, config: &str) -> Value {
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config, "plan", "--format", "json"],
        &[],
    );
    assert_eq!(out.code, 0, "{config}: {}", out.stderr);
    let mut plan: Value = serde_json::from_str(&out.stdout).unwrap();
    plan["config_sha256"].take();
    plan
}

/// Asserts two plans are the same, naming the first top-level key that differs.
fn assert_same_plan(a: &Value, b: &Value) {
    for (key, value) in a.as_object().unwrap() {
        assert!(
            *value == b[key],
            "the plans differ in `{key}`:\n{value:#}\n---\n{:#}",
            b[key]
        );
    }
}

#[test]
fn importing_the_demo_job_plans_exactly_what_the_hand_written_config_plans() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("import-demo");
    let out = emulator.roster(
        &scratch.dir,
        &import_args(&[
            "--application",
            "Salesforce Sandbox",
            "--out",
            "roster.yaml",
        ]),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The one thing Entra has and roster cannot say, on stderr and as a comment in place.
    assert!(
        out.stderr.contains("1 thing(s) to review")
            && out
                .stderr
                .contains("EmployeeNumber <- [employeeId] — flow type AttributeAddOnly"),
        "{}",
        out.stderr
    );
    let written = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap();
    assert!(
        written.starts_with("# yaml-language-server: $schema=schemas/roster.schema.json\n"),
        "{written}"
    );
    assert!(
        written.contains("  # not imported: EmployeeNumber <- [employeeId]"),
        "{written}"
    );
    let validated = emulator.roster(&scratch.dir, &["validate"], &[]);
    assert_eq!(validated.code, 0, "{}", validated.stderr);

    let imported = plan(&emulator, &scratch, "roster.yaml");
    let hand_written = repo().join("examples/from-entra/roster.yaml");
    let expected = plan(&emulator, &scratch, hand_written.to_str().unwrap());
    assert_same_plan(&imported, &expected);
    assert_eq!(
        imported["summary"]["create"], 23,
        "{:#}",
        imported["summary"]
    );

    // An existing file is never overwritten.
    let again = emulator.roster(
        &scratch.dir,
        &import_args(&[
            "--application",
            "Salesforce Sandbox",
            "--out",
            "roster.yaml",
        ]),
        &[],
    );
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("roster.yaml exists"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap(),
        written
    );
}

/// An application the tenant lacks is named by the flag that named it, not by a config's
/// setting: import has no config.
#[test]
fn an_unknown_application_is_named_by_its_flag() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("import-unknown-application");
    let out = emulator.roster(
        &scratch.dir,
        &import_args(&["--application", "Nope", "--out", "roster.yaml"]),
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no enterprise application named \"Nope\"; check --application")
            && out.stderr.contains("--service-principal-id")
            && !out.stderr.contains("/source/application"),
        "{}",
        out.stderr
    );
    assert!(!scratch.dir.join("roster.yaml").exists());
}

#[test]
fn export_then_import_plans_the_same_as_the_original() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("export-round-trip");
    let original = repo().join("examples/from-entra/roster.yaml");
    let original = original.to_str().unwrap();
    let out = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            original,
            "export",
            "entra",
            "--out",
            "schema.json",
            "--secrets-out",
            "secrets.json",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Nothing to report: the file says only what Entra can.
    assert!(!out.stderr.contains("cannot express"), "{}", out.stderr);
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.dir.join("schema.json")).unwrap())
            .unwrap();
    assert_graph_shapes(&schema);

    let out = emulator.roster(
        &scratch.dir,
        &import_args(&[
            "--from",
            "schema.json",
            "--secrets",
            "secrets.json",
            "--application",
            "Salesforce Sandbox",
            "--out",
            "again.yaml",
        ]),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_plan(
        &plan(&emulator, &scratch, "again.yaml"),
        &plan(&emulator, &scratch, original),
    );
}

#[test]
fn export_reports_what_entra_cannot_express() {
    let scratch = Scratch::new("export-demo");
    let config = repo().join("examples/demo/roster.yaml");
    let out = scratch.roster(&["-c", config.to_str().unwrap(), "export", "entra"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_graph_shapes(&serde_json::from_str(&out.stdout).unwrap());
    for expected in [
        "roles.rules[0]: permission_sets Sales_Cloud_User, Reports_Export",
        "roles.rules[3]: when group SF Report Builders — Entra chooses the profile by app role only",
        "ownership.username_suffix .dev1",
        "protect — Entra has no protected users",
        "roles.rules[0]: role Western Sales Manager",
    ] {
        assert!(out.stderr.contains(expected), "{expected}:\n{}", out.stderr);
    }
}

/// The shapes of Graph's synchronizationSchema an export must have (entra-sync-schema.md §2):
/// one rule into salesforce.com, a User → User mapping, each attribute mapping with a target
/// named once, a known source type and flow type, and scoping operators Entra names.
fn assert_graph_shapes(schema: &Value) {
    let rules = schema["synchronizationRules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["sourceDirectoryName"], "Azure Active Directory");
    assert_eq!(rules[0]["targetDirectoryName"], "salesforce.com");
    let mapping = &rules[0]["objectMappings"][0];
    assert_eq!(mapping["sourceObjectName"], "User");
    assert_eq!(mapping["targetObjectName"], "User");
    let mut targets = std::collections::BTreeSet::new();
    for m in mapping["attributeMappings"].as_array().unwrap() {
        let target = m["targetAttributeName"].as_str().unwrap();
        assert!(targets.insert(target.to_owned()), "{target} twice");
        assert!(
            ["Always", "ObjectAddOnly"].contains(&m["flowType"].as_str().unwrap()),
            "{m}"
        );
        assert!(
            ["Attribute", "Constant", "Function"].contains(&m["source"]["type"].as_str().unwrap()),
            "{m}"
        );
        assert!(m["source"]["expression"].is_string(), "{m}");
    }
    assert!(targets.contains("IsActive") && targets.contains("ProfileName"));
    let groups = mapping["scope"]["groups"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for clause in groups.iter().flat_map(|g| g["clauses"].as_array().unwrap()) {
        assert!(
            [
                "EQUALS",
                "NOT EQUALS",
                "IS TRUE",
                "IS FALSE",
                "IS NULL",
                "IS NOT NULL",
                "REGEX MATCH",
                "NOT REGEX MATCH",
                "Includes",
                "ENDS_WITH",
                "Greater_Than",
                "Greater_Than_OR_EQUALS",
                "&",
                "!&"
            ]
            .contains(&clause["operatorName"].as_str().unwrap()),
            "{clause}"
        );
        assert!(clause["targetOperand"]["values"].is_array(), "{clause}");
    }
}

/// Imports `schema` (a JSON value) with the app roles fixture; returns the run and the file.
fn import_file(name: &str, schema: &Value, extra: &[&str]) -> (Output, String) {
    let scratch = Scratch::new(name);
    scratch.write("schema.json", serde_json::to_string_pretty(schema).unwrap());
    let roles = repo().join("tests/fixtures/entra/salesforce-app-roles.json");
    let mut args = import_args(&[
        "--from",
        "schema.json",
        "--app-roles",
        roles.to_str().unwrap(),
        "--application",
        "Salesforce Sandbox",
        "--out",
        "roster.yaml",
    ]);
    args.extend_from_slice(extra);
    let out = scratch.roster(&args);
    let written = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap_or_default();
    if out.code == 0 {
        let validated = scratch.roster(&["validate"]);
        assert_eq!(validated.code, 0, "{}\n{written}", validated.stderr);
    }
    (out, written)
}

fn default_schema() -> Value {
    serde_json::from_str(&read("tests/fixtures/entra/salesforce-default-schema.json")).unwrap()
}

/// The User mapping of a schema, to edit.
fn user_mapping(schema: &mut Value) -> &mut Value {
    &mut schema["synchronizationRules"][0]["objectMappings"][0]
}

#[test]
fn the_documented_salesforce_default_schema_imports_to_a_config_that_validates() {
    let (out, written) = import_file("import-default", &default_schema(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A default profile for users without a role has no equivalent: said, in place.
    assert!(
        out.stderr
            .contains("ProfileName's default \"Chatter Free User\""),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(written);
}

#[test]
fn every_scoping_operator_imports_with_its_operand() {
    let mut schema = default_schema();
    let clause = |op: &str, attribute: &str, values: &[&str]| json!({"operatorName": op, "sourceOperandName": attribute, "targetOperand": {"values": values}});
    user_mapping(&mut schema)["scope"] = json!({
        "groups": [
            {"name": "text", "clauses": [
                clause("EQUALS", "department", &["Sales"]),
                clause("NOT EQUALS", "country", &["FR"]),
                clause("Includes", "jobTitle", &["Engineer"]),
                clause("ENDS_WITH", "userPrincipalName", &["@contoso.com"]),
            ]},
            {"name": "flags and nulls", "clauses": [
                clause("IS TRUE", "accountEnabled", &[]),
                clause("IS FALSE", "showInAddressList", &[]),
                clause("IS NULL", "companyName", &[]),
                clause("IS NOT NULL", "employeeId", &[]),
            ]},
            {"name": "patterns", "clauses": [
                clause("REGEX MATCH", "employeeId", &["^E[0-9]{4}$"]),
                clause("NOT REGEX MATCH", "mail", &["(?i)@test\\."]),
            ]},
            // The portal's labels with underscores, and the sync schema's name for officeLocation.
            {"name": "numbers and lists", "clauses": [
                clause("Greater_Than", "extensionAttribute1", &["10"]),
                clause("GREATER_THAN_OR_EQUALS", "extensionAttribute2", &["3"]),
                clause("&", "physicalDeliveryOfficeName", &["Paris", "Oslo"]),
                clause("!&", "usageLocation", &["CN", "RU"]),
            ]},
        ],
        "inputFilterGroups": [{"name": "pre-filter", "clauses": [clause("EQUALS", "userType", &["Member"])]}],
        "categoryFilterGroups": [],
    });
    let (out, written) = import_file("import-operators", &schema, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("inputFilterGroups \"pre-filter\""),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(written);
}

#[test]
fn expressions_of_every_value_kind_import_and_renamed_attributes_are_read_from_graph() {
    let mut schema = default_schema();
    let attribute = |name: &str| json!({"type": "Attribute", "name": name, "parameters": []});
    let constant = |value: &str| json!({"type": "Constant", "name": value, "parameters": []});
    let mappings = user_mapping(&mut schema)["attributeMappings"]
        .as_array_mut()
        .unwrap();
    for (target, source, default, flow) in [
        // A function rebuilt from its structure (no `expression` text), nested, with a number.
        (
            "CommunityNickname",
            json!({"type": "Function", "name": "Left", "parameters": [
                {"key": "source", "value": {"type": "Function", "name": "Join", "parameters": [
                    {"key": "separator", "value": constant(".")},
                    {"key": "source1", "value": attribute("givenName")},
                    {"key": "source2", "value": attribute("surname")}]}},
                {"key": "length", "value": constant("40")}]}),
            None,
            "ObjectAddOnly",
        ),
        // A constant with quotes and a colon.
        (
            "CompanyName",
            constant("Contoso: \"EMEA\" Ltd"),
            None,
            "Always",
        ),
        // Sync-schema names Graph spells otherwise.
        ("Phone", attribute("telephoneNumber"), None, "Always"),
        ("MobilePhone", attribute("mobile"), None, "Always"),
        ("Fax", attribute("facsimileTelephoneNumber"), None, "Always"),
        // A custom field with a default.
        (
            "Cost_Center__c",
            attribute("extensionAttribute3"),
            Some("0000"),
            "Always",
        ),
        // Kept as comments: no roster equivalent.
        ("Division", attribute("department"), None, "ValueAddOnly"),
        (
            "ProfileId",
            attribute("extensionAttribute4"),
            None,
            "Always",
        ),
        ("Nope__x", attribute("department"), None, "Always"),
    ] {
        mappings.push(json!({
            "targetAttributeName": target, "source": source, "defaultValue": default,
            "flowType": flow, "flowBehavior": "FlowWhenChanged", "matchingPriority": 0,
        }));
    }
    let (out, written) = import_file("import-value-kinds", &schema, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for kept in [
        "Division <- [department]",
        "ProfileId <- [extensionAttribute4]",
        "Nope__x",
    ] {
        assert!(out.stderr.contains(kept), "{kept}: {}", out.stderr);
    }
    insta::assert_snapshot!(written);
}

/// What the job says (an expression, a target's name, a filter's value) is quoted in comments:
/// a line break in it (`\n`, a lone `\r`, YAML 1.1's U+0085 and U+2028) would end the comment and
/// make the rest config that validates — an extra mapping, a `protect:` list, a looser
/// `safety` — so each is written as its escape, as are tabs (no trailing white space for
/// yamllint) and an escape sequence, which used to make the whole import fail.
#[test]
fn line_breaks_in_what_the_job_says_stay_inside_the_comment() {
    let mut schema = default_schema();
    let attribute = |name: &str| json!({"type": "Attribute", "name": name, "parameters": []});
    let mapping = user_mapping(&mut schema);
    let mappings = mapping["attributeMappings"].as_array_mut().unwrap();
    for (target, source, flow) in [
        (
            "Division",
            json!({"type": "Function", "name": "Append", "parameters": [],
                "expression": "Append([mail], \"x\")\n  - target: Title\n    constant: pwned1"}),
            "ValueAddOnly",
        ),
        (
            "Nope__x\r  - target: Department\r    constant: pwned2",
            attribute("department"),
            "Always",
        ),
        (
            "Nope__y\u{2028}protect: [pwned3]\u{85}x\u{1b}[2J\t",
            attribute("department"),
            "Always",
        ),
    ] {
        mappings.push(json!({
            "targetAttributeName": target, "source": source, "defaultValue": null,
            "flowType": flow, "flowBehavior": "FlowWhenChanged", "matchingPriority": 0,
        }));
    }
    // A noncharacter YAML does not print, in a value and in a comment; a name of words joined
    // by no-break spaces, which wrapping must not leave at a line's end.
    mappings.push(json!({
        "targetAttributeName": "Cost_Center__c", "source": attribute("department"),
        "defaultValue": "x\u{fffe}y", "flowType": "Always", "flowBehavior": "FlowWhenChanged",
        "matchingPriority": 0,
    }));
    mappings.push(json!({
        "targetAttributeName": format!("Nope__z\u{fffe}{}", "Bogus\u{a0} ".repeat(30)),
        "source": attribute("department"), "defaultValue": null, "flowType": "Always",
        "flowBehavior": "FlowWhenChanged", "matchingPriority": 0,
    }));
    let clause = json!({"operatorName": "EQUALS", "sourceOperandName": "userType",
        "targetOperand": {"values": ["Member\nsafety:\n  max_deactivations: 100000 pwned4\t"]}});
    mapping["scope"]["inputFilterGroups"] = json!([{"name": "pre", "clauses": [clause]}]);
    let (out, written) = import_file("import-line-breaks", &schema, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in written.lines() {
        if line.contains("pwned") {
            assert!(
                line.trim_start().starts_with('#'),
                "config from a comment: {line}"
            );
        }
        assert!(
            !line.ends_with(char::is_whitespace),
            "trailing white space: {line:?}"
        );
        assert!(
            !line.contains(['\r', '\t', '\u{85}', '\u{2028}', '\u{1b}', '\u{fffe}']),
            "{line:?}"
        );
    }
    assert!(written.contains("default: \"x\\uFFFEy\""), "{written}");
    assert!(written.contains("max_deactivations: 10\n"), "{written}");
    for shown in [
        "Append([mail], \"x\")\\n  - target: Title\\n    constant: pwned1",
        "Nope__x\\r  - target: Department\\r    constant: pwned2",
        "Nope__y\\u{2028}protect: [pwned3]\\u{85}x\\u{1b}[2J\\t",
        "Member\\nsafety:\\n  max_deactivations: 100000 pwned4\\t",
    ] {
        // The file wraps long comments; the notes on stderr say each on one line.
        assert!(out.stderr.contains(shown), "{shown}: {}", out.stderr);
    }
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
}

/// An import error quotes the job (an operator, an attribute's name): on one line, a line break
/// in it written as its escape, so the job cannot print a line of its own (`error: ...`).
#[test]
fn an_import_error_quotes_the_job_on_one_line() {
    let mut schema = default_schema();
    user_mapping(&mut schema)["scope"] = json!({"groups": [{"name": "g", "clauses": [
        {"operatorName": "BOGUS", "sourceOperandName": "department\nerror: fake\rX\u{2028}",
         "targetOperand": {"values": ["x"]}}]}]});
    let (out, written) = import_file("import-error-one-line", &schema, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(written.is_empty(), "{written}");
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("department\\nerror: fake\\rX\\u{2028}"),
        "{}",
        out.stderr
    );
}

/// A change to a schema.
type Edit = dyn Fn(&mut Value);

#[test]
fn what_would_change_scope_or_profiles_is_refused_and_nothing_written() {
    let cases: Vec<(&str, Box<Edit>, &str)> = vec![
        (
            "unknown operator",
            Box::new(|s: &mut Value| {
                user_mapping(s)["scope"] = json!({"groups": [{"name": "odd", "clauses": [
                    {"operatorName": "Valid Cert Match", "sourceOperandName": "department", "targetOperand": {"values": ["x"]}}]}]});
            }),
            "scoping filter \"odd\": operator \"Valid Cert Match\" on department has no roster equivalent",
        ),
        (
            "an integer operator on text",
            Box::new(|s: &mut Value| {
                user_mapping(s)["scope"] = json!({"groups": [{"name": "n", "clauses": [
                    {"operatorName": "Greater_Than", "sourceOperandName": "extensionAttribute1", "targetOperand": {"values": ["ten"]}}]}]});
            }),
            "extensionAttribute1 greater_than compares integers, not \"ten\"",
        ),
        (
            "a profile from another expression",
            Box::new(|s: &mut Value| {
                let m = user_mapping(s)["attributeMappings"].as_array_mut().unwrap();
                let profile = m
                    .iter_mut()
                    .find(|m| m["targetAttributeName"] == "ProfileName")
                    .unwrap();
                profile["source"] = json!({"type": "Attribute", "name": "jobTitle", "expression": "[jobTitle]", "parameters": []});
            }),
            "ProfileName <- [jobTitle]: roster chooses profiles with roles.rules",
        ),
        (
            "a disabled mapping",
            Box::new(|s: &mut Value| {
                user_mapping(s)["enabled"] = json!(false);
            }),
            "the User -> User object mapping is disabled",
        ),
        (
            "two matching attributes of one priority",
            Box::new(|s: &mut Value| {
                let m = user_mapping(s)["attributeMappings"].as_array_mut().unwrap();
                let email = m
                    .iter_mut()
                    .find(|m| m["targetAttributeName"] == "Email")
                    .unwrap();
                email["matchingPriority"] = json!(1);
            }),
            "matching attributes Email and Username share matchingPriority 1",
        ),
        (
            "no matching attribute",
            Box::new(|s: &mut Value| {
                for m in user_mapping(s)["attributeMappings"].as_array_mut().unwrap() {
                    m["matchingPriority"] = json!(0);
                }
            }),
            "the User mapping has no matching attribute",
        ),
    ];
    for (name, edit, message) in cases {
        let mut schema = default_schema();
        edit(&mut schema);
        let (out, written) = import_file("import-refused", &schema, &[]);
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert!(
            out.stderr
                .starts_with("error: cannot import the provisioning job: ")
                && out.stderr.contains(message),
            "{name}: {}",
            out.stderr
        );
        assert_eq!(written, "", "{name}: nothing written");
    }
}

/// The largest `safety.max_deactivations` exports as a threshold one above it, which import
/// reads back (helper-57: it was refused as "not a whole number").
#[test]
fn the_largest_deletion_threshold_reads_back() {
    let (scratch, out) = import_default_with(
        "import-largest-threshold",
        &json!({"value": [{"key": "SyncNotificationSettings", "value": "{\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":4294967296}"}]}),
        &[
            "--application",
            "Salesforce Sandbox",
            "--out",
            "roster.yaml",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap();
    assert!(
        written.contains("  max_deactivations: 4294967295\n"),
        "{written}"
    );
    let out = scratch.roster(&[
        "export",
        "entra",
        "--secrets-out",
        "exported-secrets.json",
        "--out",
        "exported.json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let secrets: Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.dir.join("exported-secrets.json")).unwrap(),
    )
    .unwrap();
    let settings = secrets["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "SyncNotificationSettings")
        .unwrap();
    assert!(
        settings["value"]
            .as_str()
            .unwrap()
            .contains("\"DeleteThresholdValue\":4294967296"),
        "{settings}"
    );
}

#[test]
fn secrets_entra_would_not_read_are_refused_not_guessed() {
    for (key, value, message) in [
        (
            "SkipOutOfScopeDeletions",
            "yes",
            "the secret SkipOutOfScopeDeletions is \"yes\"; Entra reads True or False",
        ),
        (
            "SyncAll",
            "1",
            "the secret SyncAll is \"1\"; Entra reads True or False",
        ),
        (
            "SyncNotificationSettings",
            "not json",
            "not a JSON object; roster will not guess",
        ),
        (
            "SyncNotificationSettings",
            "{\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":0}",
            "DeleteThresholdValue is not a whole number from 1 to 4294967296 \
             (safety.max_deactivations 0 to 4294967295)",
        ),
        (
            "SyncNotificationSettings",
            "{\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":4294967297}",
            "DeleteThresholdValue is not a whole number from 1 to 4294967296",
        ),
        // A setting given twice, in one case or two: which one the job holds cannot be told.
        (
            "SyncNotificationSettings",
            "{\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":6,\"DeleteThresholdValue\":7}",
            "the key \"DeleteThresholdValue\" is given twice",
        ),
        (
            "SyncNotificationSettings",
            "{\"DeleteThresholdEnabled\":true,\"deleteThresholdEnabled\":false,\"DeleteThresholdValue\":6}",
            "one setting is given twice, as \"DeleteThresholdEnabled\" and \"deleteThresholdEnabled\"; \
             roster will not guess which one Entra reads",
        ),
        // Any setting, not only the threshold's.
        (
            "SyncNotificationSettings",
            "{\"Enabled\":true,\"enabled\":false}",
            "one setting is given twice, as \"Enabled\" and \"enabled\"; roster will not guess \
             which one Entra reads",
        ),
        (
            "SyncNotificationSettings",
            "{\"Recipients\":\"a@contoso.com\",\"Recipients\":\"b@contoso.com\"}",
            "the key \"Recipients\" is given twice; roster will not guess which one Entra reads",
        ),
        // A long value is cut in the message, not echoed whole.
        ("SyncAll", &"S3cr3t".repeat(100_000), "\"S3cr3tS3cr3t"),
    ] {
        let (scratch, out) = import_default_with(
            "import-secrets",
            &json!({"value": [{"key": key, "value": value}]}),
            &["--out", "roster.yaml"],
        );
        assert_eq!(out.code, 1, "{key}={value}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{key}: {}", out.stderr);
        assert!(
            out.stderr.len() < 2_000,
            "{key}: {} bytes",
            out.stderr.len()
        );
        assert!(!scratch.dir.join("roster.yaml").exists());
    }
}

/// A secret's key in another case is the same setting, never dropped for a default (`SyncAll`
/// "true" is every user; a dropped one, only the assigned); given twice, it is refused.
#[test]
fn secret_keys_compare_without_case() {
    for (secrets, expected) in [
        (
            json!({"value": [{"key": "SYNCALL", "value": "true"}]}),
            "assignment: all",
        ),
        (
            json!({"value": [{"key": "skipoutofscopedeletions", "value": "true"}]}),
            "out_of_scope: ignore",
        ),
        (
            json!({"value": [{"key": "syncnotificationsettings", "value": "{\"deleteThresholdEnabled\":true,\"deleteThresholdValue\":3}"}]}),
            "max_deactivations: 2\n",
        ),
    ] {
        let (_, out) = import_default_with("import-secrets-case", &secrets, &[]);
        assert_eq!(out.code, 0, "{secrets}: {}", out.stderr);
        assert!(out.stdout.contains(expected), "{secrets}: {}", out.stdout);
    }
    // A key given twice: which value the job holds cannot be told (nor are values shown).
    for (key, first, second) in [
        ("SyncAll", "true", "false"),
        ("SkipOutOfScopeDeletions", "False", "True"),
    ] {
        let (scratch, out) = import_default_with(
            "import-secrets-twice",
            &json!({"value": [{"key": key, "value": first}, {"key": key.to_lowercase(), "value": second}]}),
            &["--out", "roster.yaml"],
        );
        assert_eq!(out.code, 1, "{key}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("the key {key:?} is given twice"))
                && !out.stderr.contains(second),
            "{key}: {}",
            out.stderr
        );
        assert!(!scratch.dir.join("roster.yaml").exists());
    }
    // A numeric string is Entra's too.
    let (_, out) = import_default_with(
        "import-secrets-ok",
        &json!({"value": [{"key": "SyncNotificationSettings", "value": "{\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":\"6\"}"}]}),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("  max_deactivations: 5\n"),
        "{}",
        out.stdout
    );
}

/// A file the import reads whose object names a key twice — a secret with two values, a schema
/// with two lists of rules — is refused at the place of the second: serde_json would keep the
/// last, the portal perhaps the first, and which the job holds cannot be told.
#[test]
fn a_key_given_twice_in_an_imported_file_is_refused_at_its_place() {
    let scratch = Scratch::new("import-key-twice");
    scratch.write(
        "schema.json",
        read("tests/fixtures/entra/salesforce-default-schema.json"),
    );
    scratch.write(
        "secrets.json",
        "{\"value\": [\n  {\"key\": \"SyncAll\", \"value\": \"true\", \"value\": \"false\"}\n]}",
    );
    scratch.write(
        "rules.json",
        "{\"synchronizationRules\": [],\n \"synchronizationRules\": []}",
    );
    // Two entries of one key (keys compare without case): the second is placed.
    scratch.write(
        "entries.json",
        "{\"value\": [\n  {\"key\": \"SyncAll\", \"value\": \"true\"},\n  {\"key\": \"BaseAddress\"},\n  \
         {\"key\": \"syncall\", \"value\": \"false\"}\n]}",
    );
    let roles = repo().join("tests/fixtures/entra/salesforce-app-roles.json");
    let roles = roles.to_str().unwrap();
    for (schema, secrets, said) in [
        (
            "schema.json",
            Some("secrets.json"),
            "secrets.json:2:45: not the job's secrets: the key \"value\" is given twice",
        ),
        (
            "rules.json",
            None,
            "rules.json:2:23: not a synchronization schema: the key \"synchronizationRules\" is \
             given twice",
        ),
        (
            "schema.json",
            Some("entries.json"),
            "entries.json:4:3: the key \"SyncAll\" is given twice",
        ),
    ] {
        let mut args = vec![
            "--from",
            schema,
            "--app-roles",
            roles,
            "--out",
            "roster.yaml",
        ];
        args.extend(secrets.iter().flat_map(|s| ["--secrets", *s]));
        let out = scratch.roster(&import_args(&args));
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains(said), "{}", out.stderr);
        // Neither value is shown (a secret may be a credential), and nothing is written.
        assert!(!out.stderr.contains("\"false\""), "{}", out.stderr);
        assert!(!scratch.dir.join("roster.yaml").exists());
    }
}

/// A secret of the wrong type is refused by its place and kind, never with its value: a careless
/// export turns the token into a number or a list, and CI logs are read by many.
#[test]
fn a_secret_of_the_wrong_type_is_refused_without_its_value() {
    let scratch = Scratch::new("import-secret-type");
    scratch.write(
        "schema.json",
        read("tests/fixtures/entra/salesforce-default-schema.json"),
    );
    let roles = repo().join("tests/fixtures/entra/salesforce-app-roles.json");
    let roles = roles.to_str().unwrap();
    for (secrets, said, secret) in [
        (
            r#"{"value": [{"key": "SecretToken", "value": 12345678}]}"#,
            "at [0].value: expected a string, found a number",
            "12345678",
        ),
        (
            r#"{"value": [{"key": "SecretToken", "value": ["Hunter2Secret!"]}]}"#,
            "at [0].value: expected a string, found a list",
            "Hunter2Secret!",
        ),
        (
            r#"{"value": "Hunter2Secret!"}"#,
            "expected a list, found a string",
            "Hunter2Secret!",
        ),
        (
            r#"{"value": [{"key": "SyncAll", "value": true}]}"#,
            "at [0].value: expected a string, found a boolean",
            "true",
        ),
    ] {
        scratch.write("secrets.json", secrets);
        let out = scratch.roster(&import_args(&[
            "--from",
            "schema.json",
            "--secrets",
            "secrets.json",
            "--app-roles",
            roles,
            "--out",
            "roster.yaml",
        ]));
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains(said), "{}", out.stderr);
        assert!(!out.stderr.contains(secret), "{}", out.stderr);
        assert!(!scratch.dir.join("roster.yaml").exists());
    }
}

/// A BaseAddress roster will not send to is said why, as a comment in the file and in the notes,
/// never with a password it carries.
#[test]
fn a_base_address_with_a_password_is_masked_and_commented() {
    for (given, why) in [
        (
            "https://admin:P4ssw0rd@evil.example/",
            "carries user info before its host",
        ),
        (
            "http://admin:P4ssw0rd@test.salesforce.com",
            "is not an https URL",
        ),
        // No scheme: the parser takes `admin` for one.
        ("admin:P4ssw0rd@x.my.salesforce.com", "is not an https URL"),
        // `https:/` with one slash is https all the same.
        (
            "https:/admin:P4ssw0rd@x.com",
            "carries user info before its host",
        ),
        // No scheme, a token in the query or the fragment.
        ("x.my.salesforce.com?P4ssw0rd", "is not an https URL"),
        ("//x.my.salesforce.com/?q=P4ssw0rd", "is not an https URL"),
        ("?P4ssw0rd", "is not an https URL"),
        ("x.my.salesforce.com#P4ssw0rd@y", "is not an https URL"),
        // White space the URL parser would drop: not the URL that would be used.
        (
            "https://contoso.my.salesforce.com\n",
            "a base URL has no white space",
        ),
    ] {
        let (scratch, out) = import_default_with(
            "import-base-address",
            &json!({"value": [{"key": "BaseAddress", "value": given}]}),
            &["--out", "roster.yaml"],
        );
        assert_eq!(out.code, 0, "{given}: {}", out.stderr);
        let written = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap();
        for shown in [&out.stderr, &out.stdout, &written] {
            assert!(!shown.contains("P4ssw0rd"), "{given}: {shown}");
        }
        assert!(out.stderr.contains(why), "{given}: {}", out.stderr);
        assert!(
            written.contains("# not imported: the job's BaseAddress")
                && written.contains("  login_url: https://test.salesforce.com\n"),
            "{written}"
        );
    }
}

/// A BaseAddress with a path (the SOAP endpoint, as some jobs have it) is imported as its
/// host's root, where Salesforce logs in, and the path left out is said (helper-57).
#[test]
fn a_base_address_path_is_left_out_and_said() {
    let (scratch, out) = import_default_with(
        "import-base-address-path",
        &json!({"value": [{"key": "BaseAddress", "value": "https://contoso--dev.sandbox.my.salesforce.com/services/Soap/u/20.0"}]}),
        &["--out", "roster.yaml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap();
    assert!(
        written.contains("  login_url: 'https://contoso--dev.sandbox.my.salesforce.com'\n")
            || written.contains("  login_url: https://contoso--dev.sandbox.my.salesforce.com\n"),
        "{written}"
    );
    assert!(
        written.contains("# not imported: the path /services/Soap/u/20.0 of the job's BaseAddress")
            && out
                .stderr
                .contains("target.login_url: the path /services/Soap/u/20.0"),
        "{written}\n{}",
        out.stderr
    );
}

/// A BaseAddress of megabytes is named, not written out whole, in the notes and the comment.
#[test]
fn a_long_base_address_is_cut() {
    let given = format!("http://{}.example.com/", "a".repeat(100_000));
    let (scratch, out) = import_default_with(
        "import-long-base-address",
        &json!({"value": [{"key": "BaseAddress", "value": given}]}),
        &["--out", "roster.yaml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap();
    assert!(out.stderr.contains("is not an https URL"), "{}", out.stderr);
    assert!(out.stderr.len() < 2_000, "{}", out.stderr.len());
    assert!(written.len() < 10_000, "{}", written.len());
}

/// A scratch directory holding the from-entra example as `roster.yaml`, and a job's schema (the
/// Salesforce template's, with its own rule id and a directory) to export onto.
fn export_base_scratch(name: &str) -> (Scratch, serde_json::Value) {
    let scratch = Scratch::new(name);
    scratch.write("roster.yaml", read("examples/from-entra/roster.yaml"));
    let mut base: serde_json::Value =
        serde_json::from_str(&read("tests/fixtures/entra/salesforce-default-schema.json")).unwrap();
    base["synchronizationRules"][0]["id"] = json!("0f1e2d3c-job-rule");
    base["directories"] = json!([{"name": "salesforce.com", "objects": []}]);
    (scratch, base)
}

/// Another rule of the job, and a non-User object mapping of its Salesforce rule, go back as
/// they were, and are listed: Graph's PUT of the schema would delete what is left out.
#[test]
fn export_keeps_the_bases_other_rules_and_object_mappings() {
    let (scratch, base) = export_base_scratch("export-base-more");
    let mut with_more = base.clone();
    let mut group_rule = base["synchronizationRules"][0].clone();
    group_rule["id"] = json!("group-rule");
    group_rule["name"] = json!("GROUP_OUTBOUND_GROUP");
    group_rule["futureField"] = json!(true);
    with_more["synchronizationRules"]
        .as_array_mut()
        .unwrap()
        .push(group_rule.clone());
    let mut group_mapping = base["synchronizationRules"][0]["objectMappings"][0].clone();
    group_mapping["name"] = json!("Groups");
    group_mapping["sourceObjectName"] = json!("Group");
    group_mapping["targetObjectName"] = json!("Group");
    // Kept as the file holds it: a field roster does not model stays, an absent one is not
    // made up.
    group_mapping["futureField"] = json!({"x": 1});
    group_mapping.as_object_mut().unwrap().remove("enabled");
    with_more["synchronizationRules"][0]["objectMappings"]
        .as_array_mut()
        .unwrap()
        .push(group_mapping.clone());
    scratch.write("base.json", with_more.to_string());
    let out = scratch.roster(&[
        "export",
        "entra",
        "--out",
        "more.json",
        "--base",
        "base.json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.dir.join("more.json")).unwrap())
            .unwrap();
    assert_eq!(written["synchronizationRules"][1], group_rule);
    assert_eq!(
        written["synchronizationRules"][0]["objectMappings"][1],
        group_mapping
    );
    assert!(
        out.stderr
            .matches("2 thing(s) of --base kept as they are")
            .count()
            == 1
            && out.stderr.contains("the rule \"GROUP_OUTBOUND_GROUP\"")
            && out.stderr.contains("the object mapping \"Groups\""),
        "{}",
        out.stderr
    );
}

/// `export entra --base` keeps the job's schema id, rule id and directories; a file that is not
/// a Salesforce job's schema — no rule, another application's, not an object — is refused as
/// `--base`, and nothing is written.
#[test]
fn export_keeps_a_base_schema_and_refuses_one_of_another_job() {
    let (scratch, base) = export_base_scratch("export-base");
    scratch.write("base.json", base.to_string());
    let out = scratch.roster(&[
        "export",
        "entra",
        "--out",
        "schema.json",
        "--base",
        "base.json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.dir.join("schema.json")).unwrap())
            .unwrap();
    assert_eq!(written["id"], base["id"]);
    assert_eq!(
        written["synchronizationRules"][0]["id"],
        json!("0f1e2d3c-job-rule")
    );
    assert_eq!(written["directories"], base["directories"]);
    let mut other = base.clone();
    other["synchronizationRules"][0]["targetDirectoryName"] = json!("ServiceNow");
    let mut workday = base.clone();
    workday["synchronizationRules"][0]["sourceDirectoryName"] = json!("Workday");
    for (contents, expected) in [
        ("{}".to_owned(), "it has no synchronization rule"),
        (
            other.to_string(),
            "no rule goes from \"Azure Active Directory\" to \"salesforce.com\" (its rules go \
             from \"Azure Active Directory\" to \"ServiceNow\")",
        ),
        (
            "[]".to_owned(),
            "the file holds a JSON array, not an object",
        ),
        ("{\"id\": 1,".to_owned(), "base.json:1:"),
        ("\n".to_owned(), "the file is empty"),
        (
            workday.to_string(),
            "(its rules go from \"Workday\" to \"salesforce.com\")",
        ),
    ] {
        scratch.write("base.json", &contents);
        let out = scratch.roster(&[
            "export",
            "entra",
            "--out",
            "other.json",
            "--base",
            "base.json",
        ]);
        assert_eq!(out.code, 1, "{contents}: {}", out.stderr);
        assert!(
            out.stderr.contains("--base ")
                && out.stderr.contains(expected)
                && !out.stderr.contains("cannot import"),
            "{contents}: {}",
            out.stderr
        );
        assert!(!scratch.dir.join("other.json").exists());
    }
    // A file that is not there, or a directory: named as `--base` too, with the system's
    // reason, as every other file roster cannot read is.
    for (missing, why) in [("nope.json", "No such file"), (".", "directory")] {
        let out = scratch.roster(&["export", "entra", "--out", "other.json", "--base", missing]);
        assert_eq!(out.code, 1, "{missing}: {}", out.stderr);
        assert!(
            out.stderr.contains("--base: cannot read") && out.stderr.contains(why),
            "{}",
            out.stderr
        );
        assert!(!scratch.dir.join("other.json").exists());
    }
}

#[test]
fn export_never_overwrites_a_file() {
    let scratch = Scratch::new("export-overwrite");
    let config = scratch.write("roster.yaml", read("examples/from-entra/roster.yaml"));
    let original = std::fs::read_to_string(&config).unwrap();
    // Onto the config it reads.
    let out = scratch.roster(&["export", "entra", "--out", "roster.yaml"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("roster.yaml exists"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    // The schema and the secrets into one file.
    let out = scratch.roster(&[
        "export",
        "entra",
        "--out",
        "x.json",
        "--secrets-out",
        "x.json",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("name the same file"), "{}", out.stderr);
    assert!(!scratch.dir.join("x.json").exists());
    // The secrets file exists: nothing is written, not even the schema.
    scratch.write("secrets.json", "{}");
    let out = scratch.roster(&[
        "export",
        "entra",
        "--out",
        "schema.json",
        "--secrets-out",
        "secrets.json",
    ]);
    assert_eq!(out.code, 1);
    assert!(!scratch.dir.join("schema.json").exists());
    // Through a symlink to somewhere else.
    #[cfg(unix)]
    {
        let elsewhere = scratch.dir.join("elsewhere.json");
        std::os::unix::fs::symlink(&elsewhere, scratch.dir.join("link.json")).unwrap();
        let out = scratch.roster(&["export", "entra", "--out", "link.json"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(!elsewhere.exists());
    }
}

/// The schema and its secrets are written both or neither; an import whose file exists says so
/// before anything else.
#[test]
fn export_writes_both_files_or_neither_and_import_refuses_first() {
    let scratch = Scratch::new("export-both-or-neither");
    scratch.write("roster.yaml", read("examples/from-entra/roster.yaml"));
    let export = |out: &str, secrets: &str| {
        scratch.roster(&["export", "entra", "--out", out, "--secrets-out", secrets])
    };
    let out = export("schema.json", "missing-dir/secrets.json");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("missing-dir/secrets.json"),
        "{}",
        out.stderr
    );
    assert!(!scratch.dir.join("schema.json").exists());
    // So the same run, given a place for the secrets, is not refused over a half-written pair.
    let out = export("schema.json", "secrets.json");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(scratch.dir.join("schema.json").exists() && scratch.dir.join("secrets.json").exists());
    // One file, however written, is named as one.
    let out = export("a.json", "./a.json");
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("name the same file"), "{}", out.stderr);
    let (_, out) = import_default_with(
        "import-exists",
        &json!({"value": []}),
        &["--out", "schema.json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("schema.json exists") && !out.stderr.contains("to review"),
        "{}",
        out.stderr
    );
}

#[test]
fn what_import_cannot_know_is_a_placeholder_validate_refuses() {
    let scratch = Scratch::new("import-placeholders");
    scratch.write(
        "schema.json",
        read("tests/fixtures/entra/salesforce-default-schema.json"),
    );
    let roles = repo().join("tests/fixtures/entra/salesforce-app-roles.json");
    let out = scratch.roster(&[
        "import",
        "entra",
        "--from",
        "schema.json",
        "--app-roles",
        roles.to_str().unwrap(),
        "--out",
        "roster.yaml",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("source.tenant_id: written as REPLACE-ME"),
        "{}",
        out.stderr
    );
    let validated = scratch.roster(&["validate"]);
    assert_eq!(validated.code, 1);
    for pointer in [
        "/source/tenant_id",
        "/source/client_id",
        "/source/application/display_name",
        "/target/auth/client_credentials/client_id",
    ] {
        assert!(
            validated.stderr.contains(&format!(
                "{pointer}: REPLACE-ME is a placeholder `roster import entra` wrote"
            )),
            "{pointer}: {}",
            validated.stderr
        );
    }
}

#[test]
fn careless_input_gets_a_clear_error() {
    let scratch = Scratch::new("import-careless");
    // A truncated download: the place of the error.
    scratch.write("schema.json", "{\"synchronizationRules\": [\n  {\"id\": ");
    let out = scratch.roster(&import_args(&["--from", "schema.json"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("schema.json:2:")
            && out.stderr.contains("not a synchronization schema"),
        "{}",
        out.stderr
    );
    // A JSON array, not a schema.
    scratch.write("array.json", "[]");
    let out = scratch.roster(&import_args(&["--from", "array.json"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("array.json: not a synchronization schema: the file holds a JSON array"),
        "{}",
        out.stderr
    );
    // A wrong type is named where it is, in plain words; a file that ends early at its column.
    for (name, text, said) in [
        (
            "rules.json",
            "{\"synchronizationRules\": 5}",
            "rules.json: not a synchronization schema: at synchronizationRules: expected a list, found the number 5",
        ),
        (
            "open.json",
            "{",
            "open.json:1:1: not a synchronization schema: EOF while parsing an object",
        ),
    ] {
        scratch.write(name, text);
        let out = scratch.roster(&import_args(&["--from", name]));
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains(said), "{}", out.stderr);
        assert!(!out.stderr.contains("invalid type"), "{}", out.stderr);
    }
    // A tenant that is neither a GUID nor a domain never reaches a URL.
    let out = scratch.roster(&[
        "import",
        "entra",
        "--tenant-id",
        "x/../../evil?a=1",
        "--client-id",
        CLIENT,
        "--application",
        "Salesforce Sandbox",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("is neither a directory id"),
        "{}",
        out.stderr
    );
    // ProfileName from app roles, without the roles.
    scratch.write(
        "default.json",
        read("tests/fixtures/entra/salesforce-default-schema.json"),
    );
    let out = scratch.roster(&import_args(&["--from", "default.json"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("pass --app-roles"), "{}", out.stderr);
    // Reading Graph needs the tenant, the client and the application.
    let out = scratch.roster(&["import", "entra", "--application", "Salesforce Sandbox"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("needs --tenant-id"), "{}", out.stderr);
    // Without the client secret: named, and nothing sent.
    let emulator = Emulator::start("examples/demo/world.yaml");
    let out = emulator.roster(
        &scratch.dir,
        &import_args(&["--application", "Salesforce Sandbox"]),
        &[("AZURE_CLIENT_SECRET", "")],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("set AZURE_CLIENT_SECRET"),
        "{}",
        out.stderr
    );
    assert_eq!(
        emulator.admin_call(reqwest::Method::GET, "requests", None),
        json!({})
    );
    for (application, message) in [
        // A wrong application name.
        (
            "Salesforce",
            "no enterprise application named \"Salesforce\"",
        ),
        // An application with no provisioning job.
        ("Contoso Wiki", "\"Contoso Wiki\" has no provisioning job"),
    ] {
        let out = emulator.roster(
            &scratch.dir,
            &import_args(&["--application", application]),
            &[],
        );
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains(message), "{}", out.stderr);
    }
}

#[test]
fn the_emulator_serves_the_job_its_schema_and_masked_secrets() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let get = |path: &str| emulator.graph_get(path);
    let sp = "servicePrincipals/9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d/synchronization";
    let jobs = get(&format!("{sp}/jobs"));
    let job = &jobs["value"][0];
    assert_eq!(job["templateId"], "SfSandboxOutDelta");
    assert_eq!(job["schedule"]["state"], "Active");
    let id = job["id"].as_str().unwrap();
    let schema = get(&format!("{sp}/jobs/{id}/schema"));
    assert_eq!(
        schema["synchronizationRules"][0]["targetDirectoryName"],
        "salesforce.com"
    );
    let secrets = get(&format!("{sp}/secrets"));
    let value = |key: &str| {
        secrets["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .map(|s| s["value"].clone())
    };
    assert_eq!(value("Password"), Some(json!("*")));
    assert_eq!(value("SecretToken"), Some(json!("*")));
    assert_eq!(value("SkipOutOfScopeDeletions"), Some(json!("False")));
    let missing = get(&format!("{sp}/jobs/NoSuchJob.0/schema"));
    assert_eq!(missing["error"]["code"], "Request_ResourceNotFound");
}

/// `-` for a file to write is stdout, as most tools read it, where the output can go there:
/// `import entra --out -` and `export entra --out -` print what they would write, and
/// `--secrets-out -` prints the secrets when the schema goes to a file. Where it cannot — both
/// to stdout — it is refused, and no file named `-` is ever written.
#[test]
fn a_dash_for_a_file_to_write_is_stdout() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("dash-is-stdout");
    let config = repo().join("examples/from-entra/roster.yaml");
    let config = config.to_str().unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec!["-c", config, "export", "entra"];
        args.extend_from_slice(extra);
        emulator.roster(&scratch.dir, &args, &[])
    };
    let to_stdout = export(&["--out", "-"]);
    assert_eq!(to_stdout.code, 0, "{}", to_stdout.stderr);
    assert_eq!(to_stdout.stdout, export(&[]).stdout);
    assert_graph_shapes(&serde_json::from_str(&to_stdout.stdout).unwrap());

    let secrets = export(&["--out", "schema.json", "--secrets-out", "-"]);
    assert_eq!(secrets.code, 0, "{}", secrets.stderr);
    let printed: Value = serde_json::from_str(&secrets.stdout).unwrap();
    assert!(printed["value"].is_array(), "{printed}");
    assert!(scratch.dir.join("schema.json").is_file());

    let both = export(&["--secrets-out", "-"]);
    assert_eq!(both.code, 1, "{}", both.stderr);
    assert!(both.stderr.contains("--secrets-out -"), "{}", both.stderr);
    assert!(both.stdout.is_empty(), "{}", both.stdout);

    let import = emulator.roster(
        &scratch.dir,
        &import_args(&[
            "--from",
            "schema.json",
            "--application",
            "Salesforce Sandbox",
            "--out",
            "-",
        ]),
        &[],
    );
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert!(import.stdout.contains("mappings:"), "{}", import.stdout);
    assert!(!scratch.dir.join("-").exists());
}

/// `export entra` writes the schema and its secrets both or neither, when one of them goes to
/// stdout too: stdout that cannot be written (a full disk, a reader gone before it read) is an
/// error, and the file written beside it is removed, so the next run is not refused for a
/// half of a pair left behind.
#[cfg(unix)]
#[test]
fn a_pair_half_on_stdout_is_written_both_or_neither() {
    type Opened = fn() -> std::process::Stdio;
    let scratch = Scratch::new("export-pair-stdout");
    let config = repo().join("examples/from-entra/roster.yaml");
    let config = config.to_str().unwrap();
    let stdouts: [(&str, Opened); 2] = [
        ("a full disk", || {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap()
                .into()
        }),
        ("a reader gone", || {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            writer.into()
        }),
    ];
    for (what, stdout) in stdouts {
        for (args, file) in [
            (
                ["--out", "schema.json", "--secrets-out", "-"],
                "schema.json",
            ),
            (
                ["--out", "-", "--secrets-out", "secrets.json"],
                "secrets.json",
            ),
        ] {
            let out = crate::support::roster_command()
                .args(["-c", config, "export", "entra"])
                .args(args)
                .current_dir(&scratch.dir)
                .stdout(stdout())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{what} {args:?}: {stderr}");
            assert!(
                !scratch.dir.join(file).exists(),
                "{what} {args:?}: {stderr}"
            );
        }
    }
}
