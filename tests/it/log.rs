//! `roster log`: the audit log as auditors read it — by user, since a date, as text, markdown,
//! CSV or JSON, over several files — and an unreadable line named, never skipped silently.

use serde_json::Value;

use crate::apply::World;

/// The demo world applied by "CI": every line carries the commit, actor and run.
fn applied() -> World {
    let world = World::demo("log");
    let out = world.roster_env(
        &["apply", "--auto-approve"],
        &[
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_REPOSITORY", "contoso/iam"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world
}

#[test]
fn a_users_changes_with_where_they_came_from() {
    let world = applied();
    let audit = world.audit();
    let ava = audit
        .iter()
        .find(|l| l["key"] == "ava.martinez@contoso.com")
        .unwrap();
    // By key, whatever its case and the spaces pasted around it, and by the Salesforce id in
    // either length, the 18-character one in any case (its suffix restores the case).
    let target = ava["target_id"].as_str().unwrap();
    let upper = target.to_ascii_uppercase();
    assert_ne!(upper[..15], target[..15], "the id has a lower-case letter");
    // And by the Entra object id, also as PowerShell writes a GUID: in braces, upper case.
    let source = ava["source_id"].as_str().unwrap();
    let braced = format!("{{{}}}", source.to_ascii_uppercase());
    let parenthesized = format!("({source})");
    for user in [
        "AVA.MARTINEZ@contoso.com",
        " ava.martinez@contoso.com\t",
        target,
        &target[..15],
        &upper,
        source,
        &braced,
        &parenthesized,
    ] {
        let out = world.roster(&["log", "--user", user]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let first = out.stdout.lines().next().unwrap();
        assert!(
            first.ends_with("  update      ava.martinez@contoso.com  applied"),
            "{user}: {}",
            out.stdout
        );
        assert!(
            out.stdout
                .contains("    Alias: \"amartine\" -> \"AMartine\"; Department: null -> \"Sales\"")
                && out
                    .stdout
                    .contains("    commit 0123abcd by octocat run 42 in contoso/iam"),
            "{user}: {}",
            out.stdout
        );
        assert_eq!(
            out.stdout.matches("ava.martinez@contoso.com").count(),
            1,
            "{}",
            out.stdout
        );
    }
    // A create lists its grants.
    let out = world.roster(&["log", "--user", "amelia.kowalski@contoso.com"]);
    assert!(
        out.stdout.contains("+ permission set Sales_Cloud_User")
            && out.stdout.contains("+ public group All_Sales"),
        "{}",
        out.stdout
    );
}

#[test]
fn since_csv_json_and_several_files() {
    let world = applied();
    let lines = world.audit().len();
    assert!(lines > 20);
    // Nothing after the future; everything since the past.
    let out = world.roster(&["log", "--since", "2999-01-01"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "No changes recorded.\n");
    let out = world.roster(&["log", "--since", "yesterday"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("give a date (2026-11-01)"),
        "{}",
        out.stderr
    );
    // CSV, read back by an independent parser: a row per line.
    let out = world.roster(&["log", "--since", "2000-01-01", "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "time");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), lines);
    assert!(
        rows.iter()
            .all(|r| &r[7] == "0123abcd" && &r[8] == "octocat")
    );
    // A cell a spreadsheet would run as a formula (a key or an actor is anyone's choice) is
    // shown as text.
    let mut formula = world.audit()[0].clone();
    formula["key"] = Value::from("=HYPERLINK(\"http://evil.example\")");
    formula["github"]["actor"] = Value::from("@SUM(1+1)");
    let formula_log = world.scratch.dir.join("formula.jsonl");
    std::fs::write(&formula_log, format!("{formula}\n")).unwrap();
    let out = world.roster(&["log", "formula.jsonl", "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let row = csv::Reader::from_reader(out.stdout.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(&row[2], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(&row[8], "'@SUM(1+1)");
    // JSON: the lines themselves.
    let out = world.roster(&["log", "--format", "json"]);
    let json: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json, world.audit());
    // Each as written, its keys in their order and its numbers as they stand, not re-serialized
    // (serde_json would sort the keys).
    let written = std::fs::read_to_string(world.scratch.dir.join("roster-audit.jsonl")).unwrap();
    for line in written.lines() {
        assert!(
            out.stdout.contains(&format!("\n  {line}")),
            "{line}\n{}",
            out.stdout
        );
    }
    // Two files: merged, oldest first.
    let older = world.scratch.dir.join("older.jsonl");
    let mut line = world.audit()[0].clone();
    line["time"] = Value::from("2020-01-01T00:00:00.000Z");
    line["key"] = Value::from("early.bird@contoso.com");
    std::fs::write(&older, format!("{line}\n")).unwrap();
    // The same file twice (an artifact downloaded twice) lists each change once, and says so.
    let out = world.roster(&[
        "log",
        "roster-audit.jsonl",
        "roster-audit.jsonl",
        "--format",
        "json",
    ]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&out.stdout)
            .unwrap()
            .len(),
        lines
    );
    assert!(
        out.stderr.contains(&format!(
            "warning: {lines} line(s) repeat an earlier line exactly (the same log read twice?) \
             and are listed once"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.code, 0);
    let out = world.roster(&["log", "roster-audit.jsonl", "older.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("2020-01-01T00:00:00.000Z"),
        "{}",
        out.stdout
    );
    // Markdown: a table row per change.
    let out = world.roster(&["log", "--format", "markdown"]);
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("| 20")).count(),
        lines
    );
}

#[test]
fn an_unreadable_line_is_named_and_the_rest_still_listed() {
    let world = applied();
    let path = world.scratch.dir.join("roster-audit.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    text.push_str("{\"time\": \"2026-12-01T00:00:00Z\", \"key\": \"cut\n");
    std::fs::write(&path, text).unwrap();
    let out = world.roster(&["log"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains(&format!("roster-audit.jsonl:{}:", lines + 1))
            && out
                .stderr
                .contains("1 line(s) of the audit log could not be read"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("ava.martinez@contoso.com"));
    // A byte-order mark an editor put first costs the first line nothing.
    let mut marked = "\u{feff}".as_bytes().to_vec();
    marked.extend_from_slice(&std::fs::read(&path).unwrap());
    std::fs::write(world.scratch.dir.join("marked.jsonl"), marked).unwrap();
    let out = world.roster(&["log", "marked.jsonl", "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&out.stdout)
            .unwrap()
            .len(),
        lines,
        "{}",
        out.stderr
    );
    // A line that is not UTF-8: named by its line and byte, the others still listed.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"time\": \"\xff\"}\n");
    std::fs::write(&path, bytes).unwrap();
    let out = world.roster(&["log"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "roster-audit.jsonl:{}:11: not an audit line: not UTF-8",
            lines + 2
        )) && out
            .stderr
            .contains("2 line(s) of the audit log could not be read"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("ava.martinez@contoso.com"));
    // No audit log at all: named.
    let out = world.roster(&["log", "missing.jsonl"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot read missing.jsonl"),
        "{}",
        out.stderr
    );
}

/// A key in the log is text: an escape in it cannot hide the entries after it.
#[test]
fn a_key_with_an_escape_shows_and_hides_nothing() {
    let world = applied();
    let path = world.scratch.dir.join("roster-audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    let text = text.replacen(
        "\"ava.martinez@contoso.com\"",
        "\"ava\\u001bP.martinez@contoso.com\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let out = world.roster(&["log"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("ava\\u{1b}P.martinez"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains('\u{1b}'));
    // Every entry is listed: each has its time at the start of a line.
    let entries = out.stdout.lines().filter(|l| l.starts_with("20")).count();
    assert_eq!(entries, lines, "{}", out.stdout);
}

#[test]
fn a_create_and_an_update_as_text_and_markdown() {
    let world = applied();
    // Times differ run to run; everything else is the record.
    let settings = {
        let mut s = insta::Settings::clone_current();
        s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "[time]");
        s
    };
    for (name, format) in [("log_text", "text"), ("log_markdown", "markdown")] {
        let out = world.roster(&[
            "log",
            "--user",
            "amelia.kowalski@contoso.com",
            "--format",
            format,
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let update = world.roster(&[
            "log",
            "--user",
            "noah.okafor@contoso.com",
            "--format",
            format,
        ]);
        settings.bind(|| {
            insta::assert_snapshot!(name, format!("{}{}", out.stdout, update.stdout));
        });
    }
}

/// `line` as text, at `time` and about `key`.
fn at(line: &Value, time: &str, key: &str) -> String {
    let mut line = line.clone();
    line["time"] = Value::from(time);
    line["key"] = Value::from(key);
    line.to_string()
}

/// The users of the changes a text log lists, in its order.
fn keys(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("20"))
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
        .collect()
}

/// Times are instants: an offset, a missing fraction and `--since` with an offset compare as
/// the moments they name; a `--since` that names no moment, and an empty `--user`, are refused.
#[test]
fn times_compare_as_instants_and_bad_options_are_refused() {
    let world = applied();
    let line = world.audit()[0].clone();
    let at = |time: &str, key: &str| at(&line, time, key);
    let lines = [
        // 08:00 UTC, written with an offset: before the 08:19:49Z line.
        at("2026-12-02T10:00:00+02:00", "offset@contoso.com"),
        at("2026-12-02T08:19:49Z", "whole@contoso.com"),
        at("2026-12-02T08:19:49.560Z", "fraction@contoso.com"),
    ];
    std::fs::write(
        world.scratch.dir.join("times.jsonl"),
        format!("{}\n", lines.join("\n")),
    )
    .unwrap();
    let out = world.roster(&["log", "times.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        keys(&out.stdout),
        [
            "offset@contoso.com",
            "whole@contoso.com",
            "fraction@contoso.com"
        ]
    );
    for (since, expected) in [
        ("2026-12-02T08:19:49.500Z", &["fraction@contoso.com"][..]),
        (
            "2026-12-02T08:10:00Z",
            &["whole@contoso.com", "fraction@contoso.com"],
        ),
        // The same moment, with an offset.
        (
            "2026-12-02T10:10:00+02:00",
            &["whole@contoso.com", "fraction@contoso.com"],
        ),
    ] {
        let out = world.roster(&["log", "times.jsonl", "--since", since]);
        assert_eq!(out.code, 0, "{since}: {}", out.stderr);
        assert_eq!(keys(&out.stdout), expected, "{since}");
    }
    for bad in ["2026-02-29", "2026-12-02T25:00:00Z", "yesterday"] {
        let out = world.roster(&["log", "times.jsonl", "--since", bad]);
        assert_eq!(out.code, 1, "{bad}");
        assert!(
            out.stderr.contains("give a date (2026-11-01)"),
            "{}",
            out.stderr
        );
    }
    let out = world.roster(&["log", "times.jsonl", "--user", " "]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--user <KEY>: it is empty"),
        "{}",
        out.stderr
    );
}

/// A failed step beside an applied one is shown, and a CI value's line break cannot forge an
/// entry; a 15-character Salesforce id names one record, case and all.
#[test]
fn steps_show_and_values_stay_on_their_line() {
    let world = applied();
    let mut line = world
        .audit()
        .into_iter()
        .find(|l| l["target_id"].is_string() && l["action"] == "update")
        .unwrap();
    line["result"] = Value::from("failed");
    line["steps"] = serde_json::json!([
        {"step": "deactivate", "result": "failed", "code": "FIELD_INTEGRITY_EXCEPTION", "message": "blocked"},
        {"step": "freeze", "result": "applied"}
    ]);
    line["github"]["repository"] = Value::from("x\n2020-01-01T00:00:00.000Z  create  forged");
    line["github"]["actor"] = Value::from("\u{1b}[31mRED\u{1b}[0m");
    let target = line["target_id"].as_str().unwrap().to_owned();
    line["target_id"] = Value::from(&target[..15]);
    std::fs::write(world.scratch.dir.join("one.jsonl"), format!("{line}\n")).unwrap();
    let out = world.roster(&["log", "one.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("    deactivate failed (FIELD_INTEGRITY_EXCEPTION: blocked); freeze applied"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("20")).count(),
        1,
        "{}",
        out.stdout
    );
    let out = world.roster(&["log", "one.jsonl", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_bytes());
    let steps = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "steps")
        .unwrap();
    let row = reader.records().next().unwrap().unwrap();
    // An escape sequence is shown, not dropped nor acting.
    assert_eq!(&row[8], "\\u{1b}[31mRED\\u{1b}[0m");
    assert_eq!(
        &row[steps],
        "deactivate failed (FIELD_INTEGRITY_EXCEPTION: blocked); freeze applied"
    );
    // The id as given matches; with one letter's case changed it is another record.
    let out = world.roster(&["log", "one.jsonl", "--user", &target[..15]]);
    assert!(out.stdout.starts_with("20"), "{}", out.stdout);
    let flipped: String = target[..15]
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    let out = world.roster(&["log", "one.jsonl", "--user", &flipped]);
    assert_eq!(out.stdout, "No changes recorded.\n", "{flipped}");
}

/// A device given as a plan or an audit log is refused at once, not read without end.
#[cfg(unix)]
#[test]
fn a_device_is_no_plan_and_no_audit_log() {
    let world = World::demo("log-device");
    for args in [
        ["apply", "/dev/zero"],
        ["show", "/dev/zero"],
        ["log", "/dev/zero"],
        ["show", "/dev/null"],
    ] {
        let out = world.roster(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("it is not a regular file"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// A disk that fills during the apply (here a file-size limit, `ulimit -f`, whose signal is
/// ignored so the write fails as on a full disk): roster stops sending, takes the part of the
/// line written back out, still prints the report, and fails; a rerun on a disk with room
/// finishes the job.
#[cfg(unix)]
#[test]
fn an_audit_log_that_fills_up_stops_the_apply_and_keeps_whole_lines() {
    let world = World::demo("audit-full");
    let before = world.roster(&["plan", "--format", "json"]);
    let planned = serde_json::from_str::<Value>(&before.stdout).unwrap()["changes"]
        .as_array()
        .unwrap()
        .len();
    let mut command = std::process::Command::new("sh");
    world.in_world(&mut command).arg("-c").arg(format!(
        "trap '' XFSZ; ulimit -f 4; exec '{}' apply --auto-approve --audit-log audit.jsonl",
        env!("CARGO_BIN_EXE_roster")
    ));
    let out = command.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("writing the audit log audit.jsonl failed, so roster stopped sending")
            && stderr.contains("carried out or tried have no line in it: "),
        "{stderr}"
    );
    assert!(
        stdout.contains("Apply incomplete") && stdout.contains("nothing more was sent"),
        "{stdout}"
    );
    let log = std::fs::read_to_string(world.scratch.dir.join("audit.jsonl")).unwrap();
    assert!(log.is_empty() || log.ends_with('\n'), "a half line: {log}");
    for line in log.lines() {
        serde_json::from_str::<Value>(line).expect("a whole audit line");
    }
    assert!(log.lines().count() < planned, "{log}");
    // It stopped: changes are left, and a run with room applies them.
    let left = world.roster(&["plan", "--format", "json"]);
    let left = serde_json::from_str::<Value>(&left.stdout).unwrap()["changes"]
        .as_array()
        .unwrap()
        .len();
    assert!(left > 0 && left < planned, "{left} of {planned} left");
    let rerun = world.roster(&["apply", "--auto-approve", "--audit-log", "audit.jsonl"]);
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    let after = world.roster(&["plan"]);
    assert!(
        after.stdout.contains("No changes to make"),
        "{}",
        after.stdout
    );
}

/// An audit log that cannot keep the lines (a device) is refused before anything is written.
#[cfg(unix)]
#[test]
fn an_audit_log_that_is_a_device_is_refused_before_any_write() {
    let world = World::demo("audit-device");
    let out = world.roster(&["apply", "--auto-approve", "--audit-log", "/dev/full"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("--audit-log /dev/full is not a regular file"),
        "{}",
        out.stderr
    );
    // Nothing was written: the plan still holds every change.
    let plan = world.roster(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(plan.stdout.contains("to create"), "{}", plan.stdout);
}

/// A line that is not an audit line (by the schema, its time, its result, or a key given twice)
/// is named with its place, never listed; the readable lines still are.
#[test]
fn a_line_that_is_no_audit_line_is_named() {
    let world = applied();
    let line = world.audit()[0].clone();
    let at = |time: &str, key: &str| at(&line, time, key);
    let readable = at("2026-12-02T10:00:00+02:00", "offset@contoso.com");
    // Not audit lines: a time that is no time, a line of nothing but a time, an unknown action,
    // a result its steps contradict.
    let mut wrong_action = line.clone();
    wrong_action["action"] = Value::from("drop_database");
    // A change of no steps at all claiming to be applied (roster writes none).
    let mut stepless = line.clone();
    stepless["steps"] = serde_json::json!([]);
    let mut contradicted = line.clone();
    contradicted["result"] = Value::from("applied");
    contradicted["steps"] = serde_json::json!([
        {"step": "create", "result": "failed", "code": "X", "message": "boom"},
        {"step": "add permission set X", "result": "not_attempted"}
    ]);
    // A key given twice reads as two different changes, whichever value a reader keeps.
    let twice = line.to_string().replacen(
        '{',
        "{\"key\":\"mallöry@contoso.com\",\"extra\":{\"a\":1,\"a\":2},",
        1,
    );
    let bad = [
        at("banana", "banana@contoso.com"),
        serde_json::json!({"time": "2026-12-02T09:00:00.000Z"}).to_string(),
        wrong_action.to_string(),
        contradicted.to_string(),
        twice,
        stepless.to_string(),
    ];
    std::fs::write(
        world.scratch.dir.join("bad.jsonl"),
        format!("{readable}\n{}\n", bad.join("\n")),
    )
    .unwrap();
    let out = world.roster(&["log", "bad.jsonl"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("bad.jsonl:2: not an audit line: `/time` \"banana\" is not an RFC 3339 time")
            && out.stderr.contains("bad.jsonl:3: not an audit line:")
            && out
                .stderr
                .contains("bad.jsonl:4: not an audit line: `/action`")
            && out.stderr.contains(
                "bad.jsonl:5: not an audit line: `/result` \"applied\" is not what its steps \
                 came to (\"failed\")"
            )
            // At the second "a", in characters (`ö` is one), without serde's own place.
            && out
                .stderr
                .contains("bad.jsonl:6:47: not an audit line: the key \"a\" is given twice\n")
            && out
                .stderr
                .contains("bad.jsonl:7: not an audit line: `/steps`: [] has less than 1 item")
            && out
                .stderr
                .contains("6 line(s) of the audit log could not be read"),
        "{}",
        out.stderr
    );
    assert_eq!(keys(&out.stdout), ["offset@contoso.com"], "{}", out.stdout);
}

/// The logs of two orgs read together (a job per org, a log each): the same user's changes
/// would read alike, so each says its org — in text and markdown only then, in CSV always.
#[test]
fn logs_of_several_orgs_say_each_changes_org() {
    let world = applied();
    let line = world.audit()[0].clone();
    let key = line["key"].as_str().unwrap().to_owned();
    let (org, url) = (
        line["org_id"].as_str().unwrap().to_owned(),
        line["instance_url"].as_str().unwrap().to_owned(),
    );
    let mut other = line.clone();
    other["org_id"] = Value::from("00D000000000002EAA");
    other["instance_url"] = Value::from("https://contoso--uat.sandbox.my.salesforce.com");
    std::fs::write(world.scratch.dir.join("uat.jsonl"), format!("{other}\n")).unwrap();

    // One org: nothing about it, even beside an app role's line (which names no org).
    let app_role = serde_json::json!({
        "time": "2026-12-06T01:42:00.000Z", "plan_sha256": "ab".repeat(32),
        "config_sha256": "cd".repeat(32), "kind": "entra_app_role", "action": "add",
        "id": "0000000a-0000-0000-0000-0000000000ff", "display_name": "Ops",
        "reason": "profile Ops has no app role", "before": null,
        "after": {"display_name": "Ops", "is_enabled": true, "value": "00e8c0000000006AAA"},
        "result": "applied"
    });
    std::fs::write(
        world.scratch.dir.join("role.jsonl"),
        format!("{app_role}\n"),
    )
    .unwrap();
    let out = world.roster(&["log", "roster-audit.jsonl", "role.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("org "), "{}", out.stdout);
    let out = world.roster(&["log", "--user", &key]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("org 00D"), "{}", out.stdout);
    let out = world.roster(&["log", "--user", &key, "--format", "markdown"]);
    assert!(
        out.stdout.starts_with("| time | action |"),
        "{}",
        out.stdout
    );

    let both = ["log", "roster-audit.jsonl", "uat.jsonl", "--user", &key];
    let out = world.roster(&both);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for shown in [
        format!("org {org} ({url})"),
        "org 00D000000000002EAA (https://contoso--uat.sandbox.my.salesforce.com)".to_owned(),
    ] {
        assert!(out.stdout.contains(&shown), "{shown}\n{}", out.stdout);
    }
    let markdown = world.roster(&[&both[..], &["--format", "markdown"]].concat());
    assert!(
        markdown.stdout.starts_with("| time | org | action |"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("| 00D000000000002EAA (https\\://contoso--uat.sandbox.my.salesforce.com) |"),
        "{}",
        markdown.stdout
    );
    let csv_out = world.roster(&[&both[..], &["--format", "csv"]].concat());
    let mut reader = csv::Reader::from_reader(csv_out.stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = headers.iter().position(|h| h == "org_id").unwrap();
    let orgs: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[at].to_owned())
        .collect();
    assert!(
        orgs.contains(&org) && orgs.contains(&"00D000000000002EAA".to_owned()),
        "{orgs:?}"
    );
}
