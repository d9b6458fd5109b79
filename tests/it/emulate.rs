//! `roster emulate`: prints the exports first, then serves until interrupted.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::repo;

#[test]
fn emulate_prints_exports_then_serves_the_world() {
    let mut child = crate::support::roster_command()
        .args([
            "emulate",
            "--world",
            "examples/demo/world.yaml",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut exports = Vec::new();
    for _ in 0..7 {
        exports.push(lines.next().unwrap().unwrap());
    }
    let base = exports[0]
        .strip_prefix("export ROSTER_ENTRA_LOGIN_URL=")
        .unwrap()
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let names: Vec<&str> = exports
        .iter()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "export ROSTER_ENTRA_LOGIN_URL",
            "export ROSTER_GRAPH_URL",
            "export ROSTER_SALESFORCE_LOGIN_URL",
            "export AZURE_CLIENT_SECRET",
            "export SF_CLIENT_SECRET",
            "export SF_PASSWORD",
            "export SF_SECURITY_TOKEN",
        ]
    );
    // The world is served: a Salesforce versions call needs no token.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let versions: serde_json::Value = runtime.block_on(async {
        reqwest::get(format!("{base}/services/data/"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(versions.as_array().is_some_and(|v| !v.is_empty()));
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn emulate_refuses_a_broken_world() {
    let scratch = crate::support::Scratch::new("broken-world");
    scratch.write(
        "world.yaml",
        "entra: {tenant_id: t}\nsalesforce:\n  users: [{Username: a@b.c, Profile: Nope}]\n",
    );
    let out = scratch.roster(&["emulate", "--world", "world.yaml"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        "error: world file world.yaml: salesforce.users[0]: no Profile \"Nope\""
    );
}

#[test]
fn emulate_listens_only_on_loopback() {
    let out = crate::support::run_in(
        &repo(),
        &[
            "emulate",
            "--world",
            "examples/demo/world.yaml",
            "--listen",
            "0.0.0.0:0",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("only listens on loopback"),
        "{}",
        out.stderr
    );
    let out = crate::support::run_in(
        &repo(),
        &[
            "emulate",
            "--world",
            "examples/demo/world.yaml",
            "--listen",
            "nonsense",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("--listen nonsense: not an address; give HOST:PORT"),
        "{}",
        out.stderr
    );
}

#[test]
fn emulate_exports_secrets_under_the_names_the_config_reads() {
    let scratch = crate::support::Scratch::new("emulate-config-names");
    let config = std::fs::read_to_string(crate::support::repo().join("examples/demo/roster.yaml"))
        .unwrap()
        .replace("{env: AZURE_CLIENT_SECRET}", "{env: CONTOSO_ENTRA_SECRET}")
        .replace("{env: SF_CLIENT_SECRET}", "{env: CONTOSO_SF_SECRET}");
    scratch.write("mine.yaml", config);
    let world = crate::support::repo().join("examples/demo/world.yaml");
    let emulator = crate::support::Emulator::start_with(
        &["-c", "mine.yaml", "--world", world.to_str().unwrap()],
        &scratch.dir,
    );
    let names: Vec<&str> = emulator.env.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"CONTOSO_ENTRA_SECRET"), "{names:?}");
    assert!(names.contains(&"CONTOSO_SF_SECRET"), "{names:?}");
    // And with those exports, the config plans.
    let out = emulator.roster(&scratch.dir, &["-c", "mine.yaml", "plan"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn the_synthetic_config_validates_clean_and_anchors_on_the_object_id() {
    let scratch = crate::support::Scratch::new("emulate-synthetic-config");
    let _emulator = crate::support::Emulator::start_with(
        &["--synthetic", "50", "--write-config", "roster.yaml"],
        &scratch.dir,
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("is valid.") && !out.stdout.contains("warning"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let config = std::fs::read_to_string(scratch.dir.join("roster.yaml")).unwrap();
    assert!(
        config.contains("{source: '[objectId]', target: Entra_Object_Id__c}"),
        "{config}"
    );
    // Written again over its own file, as a second run does; never over a config of one's own.
    drop(crate::support::Emulator::start_with(
        &["--synthetic", "50", "--write-config", "roster.yaml"],
        &scratch.dir,
    ));
    let mine = crate::support::read("examples/minimal/roster.yaml");
    scratch.write("mine.yaml", &mine);
    let out = scratch.roster(&["emulate", "--synthetic", "5", "--write-config", "mine.yaml"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "--write-config mine.yaml: the file is there and was not written by --write-config"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(scratch.dir.join("mine.yaml")).unwrap(),
        mine
    );
    // Nor through a link, even to a file it wrote.
    std::os::unix::fs::symlink("roster.yaml", scratch.dir.join("link.yaml")).unwrap();
    let out = scratch.roster(&["emulate", "--synthetic", "5", "--write-config", "link.yaml"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--write-config link.yaml: it is not a regular file"),
        "{}",
        out.stderr
    );
}

/// Every admin route the README's table lists is served: none answers "no admin route".
#[test]
fn every_admin_route_in_the_readme_is_served() {
    let readme = crate::support::read("README.md");
    let emulator = crate::support::Emulator::start("examples/demo/world.yaml");
    let table = readme
        .split_once("admin API under `/_emulator/`")
        .and_then(|(_, rest)| rest.split("\n\n").nth(1))
        .unwrap_or_default();
    let mut routes = 0;
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cell = line.split('|').nth(1).unwrap_or_default();
        for route in cell.split(',').map(|r| r.trim().trim_matches('`')) {
            let Some((method, path)) = route.split_once(' ') else {
                continue;
            };
            let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
                continue;
            };
            let path = path
                .replace("{id or UPN}", "ava.martinez@contoso.com")
                .replace("{id or name}", "SF Sales")
                .replace("{Username or id}", "nobody@contoso.com.dev1")
                .replace("{id}", "unknown-id");
            let answer = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    reqwest::Client::new()
                        .request(
                            method.clone(),
                            format!("{}/_emulator/{path}", emulator.base),
                        )
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                });
            assert!(
                !answer.contains("no admin route"),
                "README names {method} {path}, the emulator does not serve it: {answer}"
            );
            routes += 1;
        }
    }
    assert!(
        routes >= 13,
        "the README's admin table was not found ({routes} routes)"
    );
}
