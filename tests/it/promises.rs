//! README promises that had no test of their own (issue 22): each test fails when its promise
//! breaks.

use crate::support::{Emulator, Scratch, read, repo, run_in};

#[test]
fn every_schema_the_command_line_prints_is_the_committed_one() {
    for (flag, file) in [
        (None, "schemas/roster.schema.json"),
        (Some("--plan"), "schemas/plan.schema.json"),
        (Some("--audit-line"), "schemas/audit-line.schema.json"),
        (Some("--apply-report"), "schemas/apply-report.schema.json"),
        (Some("--extends"), "schemas/roster-extends.schema.json"),
    ] {
        let mut args = vec!["schema"];
        args.extend(flag);
        let out = run_in(&repo(), &args);
        assert_eq!(out.code, 0, "{flag:?}: {}", out.stderr);
        assert_eq!(
            out.stdout,
            read(file),
            "roster schema {flag:?} differs from {file}"
        );
    }
}

#[test]
fn set_wins_over_input() {
    let scratch = Scratch::new("expr-set-wins");
    let input = scratch.write(
        "user.json",
        r#"{"department": "from the file", "city": "Oslo"}"#,
    );
    let out = scratch.roster(&[
        "expr",
        "Join(\"/\", [department], [city])",
        "--input",
        input.to_str().unwrap(),
        "--set",
        "department=from --set",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "from --set/Oslo\n");
}

#[test]
fn validate_touches_no_network_and_reads_no_secret() {
    let scratch = Scratch::new("validate-offline");
    // Secrets from a file that does not exist and variables that are not set, services on a
    // port nothing listens on: validate needs none of them.
    let config = read("examples/minimal/roster.yaml").replace(
        "client_secret: {env: AZURE_CLIENT_SECRET}",
        "client_secret: {file: /nonexistent/entra-secret}",
    );
    assert!(config.contains("/nonexistent/entra-secret"));
    scratch.write("roster.yaml", config);
    let out = crate::support::run_with(
        &scratch.dir,
        &["validate"],
        &[
            ("ROSTER_ENTRA_LOGIN_URL", "http://127.0.0.1:9"),
            ("ROSTER_GRAPH_URL", "http://127.0.0.1:9"),
            ("ROSTER_SALESFORCE_LOGIN_URL", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn yaml_1_2_yes_and_no_stay_text() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("yaml-yes-no");
    let config = read("examples/demo/roster.yaml").replace(
        "  - {target: Department, source: department}",
        "  - {target: Department, constant: NO}\n  - {target: Division, constant: yes}",
    );
    assert!(config.contains("constant: NO"));
    scratch.write("roster.yaml", config);
    let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
    assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let create = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "create")
        .unwrap();
    assert_eq!(create["after"]["Department"], "NO");
    assert_eq!(create["after"]["Division"], "yes");
}

#[test]
fn explain_takes_an_object_id() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("explain-by-id");
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap();
    let by_upn = emulator.roster(
        &scratch.dir,
        &["-c", config, "explain", "noah.okafor@contoso.com"],
        &[],
    );
    let by_id = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            config,
            "explain",
            "0000000e-0000-0000-0000-000000000003",
        ],
        &[],
    );
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    assert!(
        by_id.stdout.contains("noah.okafor@contoso.com"),
        "{}",
        by_id.stdout
    );
    assert_eq!(by_id.stdout, by_upn.stdout);
}

#[test]
fn target_takes_object_ids_and_repeats() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("target-ids");
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap();
    let plan = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["-c", config, "plan", "--format", "json"];
        args.extend(extra);
        let out = emulator.roster(&scratch.dir, &args, &[]);
        assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let full = plan(&[]);
    let changes = full["changes"].as_array().unwrap();
    let with_id: Vec<&serde_json::Value> = changes
        .iter()
        .filter(|c| c["source_id"].is_string())
        .collect();
    let (first, second) = (with_id[0], with_id[with_id.len() - 1]);
    let id = first["source_id"].as_str().unwrap();
    let key = second["key"].as_str().unwrap();
    let targeted = plan(&["--target", id, "--target", key]);
    let mut keys: Vec<&str> = targeted["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    let mut expected = vec![first["key"].as_str().unwrap(), key];
    expected.sort_unstable();
    assert_eq!(keys, expected);
}

