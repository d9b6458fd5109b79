//! `roster check`: every check passes on the demo world; each way a real setup goes wrong fails
//! its check with a fix, the checks that depend on it are not run, and the exit code is 1.

use serde_json::Value;

use crate::support::{Emulator, Output, Scratch, read, repo};

/// The demo world with `edit` applied, served; a scratch copy of the demo config with `config`
/// applied.
struct Setup {
    emulator: Emulator,
    scratch: Scratch,
}

fn setup(name: &str, world: &dyn Fn(String) -> String, config: &dyn Fn(String) -> String) -> Setup {
    let scratch = Scratch::new(name);
    let original = read("examples/demo/world.yaml");
    let edited = world(original.clone());
    let path = if edited == original {
        repo().join("examples/demo/world.yaml")
    } else {
        scratch.write("world.yaml", &edited)
    };
    let emulator = Emulator::start_with(&["--world", path.to_str().unwrap()], &repo());
    scratch.write("roster.yaml", config(read("examples/demo/roster.yaml")));
    Setup { emulator, scratch }
}

impl Setup {
    fn check(&self, env: &[(&str, &str)]) -> (Output, Value) {
        let text = self.emulator.roster(&self.scratch.dir, &["check"], env);
        let json = self
            .emulator
            .roster(&self.scratch.dir, &["check", "--format", "json"], env);
        assert_eq!(text.code, json.code, "{}\n{}", text.stdout, json.stdout);
        (text, serde_json::from_str(&json.stdout).unwrap())
    }
}

/// The demo world with the roster client granted only the Graph permissions `roles`.
fn granting(world: &str, roles: &str) -> String {
    let subjects = "      federated_subjects: [\"repo:contoso/iam:ref:refs/heads/main\"]\n";
    world.replace(subjects, &format!("{subjects}      roles: [{roles}]\n"))
}

fn same(text: String) -> String {
    text
}

/// The status of the checks named `name` (one per problem for some).
fn statuses(json: &Value, name: &str) -> Vec<String> {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .map(|c| c["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The fix of the check `name`, which failed.
fn fix<'j>(json: &'j Value, name: &str) -> &'j str {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name && c["status"] == "fail")
        .and_then(|c| c["fix"].as_str())
        .unwrap_or_else(|| panic!("{name} did not fail with a fix: {json:#}"))
}

/// Asserts the check failed with `detail` and a fix, the run exited 1, and `skipped` were not run.
fn assert_failed(out: &Output, json: &Value, name: &str, detail: &str, skipped: &[&str]) {
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(json["ok"], false);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with(&format!("✗ {name}: ")) && l.contains(detail)),
        "{name}: {detail}\n{}",
        out.stdout
    );
    assert!(!fix(json, name).is_empty(), "{json:#}");
    for other in skipped {
        assert_eq!(statuses(json, other), ["skipped"], "{other}: {json:#}");
    }
}

