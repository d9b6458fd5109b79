//! `roster plan`, `show` and `explain` against a `roster emulate` child with the demo world:
//! all three formats snapshotted, exit codes, saved plans, and a failed read that prints no plan.

use crate::support::{Emulator, Scratch, read, repo};

fn demo_config() -> String {
    repo()
        .join("examples/demo/roster.yaml")
        .display()
        .to_string()
}

/// The demo world served, a scratch directory named `name`, and the demo config's plan saved
/// there as `demo.plan`; the config's path last.
fn saved_demo_plan(name: &str) -> (Emulator, Scratch, String) {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new(name);
    let config = demo_config();
    let saved = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--out", "demo.plan"],
        &[],
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    (emulator, scratch, config)
}

/// The emulator's port differs per run.
fn stable(text: &str) -> String {
    regex::Regex::new(r"http://127\.0\.0\.1:\d+")
        .unwrap()
        .replace_all(text, "http://127.0.0.1:PORT")
        .into_owned()
}

#[test]
fn demo_plan_in_three_formats() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-formats");
    let config = demo_config();
    for format in ["text", "markdown", "json"] {
        let out = emulator.roster(
            &scratch.dir,
            &["-c", &config, "plan", "--format", format],
            &[],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        insta::assert_snapshot!(format!("demo_plan_{format}"), stable(&out.stdout));
    }
    let masked = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--format", "markdown", "--mask"],
        &[],
    );
    assert!(
        masked.stdout.contains("`•••@contoso.com`"),
        "{}",
        masked.stdout
    );
    assert!(!masked.stdout.contains("ava.martinez@"));
    // A saved plan shows masked too.
    let saved = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--out", "saved.json"],
        &[],
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let shown = scratch.roster(&["show", "saved.json", "--mask"]);
    assert!(
        shown.stdout.contains("•••@contoso.com") && !shown.stdout.contains("ava.martinez@"),
        "{}",
        shown.stdout
    );
    // In GitHub Actions the comment links the run that keeps the whole plan.
    let in_actions = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--format", "markdown"],
        &[
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "contoso/iam"),
            ("GITHUB_RUN_ID", "4242"),
        ],
    );
    assert!(
        in_actions
            .stdout
            .contains("[this workflow run](https://github.com/contoso/iam/actions/runs/4242)"),
        "{}",
        in_actions.stdout
    );
}

#[test]
fn detailed_exitcode_is_two_with_changes_and_zero_without() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-exitcode");
    let config = demo_config();
    let changes = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--detailed-exitcode"],
        &[],
    );
    assert_eq!(changes.code, 2, "{}", changes.stderr);
    assert!(changes.stdout.contains(
        "Plan: 23 to create, 4 to update, 1 to reactivate, 2 to deactivate; 1 user needs attention."
    ));
    // A target that names nobody is an error with the closest name.
    let nobody = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            &config,
            "plan",
            "--target",
            "ava.martines@contoso.com",
        ],
        &[],
    );
    assert_eq!(nobody.code, 1, "{}", nobody.stdout);
    assert!(
        nobody
            .stderr
            .contains("--target ava.martines@contoso.com names no Entra user")
            && nobody
                .stderr
                .contains("did you mean ava.martinez@contoso.com?"),
        "{}",
        nobody.stderr
    );
    // A Salesforce Username targets its user; one whom nothing changes for: no changes, exit 0.
    let none = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            &config,
            "plan",
            "--detailed-exitcode",
            "--target",
            "integration@contoso.com.dev1",
        ],
        &[],
    );
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(
        none.stdout
            .contains("Warning: this plan is limited to --target integration@contoso.com.dev1")
    );
    // The JSON plan limited to `--target key`.
    let targeted = |key: &str| -> serde_json::Value {
        let out = emulator.roster(
            &scratch.dir,
            &["-c", &config, "plan", "--format", "json", "--target", key],
            &[],
        );
        serde_json::from_str(&out.stdout).unwrap()
    };
    let by_username = targeted("liam.chen@contoso.com.dev1");
    assert_eq!(by_username["changes"].as_array().unwrap().len(), 1);
    assert_eq!(by_username["changes"][0]["key"], "liam.chen@contoso.com");
    // The object id as PowerShell writes a GUID, in braces: the same user.
    let by_id = targeted("{0000000E-0000-0000-0000-000000000002}");
    assert_eq!(by_id["changes"], by_username["changes"]);
    assert!(
        none.stdout
            .ends_with("No changes. Salesforce matches the configuration.\n"),
        "{}",
        none.stdout
    );
    let plain = emulator.roster(&scratch.dir, &["-c", &config, "plan"], &[]);
    assert_eq!(plain.code, 0);
}

