//! `roster apply` against a `roster emulate` child: apply then re-plan is empty, stale plans are
//! refused, per-record failures are reported and a second apply converges, injected faults and
//! a killed apply converge without duplicate users, the deactivation threshold blocks, Bulk
//! API 2.0 above the threshold, and the audit log has one line per change and no secret.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Emulator, Output, Scratch, repo};

/// An emulator, a scratch directory and a config in it.
pub(crate) struct World {
    pub(crate) emulator: Emulator,
    pub(crate) scratch: Scratch,
}

impl World {
    /// The demo world, with a copy of the demo config in the scratch directory.
    pub(crate) fn demo(name: &str) -> World {
        let scratch = Scratch::new(name);
        scratch.write(
            "roster.yaml",
            std::fs::read(repo().join("examples/demo/roster.yaml")).unwrap(),
        );
        World {
            emulator: Emulator::start("examples/demo/world.yaml"),
            scratch,
        }
    }

    /// The demo world as `edit` makes its world file (which it must change), with a copy of
    /// the demo config in the scratch directory.
    pub(crate) fn demo_editing(name: &str, edit: impl FnOnce(&str) -> String) -> World {
        let scratch = Scratch::new(name);
        scratch.write(
            "roster.yaml",
            std::fs::read(repo().join("examples/demo/roster.yaml")).unwrap(),
        );
        let demo = std::fs::read_to_string(repo().join("examples/demo/world.yaml")).unwrap();
        let edited = edit(&demo);
        assert_ne!(edited, demo, "the edit changes nothing");
        let path = scratch.write("world.yaml", edited);
        World {
            emulator: Emulator::start(path.to_str().unwrap()),
            scratch,
        }
    }

    /// A synthetic world of `users` users, its config written by the emulator.
    pub(crate) fn synthetic(name: &str, users: u32, latency_ms: u32) -> World {
        let scratch = Scratch::new(name);
        let emulator = Emulator::start_with(
            &[
                "--synthetic",
                &users.to_string(),
                "--write-config",
                "roster.yaml",
                "--latency-ms",
                &latency_ms.to_string(),
            ],
            &scratch.dir,
        );
        World { emulator, scratch }
    }

    pub(crate) fn roster(&self, args: &[&str]) -> Output {
        self.roster_env(args, &[])
    }

    /// `command` set to run in the world: in its directory, with the emulator's environment
    /// and no colour. For a child the test drives itself (a signal, a pipe, a shell's limit).
    pub(crate) fn in_world<'c>(
        &self,
        command: &'c mut std::process::Command,
    ) -> &'c mut std::process::Command {
        command
            .current_dir(&self.scratch.dir)
            .env("NO_COLOR", "1")
            .envs(
                self.emulator
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
    }

    /// A roster command set to run in the world (`in_world`).
    pub(crate) fn command(&self) -> std::process::Command {
        let mut command = crate::support::roster_command();
        self.in_world(&mut command);
        command
    }

    pub(crate) fn roster_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut all = vec![("GITHUB_SHA", "0123abcd")];
        all.extend_from_slice(env);
        self.emulator.roster(&self.scratch.dir, args, &all)
    }

    pub(crate) fn plan_json(&self) -> Value {
        let out = self.roster(&["plan", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    pub(crate) fn requests(&self) -> Value {
        self.emulator.admin_call(Method::GET, "requests", None)
    }

    pub(crate) fn requests_to(&self, route: &str) -> u64 {
        self.requests()
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.contains(route))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum()
    }

    pub(crate) fn audit(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.scratch.dir.join("roster-audit.jsonl"))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("each audit line is JSON"))
            .collect()
    }

    /// The next plan has no changes and no Username appears twice in the org. (Users the plan
    /// never acts on, such as the demo's Default Access user, may still need attention.)
    pub(crate) fn assert_converged(&self) {
        let out = self.roster(&["plan", "--detailed-exitcode"]);
        let plan = self.plan_json();
        assert_eq!(plan["changes"], json!([]), "{}", out.stdout);
        let attention = plan["summary"]["errors"].as_u64().unwrap()
            + plan["summary"]["conflicts"].as_u64().unwrap();
        if attention == 0 {
            assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
            assert!(out.stdout.contains("No changes."), "{}", out.stdout);
        } else {
            // Never green: exit 2, and the headline says who needs attention.
            assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
            assert!(
                out.stdout.contains("No changes to make; "),
                "{}",
                out.stdout
            );
        }
        let world = self.emulator.admin_call(Method::GET, "world", None);
        let users = world["salesforce"]["objects"]["User"].as_array().unwrap();
        let mut seen = BTreeSet::new();
        for user in users {
            let name = user["Username"].as_str().unwrap().to_lowercase();
            assert!(seen.insert(name.clone()), "{name} exists twice");
        }
    }
}

pub(crate) fn first_of(plan: &Value, action: &str) -> Value {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == action)
        .cloned()
        .unwrap_or_else(|| panic!("the plan has no {action}"))
}

