//! `roster apply`: carry out a saved plan after checking it is not stale, or plan, show, ask and
//! carry that out; then record every change in the audit log and report.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use anstyle::Style;

use super::apply_report::{
    audit_line, complete, github_env, plan_sha256, render_json, render_markdown, render_text,
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
    // A saved plan is never trusted: the plan made now, from the config and the live world,
    // is applied, and only when its changes are exactly the saved plan's.
    let (plan, reviewed) = match &args.plan {
        Some(path) => {
            let (saved, reviewed) = super::plan::open_hashed(path)?;
            check_config(&desired, &saved, path)?;
            let (fresh, target) =
                super::plan::compute_with_target(cli, &desired, &saved.targeted, None)?;
            if let Some(refused) = &fresh.refused {
                return Err(Error::Input(refused.clone()));
            }
            let reasons = apply::differences(&saved, &fresh, &target);
            if !reasons.is_empty() {
                return Err(stale(path, &reasons));
            }
            drop(saved);
            (fresh, Some(reviewed))
        }
        None => (compute(cli, &desired, &[], None)?, None),
    };
    if let Some(refused) = &plan.refused {
        return Err(Error::Input(refused.clone()));
    }
    check_safety(&plan, args.allow_deactivations)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let env: Env<'_> = &crate::endpoint::process_env;
    let salesforce = Arc::new(connect(&desired, env)?);
    if args.plan.is_none() {
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
    // Owner-only: it names people.
    let mut audit = crate::files::open_append_private(&args.audit_log, true).map_err(|e| {
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
    let plan_sha256 = plan_sha256(&plan, reviewed.as_deref());
    let github = github_env(env);
    let mut audit_failed: Option<std::io::Error> = None;
    // Each change's line is written, in one write, as soon as the change is settled.
    let mut record = |i: usize, result: &apply::ChangeResult| {
        let line = audit_line(&plan, &plan_sha256, &plan.changes[i], result, &github);
        if audit_failed.is_none()
            && let Err(e) = audit.write_all(line.as_bytes())
        {
            audit_failed = Some(e);
        }
    };
    let report = execute(
        &runtime,
        Arc::clone(&salesforce),
        &plan,
        options,
        progress.task("Salesforce"),
        &mut record,
    );
    if let Some(e) = audit_failed {
        return Err(Error::Input(format!(
            "the apply ran, but writing the audit log {} failed: {e}",
            display_path(&args.audit_log)
        )));
    }
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

/// Runs the apply. SIGINT (Ctrl-C), SIGTERM (what CI sends a cancelled job) and SIGHUP (the
/// terminal closed) stop it the same way: the requests in flight finish, nothing more is sent, and the report and the audit
/// log are still written.
fn execute(
    runtime: &tokio::runtime::Runtime,
    salesforce: Arc<Salesforce>,
    plan: &Plan,
    options: Options,
    task: crate::progress::Task,
    settled: &mut (dyn FnMut(usize, &apply::ChangeResult) + Send),
) -> Report {
    let stop = apply::Stop::default();
    runtime.block_on(async {
        // Registered before the first write, so no signal finds the default handler.
        let signals = Signals::register();
        let interrupt = {
            let stop = stop.clone();
            tokio::spawn(async move {
                if let Some(why) = signals.next().await {
                    stop.stop(format!(
                        "{why}: the requests in flight finished, nothing more was sent"
                    ));
                }
            })
        };
        let report = apply::apply(salesforce, plan, options, task, stop, settled).await;
        interrupt.abort();
        report
    })
}

/// The signals that stop an apply (and the demo).
pub(super) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    /// The terminal closed.
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(super) fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
                hangup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for the first signal and says which it was.
    #[cfg(unix)]
    pub(super) async fn next(mut self) -> Option<&'static str> {
        async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
            match signal {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            Some(()) = recv(self.interrupt.as_mut()) => Some("interrupted (Ctrl-C)"),
            Some(()) = recv(self.terminate.as_mut()) => Some("terminated (SIGTERM)"),
            Some(()) = recv(self.hangup.as_mut()) => Some("hung up (SIGHUP)"),
            else => None,
        }
    }

    #[cfg(not(unix))]
    pub(super) async fn next(self) -> Option<&'static str> {
        tokio::signal::ctrl_c()
            .await
            .ok()
            .map(|()| "interrupted (Ctrl-C)")
    }
}

fn connect(desired: &Desired, env: Env<'_>) -> Result<Salesforce, Error> {
    let endpoints = Endpoints::resolve(&desired.loaded.config, env).map_err(Error::Input)?;
    Ok(Salesforce::connect(
        &desired.loaded.config,
        &desired.base,
        &endpoints,
    )?)
}

/// A saved plan must come from the config as it is now: checked before anything is read.
fn check_config(desired: &Desired, saved: &Plan, path: &Path) -> Result<(), Error> {
    if saved.config_sha256 == desired.sha256 {
        return Ok(());
    }
    Err(stale(
        path,
        &[format!(
            "{} changed since the plan (SHA-256 {} then, {} now)",
            display_path(&desired.loaded.file.path),
            short(&saved.config_sha256),
            short(&desired.sha256)
        )],
    ))
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn stale(path: &Path, reasons: &[String]) -> Error {
    let shown = 10;
    let mut message = format!(
        "Saved plan is stale: {} is not what a plan made now would do, so roster applied nothing:",
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
/// covering the count (with `--target`, the deactivations waiting outside the targets count
/// too); a given N is also a ceiling.
fn check_safety(plan: &Plan, allowed: Option<u32>) -> Result<(), Error> {
    let count = plan.safety.counted();
    let what = if plan.safety.outside_target > 0 && plan.safety.deactivations > 0 {
        format!(
            "the plan deactivates {} users, and {} more wait outside --target: {count} in all",
            plan.safety.deactivations, plan.safety.outside_target
        )
    } else {
        format!("the plan deactivates {count} users")
    };
    let covered = allowed.is_some_and(|n| count <= n as usize);
    if plan.safety.exceeded && !covered {
        return Err(Error::Input(format!(
            "refusing to apply: {what}, more than safety.max_deactivations allows ({}). If that \
             is intended, review the plan and run again with --allow-deactivations {count}",
            plan.safety.max_deactivations
        )));
    }
    if let Some(n) = allowed
        && count > n as usize
    {
        return Err(Error::Input(format!(
            "refusing to apply: {what}, more than --allow-deactivations {n}"
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