#[test]
fn verbosity_flags_and_rust_log() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("verbosity");
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap();
    let run = |flags: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["-c", config];
        args.extend(flags);
        args.push("plan");
        let out = emulator.roster(&scratch.dir, &args, env);
        assert_eq!(out.code, 0, "{flags:?}: {}", out.stderr);
        out
    };
    // Off a terminal: no progress, no colour; warnings are part of the plan.
    let plain = run(&[], &[]);
    assert_eq!(plain.stderr, "");
    assert!(!plain.stdout.contains('\u{1b}'), "colour off a terminal");
    assert!(
        plain
            .stdout
            .contains("Warning: group \"SF Support\" contains the nested group")
    );
    // -v logs every request with its status and duration; RUST_LOG does the same.
    for (flags, env) in [
        (&["-v"][..], &[][..]),
        (&[][..], &[("RUST_LOG", "roster=info")][..]),
    ] {
        let logged = run(flags, env);
        let requests = logged
            .stderr
            .lines()
            .filter(|l| l.contains(" INFO ") && l.contains(" -> 200 in "))
            .count();
        assert!(requests >= 10, "{flags:?} {env:?}: {}", logged.stderr);
        assert_eq!(logged.stdout, plain.stdout);
    }
    // -q: only the requested output.
    let quiet = run(&["-q"], &[]);
    assert_eq!(quiet.stderr, "");
    assert!(
        quiet.stdout.contains("\nPlan: 23 to create"),
        "{}",
        quiet.stdout
    );
}

#[test]
fn colour_and_progress_only_on_a_terminal() {
    use crate::support::{OnTerminal, run_on_terminal};
    let emulator = Emulator::start("examples/demo/world.yaml");
    // Slow enough that the progress lines are drawn while roster reads.
    emulator.admin("latency", &serde_json::json!({"ms": 40}));
    let scratch = Scratch::new("terminal");
    let config = repo().join("examples/demo/roster.yaml");
    let run = |which: OnTerminal, flags: &[&str], env: &[(&str, &str)]| {
        let mut command = crate::support::roster_command();
        command
            .args(["-c", config.to_str().unwrap()])
            .args(flags)
            .arg("plan")
            .current_dir(&scratch.dir)
            // A terminal says what it is; without TERM (or with `dumb`) colours are off.
            .env("TERM", "xterm-256color")
            .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied());
        let (code, shown, piped) = run_on_terminal(command, which);
        assert_eq!(code, 0, "{flags:?} {env:?}:\n{shown}\n{piped}");
        (shown, piped)
    };
    // An SGR sequence (a colour or bold), as opposed to the cursor movement progress uses.
    let sgr = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();

    // stdout a terminal: the plan in colour; off a terminal (stderr a pipe): no progress.
    let (plan, stderr) = run(OnTerminal::Stdout, &[], &[]);
    assert!(sgr.is_match(&plan), "no colour on a terminal:\n{plan}");
    assert!(plan.contains("Plan: 23 to create"), "{plan}");
    assert_eq!(stderr, "", "progress off a terminal");
    for (flags, env) in [
        (&["--no-color"][..], &[][..]),
        (&[][..], &[("NO_COLOR", "1")][..]),
    ] {
        let (uncoloured, _) = run(OnTerminal::Stdout, flags, env);
        assert!(
            !sgr.is_match(&uncoloured),
            "{flags:?} {env:?}:\n{uncoloured}"
        );
        assert!(uncoloured.contains("Plan: 23 to create"), "{uncoloured}");
    }

    // stderr a terminal: progress lines for both sides; the plan on the pipe has no colour.
    let (progress, plan) = run(OnTerminal::Stderr, &[], &[]);
    assert!(
        progress.contains("Entra") && progress.contains("Salesforce"),
        "no progress on a terminal:\n{progress:?}"
    );
    assert!(
        !sgr.is_match(&plan) && plan.contains("Plan: 23 to create"),
        "{plan}"
    );
    // Progress labels are bold on a terminal, and plain with colours off.
    assert!(sgr.is_match(&progress), "{progress:?}");
    for (flags, env) in [
        (&["--no-color"][..], &[][..]),
        (&[][..], &[("NO_COLOR", "1")][..]),
    ] {
        let (unstyled, _) = run(OnTerminal::Stderr, flags, env);
        assert!(unstyled.contains("Entra"), "{unstyled:?}");
        assert!(!sgr.is_match(&unstyled), "{flags:?} {env:?}: {unstyled:?}");
    }
    // -q draws no progress, even on a terminal.
    let (quiet, _) = run(OnTerminal::Stderr, &["-q"], &[]);
    assert!(!quiet.contains("Entra"), "{quiet:?}");
}

