//! `roster apply`: carry out a saved plan after checking it is not stale, or plan, show, ask and
//! carry that out; then record every change in the audit log and report.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anstyle::{AnsiColor, Style};
use serde_json::{Value, json};

use super::plan::{Desired, color, compute, load};
use crate::apply::{self, ChangeResult, Options, Report, Status};
use crate::cli::{ApplyArgs, Cli, Format};
use crate::diagnostic::display_path;
use crate::endpoint::{Endpoints, Env};
use crate::error::{Error, Outcome};
use crate::plan::{Action, Plan};
use crate::progress::Progress;
use crate::render;
use crate::salesforce::Salesforce;

pub(crate) fn run(cli: &Cli, args: &ApplyArgs) -> Result<Outcome, Error> {
    let desired = load(cli)?;
    let interactive = std::io::stdin().is_terminal();
    if args.plan.is_none() && !args.auto_approve && !interactive {
        return Err(Error::Input(
            "roster apply without a saved plan asks for confirmation, and stdin is not a \
             terminal: pass --auto-approve (in CI), or apply a plan saved with `roster plan --out`"
                .to_owned(),
        ));
    }
    let plan = match &args.plan {
        Some(path) => super::plan::open(path)?,
        None => compute(cli, &desired, &[], None)?,
    };
    if let Some(refused) = &plan.refused {
        return Err(Error::Input(refused.clone()));
    }
    check_safety(&plan, args.allow_deactivations)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let env: Env<'_> = &crate::endpoint::process_env;
    let salesforce = Arc::new(connect(&desired, env)?);
    if let Some(path) = &args.plan {
        check_saved(&runtime, &salesforce, &desired, &plan, path)?;
    } else {
        // With --format json, stdout is the report alone: one JSON document.
        if args.format != Format::Json {
            let shown = render::render(&plan, args.format.into(), color(), false);
            anstream::stdout().write_all(shown.as_bytes())?;
        }
        super::step_summary(&render::render(
            &plan,
            render::Format::Markdown,
            false,
            false,
        ));
        if plan.summary.changes() == 0 {
            return Ok(Outcome::Success);
        }
        if !args.auto_approve {
            confirm()?;
        }
    }
    if plan.changes.is_empty() {
        if args.plan.is_some() && !cli.global.quiet {
            writeln!(anstream::stdout(), "{}", render::text::summary_line(&plan))?;
        }
        return Ok(Outcome::Success);
    }
    // Opened before anything is written, so an unwritable log stops the apply, not the record.
    let mut audit = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.audit_log)
        .map_err(|e| {
            Error::Input(format!(
                "cannot open the audit log {}: {e}",
                display_path(&args.audit_log)
            ))
        })?;
    let progress = Progress::new(!cli.global.quiet && cli.global.verbose == 0);
    let options = Options {
        bulk_threshold: args.bulk_threshold,
        concurrency: 4,
    };
    let report = execute(
        &runtime,
        Arc::clone(&salesforce),
        &plan,
        options,
        progress.task("Salesforce"),
    );
    let lines = audit_lines(&plan, &report, &github_env(env));
    audit.write_all(lines.as_bytes()).map_err(|e| {
        Error::Input(format!(
            "the apply ran, but writing the audit log {} failed: {e}",
            display_path(&args.audit_log)
        ))
    })?;
    let out = match args.format {
        Format::Json => render_json(&plan, &report),
        Format::Markdown => render_markdown(&plan, &report),
        Format::Text => render_text(&plan, &report, color()),
    };
    anstream::stdout().write_all(out.as_bytes())?;
    super::step_summary(&render_markdown(&plan, &report));
    Ok(if complete(&report) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// Runs the apply; Ctrl-C finishes the requests in flight, sends nothing more, and still
/// lets the report and the audit log be written.
fn execute(
    runtime: &tokio::runtime::Runtime,
    salesforce: Arc<Salesforce>,
    plan: &Plan,
    options: Options,
    task: crate::progress::Task,
) -> Report {
    let stop = apply::Stop::default();
    runtime.block_on(async {
        let interrupt = {
            let stop = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stop.stop(
                        "interrupted (Ctrl-C): the requests in flight finished, nothing more \
                         was sent"
                            .to_owned(),
                    );
                }
            })
        };
        let report = apply::apply(salesforce, plan, options, task, stop).await;
        interrupt.abort();
        report
    })
}

fn connect(desired: &Desired, env: Env<'_>) -> Result<Salesforce, Error> {
    let endpoints = Endpoints::resolve(&desired.loaded.config, env).map_err(Error::Input)?;
    Ok(Salesforce::connect(
        &desired.loaded.config,
        &desired.base,
        &endpoints,
    )?)
}

