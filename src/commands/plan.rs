//! `roster plan`, `roster show` and `roster explain`: read the live world, compute the plan,
//! render it; render a saved plan again; tell how the planner sees one user.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, ExplainArgs, Format, PlanArgs, ShowArgs};
use crate::config::Loaded;
use crate::diagnostic::{display_path, render_all};
use crate::error::{Error, Outcome};
use crate::plan::{self, Inputs, PLAN_FORMAT, Plan};
use crate::progress::Progress;
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

/// The config, read and checked, with its hash and directory.
pub(super) struct Desired {
    pub(super) loaded: Loaded,
    pub(super) sha256: String,
    pub(super) base: PathBuf,
}

pub(super) fn load(cli: &Cli) -> Result<Desired, Error> {
    load_path(&cli.global.config, cli.global.quiet)
}

/// Loads and checks the config at `path`, printing its warnings unless `quiet`.
pub(super) fn load_path(path: &Path, quiet: bool) -> Result<Desired, Error> {
    let loaded = crate::config::load(path)?;
    if !loaded.warnings.is_empty() && !quiet {
        anstream::stderr().write_all(render_all(&loaded.warnings, true).as_bytes())?;
    }
    let sha256 = crate::digest::sha256_hex(loaded.file.text.as_bytes());
    let base = loaded
        .file
        .path
        .parent()
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    Ok(Desired {
        loaded,
        sha256,
        base,
    })
}

/// Reads the world (live, or from a snapshot directory) and plans.
pub(super) fn compute(
    cli: &Cli,
    desired: &Desired,
    targets: &[String],
    snapshot: Option<&Path>,
) -> Result<Plan, Error> {
    Ok(compute_with_target(cli, desired, targets, snapshot)?.0)
}

/// `compute`, also returning the Salesforce state the plan was made from.
pub(super) fn compute_with_target(
    cli: &Cli,
    desired: &Desired,
    targets: &[String],
    snapshot: Option<&Path>,
) -> Result<(Plan, crate::model::TargetSnapshot), Error> {
    let (source, target) = match snapshot {
        Some(dir) => (
            read_json(&dir.join("entra.json"))?,
            read_json(&dir.join("salesforce.json"))?,
        ),
        None => read(cli, desired)?,
    };
    let started = crate::usage::cpu_time();
    let plan = plan::plan(
        &desired.loaded.config,
        &source,
        &target,
        &inputs(desired, targets),
    );
    if let (Some(before), Some(after)) = (started, crate::usage::cpu_time()) {
        let cpu = after - before;
        tracing::info!(
            target: "roster::plan",
            "planned {} source and {} Salesforce users in {} ms of CPU ({} ms user, {} ms system)",
            source.users.len(),
            target.users.len(),
            cpu.user_ms + cpu.system_ms,
            cpu.user_ms,
            cpu.system_ms
        );
    }
    crate::usage::log_peak();
    Ok((plan, target))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    /// Only the version, so a snapshot of another format is named before its fields are read.
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: Option<u64>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", display_path(path))))?;
    let version = serde_json::from_str::<Version>(&text)
        .ok()
        .and_then(|v| v.format_version);
    if version != Some(u64::from(crate::model::SNAPSHOT_FORMAT)) {
        return Err(Error::Input(format!(
            "{} is a snapshot of format_version {}; this roster reads format_version {}: take \
             a new one with `roster snapshot`",
            display_path(path),
            version.map_or_else(|| "none".to_owned(), |v| v.to_string()),
            crate::model::SNAPSHOT_FORMAT
        )));
    }
    serde_json::from_str(&text).map_err(|e| {
        Error::Input(format!(
            "{} is not a snapshot written by `roster snapshot`: {e}",
            display_path(path)
        ))
    })
}

pub(super) fn inputs<'a>(desired: &Desired, targets: &'a [String]) -> Inputs<'a> {
    // The seed comes from the config, so two plans of the same world are the same plan.
    let seed = u64::from_str_radix(&desired.sha256[..16], 16).unwrap_or(0);
    Inputs {
        config_sha256: desired.sha256.clone(),
        now: crate::clock::now(),
        seed,
        targets,
    }
}

fn read(
    cli: &Cli,
    desired: &Desired,
) -> Result<(crate::model::SourceSnapshot, crate::model::TargetSnapshot), Error> {
    let progress = Progress::new(!cli.global.quiet && cli.global.verbose == 0);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(crate::read::live(
        &desired.loaded.config,
        &desired.base,
        &crate::endpoint::process_env,
        &progress,
    ))
}

