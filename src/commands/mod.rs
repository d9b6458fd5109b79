//! One function per command: turns parsed arguments into work and output, on one run context
//! (`context.rs`) built from the command line. Output goes through `anstream`, which drops
//! colours when the stream is not a terminal or NO_COLOR is set.

use std::error::Error as _;
use std::fmt::Write as _;
use std::io::Write;

use anstyle::{AnsiColor, Style};
use clap::CommandFactory;

use crate::cli::{Cli, Command, ValidateArgs, ValidateFormat};
use crate::config::{self, LoadError};
use crate::diagnostic::{Severity, display_path, github_annotation, render_all};
use crate::error::{Error, Outcome};

mod apply;
mod check;
mod context;
mod demo;
mod diff;
mod emulate;
mod entra;
mod expr;
mod log;
mod plan;
mod signals;
mod snapshot;

use context::Context;

/// Runs the parsed command.
pub(crate) fn dispatch(cli: &Cli) -> Result<Outcome, Error> {
    stdout_writable()?;
    let ctx = Context::new(cli);
    match &cli.command {
        Command::Validate(args) => validate(cli, args),
        Command::Schema(args) => {
            let text = if args.plan {
                crate::plan::plan_schema_text()
            } else if args.audit_line {
                crate::apply::audit_line_schema_text()
            } else if args.apply_report {
                crate::apply::apply_report_schema_text()
            } else if args.extends {
                config::extends_schema_text()
            } else {
                config::config_schema_text()
            };
            print(&text)?;
            Ok(Outcome::Success)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "roster",
                &mut std::io::stdout(),
            );
            Ok(Outcome::Success)
        }
        Command::Check(args) => check::run(&ctx, args),
        Command::Plan(args) => plan::run(&ctx, args),
        Command::Apply(args) => apply::run(&ctx, args),
        Command::Show(args) => plan::show(&ctx, args),
        Command::Explain(args) => plan::explain(&ctx, args),
        Command::Expr(args) => expr::run(args),
        Command::Snapshot(args) => snapshot::run(&ctx, args),
        Command::Log(args) => log::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Emulate(args) => emulate::run(&ctx, args),
        Command::Demo(args) => demo::run(ctx, args),
        Command::Import {
            from: crate::cli::ImportFrom::Entra(args),
        } => entra::import(&ctx, args),
        Command::Export {
            to: crate::cli::ExportTo::Entra(args),
        } => entra::export(&ctx, args),
    }
}

/// Refuses to start when stdout is open for reading only (`roster plan 1<file`): each write
/// to it fails with `EBADF`, which Rust's standard library takes for success on stdout — the
/// plan or the apply report would go nowhere and roster would exit 0. Sources: write(2)
/// (`EBADF`: "fd is not a valid file descriptor or is not open for writing"), fcntl(2)
/// (`F_GETFL`), and `std::io::stdout`'s documentation. A closed stdout (`>&-`) cannot be told
/// from `>/dev/null`: the standard library opens `/dev/null` in its place before `main`.
pub(crate) fn stdout_writable() -> Result<(), Error> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::OFlags;
        if rustix::fs::fcntl_getfl(std::io::stdout())
            .is_ok_and(|flags| flags & OFlags::RWMODE == OFlags::RDONLY)
        {
            return Err(Error::Output(std::io::Error::other(
                "stdout is open for reading only (as `1<file` opens it): what roster writes \
                 there would be lost; send it to a file (`>file`) or a pipe",
            )));
        }
    }
    Ok(())
}

/// Writes `text` to stdout.
pub(crate) fn print(text: &str) -> Result<(), Error> {
    crate::error::output(anstream::stdout().write_all(text.as_bytes()))
}

