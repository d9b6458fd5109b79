//! `roster plan`, `roster show` and `roster explain`: read the live world, compute the plan,
//! render it; render a saved plan again; tell how the planner sees one user.

use std::fmt::Write as _;
use std::path::Path;

use super::context::{Context, check, check_names};
use crate::cli::{ExplainArgs, ExplainFormat, Format, PlanArgs, ShowArgs};
use crate::diagnostic::display_path;
use crate::error::{Error, Outcome};
use crate::plan::{PLAN_FORMAT, Plan};
use crate::render;

impl From<Format> for render::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => render::Format::Text,
            Format::Markdown => render::Format::Markdown,
            Format::Json => render::Format::Json,
        }
    }
}

/// `roster plan`. A plan refused as a whole, or over the deactivation threshold, is still
/// rendered (and saved, and put in the job summary) — a reviewer must see why — and then
/// exits 1.
pub(crate) fn run(ctx: &Context, args: &PlanArgs) -> Result<Outcome, Error> {
    let desired = ctx.load()?;
    let baseline = match &args.baseline_config {
        Some(path) => Some(ctx.load_baseline(path)?),
        None => None,
    };
    let planned = match &args.snapshot {
        Some(dir) => super::context::plan_offline(&desired, &args.targets, dir, baseline.as_ref())?,
        None => ctx.block_on(ctx.plan_against(&desired, &args.targets, baseline.as_ref()))??,
    };
    let plan = planned.plan;
    drop(planned.target);
    if let Some(path) = &args.out {
        save(&plan, path)?;
    }
    show_plan(&plan, Some(args.format), ctx.color, args.mask)?;
    // What the whole plan cost, rendering and the job summary included (`-v`; the benchmarks
    // read it).
    crate::usage::log_peak();
    check_names(&desired, &plan)?;
    check(&plan, None, false)?;
    if let Some(path) = &args.out
        && args.format == Format::Text
        && !ctx.quiet
    {
        super::print(&format!(
            "\nSaved the plan to {}. To carry out exactly these changes, run:\n    roster apply {}\n",
            display_path(path),
            display_path(path)
        ))?;
    }
    // Users that need attention are never "nothing to do": exit 2 raises them too.
    let something = plan.summary.changes() + plan.summary.needing_attention() > 0;
    // The process ends next: freeing a large plan change by change (millions of small values
    // for 100,000 users, some 60 ms) would only delay the exit the OS makes in one step.
    std::mem::forget(plan);
    Ok(if args.detailed_exitcode && something {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

fn save(plan: &Plan, path: &Path) -> Result<(), Error> {
    crate::files::replace_private(path, |file| {
        render::write(file, plan, render::Format::Json, false, false)
    })
    .map_err(|source| Error::File {
        action: "write the plan to",
        path: path.to_owned(),
        source,
    })
}

/// Reads a saved plan, refusing other format versions.
pub(crate) fn open(path: &Path) -> Result<Plan, Error> {
    Ok(open_hashed(path)?.0)
}

/// `open`, also returning the SHA-256 of the file (which the audit log records).
pub(crate) fn open_hashed(path: &Path) -> Result<(Plan, String), Error> {
    /// Only the version, so another format is named before its fields are read.
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: Option<u64>,
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::File {
        action: "read the plan",
        path: path.to_owned(),
        source,
    })?;
    let not_a_plan = |reason: String| Error::NotAPlan {
        path: path.to_owned(),
        reason,
    };
    if !text.trim_start().starts_with('{') {
        return Err(not_a_plan(
            "a plan is a JSON object, as `roster plan --out` writes it".to_owned(),
        ));
    }
    let version = serde_json::from_str::<Version>(&text)
        .map_err(|e| not_a_plan(e.to_string()))?
        .format_version;
    if version != Some(u64::from(PLAN_FORMAT)) {
        return Err(not_a_plan(format!(
            "it has format_version {}, this roster reads {PLAN_FORMAT}",
            version.map_or_else(|| "none".to_owned(), |v| v.to_string())
        )));
    }
    let plan = serde_json::from_str(&text).map_err(|e| not_a_plan(e.to_string()))?;
    Ok((plan, crate::digest::sha256_hex(text.as_bytes())))
}

pub(crate) fn show(ctx: &Context, args: &ShowArgs) -> Result<Outcome, Error> {
    let plan = open(&args.plan)?;
    print_plan(&plan, args.format, ctx.color, args.mask)?;
    Ok(Outcome::Success)
}

/// Writes a plan to stdout. JSON never holds colour, so it skips anstream's scan for escape
/// codes, which matters for a 100 MB plan; text and markdown without colour skip it until
/// something needs stripping (`render::Plain`).
pub(super) fn print_plan(
    plan: &Plan,
    format: Format,
    color: bool,
    mask: bool,
) -> Result<(), Error> {
    let written = if format == Format::Json {
        render::write(
            &mut std::io::stdout().lock(),
            plan,
            format.into(),
            false,
            mask,
        )
    } else if color {
        render::write(&mut anstream::stdout(), plan, format.into(), color, mask)
    } else {
        let mut out = render::Plain::new(std::io::stdout().lock());
        render::write(&mut out, plan, format.into(), color, mask)
    };
    crate::error::output(written)
}

/// Prints the plan in `format` (nothing for `None`) and appends the pull-request comment to the
/// GitHub Actions job summary (`GITHUB_STEP_SUMMARY`, when set): with `--format markdown` the
/// comment printed is the one appended, made once (for 100,000 users, 0.5 s each).
pub(super) fn show_plan(
    plan: &Plan,
    format: Option<Format>,
    color: bool,
    mask: bool,
) -> Result<(), Error> {
    let markdown = || render::render(plan, render::Format::Markdown, false, mask);
    let comment = (format == Some(Format::Markdown)).then(markdown);
    match (&comment, format) {
        (Some(comment), _) => print_rendered(comment, color)?,
        (None, Some(format)) => print_plan(plan, format, color, mask)?,
        (None, None) => {}
    }
    super::step_summary(|| comment.unwrap_or_else(markdown));
    Ok(())
}

/// Writes rendered text (markdown) to stdout as `print_plan` does.
fn print_rendered(text: &str, color: bool) -> Result<(), Error> {
    use std::io::Write as _;
    let written = if color {
        anstream::stdout().write_all(text.as_bytes())
    } else {
        render::Plain::new(std::io::stdout().lock()).write_all(text.as_bytes())
    };
    crate::error::output(written)
}

pub(crate) fn explain(ctx: &Context, args: &ExplainArgs) -> Result<Outcome, Error> {
    let desired = ctx.load()?;
    let (source, target) = match &args.snapshot {
        Some(dir) => super::context::read_snapshots(dir)?,
        None => ctx.block_on(ctx.read(&desired))??,
    };
    let config = &desired.loaded.config;
    if let Some(explanation) = crate::plan::explain(
        config,
        &source,
        &target,
        &super::context::inputs(&desired, &[]),
        &args.user,
    ) {
        match args.format {
            ExplainFormat::Text => {
                super::print(&render::visible_lines(&render::explain::text(&explanation)))
            }
            ExplainFormat::Json => print_json(&explanation),
        }?;
        return Ok(Outcome::Success);
    }
    if let Some(outcome) = explain_salesforce_user(&desired, &source, &target, args)? {
        return Ok(outcome);
    }
    if args.snapshot.is_some() {
        return Err(Error::UnknownUser {
            user: args.user.clone(),
            read: source.users.len(),
        });
    }
    // Not read: ask Entra who this is, and why the application's assignments miss them.
    let graph = ctx.graph(&desired)?;
    let found = ctx
        .block_on(crate::graph::look_up(&graph, &args.user))?
        .map_err(Error::from)?
        .ok_or_else(|| Error::NoEntraUser {
            user: args.user.clone(),
        })?;
    let not_read = crate::plan::not_read(config, &source, &found);
    match args.format {
        ExplainFormat::Text => super::print(&render::visible_lines(&render::explain::not_read(
            &not_read,
        ))),
        ExplainFormat::Json => print_json(&not_read),
    }?;
    Ok(Outcome::Success)
}

/// `roster explain` of a Salesforce user (Username or id): the plan's change for it, e.g. an
/// orphan's deactivation. `None` when no Salesforce user has that name or id.
fn explain_salesforce_user(
    desired: &super::context::Desired,
    source: &crate::model::SourceSnapshot,
    target: &crate::model::TargetSnapshot,
    args: &ExplainArgs,
) -> Result<Option<Outcome>, Error> {
    // A Salesforce user (Username or id), e.g. an orphan no Entra user links: the plan's change
    // for it, from the Salesforce side.
    let id15 = crate::salesforce::id15;
    let Some(sf) = target.users.iter().find(|u| {
        u.username.eq_ignore_ascii_case(&args.user) || crate::salesforce::same_id(&u.id, &args.user)
    }) else {
        return Ok(None);
    };
    let plan = crate::plan::plan(
        &desired.loaded.config,
        source,
        target,
        &super::context::inputs(desired, &[]),
    );
    let change = plan.changes.iter().find(|c| {
        c.target_id
            .as_deref()
            .is_some_and(|t| id15(t) == id15(&sf.id))
    });
    match args.format {
            ExplainFormat::Json => print_json(&serde_json::json!({
                "salesforce_user": {"id": sf.id, "username": sf.username, "is_active": sf.is_active},
                "change": change,
                "plan_refused": plan.refused,
            })),
            ExplainFormat::Text => {
                let mut text = format!(
                    "Salesforce user {} ({}){}\n\n",
                    sf.username,
                    sf.id,
                    if sf.is_active { "" } else { ", inactive" }
                );
                match (&plan.refused, change) {
                    (Some(refused), _) => {
                        let _ = writeln!(text, "Plan refused, so no user is changed: {refused}");
                    }
                    (None, Some(change)) => {
                        text.push_str("Plan:\n");
                        render::text::change(&mut text, change, false);
                    }
                    (None, None) => text.push_str(
                        "Plan: no change for this user (linked and in step, protected, not owned, \
                         or in a dispute; `roster explain` with the linked Entra user says more).\n",
                    ),
                }
                super::print(&text)
            }
        }
        .map(|()| Some(Outcome::Success))
}

/// `value` as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    super::print(&text)
}