#[test]
fn every_check_passes_on_the_demo_world() {
    let setup = setup("check-demo", &same, &same);
    let (out, json) = setup.check(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(json["ok"], true);
    assert!(
        out.stdout.contains("All 10 checks passed"),
        "{}",
        out.stdout
    );
    for line in [
        "✓ graph permissions: the token carries Application.Read.All, GroupMember.Read.All, User.Read.All",
        "✓ application: \"Salesforce Sandbox\" (service principal 9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
        "✓ org: Emulated Org (00D8c0000000001EAA), a sandbox",
        "✓ licences: Salesforce: 24 needed, 32 free of 40",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    // Without the plan: the eight connection checks, no whole read.
    let quick = setup
        .emulator
        .roster(&setup.scratch.dir, &["check", "--connections-only"], &[]);
    assert_eq!(quick.code, 0, "{}", quick.stdout);
    assert!(
        quick.stdout.contains("\nAll 8 checks passed.\n"),
        "{}",
        quick.stdout
    );
    assert!(!quick.stdout.contains("✓ names:") && !quick.stdout.contains("licences:"));
}

/// A config given with `--config` is the file the checks name, in what passes and in each fix:
/// an admin with `staging.yaml` is not sent to a `roster.yaml` that does not exist.
#[test]
fn the_checks_name_the_config_file_given() {
    let setup = setup("check-config-path", &same, &same);
    let dir = &setup.scratch.dir;
    std::fs::rename(dir.join("roster.yaml"), dir.join("staging.yaml")).unwrap();
    let passed = setup
        .emulator
        .roster(dir, &["check", "--config", "staging.yaml"], &[]);
    assert_eq!(passed.code, 0, "{}\n{}", passed.stdout, passed.stderr);
    assert!(
        passed.stdout.contains(
            "✓ names: every profile, role, grant, app role and group staging.yaml names resolves"
        ),
        "{}",
        passed.stdout
    );
    // Keys that are no private keys: each side's client cannot be made, and each fix sends
    // the admin to the file given.
    let (config, files) = wrong_keys();
    std::fs::write(
        dir.join("staging.yaml"),
        config(read("examples/demo/roster.yaml")),
    )
    .unwrap();
    for name in files {
        setup
            .scratch
            .write(name, read(&format!("examples/demo/keys/{name}")));
    }
    let out = setup.emulator.roster(
        dir,
        &["check", "--config", "staging.yaml", "--format", "json"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(fix(&json, "entra"), "fix source in staging.yaml");
    assert_eq!(fix(&json, "salesforce"), "fix target in staging.yaml");
    assert!(!out.stdout.contains("roster.yaml"), "{}", out.stdout);
}

/// A URL override over plain http fails the checks of the service it is for, naming the
/// variable, and not the other service's: a wrong `ROSTER_SALESFORCE_LOGIN_URL` once failed the
/// Entra check too, with "fix source in roster.yaml".
#[test]
fn a_bad_url_override_fails_only_its_own_service() {
    let setup = setup("check-override", &same, &same);
    for (variable, failed, passed, skipped) in [
        (
            "ROSTER_SALESFORCE_LOGIN_URL",
            "salesforce",
            "entra",
            &["api version", "org", "manage users", "names", "licences"][..],
        ),
        (
            "ROSTER_GRAPH_URL",
            "entra",
            "salesforce",
            &["graph permissions", "application", "names", "licences"][..],
        ),
    ] {
        let (out, json) = setup.check(&[(variable, "http://login.example.com")]);
        assert_failed(
            &out,
            &json,
            failed,
            &format!(
                "uses plain http to login.example.com; only https is allowed, except for loopback hosts (127.0.0.0/8, ::1, localhost) (from environment variable {variable})"
            ),
            skipped,
        );
        assert_eq!(statuses(&json, passed), ["pass"], "{variable}: {json:#}");
        assert_eq!(
            fix(&json, failed),
            "set the environment variable the message names to an https URL (or a loopback one), \
             or unset it to use roster.yaml's",
            "{variable}"
        );
    }
}

#[test]
fn a_wrong_client_secret_fails_entra_and_nothing_past_it_runs() {
    let setup = setup("check-secret", &same, &same);
    let (out, json) = setup.check(&[("AZURE_CLIENT_SECRET", "not-the-secret")]);
    assert_failed(
        &out,
        &json,
        "entra",
        "AADSTS7000215: Invalid client secret provided",
        &["graph permissions", "application", "names", "licences"],
    );
    // Salesforce is checked all the same.
    assert_eq!(statuses(&json, "salesforce"), ["pass"]);
    assert!(!out.stdout.contains("not-the-secret"));
}

#[test]
fn a_missing_graph_permission_is_named_with_where_to_grant_it() {
    let setup = setup(
        "check-permission",
        &|w| granting(&w, "Application.Read.All, User.Read.All"),
        &same,
    );
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "graph permissions",
        "the token lacks GroupMember.Read.All (for the members of assigned groups)",
        &["names", "licences"],
    );
    assert!(
        out.stdout.contains(
            "fix: in Entra > App registrations > 5e1f8a63-0c3b-4d0e-9a57-3f1d2b7c9e11 > API \
             permissions, add the Microsoft Graph application permission(s) GroupMember.Read.All"
        ),
        "{}",
        out.stdout
    );
    // And the emulator refuses what the token does not allow, as Graph does.
    let plan = setup.emulator.roster(&setup.scratch.dir, &["plan"], &[]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr.contains("403") && plan.stderr.contains("Authorization_RequestDenied"),
        "{}",
        plan.stderr
    );
}

/// Without Application.Read.All the application cannot be read (Graph answers 403, which says
/// nothing of `source.application`): that check is not run, rather than failed with a fix that
/// blames the config.
#[test]
fn without_application_read_the_application_is_not_checked() {
    let setup = setup(
        "check-no-application-read",
        &|w| granting(&w, "GroupMember.Read.All, User.Read.All"),
        &same,
    );
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "graph permissions",
        "the token lacks Application.Read.All",
        &["application", "names", "licences"],
    );
    assert!(
        out.stdout
            .contains("- application: not checked: the token lacks Application.Read.All"),
        "{}",
        out.stdout
    );
}

/// The demo config with a public key and a certificate given as the two private keys, and the
/// key files it then names.
fn wrong_keys() -> (impl Fn(String) -> String, [&'static str; 2]) {
    let config = |c: String| {
        c.replace(
            "    client_secret: {env: AZURE_CLIENT_SECRET}\n",
            "    certificate: {private_key: {file: demo-signing.pub}, certificate: {file: demo-signing.crt}}\n",
        )
        .replace(
            "    client_credentials:\n      client_id: 3MVG9contoso.roster.dev1\n      client_secret: {env: SF_CLIENT_SECRET}\n",
            "    jwt_bearer: {client_id: 3MVG9contoso.roster.dev1, username: integration@contoso.com.dev1, private_key: {file: demo-signing.crt}}\n",
        )
    };
    (config, ["demo-signing.pub", "demo-signing.crt"])
}

/// A certificate or a public key given as the private key is named for what it is, when the
/// config is read — not as a signing error that points at Entra's AADSTS codes — and every
/// check after it is listed as not run.
#[test]
fn a_certificate_given_as_the_private_key_is_named_and_the_rest_not_run() {
    let (config, files) = wrong_keys();
    let setup = setup("check-key-kind", &same, &config);
    for name in files {
        setup
            .scratch
            .write(name, read(&format!("examples/demo/keys/{name}")));
    }
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "entra",
        "private_key is not a PEM RSA private key: it holds a PUBLIC KEY, not a private key",
        &["graph permissions", "application"],
    );
    assert_failed(
        &out,
        &json,
        "salesforce",
        "private_key is not a PEM RSA private key: it holds a CERTIFICATE, not a private key",
        &["api version", "org", "manage users", "names", "licences"],
    );
}

/// A config that does not load is still one JSON document with --format json: a failed
/// `config` check holding its problems (also on stderr, at their places), exit 1.
#[test]
fn a_broken_config_is_a_failed_check_in_json_too() {
    let setup = setup("check-broken-config", &same, &|c| {
        c.replacen("source:", "sorce:", 1)
    });
    let out = setup
        .emulator
        .roster(&setup.scratch.dir, &["check", "--format", "json"], &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(statuses(&json, "config"), ["fail"]);
    assert!(
        json["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("unknown key `sorce`"),
        "{json:#}"
    );
    assert!(out.stderr.contains("--> roster.yaml:"), "{}", out.stderr);
    // A config that is not there: its help said once (helper-57: it was said twice).
    let out = setup.emulator.roster(
        &setup.scratch.dir,
        &["check", "--format", "json", "-c", "missing.yaml"],
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let detail = json["checks"][0]["detail"].as_str().unwrap();
    assert_eq!(
        detail.matches("there is no such file").count(),
        1,
        "{detail}"
    );
}

/// A pipe given as the config (`-c /dev/stdin`) is said to be no regular file, not a link
/// that leads nowhere (helper-57).
#[cfg(unix)]
#[test]
fn a_pipe_as_the_config_is_named_as_one() {
    use std::io::Write as _;
    let mut child = crate::support::roster_command()
        .args(["-c", "/dev/stdin", "validate"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"version: 1\n");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/dev/stdin: it is not a regular file (a directory, a device or a pipe)"),
        "{stderr}"
    );
}

#[test]
fn a_wrong_application_name_fails_with_the_help_to_find_it() {
    let setup = setup("check-app", &same, &|c| {
        c.replace(
            "display_name: Salesforce Sandbox",
            "display_name: Salesforce Sandbx",
        )
    });
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "application",
        "the tenant has no enterprise application named \"Salesforce Sandbx\"",
        &["names", "licences"],
    );
}

#[test]
fn a_production_org_where_a_sandbox_was_expected_fails() {
    let setup = setup(
        "check-production",
        &|w| w.replace("  sandbox: dev1\n", ""),
        &same,
    );
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "org",
        "is a production org, but target.login_url (https://test.salesforce.com) is for a sandbox",
        &["names", "licences"],
    );
}

#[test]
fn an_integration_user_without_manage_users_fails() {
    let setup = setup(
        "check-manage-users",
        &|w| {
            w.replace(
                "    - {name: System Administrator, license: Salesforce}\n",
                "    - {name: System Administrator, license: Salesforce, manage_users: false}\n",
            )
        },
        &same,
    );
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "manage users",
        "the integration user cannot create or edit users",
        &["names", "licences"],
    );
}

#[test]
fn too_few_licences_for_the_users_in_scope_fails() {
    let setup = setup(
        "check-licences",
        &|w| {
            w.replace(
                "    - {name: Salesforce, total: 40}\n",
                "    - {name: Salesforce, total: 20}\n",
            )
        },
        &same,
    );
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "licences",
        "user(s) in scope get no seat (Salesforce: 24 needed, 12 free of 20)",
        &[],
    );
}

#[test]
fn an_unserved_api_version_and_an_unknown_name_fail() {
    let setup = setup("check-version", &same, &|c| {
        c.replace("api_version: \"62.0\"", "api_version: \"70.0\"")
    });
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "api version",
        "70.0 is not served (the org serves 31.0 to",
        &["org", "manage users", "names", "licences"],
    );

    let setup = crate::check::setup("check-names", &same, &|c| {
        c.replace("profile: Support User", "profile: Support Usr")
    });
    let (out, json) = setup.check(&[]);
    assert_failed(
        &out,
        &json,
        "names",
        // At its place in the file, as `plan` shows it.
        &format!(
            "the org has no profile named \"Support Usr\" (roster.yaml:{}:16)",
            crate::support::read("examples/demo/roster.yaml")
                .lines()
                .position(|l| l.contains("profile: Support User"))
                .unwrap()
                + 1
        ),
        &[],
    );
}
