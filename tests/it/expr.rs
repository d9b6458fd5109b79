//! `roster expr`: every documented example through the public `--json` path, and the plain
//! output and errors a user sees.

use crate::support::{Scratch, read, repo, run_in};

#[test]
fn documented_examples_through_the_cli() {
    let examples: Vec<serde_json::Value> =
        serde_json::from_str(&read("tests/fixtures/expr-examples.json")).unwrap();
    let scratch = Scratch::new("expr-examples");
    let mut failures = Vec::new();
    for (i, example) in examples.iter().enumerate() {
        let mut args: Vec<String> = vec!["expr".into(), "--json".into()];
        args.push(example["expression"].as_str().unwrap().to_owned());
        if let Some(set) = example.get("set").and_then(|s| s.as_object()) {
            for (name, value) in set {
                args.push("--set".into());
                args.push(format!("{name}={}", value.as_str().unwrap()));
            }
        }
        if let Some(input) = example.get("input") {
            let path = scratch.write(&format!("input-{i}.json"), input.to_string());
            args.push("--input".into());
            args.push(path.to_str().unwrap().to_owned());
        }
        for existing in example
            .get("existing")
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
        {
            args.push("--existing".into());
            args.push(existing.as_str().unwrap().to_owned());
        }
        if let Some(now) = example.get("now").and_then(|n| n.as_str()) {
            args.push("--now".into());
            args.push(now.to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = scratch.roster(&args);
        let doc = example["doc"].as_str().unwrap();
        if let Some(refused) = example.get("refused").and_then(|r| r.as_str()) {
            if out.code != 1 || !out.stderr.contains(refused) || !out.stderr.contains("help:") {
                failures.push(format!("{doc}: expected refused: {}", out.transcript()));
            }
            continue;
        }
        if out.code != 0 {
            failures.push(format!("{doc}: exit {}: {}", out.code, out.stderr));
            continue;
        }
        let got: serde_json::Value = match serde_json::from_str(out.stdout.trim()) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{doc}: stdout is not one JSON value ({e}): {:?}",
                    out.stdout
                ));
                continue;
            }
        };
        if got != example["expected"] {
            failures.push(format!(
                "{doc}: got {got}, expected {}",
                example["expected"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expr(args: &[&str]) -> crate::support::Output {
    let mut all = vec!["expr"];
    all.extend_from_slice(args);
    run_in(&repo(), &all)
}

#[test]
fn plain_output_says_null_and_ignored() {
    let null = expr(&["Coalesce([mail], [otherMail])"]);
    let ignored = expr(&["IgnoreFlowIfNullOrEmpty([department])"]);
    let multi = expr(&["Split([x], \",\")", "--set", "x=a, b,c"]);
    insta::assert_snapshot!(format!(
        "{}\n{}\n{}",
        null.transcript(),
        ignored.transcript(),
        multi.transcript()
    ));
    assert_eq!(
        expr(&["--json", "IgnoreFlowIfNullOrEmpty([department])"]).stdout,
        "null\n"
    );
}

/// A value holding terminal escapes or a bidi override (text from Entra, pasted as input) is
/// shown, not obeyed: the screen is not cleared, no hidden link, no reversed text.
#[test]
fn a_value_that_would_act_on_the_terminal_is_shown_escaped() {
    let out = expr(&[
        "[jobTitle]",
        "--set",
        "jobTitle=a\u{1b}[2J\u{1b}]8;;http://evil\u{7}click\u{1b}]8;;\u{7}\u{202e}b",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'),
        "{:?}",
        out.stdout
    );
    assert!(out.stdout.contains("click"), "{:?}", out.stdout);
    let split = expr(&["Split([x], \",\")", "--set", "x=a\u{202e},b"]);
    assert!(!split.stdout.contains('\u{202e}'), "{:?}", split.stdout);
}

#[test]
fn parse_error_points_at_the_character() {
    let out = expr(&["Join(\" \", [givenName] [surname])"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn unknown_function_suggests_the_closest() {
    let out = expr(&["Joni(\" \", [a])"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn wrong_argument_count_shows_the_signature() {
    let out = expr(&["Mid([a], 1)"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn evaluation_error_names_function_and_argument() {
    let out = expr(&[
        "FormatDateTime([hired], , \"yyyy-MM-dd\", \"M/d/yyyy\")",
        "--set",
        "hired=31.12.2020",
    ]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn bad_set_and_input_are_clear_errors() {
    let scratch = Scratch::new("expr-input");
    scratch.write("bad.json", "{\"a\": [1, {\"x\": 2}]}");
    scratch.write("broken.json", "{\"a\": ");
    scratch.write("twice.json", "{\"a\": \"1\",\n \"b\": \"2\", \"a\": \"3\"}");
    let set = scratch.roster(&["expr", "[a]", "--set", "novalue"]);
    let input = scratch.roster(&["expr", "[a]", "--input", "bad.json"]);
    let broken = scratch.roster(&["expr", "[a]", "--input", "broken.json"]);
    let twice = scratch.roster(&["expr", "[a]", "--input", "twice.json"]);
    let now = scratch.roster(&["expr", "Now()", "--now", "tomorrow"]);
    // Year 0 in UTC (helper-57: it was written as 12/31/0000).
    let year_zero = scratch.roster(&["expr", "Now()", "--now", "0001-01-01T00:00:00+01:00"]);
    assert_eq!(year_zero.code, 1, "{}", year_zero.stdout);
    assert!(
        year_zero
            .stderr
            .contains("is not a date from year 1 to year 9999 in UTC"),
        "{}",
        year_zero.stderr
    );
    for out in [&set, &input, &broken, &twice, &now] {
        assert_eq!(out.code, 1, "{}", out.transcript());
    }
    insta::assert_snapshot!(format!(
        "{}\n{}\n{}\n{}\n{}",
        set.stderr, input.stderr, broken.stderr, twice.stderr, now.stderr
    ));
}

/// `--input -` reads the attributes from standard input, as `az ad user show ... | roster expr`
/// pipes them; what a file's input is refused for is refused there too, named `-`.
#[test]
fn an_input_of_dash_is_read_from_standard_input() {
    use std::io::Write as _;
    let piped = |text: &str| {
        let mut child = crate::support::roster_command()
            .args([
                "expr",
                r#"Join(" ", [givenName], [surname])"#,
                "--input",
                "-",
            ])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(text.as_bytes());
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The shape Graph answers for a user, `@odata.context` and an empty list included.
    let (code, stdout, stderr) = piped(
        r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [], "givenName": "Jane", "surname": "Doe"}"#,
    );
    assert_eq!((code, stdout.as_str()), (Some(0), "Jane Doe\n"), "{stderr}");
    let (code, _, stderr) = piped("{\"givenName\": \"Jane\", \"givenName\": \"Joan\"}");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--input -:1:"), "{stderr}");
    let (code, _, stderr) = piped("");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--input -"), "{stderr}");
}

/// An `--input` saved by a Windows editor starts with a byte-order mark: it is read as the import
/// reads one. A directory given as `--input` is refused, not read.
#[test]
fn an_input_with_a_byte_order_mark_is_read() {
    let scratch = Scratch::new("expr-input-bom");
    scratch.write("bom.json", "\u{feff}{\"department\": \"Sales\"}");
    let out = scratch.roster(&["expr", "[department]", "--input", "bom.json"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Sales\n"),
        "{}",
        out.stderr
    );
    std::fs::create_dir(scratch.dir.join("dir.json")).unwrap();
    let out = scratch.roster(&["expr", "[department]", "--input", "dir.json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("cannot read --input dir.json: it is not a regular file"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_ignore_keywords_say_which_outcome_and_print_null_as_json() {
    let scratch = Scratch::new("expr-ignore");
    let expression = r#"IIF([employeeType] = "Contractor", IgnoreObjectFlow, IgnoreAttributeFlow)"#;
    for (kind, text) in [
        (
            "Contractor",
            "object ignored (IgnoreObjectFlow: the user is neither created nor updated in this run)\n",
        ),
        (
            "Employee",
            "ignored (IgnoreFlowIfNullOrEmpty or IgnoreAttributeFlow: the attribute is left out of the flow)\n",
        ),
    ] {
        let set = format!("employeeType={kind}");
        let out = scratch.roster(&["expr", expression, "--set", &set]);
        assert_eq!((out.code, out.stdout.as_str()), (0, text), "{}", out.stderr);
        let out = scratch.roster(&["expr", "--json", expression, "--set", &set]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "null\n"),
            "{}",
            out.stderr
        );
    }
}

/// A number in `--input` is its text, as written: not as a float prints it (`1.50` is not
/// `1.5`, and an id of 30 digits keeps every digit), alone or in a multi-valued attribute.
#[test]
fn an_input_number_is_its_text_as_written() {
    let scratch = Scratch::new("expr-input-numbers");
    scratch.write(
        "user.json",
        r#"{"price": 1.50, "id": 123456789012345678901234567890, "e": 1E2, "z": -0, "m": [1.50, "x", true]}"#,
    );
    for (expression, expected) in [
        ("[price]", "\"1.50\"\n"),
        ("[id]", "\"123456789012345678901234567890\"\n"),
        ("[e]", "\"1E2\"\n"),
        ("[z]", "\"-0\"\n"),
        (r#"Join(",", [m])"#, "\"1.50,x,True\"\n"),
    ] {
        let out = scratch.roster(&["expr", "--json", expression, "--input", "user.json"]);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, expected),
            "{expression}: {}",
            out.stderr
        );
    }
    // An empty file ends at its first column, counted from 1 like every other.
    scratch.write("empty.json", "");
    let out = scratch.roster(&["expr", "[a]", "--input", "empty.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("--input empty.json:1:1: "),
        "{}",
        out.stderr
    );
}

#[test]
fn a_set_without_a_name_is_refused() {
    let scratch = Scratch::new("expr-set-empty");
    let out = scratch.roster(&["expr", "[a]", "--set", "=x"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("--set \"=x\": expected NAME=VALUE"),
        "{}",
        out.stderr
    );
}

/// `roster expr` reads attribute names as Entra does, with their case: `[JobTitle]` is refused
/// at its place with Graph's spelling, as `validate` refuses it, never evaluated as null or
/// as `jobTitle`.
#[test]
fn an_attribute_in_another_case_is_refused_as_validate_refuses_it() {
    let scratch = Scratch::new("expr-case");
    let out = scratch.roster(&["expr", "Left([JobTitle], 3)", "--set", "jobTitle=Engineer"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("Entra users have no attribute `JobTitle`")
            && out.stderr.contains("--> expression:1:6")
            && out.stderr.contains("Graph spells it `jobTitle`"),
        "{}",
        out.stderr
    );
    let out = scratch.roster(&["expr", "Left([jobTitle], 3)", "--set", "jobTitle=Engineer"]);
    assert_eq!(out.stdout.trim(), "Eng", "{}", out.transcript());
    // A value given under another case of a name read is said, not taken as absent.
    let out = scratch.roster(&["expr", "Left([jobTitle], 3)", "--set", "JobTitle=Engineer"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("the value is given for `JobTitle`, but the expression reads `jobTitle`"),
        "{}",
        out.stderr
    );
    // Given as read too: the exact name is used.
    let out = scratch.roster(&[
        "expr",
        "[jobTitle]",
        "--set",
        "JobTitle=x",
        "--set",
        "jobTitle=Eng",
    ]);
    assert_eq!(out.stdout.trim(), "Eng", "{}", out.transcript());
}

/// Dates outside .NET's calendar are refused, never printed as year 10000 or 1600: a `--now`
/// past the end of 9999 in UTC, and a negative Active Directory date.
#[test]
fn dates_outside_dotnets_calendar_are_refused() {
    let scratch = Scratch::new("expr-calendar");
    let out = scratch.roster(&["expr", "Now()", "--now", "9999-12-31T23:59:59-14:00"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("from year 1 to year 9999 in UTC"),
        "{}",
        out.stderr
    );
    let out = scratch.roster(&["expr", "DateFromNum(-1)"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("DateFromNum: argument 1: out of range"),
        "{}",
        out.stderr
    );
    let out = scratch.roster(&[
        "expr",
        "FormatDateTime(\"9999-12-31T23:00:00-05:00\", , \"yyyy-MM-ddTHH:mm:sszzz\", \"o\")",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("falls outside years 1 to 9999"),
        "{}",
        out.stderr
    );
    let out = scratch.roster(&["expr", "DateFromNum(0)"]);
    assert_eq!(
        out.stdout.trim(),
        "1/1/1601 12:00:00 AM",
        "{}",
        out.transcript()
    );
}
