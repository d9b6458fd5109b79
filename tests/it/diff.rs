//! `roster diff`: what a change to roster.yaml means, as a reviewer and an auditor read it.

use std::fmt::Write as _;

use crate::support::{Scratch, read, repo};

#[test]
fn what_the_full_demo_config_adds_to_the_portals() {
    let scratch = Scratch::new("diff-demo");
    let base = repo().join("examples/from-entra/roster.yaml");
    let head = repo().join("examples/demo/roster.yaml");
    let out = scratch.roster(&[
        "diff",
        base.to_str().unwrap(),
        head.to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
    let markdown = scratch.roster(&[
        "diff",
        base.to_str().unwrap(),
        head.to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    assert_eq!(markdown.code, 0);
    insta::assert_snapshot!("markdown", markdown.stdout);
}

#[test]
fn a_source_becoming_an_expression_a_new_grant_and_a_lower_threshold() {
    let scratch = Scratch::new("diff-edits");
    let demo = read("examples/demo/roster.yaml");
    scratch.write("base.yaml", &demo);
    scratch.write(
        "head.yaml",
        demo.replace(
            "  - {target: Title, source: jobTitle}",
            "  - {target: Title, expression: 'Left([jobTitle], 40)'}",
        )
        .replace(
            "      permission_sets: [Service_Cloud_User, Knowledge_Author]",
            "      permission_sets: [Service_Cloud_User, Reports_Export]",
        )
        .replace("max_deactivations: 5", "max_deactivations: 3")
        // Only the order of a set, or of the keys: the same config.
        .replace(
            "managed_public_groups: [All_Sales]\n  managed_queues: [Support_Tier_1]",
            "managed_queues: [Support_Tier_1]\n  managed_public_groups: [All_Sales]",
        )
        .replace(
            "managed_permission_sets: [Sales_Cloud_User, Reports_Export, Service_Cloud_User, Sales_Engagement_Cadences, Knowledge_Author]",
            "managed_permission_sets: [Knowledge_Author, Sales_Engagement_Cadences, Service_Cloud_User, Reports_Export, Sales_Cloud_User]",
        ),
    );
    let out = scratch.roster(&["diff", "base.yaml", "head.yaml", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"path": "mappings[\"Title\"]", "kind": "changed", "before": "source jobTitle", "after": "expression Left([jobTitle], 40)"},
            {"path": "roles.rules[2: app_role \"Support Agent\"].permission_sets", "kind": "changed", "added": ["Reports_Export"], "removed": ["Knowledge_Author"]},
            {"path": "safety.max_deactivations", "kind": "changed", "before": "5", "after": "3"},
        ])
    );
    let text = scratch.roster(&["diff", "base.yaml", "head.yaml"]);
    assert!(
        text.stdout.contains(
            "~ roles.rules[2: app_role \"Support Agent\"].permission_sets: + Reports_Export, - Knowledge_Author\n"
        ),
        "{}",
        text.stdout
    );
    // Where a secret comes from is part of the config: another variable, or a file anywhere
    // on the machine, is a change (its value never shows).
    scratch.write(
        "secret.yaml",
        demo.replace(
            "client_secret: {env: SF_CLIENT_SECRET}",
            "client_secret: {file: ../../etc/hostname}",
        )
        .replace(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: {env: SF_CLIENT_SECRET}",
        ),
    );
    let secret = scratch.roster(&["diff", "base.yaml", "secret.yaml", "--detailed-exitcode"]);
    assert_eq!(secret.code, 2, "{}", secret.stderr);
    for line in [
        "~ source.credential: client_secret from env AZURE_CLIENT_SECRET -> client_secret from env SF_CLIENT_SECRET",
        "client_secret from env SF_CLIENT_SECRET -> client_credentials, client 3MVG9contoso.roster.dev1, client_secret from file ../../etc/hostname",
    ] {
        assert!(secret.stdout.contains(line), "{line}\n{}", secret.stdout);
    }
    // The same file twice: nothing, and exit 0 even with --detailed-exitcode.
    let same = scratch.roster(&["diff", "base.yaml", "base.yaml", "--detailed-exitcode"]);
    assert_eq!(same.code, 0);
    assert_eq!(
        same.stdout,
        "No differences: both files configure the same.\n"
    );
}

#[test]
fn a_broken_file_is_reported_at_its_place() {
    let scratch = Scratch::new("diff-broken");
    scratch.write("base.yaml", read("examples/demo/roster.yaml"));
    scratch.write(
        "head.yaml",
        read("examples/demo/roster.yaml")
            .replace("max_deactivations: 5", "max_deactivations: five"),
    );
    let out = scratch.roster(&["diff", "base.yaml", "head.yaml"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("head.yaml:") && out.stderr.contains("/safety/max_deactivations"),
        "{}",
        out.stderr
    );
}

#[test]
fn rule_order_counts_and_rules_are_paired_by_condition() {
    let scratch = Scratch::new("diff-order");
    let demo = read("examples/demo/roster.yaml");
    scratch.write("base.yaml", &demo);
    // The Sales Manager and Sales Rep rules swapped: a user with both roles gets another profile.
    let manager = "    - when: {app_role: Sales Manager}\n      profile: Sales Manager\n      role: Western Sales Manager\n      permission_sets: [Sales_Cloud_User, Reports_Export]\n      permission_set_groups: [Sales_Leadership]\n      public_groups: [All_Sales]\n";
    assert!(demo.contains(manager));
    let rep_start = demo.find("    - when: {app_role: Sales Rep}").unwrap();
    let rep_end = demo.find("    - when: {app_role: Support Agent}").unwrap();
    let rep = &demo[rep_start..rep_end];
    let swapped = demo
        .replacen(manager, "@@", 1)
        .replacen(rep, manager, 1)
        .replacen("@@", rep, 1);
    scratch.write("swapped.yaml", swapped);
    let out = scratch.roster(&["diff", "base.yaml", "swapped.yaml", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    // The order changed, shown whole: not both rules' every setting removed and added again.
    assert_eq!(
        out.stdout,
        "~ roles.rules order: app_role \"Sales Manager\", app_role \"Sales Rep\", app_role \
         \"Support Agent\", group \"SF Report Builders\" -> app_role \"Sales Rep\", app_role \
         \"Sales Manager\", app_role \"Support Agent\", group \"SF Report Builders\"\n"
    );
    // Three rules reversed: the middle one keeps its position, yet now comes before the rule
    // that was before it; the order says so.
    let support_start = rep_end;
    let support_end = demo
        .find("    - when: {group: SF Report Builders}")
        .unwrap();
    let support = &demo[support_start..support_end];
    let reversed = demo.replacen(
        &demo[demo.find(manager).unwrap()..support_end],
        &format!("{support}{rep}{manager}"),
        1,
    );
    scratch.write("reversed.yaml", reversed);
    let out = scratch.roster(&["diff", "base.yaml", "reversed.yaml"]);
    assert_eq!(
        out.stdout,
        "~ roles.rules order: app_role \"Sales Manager\", app_role \"Sales Rep\", app_role \
         \"Support Agent\", group \"SF Report Builders\" -> app_role \"Support Agent\", app_role \
         \"Sales Rep\", app_role \"Sales Manager\", group \"SF Report Builders\"\n"
    );
    // Two rules with one condition: each its own.
    let twice = demo.replace(
        "    - when: {group: SF Report Builders}\n      permission_sets: [Reports_Export]\n",
        "    - when: {group: SF Report Builders}\n      permission_sets: [Reports_Export]\n    - when: {group: SF Report Builders}\n      permission_sets: [Knowledge_Author]\n",
    );
    scratch.write("twice.yaml", &twice);
    let out = scratch.roster(&["diff", "base.yaml", "twice.yaml"]);
    assert_eq!(
        out.stdout,
        "+ roles.rules[4: group \"SF Report Builders\"].permission_sets: Knowledge_Author\n"
    );
    // A rule inserted above the others, and one removed from among them: the others are the
    // same rules, at other positions.
    let builders =
        "    - when: {group: SF Report Builders}\n      permission_sets: [Reports_Export]\n";
    let first =
        "    - when: {group: SF Report Builders}\n      permission_sets: [Knowledge_Author]\n";
    scratch.write(
        "first.yaml",
        demo.replacen(manager, &format!("{first}{manager}"), 1),
    );
    let out = scratch.roster(&["diff", "base.yaml", "first.yaml"]);
    assert_eq!(
        out.stdout,
        "+ roles.rules[0: group \"SF Report Builders\"].permission_sets: Knowledge_Author\n"
    );
    scratch.write("without-rep.yaml", demo.replacen(rep, "", 1));
    let out = scratch.roster(&["diff", "base.yaml", "without-rep.yaml"]);
    assert!(
        !out.stdout.is_empty()
            && out
                .stdout
                .lines()
                .all(|l| l.starts_with("- roles.rules[1: app_role \"Sales Rep\"].")),
        "{}",
        out.stdout
    );
    // Of two rules with one condition, the second removed as a rule of another condition
    // takes its position: the removed one is named as BASE's, not taken for HEAD's rule there.
    let rep_again =
        "    - when: {app_role: Sales Rep}\n      permission_sets: [Knowledge_Author]\n";
    scratch.write(
        "rep-again.yaml",
        demo.replacen(builders, &format!("{rep_again}{builders}"), 1),
    );
    let out = scratch.roster(&["diff", "twice.yaml", "rep-again.yaml"]);
    assert_eq!(
        out.stdout,
        "+ roles.rules[3: app_role \"Sales Rep\"].permission_sets: Knowledge_Author\n\
         - roles.rules[4 in BASE: group \"SF Report Builders\"].permission_sets: Knowledge_Author\n"
    );
}

#[test]
fn filter_order_does_not_count() {
    let scratch = Scratch::new("diff-filters");
    let demo = read("examples/demo/roster.yaml");
    scratch.write("base.yaml", &demo);
    // Filters swapped: the same scope. Renamed: the old and the new, with their clauses.
    let employees = "    - name: employees\n      all:\n        - {attribute: employeeType, operator: equals, value: Employee}\n        - {attribute: accountEnabled, operator: is_true}\n";
    assert!(demo.contains(employees));
    let moved = demo.replace(employees, "").replace(
        "        - {attribute: department, operator: in, value: [Sales, Support]}\n",
        &format!("        - {{attribute: department, operator: in, value: [Sales, Support]}}\n{employees}"),
    );
    scratch.write("moved.yaml", moved);
    let out = scratch.roster(&["diff", "base.yaml", "moved.yaml", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A filter's clauses swapped, and its list of values reordered or given a value twice: the
    // same scope too.
    let swapped_clauses = demo.replace(
        employees,
        "    - name: employees\n      all:\n        - {attribute: accountEnabled, operator: is_true}\n        - {attribute: employeeType, operator: equals, value: Employee}\n",
    );
    let reordered = demo.replace(
        "value: [Sales, Support]}",
        "value: [Support, Sales, Support]}",
    );
    assert_ne!(reordered, demo);
    for (name, text) in [
        ("clauses.yaml", swapped_clauses),
        ("values.yaml", reordered),
    ] {
        scratch.write(name, text);
        let out = scratch.roster(&["diff", "base.yaml", name, "--detailed-exitcode"]);
        assert_eq!(out.code, 0, "{name}: {}", out.stdout);
    }
}

/// A value written another way that means the same is no change (helper-57): a tenant GUID in
/// capitals, the login URL's host in capitals with a trailing slash, the Username suffix in
/// another case, a profile's 18-character id in another case. Another id is a change.
#[test]
fn the_same_value_written_another_way_is_no_change() {
    let scratch = Scratch::new("diff-same-value");
    let demo = read("examples/demo/roster.yaml").replacen(
        "profile: Sales Manager",
        "profile: {id: 00e8c0000000003AAA}",
        1,
    );
    scratch.write("base.yaml", &demo);
    let same = demo
        .replacen(
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
            1,
        )
        .replacen(
            "login_url: https://test.salesforce.com",
            "login_url: https://TEST.salesforce.com/",
            1,
        )
        .replacen("username_suffix: .dev1", "username_suffix: .DEV1", 1)
        .replacen("00e8c0000000003AAA", "00E8C0000000003aaa", 1);
    scratch.write("same.yaml", &same);
    let out = scratch.roster(&["diff", "base.yaml", "same.yaml", "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let other = demo.replacen("00e8c0000000003AAA", "00e8c0000000004AAA", 1);
    scratch.write("other.yaml", &other);
    let out = scratch.roster(&["diff", "base.yaml", "other.yaml", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("profile: id 00e8c0000000003AAA -> id 00e8c0000000004AAA"),
        "{}",
        out.stdout
    );
}

/// Thousands of rules all in another order: the order is still said (the pairing's table is
/// left out past its size, not allocated for millions of cells), and nothing else is.
#[test]
fn five_thousand_rules_reversed_are_one_change_of_order() {
    let scratch = Scratch::new("diff-many-rules");
    let demo = read("examples/demo/roster.yaml");
    let (start, end) = (
        demo.find("    - when: {app_role: Sales Manager}").unwrap(),
        demo.find("  managed_permission_sets:").unwrap(),
    );
    let rules = |order: &mut dyn Iterator<Item = usize>| {
        let mut listed = String::new();
        for i in order {
            let _ = write!(
                listed,
                "    - when: {{group: Group {i}}}\n      profile: Standard User\n"
            );
        }
        format!("{}{listed}{}", &demo[..start], &demo[end..])
    };
    scratch.write("base.yaml", rules(&mut (0..5000)));
    scratch.write("head.yaml", rules(&mut (0..5000).rev()));
    let out = scratch.roster(&["diff", "base.yaml", "head.yaml", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", &out.stdout[..500]);
    assert!(
        out.stdout
            .starts_with("~ roles.rules order: group \"Group 0\", group \"Group 1\",")
            && out
                .stdout
                .contains("-> group \"Group 4999\", group \"Group 4998\","),
        "{}",
        &out.stdout[..500]
    );
}

/// A condition holding an escape sequence or a bidi mark is shown escaped, in text and in
/// markdown: it cannot hide the lines after it (a wider deactivation limit) from the review.
#[test]
fn a_condition_that_acts_on_the_terminal_is_shown_escaped() {
    let scratch = Scratch::new("diff-acting");
    let demo = read("examples/demo/roster.yaml");
    scratch.write("base.yaml", &demo);
    let builders = "    - when: {group: SF Report Builders}\n";
    let head = demo
        .replacen(
            builders,
            &format!("    - when: {{expression: \"IIF([department] = \\\"Sales\\eP\\u202e\\\", \\\"True\\\", \\\"False\\\")\"}}\n      profile: Standard User\n{builders}"),
            1,
        )
        .replacen("max_deactivations: 5", "max_deactivations: 500", 1);
    scratch.write("head.yaml", head);
    for format in ["text", "markdown"] {
        let out = scratch.roster(&["diff", "base.yaml", "head.yaml", "--format", format]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout
                .contains("expression IIF([department] = \"Sales\\u{1b}P\\u{202e}\", ")
                && out.stdout.contains("safety.max_deactivations: 5 -> 500")
                && !out.stdout.contains('\u{1b}')
                && !out.stdout.contains('\u{202e}'),
            "{format}: {}",
            out.stdout
        );
    }
}

/// The reconcile policy decides what runs with no one reviewing it: each kind and limit it
/// gains or loses is a difference.
#[test]
fn the_reconcile_policy_is_compared_kind_by_kind_and_limit_by_limit() {
    let scratch = Scratch::new("diff-reconcile");
    let demo = read("examples/demo/roster.yaml");
    assert!(!demo.contains("\nreconcile:"));
    scratch.write("base.yaml", &demo);
    let policy = |allow: &str, limits: &str| {
        format!("{demo}\nreconcile:\n  auto_apply:\n    allow: [{allow}]\n{limits}")
    };
    scratch.write("creates.yaml", policy("create", "    max_creates: 5\n"));
    scratch.write("wider.yaml", policy("update, create, app_roles", ""));
    let out = scratch.roster(&["diff", "base.yaml", "creates.yaml", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "+ reconcile.auto_apply.allow: create\n+ reconcile.auto_apply.max_creates: 5\n"
    );
    let out = scratch.roster(&["diff", "creates.yaml", "wider.yaml"]);
    assert_eq!(
        out.stdout,
        "~ reconcile.auto_apply.allow: + update, + app_roles\n\
         - reconcile.auto_apply.max_creates: 5\n"
    );
    let out = scratch.roster(&["diff", "wider.yaml", "base.yaml"]);
    assert_eq!(
        out.stdout,
        "- reconcile.auto_apply.allow: update, create, app_roles\n"
    );
}

/// Two broken files: both are reported, each at its place, in one count.
#[test]
fn both_broken_files_are_reported() {
    let scratch = Scratch::new("diff-both-broken");
    let demo = read("examples/demo/roster.yaml");
    scratch.write(
        "base.yaml",
        demo.replace("max_deactivations: 5", "max_deactivations: five"),
    );
    scratch.write("head.yaml", demo.replace("version: 1", "version: 2"));
    let out = scratch.roster(&["diff", "base.yaml", "head.yaml"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--> base.yaml:")
            && out.stderr.contains("--> head.yaml:")
            && out.stderr.contains("found 2 errors"),
        "{}",
        out.stderr
    );
}

/// A missing or unreadable file is named as the argument it was, without a first run's hint
/// about `-c`.
#[test]
fn a_missing_file_is_named_as_base_or_head() {
    let scratch = Scratch::new("diff-missing");
    scratch.write("base.yaml", read("examples/demo/roster.yaml"));
    for (args, said) in [
        (
            ["diff", "base.yaml", "nope.yaml"],
            "HEAD nope.yaml: there is no such file",
        ),
        (
            ["diff", "gone.yaml", "base.yaml"],
            "BASE gone.yaml: there is no such file",
        ),
        (["diff", ".", "base.yaml"], "BASE .: cannot be read: "),
    ] {
        let out = scratch.roster(&args);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains(said) && !out.stderr.contains("ROSTER_CONFIG"),
            "{}",
            out.stderr
        );
    }
}