#[test]
fn apply_then_plan_is_empty_and_the_audit_log_has_a_line_per_change() {
    let world = World::demo("apply-demo");
    let plan = world.roster(&["plan", "--out", "plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let applied = world.roster(&["apply", "plan.json"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert!(
        applied.stdout.contains(
            "Apply complete! Resources: 23 created, 4 updated, 1 reactivated, 2 deactivated."
        ),
        "{}",
        applied.stdout
    );
    // avery.mensah has Default Access only: the plan's error item, which no apply changes.
    assert!(
        applied
            .stdout
            .contains("Note: the plan did not act on 1 user with errors or conflicts"),
        "{}",
        applied.stdout
    );
    world.assert_converged();

    let audit = world.audit();
    assert_eq!(audit.len(), 30);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(world.scratch.dir.join("roster-audit.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the audit log is its owner's alone");
    }
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("plan.json")).unwrap(),
    )
    .unwrap();
    for line in &audit {
        assert_eq!(line["result"], "applied", "{line}");
        assert_eq!(line["config_sha256"], saved["config_sha256"]);
        assert_eq!(line["github"]["sha"], "0123abcd");
        assert_eq!(line["plan_sha256"].as_str().unwrap().len(), 64);
        assert!(line["target_id"].as_str().unwrap().starts_with("005"));
    }
    let create = audit.iter().find(|l| l["action"] == "create").unwrap();
    assert!(!create["after"]["Username"].as_str().unwrap().is_empty());
    let text = std::fs::read_to_string(world.scratch.dir.join("roster-audit.jsonl")).unwrap();
    for (name, value) in &world.emulator.env {
        if !name.starts_with("ROSTER_") {
            assert!(!text.contains(value.as_str()), "the audit log holds {name}");
            assert!(!applied.stdout.contains(value.as_str()));
            assert!(!applied.stderr.contains(value.as_str()));
        }
    }
    for token in ["Bearer", "access_token", "00D8c0000000001!"] {
        assert!(!text.contains(token), "the audit log holds {token}");
    }

    // The same plan again: every user it touches has changed since.
    let again = world.roster(&["apply", "plan.json"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("Saved plan is stale"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("changed since the plan"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("has this Username now"),
        "{}",
        again.stderr
    );
    assert_eq!(
        world.audit().len(),
        30,
        "a refused apply writes no audit line"
    );
}

/// A saved plan made for `--target` someone who is gone by apply time (deleted in Entra, with no
/// account holding their id) is stale, and says it is the saved plan's `--target` that names no
/// one: apply was given none (helper-90 said "--target … names no Entra user").
#[test]
fn a_saved_plan_whose_target_is_gone_is_stale() {
    let world = World::demo("apply-target-gone");
    let create = first_of(&world.plan_json(), "create");
    let (key, id) = (
        create["key"].as_str().unwrap(),
        create["source_id"].as_str().unwrap(),
    );
    let plan = world.roster(&["plan", "--target", key, "--out", "one.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    world
        .emulator
        .admin_call(Method::DELETE, &format!("entra/users/{id}"), None);
    let writes = world.requests_to("composite");
    let out = world.roster(&["apply", "one.json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("Saved plan is stale")
            && out.stderr.contains(&format!(
                "it was made for --target {key}, which names no user roster reads now: \
                 renamed, unassigned or deleted in Entra since the plan"
            ))
            && !out.stderr.contains("names no Entra user"),
        "{}",
        out.stderr
    );
    assert_eq!(
        world.requests_to("composite"),
        writes,
        "nothing was written"
    );
}

#[test]
fn a_changed_config_or_user_makes_a_saved_plan_stale() {
    let world = World::demo("apply-stale");
    assert_eq!(world.roster(&["plan", "--out", "plan.json"]).code, 0);
    let update = first_of(&world.plan_json(), "update");
    let key = update["key"].as_str().unwrap();

    // Someone else applies a change to that user first.
    assert_eq!(
        world
            .roster(&["plan", "--target", key, "--out", "one.json"])
            .code,
        0
    );
    let one = world.roster(&["apply", "one.json"]);
    assert_eq!(one.code, 0, "{}\n{}", one.stdout, one.stderr);
    assert!(
        one.stdout.contains("0 created, 1 updated"),
        "{}",
        one.stdout
    );
    let writes = world.requests_to("composite");
    let stale = world.roster(&["apply", "plan.json"]);
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.contains("Saved plan is stale"),
        "{}",
        stale.stderr
    );
    assert!(stale.stderr.contains(key), "{}", stale.stderr);
    assert_eq!(
        world.requests_to("composite"),
        writes,
        "nothing was written"
    );

    // The config changed since the plan.
    assert_eq!(world.roster(&["plan", "--out", "fresh.json"]).code, 0);
    let path = world.scratch.dir.join("roster.yaml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str("# reviewed\n");
    std::fs::write(&path, config).unwrap();
    let edited = world.roster(&["apply", "fresh.json"]);
    assert_eq!(edited.code, 1);
    assert!(
        edited.stderr.contains("Saved plan is stale"),
        "{}",
        edited.stderr
    );
    assert!(
        edited.stderr.contains("roster.yaml changed since the plan"),
        "{}",
        edited.stderr
    );
    assert_eq!(
        world.requests_to("composite"),
        writes,
        "nothing was written"
    );
}

#[test]
fn per_record_failures_are_reported_and_a_second_apply_converges() {
    let world = World::demo("apply-record-failure");
    let create = first_of(&world.plan_json(), "create");
    let username = create["after"]["Username"].as_str().unwrap();
    // Locked for the first attempt and the three retries.
    world
        .emulator
        .admin("locks", &json!({"records": [username], "count": 4}));
    let failed = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    let key = create["key"].as_str().unwrap();
    assert!(
        failed.stdout.contains(&format!(
            "error: salesforce_user[\"{key}\"]: create failed: UNABLE_TO_LOCK_ROW"
        )),
        "{}",
        failed.stdout
    );
    assert!(
        failed
            .stdout
            .contains("Apply incomplete. Resources: 22 created, 4 updated, 1 reactivated, 2 deactivated; 1 failed, 0 not attempted."),
        "{}",
        failed.stdout
    );
    let audit = world.audit();
    let line = audit.iter().find(|l| l["key"] == key).unwrap();
    assert_eq!(line["result"], "failed");
    assert_eq!(line["steps"][0]["step"], "create");
    assert_eq!(line["steps"][0]["result"], "failed");
    assert_eq!(line["steps"][0]["code"], "UNABLE_TO_LOCK_ROW");
    // The create's assignments were never sent: said so, step by step.
    for step in line["steps"].as_array().unwrap().iter().skip(1) {
        assert_eq!(step["result"], "not_attempted", "{line}");
    }

    let second = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second
            .stdout
            .contains("Apply complete! Resources: 1 created, 0 updated, 0 deactivated."),
        "{}",
        second.stdout
    );
    world.assert_converged();
}

/// Someone creates a user with the Username of one of the plan's creates after roster planned
/// and before its create arrives: Salesforce refuses roster's create (`DUPLICATE_USERNAME`), the
/// lookup finds a user by that Username, and it is not roster's — it holds another Email and
/// profile. The create failed (never "created"), nothing is granted to that user, the audit log
/// says so.
#[test]
fn a_create_beaten_by_someone_elses_user_of_that_username_fails_and_grants_nothing() {
    let world = World::demo("apply-impostor");
    let stdout = create_beaten_by(&world, |profile, _| {
        let (status, created) = world.emulator.salesforce_send(
            Method::POST,
            "sobjects/User",
            &json!({
                "Username": "alexander.ivanov@contoso.com.dev1", "LastName": "Impostor",
                "Email": "attacker@evil.example", "Alias": "imp",
                "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
                "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
                "ProfileId": profile, "CommunityNickname": "imp",
            }),
        );
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    });
    assert!(
        stdout.contains(
            "exists, created by the User roster signs in as, but it does not hold what this \
             create wrote"
        ),
        "{stdout}"
    );
}

/// The same race, but the other user is a copy of roster's create, value for value, made by
/// another administrator (Sam Admin, signed in through the API): holding every value is not
/// enough to be roster's; Salesforce's `CreatedById` names who made it.
#[test]
fn a_create_beaten_by_a_copy_made_by_another_user_fails_and_grants_nothing() {
    let world = World::demo_editing("apply-impostor-copy", |world| {
        world.replace(
            "  api_users:\n",
            "  api_users:\n    - {username: admin@contoso.com.dev1, password: admin-password, \
             security_token: adminToken}\n",
        )
    });
    let stdout = create_beaten_by(&world, |_, create| {
        // What roster's create writes, as a client sends it (checkboxes as booleans).
        let copy: serde_json::Map<String, Value> = create
            .as_object()
            .unwrap()
            .iter()
            .map(|(field, value)| {
                let value = match value.as_str() {
                    Some("true") => Value::Bool(true),
                    Some("false") => Value::Bool(false),
                    _ => value.clone(),
                };
                (field.clone(), value)
            })
            .collect();
        let (status, created) = world.emulator.salesforce_send_as(
            ("admin@contoso.com.dev1", "admin-passwordadminToken"),
            Method::POST,
            "sobjects/User",
            &Value::Object(copy),
        );
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    });
    assert!(
        stdout.contains("was created by someone else after the plan: another User created it"),
        "{stdout}"
    );
}

/// Plans Alexander Ivanov's create, holds it three seconds at Salesforce's door while `impostor`
/// (given the Standard User profile's id and the create's `after`) makes a user of that Username,
/// then checks the apply: exit 1, the create failed as a duplicate and named the other
/// user, its grants were never sent, and no record naming the other user changed. Returns the
/// apply's stdout.
fn create_beaten_by(world: &World, impostor: impl FnOnce(&Value, &Value) -> String) -> String {
    let key = "alexander.ivanov@contoso.com";
    let plan = world.roster(&["plan", "--target", key, "--out", "plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(world.scratch.dir.join("plan.json")).unwrap(),
    )
    .unwrap();
    let create = &saved["changes"][0]["after"];
    assert_eq!(create["Username"], "alexander.ivanov@contoso.com.dev1");
    // roster's create waits three seconds at Salesforce's door.
    world.emulator.admin(
        "faults",
        &json!({"route": "POST /services/data/{v}/composite/sobjects", "kind": "delay", "ms": 3000, "count": 1}),
    );
    let apply = world
        .command()
        .args(["apply", "plan.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while world.requests_to("POST /services/data/{v}/composite/sobjects") == 0 {
        assert!(
            started.elapsed().as_secs() < 60,
            "roster's create never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let profiles = world
        .emulator
        .salesforce_send(
            Method::GET,
            "query?q=SELECT+Id+FROM+Profile+WHERE+Name+=+'Standard+User'",
            &Value::Null,
        )
        .1;
    let impostor = impostor(&profiles["records"][0]["Id"], create);
    // Every record of the org that names the impostor (its user, any assignment, membership or
    // licence given to it): the same after the apply as before.
    let naming = || {
        let world = world.emulator.admin_call(Method::GET, "world", None);
        world["salesforce"]["objects"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(object, records)| {
                records
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r.to_string().contains(&impostor[..15]))
                    .map(move |r| format!("{object} {r}"))
            })
            .collect::<Vec<_>>()
    };
    let before = naming();
    let out = apply.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("1 created"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "a Salesforce user with this Username ({impostor}) "
        )),
        "{stdout}"
    );
    let audit = world.audit();
    let line = audit.iter().find(|l| l["key"] == key).unwrap();
    assert_eq!(line["result"], "failed", "{line}");
    assert_eq!(line["steps"][0]["result"], "failed", "{line}");
    // The Username, or the unique anchor (Entra_Object_Id__c) a copy holds too.
    let code = line["steps"][0]["code"].as_str().unwrap_or_default();
    assert!(
        ["DUPLICATE_USERNAME", "DUPLICATE_VALUE"].contains(&code),
        "{line}"
    );
    for step in line["steps"].as_array().unwrap().iter().skip(1) {
        assert_eq!(step["result"], "not_attempted", "{line}");
    }
    // Nothing was given to the impostor, nor written to it.
    assert_eq!(naming(), before);
    stdout.into_owned()
}

#[test]
fn injected_faults_during_apply_converge_without_duplicates() {
    let faults = [
        json!({"route": "composite/sobjects", "kind": "status", "status": 429, "retry_after": "0.2"}),
        json!({"route": "composite/sobjects", "kind": "status", "status": 503, "count": 2}),
        json!({"route": "composite/sobjects", "kind": "drop"}),
        json!({"route": "composite/sobjects", "kind": "expired_token"}),
    ];
    for fault in faults {
        let world = World::demo("apply-fault");
        world.emulator.admin("faults", &fault);
        let out = world.roster(&["apply", "--auto-approve"]);
        assert_eq!(out.code, 0, "{fault}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("Apply complete!"),
            "{fault}: {}",
            out.stdout
        );
        world.assert_converged();
    }
    // The creates are carried out but their answer is lost: the retried request meets
    // DUPLICATE_USERNAME for users that exist now, which counts as created.
    let world = World::demo("apply-lost");
    world.emulator.admin(
        "faults",
        &json!({"route": "POST /services/data/{v}/composite/sobjects", "kind": "lose_response"}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("23 created"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("taken for this create, carried out though its answer was lost"),
        "{}",
        out.stdout
    );
    // The lost create and its resend, then one insert per grant write: permission set
    // licences, package licences, permission sets, permission set groups, group members.
    assert_eq!(
        world.requests_to("POST /services/data/{v}/composite/sobjects"),
        7
    );
    world.assert_converged();

    // A record lock that clears within the retries.
    let world = World::demo("apply-lock");
    let create = first_of(&world.plan_json(), "create");
    world.emulator.admin(
        "locks",
        &json!({"records": [create["after"]["Username"]], "count": 2}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.assert_converged();
}

#[test]
fn request_limit_stops_cleanly_and_says_what_was_not_applied() {
    let world = World::demo("apply-limit");
    world.emulator.admin(
        "faults",
        &json!({"route": "PATCH /services/data/{v}/composite/sobjects", "kind": "request_limit"}),
    );
    let out = world.roster(&["apply", "--auto-approve", "--format", "json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let schema: Value =
        serde_json::from_str(&crate::support::read("schemas/apply-report.schema.json")).unwrap();
    assert!(
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&report),
        "the report is what schemas/apply-report.schema.json says: {report}"
    );
    assert_eq!(report["complete"], false);
    assert!(
        report["stopped"]
            .as_str()
            .unwrap()
            .contains("REQUEST_LIMIT_EXCEEDED"),
        "{report}"
    );
    // Updates go first: Salesforce refused them with the limit, so they failed (nothing of
    // the request was written), and nothing after them was sent.
    assert_eq!(report["summary"]["created"], 0);
    assert_eq!(report["summary"]["failed"], 5, "{report}");
    assert_eq!(report["summary"]["unknown"], 0, "{report}");
    assert_eq!(report["summary"]["not_attempted"], 25);
    assert_eq!(world.requests_to("POST /services/data/{v}/composite"), 0);
    let audit = world.audit();
    assert_eq!(audit.len(), 30);
    let results = |result: &str| audit.iter().filter(|l| l["result"] == result).count();
    assert_eq!(results("not_attempted"), 25);
    assert_eq!(results("failed"), 5);
    let refused = audit.iter().find(|l| l["result"] == "failed").unwrap();
    assert!(
        refused.to_string().contains("REQUEST_LIMIT_EXCEEDED")
            && refused
                .to_string()
                .contains("nothing of the request was written"),
        "{refused}"
    );
}

/// A refusal says nothing was written only when no earlier attempt of the request may have
/// been: an update whose answer was lost, then refused when sent again, is unknown.
#[test]
fn a_refusal_after_a_lost_answer_leaves_the_outcome_unknown() {
    let world = World::demo("apply-lost-limit");
    let route = "PATCH /services/data/{v}/composite/sobjects";
    world
        .emulator
        .admin("faults", &json!({"route": route, "kind": "lose_response"}));
    world
        .emulator
        .admin("faults", &json!({"route": route, "kind": "request_limit"}));
    let out = world.roster(&["apply", "--auto-approve", "--format", "json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["summary"]["failed"], 0, "{report}");
    assert_eq!(report["summary"]["unknown"], 5, "{report}");
    assert!(
        report.to_string().contains("may have been carried out"),
        "{report}"
    );
}

#[test]
fn a_plan_saved_with_a_baseline_applies_as_reviewed() {
    // The CI plan workflow saves the plan with --baseline-config; apply must accept it.
    let world = World::demo("apply-baseline-plan");
    let path = world.scratch.dir.join("roster.yaml");
    let base = std::fs::read_to_string(&path).unwrap();
    world.scratch.write("base.yaml", &base);
    world.scratch.write(
        "roster.yaml",
        base.replace(
            "{target: Department, source: department}",
            "{target: Department, expression: 'ToUpper([department])'}",
        ),
    );
    let plan = world.roster(&[
        "plan",
        "--baseline-config",
        "base.yaml",
        "--out",
        "plan.json",
    ]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("Caused by this change"),
        "{}",
        plan.stdout
    );
    let applied = world.roster(&["apply", "plan.json"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    world.assert_converged();
}

#[test]
fn a_concurrent_request_limit_is_retried_not_a_stop() {
    let world = World::demo("apply-concurrent-limit");
    world.emulator.admin(
        "faults",
        &json!({"route": "PATCH /services/data/{v}/composite/sobjects", "kind": "concurrent_limit", "long_txn": true}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("ConcurrentPerOrgLongTxn Limit exceeded."),
        "the retry is logged: {}",
        out.stderr
    );
    world.assert_converged();
    assert!(
        world.audit().iter().all(|l| l["result"] == "applied"),
        "{:?}",
        world.audit()
    );
}

#[test]
fn the_deactivation_threshold_blocks_unless_allowed() {
    let world = World::demo("apply-threshold");
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace("max_deactivations: 5", "max_deactivations: 1");
    std::fs::write(&path, config).unwrap();
    let refused = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(
            "the plan has 2 deactivations, more than safety.max_deactivations allows (1)"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-deactivations 2"),
        "{}",
        refused.stderr
    );
    assert_eq!(world.requests_to("composite"), 0);
    // `plan` says what apply will do; it has no --allow-deactivations to run again with.
    let planned = world.roster(&["plan"]);
    assert_eq!(planned.code, 1);
    assert!(
        planned.stderr.contains(
            "more than safety.max_deactivations allows (1): `roster apply` refuses it unless \
             given --allow-deactivations 2 after review"
        ) && !planned.stderr.contains("refusing to apply"),
        "{}",
        planned.stderr
    );
    let too_few = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "1"]);
    assert_eq!(too_few.code, 1);
    assert!(
        too_few
            .stderr
            .contains("the plan has 2 deactivations, more than --allow-deactivations 1"),
        "{}",
        too_few.stderr
    );
    assert_eq!(world.requests_to("composite"), 0, "nothing was written");
    let allowed = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "2"]);
    assert_eq!(allowed.code, 0, "{}\n{}", allowed.stdout, allowed.stderr);
    world.assert_converged();
}

#[test]
fn allow_deactivations_is_also_a_ceiling_under_the_threshold() {
    // The demo plan has 2 deactivations, within `max_deactivations: 5`; a reviewer who allowed
    // only 1 did not review this plan, so apply refuses it all the same.
    let world = World::demo("apply-ceiling");
    let out = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "1"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the plan has 2 deactivations, more than --allow-deactivations 1"),
        "{}",
        out.stderr
    );
    assert_eq!(world.requests_to("composite"), 0, "nothing was written");
    assert!(world.audit().is_empty(), "nothing to record");
    let exact = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "2"]);
    assert_eq!(exact.code, 0, "{}\n{}", exact.stdout, exact.stderr);
    world.assert_converged();
}

#[test]
fn apply_keeps_four_collection_requests_in_flight() {
    // 2,000 synthetic users: about nine create requests of 200, each answered in 100 ms.
    let world = World::synthetic("apply-in-flight", 2000, 100);
    let out = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "1000"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let peaks = world.emulator.admin_call(Method::GET, "in_flight", None);
    let creates = "POST /services/data/{v}/composite/sobjects";
    assert!(world.requests_to(creates) > 4, "{}", world.requests());
    assert_eq!(peaks[creates], 4, "{peaks}");
}

#[test]
fn bulk_api_writes_above_the_threshold() {
    let world = World::demo("apply-bulk");
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "10"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("23 created"), "{}", out.stdout);
    // One job for the 23 users, and one per grant write above 10 records: 53 permission sets,
    // 27 group members, 16 package licences (10 permission set licences and 1 permission set
    // group go through collections).
    assert_eq!(world.requests_to("POST /services/data/{v}/jobs/ingest"), 4);
    assert_eq!(world.requests_to("/batches"), 4);
    assert_eq!(
        world.requests_to("POST /services/data/{v}/composite/sobjects"),
        2
    );
    // The demo org's jobs take three polls (UploadComplete, InProgress, JobComplete): roster
    // polls until each job ends, then reads its results once.
    assert_eq!(
        world.requests_to("GET /services/data/{v}/jobs/ingest/{id}"),
        4 * (3 + 2),
        "{}",
        world.requests()
    );
    // The updates (5) stayed under the threshold: collections.
    assert_eq!(
        world.requests_to("PATCH /services/data/{v}/composite/sobjects"),
        2
    );
    world.assert_converged();

    // Updates and reactivations above the threshold go by Bulk API too, matched back by Id.
    let world = World::demo("apply-bulk-updates");
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "2"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Resources: 23 created, 4 updated, 1 reactivated, 2 deactivated."),
        "{}",
        out.stdout
    );
    // Creates, updates, and the grant writes above 2 records: permission set licences,
    // package licences, permission sets, group members.
    assert_eq!(world.requests_to("POST /services/data/{v}/jobs/ingest"), 6);
    world.assert_converged();
}

/// Bulk API 2.0 reads a CSV cell of `#N/A` as null: a title that is the text `#N/A` goes by
/// sObject Collections, kept as it is, while the rest of the write still goes by Bulk.
#[test]
fn a_value_that_is_the_text_na_is_written_as_text_above_the_bulk_threshold() {
    let world = World::demo("apply-bulk-na");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (user, title) in [("2", "#N/A"), ("3", "#N/A"), ("4", "Chief"), ("5", "")] {
        world.emulator.admin_call(
            Method::PATCH,
            &format!("entra/users/0000000e-0000-0000-0000-00000000000{user}"),
            Some(&json!({"jobTitle": title})),
        );
    }
    world.emulator.admin_call(Method::DELETE, "requests", None);
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "1"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("4 updated"), "{}", out.stdout);
    // The titles that are no `#N/A` by Bulk (the emptied one as `#N/A`: an empty cell would
    // leave it as it was, and every plan would show it again), the two that are by one
    // collection.
    assert_eq!(world.requests_to("POST /services/data/{v}/jobs/ingest"), 1);
    assert_eq!(
        world.requests_to("PATCH /services/data/{v}/composite/sobjects"),
        1
    );
    let org = world.emulator.admin_call(Method::GET, "world", None);
    let titles: Vec<&str> = org["salesforce"]["objects"]["User"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["Title"].as_str())
        .filter(|t| *t == "#N/A" || *t == "Chief")
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    world.assert_converged();
}

/// A new hire whose mailNickname is another Salesforce user's CommunityNickname: Salesforce
/// refuses the create (`DUPLICATE_COMM_NICKNAME`) though describe does not call the field
/// unique, so the plan shows a conflict naming the holder rather than a clean create that
/// every apply would fail.
#[test]
fn a_community_nickname_another_user_holds_is_a_conflict_in_the_plan() {
    let world = World::demo("nickname-taken");
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/leo.costa@contoso.com",
        Some(&json!({"mailNickname": "LIAM.CHEN"})),
    );
    let out = world.roster(&["plan"]);
    assert!(
        out.stdout.contains("salesforce_user[\"leo.costa@contoso.com\"]: conflict")
            && out.stdout.contains("CommunityNickname \"LIAM.CHEN\" is already held by Salesforce user liam.chen@contoso.com.dev1 (as \"liam.chen\", the same value to Salesforce, which compares it without case)"),
        "{}",
        out.stdout
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert!(
        !out.stderr.contains("DUPLICATE_COMM_NICKNAME"),
        "{}",
        out.stderr
    );
}

/// Liam is renamed and Noah given Liam's old UPN in one cycle: Noah's FederationIdentifier is the
/// one Liam's update gives up (unique in the org). The plan updates both, with no conflict; apply
/// writes Noah's first (his key sorts first), is refused while Liam still holds it, and sends
/// it again once Liam's went through — one apply, converged.
#[test]
fn a_federation_identifier_handed_on_by_a_rename_is_applied_in_one_run() {
    let world = World::demo("apply-handover");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    set_in_entra(
        &world,
        "userPrincipalName",
        &[
            ("liam.chen@contoso.com", "zz.liam.chen@contoso.com"),
            ("noah.okafor@contoso.com", "liam.chen@contoso.com"),
        ],
    );
    let out = world.roster(&["plan"]);
    assert!(
        ["liam.chen", "zz.liam.chen"]
            .iter()
            .all(|key| out.stdout.contains(&format!(
                "# salesforce_user[\"{key}@contoso.com\"] will be updated in-place"
            )))
            && out.stdout.contains("0 conflict(s)")
            && !out.stdout.contains(": conflict"),
        "{}",
        out.stdout
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Apply complete!"), "{}", out.stdout);
    assert_in_salesforce(
        &world,
        "FederationIdentifier",
        &[
            ("liam.chen@contoso.com.dev1", "zz.liam.chen@contoso.com"),
            ("noah.okafor@contoso.com.dev1", "liam.chen@contoso.com"),
        ],
    );
    world.assert_converged();
}

/// Sets `attribute` of each Entra user (by UPN) to its value.
fn set_in_entra(world: &World, attribute: &str, values: &[(&str, &str)]) {
    for (user, value) in values {
        world.emulator.admin_call(
            Method::PATCH,
            &format!("entra/users/{user}"),
            Some(&json!({ attribute: value })),
        );
    }
}

/// Asserts each Salesforce user's (by Username) `field` holds its value.
fn assert_in_salesforce(world: &World, field: &str, values: &[(&str, &str)]) {
    let now = world.emulator.admin_call(Method::GET, "world", None);
    let users = now["salesforce"]["objects"]["User"].as_array().unwrap();
    for (username, value) in values {
        let user = users.iter().find(|u| u["Username"] == *username).unwrap();
        assert_eq!(user[field], *value, "{username}");
    }
}

/// The same with a CommunityNickname kept in step (`apply: always`): Liam takes Noah's, whom
/// Noah gives up. Salesforce refuses Liam's first (`DUPLICATE_COMM_NICKNAME`, his key sorting
/// first); apply sends it again once Noah's went through (helper-67).
#[test]
fn a_community_nickname_handed_on_is_applied_in_one_run() {
    let world = World::demo("apply-nickname-handover");
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    let always = config.replace(
        "{target: CommunityNickname, expression: 'Left([mailNickname], 40)', apply: on_create}",
        "{target: CommunityNickname, expression: 'Left([mailNickname], 40)'}",
    );
    assert_ne!(always, config);
    std::fs::write(&path, always).unwrap();
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    set_in_entra(
        &world,
        "mailNickname",
        &[
            ("noah.okafor@contoso.com", "zz.noah"),
            ("liam.chen@contoso.com", "noah.okafor"),
        ],
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_in_salesforce(
        &world,
        "CommunityNickname",
        &[
            ("noah.okafor@contoso.com.dev1", "zz.noah"),
            ("liam.chen@contoso.com.dev1", "noah.okafor"),
        ],
    );
    world.assert_converged();
}

/// A write whose answer never came is looked up before it is called applied, and compared as
/// the plan compares: Liam's new Title differs from what Salesforce holds only in case, every
/// update request fails, and the update is failed (exit 1), never "applied" because the old
/// value looks like the new one.
#[test]
fn a_failed_update_is_not_taken_for_applied_because_the_old_value_differs_only_in_case() {
    let world = World::demo("apply-case-only");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    world.emulator.admin_call(
        Method::PATCH,
        "entra/users/liam.chen@contoso.com",
        Some(&json!({"jobTitle": "account executive"})),
    );
    world.emulator.admin(
        "faults",
        &json!({"route": "PATCH /services/data/{v}/composite/sobjects", "kind": "status", "status": 500, "count": 10}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("Apply complete!"), "{}", out.stdout);
    let audit = world.audit();
    let line = audit
        .iter()
        .rev()
        .find(|l| l["key"] == "liam.chen@contoso.com")
        .unwrap();
    assert_ne!(line["result"], "applied", "{line}");
    assert_ne!(line["steps"][0]["result"], "applied", "{line}");
}

#[test]
fn apply_without_a_plan_needs_auto_approve_off_a_terminal() {
    let world = World::demo("apply-approve");
    let out = world.roster(&["apply"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--auto-approve"), "{}", out.stderr);
    assert_eq!(world.requests(), json!({}), "nothing was read or written");
}

#[test]
fn a_killed_apply_converges_on_the_next_run() {
    // 2,000 synthetic users, 100 ms per request: the apply is still writing when killed.
    let world = World::synthetic("apply-kill", 2000, 100);
    let mut child = world
        .command()
        .args(["apply", "--auto-approve", "--allow-deactivations", "1000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while world.requests_to("POST /services/data/{v}/composite/sobjects") < 2 {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the apply never wrote"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    world.emulator.admin("latency", &json!({"ms": 0}));
    let midway = world.roster(&["plan", "--detailed-exitcode"]);
    assert_eq!(midway.code, 2, "the kill came after the apply finished");
    // What the killed run recorded: whole lines only (`audit` parses each), each of a change it
    // finished, and none of them for what is still to do.
    let killed = world.audit();
    let remaining = world.plan_json()["changes"].as_array().unwrap().clone();
    for line in &killed {
        assert_eq!(line["result"], "applied", "{line}");
        assert!(
            !remaining.iter().any(|c| c["key"] == line["key"]),
            "{} is recorded as applied and planned again",
            line["key"]
        );
    }
    let out = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "1000"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Apply complete!"), "{}", out.stdout);
    // The next run appends a line for each change that remained, after the killed run's.
    let audit = world.audit();
    assert_eq!(audit[..killed.len()], killed[..]);
    let appended: Vec<&Value> = audit[killed.len()..].iter().collect();
    assert_eq!(appended.len(), remaining.len());
    assert!(appended.iter().all(|l| l["result"] == "applied"));
    world.assert_converged();
}

#[test]
fn the_demo_runs_the_whole_loop() {
    let scratch = Scratch::new("demo");
    let out = scratch.roster(&["demo"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let steps = [
        "1. roster plan",
        "Plan: 23 to create, 4 to update, 1 to reactivate, 2 to deactivate; 1 user needs attention.",
        "2. roster apply",
        "Apply complete! Resources: 23 created, 4 updated, 1 reactivated, 2 deactivated.",
        "The audit log holds 30 line(s), one per change applied so far.",
        "3. roster plan",
        "No changes to make; 1 user needs attention.",
        "4. meanwhile, in Entra",
        "5. roster plan",
        "Title = \"Account Executive\" -> \"Senior Account Executive\"",
        "Plan: 1 to create, 1 to update, 1 to deactivate; 1 user needs attention.",
        "6. roster apply",
        "salesforce_user[\"liam.chen@contoso.com.dev1\"]: Salesforce refused the deactivation; the user was frozen instead",
        "deactivate failed: FIELD_INTEGRITY_EXCEPTION: You cannot disable the Web to Lead Default Creator",
        "Apply incomplete. Resources: 1 created, 1 updated, 0 deactivated; 1 failed (1 deactivation(s) refused, frozen instead), 0 not attempted.",
        "The audit log holds 33 line(s), one per change applied so far.",
        "7. meanwhile, in Salesforce",
        "8. roster plan, roster apply",
        "Plan: 0 to create, 0 to update, 1 to deactivate; 1 user needs attention.",
        "Apply complete! Resources: 0 created, 0 updated, 1 deactivated.",
        "The audit log holds 34 line(s), one per change applied so far.",
    ];
    let mut rest = out.stdout.as_str();
    for step in steps {
        let at = rest
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing or out of order in:\n{}", out.stdout));
        rest = &rest[at + step.len()..];
    }
    // The demo's secrets never reach the output.
    assert!(!out.stdout.contains("demo-salesforce-client-secret"));
}

#[test]
fn freezing_instead_of_deactivating_converges() {
    let world = World::demo("apply-freeze");
    let path = world.scratch.dir.join("roster.yaml");
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace("out_of_scope: deactivate", "out_of_scope: freeze");
    std::fs::write(&path, config).unwrap();
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Resources: 23 created, 4 updated, 1 reactivated, 0 deactivated, 2 frozen."),
        "{}",
        out.stdout
    );
    let dump = world.emulator.admin_call(Method::GET, "world", None);
    let frozen = dump["salesforce"]["objects"]["UserLogin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["IsFrozen"] == true)
        .count();
    assert_eq!(frozen, 2);
    // Frozen users stay active and are not frozen again.
    world.assert_converged();
}

#[test]
fn bulk_rows_salesforce_could_not_lock_are_retried() {
    let world = World::demo("apply-bulk-lock");
    let create = first_of(&world.plan_json(), "create");
    let username = create["after"]["Username"].as_str().unwrap();
    world
        .emulator
        .admin("locks", &json!({"records": [username], "count": 2}));
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "10"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("23 created"), "{}", out.stdout);
    // The users' job and three grant jobs (see `bulk_api_writes_above_the_threshold`).
    assert_eq!(world.requests_to("POST /services/data/{v}/jobs/ingest"), 4);
    world.assert_converged();

    // A row that stays locked is reported with Salesforce's code from the job's results.
    let world = World::demo("apply-bulk-failure");
    world
        .emulator
        .admin("locks", &json!({"records": [username], "count": 10}));
    let out = world.roster(&["apply", "--auto-approve", "--bulk-threshold", "10"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "create failed: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn locked_records_are_retried_three_rounds_half_a_second_one_and_two_apart() {
    const CREATES: &str = "POST /services/data/{v}/composite/sobjects";
    let control = World::demo("apply-lock-control");
    let out = control.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let unlocked = control.requests_to(CREATES);

    for (locks, code) in [(3, 0), (4, 1)] {
        let world = World::demo(&format!("apply-lock-{locks}"));
        let create = first_of(&world.plan_json(), "create");
        let username = create["after"]["Username"].as_str().unwrap();
        world
            .emulator
            .admin("locks", &json!({"records": [username], "count": locks}));
        let started = Instant::now();
        let out = world.roster(&["apply", "--auto-approve"]);
        let took = started.elapsed();
        assert_eq!(out.code, code, "{}\n{}", out.stdout, out.stderr);
        // One request for each of the three rounds, sent only for the locked record.
        assert_eq!(world.requests_to(CREATES), unlocked + 3, "{locks} locks");
        assert!(
            took >= Duration::from_millis(500 + 1000 + 2000),
            "the rounds are 0.5, 1 and 2 s apart: {took:?}"
        );
        if code == 1 {
            assert!(
                out.stdout.contains(&format!(
                    "salesforce_user[\"{}\"]: create failed: UNABLE_TO_LOCK_ROW",
                    create["key"].as_str().unwrap()
                )),
                "{}",
                out.stdout
            );
        } else {
            world.assert_converged();
        }
    }
}

#[test]
fn plan_and_apply_write_the_github_job_summary() {
    let world = World::demo("apply-step-summary");
    let summary = world.scratch.dir.join("summary.md");
    let env = [("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];
    let create = first_of(&world.plan_json(), "create");
    let plan = world.roster_env(&["plan", "--detailed-exitcode"], &env);
    assert_eq!(plan.code, 2);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("<!-- roster-plan -->"), "{text}");
    assert!(text.contains(
        "Plan: 23 to create, 4 to update, 1 to reactivate, 2 to deactivate; 1 user needs attention."
    ));

    std::fs::remove_file(&summary).unwrap();
    world.emulator.admin(
        "locks",
        &json!({"records": [create["after"]["Username"]], "count": 4}),
    );
    let failed = world.roster_env(&["apply", "--auto-approve"], &env);
    assert_eq!(failed.code, 1);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains("<!-- roster-plan -->"),
        "the plan applied is in the summary"
    );
    assert!(text.contains("### ❌ roster apply failed"), "{text}");
    assert!(
        text.contains(&format!(
            "| `{}` | create | `UNABLE_TO_LOCK_ROW` | unable to obtain exclusive access to this record |",
            create["key"].as_str().unwrap()
        )),
        "{text}"
    );

    std::fs::remove_file(&summary).unwrap();
    let done = world.roster_env(&["apply", "--auto-approve"], &env);
    assert_eq!(done.code, 0);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains("### ✅ roster apply\n\n**Apply complete! Resources: 1 created, 0 updated, 0 deactivated.**"),
        "{text}"
    );
}

#[test]
fn markdown_report_lists_failures_in_a_table() {
    let world = World::demo("apply-markdown");
    let create = first_of(&world.plan_json(), "create");
    world.emulator.admin(
        "locks",
        &json!({"records": [create["after"]["Username"]], "count": 4}),
    );
    let out = world.roster(&["apply", "--auto-approve", "--format", "markdown"]);
    assert_eq!(out.code, 1);
    // The plan shown first is markdown too, then the report.
    assert!(
        out.stdout.starts_with("<!-- roster-plan -->"),
        "{}",
        out.stdout
    );
    // A blank line ends the plan's HTML block before the report's heading (CommonMark).
    assert!(
        out.stdout
            .contains("</details>\n\n### ❌ roster apply failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("| user | step | code | message |"),
        "{}",
        out.stdout
    );
}

/// A write Salesforce could not lock, interrupted while it waits to be sent again: it was
/// sent and refused, so its audit line says `failed` with `UNABLE_TO_LOCK_ROW`, never
/// `not_attempted` ("none was sent").
#[cfg(unix)]
#[test]
fn a_locked_write_interrupted_before_its_retry_is_failed_not_unattempted() {
    let world = World::demo("apply-lock-interrupt");
    let create = first_of(&world.plan_json(), "create");
    let (key, username) = (
        create["key"].as_str().unwrap().to_owned(),
        create["after"]["Username"].as_str().unwrap().to_owned(),
    );
    world
        .emulator
        .admin("locks", &json!({"records": [username], "count": 100}));
    let stderr = world.scratch.dir.join("apply.err");
    let mut child = world
        .command()
        .args(["apply", "--auto-approve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&stderr)
        .unwrap_or_default()
        .contains("locked")
    {
        assert!(started.elapsed() < Duration::from_mins(1), "no lock retry");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let audit = world.audit();
    let line = audit
        .iter()
        .find(|l| l["key"] == key.as_str())
        .unwrap_or_else(|| panic!("no line for {key}"));
    assert_eq!(line["result"], "failed", "{line}");
    assert!(
        line["steps"].to_string().contains("UNABLE_TO_LOCK_ROW"),
        "{line}"
    );
}

#[test]
fn an_interrupted_apply_stops_cleanly_reports_and_converges() {
    let world = World::synthetic("apply-interrupt", 2000, 100);
    world.emulator.admin("latency", &json!({"ms": 0}));
    let planned = world.plan_json()["changes"].as_array().unwrap().len();
    world.emulator.admin("latency", &json!({"ms": 100}));
    // A file, not a pipe: the plan shown first is larger than a pipe holds.
    let output = world.scratch.dir.join("apply.out");
    let mut child = world
        .command()
        .args(["apply", "--auto-approve", "--allow-deactivations", "1000"])
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while world.requests_to("POST /services/data/{v}/composite/sobjects") < 2 {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the apply never wrote"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let writes_when_interrupted = writes(&world);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let stdout = std::fs::read_to_string(&output).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("interrupted (Ctrl-C)"), "{stdout}");
    assert!(stdout.contains("Apply incomplete."), "{stdout}");
    // The requests in flight finish and nothing more is sent: at most one more per concurrent
    // slot (4) may have started between counting and the signal arriving.
    let written = writes(&world);
    assert!(
        written <= writes_when_interrupted + 4,
        "{writes_when_interrupted} writes when interrupted, {written} in the end"
    );
    // Every change of the plan has its line, whether it was applied or not.
    let audit = world.audit();
    assert_eq!(audit.len(), planned, "one audit line per planned change");
    // Begun: applied, or the user written and its grants not (every synthetic create has one).
    let applied = audit
        .iter()
        .filter(|l| l["result"] == "applied" || l["result"] == "incomplete")
        .count();
    let skipped = audit
        .iter()
        .filter(|l| l["result"] == "not_attempted")
        .count();
    assert!(
        applied > 0 && skipped > 0,
        "{applied} applied or begun, {skipped} not attempted"
    );
    world.emulator.admin("latency", &json!({"ms": 0}));
    let again = world.roster(&["apply", "--auto-approve", "--allow-deactivations", "1000"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    world.assert_converged();
}

/// How many write requests (POST, PATCH, DELETE) the org has answered, logins aside.
fn writes(world: &World) -> u64 {
    world
        .requests()
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| {
            [
                "POST /services/data",
                "PATCH /services/data",
                "DELETE /services/data",
            ]
            .iter()
            .any(|write| route.starts_with(write))
        })
        .map(|(_, count)| count.as_u64().unwrap())
        .sum()
}

/// Runs roster in the world with stdout a pipe whose reader is gone (`roster ... | head -0`).
fn run_with_closed_stdout(world: &World, args: &[&str]) -> (i32, String) {
    let mut child = world
        .command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reader_that_goes_away_changes_neither_the_exit_code_nor_the_apply() {
    // `roster plan --detailed-exitcode | head` in CI: exit 2 still means changes.
    let world = World::demo("apply-closed-stdout");
    // `roster plan | head` ends quietly with exit 0.
    let (code, stderr) = run_with_closed_stdout(&world, &["plan"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let (code, stderr) = run_with_closed_stdout(&world, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // An apply whose reader left still carries out the whole plan.
    let (code, stderr) = run_with_closed_stdout(&world, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{stderr}");
    world.assert_converged();
}

/// The demo world with Salesforce refusing to deactivate former.contractor (the Web-to-Lead
/// default creator), and the demo config with `deprovision.when_refused` set as given.
fn refusing_world(name: &str, when_refused: &str) -> World {
    let scratch = Scratch::new(name);
    let world = std::fs::read_to_string(repo().join("examples/demo/world.yaml")).unwrap();
    let blocked = "    - Username: former.contractor@contoso.com.dev1\n";
    assert!(world.contains(blocked));
    scratch.write(
        "world.yaml",
        world.replace(
            blocked,
            &format!(
                "{blocked}      DeactivationBlocker: You cannot disable the Web to Lead Default Creator\n"
            ),
        ),
    );
    let config = std::fs::read_to_string(repo().join("examples/demo/roster.yaml")).unwrap();
    scratch.write(
        "roster.yaml",
        config.replace(
            "  out_of_scope: deactivate",
            &format!("  out_of_scope: deactivate\n  when_refused: {when_refused}"),
        ),
    );
    let emulator = Emulator::start_with(&["--world", "world.yaml"], &scratch.dir);
    World { emulator, scratch }
}

fn login_of(world: &World, username: &str) -> Value {
    let user =
        world.emulator.admin_call(Method::GET, "world", None)["salesforce"]["objects"]["User"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["Username"] == username)
            .cloned()
            .unwrap();
    let logins =
        world.emulator.admin_call(Method::GET, "world", None)["salesforce"]["objects"]["UserLogin"]
            .as_array()
            .unwrap()
            .clone();
    let login = logins
        .into_iter()
        .find(|l| l["UserId"] == user["Id"])
        .unwrap();
    json!({"IsActive": user["IsActive"], "IsFrozen": login["IsFrozen"]})
}

#[test]
fn a_refused_deactivation_freezes_the_user_and_says_both() {
    let world = refusing_world("apply-refused-freeze", "freeze");
    let config = std::fs::read_to_string(world.scratch.dir.join("roster.yaml")).unwrap();
    assert!(config.contains("when_refused: freeze"), "{config}");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for text in [
        "deactivate failed: FIELD_INTEGRITY_EXCEPTION: You cannot disable the Web to Lead Default Creator",
        "Salesforce refused the deactivation; the user was frozen instead",
        "1 failed (1 deactivation(s) refused, frozen instead)",
    ] {
        assert!(out.stdout.contains(text), "{text:?} not in {}", out.stdout);
    }
    assert_eq!(
        login_of(&world, "former.contractor@contoso.com.dev1"),
        json!({"IsActive": true, "IsFrozen": true})
    );
    // The audit log records both steps.
    let line = world
        .audit()
        .into_iter()
        .find(|l| l["key"] == "former.contractor@contoso.com.dev1")
        .expect("an audit line");
    let steps: Vec<(String, String)> = line["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("deactivate".to_owned(), "failed".to_owned()),
            ("freeze".to_owned(), "applied".to_owned())
        ],
        "{line}"
    );
    // Until an admin clears the blocker, the plan still wants the deactivation.
    let plan = world.roster(&["plan"]);
    assert!(
        plan.stdout.contains(
            "salesforce_user[\"former.contractor@contoso.com.dev1\"] will be deactivated"
        ),
        "{}",
        plan.stdout
    );
}

/// The demo world where each `(user, manager)` pair's Salesforce user reports to the other
/// (`Manager`, by Username: the User's `ManagerId`).
fn with_managers(name: &str, pairs: &[(&str, &str)]) -> World {
    World::demo_editing(name, |demo| {
        let mut demo = demo.to_owned();
        for (user, manager) in pairs {
            let entry = format!("    - Username: {user}\n");
            assert!(demo.contains(&entry), "{user}");
            demo = demo.replace(&entry, &format!("{entry}      Manager: {manager}\n"));
        }
        demo
    })
}

/// James leaves while Noah, who stays, still reports to him: Salesforce refuses to deactivate
/// the Manager of an active user (KB 000004425). The plan says so before anyone applies it,
/// naming Noah; apply's refusal is the hierarchy field's, and James is frozen instead
/// (`when_refused: freeze`, the default), so he cannot sign in.
#[test]
fn a_manager_whose_report_stays_is_warned_of_and_frozen_instead() {
    let world = with_managers(
        "apply-manager-stays",
        &[(
            "noah.okafor@contoso.com.dev1",
            "james.obrien@contoso.com.dev1",
        )],
    );
    let plan = world.roster(&["plan"]);
    assert!(
        plan.stdout.contains(
            "Salesforce will refuse to deactivate james.obrien@contoso.com.dev1: it is the \
             Manager of 1 user(s) who stay active after this plan (noah.okafor@contoso.com.dev1)"
        ) && plan
            .stdout
            .contains("apply freezes them instead (deprovision.when_refused: freeze)"),
        "{}",
        plan.stdout
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "deactivate failed: FIELD_INTEGRITY_EXCEPTION: Cannot inactivate user that is the \
             value of a hierarchy field: Manager"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        login_of(&world, "james.obrien@contoso.com.dev1"),
        json!({"IsActive": true, "IsFrozen": true})
    );
    // Noah given another manager (none), James goes on the next apply.
    let noah =
        world.emulator.admin_call(Method::GET, "world", None)["salesforce"]["objects"]["User"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["Username"] == "noah.okafor@contoso.com.dev1")
            .unwrap()["Id"]
            .clone();
    let (status, answer) = world.emulator.salesforce_send(
        Method::PATCH,
        &format!("sobjects/User/{}", noah.as_str().unwrap()),
        &json!({"ManagerId": null}),
    );
    assert_eq!(status, 204, "{answer}");
    let plan = world.roster(&["plan"]);
    assert!(
        !plan.stdout.contains("will refuse to deactivate"),
        "{}",
        plan.stdout
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        login_of(&world, "james.obrien@contoso.com.dev1")["IsActive"],
        false
    );
}

/// A manager and their report leave together: the manager's deactivation comes first in the
/// request (former.contractor sorts before james.obrien) and is refused while James is active,
/// so apply sends it again once James's went through. One apply deactivates both; the plan warns
/// of nothing.
#[test]
fn a_manager_leaving_with_their_report_is_deactivated_in_the_same_apply() {
    let world = with_managers(
        "apply-manager-leaves-with-report",
        &[(
            "james.obrien@contoso.com.dev1",
            "former.contractor@contoso.com.dev1",
        )],
    );
    let plan = world.roster(&["plan"]);
    assert!(
        !plan.stdout.contains("will refuse to deactivate"),
        "{}",
        plan.stdout
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for user in [
        "james.obrien@contoso.com.dev1",
        "former.contractor@contoso.com.dev1",
    ] {
        assert_eq!(
            login_of(&world, user),
            json!({"IsActive": false, "IsFrozen": false}),
            "{user}"
        );
    }
    world.assert_converged();
}

/// A reconcile policy that does not allow freezes gets none, not even as the fallback for a
/// refused deactivation; one that allows them does.
#[test]
fn a_policy_without_freeze_never_freezes_a_refused_deactivation() {
    for (allow, frozen) in [
        ("[create, update, reactivate, deactivate, grants]", false),
        (
            "[create, update, reactivate, deactivate, freeze, grants]",
            true,
        ),
    ] {
        let world = refusing_world("apply-refused-policy", "freeze");
        let path = world.scratch.dir.join("roster.yaml");
        let config = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            format!("{config}\nreconcile:\n  auto_apply: {{allow: {allow}}}\n"),
        )
        .unwrap();
        let out = world.roster(&["apply", "--policy"]);
        assert_eq!(out.code, 1, "{allow}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(
                "deactivate failed: FIELD_INTEGRITY_EXCEPTION: You cannot disable the Web to Lead Default Creator"
            ),
            "{allow}: {}",
            out.stdout
        );
        assert_eq!(
            login_of(&world, "former.contractor@contoso.com.dev1"),
            json!({"IsActive": true, "IsFrozen": frozen}),
            "{allow}"
        );
    }
}

#[test]
fn with_when_refused_fail_a_refused_deactivation_leaves_the_user_as_it_was() {
    let world = refusing_world("apply-refused-fail", "fail");
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FIELD_INTEGRITY_EXCEPTION") && !out.stdout.contains("frozen instead"),
        "{}",
        out.stdout
    );
    assert_eq!(
        login_of(&world, "former.contractor@contoso.com.dev1"),
        json!({"IsActive": true, "IsFrozen": false})
    );
}

#[test]
fn a_freeze_that_fails_after_a_refused_deactivation_is_not_reported_as_frozen() {
    let world = refusing_world("apply-refused-freeze-fails", "freeze");
    world.emulator.admin(
        "faults",
        &json!({"route": "PATCH /services/data/{v}/composite/sobjects", "kind": "respond",
                "status": 200, "body_contains": "UserLogin", "count": 5,
                "body": [{"success": false, "errors": [{"statusCode": "UNKNOWN_EXCEPTION",
                                                        "message": "boom", "fields": []}]}]}),
    );
    let out = world.roster(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !out.stdout.contains("frozen instead"),
        "a failed freeze reported as done: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("freeze failed: UNKNOWN_EXCEPTION: boom"),
        "{}",
        out.stdout
    );
    assert_eq!(
        login_of(&world, "former.contractor@contoso.com.dev1"),
        json!({"IsActive": true, "IsFrozen": false})
    );
}

/// A create that Salesforce answers with the id of a user read for the plan (here the protected
/// System Administrator's) made no new user, whatever the answer says: its outcome is unknown
/// until looked up, and none of its grants are written — they would go to the administrator
/// (helper-58).
#[test]
fn a_create_answered_with_an_existing_users_id_writes_no_grants() {
    let world = World::demo("apply-create-existing-id");
    let plan = world.plan_json();
    let create = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "create" && !c["grants"]["add"].as_array().unwrap().is_empty())
        .unwrap();
    let key = create["key"].as_str().unwrap();
    world.emulator.admin(
        "faults",
        &json!({"route": "POST /services/data/{v}/composite/sobjects", "kind": "respond",
                "status": 200, "body_contains": "Username",
                "body": [{"id": "0058c0000000001AAA", "success": true, "errors": []}]}),
    );
    let out = world.roster(&["plan", "--target", key, "--out", "one.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = world.roster(&["apply", "one.json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let line = world
        .audit()
        .into_iter()
        .find(|l| l["key"] == key)
        .unwrap_or_else(|| panic!("no line for {key}: {}\n{}", out.stdout, out.stderr));
    // Looked up afterwards (as any create whose outcome is unknown): no user was made.
    assert_eq!(line["result"], "failed", "{line}");
    assert_eq!(line["steps"][0]["code"], "EXISTING_USER_ID", "{line}");
    assert!(
        line["steps"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("looking it up showed it was not carried out"),
        "{line}"
    );
    assert!(
        line["steps"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .all(|s| s["result"] == "not_attempted"),
        "{line}"
    );
    assert!(line["target_id"].is_null(), "{line}");
}
