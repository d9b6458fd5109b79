//! The command-line surface: help, version, completions, exit codes of unknown input.

use crate::support::{Scratch, repo, run_in};

#[test]
fn help_lists_every_command() {
    let out = run_in(&repo(), &["--help"]);
    assert_eq!(out.code, 0);
    for command in [
        "validate",
        "plan",
        "apply",
        "show",
        "explain",
        "expr",
        "snapshot",
        "schema",
        "emulate",
        "demo",
        "completions",
    ] {
        assert!(
            out.stdout.contains(command),
            "--help lacks {command}:\n{}",
            out.stdout
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
fn completions_are_generated() {
    let out = run_in(&repo(), &["completions", "bash"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("roster"));
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

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = run_in(&repo(), &["schema"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        crate::support::read("schemas/roster.schema.json")
    );
}