/// A saved plan is a file anyone can edit: `show` tells what its changes do, whatever its
/// headline, summary and deactivation count say, and warns that they did not match.
#[test]
fn show_counts_a_saved_plan_from_its_changes_not_its_headline() {
    let (_emulator, scratch, _) = saved_demo_plan("plan-show-recount");
    let shown = scratch.roster(&["show", "demo.plan"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(!shown.stderr.contains("warning"), "{}", shown.stderr);
    let true_headline = shown.stdout.lines().last().unwrap().to_owned();
    assert!(true_headline.contains("to deactivate"), "{true_headline}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.dir.join("demo.plan")).unwrap())
            .unwrap();
    // Headline and summary say "no changes"; the safety count says no deactivation.
    let mut quiet = saved.clone();
    quiet["headline"] = "No changes. Salesforce matches the configuration.".into();
    for (_, n) in quiet["summary"].as_object_mut().unwrap() {
        *n = 0.into();
    }
    quiet["safety"]["deactivations"] = 0.into();
    scratch.write("quiet.plan", quiet.to_string());
    for format in ["text", "markdown", "json"] {
        let out = scratch.roster(&["show", "quiet.plan", "--format", format]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("quiet.plan's summary, headline or deactivation count does not match"),
            "{}",
            out.stderr
        );
        assert!(
            !out.stdout.contains("No changes."),
            "{format}: {}",
            out.stdout
        );
        let deactivating = match format {
            "text" => true_headline.clone(),
            "markdown" => "user(s) will be deactivated or frozen".to_owned(),
            _ => "\"deactivate\": 2".to_owned(),
        };
        assert!(
            out.stdout.contains(&deactivating),
            "{format}: {}",
            out.stdout
        );
    }
    // Every change listed twice: counted twice, as listed.
    let mut doubled = saved.clone();
    let changes = doubled["changes"].as_array().unwrap().clone();
    doubled["changes"]
        .as_array_mut()
        .unwrap()
        .extend(changes.iter().cloned());
    scratch.write("doubled.plan", doubled.to_string());
    let out = scratch.roster(&["show", "doubled.plan", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        shown["summary"]["create"].as_u64().unwrap(),
        2 * saved["summary"]["create"].as_u64().unwrap()
    );
}

/// A large plan goes through a pipe 1 MiB large, not the default 64 KiB (see
/// `widen_stdout_pipe`), whatever the format.
#[cfg(target_os = "linux")]
#[test]
fn a_plan_piped_to_a_reader_widens_the_pipe() {
    let (_emulator, scratch, _) = saved_demo_plan("plan-pipe");
    for format in ["json", "text", "markdown"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .current_dir(&scratch.dir)
            .args(["show", "demo.plan", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(
            rustix::pipe::fcntl_getpipe_size(&out).unwrap(),
            1 << 20,
            "{format}"
        );
    }
}

/// Stdout open for reading only (`1<file`): each write fails, and Rust's standard library takes
/// that for success on stdout. roster refuses to start instead of losing the plan or the apply
/// report and exiting 0: it names stdout, exits 1, and changes nothing.
#[cfg(target_os = "linux")]
/// `--out` replaces a regular file whole, and nothing else: a pipe, or a link (whose target
/// would be left and the link turned into a file), is refused and left as it was — as a device
/// would be (`--out /dev/null` run as root made /dev/null a plan file).
#[test]
fn a_plan_is_not_saved_over_a_pipe_or_a_link() {
    let (emulator, scratch, config) = saved_demo_plan("plan-out-irregular");
    let pipe = scratch.dir.join("pipe.out");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("demo.plan", scratch.dir.join("link.out")).unwrap();
    let saved = std::fs::read(scratch.dir.join("demo.plan")).unwrap();
    for name in ["pipe.out", "link.out"] {
        let out = emulator.roster(&scratch.dir, &["-c", &config, "plan", "--out", name], &[]);
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "cannot write the plan to {name}: it is not a regular file"
            )),
            "{name}: {}",
            out.stderr
        );
    }
    let kind = |name: &str| {
        std::fs::symlink_metadata(scratch.dir.join(name))
            .unwrap()
            .file_type()
    };
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind("pipe.out")));
    assert!(kind("link.out").is_symlink());
    assert_eq!(std::fs::read(scratch.dir.join("demo.plan")).unwrap(), saved);
}

#[test]
fn stdout_open_for_reading_only_is_refused_before_anything_is_done() {
    let (emulator, scratch, config) = saved_demo_plan("plan-read-only-stdout");
    let shown = emulator.roster(&scratch.dir, &["show", "demo.plan"], &[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let stdout = scratch.dir.join("stdout.txt");
    std::fs::write(&stdout, "kept\n").unwrap();
    for args in [
        vec!["show", "demo.plan"],
        vec!["-c", &config, "plan"],
        vec!["-c", &config, "apply", "demo.plan"],
        vec!["--help"],
        vec!["--version"],
    ] {
        let mut command = crate::support::roster_command();
        command
            .args(&args)
            .current_dir(&scratch.dir)
            .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::fs::File::open(&stdout).unwrap());
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("stdout is open for reading only"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(std::fs::read_to_string(&stdout).unwrap(), "kept\n");
    // Help and version written to a full disk fail like any output.
    let full = crate::support::roster_command()
        .arg("--version")
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&full.stderr).contains("No space left on device"));
    // The refused apply changed nothing: the org still needs the same changes.
    let again = emulator.roster(&scratch.dir, &["-c", &config, "plan"], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, shown.stdout);
}

#[test]
fn a_saved_plan_shows_again_the_same() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-saved");
    let config = demo_config();
    let planned = emulator.roster(
        &scratch.dir,
        &["-c", &config, "plan", "--out", "demo.plan"],
        &[],
    );
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(planned.stdout.contains("Saved the plan to demo.plan"));
    let shown = emulator.roster(&scratch.dir, &["show", "demo.plan"], &[]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    // The same plan, whole: what `plan` printed is what `show` prints, then where it was saved.
    let rest = planned
        .stdout
        .strip_prefix(&shown.stdout)
        .unwrap_or_else(|| panic!("{}\n---\n{}", planned.stdout, shown.stdout));
    assert!(
        rest.trim_start().starts_with("Saved the plan to demo.plan"),
        "{rest}"
    );
    assert!(
        shown.stdout.contains("salesforce_user[") && shown.stdout.contains("\nPlan: 23 to create"),
        "{}",
        shown.stdout
    );
    let markdown = emulator.roster(
        &scratch.dir,
        &["show", "demo.plan", "--format", "markdown"],
        &[],
    );
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    assert!(
        markdown
            .stdout
            .starts_with("<!-- roster-plan -->\n### roster plan")
            && markdown.stdout.contains("**Plan: 23 to create")
            && markdown
                .stdout
                .contains("| Grant | Name | Added | Removed |"),
        "{}",
        markdown.stdout
    );
    let json = emulator.roster(
        &scratch.dir,
        &["show", "demo.plan", "--format", "json"],
        &[],
    );
    let saved = std::fs::read_to_string(scratch.dir.join("demo.plan")).unwrap();
    assert_eq!(json.stdout, saved);
    let plan: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(plan["format_version"], 2);
    assert_eq!(plan["config_sha256"].as_str().unwrap().len(), 64);
    // The committed schema accepts the saved plan.
    let schema: serde_json::Value =
        serde_json::from_str(&crate::support::read("schemas/plan.schema.json")).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&plan));
    scratch.write("bad.plan", "{\"format_version\": 9}");
    let bad = emulator.roster(&scratch.dir, &["show", "bad.plan"], &[]);
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr,
        "error: bad.plan is not a roster plan: it has format_version 9, this roster reads 2\n"
    );
    // Where a file stops being a plan, it is named as file:line:col.
    for (text, error) in [
        (
            "{\"format_version\": 2, \"x\": }",
            "error: cut.plan:1:28 is not a roster plan: expected value\n",
        ),
        (
            "{\n  \"format_version\": 2,\n  \"changes\": [1,\n",
            "error: cut.plan:4:1 is not a roster plan: EOF while parsing a value\n",
        ),
        (
            "\u{feff}{\"format_version\": 2}",
            "error: cut.plan:1:1 is not a roster plan: it starts with a byte-order mark, which \
             roster never writes (an editor added it): save it as UTF-8 without one\n",
        ),
        (
            "{\"format_version\": 2,\n \"headline\": 7}",
            "error: cut.plan:2:14 is not a roster plan: invalid type: integer `7`, expected a string\n",
        ),
        // A field given twice in a change: which value would be written cannot be told.
        (
            "{\"format_version\": 2,\n \"changes\": [{\"after\": {\"Alias\": \"a\", \"Alias\": \"b\"}}]}",
            "error: cut.plan:2:45 is not a roster plan: the key \"Alias\" is given twice\n",
        ),
    ] {
        scratch.write("cut.plan", text);
        let cut = emulator.roster(&scratch.dir, &["show", "cut.plan"], &[]);
        assert_eq!((cut.code, cut.stderr.as_str()), (1, error), "{text}");
    }
}

/// A field taken out of a saved plan is named at the opening brace of the object that lacks it
/// (helper-55: a plan without its `summary` was placed at the end of the file).
#[test]
fn a_missing_field_is_named_where_its_object_opens() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-missing-field");
    let planned = emulator.roster(
        &scratch.dir,
        &["-c", &demo_config(), "plan", "--format", "json"],
        &[],
    );
    let mut plan: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
    plan.as_object_mut().unwrap().remove("summary");
    plan["changes"][1].as_object_mut().unwrap().remove("action");
    let text = serde_json::to_string_pretty(&plan).unwrap();
    scratch.write("cut.plan", &text);
    let cut = emulator.roster(&scratch.dir, &["show", "cut.plan"], &[]);
    // The second change opens at the second "{" of the changes' indentation.
    let changes = text.find("\"changes\": [").unwrap();
    let second = text[changes..].match_indices("\n    {").nth(1).unwrap().0 + changes + 1;
    let line = 1 + text[..second].matches('\n').count();
    assert_eq!(
        (cut.code, cut.stderr.as_str()),
        (
            1,
            format!("error: cut.plan:{line}:5 is not a roster plan: missing field `action`\n")
                .as_str()
        )
    );
    plan["changes"][1]["action"] = "create".into();
    scratch.write("cut.plan", serde_json::to_string_pretty(&plan).unwrap());
    let cut = emulator.roster(&scratch.dir, &["show", "cut.plan"], &[]);
    assert_eq!(
        (cut.code, cut.stderr.as_str()),
        (
            1,
            "error: cut.plan:1:1 is not a roster plan: missing field `summary`\n"
        )
    );
}

