//! `roster apply`: carry out a saved plan while it is still true, or plan, show, ask and carry
//! that out; the audit log and the report come from the run context.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use anstyle::Style;

use super::context::{Context, Desired, check, check_names};
use crate::apply::{self, Options};
use crate::cli::{ApplyArgs, Format};
use crate::diagnostic::display_path;
use crate::error::{Error, Outcome};
use crate::plan::Plan;
use crate::render;

/// Why `plan` is held under `policy` (none without one), after the checks every apply makes:
/// a plan over `safety.max_deactivations` is refused (`--allow-deactivations` allowing), except
/// that one the policy holds anyway is held with the threshold's reason among the rest (exit
/// 3), not refused on it alone — the issue a scheduled run opens lists them all.
fn hold_reasons(
    plan: &Plan,
    standing: &crate::plan::policy::Standing,
    policy: Option<&crate::config::AutoApply>,
    allow_deactivations: Option<u32>,
) -> Result<Vec<String>, Error> {
    let mut reasons = policy
        .map(|policy| crate::plan::policy::held(plan, policy, standing))
        .unwrap_or_default();
    match check(plan, allow_deactivations, true) {
        Err(Error::ThresholdExceeded {
            what,
            allowance,
            allowed,
            ..
        }) if !reasons.is_empty() => reasons.insert(
            0,
            format!(
                "{what}, more than safety.max_deactivations allows ({allowance}{})",
                allowed
                    .map(|n| format!("; --allow-deactivations {n}"))
                    .unwrap_or_default()
            ),
        ),
        other => other?,
    }
    Ok(reasons)
}

/// Whether `plan` is held, for `reasons` (the reconcile policy's, and the safety threshold's
/// with them): if so it is shown (a saved plan was not yet) and every reason listed, for the
/// workflow's issue.
fn held(ctx: &Context, args: &ApplyArgs, plan: &Plan, reasons: &[String]) -> Result<bool, Error> {
    if reasons.is_empty() {
        return Ok(false);
    }
    if args.plan.is_some() && args.format != Format::Json {
        super::plan::print_plan(plan, args.format, ctx.color, false)?;
    }
    let held = "held by the reconcile policy (reconcile.auto_apply), nothing written";
    // With --format json, stdout is still one report: every change not attempted, and why.
    if args.format == Format::Json {
        let stopped = format!("{held}: {}", reasons.join("; "));
        print_report(
            ctx,
            args,
            plan,
            &apply::Report::not_attempted(plan, Some(stopped)),
        )?;
    }
    let mut message = format!("{held}:");
    for reason in reasons {
        message.push_str("\n  - ");
        message.push_str(reason);
    }
    message.push_str(match &args.plan {
        Some(_) => "\nReview the plan and apply it without --policy.",
        None => "\nReview the plan and apply it by hand (`roster apply PLAN`).",
    });
    super::warn(&message);
    Ok(true)
}

/// The apply report on stdout, in the format asked for.
fn print_report(
    ctx: &Context,
    args: &ApplyArgs,
    plan: &Plan,
    report: &apply::Report,
) -> Result<(), Error> {
    match args.format {
        Format::Json => crate::error::output(render::report::write_json(
            &mut std::io::stdout().lock(),
            plan,
            report,
        )),
        // After the plan's markdown (which ends in an HTML block), a blank line first: the
        // report's heading would otherwise be read as part of that block.
        Format::Markdown if args.plan.is_none() => {
            super::print(&format!("\n{}", render::report::markdown(plan, report)))
        }
        Format::Markdown => super::print(&render::report::markdown(plan, report)),
        Format::Text => super::print(&render::report::text(plan, report, ctx.color)),
    }
}

/// Refuses an `--audit-log` that would destroy what roster reads (the config, the saved plan
/// applied) or could not keep the lines: before anything is read or written.
fn audit_log_usable(desired: &Desired, args: &ApplyArgs) -> Result<(), Error> {
    desired.not_written_over(&args.audit_log, "--audit-log")?;
    // Before anything is read or written: an audit log that cannot keep the lines (a device,
    // a pipe no one reads) would be found out only after the writes.
    if crate::files::irregular(&args.audit_log) {
        return Err(Error::Usage(format!(
            "--audit-log {} is not a regular file (a directory, a device or a pipe): the audit \
             log must keep every line; name a file",
            crate::diagnostic::display_path(&args.audit_log)
        )));
    }
    if let Some(plan) = &args.plan {
        super::context::not_written_over_plan(&args.audit_log, plan)?;
    }
    Ok(())
}

