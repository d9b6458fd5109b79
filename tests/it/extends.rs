//! `extends`: an org's config built on a shared base — maps merged key by key, lists and values
//! replaced — with every diagnostic in the file the setting came from, `validate
//! --explain-merge` saying where each setting came from, and a saved plan stale when the base
//! changes.

use crate::support::{Scratch, read};

/// A base (the demo config) and `orgs/dev.yaml` extending it with `dev`.
fn layered(name: &str, dev: &str) -> Scratch {
    let scratch = Scratch::new(name);
    scratch.write("base.yaml", read("examples/demo/roster.yaml"));
    std::fs::create_dir_all(scratch.dir.join("orgs")).unwrap();
    scratch.write("orgs/dev.yaml", format!("extends: ../base.yaml\n{dev}"));
    scratch
}

#[test]
fn maps_merge_lists_and_values_replace_and_each_setting_says_where_it_came_from() {
    let scratch = layered(
        "extends-merge",
        "target:\n  login_url: https://contoso--dev.sandbox.my.salesforce.com\nsafety:\n  max_deactivations: 3\nprotect:\n  usernames: [admin@contoso.com.dev1]\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate", "--explain-merge"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let origin = |pointer: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(pointer))
            .unwrap_or_else(|| panic!("{pointer}: {}", out.stdout))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned()
    };
    // Overridden values, from dev; their siblings, still from the base.
    assert_eq!(origin("/target/login_url"), "orgs/dev.yaml:3:3");
    assert_eq!(origin("/safety/max_deactivations"), "orgs/dev.yaml:5:3");
    assert!(origin("/safety/refuse_empty_source").starts_with("base.yaml:"));
    assert!(origin("/target/api_version").starts_with("base.yaml:"));
    // A list is replaced whole: protect.usernames has dev's one name, protect.profiles the base's.
    assert_eq!(origin("/protect/usernames"), "orgs/dev.yaml:7:3");
    assert!(origin("/protect/profiles").starts_with("base.yaml:"));
    assert!(origin("/mappings").starts_with("base.yaml:"));
}