/// A saved plan must come from this config and still describe the org.
fn check_saved(
    runtime: &tokio::runtime::Runtime,
    salesforce: &Arc<Salesforce>,
    desired: &Desired,
    plan: &Plan,
    path: &Path,
) -> Result<(), Error> {
    if plan.config_sha256 != desired.sha256 {
        return Err(stale(
            path,
            &[format!(
                "{} changed since the plan (SHA-256 {} then, {} now)",
                display_path(&desired.loaded.file.path),
                short(&plan.config_sha256),
                short(&desired.sha256)
            )],
        ));
    }
    let reasons = runtime.block_on(apply::check_fresh(salesforce, plan))?;
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(stale(path, &reasons))
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn stale(path: &Path, reasons: &[String]) -> Error {
    let shown = 10;
    let mut message = format!(
        "Saved plan is stale: {} no longer describes the org, so roster applied nothing:",
        display_path(path)
    );
    for reason in reasons.iter().take(shown) {
        message.push_str("\n  - ");
        message.push_str(reason);
    }
    if reasons.len() > shown {
        let _ = write!(message, "\n  ... and {} more", reasons.len() - shown);
    }
    message.push_str("\nMake a new plan with `roster plan --out PLAN`, review it, and apply that.");
    Error::Input(message)
}

/// The deactivation guard: over the config's threshold needs `--allow-deactivations N`
/// covering the count; a given N is also a ceiling.
fn check_safety(plan: &Plan, allowed: Option<u32>) -> Result<(), Error> {
    let count = plan.safety.deactivations;
    let covered = allowed.is_some_and(|n| count <= n as usize);
    if plan.safety.exceeded && !covered {
        return Err(Error::Input(format!(
            "refusing to apply: the plan deactivates {count} users, more than \
             safety.max_deactivations allows ({}). If that is intended, review the plan and run \
             again with --allow-deactivations {count}",
            plan.safety.max_deactivations
        )));
    }
    if let Some(n) = allowed
        && count > n as usize
    {
        return Err(Error::Input(format!(
            "refusing to apply: the plan deactivates {count} users, more than \
             --allow-deactivations {n}"
        )));
    }
    Ok(())
}

/// Asks for `yes` on the terminal, as Terraform does.
fn confirm() -> Result<(), Error> {
    let bold = Style::new().bold();
    let mut out = anstream::stdout();
    write!(
        out,
        "\n{bold}Do you want to perform these actions?{bold:#}\n  roster will perform the \
         actions described above in Salesforce.\n  Only 'yes' will be accepted to approve.\n\n  \
         {bold}Enter a value:{bold:#} "
    )?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    writeln!(out)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Input(
            "apply cancelled: nothing was changed".to_owned(),
        ))
    }
}

/// `GITHUB_SHA`, `GITHUB_ACTOR`, `GITHUB_RUN_ID` and the repository, when CI sets them.
fn github_env(env: Env<'_>) -> serde_json::Map<String, Value> {
    [
        ("sha", "GITHUB_SHA"),
        ("actor", "GITHUB_ACTOR"),
        ("run_id", "GITHUB_RUN_ID"),
        ("repository", "GITHUB_REPOSITORY"),
    ]
    .into_iter()
    .filter_map(|(key, var)| {
        env(var)
            .filter(|v| !v.is_empty())
            .map(|v| (key.to_owned(), json!(v)))
    })
    .collect()
}