/// The saved plan at `path`, checked against the config `desired` (`check_config`): the
/// `--target` keys it was limited to, and its SHA-256 (which the audit log records). Its counts
/// are never acted on, but an edit to them, which a reviewer may have been shown, is named.
fn open_saved(desired: &Desired, path: &Path) -> Result<(Vec<String>, String), Error> {
    let (mut saved, reviewed) = super::plan::open_hashed(path)?;
    check_config(desired, &saved, path)?;
    super::plan::recount_saved(
        &mut saved,
        path,
        "apply goes by the changes alone, as planned again now",
    );
    Ok((std::mem::take(&mut saved.targeted), reviewed))
}

/// The plan made now for a saved plan at `path`, limited to the `--target` keys it was
/// (`targeted`). A key that names no one now makes the saved plan stale: it is the saved
/// plan's `--target`, not one given to apply (helper-90).
fn planned_again(
    ctx: &Context,
    desired: &Desired,
    targeted: &[String],
    path: &Path,
) -> Result<super::context::Planned, Error> {
    match ctx.block_on(ctx.plan(desired, targeted))? {
        Err(Error::UnknownTarget { target, .. }) => Err(Error::StalePlan {
            path: path.to_owned(),
            reasons: vec![format!(
                "it was made for --target {}, which names no user roster reads now: renamed, \
                 unassigned or deleted in Entra since the plan, or the Salesforce Username it \
                 named changed",
                crate::render::visible(&target)
            )],
        }),
        planned => planned,
    }
}

/// What apply keeps of a plan made now: the plan, what the policy reads of the org
/// (`Standing`), and the ids of the Users read, in their 15-character form
/// (`Options::existing_users`); the rest of what was read goes.
fn kept(
    planned: super::context::Planned,
) -> (
    Plan,
    crate::plan::policy::Standing,
    std::sync::Arc<crate::hash::HashSet<String>>,
) {
    let standing = crate::plan::policy::Standing::read(&planned.plan, &planned.target);
    let existing = planned
        .target
        .users
        .iter()
        .map(|u| crate::salesforce::id15(&u.id).to_owned())
        .collect();
    (planned.plan, standing, std::sync::Arc::new(existing))
}

/// The lock that makes this the one apply writing to `audit_log`'s directory, held until it is
/// dropped (`files::lock_directory_of`).
fn one_apply_at_a_time(audit_log: &Path) -> Result<crate::files::ApplyLock, Error> {
    let dir = crate::files::directory_of(audit_log);
    match crate::files::lock_directory_of(audit_log) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(Error::ApplyRunning {
            path: audit_log.to_owned(),
        }),
        Err(source) => Err(Error::File {
            action: "lock the audit log's directory",
            path: dir.to_owned(),
            source,
        }),
    }
}