#[test]
fn a_failed_graph_read_exits_one_and_prints_no_plan() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    emulator.admin(
        "faults",
        &serde_json::json!({"route": "GET /v1.0/servicePrincipals", "kind": "status", "status": 403, "count": 1}),
    );
    let scratch = Scratch::new("plan-failed");
    let out = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            &demo_config(),
            "plan",
            "--detailed-exitcode",
            "--out",
            "x.plan",
        ],
        &[],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("error: reading Microsoft Entra failed: Microsoft Graph GET /v1.0/servicePrincipals: HTTP 403"), "{}", out.stderr);
    assert!(!scratch.dir.join("x.plan").exists());
}

#[test]
fn explain_walks_through_one_user() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-explain");
    let out = emulator.roster(
        &scratch.dir,
        &["-c", &demo_config(), "explain", "noah.okafor@contoso.com"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("explain_noah", stable(&out.stdout));
    // Pasted with spaces around it: the same user.
    let pasted = emulator.roster(
        &scratch.dir,
        &["-c", &demo_config(), "explain", " noah.okafor@contoso.com "],
        &[],
    );
    assert_eq!(pasted.stdout, out.stdout, "{}", pasted.stderr);
    // By the object id, plain or as PowerShell writes a GUID: the same user.
    let by_id = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            &demo_config(),
            "explain",
            "0000000e-0000-0000-0000-000000000003",
        ],
        &[],
    );
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    for braced in [
        "{0000000E-0000-0000-0000-000000000003}",
        "(0000000e-0000-0000-0000-000000000003)",
    ] {
        let out = emulator.roster(
            &scratch.dir,
            &["-c", &demo_config(), "explain", braced],
            &[],
        );
        assert_eq!(out.stdout, by_id.stdout, "{braced}: {}", out.stderr);
    }
    // A key longer than any user's is refused before any request (no URL could carry it),
    // and not echoed back.
    let long = "k".repeat(100_000);
    let too_long = emulator.roster(&scratch.dir, &["-c", &demo_config(), "explain", &long], &[]);
    assert_eq!(too_long.code, 1);
    assert!(
        too_long
            .stderr
            .contains("<USER>: it is 100000 characters long, and no user's key is longer than 256")
            && too_long.stderr.len() < 1_000,
        "{}",
        &too_long.stderr[..too_long.stderr.len().min(2_000)]
    );
    let unknown = emulator.roster(
        &scratch.dir,
        &["-c", &demo_config(), "explain", "nobody@contoso.com"],
        &[],
    );
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("neither Entra nor the Salesforce org has a user \"nobody@contoso.com\"")
            && unknown
                .stderr
                .contains("or a Salesforce Username or User id"),
        "{}",
        unknown.stderr
    );
    // A Salesforce User id in the wrong case: that case counts is said (helper-57).
    let salesforce = emulator.roster(
        &scratch.dir,
        &["-c", &demo_config(), "explain", "0058C0000000003"],
        &[],
    );
    assert_eq!(salesforce.code, 1);
    assert!(
        salesforce
            .stderr
            .contains("nor is it a Salesforce user's id (a 15-character id is case-sensitive")
            && !salesforce.stderr.contains("give an Entra"),
        "{}",
        salesforce.stderr
    );
    assert!(
        !unknown.stderr.contains("Salesforce User id"),
        "{}",
        unknown.stderr
    );
    let blank = emulator.roster(&scratch.dir, &["-c", &demo_config(), "explain", "  "], &[]);
    assert_eq!(blank.code, 1);
    assert!(blank.stderr.contains("give a user"), "{}", blank.stderr);
}

