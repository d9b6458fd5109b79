//! `roster apply`: carry out a saved plan after checking it is not stale, or plan, show, ask and
//! carry that out; then record every change in the audit log and report.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anstyle::Style;

use super::apply_report::{
    audit_lines, complete, github_env, render_json, render_markdown, render_text,
};
use super::plan::{Desired, color, compute, load};
use crate::apply::{self, Options, Report};
use crate::cli::{ApplyArgs, Cli, Format};
use crate::diagnostic::display_path;
use crate::endpoint::{Endpoints, Env};
use crate::error::{Error, Outcome};
use crate::plan::Plan;
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
        super::step_summary(|| render::render(&plan, render::Format::Markdown, false, false));
        if !args.auto_approve && !plan.changes.is_empty() {
            confirm()?;
        }
    }
    if plan.changes.is_empty() {
        // A fresh plan was shown, ending with the same line.
        if args.plan.is_some() && !cli.global.quiet {
            writeln!(anstream::stdout(), "{}", render::text::summary_line(&plan))?;
        }
        return Ok(Outcome::Success);
    }
    // Opened before anything is written, so an unwritable log stops the apply, not the record.
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // The log names people: readable by its owner only, when roster creates it.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut audit = options.open(&args.audit_log).map_err(|e| {
        Error::Input(format!(
            "cannot open the audit log {}: {e}",
            display_path(&args.audit_log)
        ))
    })?;
    let progress = Progress::new(!cli.global.quiet && cli.global.verbose == 0);
    let options = Options {
        bulk_threshold: args.bulk_threshold,
        ..Options::default()
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
    super::step_summary(|| render_markdown(&plan, &report));
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
