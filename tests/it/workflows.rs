//! The GitHub Actions workflows users copy (`examples/github/`) and the project's own CI: each
//! parses as YAML and has what makes it safe — the permissions it needs and no more, exit code
//! 2 handled as success, one comment found by roster's marker, the apply serialized, the audit
//! log kept.

use std::fmt::Write as _;

use serde_json::Value;

use crate::support::{read, repo};

fn workflow(name: &str) -> (String, Value) {
    let text = read(&format!("examples/github/workflows/{name}"));
    let yaml: Value = serde_saphyr::from_str(&text)
        .unwrap_or_else(|e| panic!("examples/github/workflows/{name} is not YAML: {e}"));
    (text, yaml)
}

/// Every `run:` script of every step of every job.
fn scripts(yaml: &Value) -> String {
    let mut out = String::new();
    for job in yaml["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            if let Some(run) = step["run"].as_str() {
                out.push_str(run);
                out.push('\n');
            }
        }
    }
    out
}

fn steps_using<'a>(yaml: &'a Value, action: &str) -> Vec<&'a Value> {
    yaml["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_array().unwrap())
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .collect()
}

/// Exit code 2 of `--detailed-exitcode` is captured, not taken for a failure: each step that
/// runs it is executed as GitHub Actions runs it (`bash -e`), with a stand-in `roster` that
/// exits 0, 1 or 2, and must record the code in `$GITHUB_OUTPUT` and pass on 0 and 2 (what 1
/// does is each workflow's own choice, checked by its test).
/// The script of the step `name` of `job`.
fn run_of(yaml: &Value, job: &str, name: &str) -> String {
    yaml["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {job}"))["run"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A step's script as it runs where GitHub did not fill its `${{ ... }}` expressions: each
/// empty, as an unset output is.
fn without_expressions(run: &str) -> String {
    let mut script = String::new();
    let mut rest = run;
    while let Some(start) = rest.find("${{") {
        script.push_str(&rest[..start]);
        rest = rest[start..]
            .split_once("}}")
            .map_or("", |(_, after)| after);
    }
    script.push_str(rest);
    script
}

fn handles_exit_code_two(yaml: &Value) {
    let scratch = crate::support::Scratch::new("workflow-exit-codes");
    let bin = scratch.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut ran = 0;
    for job in yaml["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            let Some(run) = step["run"]
                .as_str()
                .filter(|r| r.contains("--detailed-exitcode"))
            else {
                continue;
            };
            let script = without_expressions(run);
            for code in [0, 1, 2] {
                let fake = bin.join("roster");
                std::fs::write(&fake, format!("#!/bin/sh\nexit {code}\n")).unwrap();
                std::fs::set_permissions(
                    &fake,
                    <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
                )
                .unwrap();
                let output = scratch.dir.join("github_output");
                let _ = std::fs::remove_file(&output);
                let status = std::process::Command::new("bash")
                    .args(["--noprofile", "--norc", "-e", "-c", &script])
                    .current_dir(&scratch.dir)
                    .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                    .env("GITHUB_OUTPUT", &output)
                    .status()
                    .unwrap();
                let recorded = std::fs::read_to_string(&output).unwrap_or_default();
                assert!(
                    recorded.contains(&format!("exitcode={code}")),
                    "roster exiting {code}: {recorded:?} recorded by\n{run}"
                );
                if code != 1 {
                    assert!(
                        status.success(),
                        "roster exiting {code} fails the step:\n{run}"
                    );
                }
            }
            ran += 1;
        }
    }
    assert!(ran > 0, "no step runs roster with --detailed-exitcode");
}

/// Installs roster with the setup action shipped next to the workflows.
fn sets_up_roster(yaml: &Value) {
    assert_eq!(steps_using(yaml, "./.github/actions/setup-roster").len(), 1);
    assert!(
        repo()
            .join("examples/github/actions/setup-roster/action.yml")
            .exists()
    );
}

