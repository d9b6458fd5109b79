//! `roster snapshot`: read Entra and Salesforce and write what roster saw, as the planner will
//! see it, to `entra.json` and `salesforce.json`.

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, SnapshotArgs};
use crate::diagnostic::{display_path, render_all};
use crate::error::{Error, Outcome};
use crate::progress::Progress;

pub(crate) fn run(cli: &Cli, args: &SnapshotArgs) -> Result<Outcome, Error> {
    let loaded = crate::config::load(&cli.global.config)?;
    if !loaded.warnings.is_empty() {
        anstream::stderr().write_all(render_all(&loaded.warnings, true).as_bytes())?;
    }
    let base = loaded
        .file
        .path
        .parent()
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    let progress = Progress::new(!cli.global.quiet && cli.global.verbose == 0);
    let runtime = tokio::runtime::Runtime::new()?;
    let (source, target) = runtime.block_on(crate::read::live(
        &loaded.config,
        &base,
        &crate::endpoint::process_env,
        &progress,
    ))?;
    for warning in source.warnings.iter().chain(&target.warnings) {
        super::warn(warning);
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::Input(format!("cannot create {}: {e}", display_path(&args.out))))?;
    let write = |name: &str, json: serde_json::Result<String>| -> Result<(), Error> {
        let path = args.out.join(name);
        let mut text = json.map_err(|e| Error::Input(format!("cannot encode {name}: {e}")))?;
        text.push('\n');
        crate::files::write_private(&path, text.as_bytes())
            .map_err(|e| Error::Input(format!("cannot write {}: {e}", display_path(&path))))
    };
    write("entra.json", serde_json::to_string_pretty(&source))?;
    write("salesforce.json", serde_json::to_string_pretty(&target))?;
    crate::usage::log_peak();
    if !cli.global.quiet {
        writeln!(
            anstream::stdout(),
            "Wrote {} ({} Entra users, {} assignments) and {} ({} Salesforce users).",
            display_path(&args.out.join("entra.json")),
            source.users.len(),
            source.assignments.len(),
            display_path(&args.out.join("salesforce.json")),
            target.users.len()
        )?;
    }
    Ok(Outcome::Success)
}