pub(super) fn color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

pub(crate) fn run(cli: &Cli, args: &PlanArgs) -> Result<Outcome, Error> {
    let desired = load(cli)?;
    let plan = compute(cli, &desired, &args.targets, args.snapshot.as_deref())?;
    if let Some(refused) = &plan.refused {
        return Err(Error::Input(refused.clone()));
    }
    if let Some(path) = &args.out {
        save(&plan, path)?;
    }
    let out = render::render(&plan, args.format.into(), color(), args.mask);
    print_plan(&out, args.format)?;
    super::step_summary(|| render::render(&plan, render::Format::Markdown, false, args.mask));
    if let Some(path) = &args.out
        && args.format == Format::Text
        && !cli.global.quiet
    {
        writeln!(
            anstream::stdout(),
            "\nSaved the plan to {}. To carry out exactly these changes, run:\n    roster apply {}",
            display_path(path),
            display_path(path)
        )?;
    }
    Ok(if args.detailed_exitcode && plan.summary.changes() > 0 {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

fn save(plan: &Plan, path: &Path) -> Result<(), Error> {
    let json = render::render(plan, render::Format::Json, false, false);
    crate::files::write_private(path, json.as_bytes()).map_err(|e| {
        Error::Input(format!(
            "cannot write the plan to {}: {e}",
            display_path(path)
        ))
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("cannot read the plan {}: {e}", display_path(path))))?;
    let not_a_plan = |e: serde_json::Error| {
        Error::Input(format!("{} is not a roster plan: {e}", display_path(path)))
    };
    if !text.trim_start().starts_with('{') {
        return Err(Error::Input(format!(
            "{} is not a roster plan: a plan is a JSON object, as `roster plan --out` writes it",
            display_path(path)
        )));
    }
    let version = serde_json::from_str::<Version>(&text)
        .map_err(not_a_plan)?
        .format_version;
    if version != Some(u64::from(PLAN_FORMAT)) {
        return Err(Error::Input(format!(
            "{} is not a roster plan of format_version {PLAN_FORMAT} (found {})",
            display_path(path),
            version.map_or_else(|| "none".to_owned(), |v| v.to_string())
        )));
    }
    let plan = serde_json::from_str(&text).map_err(not_a_plan)?;
    Ok((plan, crate::digest::sha256_hex(text.as_bytes())))
}

pub(crate) fn show(args: &ShowArgs) -> Result<Outcome, Error> {
    let plan = open(&args.plan)?;
    let out = render::render(&plan, args.format.into(), color(), false);
    print_plan(&out, args.format)?;
    Ok(Outcome::Success)
}

/// Prints a rendered plan. JSON never holds colour, so it skips the scan for escape codes
/// that matters for a 100 MB plan.
fn print_plan(out: &str, format: Format) -> Result<(), Error> {
    if format == Format::Json {
        std::io::stdout().lock().write_all(out.as_bytes())?;
    } else {
        anstream::stdout().write_all(out.as_bytes())?;
    }
    Ok(())
}

pub(crate) fn explain(cli: &Cli, args: &ExplainArgs) -> Result<Outcome, Error> {
    let desired = load(cli)?;
    let (source, target) = read(cli, &desired)?;
    let (lines, plan) = plan::explain(
        &desired.loaded.config,
        &source,
        &target,
        &inputs(&desired, &[]),
        &args.user,
    )
    .ok_or_else(|| {
        Error::Input(format!(
            "{} is not among the {} Entra users roster read (users assigned to the application, \
             directly or through an assigned group); give a userPrincipalName or object id",
            args.user,
            source.users.len()
        ))
    })?;
    let mut out = lines.join("\n");
    out.push('\n');
    let key = lines
        .first()
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default();
    out.push('\n');
    match plan
        .changes
        .iter()
        .find(|c| c.key.eq_ignore_ascii_case(key))
    {
        Some(change) => {
            out.push_str("Plan:\n");
            render::text::change(&mut out, change, false);
        }
        None => match plan.errors.iter().find(|p| p.key.eq_ignore_ascii_case(key)) {
            Some(problem) => {
                let _ = writeln!(out, "Plan: not acted on: {}", problem.reason);
            }
            None => out.push_str("Plan: no change for this user.\n"),
        },
    }
    anstream::stdout().write_all(out.as_bytes())?;
    Ok(Outcome::Success)
}
