//! roster: Microsoft Entra ID → Salesforce user provisioning, the GitOps way.
//!
//! The pipeline:
//!   1. `config` loads `roster.yaml`: YAML → JSON Schema → typed desired state → semantic checks.
//!   2. `expr` evaluates Entra attribute-mapping expressions over source users.
//!   3. The Graph and Salesforce edges read the live world into plain snapshots.
//!   4. The planner, a pure function, turns (config, snapshots) into a plan.
//!   5. Renderers print the plan; apply carries it out and writes the audit log.
//!
//! The library has no stable interface: `run` is what the binary calls.

mod apply;
mod cli;
mod clock;
mod commands;
mod concurrent;
mod config;
mod csv;
mod diagnostic;
mod digest;
mod emulator;
mod endpoint;
mod entra_sync;
mod error;
mod expr;
mod field_value;
mod files;
mod grants;
mod graph;
mod hash;
mod http;
mod json;
mod model;
mod plan;
mod progress;
mod read;
mod render;
mod salesforce;
mod sorted_map;
mod suggest;
mod url_rules;
mod usage;
mod user_attributes;
mod user_fields;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Parses `args`, runs the command, prints any error once, and returns the exit code.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Help and version go to stdout: lost there (stdout open for reading only, a full
        // disk), they fail as any command's output does; a reader that went away is no failure.
        Err(err) if !err.use_stderr() => {
            let printed = commands::stdout_writable().and_then(|()| error::output(err.print()));
            if let Err(failed) = &printed {
                commands::report_error(failed);
            }
            return error::exit_code(&printed.map(|()| error::Outcome::Success));
        }
        Err(err) => {
            let _ = err.print();
            return ExitCode::FAILURE;
        }
    };
    if cli.global.no_color {
        anstream::ColorChoice::Never.write_global();
    }
    init_tracing(cli.global.verbose, cli.global.quiet);
    let result = commands::dispatch(&cli);
    if let Err(err) = &result {
        commands::report_error(err);
    }
    error::exit_code(&result)
}

/// Logs to stderr: warnings by default (retries), `-v` each HTTP request, `-vv` debug detail,
/// `-vvv` everything. `RUST_LOG` replaces the level when set. Secrets never reach a log line:
/// they live in `SecretString`s, and requests are logged by method and path only.
fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "roster=error",
        (false, 0) => "roster=warn",
        (false, 1) => "roster=info",
        (false, 2) => "roster=debug",
        (false, _) => "roster=trace",
    };
    // The HTTP stack's own logs can show headers, and so tokens: they stay off, whatever
    // RUST_LOG asks for.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty() && verbose == 0)
        .unwrap_or_else(|| level.to_owned())
        + ",hyper=off,hyper_util=off,reqwest=off,h2=off,rustls=off";
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let color = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .try_init();
}