#[test]
fn each_error_points_into_the_file_its_setting_came_from() {
    // In the org's file.
    let scratch = layered(
        "extends-errors-dev",
        "safety:\n  max_deactivations: three\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/safety/max_deactivations")
            && out.stderr.contains("--> orgs/dev.yaml:3:22"),
        "{}",
        out.stderr
    );
    // In the base.
    let scratch = layered("extends-errors-base", "safety:\n  max_deactivations: 3\n");
    let base =
        read("examples/demo/roster.yaml").replace("api_version: \"62.0\"", "api_version: \"62.5\"");
    scratch.write("base.yaml", base);
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/target/api_version") && out.stderr.contains("--> base.yaml:17:16"),
        "{}",
        out.stderr
    );
    // A base that extends back: the circle named, at the `extends` that closes it.
    let scratch = layered("extends-circle", "");
    let base = format!(
        "{}extends: orgs/dev.yaml\n",
        read("examples/demo/roster.yaml")
    );
    scratch.write("base.yaml", base);
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "`extends` goes round in a circle: orgs/dev.yaml -> base.yaml -> orgs/dev.yaml"
        ),
        "{}",
        out.stderr
    );
    // A base that is not there.
    let scratch = Scratch::new("extends-missing");
    scratch.write("roster.yaml", "extends: nowhere.yaml\nversion: 1\n");
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("/extends: cannot read nowhere.yaml")
            && out.stderr.contains("--> roster.yaml:1:10"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_saved_plan_is_stale_when_the_base_changes() {
    let world = crate::apply::World::demo("extends-stale");
    world
        .scratch
        .write("base.yaml", read("examples/demo/roster.yaml"));
    world.scratch.write("roster.yaml", "extends: base.yaml\n");
    let out = world.roster(&["plan", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The org's file is unchanged; its base is not.
    let base =
        read("examples/demo/roster.yaml").replace("max_deactivations: 5", "max_deactivations: 4");
    world.scratch.write("base.yaml", base);
    let out = world.roster(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("Saved plan is stale"), "{}", out.stderr);
    // Both files named: the plan's one digest cannot tell which changed.
    assert!(
        out.stderr.contains(
            "the config (roster.yaml or a file it extends: base.yaml) changed since the plan"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(world.requests_to("composite"), 0);
}

/// A key is the file's own text: one holding a bidirectional override or an escape sequence is
/// shown escaped by `--explain-merge`, never obeyed or dropped (helper-57).
#[test]
fn explain_merge_shows_a_key_that_acts_on_the_terminal_escaped() {
    let scratch = layered(
        "extends-explain-acting",
        "roles:\n  requires_licenses:\n    \"Knowledge_\\u202EAuthor\\e[31m\": [Knowledge_PSL]\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate", "--explain-merge"]);
    assert!(
        !out.stdout.contains('\u{202e}') && !out.stdout.contains('\u{1b}'),
        "{:?}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Knowledge_\\u{202e}Author\\u{1b}[31m"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

/// `key: null` in an org's file takes the base's setting away, whatever its kind: the default
/// applies (helper-57: `ownership: null` was refused, `reconcile: null` was not).
#[test]
fn null_takes_a_base_setting_away() {
    let scratch = layered(
        "extends-null",
        "ownership: null\nprotect: null\nsafety: {max_deactivations: null}\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate", "--explain-merge"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for gone in ["/ownership", "/protect", "/safety/max_deactivations"] {
        assert!(
            !out.stdout.lines().any(|l| l.starts_with(gone)),
            "{gone}: {}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("/safety/refuse_empty_source")),
        "{}",
        out.stdout
    );
}

#[test]
fn an_org_may_use_another_auth_flow_or_secret_source_than_its_base() {
    let scratch = layered(
        "extends-one-of",
        "target:\n  auth:\n    jwt_bearer:\n      client_id: 3MVG9contoso.prod\n      username: integration@contoso.com\n      private_key: {file: keys/sf.pem}\nsource:\n  credential:\n    client_secret: {file: keys/entra.txt}\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate", "--explain-merge"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("/target/auth/jwt_bearer/private_key/file")
            && !out.stdout.contains("/target/auth/client_credentials"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("/source/credential/client_secret/file")
            && !out.stdout.contains("/source/credential/client_secret/env"),
        "{}",
        out.stdout
    );
}

/// A pull request may edit `extends`, and roster prints lines of the files it reads in its
/// errors: a base must be a `.yaml` or `.yml` file, no kernel or device file (by its name or a
/// link), and inside the config's git repository. Refused before it is read; nothing of it is
/// printed.
#[cfg(unix)]
/// An org's `target.auth` replaces the base's whole: a key the org's map lacks and the base
/// gives is said to be not merged in, with the base named; a key the base lacks too gets no
/// such help.
#[test]
fn a_key_missing_from_a_replaced_auth_names_the_base_that_gives_it() {
    let scratch = layered(
        "extends-replaced-auth",
        "target:\n  auth:\n    client_credentials:\n      client_id: 3MVG9other\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("missing required key `client_secret`")
            && out.stderr.contains(
                "help: base.yaml gives `client_secret` under `target.auth`, but this file's \
                 `target.auth` replaces base.yaml's whole"
            ),
        "{}",
        out.stderr
    );
    let scratch = layered(
        "extends-replaced-auth-jwt",
        "target:\n  auth:\n    jwt_bearer:\n      client_id: 3MVG9other\n",
    );
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        !out.stderr.contains("replaces base.yaml's whole"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_base_outside_the_repository_or_not_yaml_is_refused_unread() {
    let scratch = Scratch::new("extends-escape");
    let repo = scratch.dir.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("orgs")).unwrap();
    scratch.write("repo/base.yaml", read("examples/demo/roster.yaml"));
    scratch.write("outside.yaml", "planted: SECRET-OUTSIDE\n");
    scratch.write("repo/.env", "SF_CLIENT_SECRET=SECRET-DOTENV\n");
    std::os::unix::fs::symlink("/proc/self/environ", repo.join("environ.yaml")).unwrap();
    std::os::unix::fs::symlink(scratch.dir.join("outside.yaml"), repo.join("linked.yaml")).unwrap();
    for (base, why) in [
        (
            "/proc/self/environ",
            "its name does not end in .yaml or .yml",
        ),
        ("../.env", "its name does not end in .yaml or .yml"),
        // A name that is an extension alone, and one that comes to nothing (helper-57: it was
        // named as an empty path).
        ("../.yaml", "it is named .yaml or .yml alone"),
        (
            "..",
            "\"..\" cannot be a base config: its name does not end in .yaml or .yml",
        ),
        ("../environ.yaml", "it is the system file /proc/"),
        ("../../outside.yaml", "outside the repository of the config"),
        ("../linked.yaml", "outside the repository of the config"),
    ] {
        scratch.write("repo/orgs/dev.yaml", format!("extends: {base}\n"));
        let out = crate::support::run_with(
            &repo,
            &["-c", "orgs/dev.yaml", "validate"],
            &[("ROSTER_TEST_SECRET", "SECRET-ENV")],
        );
        assert_eq!(out.code, 1, "{base}: {}", out.stderr);
        assert!(
            out.stderr.contains("cannot be a base config"),
            "{base}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(why), "{base}: {}", out.stderr);
        assert!(!out.stderr.contains("SECRET-"), "{base}: {}", out.stderr);
        assert!(!out.stdout.contains("SECRET-"), "{base}: {}", out.stdout);
    }
    // A link named .yaml leading to a file that is not; a link to stdin.
    scratch.write("repo/key.pem", "-----BEGIN PRIVATE KEY-----\nSECRET-KEY\n");
    std::os::unix::fs::symlink(repo.join(".env"), repo.join("env.yaml")).unwrap();
    std::os::unix::fs::symlink(repo.join("key.pem"), repo.join("k.yml")).unwrap();
    std::os::unix::fs::symlink("/dev/stdin", repo.join("stdin.yaml")).unwrap();
    for (base, why) in [
        ("../env.yaml", "whose name does not end in .yaml or .yml"),
        ("../k.yml", "whose name does not end in .yaml or .yml"),
        ("../stdin.yaml", ""),
    ] {
        scratch.write("repo/orgs/dev.yaml", format!("extends: {base}\n"));
        let out = crate::support::run_in(&repo, &["-c", "orgs/dev.yaml", "validate"]);
        assert_eq!(out.code, 1, "{base}: {}", out.stderr);
        assert!(
            out.stderr.contains("cannot be a base config") && out.stderr.contains(why),
            "{base}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("SECRET-"), "{base}: {}", out.stderr);
    }
    // The repository's own base is read as before.
    scratch.write("repo/orgs/dev.yaml", "extends: ../base.yaml\n");
    let out = crate::support::run_in(&repo, &["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// The config file given is read only if it is a regular file and no kernel or device file,
/// and, when it is a link, only if it leads inside its repository; outside any repository a
/// base lies under the current directory. Nothing of a refused file is printed.
#[cfg(unix)]
#[test]
fn a_config_linked_out_of_its_repository_or_to_a_system_file_is_refused_unread() {
    let scratch = Scratch::new("extends-linked-config");
    let repo = scratch.dir.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    scratch.write("outside.yaml", "planted: SECRET-OUTSIDE\n");
    // The config file itself: a link to a system file, a device, or out of the repository.
    for (target, why) in [
        (
            std::path::PathBuf::from("/proc/self/environ"),
            "it is the system file /proc/",
        ),
        (
            std::path::PathBuf::from("/dev/null"),
            "it is the system file /dev/null",
        ),
        (
            scratch.dir.join("outside.yaml"),
            "outside the repository of the config",
        ),
    ] {
        let _ = std::fs::remove_file(repo.join("linked-config.yaml"));
        std::os::unix::fs::symlink(&target, repo.join("linked-config.yaml")).unwrap();
        let out = crate::support::run_with(
            &repo,
            &["-c", "linked-config.yaml", "validate"],
            &[("ROSTER_TEST_SECRET", "SECRET-ENV")],
        );
        assert_eq!(out.code, 1, "{target:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("cannot read config file linked-config.yaml")
                && out.stderr.contains(why),
            "{target:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("SECRET-"),
            "{target:?}: {}",
            out.stderr
        );
    }
    // Outside any repository, a base lies under the current directory.
    let loose = scratch.dir.join("loose");
    std::fs::create_dir_all(loose.join("a")).unwrap();
    scratch.write("loose/a/dev.yaml", "extends: ../../outside.yaml\n");
    let out = crate::support::run_in(&loose, &["-c", "a/dev.yaml", "validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("outside the current directory") && !out.stderr.contains("SECRET-"),
        "{}",
        out.stderr
    );
}

/// An org file as the README writes it passes the schema editors use for files that extend a
/// base (the whole schema would ask it for `version`, `source`, ... the base gives), and that
/// schema still checks what the file does say.
#[test]
fn an_org_file_passes_the_extends_schema_an_editor_uses() {
    let schema: serde_json::Value =
        serde_json::from_str(&crate::support::read("schemas/roster-extends.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let org = "extends: ../base.yaml\ntarget:\n  login_url: https://contoso--dev.sandbox.my.salesforce.com\nownership:\n  username_suffix: .dev1\nsafety:\n  max_deactivations: 3\nprotect: null\n";
    let instance: serde_json::Value = serde_saphyr::from_str(org).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let whole: serde_json::Value =
        serde_json::from_str(&crate::support::read("schemas/roster.schema.json")).unwrap();
    assert!(
        !jsonschema::validator_for(&whole)
            .unwrap()
            .is_valid(&instance)
    );
    // What the file says is still checked: a typo, a wrong type, and no `extends` at all.
    for wrong in [
        "extends: ../base.yaml\nsafety:\n  max_deactivatons: 3\n",
        "extends: ../base.yaml\nsafety:\n  max_deactivations: [3]\n",
        "safety:\n  max_deactivations: 3\n",
    ] {
        let instance: serde_json::Value = serde_saphyr::from_str(wrong).unwrap();
        assert!(!validator.is_valid(&instance), "{wrong}");
    }
}

/// A chain of 8 files (the one given and 7 bases) is followed; a 9th file is refused, at the
/// `extends` that names it.
#[test]
fn a_chain_of_eight_files_is_the_longest() {
    for (files, ok) in [(8, true), (9, false)] {
        let scratch = Scratch::new("extends-chain");
        scratch.write("c0.yaml", read("examples/demo/roster.yaml"));
        for i in 1..files {
            scratch.write(&format!("c{i}.yaml"), format!("extends: c{}.yaml\n", i - 1));
        }
        let given = format!("c{}.yaml", files - 1);
        let out = scratch.roster(&["-c", &given, "validate"]);
        assert_eq!(out.code == 0, ok, "{files} files: {}", out.stderr);
        if !ok {
            assert!(
                out.stderr.contains("more than 8 files extend one another")
                    && out.stderr.contains("--> c1.yaml:1:"),
                "{}",
                out.stderr
            );
        }
    }
}

/// A base that is not UTF-8 is named at its place in the base, as the file given is; a config
/// that is not there says where one comes from.
#[test]
fn a_base_that_is_not_utf8_is_named_at_its_place() {
    let scratch = Scratch::new("extends-not-utf8");
    scratch.write("roster.yaml", "extends: base.yaml\n");
    scratch.write(
        "base.yaml",
        b"version: 1\nsource:\n  tenant_id: caf\xe9\n".as_slice(),
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("the file is not valid UTF-8 (byte 0xE9")
            && out.stderr.contains("--> base.yaml:3:17"),
        "{}",
        out.stderr
    );
    let out = scratch.roster(&["-c", "missing.yaml", "validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("start from examples/minimal/roster.yaml"),
        "{}",
        out.stderr
    );
}

/// `extends:` with nothing after it, or an empty path, names no file: refused at its place, not
/// read as no base at all; nor is a value that is no path.
#[test]
fn an_empty_extends_is_refused() {
    for text in ["extends:\n", "extends: \"\"\n", "extends: \"  \"\n"] {
        let scratch = Scratch::new("extends-empty");
        scratch.write(
            "roster.yaml",
            format!("{text}{}", read("examples/demo/roster.yaml")),
        );
        let out = scratch.roster(&["validate"]);
        assert_eq!(out.code, 1, "{text}");
        assert!(
            out.stderr.contains("/extends: `extends` names no file")
                && out.stderr.contains("--> roster.yaml:1:"),
            "{text}: {}",
            out.stderr
        );
    }
    // Not a path at all: that one error, not also every section the base was to give.
    for (text, kind) in [
        ("extends: 5\n", "a number"),
        ("extends: [../base.yaml]\n", "a list"),
        ("extends: {file: base.yaml}\n", "a mapping"),
    ] {
        let scratch = layered("extends-kind", "");
        scratch.write(
            "orgs/dev.yaml",
            format!("{text}safety: {{max_deactivations: 3}}\n"),
        );
        let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
        assert_eq!(out.code, 1, "{text}");
        assert!(
            out.stderr.contains(&format!(
                "/extends: `extends` must be the base config's path, found {kind}"
            )) && out.stderr.contains("found 1 error")
                && !out.stderr.contains("missing required"),
            "{text}: {}",
            out.stderr
        );
    }
}

/// A path with a line break or an escape in it, as a config under review may give one, is shown
/// escaped: the message stays one line and drives no terminal.
#[test]
fn a_base_path_that_acts_is_shown_escaped() {
    let scratch = layered("extends-acting", "");
    scratch.write("orgs/dev.yaml", "extends: \"../base.yaml\\n\\u001b[2Jx\"\n");
    let out = scratch.roster(&["-c", "orgs/dev.yaml", "validate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("/extends: base.yaml\\n\\u{1b}[2Jx cannot be a base config"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
}

/// A secret written inline in a base is refused even when the org's file gives its own: it is
/// in the repository all the same.
#[test]
fn an_inline_secret_in_a_base_is_refused() {
    let scratch = Scratch::new("extends-base-secret");
    scratch.write(
        "base.yaml",
        read("examples/demo/roster.yaml").replacen(
            "client_secret: {env: AZURE_CLIENT_SECRET}",
            "client_secret: BASESECRET1",
            1,
        ),
    );
    scratch.write(
        "roster.yaml",
        "extends: base.yaml\nsource:\n  credential:\n    client_secret: {env: X}\n",
    );
    let out = scratch.roster(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("a secret is written inline in a base config")
            && out.stderr.contains("--> base.yaml:"),
        "{}",
        out.stderr
    );
    assert!(!out.transcript().contains("BASESECRET1"), "{}", out.stderr);
}