fn timestamp() -> String {
    crate::expr::format_date(super::expr::system_now(), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'")
}

/// One JSON line per change: when, which plan and config, who (in CI), and what happened.
/// Only what the plan already shows and Salesforce ids: never a credential.
fn audit_lines(plan: &Plan, report: &Report, github: &serde_json::Map<String, Value>) -> String {
    let plan_json = render::render(plan, render::Format::Json, false, false);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, plan_json.as_bytes());
    let plan_sha256 = crate::expr::hex_lower(digest.as_ref());
    let time = timestamp();
    let mut out = String::new();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        let names = |sets: &[crate::plan::PermissionSetRef]| -> Vec<String> {
            sets.iter().map(|s| s.name.clone()).collect()
        };
        let mut line = json!({
            "time": time,
            "plan_sha256": plan_sha256,
            "config_sha256": plan.config_sha256,
            "org_id": plan.target.org_id,
            "instance_url": plan.target.instance_url,
            "action": change.action,
            "key": change.key,
            "situation": change.situation,
            "reason": change.reason,
            "source_id": change.source_id,
            "target_id": result.target_id,
            "before": change.before,
            "after": change.after,
            "permission_sets": {
                "add": names(&change.permission_sets.add),
                "remove": names(&change.permission_sets.remove),
            },
            "result": result.status,
            "assignment_ids": result.assignment_ids,
            "failures": result.failures,
        });
        if let Some(note) = &result.note {
            line["note"] = json!(note);
        }
        if !github.is_empty() {
            line["github"] = Value::Object(github.clone());
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Whether everything in the plan was applied.
fn complete(report: &Report) -> bool {
    report.stopped.is_none() && report.results.iter().all(|r| r.status == Status::Applied)
}

/// Counts of applied changes by kind.
#[derive(Default)]
struct Tally {
    created: usize,
    updated: usize,
    deactivated: usize,
    frozen: usize,
    failed: usize,
    not_attempted: usize,
}

fn tally(plan: &Plan, report: &Report) -> Tally {
    let mut t = Tally::default();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        match result.status {
            Status::Failed => t.failed += 1,
            Status::NotAttempted => t.not_attempted += 1,
            Status::Applied => match change.action {
                Action::Create => t.created += 1,
                Action::Update | Action::Reactivate => t.updated += 1,
                Action::Deactivate => t.deactivated += 1,
                Action::Freeze => t.frozen += 1,
            },
        }
    }
    t
}

fn resources(t: &Tally) -> String {
    let mut line = format!(
        "{} created, {} updated, {} deactivated",
        t.created, t.updated, t.deactivated
    );
    if t.frozen > 0 {
        let _ = write!(line, ", {} frozen", t.frozen);
    }
    line
}

pub(super) fn render_text(plan: &Plan, report: &Report, color: bool) -> String {
    let paint = |style: Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let green = Style::new().fg_color(Some(AnsiColor::Green.into())).bold();
    let t = tally(plan, report);
    let mut out = String::new();
    for (change, result) in plan.changes.iter().zip(&report.results) {
        if let Some(note) = &result.note {
            let _ = writeln!(out, "note: {}: {note}", change.key);
        }
        for failure in &result.failures {
            let _ = writeln!(
                out,
                "{} salesforce_user[{:?}]: {} failed: {}: {}",
                paint(red, "error:"),
                change.key,
                failure.step,
                failure.code,
                failure.message
            );
        }
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(
            out,
            "{} roster stopped sending requests: {why}",
            paint(red, "error:")
        );
    }
    if complete(report) {
        out.push_str(&paint(
            green,
            &format!("Apply complete! Resources: {}.", resources(&t)),
        ));
        out.push('\n');
    } else {
        out.push_str(&paint(
            red,
            &format!(
                "Apply incomplete. Resources: {}; {} failed, {} not attempted.",
                resources(&t),
                t.failed,
                t.not_attempted
            ),
        ));
        out.push_str(
            "\nRun `roster plan` to see exactly what remains; `roster apply` again converges.\n",
        );
    }
    out
}

/// Failures listed in the job summary at most.
const MAX_SUMMARY_FAILURES: usize = 200;

/// The report for the GitHub Actions job summary: outcome, counts, every failure (up to a cap)
/// in a table.
fn render_markdown(plan: &Plan, report: &Report) -> String {
    let t = tally(plan, report);
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    if complete(report) {
        let _ = writeln!(
            out,
            "### ✅ roster apply\n\n**Apply complete! Resources: {}.**",
            resources(&t)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "### ❌ roster apply failed\n\n**Apply incomplete. Resources: {}; {} failed, {} not \
         attempted.** Run `roster apply` again once the cause is fixed: it converges.\n",
        resources(&t),
        t.failed,
        t.not_attempted
    );
    if let Some(why) = &report.stopped {
        let _ = writeln!(
            out,
            "> **roster stopped sending requests:** {}\n",
            cell(why)
        );
    }
    let failures: Vec<(&str, &apply::Failure)> = plan
        .changes
        .iter()
        .zip(&report.results)
        .flat_map(|(c, r)| r.failures.iter().map(move |f| (c.key.as_str(), f)))
        .collect();
    if !failures.is_empty() {
        out.push_str("| user | step | code | message |\n|---|---|---|---|\n");
        for (key, f) in failures.iter().take(MAX_SUMMARY_FAILURES) {
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` | {} |",
                cell(key),
                cell(&f.step),
                cell(&f.code),
                cell(&f.message)
            );
        }
        if failures.len() > MAX_SUMMARY_FAILURES {
            let _ = writeln!(
                out,
                "\n… and {} more failures: see the job log and the audit log.",
                failures.len() - MAX_SUMMARY_FAILURES
            );
        }
    }
    out
}

/// The machine-readable report.
fn render_json(plan: &Plan, report: &Report) -> String {
    let t = tally(plan, report);
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .zip(&report.results)
        .map(|(change, result): (_, &ChangeResult)| {
            json!({
                "action": change.action,
                "key": change.key,
                "target_id": result.target_id,
                "result": result.status,
                "assignment_ids": result.assignment_ids,
                "failures": result.failures,
                "note": result.note,
            })
        })
        .collect();
    let document = json!({
        "format_version": 1,
        "complete": complete(report),
        "summary": {
            "created": t.created,
            "updated": t.updated,
            "deactivated": t.deactivated,
            "frozen": t.frozen,
            "failed": t.failed,
            "not_attempted": t.not_attempted,
        },
        "stopped": report.stopped,
        "changes": changes,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