pub(crate) fn run(ctx: &Context, args: &ApplyArgs) -> Result<Outcome, Error> {
    let desired = ctx.load()?;
    audit_log_usable(&desired, args)?;
    // Held until the apply returns: the world is read, planned and written by one apply alone.
    let _lock = one_apply_at_a_time(&args.audit_log)?;
    let policy = if args.policy {
        let Some(reconcile) = &desired.loaded.config.reconcile else {
            return Err(Error::Usage(
                "--policy applies what roster.yaml's reconcile.auto_apply allows, and the file \
                 has none"
                    .to_owned(),
            ));
        };
        Some(reconcile.auto_apply.clone())
    } else {
        None
    };
    let interactive = std::io::stdin().is_terminal();
    if args.plan.is_none() && !args.auto_approve && policy.is_none() && !interactive {
        return Err(Error::NeedsApproval);
    }
    // A saved plan is never trusted: the plan made now, from the config and the live world,
    // is applied, and only when its changes are exactly the saved plan's.
    // What the policy reads of the org stays (its profiles, and the profile of each user given
    // sign-in back: who is made an administrator); the rest of what was read goes.
    let (plan, standing, existing_users, reviewed) = if let Some(path) = &args.plan {
        // Read whole and checked, then let go while the world is read and planned again;
        // the same bytes are compared change by change as they are parsed again
        // (`compare_saved`): two 100,000-user plans side by side were 426 MiB. What a change was compared with
        // (--baseline-config) is commentary, not the change (`stale::same`).
        let (targeted, reviewed) = open_saved(&desired, path)?;
        let planned = planned_again(ctx, &desired, &targeted, path)?;
        check_names(&desired, &planned.plan)?;
        if let Some(reason) = planned.plan.refused {
            return Err(Error::Refused { reason });
        }
        let comparison = apply::Comparison::new(&planned.plan, &planned.target);
        let reasons = super::plan::compare_saved(path, &reviewed, comparison)?;
        if !reasons.is_empty() {
            return Err(Error::StalePlan {
                path: path.clone(),
                reasons,
            });
        }
        let (plan, standing, existing) = kept(planned);
        (plan, standing, existing, Some(reviewed))
    } else {
        let (plan, standing, existing) = kept(ctx.block_on(ctx.plan(&desired, &[]))??);
        (plan, standing, existing, None)
    };
    if args.plan.is_none() {
        // With --format json, stdout is the report alone: one JSON document. The text plan is
        // streamed (100,000 creates are some 100 MB of it).
        let shown = (args.format != Format::Json).then_some(args.format);
        super::plan::show_plan(&plan, shown, ctx.color, false)?;
    }
    check_names(&desired, &plan)?;
    let reasons = hold_reasons(&plan, &standing, policy.as_ref(), args.allow_deactivations)?;
    if !plan.targeted.is_empty() && !plan.changes.is_empty() {
        super::warn(&format!(
            "this plan is limited to --target {}: the users outside it are left as they are, \
             out of step with the configuration",
            plan.targeted.join(", ")
        ));
    }
    let nothing = plan.changes.is_empty() && plan.app_roles.is_empty();
    if policy.is_some() {
        if held(ctx, args, &plan, &reasons)? {
            return Ok(Outcome::Held);
        }
    } else if args.plan.is_none() && !args.auto_approve && !nothing {
        confirm()?;
    }
    if nothing {
        if args.format == Format::Json {
            // One report, of nothing: a consumer reads a document, never an empty stdout.
            print_report(ctx, args, &plan, &apply::Report::not_attempted(&plan, None))?;
        } else if args.plan.is_some() && !ctx.quiet {
            // A fresh plan was shown, ending with the same line.
            super::print(&format!("{}\n", render::text::summary_line(&plan)))?;
        }
        return Ok(Outcome::Success);
    }
    let options = Options {
        existing_users,
        bulk_threshold: args.bulk_threshold,
        when_refused: match &policy {
            // The fallback for a refused deactivation is a freeze: a policy that does not allow
            // freezes gets none.
            Some(policy) if !policy.allow.contains(&crate::config::PolicyAction::Freeze) => {
                crate::config::WhenRefused::Fail
            }
            _ => desired.loaded.config.deprovision.when_refused,
        },
        ..Options::default()
    };
    let (report, logged) = ctx.block_on(ctx.carry_out(
        &desired,
        &plan,
        reviewed.as_deref(),
        options,
        &args.audit_log,
    ))??;
    print_report(ctx, args, &plan, &report)?;
    // What the whole apply cost, writes included (`-v`; the benchmarks read it).
    crate::usage::log_peak();
    super::step_summary(|| render::report::markdown(&plan, &report));
    // The report says what happened; an audit log that could not hold it fails the apply.
    logged?;
    Ok(if apply::complete(&report) {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// A saved plan must come from the config as it is now: checked before anything is read.
fn check_config(desired: &Desired, saved: &Plan, path: &Path) -> Result<(), Error> {
    if saved.config_sha256 == desired.sha256 {
        return Ok(());
    }
    // The plan records one digest of every file of the chain: which of them changed, it
    // cannot tell.
    let files = &desired.loaded.sources.files;
    let what = match files.len() {
        0 | 1 => display_path(&desired.loaded.file.path),
        _ => format!(
            "the config ({} or a file it extends: {})",
            display_path(&desired.loaded.file.path),
            files[1..]
                .iter()
                .map(|f| display_path(&f.path))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(Error::StalePlan {
        path: path.to_owned(),
        reasons: vec![format!(
            "{what} changed since the plan (SHA-256 {} then, {} now)",
            crate::digest::short(&saved.config_sha256),
            crate::digest::short(&desired.sha256)
        )],
    })
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
    )
    .and_then(|()| out.flush())
    .map_err(Error::Output)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::Stdin)?;
    writeln!(out).map_err(Error::Output)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}