fn validate(cli: &Cli, args: &ValidateArgs) -> Result<Outcome, Error> {
    let github = match args.format {
        Some(format) => format == ValidateFormat::Github,
        None => std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
    };
    let loaded = match config::load(&cli.global.config) {
        Ok(loaded) => loaded,
        Err(err) => {
            if github {
                let mut out = anstream::stdout();
                if let LoadError::Invalid(diagnostics) = &err {
                    for d in diagnostics {
                        crate::error::output(writeln!(out, "{}", d.annotation()))?;
                    }
                } else {
                    crate::error::output(writeln!(
                        out,
                        "{}",
                        github_annotation(
                            Severity::Error,
                            &cli.global.config,
                            None,
                            "roster validate",
                            &err.to_string()
                        )
                    ))?;
                }
            }
            return Err(err.into());
        }
    };
    if !loaded.warnings.is_empty() {
        let mut err = anstream::stderr();
        err.write_all(render_all(&loaded.warnings, true).as_bytes())
            .map_err(Error::Output)?;
        if github {
            let mut out = anstream::stdout();
            for d in &loaded.warnings {
                crate::error::output(writeln!(out, "{}", d.annotation()))?;
            }
        }
    }
    if !cli.global.quiet {
        let warnings = match loaded.warnings.len() {
            0 => String::new(),
            1 => ", with 1 warning".to_owned(),
            n => format!(", with {n} warnings"),
        };
        let green = Style::new().fg_color(Some(AnsiColor::Green.into())).bold();
        crate::error::output(writeln!(
            anstream::stdout(),
            "{green}Success!{green:#} {} is valid{warnings}.",
            display_path(&loaded.file.path)
        ))?;
    }
    if args.explain_merge {
        // A key is the file's own text: what acts on a terminal (an escape sequence, a
        // bidirectional override) is shown escaped, not obeyed or dropped.
        let settings: Vec<(String, String)> = loaded
            .sources
            .explain()
            .into_iter()
            .map(|(pointer, place)| {
                (
                    crate::render::visible(&pointer).into_owned(),
                    crate::render::visible(&place).into_owned(),
                )
            })
            .collect();
        let width = settings
            .iter()
            .map(|(p, _)| p.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (pointer, place) in settings {
            let _ = writeln!(out, "{pointer:<width$}  {place}");
        }
        print(&out)?;
    }
    Ok(Outcome::Success)
}

/// Appends markdown to the GitHub Actions job summary (`$GITHUB_STEP_SUMMARY`) when there is
/// one; `markdown` renders only then. A summary that cannot be written is a warning: the
/// command's own output stands.
pub(crate) fn step_summary(markdown: impl FnOnce() -> String) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let markdown = markdown();
    // Owner-only when roster creates it: the plan names people.
    let written = crate::files::open_append_private(std::path::Path::new(&path), false).and_then(
        |mut file| {
            file.write_all(markdown.as_bytes())?;
            file.write_all(b"\n")
        },
    );
    if let Err(e) = written {
        warn(&format!(
            "cannot append to the job summary {}: {e}",
            std::path::Path::new(&path).display()
        ));
    }
}

/// Prints a warning about the live world to stderr.
pub(crate) fn warn(message: &str) {
    let yellow = Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold();
    let _ = writeln!(anstream::stderr(), "{yellow}warning:{yellow:#} {message}");
}

/// Prints an error once, with its causes.
pub(crate) fn report_error(err: &Error) {
    let mut stderr = anstream::stderr();
    if let Error::Config(LoadError::Invalid(diagnostics)) | Error::Diagnostics(diagnostics) = err {
        let _ = stderr.write_all(render_all(diagnostics, true).as_bytes());
        let _ = writeln!(stderr);
        return;
    }
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    // An API's message can quote what Entra or Salesforce holds: shown, never acting.
    let visible = |text: String| crate::render::visible_lines(&text).into_owned();
    let _ = write!(stderr, "{red}error:{red:#} {}", visible(err.to_string()));
    let mut source = err.source();
    // `transparent` errors already printed their own message.
    if matches!(err, Error::Config(_)) {
        source = source.and_then(std::error::Error::source);
    }
    while let Some(cause) = source {
        let _ = write!(stderr, ": {}", visible(cause.to_string()));
        source = cause.source();
    }
    let _ = writeln!(stderr);
}