#[test]
fn explain_looks_up_users_roster_did_not_read_and_works_offline() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-explain-unread");
    let config = demo_config();
    let explain = |args: &[&str]| {
        let mut all = vec!["-c", config.as_str(), "-q", "explain"];
        all.extend_from_slice(args);
        emulator.roster(&scratch.dir, &all, &[])
    };
    // Only in a group nested in an assigned group: Entra provisions direct members only.
    let nested = explain(&["abigail.walsh@contoso.com"]);
    assert_eq!(nested.code, 0, "{}", nested.stderr);
    assert!(
        nested.stdout.contains(
            "member of SF Support Tier 2, which is nested in the assigned group SF Support"
        ) && nested.stdout.contains("Plan: no change for this user."),
        "{}",
        nested.stdout
    );
    // Assigned to nothing of ours, looked up by object id as well.
    let other = explain(&["0000000e-0000-0000-0000-000000000017", "--format", "json"]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let other: serde_json::Value = serde_json::from_str(&other.stdout).unwrap();
    assert_eq!(other["key"], "ella.petrova@contoso.com");
    assert_eq!(other["in_scope"], false);
    assert_eq!(
        other["reasons"][0],
        "not assigned to Salesforce Sandbox, directly or through a group they are a direct member of"
    );
    // A Salesforce user no Entra user links: its change, from the Salesforce side.
    let orphan = explain(&["former.contractor@contoso.com.dev1"]);
    assert_eq!(orphan.code, 0, "{}", orphan.stderr);
    assert!(
        orphan
            .stdout
            .contains("Salesforce user former.contractor@contoso.com.dev1")
            && orphan.stdout.contains(
                "salesforce_user[\"former.contractor@contoso.com.dev1\"] will be deactivated"
            ),
        "{}",
        orphan.stdout
    );
    // A protected Salesforce user: said to be protected.
    let admin = explain(&["admin@contoso.com.dev1"]);
    assert_eq!(admin.code, 0, "{}", admin.stderr);
    assert!(
        admin
            .stdout
            .contains("Plan: no change for this user: it is protected"),
        "{}",
        admin.stdout
    );
    // Offline: the snapshot explains whom it read, and says how to look up the rest.
    let snap = emulator.roster(
        &scratch.dir,
        &["-c", &config, "-q", "snapshot", "--out", "snap"],
        &[],
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let offline = scratch.roster(&[
        "-c",
        &config,
        "explain",
        "ava.martinez@contoso.com",
        "--snapshot",
        "snap",
    ]);
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    assert!(
        offline.stdout.contains("Scope: in scope"),
        "{}",
        offline.stdout
    );
    let unread = scratch.roster(&[
        "-c",
        &config,
        "explain",
        "abigail.walsh@contoso.com",
        "--snapshot",
        "snap",
    ]);
    assert_eq!(unread.code, 1);
    assert!(
        unread
            .stderr
            .contains("without --snapshot, roster explain looks the user up in Entra")
            // The snapshot holds the org too: that it was looked through is said (helper-82).
            && unread
                .stderr
                .contains("nor a Salesforce user's Username or id in it"),
        "{}",
        unread.stderr
    );
}

/// An Entra user roster did not read whose Salesforce account the plan deactivates (an orphan
/// their matching rules would find): `explain` of the Entra user names that account and the
/// deactivation, where it said only "no change".
#[test]
fn explain_of_an_unread_user_shows_what_happens_to_the_account_their_rules_find() {
    let scratch = Scratch::new("plan-explain-unread-account");
    let world = std::fs::read_to_string(repo().join("examples/demo/world.yaml")).unwrap();
    // The orphan's FederationIdentifier is Ella's, who is assigned to nothing of ours.
    let world = world
        .replace(
            "FederationIdentifier: former.contractor@contoso.com",
            "FederationIdentifier: ella.petrova@contoso.com",
        )
        // Liam's account (linked to Liam by his FederationIdentifier) has the Username Ella's
        // rules look for: no org lets two users share a FederationIdentifier (helper-82).
        .replace(
            "Username: liam.chen@contoso.com.dev1",
            "Username: ella.petrova@contoso.com.dev1",
        )
        // The protected admin account carries Logan's (also unassigned) UPN.
        .replace(
            "      Alias: sadmin\n",
            "      Alias: sadmin\n      FederationIdentifier: logan.fischer@contoso.com\n",
        );
    scratch.write("world.yaml", &world);
    let emulator = Emulator::start_with(&["--world", "world.yaml"], &scratch.dir);
    let config = demo_config();
    // `roster -c CONFIG explain USER [--format json]`: its stdout, after exit 0.
    let explain = |config: &str, user: &str, json: bool| {
        let format: &[&str] = if json { &["--format", "json"] } else { &[] };
        let args = [&["-c", config, "explain", user][..], format].concat();
        let out = emulator.roster(&scratch.dir, &args, &[]);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        out.stdout
    };
    let out = explain(&config, "ella.petrova@contoso.com", false);
    // The deactivation below is the plan's: not "no change" above it (helper-89).
    assert!(
        out.contains(
            "Plan: nothing is created or updated for this user; the plan changes a Salesforce \
             account their matching rules find, below."
        ) && !out.contains("no change for this user"),
        "{out}"
    );
    assert!(
        out.contains(
            "Their matching rule FederationIdentifier ← [userPrincipalName] finds the Salesforce \
             user former.contractor@contoso.com.dev1"
        ) && out.contains(
            "salesforce_user[\"former.contractor@contoso.com.dev1\"] will be deactivated"
        ) && out.contains(
            "which roster does not link to a user it did not read; it is linked to the Entra \
             user liam.chen@contoso.com:"
        ),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&explain(&config, "ella.petrova@contoso.com", true)).unwrap();
    assert_eq!(
        json["salesforce_users"][1]["change"]["action"], "deactivate",
        "{json}"
    );
    // A matching rule that fails for her (her department is no date) is said to, first.
    let demo = std::fs::read_to_string(&config).unwrap();
    let failing = demo.replacen(
        "matching:\n",
        "matching:\n  - {source: 'FormatDateTime([department], , \"yyyyMMdd\", \"yyyy-MM-dd\")', target: Division}\n",
        1,
    );
    assert_ne!(failing, demo);
    scratch.write("failing.yaml", &failing);
    let out = explain("failing.yaml", "ella.petrova@contoso.com", false);
    assert!(
        out.contains("Not every matching rule can be evaluated for them — matching rule 1")
            && out.contains("former.contractor@contoso.com.dev1"),
        "{out}"
    );
    // Over the deactivation threshold, the deactivation is shown with why apply refuses it.
    let strict = demo.replace("max_deactivations: 5", "max_deactivations: 1");
    assert_ne!(strict, demo);
    scratch.write("strict.yaml", &strict);
    let out = explain("strict.yaml", "ella.petrova@contoso.com", false);
    assert!(
        out.contains(
            "  but apply refuses the plan as it stands: its 2 deactivations exceed \
             `safety.max_deactivations` (1); `--allow-deactivations 2` lets it."
        ),
        "{out}"
    );
    // An account roster never touches is said to be protected.
    let admin = explain(&config, "logan.fischer@contoso.com", false);
    assert!(
        admin.contains("admin@contoso.com.dev1")
            && admin.contains("no change for it: it is protected"),
        "{admin}"
    );
    // Someone whose rules find no Salesforce user: nothing more is said.
    let other: serde_json::Value =
        serde_json::from_str(&explain(&config, "abigail.walsh@contoso.com", true)).unwrap();
    assert_eq!(other["salesforce_users"], serde_json::json!([]), "{other}");
}

#[test]
fn a_broken_expression_stops_at_the_config_and_nothing_is_read() {
    let scratch = Scratch::new("plan-broken-expression");
    let emulator = Emulator::start("examples/demo/world.yaml");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replacen(
            "expression: 'Append([userPrincipalName], \".dev1\")'",
            "expression: 'Append([userPrincipalName], \".dev1\"'",
            1,
        );
    assert!(config.contains("\".dev1\"'"));
    scratch.write("roster.yaml", config);
    let out = emulator.roster(&scratch.dir, &["plan"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("roster.yaml:"), "{}", out.stderr);
    assert!(out.stderr.contains("/mappings/"), "{}", out.stderr);
    // The config is parsed once, before anything else: no request reached Entra or Salesforce.
    let requests = emulator.admin_call(reqwest::Method::GET, "requests", None);
    assert_eq!(requests, serde_json::json!({}));
}

#[test]
fn explain_as_json_is_the_same_data() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-explain-json");
    let out = emulator.roster(
        &scratch.dir,
        &[
            "-c",
            &demo_config(),
            "explain",
            "noah.okafor@contoso.com",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let explained: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(explained["key"], "noah.okafor@contoso.com");
    assert_eq!(explained["scope"]["in_scope"], true);
    assert!(
        explained["matching"]["result"]
            .as_str()
            .unwrap()
            .starts_with("linked by"),
        "{explained}"
    );
    assert!(explained["fields"]["mappings"].as_array().unwrap().len() > 5);
    assert_eq!(explained["change"]["key"], "noah.okafor@contoso.com");
}

#[test]
fn a_refused_plan_is_shown_with_its_reason_and_exits_one() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-refused");
    // A scoping filter nobody passes: every managed user would be deactivated.
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace("value: Employee}", "value: Nobody}")
        .replace("value: Contractor}", "value: Nobody}");
    scratch.write("roster.yaml", config);
    let summary = scratch.dir.join("summary.md");
    let out = emulator.roster(
        &scratch.dir,
        &["plan"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("Plan refused: no Entra user is in scope"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("plan refused"), "{}", out.stderr);
    // The pull-request comment says why.
    let comment = std::fs::read_to_string(&summary).unwrap();
    assert!(
        comment.contains("**Plan refused:** no Entra user is in scope"),
        "{comment}"
    );
}

#[test]
fn the_job_summary_is_the_pull_request_comment_whatever_the_format() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-job-summary");
    let config = repo().join("examples/demo/roster.yaml");
    let summary = scratch.dir.join("summary.md");
    let env = [("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];
    let plan = |format: &str| {
        let _ = std::fs::remove_file(&summary);
        let out = emulator.roster(
            &scratch.dir,
            &["-c", config.to_str().unwrap(), "plan", "--format", format],
            &env,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        (out.stdout, std::fs::read_to_string(&summary).unwrap())
    };
    // The comment printed is the one appended to the summary (made once, written twice).
    let (comment, appended) = plan("markdown");
    assert!(comment.starts_with("<!-- roster-plan -->"), "{comment}");
    assert!(comment.contains("Plan: 23 to create"), "{comment}");
    assert_eq!(appended, format!("{comment}\n"));
    // Whatever stdout shows, the summary is that comment.
    for format in ["text", "json"] {
        let (shown, appended) = plan(format);
        assert_ne!(shown, comment);
        assert_eq!(appended, format!("{comment}\n"), "{format}");
    }
}

/// An unterminated escape sequence in an Entra value (`ESC P` opens a device control string)
/// made a terminal, and the stripping of escapes off a terminal, drop everything after it: the
/// rest of the plan, a deactivation and the `Plan:` line hidden from the reviewer by one job
/// title. Found by a break test.
#[test]
fn a_value_from_entra_shows_as_text_and_never_hides_the_rest_of_the_plan() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-escapes");
    let config = repo().join("examples/demo/roster.yaml");
    let summary = scratch.dir.join("summary.md");
    emulator.admin_call(
        reqwest::Method::PATCH,
        "entra/users/ava.martinez@contoso.com",
        Some(&serde_json::json!({"jobTitle": "VP Sales\n\u{1b}P", "surname": "M\u{1b}[2J\u{7}\u{202e}"})),
    );
    for format in ["text", "markdown"] {
        let _ = std::fs::remove_file(&summary);
        let out = emulator.roster(
            &scratch.dir,
            &["-c", config.to_str().unwrap(), "plan", "--format", format],
            &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let appended = std::fs::read_to_string(&summary).unwrap();
        for shown in [&out.stdout, &appended] {
            let acting: Vec<char> = shown
                .chars()
                .filter(|c| (c.is_control() && *c != '\n') || *c == '\u{202e}')
                .collect();
            assert!(acting.is_empty(), "{format}: {acting:?} in\n{shown}");
            // The value shows, escaped as `{:?}` escapes it...
            assert!(shown.contains("\\u{1b}P"), "{format}:\n{shown}");
            assert!(
                shown.contains("M\\u{1b}[2J\\u{7}\\u{202e}"),
                "{format}:\n{shown}"
            );
            // ...and what follows Ava's change is all there.
            assert!(
                shown.contains("salesforce_user[\"james.obrien@contoso.com\"] will be deactivated"),
                "{format}:\n{shown}"
            );
            assert!(shown.contains("Plan: 23 to create"), "{format}:\n{shown}");
        }
        if format == "markdown" {
            assert_eq!(appended, format!("{}\n", out.stdout));
        }
    }
}

/// The same for `explain` and for an error an API answers with: what they quote shows, and the
/// rest of the output (or of the message) is there.
#[test]
fn explain_and_api_errors_show_what_they_quote_as_text() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-escapes-explain");
    let config = repo().join("examples/demo/roster.yaml");
    let config = config.to_str().unwrap();
    emulator.admin_call(
        reqwest::Method::PATCH,
        "entra/users/ella.petrova@contoso.com",
        Some(&serde_json::json!({"displayName": "Ella \u{1b}[2J\u{1b}P"})),
    );
    let out = emulator.roster(
        &scratch.dir,
        &["-c", config, "explain", "ella.petrova@contoso.com"],
        &[],
    );
    assert!(
        out.stdout
            .contains("Ella \\u{1b}[2J\\u{1b}P, Entra object id"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);
    emulator.admin(
        "faults",
        &serde_json::json!({"route": "GET /services/data/{v}/query", "query_contains": "FROM User",
            "kind": "respond", "status": 400,
            "body": [{"errorCode": "INVALID_FIELD", "message": "No such column 'X\u{1b}P' and the tail"}]}),
    );
    let out = emulator.roster(&scratch.dir, &["-c", config, "plan"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("No such column 'X\\u{1b}P' and the tail"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
}

#[test]
fn every_unreadable_secret_is_named_at_once_and_env_secrets_lose_a_newline() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-secrets");
    let config = demo_config();
    let secrets: Vec<(String, String)> = emulator
        .env
        .iter()
        .filter(|(n, _)| !n.starts_with("ROSTER_"))
        .cloned()
        .collect();
    // Both missing: both named, nothing sent.
    let mut command = crate::support::roster_command();
    command
        .args(["-c", &config, "plan"])
        .current_dir(&scratch.dir)
        .env("NO_COLOR", "1");
    for (name, value) in &emulator.env {
        if name.starts_with("ROSTER_") {
            command.env(name, value);
        }
    }
    for (name, _) in &secrets {
        command.env_remove(name);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Both at once, each at its place in roster.yaml.
    assert!(stderr.contains("found 2 errors"), "{stderr}");
    assert!(
        stderr.contains(
            "the secret cannot be read: environment variable AZURE_CLIENT_SECRET is not set"
        ) && stderr.contains("SF_CLIENT_SECRET")
            && stderr.matches("roster.yaml:").count() >= 2,
        "{stderr}"
    );
    assert_eq!(
        emulator.admin_call(reqwest::Method::GET, "requests", None),
        serde_json::json!({})
    );
    // A secret pasted with its newline still works.
    let with_newlines: Vec<(String, String)> = secrets
        .iter()
        .map(|(n, v)| (n.clone(), format!("{v}\n")))
        .collect();
    let refs: Vec<(&str, &str)> = with_newlines
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let out = emulator.roster(&scratch.dir, &["-c", &config, "plan"], &refs);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// The demo world's emulator and a scratch directory named `name` holding `head` as
/// `roster.yaml` and `base` as `base.yaml`, with the JSON plan of `roster plan
/// --baseline-config base.yaml` there (which must exit 0).
fn baseline_plan(name: &str, head: &str, base: &str) -> (Emulator, Scratch, serde_json::Value) {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new(name);
    scratch.write("roster.yaml", head);
    scratch.write("base.yaml", base);
    let out = emulator.roster(
        &scratch.dir,
        &["plan", "--baseline-config", "base.yaml", "--format", "json"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (emulator, scratch, plan)
}

#[test]
fn a_baseline_config_splits_what_the_change_causes_from_what_is_pending() {
    let base = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    // The pull request freezes instead of deactivating.
    let head = base.replace("out_of_scope: deactivate", "out_of_scope: freeze");
    let (emulator, scratch, plan) = baseline_plan("plan-baseline", &head, &base);
    for change in plan["changes"].as_array().unwrap() {
        let expected = if change["action"] == "freeze" {
            "config_change"
        } else {
            "pending"
        };
        assert_eq!(change["cause"], expected, "{change}");
    }
    let markdown = emulator.roster(
        &scratch.dir,
        &[
            "plan",
            "--baseline-config",
            "base.yaml",
            "--format",
            "markdown",
        ],
        &[],
    );
    let caused = markdown
        .stdout
        .find("**Caused by this change to roster.yaml (2):**")
        .expect("the caused group");
    let pending = markdown
        .stdout
        .find("**Pending regardless (28):**")
        .expect("the pending group");
    assert!(caused < pending, "caused by the change comes first");
    // A plan saved with a baseline applies like any other.
    let saved = emulator.roster(
        &scratch.dir,
        &[
            "plan",
            "--baseline-config",
            "base.yaml",
            "--out",
            "plan.json",
        ],
        &[],
    );
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    let applied = emulator.roster(&scratch.dir, &["apply", "plan.json"], &[]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
}

#[test]
fn values_the_orgs_describe_refuses_are_error_items_naming_what_it_allows() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-describe");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace(
            "{target: LanguageLocaleKey, constant: en_US}",
            "{target: LanguageLocaleKey, expression: 'Replace([preferredLanguage], \"-\", , , \"_\", , )', default: en_US}",
        );
    scratch.write("roster.yaml", &config);
    let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let errors = plan["errors"].as_array().unwrap();
    let german = errors
        .iter()
        .find(|e| {
            e["reason"]
                .as_str()
                .unwrap()
                .starts_with("LanguageLocaleKey \"de_DE\" is not a value of the org's restricted picklist Language")
        })
        .unwrap_or_else(|| panic!("no error for de_DE: {errors:?}"));
    assert!(
        german["reason"]
            .as_str()
            .unwrap()
            .ends_with("did you mean \"de\"?"),
        "{german}"
    );
    // en_US is a language the org has: those users are planned as before.
    assert!(
        plan["summary"]["create"].as_u64().unwrap() > 10,
        "{}",
        plan["summary"]
    );
}

#[test]
fn values_of_the_wrong_type_or_already_held_are_found_before_apply() {
    let scratch = Scratch::new("plan-describe-types");
    // An org with a custom date field and a unique badge field, one badge already held.
    let world = std::fs::read_to_string(repo().join("examples/demo/world.yaml"))
        .unwrap()
        .replace(
            "  custom_user_fields:\n",
            "  custom_user_fields:\n    - {name: Hire_Date__c, type: date}\n    - {name: Badge__c, length: 10, unique: true}\n",
        )
        .replace(
            "      FederationIdentifier: former.contractor@contoso.com\n",
            "      FederationIdentifier: former.contractor@contoso.com\n      Badge__c: B-E1004\n",
        );
    let world_path = scratch.write("world.yaml", &world);
    let emulator = Emulator::start(world_path.to_str().unwrap());
    let plan_with = |mapping: &str| {
        let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
            .unwrap()
            .replace(
                "  - {target: Title, source: jobTitle}",
                &format!("  - {{target: Title, source: jobTitle}}\n  - {mapping}"),
            );
        scratch.write("roster.yaml", &config);
        let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
        let plan: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        plan
    };
    let items = |plan: &serde_json::Value, kind: &str| -> Vec<(String, String)> {
        plan["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_owned(),
                    e["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // A date that is no date: every user it is written to is an error, nobody is created.
    let plan = plan_with("{target: Hire_Date__c, constant: 31/01/2026}");
    let errors = items(&plan, "error");
    assert!(
        errors.iter().any(|(_, r)| r
            == "Hire_Date__c \"31/01/2026\" is not a date (YYYY-MM-DD), which the org's Hire Date field (date) takes"),
        "{errors:#?}"
    );
    assert_eq!(plan["summary"]["create"], 0, "{}", plan["summary"]);
    // A unique badge another Salesforce user holds: a conflict for that user only.
    let plan = plan_with("{target: Badge__c, expression: 'Append(\"B-\", [employeeId])'}");
    let conflicts = items(&plan, "conflict");
    assert!(
        conflicts.iter().any(|(_, r)| r
            == "Badge__c \"B-E1004\" is already held by Salesforce user former.contractor@contoso.com.dev1; the org's Badge__c field is unique"),
        "{conflicts:#?}"
    );
    assert!(
        plan["summary"]["create"].as_u64().unwrap() > 10,
        "{}",
        plan["summary"]
    );
}

#[test]
fn random_values_survive_unrelated_config_edits() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-random-stable");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace(
            "  - {target: Title, source: jobTitle}",
            "  - {target: Title, source: jobTitle}\n  - {target: Division, expression: 'Guid()'}",
        );
    let division = |text: &str| {
        scratch.write("roster.yaml", text);
        let out = emulator.roster(&scratch.dir, &["plan", "--format", "json"], &[]);
        let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["after"]["Division"].clone())
            .collect::<Vec<_>>()
    };
    let first = division(&config);
    assert!(
        first.iter().filter(|d| d.is_string()).count() > 20,
        "{first:?}"
    );
    let mut edited = config.replace("max_deactivations: 5", "max_deactivations: 6");
    edited.push_str("# an unrelated comment\n");
    assert_eq!(
        first,
        division(&edited),
        "an unrelated edit re-rolled Guid()"
    );
}

#[test]
fn a_role_rule_on_a_group_entra_lacks_refuses_the_plan_at_its_place() {
    // A typo would match nobody and remove the managed permission sets the rule grants.
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-group-typo");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace("group: SF Report Builders", "group: SF Report Builderz");
    scratch.write("roster.yaml", &config);
    let out = emulator.roster(&scratch.dir, &["plan"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("Plan refused"), "{}", out.stdout);
    let line = config
        .lines()
        .position(|l| l.contains("SF Report Builderz"))
        .unwrap()
        + 1;
    assert!(
        out.stderr
            .contains("Entra has no single group named \"SF Report Builderz\"")
            && out.stderr.contains(&format!("roster.yaml:{line}:"))
            && out.stderr.contains("did you mean \"SF Report Builders\"?"),
        "{}",
        out.stderr
    );
}

/// The baseline config is planned on the same read as the config under review: an Entra
/// attribute only the baseline reads is read too. Here the change removes the `Title` mapping,
/// so every create stops writing a Title: each create is caused by the change. When only the
/// head's attributes were read, the baseline's creates took `jobTitle` for empty, wrote no
/// Title either, and every create was shown as pending regardless of the change.
#[test]
fn what_only_the_baseline_config_reads_is_read_for_its_plan() {
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    let without_title = config.replace("  - {target: Title, source: jobTitle}\n", "");
    assert_ne!(without_title, config);
    let (emulator, scratch, plan) = baseline_plan("plan-baseline-reads", &without_title, &config);
    let creates = |plan: &serde_json::Value| -> Vec<serde_json::Value> {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == "create")
            .cloned()
            .collect()
    };
    // The baseline alone: its creates write the Entra jobTitle as Title.
    let out = emulator.roster(
        &scratch.dir,
        &["-c", "base.yaml", "plan", "--format", "json"],
        &[],
    );
    let base: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let titled = creates(&base)
        .iter()
        .filter(|c| c["after"]["Title"].is_string())
        .count();
    assert!(titled > 0, "{base}");
    let caused: Vec<_> = creates(&plan)
        .into_iter()
        .filter(|c| c["cause"] == "config_change")
        .collect();
    assert_eq!(caused.len(), titled, "{}", plan["changes"]);
    assert!(caused.iter().all(|c| c["after"]["Title"].is_null()));
}

/// The baseline config's grants and groups are read too: here the change stops granting the
/// permission set Legacy_Import to sales reps and drops a rule on the group All Staff (not
/// assigned to the application). When only the head's were read, the baseline's plan took
/// Noah, who holds Legacy_Import, for someone to add it to (his unchanged update was shown as
/// caused by the change), and refused the rule on a group it had not looked up.
#[test]
fn the_grants_and_groups_only_the_baseline_config_names_are_read_for_its_plan() {
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    let base = config
        .replace(
            "permission_sets: [Sales_Cloud_User, Sales_Engagement_Cadences]",
            "permission_sets: [Sales_Cloud_User, Sales_Engagement_Cadences, Legacy_Import]",
        )
        .replace(
            "    - when: {group: SF Report Builders}\n",
            "    - when: {group: All Staff}\n      public_groups: [Legacy_Partners]\n    \
             - when: {group: SF Report Builders}\n",
        );
    assert_eq!(base.matches("Legacy_").count(), 2);
    let (_emulator, _scratch, plan) = baseline_plan("plan-baseline-grants", &config, &base);
    assert!(
        !plan["warnings"].to_string().contains("baseline"),
        "{}",
        plan["warnings"]
    );
    let cause = |key: &str| {
        let change = plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == key)
            .unwrap_or_else(|| panic!("{key}: {}", plan["changes"]));
        change["cause"].as_str().unwrap().to_owned()
    };
    // Noah holds Legacy_Import already: the baseline adds it to him no more than the head.
    assert_eq!(cause("noah.okafor@contoso.com"), "pending");
    // Liam, a rep who lacks it, would have had it added but for the change.
    assert_eq!(cause("liam.chen@contoso.com"), "config_change");
}

/// A baseline config that reads a User field the org no longer has (the change under review
/// removes its mapping) does not fail the plan: roster reads what this config reads, plans, and
/// says the baseline's labels rest on empty values.
#[test]
fn a_baseline_reading_what_the_org_lacks_is_a_warning_not_a_failed_plan() {
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    let base = config.replace(
        "  - {target: Title, source: jobTitle}",
        "  - {target: Title, source: jobTitle}\n  - {target: Legacy_Code__c, source: jobTitle}",
    );
    let (_emulator, _scratch, plan) = baseline_plan("plan-baseline-gone", &config, &base);
    let warnings = plan["warnings"].to_string();
    assert!(
        warnings.contains("what only the baseline config reads could not be read")
            && warnings.contains("Legacy_Code__c"),
        "{warnings}"
    );
}

#[test]
fn a_baseline_whose_own_plan_is_refused_is_said_so() {
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    let base = config.replace("[System Administrator]", "[System Administratr]");
    let (_emulator, _scratch, plan) = baseline_plan("plan-baseline-refused", &config, &base);
    assert!(
        plan["warnings"]
            .to_string()
            .contains("the baseline config's own plan is refused")
            && plan["warnings"]
                .to_string()
                .contains("in base.yaml: /protect/profiles/0: the org has no profile")
            && plan["warnings"].to_string().contains("System Administratr"),
        "{}",
        plan["warnings"]
    );
}

#[test]
fn a_field_the_org_lacks_is_a_config_error_at_its_place() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-missing-field");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace(
            "  - {target: Title, source: jobTitle}",
            "  - {target: Title, source: jobTitle}\n  - {target: Cost_Center__c, source: department}",
        );
    scratch.write("roster.yaml", &config);
    let out = emulator.roster(&scratch.dir, &["plan"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = config
        .lines()
        .position(|l| l.contains("Cost_Center__c"))
        .unwrap()
        + 1;
    assert!(
        out.stderr
            .contains("the org has no User field `Cost_Center__c`")
            && out.stderr.contains(&format!("roster.yaml:{line}:"))
            && out.stderr.contains("Object Manager → User"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_attribute_entra_lacks_is_a_config_error_at_each_place_that_reads_it() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-missing-attribute");
    // A directory extension the tenant does not define (its name has the right shape, so
    // validate cannot tell), read directly and in an expression: Graph refuses the $select, and
    // roster names both places instead of mapping nothing.
    let extension = "extension_0123456789abcdef0123456789abcdef_jobTitel";
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace(
            "  - {target: Title, source: jobTitle}",
            &format!("  - {{target: Title, source: {extension}}}\n  - {{target: Division, expression: 'ToUpper([{extension}])'}}"),
        );
    scratch.write("roster.yaml", &config);
    let out = emulator.roster(&scratch.dir, &["plan"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.is_empty(), "no plan: {}", out.stdout);
    for needle in [
        format!("source: {extension}"),
        format!("ToUpper([{extension}])"),
    ] {
        let line = config.lines().position(|l| l.contains(&needle)).unwrap() + 1;
        assert!(
            out.stderr.contains(&format!("roster.yaml:{line}:")),
            "{needle} at line {line}: {}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains(&format!(
            "Entra users have no attribute `{extension}` (Microsoft Graph refused `$select={extension}`)"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_change_partly_caused_by_the_edit_names_what_is_pending_regardless() {
    let base = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    // A change partly caused by the edit names what is pending regardless of it.
    let head = base.replace(
        "{target: Department, source: department}",
        "{target: Department, expression: 'ToUpper([department])'}",
    );
    let (emulator, scratch, partly) = baseline_plan("plan-baseline-partly", &head, &base);
    let noah = partly["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "noah.okafor@contoso.com")
        .unwrap();
    assert_eq!(noah["cause"], "config_change", "{noah}");
    let pending: Vec<&str> = noah["pending_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        pending.contains(&"Title") && !pending.contains(&"Department"),
        "{pending:?}"
    );
    let text = emulator.roster(
        &scratch.dir,
        &["plan", "--baseline-config", "base.yaml"],
        &[],
    );
    assert!(
        text.stdout
            .contains("# (pending regardless of this change to roster.yaml: Alias, EmployeeNumber"),
        "{}",
        text.stdout
    );
}

#[test]
fn an_application_name_the_tenant_lacks_is_named_at_its_place() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-app-name");
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace(
            "display_name: Salesforce Sandbox",
            "display_name: Salesforce Sandbx",
        );
    scratch.write("roster.yaml", &config);
    let out = emulator.roster(&scratch.dir, &["plan"], &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = config
        .lines()
        .position(|l| l.contains("Salesforce Sandbx"))
        .unwrap()
        + 1;
    assert!(
        out.stderr
            .contains("the tenant has no enterprise application named \"Salesforce Sandbx\"")
            && out.stderr.contains(&format!("roster.yaml:{line}:")),
        "{}",
        out.stderr
    );
}

#[test]
fn what_the_edit_stops_changing_is_listed_in_the_pull_request_comment() {
    let emulator = Emulator::start("examples/demo/world.yaml");
    let scratch = Scratch::new("plan-no-longer-changed");
    let base = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    scratch.write("base.yaml", &base);
    // The edit skips Sales users: their creates are no longer in the plan.
    scratch.write(
        "roster.yaml",
        base.replace(
            "  - {target: Title, source: jobTitle}",
            "  - {target: Title, expression: 'IIF([department] = \"Sales\", IgnoreObjectFlow, [jobTitle])'}",
        ),
    );
    let out = emulator.roster(
        &scratch.dir,
        &[
            "plan",
            "--baseline-config",
            "base.yaml",
            "--format",
            "markdown",
        ],
        &[],
    );
    assert!(
        out.stdout
            .contains("**No longer changed with this change ("),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Skipped by expression (IgnoreObjectFlow)"),
        "{}",
        out.stdout
    );
}

/// The plan of a 10,000-user synthetic world, in each format, is byte for byte what it was
/// before the performance work of issue 21 (typed users, streamed rendering): the SHA-256 of
/// each output, the emulator's port masked, recorded with the code before that change. One
/// change since, on purpose: the JSON plan's percentage threshold counts the active owned
/// users only (`"10% of 751 active owned users = 75"`, where it counted 1,001 with the
/// deactivated ones); the diff of the two JSON plans was those two lines.
#[test]
fn the_plan_of_a_ten_thousand_user_world_is_unchanged_byte_for_byte() {
    let scratch = Scratch::new("plan-10k-golden");
    let emulator = Emulator::start_with(
        &["--synthetic", "10000", "--write-config", "roster.yaml"],
        &scratch.dir,
    );
    for (format, bytes, sha256) in [
        (
            "text",
            10_666_966,
            "ed110ea19731a2bb77a5f4ad8b334dcd16a704607065a0df5edf321c37783d54",
        ),
        (
            "json",
            13_919_805,
            "54a00b987a17430fdf1bdb6e4a3bfcf4db2eb5532a473f0a98aec370b18e141a",
        ),
        (
            "markdown",
            64_780,
            "256d6d737c26d3ad153e5abf01ae6eed47e9f3f940d219d435bfd15416588b36",
        ),
    ] {
        let out = emulator.roster(&scratch.dir, &["plan", "--format", format], &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let output = stable(&out.stdout);
        assert_eq!(
            (output.len(), roster_sha256(output.as_bytes())),
            (bytes, sha256.to_owned()),
            "the {format} plan changed"
        );
    }
}

fn roster_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// `--out` and `--audit-log` naming the config file (or a base it extends) are refused before
/// anything is read or written: the config keeps its text and its mode.
#[cfg(unix)]
#[test]
fn a_plan_or_audit_log_is_never_written_over_the_config() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new("plan-over-config");
    scratch.write("base.yaml", read("examples/demo/roster.yaml"));
    scratch.write("roster.yaml", "extends: base.yaml\n");
    for name in ["roster.yaml", "base.yaml"] {
        std::fs::set_permissions(
            scratch.dir.join(name),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let before = |name: &str| std::fs::read(scratch.dir.join(name)).unwrap();
    let (config, base) = (before("roster.yaml"), before("base.yaml"));
    // Another name of the same file: a hard link.
    std::fs::hard_link(scratch.dir.join("base.yaml"), scratch.dir.join("hard.json")).unwrap();
    // Each named as what it is: the config given, or a base it extends.
    let base_named = "is a base config the config extends, base.yaml";
    for (args, named) in [
        (vec!["plan", "--out", "roster.yaml"], "is the config file"),
        (vec!["plan", "--out", "./base.yaml"], base_named),
        (
            vec!["apply", "--auto-approve", "--audit-log", "roster.yaml"],
            "is the config file",
        ),
        (
            vec!["apply", "--auto-approve", "--audit-log", "base.yaml"],
            base_named,
        ),
        (
            vec!["apply", "--auto-approve", "--audit-log", "hard.json"],
            base_named,
        ),
    ] {
        let out = scratch.roster(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(named)
                && out
                    .stderr
                    .contains("roster would write over the config it reads"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // Nor over the baseline config, or a file of the snapshot the plan is made from.
    scratch.write("old.yaml", read("examples/demo/roster.yaml"));
    std::fs::create_dir_all(scratch.dir.join("seen")).unwrap();
    scratch.write("seen/entra.json", "{}");
    scratch.write("saved.json", "{}");
    for (args, expected) in [
        (
            vec!["plan", "--baseline-config", "old.yaml", "--out", "old.yaml"],
            "is the config file",
        ),
        (
            vec!["plan", "--snapshot", "seen", "--out", "seen/entra.json"],
            "is the snapshot file",
        ),
        // Nor the audit log into the saved plan being applied.
        (
            vec!["apply", "saved.json", "--audit-log", "./saved.json"],
            "is the plan file being applied",
        ),
    ] {
        let out = scratch.roster(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
    assert_eq!(
        before("old.yaml"),
        read("examples/demo/roster.yaml").into_bytes()
    );
    assert_eq!(before("seen/entra.json"), b"{}");
    assert_eq!(before("saved.json"), b"{}");
    assert_eq!(before("roster.yaml"), config);
    assert_eq!(before("base.yaml"), base);
    for name in ["roster.yaml", "base.yaml"] {
        let mode = std::fs::metadata(scratch.dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
    }
}

/// A matching rule finds the account holding the person's value in another case — Entra
/// queries the org, and SOQL compares text without case — unless the org's describe marks that
/// unique field case-sensitive: then `e1002` and `E1002` are two values to Salesforce, and as
/// the rule is an anchor (`[employeeId]`) and the account likely Liam's, he is a conflict:
/// neither created beside it nor linked to it.
#[test]
fn a_match_on_a_case_sensitive_unique_field_keeps_case_end_to_end() {
    let scratch = Scratch::new("plan-case-sensitive-match");
    let world = std::fs::read_to_string(repo().join("examples/demo/world.yaml")).unwrap();
    let config = std::fs::read_to_string(demo_config()).unwrap();
    let config = config
        .replacen(
            "matching:\n",
            "matching:\n  - {source: '[employeeId]', target: Badge__c}\n",
            1,
        )
        .replacen(
            "mappings:\n",
            "mappings:\n  - {target: Badge__c, source: employeeId}\n",
            1,
        );
    scratch.write("roster.yaml", &config);
    for case_sensitive in [false, true] {
        let declared =
            "    - {name: Entra_Object_Id__c, length: 36, unique: true, external_id: true}\n";
        // Liam's account, found by nothing but its badge in lower case.
        let world = world
            .replacen(
                declared,
                &format!(
                    "{declared}    - {{name: Badge__c, length: 10, unique: true, \
                     case_sensitive: {case_sensitive}}}\n"
                ),
                1,
            )
            .replacen(
                "    - Username: liam.chen@contoso.com.dev1\n",
                "    - Username: lchen.old@contoso.com.dev1\n      Badge__c: e1002\n",
                1,
            )
            .replacen(
                "      FederationIdentifier: liam.chen@contoso.com\n",
                "      FederationIdentifier: lchen.old@contoso.com\n",
                1,
            );
        assert_eq!(world.matches("e1002").count(), 1);
        assert!(world.contains("lchen.old@contoso.com\n"));
        scratch.write("world.yaml", &world);
        let emulator = Emulator::start_with(&["--world", "world.yaml"], &scratch.dir);
        let out = emulator.roster(
            &scratch.dir,
            &[
                "plan",
                "--format",
                "json",
                "--target",
                "liam.chen@contoso.com",
            ],
            &[],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let liam = &plan["changes"][0];
        if case_sensitive {
            assert_eq!(plan["changes"], serde_json::json!([]), "{plan}");
            let reason = plan["errors"][0]["reason"].as_str().unwrap();
            assert!(
                reason.contains(
                    "Salesforce user lchen.old@contoso.com.dev1's Badge__c holds \"e1002\", \
                     this user's \"E1002\" in another case"
                ),
                "{plan}"
            );
        } else {
            assert_eq!(plan["errors"], serde_json::json!([]), "{plan}");
            assert_eq!(liam["action"], "update", "{liam}");
            assert!(
                liam["reason"].as_str().unwrap().starts_with(
                    "linked by Badge__c to Salesforce user lchen.old@contoso.com.dev1"
                ),
                "{liam}"
            );
            assert_eq!(liam["before"]["Badge__c"], "e1002", "{liam}");
            assert_eq!(liam["after"]["Badge__c"], "E1002", "{liam}");
        }
    }
}
