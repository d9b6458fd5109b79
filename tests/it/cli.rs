//! The command-line surface: help, version, completions, exit codes of unknown input.

use crate::support::{Scratch, repo, run_in};

#[test]
fn help_lists_every_command() {
    let out = run_in(&repo(), &["--help"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The names in the Commands section, each the first word of its line (a name that only
    // appears in another command's description does not count).
    let listed: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        [
            "validate",
            "check",
            "plan",
            "apply",
            "show",
            "explain",
            "expr",
            "snapshot",
            "log",
            "diff",
            "schema",
            "import",
            "export",
            "emulate",
            "demo",
            "completions",
            "help"
        ],
        "{}",
        out.stdout
    );
    // And each one runs: its own help names it.
    for command in &listed[..listed.len() - 1] {
        let help = run_in(&repo(), &[command, "--help"]);
        assert_eq!(help.code, 0, "{command}: {}", help.stderr);
        assert!(
            help.stdout.contains(&format!("Usage: roster {command}")),
            "{command}: {}",
            help.stdout
        );
    }
}

#[test]
fn unknown_flag_exits_one() {
    let out = run_in(&repo(), &["validate", "--frobnicate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("--frobnicate"));
}

#[test]
fn completions_are_generated_for_every_shell() {
    // Each shell's own syntax, and every command offered.
    for (shell, marker) in [
        ("bash", "complete -F _roster"),
        ("zsh", "#compdef roster"),
        ("fish", "complete -c roster"),
        ("elvish", "edit:completion:arg-completer[roster]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run_in(&repo(), &["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell} lacks {marker:?}");
        for command in ["validate", "plan", "apply", "explain", "snapshot", "demo"] {
            assert!(out.stdout.contains(command), "{shell} lacks {command}");
        }
    }
    let unknown = run_in(&repo(), &["completions", "tcsh"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
}

#[test]
fn config_path_comes_from_roster_config() {
    let scratch = Scratch::new("env-config");
    std::fs::copy(
        repo().join("examples/minimal/roster.yaml"),
        scratch.dir.join("elsewhere.yaml"),
    )
    .unwrap();
    let out = crate::support::roster_command()
        .arg("validate")
        .current_dir(&scratch.dir)
        .env("ROSTER_CONFIG", "elsewhere.yaml")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("elsewhere.yaml is valid"));
}

/// A CI matrix that leaves `ROSTER_CONFIG` empty is told so by the variable's name, not by
/// clap's words for a `--config` flag nobody typed; a `--config` on the command line wins, a
/// command that reads no config runs, and a blank variable is named as an empty one.
#[test]
fn an_empty_roster_config_variable_is_named() {
    let scratch = Scratch::new("empty-env-config");
    std::fs::copy(
        repo().join("examples/minimal/roster.yaml"),
        scratch.dir.join("given.yaml"),
    )
    .unwrap();
    let run = |args: &[&str], variable: &str| {
        let out = crate::support::roster_command()
            .args(args)
            .current_dir(&scratch.dir)
            .env("ROSTER_CONFIG", variable)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for variable in ["", " "] {
        let (code, stderr) = run(&["validate"], variable);
        assert_eq!(code, Some(1));
        assert!(
            stderr.contains("ROSTER_CONFIG is set but empty") && !stderr.contains("'--config"),
            "{stderr}"
        );
    }
    let (code, stderr) = run(&["-c", "given.yaml", "validate"], "");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = run(&["expr", "\"x\""], "");
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = run(&["validate", "--config", ""], "elsewhere.yaml");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("--config names no file"), "{stderr}");
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = run_in(&repo(), &["schema"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        crate::support::read("schemas/roster.schema.json")
    );
}

/// `plan --out -`, `snapshot --out -`, `apply --audit-log -` and `emulate --write-config -`
/// would write a file (or a directory) named `-` where the reader expected stdout: each is
/// refused before anything is read, saying where the output goes, and nothing named `-` is
/// written; nor is an empty path taken (`snapshot --out ""` wrote into the working directory).
#[test]
fn a_dash_is_no_file_to_save_a_plan_or_a_snapshot_to() {
    let scratch = Scratch::new("dash-out");
    for (args, says) in [
        (
            &["plan", "--out", "-"][..],
            "the plan goes to stdout without --out",
        ),
        (
            &["snapshot", "--out", "-"][..],
            "entra.json and salesforce.json",
        ),
        (
            &["apply", "--auto-approve", "--audit-log", "-"][..],
            "the audit log is appended to a file",
        ),
        (
            &["emulate", "--synthetic", "5", "--write-config", "-"][..],
            "--write-config writes the config to a file",
        ),
        (
            &["snapshot", "--out", ""][..],
            "an empty path names no file",
        ),
        (&["plan", "--out", ""][..], "an empty path names no file"),
    ] {
        let out = scratch.roster(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(!scratch.dir.join("-").exists(), "{args:?}");
    }
}
