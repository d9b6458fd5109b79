//! `roster validate`: the examples pass; each class of bad input fails with exit 1 and an exact
//! message at `file:line:column` (snapshotted).

use crate::support::{Scratch, read, repo, run_in, run_with};

fn minimal() -> String {
    read("examples/minimal/roster.yaml")
}

/// `minimal` with `from` replaced by `to`, which must occur.
fn minimal_with(from: &str, to: &str) -> String {
    let text = minimal();
    assert!(
        text.contains(from),
        "examples/minimal/roster.yaml lacks {from:?}"
    );
    text.replacen(from, to, 1)
}

/// Validates `contents` as `roster.yaml` and returns the transcript; the exit code must be 1
/// and every error must name `roster.yaml:line:col`.
fn rejected(name: &str, contents: impl AsRef<[u8]>) -> String {
    let scratch = Scratch::new(name);
    scratch.write("roster.yaml", contents);
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 1, "{name}: expected exit 1\n{}", out.transcript());
    assert!(
        out.stderr.contains("--> roster.yaml:"),
        "{name}: no file:line:col\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.transcript()
}

#[test]
fn demo_example_is_valid() {
    let out = run_in(&repo(), &["validate", "-c", "examples/demo/roster.yaml"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn every_example_is_valid_and_has_the_schema_modeline() {
    let mut seen = 0;
    for entry in walk(&repo().join("examples")) {
        if entry.file_name().and_then(|n| n.to_str()) != Some("roster.yaml") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema="),
            "{} lacks the schema modeline",
            entry.display()
        );
        let out = run_in(&repo(), &["validate", "-c", entry.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{}: {}", entry.display(), out.transcript());
        // The committed schema accepts it too, as an editor would check it.
        let schema: serde_json::Value =
            serde_json::from_str(&read("schemas/roster.schema.json")).unwrap();
        let instance: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", entry.display());
    }
    assert!(seen >= 2, "expected examples/minimal and examples/demo");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn warnings_do_not_fail_validation() {
    let scratch = Scratch::new("warning");
    scratch.write(
        "roster.yaml",
        minimal_with(
            "profile: Standard User",
            "profile: Standard User\n      permission_sets: [Unmanaged_Set]",
        ),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn unknown_key_suggests_the_right_one() {
    insta::assert_snapshot!(rejected(
        "unknown-key",
        minimal_with(
            "{target: Email, source: mail}",
            "{target: Email, sorce: mail}"
        )
    ));
}

#[test]
fn unknown_top_level_key() {
    insta::assert_snapshot!(rejected(
        "unknown-top",
        minimal_with("version: 1", "version: 1\nmapings: []")
    ));
}

#[test]
fn wrong_type_explains_yaml_number() {
    insta::assert_snapshot!(rejected(
        "wrong-type",
        minimal_with("target:\n  auth:", "target:\n  api_version: 62.0\n  auth:")
    ));
}

#[test]
fn mapping_with_two_value_kinds() {
    insta::assert_snapshot!(rejected(
        "two-kinds",
        minimal_with(
            "{target: Email, source: mail}",
            "{target: Email, source: mail, constant: x@y.z}"
        )
    ));
}

#[test]
fn mapping_with_no_value_kind() {
    insta::assert_snapshot!(rejected(
        "no-kind",
        minimal_with(
            "{target: Email, source: mail}",
            "{target: Email, default: x@y.z}"
        )
    ));
}

#[test]
fn duplicate_target_fields() {
    insta::assert_snapshot!(rejected(
        "dup-target",
        minimal_with(
            "  - {target: Email, source: mail}",
            "  - {target: Email, source: mail}\n  - {target: email, source: userPrincipalName}"
        )
    ));
}

#[test]
fn duplicate_yaml_keys() {
    insta::assert_snapshot!(rejected(
        "dup-key",
        minimal_with("version: 1", "version: 1\nversion: 1")
    ));
}

#[test]
fn a_second_yaml_document_is_named_where_it_starts() {
    let out = rejected("two-documents", format!("{}---\nversion: 1\n", minimal()));
    assert!(
        out.contains(
            "a second YAML document starts here (after a `---` line); a roster config is one \
             document"
        ) && !out.contains("from_str_multiple"),
        "{out}"
    );
}

/// A `---` that ends the file (left by a generator or a concatenation), with only comments,
/// blank lines or `...` after it, opens no second document: the config is read, and a problem
/// in it keeps its place. A `---` that starts content is still a second document.
#[test]
fn a_trailing_empty_document_is_no_second_document() {
    for tail in ["---\n", "---", "--- # end\n\n# done\n...\n", "---\n---\n"] {
        let scratch = Scratch::new("trailing-document");
        scratch.write("roster.yaml", format!("{}{tail}", minimal()));
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 0, "{tail:?}\n{}", out.transcript());
    }
    let broken = minimal_with("version: 1", "version: 1\nverson: 1");
    let out = rejected("trailing-document-broken", format!("{broken}---\n"));
    assert!(
        out.contains("roster.yaml:5:1") && !out.contains("second YAML document"),
        "{out}"
    );
    for tail in ["--- {version: 1}\n", "---\n# c\nversion: 1\n---\n"] {
        let out = rejected("trailing-content", format!("{}{tail}", minimal()));
        assert!(out.contains("a second YAML document starts here"), "{out}");
    }
}

/// What the schema lets through and serde refuses is said in the config's words, not Rust's
/// (`expected u32`, `use Option<String>`), and the schema's patterns in words, not regexes.
#[test]
fn a_float_version_and_a_null_key_are_said_in_the_configs_words() {
    for (name, config, expected) in [
        (
            "float-version",
            minimal_with("version: 1", "version: 1.0"),
            "/version: expected a whole number, found the number 1.0",
        ),
        (
            "null-key",
            format!("{}~: 1\n", minimal()),
            "a key is null (`~`, `null` or nothing before the colon); keys are names",
        ),
        // The schema's patterns are said in words, not as the regular expression.
        (
            "percent-text",
            format!("{}safety:\n  max_deactivations: \"10\"\n", minimal()),
            "the string \"10\" is not a percentage such as \"10%\"",
        ),
        (
            "percent-fraction",
            format!("{}safety:\n  max_deactivations: 1.5\n", minimal()),
            "expected an integer or a percentage such as \"10%\", found the number 1.5",
        ),
    ] {
        let out = rejected(name, config);
        assert!(
            out.contains(expected)
                && !out.contains("u32")
                && !out.contains("Option<")
                && !out.contains("^["),
            "{out}"
        );
    }
}

#[test]
fn yaml_syntax_error() {
    insta::assert_snapshot!(rejected(
        "syntax",
        minimal_with(
            "{target: Email, source: mail}",
            "{target: Email, source: mail"
        )
    ));
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(rejected("empty", ""));
}

#[test]
fn comments_only_file_counts_as_empty() {
    insta::assert_snapshot!(rejected("comments", "# nothing here yet\n"));
}

#[test]
fn non_utf8_file() {
    let mut bytes = minimal().into_bytes();
    let at = String::from_utf8(bytes.clone())
        .unwrap()
        .find("Standard User")
        .unwrap();
    bytes[at + 2] = 0xE9;
    insta::assert_snapshot!(rejected("latin1", bytes));
}

/// Windows PowerShell 5 writes UTF-16 (`>`, `Out-File`): the file is said to be that, with the
/// way to save it as UTF-8 — for the config, an `--input` and the import's secrets alike.
#[test]
fn a_utf16_file_is_named_as_one() {
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(minimal().encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let out = rejected("utf16", &utf16);
    assert!(
        out.contains("the file is not UTF-8: it is UTF-16 text (Windows PowerShell's `Out-File`")
            && out.contains("`Out-File -Encoding utf8`"),
        "{out}"
    );
    let scratch = Scratch::new("utf16-input");
    scratch.write("input.json", &utf16);
    let out = scratch.roster(&["expr", "[a]", "--input", "input.json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("cannot read --input input.json: it is UTF-16 text"),
        "{}",
        out.stderr
    );
}

#[test]
fn fifty_megabyte_file() {
    let mut text = minimal();
    while text.len() < 50 * 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    insta::assert_snapshot!(rejected("huge", text));
}

#[test]
fn document_that_is_not_a_mapping() {
    insta::assert_snapshot!(rejected("list", "- version: 1\n"));
}

#[test]
fn missing_required_sections() {
    insta::assert_snapshot!(rejected(
        "missing",
        "version: 1\nscope: {assignment: all}\n"
    ));
}

/// Inside a choice of kinds (`target.auth`), every key the chosen kind lacks is named at once,
/// as for a section: not one per run of `validate`.
#[test]
fn every_key_an_auth_kind_lacks_is_named_at_once() {
    let text = rejected(
        "auth-keys",
        minimal_with(
            "    client_credentials:\n      client_id: 3MVG9roster.minimal\n      client_secret: {env: SF_CLIENT_SECRET}\n",
            "    jwt_bearer:\n      client_id: 3MVG9roster.minimal\n",
        ),
    );
    assert!(
        text.contains("/target/auth/jwt_bearer: missing required keys `username`, `private_key`"),
        "{text}"
    );
    assert_eq!(text.matches("error: /").count(), 1, "{text}");
}

/// A limit beyond what roster counts is said in the config's words, not serde's ("expected
/// u32").
#[test]
fn a_policy_limit_too_large_is_named_with_the_largest() {
    let text = rejected(
        "policy-limit",
        format!(
            "{}reconcile:\n  auto_apply:\n    allow: [create]\n    max_creates: 18446744073709551615\n",
            minimal()
        ),
    );
    assert!(
        text.contains(
            "/reconcile/auto_apply/max_creates: 18446744073709551615 is greater than the maximum of 4294967295"
        ) && !text.contains("u32"),
        "{text}"
    );
}

#[test]
fn unsupported_version() {
    insta::assert_snapshot!(rejected(
        "version",
        minimal_with("version: 1", "version: 2")
    ));
}

#[test]
fn credential_with_two_kinds() {
    insta::assert_snapshot!(rejected(
        "two-credentials",
        minimal_with(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: {env: AZURE_CLIENT_SECRET}\n    federated: github_actions"
        )
    ));
}

#[test]
fn credential_kind_misspelt() {
    insta::assert_snapshot!(rejected(
        "credential-typo",
        minimal_with(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secrt: {env: AZURE_CLIENT_SECRET}"
        )
    ));
}

#[test]
fn secret_written_inline_is_refused() {
    insta::assert_snapshot!(rejected(
        "inline-secret",
        minimal_with(
            "client_secret: {env: SF_CLIENT_SECRET}",
            "client_secret: hunter2"
        )
    ));
}

#[test]
fn unknown_operator() {
    insta::assert_snapshot!(rejected(
        "operator",
        minimal_with(
            "matching:",
            "scope:\n  filters:\n    - all: [{attribute: department, operator: equal, value: Sales}]\n\nmatching:"
        )
    ));
}

#[test]
fn operands_that_do_not_fit_their_operator() {
    insta::assert_snapshot!(rejected(
        "operands",
        minimal_with(
            "matching:",
            "scope:\n  filters:\n    - all:\n        - {attribute: accountEnabled, operator: is_true, value: yes}\n        - {attribute: country, operator: equals, value: [NO]}\n        - {attribute: department, operator: in, value: Sales}\n        - {attribute: employeeId, operator: greater_than, value: ten}\n        - {attribute: city, operator: equals}\n\nmatching:"
        )
    ));
}

#[test]
fn scoping_regex_that_does_not_compile() {
    insta::assert_snapshot!(rejected(
        "regex",
        minimal_with(
            "matching:",
            "scope:\n  filters:\n    - all: [{attribute: employeeId, operator: regex_match, value: '([0-9]+'}]\n\nmatching:"
        )
    ));
}

#[test]
fn reserved_fields_cannot_be_mapped() {
    insta::assert_snapshot!(rejected(
        "reserved",
        minimal_with(
            "  - {target: Email, source: mail}",
            "  - {target: Email, source: mail}\n  - {target: ProfileId, constant: 00e000000000001AAA}"
        )
    ));
}

#[test]
fn unknown_user_field_suggests_the_real_one() {
    insta::assert_snapshot!(rejected(
        "field-typo",
        minimal_with("target: Username}", "target: UserName_}")
    ));
}

#[test]
fn missing_required_salesforce_fields() {
    let text = minimal_with(
        "  - {target: Alias, expression: 'Left([mailNickname], 8)'}\n",
        "",
    );
    insta::assert_snapshot!(rejected(
        "required",
        text.replacen("  - {target: EmailEncodingKey, constant: UTF-8}\n", "", 1)
    ));
}

#[test]
fn constant_longer_than_the_field() {
    insta::assert_snapshot!(rejected(
        "too-long",
        minimal_with(
            "{target: Alias, expression: 'Left([mailNickname], 8)'}",
            "{target: Alias, constant: integration}"
        )
    ));
}

#[test]
fn plain_http_to_a_public_host() {
    insta::assert_snapshot!(rejected(
        "http",
        minimal_with(
            "target:\n",
            "target:\n  login_url: http://test.salesforce.com\n"
        )
    ));
}

#[test]
fn role_rules_without_a_profile() {
    insta::assert_snapshot!(rejected(
        "no-profile",
        minimal_with("      profile: Standard User", "      role: Sales")
    ));
}

#[test]
fn percentage_threshold_out_of_range() {
    insta::assert_snapshot!(rejected(
        "percent",
        format!("{}\nsafety:\n  max_deactivations: 120%\n", minimal())
    ));
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = minimal_with("version: 1", "version: 1\nextra: true")
        .replacen(
            "{target: Email, source: mail}",
            "{target: Email, source: 7}",
            1,
        )
        .replacen(
            "display_name: Salesforce Sandbox",
            "display_nam: Salesforce Sandbox",
            1,
        );
    let transcript = rejected("many", text);
    assert!(transcript.contains("found 3 errors"), "{transcript}");
    insta::assert_snapshot!(transcript);
}

#[test]
fn expression_syntax_error_at_its_line_and_column() {
    insta::assert_snapshot!(rejected(
        "expr-syntax",
        minimal_with("'Left([mailNickname], 8)'", "'Left([mailNickname] 8)'").replacen(
            "target: Username}",
            "target: Username}\n  - {source: 'join(\"\", [a])', target: Email}",
            1
        )
    ));
}

#[test]
fn select_unique_value_only_on_create() {
    insta::assert_snapshot!(rejected(
        "suv",
        minimal_with(
            "{target: Alias, expression: 'Left([mailNickname], 8)'}",
            "{target: Alias, expression: 'SelectUniqueValue(Left([mailNickname], 8), Left([surname], 8))'}"
        )
    ));
}

/// Entra does not allow SelectUniqueValue on a field a matching rule matches on: a user
/// created with the second alternative would not be found by the rule next run. Refused at
/// the mapping, naming the rule; on a field no rule matches on it stays allowed.
#[test]
fn select_unique_value_on_a_matched_field_is_refused() {
    let username = "{target: Username, expression: 'SelectUniqueValue(Append([userPrincipalName], \".a\"), Append([userPrincipalName], \".b\"))', apply: on_create}";
    let out = rejected(
        "suv-matched",
        minimal_with("{target: Username, source: userPrincipalName}", username),
    );
    assert!(
        out.contains("SelectUniqueValue cannot give Username, which matching rule 2 matches on")
            && out.contains("help: Entra does not allow SelectUniqueValue on an attribute with a matching precedence"),
        "{out}"
    );
}

/// `expression: '[otherMails]'` writes a multi-valued attribute to one field, as
/// `source: otherMails` does: warned alike (the config stays valid); one value of it is not.
#[test]
fn a_multi_valued_attribute_as_a_whole_expression_is_warned_as_a_source_is() {
    let scratch = Scratch::new("multi-valued-expression");
    scratch.write(
        "roster.yaml",
        minimal_with(
            "{target: Email, source: mail}",
            "{target: Email, source: mail}\n  - {target: Title, expression: '[otherMails]'}\n  - {target: Department, expression: 'Item([otherMails], 1)'}",
        ),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        out.stderr
            .matches("is multi-valued; a User field holds one value")
            .count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("warning: /mappings/"), "{}", out.stderr);
}

#[test]
fn github_annotations_point_at_file_line_and_column() {
    let scratch = Scratch::new("annotations");
    scratch.write(
        "roster.yaml",
        minimal_with(
            "{target: Email, source: mail}",
            "{target: Email, sorce: mail}",
        ),
    );
    let explicit = scratch.roster(&["validate", "--format", "github"]);
    assert_eq!(explicit.code, 1);
    insta::assert_snapshot!(explicit.stdout);
    let shape =
        regex::Regex::new(r"^::error file=roster\.yaml,line=\d+,col=\d+(,title=[^:]*)?::\S")
            .unwrap();
    for line in explicit.stdout.lines() {
        assert!(shape.is_match(line), "{line}");
    }
    // The human rendering still goes to stderr.
    assert!(
        explicit.stderr.contains("--> roster.yaml:"),
        "{}",
        explicit.stderr
    );
    // Under GitHub Actions annotations are the default; `--format human` turns them off.
    let actions = run_with(&scratch.dir, &["validate"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(actions.stdout, explicit.stdout);
    let human = run_with(
        &scratch.dir,
        &["validate", "--format", "human"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(human.stdout, "");
    // Run from a subdirectory of the checkout (a job's `working-directory`): annotations name
    // the file by its path in the repository, where GitHub places them.
    std::fs::create_dir_all(scratch.dir.join("orgs")).unwrap();
    std::fs::copy(
        scratch.dir.join("roster.yaml"),
        scratch.dir.join("orgs/dev.yaml"),
    )
    .unwrap();
    let workspace = scratch.dir.to_str().unwrap().to_owned();
    let nested = run_with(
        &scratch.dir.join("orgs"),
        &["-c", "dev.yaml", "validate", "--format", "github"],
        &[("GITHUB_WORKSPACE", workspace.as_str())],
    );
    assert!(
        nested
            .stdout
            .starts_with("::error file=orgs/dev.yaml,line="),
        "{}",
        nested.stdout
    );
    // A file that cannot be read is annotated too, without a position.
    let missing = run_with(
        &scratch.dir,
        &["-c", "absent.yaml", "validate", "--format", "github"],
        &[],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stdout
            .starts_with("::error file=absent.yaml,title=roster validate::cannot read"),
        "{}",
        missing.stdout
    );
}

#[test]
fn a_blank_ownership_suffix_would_own_every_user_and_is_refused() {
    for (name, suffix) in [
        ("suffix-empty", "\"\""),
        ("suffix-blank", "\"  \""),
        ("suffix-space", "\".dev1 \""),
    ] {
        let text = format!("{}\nownership:\n  username_suffix: {suffix}\n", minimal());
        let out = rejected(name, text);
        assert!(
            out.contains("/ownership/username_suffix: the ownership suffix")
                && out.contains("is empty or contains whitespace"),
            "{out}"
        );
    }
    let fine = format!("{}\nownership:\n  username_suffix: .dev1\n", minimal());
    let scratch = Scratch::new("suffix-fine");
    scratch.write("roster.yaml", fine);
    assert_eq!(scratch.roster(&["validate"]).code, 0);
}

#[test]
fn read_only_system_fields_cannot_be_mapped() {
    for field in [
        "SystemModstamp",
        "lastmodifieddate",
        "CreatedById",
        "Name",
        "UserType",
    ] {
        let out = rejected(
            "read-only-field",
            minimal_with(
                "  - {target: Email, source: mail}",
                &format!(
                    "  - {{target: Email, source: mail}}\n  - {{target: {field}, constant: x}}"
                ),
            ),
        );
        assert!(
            out.contains("cannot be mapped: Salesforce sets it and refuses writes to it"),
            "{field}: {out}"
        );
    }
}

#[test]
fn a_threshold_too_large_for_a_count_is_placed_at_its_value() {
    let out = rejected(
        "threshold-too-large",
        format!("{}\nsafety:\n  max_deactivations: 99999999999\n", minimal()),
    );
    assert!(
        out.contains("/safety/max_deactivations") && out.contains("99999999999"),
        "{out}"
    );
}

/// A number YAML reads as a float (`1e3`) passes the schema's integer check and is refused by
/// the type: the message says what the setting takes, not which Rust enum failed.
#[test]
fn a_threshold_of_another_shape_says_what_it_takes() {
    let out = rejected(
        "threshold-float",
        format!("{}\nsafety:\n  max_deactivations: 1e3\n", minimal()),
    );
    assert!(
        out.contains(
            "/safety/max_deactivations: expected a whole number of users (such as 10), or a \
             percentage (such as \"10%\")"
        ) && !out.contains("untagged"),
        "{out}"
    );
}

/// Salesforce reads field names in any case, but the plan and the policy know each by its one
/// spelling: a miscased feature licence slipped past `reconcile.auto_apply`'s `grants`.
#[test]
fn a_standard_field_is_written_as_salesforce_spells_it() {
    let out = rejected(
        "field-case",
        minimal_with(
            "  - {target: Email, source: mail}",
            "  - {target: Email, source: mail}\n  - {target: userPermissionsMarketingUser, constant: \"true\"}",
        ),
    );
    assert!(
        out.contains(
            "`userPermissionsMarketingUser` is spelled `UserPermissionsMarketingUser` in Salesforce"
        ) && out.contains("write `UserPermissionsMarketingUser`"),
        "{out}"
    );
}

#[test]
fn is_frozen_cannot_be_mapped() {
    let out = rejected(
        "is-frozen",
        minimal_with(
            "  - {target: Email, source: mail}",
            "  - {target: Email, source: mail}\n  - {target: IsFrozen, constant: \"true\"}",
        ),
    );
    assert!(
        out.contains("`IsFrozen` cannot be mapped: it lives on the user's UserLogin"),
        "{out}"
    );
}

#[test]
fn one_problem_per_value_and_alias_bombs_are_named_plainly() {
    let out = rejected(
        "version-string",
        minimal_with("version: 1", "version: \"1\""),
    );
    assert!(out.contains("found 1 error"), "{out}");
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    let mut previous = "a".to_owned();
    for i in 1..9 {
        let name = format!("b{i}");
        let refs = vec![format!("*{previous}"); 9].join(", ");
        bomb += &[name.as_str(), ": &", &name, " [", &refs, "]\n"].concat();
        previous = name;
    }
    let out = rejected("alias-bomb", bomb);
    assert!(
        out.contains("aliases that expand to too many values") && !out.contains("Nodes {"),
        "{out}"
    );
}

#[test]
fn attributes_entra_users_do_not_have_are_named_with_the_right_one() {
    // A misspelt attribute, a sync-schema name Graph spells otherwise, a wrong case, and a
    // malformed directory extension; a well-formed one passes; a multi-valued one is a warning.
    insta::assert_snapshot!(rejected(
        "attributes",
        minimal_with(
            "  - {target: Email, source: mail}\n",
            "  - {target: Email, source: mail}\n  - {target: Title, source: jobTitel}\n  - {target: Phone, expression: 'Join(\" \", [telephoneNumber], [Department])'}\n  - {target: Division, source: extension_costCenter}\n  - {target: Department, source: extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter}\n  - {target: MobilePhone, source: businessPhones}\n",
        )
    ));
}

#[test]
fn scoping_filters_on_attributes_entra_cannot_filter_are_refused() {
    insta::assert_snapshot!(rejected(
        "scoping-attributes",
        minimal_with(
            "matching:\n",
            "scope:\n  filters:\n    - all:\n        - {attribute: proxyAddresses, operator: is_not_null}\n        - {attribute: employeeHireDate, operator: is_not_null}\n        - {attribute: department, operator: equals, value: Sales}\n\nmatching:\n",
        )
    ));
}

#[test]
fn the_complex_app_role_functions_are_refused_for_salesforce() {
    insta::assert_snapshot!(rejected(
        "complex-app-roles",
        minimal_with(
            "  - {target: Email, source: mail}\n",
            "  - {target: Email, source: mail}\n  - {target: Title, expression: 'Join(\",\", AssertiveAppRoleAssignmentsComplex([appRoleAssignments]))'}\n",
        )
    ));
}

#[test]
fn a_replace_pattern_the_engine_cannot_run_is_named_at_its_place() {
    insta::assert_snapshot!(rejected(
        "replace-regex",
        minimal_with(
            "  - {target: Email, source: mail}\n",
            "  - {target: Email, source: mail}\n  - {target: Title, expression: 'Replace([jobTitle], , \"[a-z-[aeiou]]\", , \"\", , )'}\n",
        )
    ));
}

#[test]
fn constant_date_arguments_that_fail_for_every_user_are_named() {
    insta::assert_snapshot!(rejected(
        "date-constants",
        minimal_with(
            "  - {target: Email, source: mail}\n",
            "  - {target: Email, source: mail}\n  - {target: Title, expression: 'FormatDateTime([employeeHireDate], \"Utc\", \"yyyy-MM-dd\", \"x\")'}\n  - {target: Division, expression: 'DateAdd(\"q\", 1, CDate(\"13/13/2021\"))'}\n  - {target: Department, expression: 'Mid([mail], \"a\", 2)'}\n",
        )
    ));
}

#[test]
fn a_constant_ignore_keyword_is_a_warning_with_the_expression_to_write() {
    let scratch = Scratch::new("constant-keyword");
    scratch.write(
        "roster.yaml",
        minimal_with(
            "  - {target: Email, source: mail}\n",
            "  - {target: Email, source: mail}\n  - {target: Title, constant: IgnoreObjectFlow}\n",
        ),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("this writes the text \"IgnoreObjectFlow\" into every user")
            && out.stderr.contains("write `expression: IgnoreObjectFlow`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_value_of_the_right_kind_but_wrong_inside_says_what_is_wrong_inside() {
    insta::assert_snapshot!(rejected(
        "record-ref-inside",
        minimal_with("      profile: Standard User", "      profile: {id: 123}")
    ));
}

#[test]
fn grants_unmanaged_are_warnings_and_unknown_feature_licences_errors() {
    let scratch = Scratch::new("grant-warnings");
    scratch.write(
        "roster.yaml",
        minimal_with(
            "profile: Standard User",
            "profile: Standard User\n      queues: [Support_Tier_1]\n      feature_licenses: [KnowledgeUser]",
        ),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    for warning in [
        "queue `Support_Tier_1` is granted but not in `managed_queues`, so roster never removes it",
        "feature licence `KnowledgeUser` is granted but not in `managed_feature_licenses`",
    ] {
        assert!(out.stderr.contains(warning), "{}", out.transcript());
    }
    let refused = rejected(
        "grant-unknown-feature",
        minimal_with(
            "profile: Standard User",
            "profile: Standard User\n      feature_licenses: [KnowledgeUsr]",
        ),
    );
    assert!(
        refused.contains("`KnowledgeUsr` is not a feature licence roster can set")
            && refused.contains("did you mean `KnowledgeUser`?")
            && refused.contains("roster.yaml:"),
        "{refused}"
    );
}

/// A secret written inline is refused without being shown: not in the message, the snippet, a
/// GitHub annotation, nor quoted with escapes; and the fix says to rotate it.
#[test]
fn a_secret_written_inline_is_never_shown() {
    let text = minimal_with(
        "client_secret: {env: AZURE_CLIENT_SECRET}",
        "client_secret: Sup3rS3cretValue~xyz",
    )
    .replacen(
        "client_secret: {env: SF_CLIENT_SECRET}",
        "client_secret: \"-----BEGIN PRIVATE KEY-----\\nMIIabc\"",
        1,
    );
    let transcript = rejected("inline-secret-both", &text);
    assert!(
        transcript.contains("a secret is written inline")
            && transcript.contains("rotate it")
            && transcript.contains("roster.yaml:10:20"),
        "{transcript}"
    );
    let scratch = Scratch::new("inline-secret-github");
    scratch.write("roster.yaml", &text);
    let github = scratch.roster(&["validate", "--format", "github"]);
    assert_eq!(github.code, 1);
    for shown in [transcript, github.transcript()] {
        for secret in ["Sup3rS3cret", "MIIabc", "BEGIN PRIVATE"] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
    }
    // However it is written wrong: beside a reference, as a key, after a mapping, under a
    // misspelled or misplaced key, twice, after a tab, or breaking the YAML.
    for (from, to) in [
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: {env: X, fiel: S3cretXYZ1}",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: {S3cretXYZ1: env}",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: {env: X} S3cretXYZ1",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secrets: S3cretXYZ1",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret:\tS3cretXYZ1",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: S3cretXYZ1: x",
        ),
        (
            "client_secret: {env: SF_CLIENT_SECRET}",
            "client_secret: S3cretXYZ1\n      client_secret: {env: X}",
        ),
        (
            "client_secret: {env: SF_CLIENT_SECRET}",
            "client_secret: {env: X}\n      password: S3cretXYZ1\n      security_token: S3cretXYZ1",
        ),
        // An explicit key, a value continued on the next line, misspelled keys, and the
        // secret standing again as a key elsewhere.
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "? client_secret\n    : S3cretXYZ1",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: S3cretXYZ0\n      S3cretXYZ1: c",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secert: S3cretXYZ1",
        ),
        (
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "passwd: S3cretXYZ1",
        ),
    ] {
        never_shown(from, to);
    }
    // The secret written inline, and standing again as a key elsewhere.
    let scratch = Scratch::new("inline-secret-as-key");
    scratch.write(
        "roster.yaml",
        minimal_with(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: S3cretXYZ1",
        )
        .replacen(
            "{target: Email, source: mail}",
            "{target: Email, S3cretXYZ1: mail}",
            1,
        ),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(!out.transcript().contains("S3cretXYZ1"), "{}", out.stderr);
}

/// The minimal config with `from` edited to `to`, which writes the secret `S3cretXYZ1` where
/// it does not belong: refused by `validate`, in either format, without showing it.
fn never_shown(from: &str, to: &str) {
    let scratch = Scratch::new("inline-secret-wrong");
    scratch.write("roster.yaml", minimal_with(from, to));
    for format in ["human", "github"] {
        let out = scratch.roster(&["validate", "--format", format]);
        assert_eq!(out.code, 1, "{to}");
        let shown = out.transcript();
        assert!(!shown.contains("S3cretXYZ1"), "{to} ({format}):\n{shown}");
    }
}

/// A key named like a secret, joined by `-` or named by another word for one (helper-57),
/// is masked as `client_secret` is.
#[test]
fn a_secret_under_any_secret_like_key_is_never_shown() {
    for key in [
        "private-key",
        "secret-value",
        "pass-word",
        "api_key",
        "key",
        "bearer",
        "pem",
    ] {
        never_shown(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            &format!("{key}: S3cretXYZ1"),
        );
    }
}

/// What is not a secret stays readable: the password flow's references and names, and the
/// certificate's files beside a mistake.
#[test]
fn references_and_names_beside_secrets_stay_readable() {
    let password = minimal_with(
        "    client_credentials:\n      client_id: 3MVG9roster.minimal\n      client_secret: {env: SF_CLIENT_SECRET}",
        "    password:\n      client_id: 3MVG9roster.minimal\n      username: admin@contoso.com\n      password: {env: SF_PASSWORD}\n      security_token: {env: SF_TOKEN}\n      bogus: 1",
    );
    let transcript = rejected("readable-password-flow", password);
    assert!(
        transcript.contains("/target/auth/password/bogus: unknown key `bogus`")
            && transcript.contains("`password`, `security_token`, `username`"),
        "{transcript}"
    );
    let certificate = minimal_with(
        "client_secret: {env: AZURE_CLIENT_SECRET}",
        "certificate: {private_key: {file: k.pem}, certificate: {file: c.pem}, bogus: 1}",
    );
    let transcript = rejected("readable-certificate", certificate);
    assert!(
        transcript.contains("/source/credential/certificate/bogus: unknown key `bogus`"),
        "{transcript}"
    );
}

/// A number YAML would misread: a leading zero keeps the text written (an id keeps its zeros,
/// a count says how to write it), and the help for an unquoted value quotes it as written.
#[test]
fn numbers_are_read_and_quoted_as_written() {
    let scratch = Scratch::new("leading-zero-id");
    scratch.write(
        "roster.yaml",
        minimal_with("client_id: 3MVG9roster.minimal", "client_id: 0012345"),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (from, to, help) in [
        (
            "version: 1",
            "version: 01",
            "help: a number written with a leading zero stays text (it may be an id); write 1 to mean the number",
        ),
        (
            "client_id: 3MVG9roster.minimal",
            "client_id: 0x1F",
            "help: YAML reads an unquoted 0x1F as a number; write \"0x1F\" to mean the text",
        ),
        (
            "client_id: 3MVG9roster.minimal",
            "client_id: 62.10",
            "help: YAML reads an unquoted 62.10 as a number; write \"62.10\" to mean the text",
        ),
    ] {
        let transcript = rejected("leading-zero", minimal_with(from, to));
        assert!(transcript.contains(help), "{to}: {transcript}");
    }
}

/// A file whose lines end in a lone carriage return (an old Mac editor) is read as YAML reads
/// it: a problem is named at its line, not as one long first line.
#[test]
fn lone_carriage_returns_are_line_breaks() {
    let text = minimal_with("display_name:", "display_nam:").replace('\n', "\r");
    let transcript = rejected("cr-only", text);
    assert!(transcript.contains("--> roster.yaml:12:5"), "{transcript}");
}

/// Thousands of mistakes: the first 200 are shown at their places, and how many more there are.
#[test]
fn thousands_of_problems_show_the_first_and_count_the_rest() {
    let mut text = minimal();
    text.extend((0..5000).map(|i| format!("k{i}: 1\n")));
    let transcript = rejected("many-problems", text);
    assert!(
        transcript.contains("4800 more problem(s) in the file are not shown"),
        "{}",
        &transcript[transcript.len().saturating_sub(2000)..]
    );
    assert_eq!(transcript.matches("not a known key").count(), 200);
}

/// A key beside the one alternative given that misspells another (`{env: X, fiel: y}`) is
/// taken for that other, and the help says only one may be given.
#[test]
fn a_misspelled_alternative_is_suggested() {
    let transcript = rejected(
        "misspelled-alternative",
        minimal_with(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: {env: AZURE_CLIENT_SECRET, fiel: secret.txt}",
        ),
    );
    assert!(
        transcript.contains(
            "help: did you mean `file`? `env`, `file` are alternatives: give exactly one"
        ),
        "{transcript}"
    );
}

/// A role rule's condition names something: an empty app role, group or expression is refused
/// (it would match nothing, or everything).
#[test]
fn an_empty_condition_is_refused() {
    for condition in ["app_role", "group", "expression"] {
        let transcript = rejected(
            "empty-condition",
            minimal_with(
                "when: {app_role: User}",
                &format!("when: {{{condition}: \"\"}}"),
            ),
        );
        assert!(
            transcript.contains(&format!(
                "/roles/rules/0/when/{condition}: must not be an empty string"
            )),
            "{transcript}"
        );
    }
}

/// A grant, a managed name or a kind the reconcile policy allows listed twice is a warning at
/// the second copy (it is often a typo for another name); the config stays valid.
#[test]
fn a_name_listed_twice_is_a_warning() {
    let scratch = Scratch::new("listed-twice");
    scratch.write(
        "roster.yaml",
        read("examples/demo/roster.yaml")
            .replace(
                "permission_sets: [Reports_Export]\n",
                "permission_sets: [Reports_Export, reports_export]\n",
            )
            .replace(
                "managed_permission_sets: [Sales_Cloud_User,",
                "managed_permission_sets: [Sales_Cloud_User, Sales_Cloud_User,",
            )
            + "reconcile:\n  auto_apply: {allow: [create, update, create]}\n",
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    for said in [
        "/roles/rules/3/permission_sets/1: `reports_export` is listed twice (first at /roles/rules/3/permission_sets/0)",
        "/roles/managed_permission_sets/1: `Sales_Cloud_User` is listed twice (first at /roles/managed_permission_sets/0)",
        "/reconcile/auto_apply/allow/2: `create` is listed twice (first at /reconcile/auto_apply/allow/0)",
    ] {
        assert!(out.stderr.contains(said), "{said}\n{}", out.stderr);
    }
}

/// YAML's own refusals in the config's words: an infinity where text is meant, a list as a key.
#[test]
fn yaml_refusals_are_said_plainly() {
    for (from, to, said) in [
        (
            "client_id: 3MVG9roster.minimal",
            "client_id: .inf",
            "YAML reads an unquoted .inf as an infinite or not-a-number value, which no setting takes; write \".inf\" to mean the text",
        ),
        (
            "matching:",
            "? [a, b]: 1\nmatching:",
            "a key must be a name; a list or a mapping (`? [a, b]: ...`) cannot be one",
        ),
    ] {
        let transcript = rejected("yaml-words", minimal_with(from, to));
        assert!(transcript.contains(said), "{to}: {transcript}");
        assert!(!transcript.contains("configured policy"), "{transcript}");
    }
}

/// A tab after a key's colon (YAML allows it) still places a problem at its line, not 1:1.
#[test]
fn a_tab_after_a_colon_keeps_the_place() {
    let transcript = rejected(
        "tab-after-colon",
        minimal_with(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret:\tTABSEC1",
        ),
    );
    assert!(transcript.contains("--> roster.yaml:10:20"), "{transcript}");
    assert!(!transcript.contains("TABSEC1"), "{transcript}");
}

/// A role on a rule without a profile is never set (the first matching rule with a profile sets
/// both): refused at the role, not left to do nothing.
#[test]
fn a_role_without_a_profile_is_refused() {
    let transcript = rejected(
        "role-without-profile",
        minimal_with(
            "      profile: Standard User",
            "      profile: Standard User\n    - when: {group: Managers}\n      role: Manager",
        ),
    );
    assert!(
        transcript.contains("a role on a rule without a profile is never set")
            && transcript.contains("roster.yaml:41:13"),
        "{transcript}"
    );
}

/// A later rule repeating an earlier rule's condition word for word never sets its profile or
/// role: said as a warning at it (its grants still apply), and validation passes. A rule of
/// another condition, or after a same-condition rule without a profile, is not warned about.
#[test]
fn a_profile_an_earlier_rule_of_the_same_condition_takes_is_a_warning() {
    let scratch = Scratch::new("same-condition");
    for (config, warned) in [
        (
            minimal_with(
                "      profile: Standard User",
                "      profile: Standard User\n    - when: {app_role: User}\n      profile: \
                 Chatter Free User\n      role: CEO",
            ),
            Some(
                "/roles/rules/1/profile: this rule's profile and role never apply: \
                 /roles/rules/0 has the same condition",
            ),
        ),
        (
            minimal_with(
                "    - when: {app_role: User}\n      profile: Standard User",
                "    - when: {expression: 'IIF([department] = \"x\", \"True\", \"False\")'}\n      \
                 profile: Standard User\n    - when: {expression: ' IIF([department] = \"x\", \
                 \"True\", \"False\")'}\n      profile: Chatter Free User",
            ),
            Some(
                "/roles/rules/1/profile: this rule's profile never applies: /roles/rules/0 has \
                 the same condition",
            ),
        ),
        (
            minimal_with(
                "      profile: Standard User",
                "      profile: Standard User\n    - when: {app_role: Admin}\n      profile: \
                 Chatter Free User",
            ),
            None,
        ),
        (
            minimal_with(
                "    - when: {app_role: User}\n      profile: Standard User",
                "    - when: {app_role: User}\n      permission_sets: [A]\n    - when: {app_role: \
                 User}\n      profile: Standard User",
            ),
            None,
        ),
    ] {
        scratch.write("roster.yaml", &config);
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 0, "{}", out.transcript());
        match warned {
            Some(message) => assert!(
                out.stderr.contains(message) && out.stderr.contains("never reached"),
                "{}",
                out.transcript()
            ),
            None => assert!(
                !out.stderr.contains("never reached"),
                "{}",
                out.transcript()
            ),
        }
    }
}

/// A login URL with a space of more than one byte before a password (a no-break space pasted
/// from a web page) is refused with the password masked, never a panic.
#[test]
fn a_login_url_with_a_wide_space_and_a_password_is_refused_masked() {
    for space in ["\u{a0}", "\u{3000}"] {
        let transcript = rejected(
            "wide-space-url",
            minimal_with(
                "target:\n",
                &format!("target:\n  login_url: \"a{space}user:S3cr3t@test.salesforce.com\"\n"),
            ),
        );
        assert!(
            !transcript.contains("S3cr3t") && transcript.contains("***@test.salesforce.com"),
            "{transcript}"
        );
    }
}

/// YAML 1.1's merge key, which most YAML tools keep, merges an anchored mapping into another,
/// its own keys winning: the same config as written out (`diff` finds no change).
#[test]
fn a_merge_key_merges_an_anchored_mapping_its_own_keys_winning() {
    let scratch = Scratch::new("yaml-merge-key");
    scratch.write(
        "expanded.yaml",
        minimal_with(
            "  - {target: LanguageLocaleKey, constant: en_US}",
            "  - {target: LanguageLocaleKey, constant: en_US}\n  - {target: Department, constant: en_US}",
        ),
    );
    scratch.write(
        "merged.yaml",
        minimal_with(
            "  - {target: LanguageLocaleKey, constant: en_US}",
            "  - &locale {target: LanguageLocaleKey, constant: en_US}\n  - <<: *locale\n    target: Department",
        ),
    );
    let out = scratch.roster(&["-c", "merged.yaml", "validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = scratch.roster(&[
        "diff",
        "expanded.yaml",
        "merged.yaml",
        "--detailed-exitcode",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// A mapping that writes a matched field something other than what its matching rules look
/// for is a warning at the mapping, with its line: the account roster creates would not be
/// found by the rule on the next plan (helper-85: `ToUpper` on a case-sensitive anchor made
/// roster's own account a conflict after apply). What matching sets aside is no difference
/// (helper-86): spaces in the expression, case in a standard field, an empty value's skip, the
/// sandbox email suffix, and another rule on the field that looks for the mapping's value.
#[test]
fn a_mapping_that_writes_other_than_its_matching_rule_seeks_is_a_warning() {
    let validate = |name: &str, text: String| {
        let scratch = Scratch::new(name);
        scratch.write("roster.yaml", &text);
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 0, "{}", out.transcript());
        (text, out.stderr)
    };
    // The anchor's value in another case, in a custom field (which may be case-sensitive).
    let (text, stderr) = validate(
        "matched-mapping-case",
        minimal_with(
            "{target: Entra_Object_Id__c, source: objectId}",
            "{target: Entra_Object_Id__c, expression: 'ToUpper([objectId])'}",
        ),
    );
    let line = text.lines().position(|l| l.contains("ToUpper")).unwrap() + 1;
    assert!(
        stderr.contains(
            "matching rule 1 looks for \"[objectId]\" in Entra_Object_Id__c, but this mapping \
             writes \"ToUpper([objectId])\" there"
        ) && stderr.contains(&format!("roster.yaml:{line}:")),
        "{stderr}"
    );
    // Another attribute, by `source:`.
    let (_, stderr) = validate(
        "matched-mapping-source",
        minimal_with(
            "{target: Username, source: userPrincipalName}",
            "{target: Username, source: mail}",
        ),
    );
    assert!(
        stderr.contains(
            "matching rule 2 looks for \"[userPrincipalName]\" in Username, but this mapping \
             writes \"[mail]\" there"
        ),
        "{stderr}"
    );
    // What matching sets aside: one expression spaced otherwise, with a default beside it;
    // case in a standard field, at any depth and in literals; an empty value's skip; the sandbox suffix on Email; a later
    // rule on the field that looks for what the mapping writes.
    let text = minimal_with(
        "{source: '[userPrincipalName]', target: Username}",
        "{source: 'Append( [userPrincipalName],\".x\" )', target: Username}\n  \
         - {source: '[mail]', target: Email}\n  \
         - {source: '[employeeId]', target: EmployeeNumber}\n  \
         - {source: '[mailNickname]', target: FederationIdentifier}\n  \
         - {source: '[userPrincipalName]', target: FederationIdentifier}",
    )
    .replace(
        "{target: Username, source: userPrincipalName}",
        "{target: Username, expression: 'Append(ToLower([userPrincipalName]), \".X\")', default: x}\n  \
         - {target: EmployeeNumber, expression: 'IgnoreFlowIfNullOrEmpty(ToLower([employeeId]))'}\n  \
         - {target: FederationIdentifier, source: userPrincipalName}",
    )
    .replace(
        "{target: Email, source: mail}",
        "{target: Email, expression: 'Append([mail], \".invalid\")'}",
    );
    let (_, stderr) = validate("matched-mapping-same", text);
    assert!(!stderr.contains("looks for"), "{stderr}");
}

/// A mapping's `source`, `constant` or `expression` given as null (`~`, or nothing after the
/// colon) is refused at the value, as a `target: ~` is (helper-86: an internal error that named
/// line 1).
#[test]
fn a_mapping_value_of_null_is_refused_where_it_stands() {
    for (n, written) in [
        "{target: Email, source: ~}",
        "{target: Email, expression: ~}",
        "{target: Email, constant: ~}",
        "{target: Email, source: }",
    ]
    .into_iter()
    .enumerate()
    {
        let text = minimal_with("{target: Email, source: mail}", written);
        let line = text.lines().position(|l| l.contains(written)).unwrap() + 1;
        let out = rejected(&format!("null-mapping-{n}"), &text);
        assert!(
            out.contains("expected a string, found nothing (null)")
                && out.contains(&format!("roster.yaml:{line}:"))
                && !out.contains("internal"),
            "{written}: {out}"
        );
    }
}