#[test]
fn plan_on_pull_request() {
    let (text, yaml) = workflow("roster-plan.yml");
    assert!(yaml["on"]["pull_request"].is_object());
    assert_eq!(yaml["permissions"]["id-token"], "write");
    assert_eq!(yaml["permissions"]["pull-requests"], "write");
    assert_eq!(yaml["permissions"]["contents"], "read");
    sets_up_roster(&yaml);
    let script = scripts(&yaml);
    assert!(script.contains("roster validate"));
    assert!(script.contains("roster plan --format markdown --detailed-exitcode --out plan.json"));
    // The base branch's config (a tree of its own, so `extends` finds its base as it was)
    // splits what the pull request causes from what is pending.
    assert!(script.contains("git worktree add --detach ../base FETCH_HEAD"));
    assert!(script.contains("flag=--baseline-config ../base/$ROSTER_CONFIG"));
    // One job per org's config, each roster command reading it.
    assert_eq!(
        yaml["jobs"]["plan"]["env"]["ROSTER_CONFIG"],
        "${{ matrix.config }}"
    );
    assert!(yaml["jobs"]["plan"]["strategy"]["matrix"]["config"].is_array());
    handles_exit_code_two(&yaml);
    // A refused plan (exit 1) is still commented, then fails the check; exit 2 never fails it.
    let steps: Vec<&Value> = yaml["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_array().unwrap())
        .collect();
    let named = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name:?}"))
    };
    // The comment job runs whatever the plans did, after all of them.
    assert_eq!(yaml["jobs"]["comment"]["needs"], "plan");
    assert_eq!(yaml["jobs"]["comment"]["if"], "always()");
    assert!(
        named("This org's section of the comment")["if"]
            .as_str()
            .unwrap()
            .contains("always()")
    );
    let fail = named("Fail on an error or a refused plan")["if"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        fail.contains("exitcode != '0'") && fail.contains("exitcode != '2'"),
        "{fail}"
    );
    // One comment, found by the marker roster's markdown starts with, edited in place; the
    // body goes from a file, never through the command line.
    let markdown = read("tests/it/snapshots/it__plan__demo_plan_markdown.snap");
    assert!(markdown.contains("\n<!-- roster-plan -->\n"));
    assert!(script.contains(r#"startswith("<!-- roster-plan -->")"#));
    assert!(script.contains("--method PATCH") && script.contains("body=@comment.md"));
    assert!(script.contains("gh pr comment \"$PR\" --body-file comment.md"));
    // What the pull request changes, above the plan.
    assert!(script.contains(
        "roster diff \"${{ steps.base.outputs.config }}\" \"$ROSTER_CONFIG\" --format markdown > diff.md"
    ));
    // The plan is kept by org and commit: the apply on merge finds it by that name.
    let upload = steps_using(&yaml, "actions/upload-artifact@");
    assert!(upload.iter().any(|u| u["with"]["name"]
        == "roster-plan-${{ steps.org.outputs.slug }}-${{ github.event.pull_request.head.sha }}"));
    // Entra through OIDC federation: no Azure secret anywhere.
    assert!(!text.contains("AZURE_CLIENT_SECRET"));
    let upload: Vec<&Value> = steps_using(&yaml, "actions/upload-artifact@")
        .into_iter()
        .filter(|u| u["name"] == "Keep the plan")
        .collect();
    assert_eq!(upload.len(), 1);
    assert!(
        upload[0]["with"]["path"]
            .as_str()
            .unwrap()
            .contains("plan.json")
    );
}

#[test]
fn apply_on_merge() {
    let (_, yaml) = workflow("roster-apply.yml");
    assert_eq!(yaml["on"]["push"]["branches"][0], "main");
    assert_eq!(yaml["permissions"]["id-token"], "write");
    assert_eq!(
        yaml["permissions"]["actions"], "read",
        "to download the reviewed plan"
    );
    // Two merges never apply at once, and an apply is never cancelled midway.
    assert_eq!(yaml["concurrency"]["group"], "roster-apply");
    assert_eq!(yaml["concurrency"]["cancel-in-progress"], false);
    sets_up_roster(&yaml);
    let script = scripts(&yaml);
    // The reviewed plan first; the policy only when it is stale or missing.
    assert!(
        script.contains("roster apply \"${{ steps.reviewed.outputs.plan }}\" --format markdown")
    );
    assert!(
        script.contains("roster apply --policy --format markdown --audit-log roster-audit.jsonl")
    );
    assert!(
        !script.contains("--auto-approve"),
        "never an unreviewed, unlimited apply"
    );
    let step = |name: &str| {
        yaml["jobs"]["apply"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"))
            .clone()
    };
    assert_eq!(
        step("Apply within the policy")["if"],
        "steps.reviewed.outputs.plan == '' || steps.apply.outputs.stale == 'true'"
    );
    // Whatever did not apply fails the job and updates the reconcile issue.
    assert_eq!(
        step("Fail unless applied")["if"],
        "always() && steps.result.outputs.exitcode != '0'"
    );
    let issue = step("Open or update the reconcile issue");
    assert_eq!(
        issue["if"],
        "always() && steps.result.outputs.exitcode != '0'"
    );
    assert!(
        run_with_fake_gh(issue["run"].as_str().unwrap(), "")
            .contains("gh issue create --title roster: a scheduled run needs review")
    );
    let upload = steps_using(&yaml, "actions/upload-artifact@");
    assert_eq!(upload.len(), 1);
    assert_eq!(
        upload[0]["if"], "always()",
        "the audit log of a failed apply is kept too"
    );
    assert_eq!(upload[0]["with"]["path"], "roster-audit.jsonl");
    assert!(upload[0]["with"]["retention-days"].as_u64().unwrap() >= 90);
}

#[test]
fn drift_on_a_schedule() {
    let (_, yaml) = workflow("roster-drift.yml");
    assert!(yaml["on"]["schedule"][0]["cron"].is_string());
    assert_eq!(yaml["permissions"]["id-token"], "write");
    assert_eq!(yaml["permissions"]["issues"], "write");
    sets_up_roster(&yaml);
    let script = scripts(&yaml);
    handles_exit_code_two(&yaml);
    let steps: Vec<&Value> = yaml["jobs"]["drift"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let on_drift: Vec<&&Value> = steps
        .iter()
        .filter(|s| s["if"] == "steps.plan.outputs.exitcode == '2'")
        .collect();
    let open = on_drift
        .iter()
        .find(|s| s["run"].is_string())
        .expect("a step for exit code 2");
    let run = open["run"].as_str().unwrap();
    assert!(run.contains("gh issue edit") && run.contains("gh issue create"));
    assert!(run.contains("--body-file drift.md"));
    // The issue links the run; the run keeps the whole plan.
    let upload = steps_using(&yaml, "actions/upload-artifact@");
    assert_eq!(upload.len(), 1, "the drift plan is kept");
    let paths = upload[0]["with"]["path"].as_str().unwrap();
    assert!(
        paths.contains("drift.json") && paths.contains("drift.md"),
        "{paths}"
    );
    assert!(script.contains("--out drift.json"), "{script}");
}

#[test]
fn every_workflow_pins_its_actions_and_the_example_config_is_the_ci_one() {
    let setup = read("examples/github/actions/setup-roster/action.yml");
    for name in [
        "roster-plan.yml",
        "roster-apply.yml",
        "roster-drift.yml",
        "roster-reconcile.yml",
    ] {
        let (text, _) = workflow(name);
        for line in text
            .lines()
            .chain(setup.lines())
            .filter(|l| l.contains("uses: "))
        {
            // A tag can be moved to other code; a commit cannot. The tag stays as a comment for
            // people (`owner/repo@<40 hex> # v4.2.2`).
            let uses = line.split("uses: ").nth(1).unwrap().trim();
            if uses.starts_with("./") {
                continue;
            }
            let (action, comment) = uses.split_once(" # ").unwrap_or((uses, ""));
            let sha = action.split_once('@').map_or("", |(_, sha)| sha);
            assert!(
                sha.len() == 40
                    && sha
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{name}: {action} is not pinned to a commit"
            );
            assert!(comment.starts_with('v'), "{name}: {uses} names no version");
        }
        assert!(
            text.contains("secrets.SF_JWT_PRIVATE_KEY"),
            "{name}: Salesforce's key comes from a secret"
        );
    }
    let config = read("examples/github/roster.yaml");
    assert!(config.contains("federated: github_actions"));
    assert!(config.contains("{env: SF_JWT_PRIVATE_KEY}"));
}

#[test]
fn the_projects_own_ci_mirrors_ci_run() {
    let text = read(".github/workflows/ci.yml");
    let yaml: Value = serde_saphyr::from_str(&text).unwrap();
    let steps = yaml["jobs"]["check"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["run"] == "bash .ci/run"));
    let ci_run = read(".ci/run");
    let readme = read("README.md");
    // The README's test command is the one .ci/run runs.
    assert!(readme.contains("cargo test --locked"));
    assert!(ci_run.contains("\ncargo test --locked\n"));
}

/// Runs a workflow step's script under `bash -e` with a stand-in `gh` that logs its arguments
/// and answers `issue list` with `open_issue`; returns the log.
fn run_with_fake_gh(script: &str, open_issue: &str) -> String {
    let scratch = crate::support::Scratch::new("workflow-gh");
    let bin = scratch.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\necho \"gh $*\" >> \"$GH_LOG\"\ncase \"$1 $2\" in \"issue list\") echo '{open_issue}' ;; esac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &gh,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    scratch.write("drift.md", "the plan");
    scratch.write("reconcile.md", "the held plan");
    let log = scratch.dir.join("gh.log");
    let status = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-e", "-c", script])
        .current_dir(&scratch.dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("GH_LOG", &log)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "contoso/iam")
        .env("GITHUB_RUN_ID", "7")
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
    std::fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn the_drift_issue_is_opened_updated_and_closed() {
    let (_, yaml) = workflow("roster-drift.yml");
    let step = |name: &str| -> (String, String) {
        let step = yaml["jobs"]["drift"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"));
        (
            step["if"].as_str().unwrap().to_owned(),
            step["run"].as_str().unwrap().to_owned(),
        )
    };
    let (when, open) = step("Open or update the drift issue");
    assert_eq!(when, "steps.plan.outputs.exitcode == '2'");
    assert!(run_with_fake_gh(&open, "").contains("gh issue create"));
    assert!(run_with_fake_gh(&open, "42").contains("gh issue edit 42 --body-file drift.md"));
    let (when, close) = step("Close the drift issue");
    assert_eq!(when, "steps.plan.outputs.exitcode == '0'");
    assert!(run_with_fake_gh(&close, "42").contains("gh issue close 42"));
    assert!(!run_with_fake_gh(&close, "").contains("issue close"));
}

#[test]
fn reconcile_every_half_hour_within_the_policy_with_one_issue_when_held() {
    let (_, yaml) = workflow("roster-reconcile.yml");
    assert_eq!(yaml["on"]["schedule"][0]["cron"], "*/30 * * * *");
    assert_eq!(yaml["permissions"]["issues"], "write");
    // Never beside the apply on merge, never cut short.
    assert_eq!(yaml["concurrency"]["group"], "roster-apply");
    assert_eq!(yaml["concurrency"]["cancel-in-progress"], false);
    sets_up_roster(&yaml);
    let steps = yaml["jobs"]["reconcile"]["steps"].as_array().unwrap();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    };
    // The policy is roster's own: the apply step runs `apply --policy` and keeps its exit code.
    let apply = step("Apply within the policy")["run"].as_str().unwrap();
    assert!(
        apply.contains("roster apply --policy --format markdown --audit-log roster-audit.jsonl"),
        "{apply}"
    );
    assert!(apply.contains("echo \"exitcode=$code\" >> \"$GITHUB_OUTPUT\""));
    // One issue: opened or updated when held (3) or failed (1), closed when a run is clean.
    let open = step("Open or update the reconcile issue");
    assert_eq!(open["if"], "steps.apply.outputs.exitcode != '0'");
    let run = open["run"].as_str().unwrap();
    assert!(
        run_with_fake_gh(run, "")
            .contains("gh issue create --title roster: a scheduled run needs review")
    );
    assert!(run_with_fake_gh(run, "7").contains("gh issue edit 7 --body-file reconcile.md"));
    let close = step("Close the reconcile issue");
    assert_eq!(close["if"], "steps.apply.outputs.exitcode == '0'");
    let run = close["run"].as_str().unwrap();
    assert!(run_with_fake_gh(run, "7").contains("gh issue close 7"));
    assert!(!run_with_fake_gh(run, "").contains("issue close"));
    // The run fails when held, so the schedule's history shows it; the audit log is kept.
    assert_eq!(
        step("Fail when held or failed")["if"],
        "steps.apply.outputs.exitcode != '0'"
    );
    let upload = steps_using(&yaml, "actions/upload-artifact@");
    assert_eq!(upload[0]["if"], "always()");
    assert!(upload[0]["with"]["retention-days"].as_u64().unwrap() >= 90);
}

/// Runs `script` under `bash -e` with stand-ins for `gh` (answers from `answers`, by the first
/// words of the call) and `roster` (exits `roster_exit`, printing `roster_stderr`); returns
/// what the script wrote to `$GITHUB_OUTPUT` and the files it left.
fn run_step(
    script: &str,
    answers: &[(&str, &str)],
    roster_exit: i32,
    roster_stderr: &str,
) -> (String, crate::support::Scratch) {
    let scratch = crate::support::Scratch::new("workflow-step");
    let bin = scratch.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut gh = String::from("#!/bin/bash\ncase \"$*\" in\n");
    for (call, answer) in answers {
        // Quoted: `.[0]` in a call is text, not a glob.
        let _ = writeln!(gh, "  \"{call}\"*) {answer} ;;");
    }
    gh.push_str("  *) exit 1 ;;\nesac\n");
    let roster = format!("#!/bin/sh\necho '{roster_stderr}' >&2\nexit {roster_exit}\n");
    for (name, text) in [("gh", gh), ("roster", roster)] {
        let path = bin.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(
            &path,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .unwrap();
    }
    let plain = without_expressions(script);
    let output = scratch.dir.join("output");
    let status = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-e", "-c", &plain])
        .current_dir(&scratch.dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_REPOSITORY", "contoso/iam")
        .env("GITHUB_SHA", "mergecommit")
        // What the step's `env:` gives from the org step's output.
        .env("SLUG", "roster-yaml")
        .status()
        .unwrap();
    assert!(status.success(), "{plain}");
    (
        std::fs::read_to_string(&output).unwrap_or_default(),
        scratch,
    )
}

#[test]
fn the_apply_finds_the_reviewed_plan_and_knows_a_stale_one() {
    let (_, yaml) = workflow("roster-apply.yml");
    let step = |name: &str| run_of(&yaml, "apply", name);
    // The merged pull request 12, head abc123, planned by run 99 whose artifact holds the plan.
    let reviewed = step("The reviewed plan");
    let answers = [
        (
            "api repos/contoso/iam/commits/mergecommit/pulls --jq .[0].number",
            "echo 12",
        ),
        (
            "api repos/contoso/iam/commits/mergecommit/pulls --jq .[0].head.sha",
            "echo abc123",
        ),
        (
            "run list --workflow roster-plan.yml --commit abc123",
            "echo 99",
        ),
        (
            "run download 99 --name roster-plan-roster-yaml-abc123 --dir reviewed",
            "mkdir -p reviewed && echo '{}' > reviewed/plan.json",
        ),
    ];
    let (output, _) = run_step(&reviewed, &answers, 0, "");
    assert!(
        output.contains("pr=12\n") && output.contains("plan=reviewed/plan.json\n"),
        "{output}"
    );
    // A direct push: no pull request, no plan — the policy step takes over.
    let (output, _) = run_step(&reviewed, &[("api ", "true")], 0, "");
    assert!(!output.contains("plan="), "{output}");
    // The reviewed plan applied, or found stale.
    let apply = step("Apply the reviewed plan");
    let (output, _) = run_step(&apply, &[], 0, "");
    assert!(
        output.contains("exitcode=0") && !output.contains("stale"),
        "{output}"
    );
    let (output, scratch) = run_step(
        &apply,
        &[],
        1,
        "error: Saved plan is stale: reviewed/plan.json is not what a plan made now would do",
    );
    assert!(
        output.contains("exitcode=1") && output.contains("stale=true"),
        "{output}"
    );
    assert!(
        std::fs::read_to_string(scratch.dir.join("apply.err"))
            .unwrap()
            .contains("stale")
    );
}

#[test]
fn a_plan_that_fails_still_updates_the_comment_with_its_error() {
    let (_, yaml) = workflow("roster-plan.yml");
    let step = |job: &str, name: &str| run_of(&yaml, job, name);
    // The org's job: no plan, its error as the section.
    let scratch = crate::support::Scratch::new("workflow-comment");
    std::fs::write(scratch.dir.join("plan.md"), "").unwrap();
    std::fs::write(
        scratch.dir.join("plan.err"),
        "error: reading Microsoft Entra failed: AADSTS7000215",
    )
    .unwrap();
    let section = step("plan", "This org's section of the comment");
    let status = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-e", "-c", &section])
        .current_dir(&scratch.dir)
        .env("ROSTER_CONFIG", "orgs/dev.yaml")
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(scratch.dir.join("section.md")).unwrap();
    assert!(
        text.starts_with("## `orgs/dev.yaml`\n\n### roster plan failed")
            && text.contains("AADSTS7000215"),
        "{text}"
    );
    // The comment job: one comment, the marker first, a section per org.
    std::fs::create_dir_all(scratch.dir.join("sections/roster-comment-orgs-dev-yaml")).unwrap();
    std::fs::copy(
        scratch.dir.join("section.md"),
        scratch
            .dir
            .join("sections/roster-comment-orgs-dev-yaml/section.md"),
    )
    .unwrap();
    std::fs::create_dir_all(scratch.dir.join("sections/roster-comment-orgs-prod-yaml")).unwrap();
    std::fs::write(
        scratch
            .dir
            .join("sections/roster-comment-orgs-prod-yaml/section.md"),
        "## `orgs/prod.yaml`\n\n**Plan: 1 to create**\n",
    )
    .unwrap();
    let comment = step("comment", "Comment the plan");
    let script = format!("cd {} && {comment}", scratch.dir.display());
    let log = run_with_fake_gh(&script, "");
    assert!(
        log.contains("gh pr comment") && log.contains("--body-file comment.md"),
        "{log}"
    );
    let body = std::fs::read_to_string(scratch.dir.join("comment.md")).unwrap();
    assert!(
        body.starts_with("<!-- roster-plan -->\n### roster plan\n"),
        "{body}"
    );
    let dev = body.find("## `orgs/dev.yaml`").unwrap();
    let prod = body.find("## `orgs/prod.yaml`").unwrap();
    assert!(dev < prod && body.contains("AADSTS7000215"), "{body}");
}

#[test]
fn releases_build_static_and_macos_binaries_with_checksums_on_a_tag() {
    let text = read(".github/workflows/release.yml");
    let yaml: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(yaml["on"]["push"]["tags"][0], "v*");
    assert_eq!(yaml["permissions"]["contents"], "write");
    let targets: Vec<&str> = yaml["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "aarch64-apple-darwin",
            "x86_64-apple-darwin"
        ]
    );
    let script = scripts(&yaml);
    assert!(script.contains("cargo +stable build --release --locked --target \"$TARGET\""));
    assert!(script.contains("sha256sum \"$name\" > \"$name.sha256\""));
    assert!(script.contains(
        "gh release upload \"$GITHUB_REF_NAME\" \"roster-$TARGET.tar.gz\" \"roster-$TARGET.tar.gz.sha256\""
    ));
    for line in text.lines().filter(|l| l.contains("uses: ")) {
        let action = line.split("uses: ").nth(1).unwrap();
        let sha = action
            .split_once('@')
            .map_or("", |(_, rest)| &rest[..rest.len().min(40)]);
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{line}"
        );
    }
}

/// Runs the setup action's download step with a stand-in `curl` that serves `served` (file
/// name → bytes) as the release's assets; whether it succeeded and what it added to the PATH.
fn download_step(served: &[(&str, Vec<u8>)]) -> (bool, String) {
    let action: Value =
        serde_saphyr::from_str(&read("examples/github/actions/setup-roster/action.yml")).unwrap();
    let step = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Download and verify roster")
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_owned();
    let scratch = crate::support::Scratch::new("setup-download");
    let assets = scratch.dir.join("assets");
    let bin = scratch.dir.join("bin");
    std::fs::create_dir_all(&assets).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    for (name, bytes) in served {
        std::fs::write(assets.join(name), bytes).unwrap();
    }
    // curl ... -o NAME URL: copies the asset the URL's last segment names.
    let curl = format!(
        "#!/bin/bash\nout=''\nwhile [ $# -gt 0 ]; do case \"$1\" in -o) out=$2; shift 2 ;; *) url=$1; shift ;; esac; done\ncp \"{}/${{url##*/}}\" \"$out\"\n",
        assets.display()
    );
    let path = bin.join("curl");
    std::fs::write(&path, curl).unwrap();
    std::fs::set_permissions(
        &path,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    let github_path = scratch.dir.join("github_path");
    let status = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-e", "-c", &step])
        .current_dir(&scratch.dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", scratch.dir.join("tmp"))
        .env("GITHUB_PATH", &github_path)
        .env("ROSTER_REPOSITORY", "https://github.com/contoso/roster.git")
        .env("ROSTER_VERSION", "v1.2.0")
        .status()
        .unwrap();
    let added = std::fs::read_to_string(&github_path).unwrap_or_default();
    if let Some(dir) = added.lines().next() {
        assert!(
            std::path::Path::new(dir).join("roster").exists(),
            "the binary is in the directory put on PATH"
        );
    }
    (status.success(), added)
}

#[test]
fn the_setup_action_uses_a_release_binary_only_when_its_checksum_matches() {
    // A release asset: a tar.gz holding `roster`, and its sha256sum line.
    let scratch = crate::support::Scratch::new("setup-asset");
    std::fs::write(scratch.dir.join("roster"), "#!/bin/sh\necho roster 1.2.0\n").unwrap();
    let archive = scratch.dir.join("roster-x86_64-unknown-linux-musl.tar.gz");
    assert!(
        std::process::Command::new("tar")
            .args([
                "-czf",
                archive.to_str().unwrap(),
                "-C",
                scratch.dir.to_str().unwrap(),
                "roster"
            ])
            .status()
            .unwrap()
            .success()
    );
    let bytes = std::fs::read(&archive).unwrap();
    let digest = std::process::Command::new("sha256sum")
        .arg("roster-x86_64-unknown-linux-musl.tar.gz")
        .current_dir(&scratch.dir)
        .output()
        .unwrap()
        .stdout;
    let (ok, path) = download_step(&[
        ("roster-x86_64-unknown-linux-musl.tar.gz", bytes.clone()),
        (
            "roster-x86_64-unknown-linux-musl.tar.gz.sha256",
            digest.clone(),
        ),
    ]);
    assert!(ok && path.contains("roster-v1.2.0"), "{path}");
    // A tampered archive is refused, and nothing is put on the PATH.
    let mut tampered = bytes;
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    let (ok, path) = download_step(&[
        ("roster-x86_64-unknown-linux-musl.tar.gz", tampered),
        ("roster-x86_64-unknown-linux-musl.tar.gz.sha256", digest),
    ]);
    assert!(!ok && path.is_empty(), "{path}");
    // Building from source only when asked.
    let action = read("examples/github/actions/setup-roster/action.yml");
    assert!(
        action.contains(
            "if: inputs.from-source == 'true' && steps.cache.outputs.cache-hit != 'true'"
        )
    );
}

#[test]
fn the_image_is_static_on_distroless_as_a_non_root_user() {
    let dockerfile = read("Dockerfile");
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(
        stages[0].contains("rust:") && stages[0].contains("alpine"),
        "musl: a static binary"
    );
    assert_eq!(stages[1], "FROM gcr.io/distroless/static-debian12:nonroot");
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("\nUSER nonroot\n"));
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/roster\"]"));
    // The build context leaves out what would bloat it or leak a developer's state.
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target") && ignore.lines().any(|l| l == ".git"));
}
