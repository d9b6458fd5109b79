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

mod cli;
mod commands;
mod config;
mod diagnostic;
mod emulator;
mod endpoint;
mod error;
mod expr;
mod salesforce;
mod suggest;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Parses `args`, runs the command, prints any error once, and returns the exit code.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if cli.global.no_color {
        anstream::ColorChoice::Never.write_global();
    }
    let result = commands::dispatch(&cli);
    if let Err(err) = &result {
        commands::report_error(err);
    }
    error::exit_code(&result)
}