#[test]
fn the_config_file_names_the_endpoints_and_the_environment_overrides_them() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("config-urls");
    let demo = read("examples/demo/roster.yaml");
    let with_urls = |url: &str| {
        let config = demo
            .replace(
                "  application:\n    display_name: Salesforce Sandbox\n",
                &format!(
                    "  application:\n    display_name: Salesforce Sandbox\n  \
                     login_url: {url}\n  graph_url: {url}\n"
                ),
            )
            .replace(
                "  login_url: https://test.salesforce.com\n",
                &format!("  login_url: {url}\n"),
            );
        assert_eq!(config.matches(url).count(), 3, "{config}");
        scratch.write("roster.yaml", config);
    };
    let plan = |without_url_variables: bool| {
        let mut command = crate::support::roster_command();
        command
            .args(["plan", "--format", "json"])
            .current_dir(&scratch.dir)
            .env("NO_COLOR", "1");
        for (name, value) in &emulator.env {
            if !(without_url_variables && name.ends_with("_URL")) {
                command.env(name, value);
            }
        }
        let out = command.output().unwrap();
        // The plan without the config's digest, which the URLs change.
        let plan = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .map(|mut plan| {
                plan["config_sha256"].take();
                plan
            })
            .unwrap_or_default();
        (
            out.status.code().unwrap(),
            plan,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    scratch.write("roster.yaml", &demo);
    let (code, reference, stderr) = plan(false);
    assert_eq!(code, 0, "{stderr}");

    // The config's own URLs, with no variable: the same plan, from the same emulator.
    with_urls(&emulator.base);
    let (code, from_file, stderr) = plan(true);
    assert_eq!(code, 0, "{stderr}");
    assert!(from_file == reference, "not the same plan");

    // Config URLs nothing listens on, overridden by the variables: the same plan again.
    with_urls("http://127.0.0.1:9");
    let (code, overridden, stderr) = plan(false);
    assert_eq!(code, 0, "{stderr}");
    assert!(overridden == reference, "not the same plan");
}

#[test]
fn scope_assignment_all_takes_users_the_application_is_not_assigned_to() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("assignment-all");
    let plan = |config: String| -> serde_json::Value {
        scratch.write("roster.yaml", config);
        let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
        assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let keys = |plan: &serde_json::Value| -> Vec<String> {
        ["changes", "errors"]
            .iter()
            .flat_map(|list| plan[list].as_array().unwrap().clone())
            .map(|c| c["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let demo = read("examples/demo/roster.yaml");
    // Ella (Marketing) is assigned to another application only.
    let assigned = plan(demo.clone());
    assert!(
        !keys(&assigned)
            .iter()
            .any(|k| k == "ella.petrova@contoso.com")
    );
    let all = plan(demo.replace("  assignment: assigned", "  assignment: all"));
    assert!(
        keys(&all).iter().any(|k| k == "ella.petrova@contoso.com"),
        "{:?}",
        keys(&all)
    );
    assert!(
        all["summary"]["in_scope"].as_u64() > assigned["summary"]["in_scope"].as_u64(),
        "{} vs {}",
        all["summary"],
        assigned["summary"]
    );
}

#[test]
fn synthetic_worlds_follow_their_seed_and_latency_is_added() {
    let plan_of = |seed: &str, latency: &str| {
        let scratch = Scratch::new(&format!("seed-{seed}-{latency}"));
        let emulator = Emulator::start_with(
            &[
                "--synthetic",
                "60",
                "--seed",
                seed,
                "--latency-ms",
                latency,
                "--write-config",
                "roster.yaml",
            ],
            &scratch.dir,
        );
        let started = std::time::Instant::now();
        let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
        let took = started.elapsed();
        assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
        let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        (plan["changes"].clone(), took)
    };
    let (seven, _) = plan_of("7", "0");
    let (again, _) = plan_of("7", "0");
    let (eight, _) = plan_of("8", "0");
    assert_eq!(seven, again, "one seed, one world");
    assert_ne!(seven, eight, "another seed, another world");
    // Every request waits the latency: a plan (a few rounds of requests) takes at least one.
    let (_, slow) = plan_of("7", "300");
    assert!(slow >= std::time::Duration::from_millis(300), "{slow:?}");
}

#[test]
fn the_audit_log_is_appended_to_never_rewritten() {
    let world = crate::apply::World::demo("audit-append");
    let plan = world.plan_json();
    let key = plan["changes"][0]["key"].as_str().unwrap().to_owned();
    let first = world.roster(&["plan", "--target", &key, "--out", "one.json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let one = world.roster(&["apply", "one.json"]);
    assert_eq!(one.code, 0, "{}\n{}", one.stdout, one.stderr);
    let path = world.scratch.dir.join("roster-audit.jsonl");
    let before = std::fs::read_to_string(&path).unwrap();
    assert_eq!(before.lines().count(), 1);
    let rest = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "2"]);
    assert_eq!(rest.code, 0, "{}\n{}", rest.stdout, rest.stderr);
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with(&before),
        "the first apply's line was rewritten"
    );
    let total = plan["changes"].as_array().unwrap().len();
    assert_eq!(
        after.lines().count(),
        total,
        "one line per change, over both applies"
    );
    // Each line names what an auditor asks: when, which plan and config, which org, what.
    for line in after.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in [
            "time",
            "plan_sha256",
            "config_sha256",
            "org_id",
            "action",
            "key",
            "result",
            "steps",
        ] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
    }
}

#[test]
fn no_key_material_appears_with_certificate_and_jwt_credentials() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("no-key-material");
    let key_path = repo().join("examples/demo/keys/demo-signing.key");
    let cert_path = repo().join("examples/demo/keys/demo-signing.crt");
    let (key_path, cert_path) = (key_path.to_str().unwrap(), cert_path.to_str().unwrap());
    let config = read("examples/demo/roster.yaml")
        .replace(
            "    client_secret: {env: AZURE_CLIENT_SECRET}",
            &format!(
                "    certificate: {{private_key: {{file: {key_path}}}, certificate: {{file: {cert_path}}}}}"
            ),
        )
        .replace(
            "    client_credentials:\n      client_id: 3MVG9contoso.roster.dev1\n      client_secret: {env: SF_CLIENT_SECRET}",
            &format!(
                "    jwt_bearer:\n      client_id: 3MVG9contoso.roster.dev1\n      username: integration@contoso.com.dev1\n      private_key: {{file: {key_path}}}"
            ),
        );
    assert!(
        config.contains("jwt_bearer") && config.contains("certificate:"),
        "{config}"
    );
    scratch.write("roster.yaml", config);
    let mut said = String::new();
    for args in [
        &["-vv", "plan", "--out", "plan.json"][..],
        &["-vv", "snapshot", "--out", "snap"][..],
        &["-vv", "apply", "plan.json"][..],
    ] {
        let out = emulator.roster(&scratch.dir, args, &[]);
        assert!(out.code == 0 || out.code == 2, "{args:?}: {}", out.stderr);
        said.push_str(&out.stdout);
        said.push_str(&out.stderr);
    }
    for file in [
        "plan.json",
        "snap/entra.json",
        "snap/salesforce.json",
        "roster-audit.jsonl",
    ] {
        said.push_str(&std::fs::read_to_string(scratch.dir.join(file)).unwrap());
    }
    // Neither the key (any line of it), nor a signed assertion, nor a token.
    let key = std::fs::read_to_string(key_path).unwrap();
    for line in key.lines().filter(|l| l.len() > 20) {
        assert!(
            !said.contains(line),
            "a line of the private key was written"
        );
    }
    assert!(!said.contains("PRIVATE KEY"));
    assert!(
        !said.contains("eyJ"),
        "a JWT (assertion or token) was written"
    );
    assert!(
        !said.to_lowercase().contains("bearer "),
        "an authorization header was written"
    );
}

#[test]
fn a_plan_made_for_another_org_is_stale() {
    let scratch = Scratch::new("another-org");
    let ours = Emulator::start("examples/demo/world.yaml");
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap();
    let planned = ours.roster(
        &scratch.dir,
        &["-c", config, "plan", "--out", "plan.json"],
        &[],
    );
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    // The same world under another org id: the credentials work, the plan is not for it.
    let world = read("examples/demo/world.yaml").replacen(
        "salesforce:\n",
        "salesforce:\n  org_id: 00D8c0000000099EAA\n",
        1,
    );
    let path = scratch.write("other-world.yaml", world);
    let theirs = Emulator::start_with(&["--world", path.to_str().unwrap()], &scratch.dir);
    let applied = theirs.roster(&scratch.dir, &["-c", config, "apply", "plan.json"], &[]);
    assert_eq!(applied.code, 1, "{}\n{}", applied.stdout, applied.stderr);
    assert!(
        applied.stderr.contains("Saved plan is stale")
            && applied.stderr.contains("the plan was made for org ")
            && applied.stderr.contains("00D8c0000000099EAA"),
        "{}",
        applied.stderr
    );
    assert!(
        !scratch.dir.join("roster-audit.jsonl").exists(),
        "nothing applied"
    );
}

#[test]
fn the_json_apply_report_has_the_fields_the_readme_lists() {
    let world = crate::apply::World::demo("apply-report-fields");
    let out = world.roster(&["apply", "--auto-approve", "--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for field in [
        "format_version",
        "complete",
        "summary",
        "stopped",
        "changes",
    ] {
        assert!(report.get(field).is_some(), "{field} missing: {report}");
    }
    assert_eq!(report["complete"], true);
    for field in [
        "created",
        "updated",
        "reactivated",
        "deactivated",
        "frozen",
        "failed",
        "frozen_instead",
        "unknown",
        "incomplete",
        "not_attempted",
    ] {
        assert!(
            report["summary"][field].is_u64(),
            "summary.{field} missing: {}",
            report["summary"]
        );
    }
    assert_eq!(report["summary"]["created"], 23);
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 30);
    for change in changes {
        for field in [
            "action",
            "key",
            "target_id",
            "result",
            "steps",
            "assignment_ids",
            "note",
        ] {
            assert!(change.get(field).is_some(), "{field} missing: {change}");
        }
    }
}

#[test]
fn apply_writes_200_records_a_request_below_the_bulk_threshold() {
    let world = crate::apply::World::synthetic("batch-sizes", 700, 0);
    let plan = world.plan_json();
    let changes = plan["changes"].as_array().unwrap();
    let count = |action: &str| changes.iter().filter(|c| c["action"] == action).count();
    let creates = count("create");
    assert!(creates > 400, "{creates} creates");
    // One write per kind of grant (public groups and queues together), licences Salesforce
    // assigns itself not written.
    let mut grants: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for g in changes
        .iter()
        .flat_map(|c| c["grants"]["add"].as_array().unwrap())
        .filter(|g| g.get("implied_by").is_none())
    {
        let kind = g["kind"].as_str().unwrap();
        let write = if kind == "queue" {
            "public_group"
        } else {
            kind
        };
        *grants.entry(write).or_default() += 1;
    }
    let inserts = creates.div_ceil(200) + grants.values().map(|n| n.div_ceil(200)).sum::<usize>();
    let out = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "1000"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        usize::try_from(world.requests_to("POST /services/data/{v}/composite/sobjects")).unwrap(),
        inserts,
        "{creates} creates and grants {grants:?}: {}",
        world.requests()
    );
    // Below the default threshold of 2,000 records: no Bulk API job.
    assert_eq!(world.requests_to("POST /services/data/{v}/jobs/ingest"), 0);
}
