//! `roster snapshot`: read Entra and Salesforce and write what roster saw, as the planner will
//! see it, to `entra.json` and `salesforce.json` (owner-only: they name people).

use super::context::Context;
use crate::cli::SnapshotArgs;
use crate::diagnostic::display_path;
use crate::error::{Error, Outcome};

pub(crate) fn run(ctx: &Context, args: &SnapshotArgs) -> Result<Outcome, Error> {
    let desired = ctx.load()?;
    // Said before the read, not after a tenant's worth of requests.
    if std::fs::metadata(&args.out).is_ok_and(|m| !m.is_dir()) {
        return Err(Error::Usage(format!(
            "--out {} is a file, not a directory: name a directory for entra.json and \
             salesforce.json",
            display_path(&args.out)
        )));
    }
    let (source, target) = ctx.block_on(ctx.read(&desired))??;
    // Warnings are not errors: --quiet prints neither them nor the summary (they stay in the
    // snapshot's files, and every plan made from it prints them).
    if !ctx.quiet {
        for warning in source.warnings.iter().chain(&target.warnings) {
            super::warn(warning);
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|source| Error::File {
        action: "create",
        path: args.out.clone(),
        source,
    })?;
    let write = |name: &str, json: serde_json::Result<String>| -> Result<(), Error> {
        let path = args.out.join(name);
        let failed = |source: std::io::Error| Error::File {
            action: "write",
            path: path.clone(),
            source,
        };
        let mut text = json.map_err(|e| failed(std::io::Error::other(e)))?;
        text.push('\n');
        crate::files::write_private(&path, text.as_bytes()).map_err(failed)
    };
    write("entra.json", serde_json::to_string_pretty(&source))?;
    write("salesforce.json", serde_json::to_string_pretty(&target))?;
    crate::usage::log_peak();
    if !ctx.quiet {
        super::print(&format!(
            "Wrote {} ({} Entra users, {} assignments) and {} ({} Salesforce users).\n",
            display_path(&args.out.join("entra.json")),
            source.users.len(),
            source.assignments.len(),
            display_path(&args.out.join("salesforce.json")),
            target.users.len()
        ))?;
    }
    Ok(Outcome::Success)
}
