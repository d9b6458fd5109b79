//! The top-level error and the exit-code contract, decided in one place: `0` success, `1` any
//! error, `2` success with changes under `--detailed-exitcode`. Each failure is its own variant
//! with the facts that describe it; messages are written once, here.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::LoadError;
use crate::diagnostic::{Diagnostic, display_path};

/// Everything that can make a command fail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Config(#[from] LoadError),
    /// Problems pointing into a file or an expression, rendered with snippets.
    #[error("{} error(s)", .0.len())]
    Diagnostics(Vec<Diagnostic>),
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// An endpoint URL that `url_rules` refuses.
    #[error("{0}")]
    Endpoint(String),
    /// Secrets the config names that cannot be read, all of them.
    #[error("{}", secrets_message(.0))]
    Secrets(Vec<crate::config::SecretError>),
    #[error("reading Microsoft Entra failed")]
    Graph(#[source] Box<crate::graph::GraphError>),
    #[error("reading Salesforce failed")]
    Salesforce(#[source] Box<crate::salesforce::SalesforceError>),
    /// A file roster reads or writes.
    #[error("cannot {action} {}", display_path(path))]
    File {
        /// `read`, `write`, `create`, `open the audit log`, ...
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Writing to stdout or stderr.
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
    #[error("cannot read the answer from the terminal")]
    Stdin(#[source] std::io::Error),
    /// A file given as a saved plan that is not one roster can read.
    #[error("{}{} is not a roster plan: {reason}", display_path(path), at.map(|(line, column)| format!(":{line}:{column}")).unwrap_or_default())]
    NotAPlan {
        path: PathBuf,
        /// The line and column (from 1) where the file stops being a plan, when one place does.
        at: Option<(usize, usize)>,
        reason: String,
    },
    /// A snapshot directory whose files `roster snapshot` did not write, or of another version.
    #[error("{}{} is not a snapshot this roster reads: {reason}", display_path(path), at.map(|(line, column)| format!(":{line}:{column}")).unwrap_or_default())]
    NotASnapshot {
        path: PathBuf,
        /// The line and column (from 1) where the file stops being a snapshot, when one place
        /// does.
        at: Option<(usize, usize)>,
        reason: String,
    },
    /// A snapshot taken for another config: of another tenant, application or scope, or not
    /// read for an attribute or field the config reads (planned from, each would be empty).
    #[error(
        "the snapshot in {} was taken for another config: {what}. Planned from it, the plan \
         would not be this config's; take it again with this config: roster -c {} snapshot \
         --out {}",
        display_path(dir),
        display_path(config),
        display_path(dir)
    )]
    SnapshotLacks {
        dir: PathBuf,
        config: PathBuf,
        what: String,
    },
    /// A `--target` that names no user the read gave, with the closest name roster read.
    #[error(
        "--target {} names no Entra user (userPrincipalName or object id) or Salesforce user \
         (Username or id) roster read; someone it did not read (unassigned, or deleted in \
         Entra) is named by the object id their account's anchor holds, or by that account's \
         Username{}",
        crate::render::visible(target),
        // A key read from Entra or Salesforce: shown, never acting on the terminal.
        hint.as_ref().map(|h| format!("; did you mean {}?", crate::render::visible(h))).unwrap_or_default()
    )]
    UnknownTarget {
        target: String,
        hint: Option<String>,
    },
    /// A saved plan that is not what a plan made now would do.
    #[error("{}", stale_message(path, reasons))]
    StalePlan { path: PathBuf, reasons: Vec<String> },
    /// The planner refused the plan as a whole (e.g. no Entra user in scope).
    #[error("plan refused: {reason}")]
    Refused { reason: String },
    /// More deactivations than the config allows, not covered by `--allow-deactivations`.
    #[error("{}", threshold_message(what, *deactivations, *outside_target, allowance, *allowed, *applying))]
    ThresholdExceeded {
        /// "3 deactivations and 1 freeze".
        what: String,
        deactivations: usize,
        /// With `--target`: those waiting outside the targets, which count too.
        outside_target: usize,
        /// How the config's maximum comes about: `10`, `25% of 12 active owned users = 3`.
        allowance: String,
        /// What `--allow-deactivations` allowed, if given.
        allowed: Option<u32>,
        /// `apply` (which takes `--allow-deactivations`), not `plan` (which only warns of it).
        applying: bool,
    },
    #[error(
        "roster apply without a saved plan asks for confirmation, and stdin is not a terminal: \
         pass --auto-approve (in CI), or apply a plan saved with `roster plan --out`"
    )]
    NeedsApproval,
    #[error("apply cancelled: nothing was changed")]
    Cancelled,
    /// Another `roster apply` holds the lock of the directory the audit log `path` is in
    /// (`files::lock_directory_of`).
    #[error(
        "another roster apply is running beside the audit log {} (it holds its directory's \
         lock): this one stopped before reading or writing anything; run it again once that \
         one has finished",
        display_path(path)
    )]
    ApplyRunning { path: PathBuf },
    /// The apply ran, but its audit log could not be written: the apply stopped there.
    /// `unrecorded` are the keys of the changes carried out (or tried) whose line is missing.
    #[error(
        "writing the audit log {} failed, so roster stopped sending; the report above gives \
         every change's outcome, the log those settled before the failure{}",
        display_path(path),
        missing_lines(unrecorded)
    )]
    AuditLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        unrecorded: Vec<String>,
    },
    #[error(
        "{user:?} is neither among the {read} Entra users of the snapshot (users assigned to \
         the application, directly or through an assigned group) nor a Salesforce user's \
         Username or id in it; without --snapshot, roster explain looks the user up in Entra{}{}",
        salesforce_user_hint(user),
        carried_hint(carried_by.as_ref())
    )]
    UnknownUser {
        user: String,
        read: usize,
        /// The Username of the Salesforce user that carries `user`, a userPrincipalName, and
        /// the field it carries it in (`plan::account_carrying`).
        carried_by: Option<(String, &'static str)>,
    },
    /// Live only: the org's users were read whole, and Entra was asked (helper-80: the message
    /// named Entra alone).
    #[error(
        "neither Entra nor the Salesforce org has a user {user:?}{}",
        carried_by.as_ref().map_or_else(|| no_entra_user_hint(user), |by| carried_hint(Some(by)))
    )]
    NoEntraUser {
        user: String,
        /// As `UnknownUser`'s.
        carried_by: Option<(String, &'static str)>,
    },
    /// A signal stopped a command that cannot stop part-way (the demo).
    #[error("the demo was {why}; its temporary files are removed")]
    Interrupted { why: &'static str },
    /// An Entra provisioning job (or schema file) that cannot be translated as it means.
    /// Its text quotes the job (names, expressions, ids from Graph): shown on one line, every
    /// character that acts escaped (`render::visible`), a line break from the job too.
    #[error("cannot import the provisioning job: {}", crate::render::visible(.0))]
    Import(String),
    /// The demo's own emulator or bundled world misbehaved.
    #[error("the demo failed: {0}")]
    Demo(String),
    /// A world file the emulator cannot serve.
    #[error("world file {}: {reason}", path.as_ref().map_or_else(|| "(synthetic)".to_owned(), |p| display_path(p)))]
    World {
        path: Option<PathBuf>,
        reason: String,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::graph::GraphError> for Error {
    fn from(e: crate::graph::GraphError) -> Self {
        Error::Graph(Box::new(e))
    }
}

impl From<crate::salesforce::SalesforceError> for Error {
    fn from(e: crate::salesforce::SalesforceError) -> Self {
        Error::Salesforce(Box::new(e))
    }
}

/// `e`'s message followed by each of its causes, `: ` between them.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        // A message that already ends with its cause's words (a config file's "there is no
        // such file; start from ...") says them once.
        let said = cause.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// The result of writing a command's output. A broken pipe (`roster plan | head`: the reader
/// went away) is not an error: the command goes on, and its exit code stays its own — a plan
/// with changes still exits 2, an apply is never cut short by its reader.
pub(crate) fn output(written: std::io::Result<()>) -> Result<(), Error> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Error::Output),
    }
}

/// What to do about a key Entra has no user for: an object id names someone deleted (or of
/// another tenant) whom no Salesforce user's anchor names either; anything else is to be given
/// as a userPrincipalName or object id, or a Salesforce Username or id (helper-78: the
/// Salesforce forms went unsaid).
/// For a userPrincipalName no Entra user roster can find has, that a Salesforce user carries
/// (a leaver deleted in Entra, whose account the plan deprovisions): how to explain that
/// account, as `plan --target` suggests it (helper-91: explain said no one had the name).
fn carried_hint(carried_by: Option<&(String, &'static str)>) -> String {
    carried_by
        .map(|(by, field)| {
            let by = crate::render::visible(by);
            let how = match *field {
                "Username" => "in its Username".to_owned(),
                field => format!("as its {field}"),
            };
            format!(
                "; the Salesforce user {by} carries it {how}, maybe a deleted or renamed Entra \
                 user's account: `roster explain {by}` shows what the plan does with it"
            )
        })
        .unwrap_or_default()
}

fn no_entra_user_hint(user: &str) -> String {
    if crate::graph::looks_like_guid(user.trim()) {
        " (deleted, or never this tenant's), and no Salesforce user's object-id anchor holds that \
         id: roster has nothing of theirs to explain"
            .to_owned()
    } else {
        // A Salesforce User id's shape: what to check about it, not what else to give.
        match salesforce_user_hint(user) {
            "" => "; give an Entra userPrincipalName or object id, or a Salesforce Username or \
                   User id"
                .to_owned(),
            id_hint => id_hint.to_owned(),
        }
    }
}

/// For a user that reads as a Salesforce User id (`005...`, 15 or 18 characters) but is no
/// Salesforce user's either: that a 15-character id is case-sensitive.
fn salesforce_user_hint(user: &str) -> &'static str {
    let id = user.trim();
    if id.starts_with("005") && crate::salesforce::canonical_id(id).is_some() {
        "; nor is it a Salesforce user's id (a 15-character id is case-sensitive; its \
         18-character form is not)"
    } else {
        ""
    }
}

fn secrets_message(errors: &[crate::config::SecretError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let mut message = format!("{} secrets cannot be read:", many.len());
            for e in many {
                message.push_str("\n  - ");
                message.push_str(&e.to_string());
            }
            message
        }
    }
}

fn stale_message(path: &std::path::Path, reasons: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut message = format!(
        "Saved plan is stale: {} is not what a plan made now would do, so roster applied nothing:",
        display_path(path)
    );
    for reason in reasons.iter().take(SHOWN) {
        message.push_str("\n  - ");
        message.push_str(reason);
    }
    if reasons.len() > SHOWN {
        let _ = write!(message, "\n  ... and {} more", reasons.len() - SHOWN);
    }
    message.push_str("\nMake a new plan with `roster plan --out PLAN`, review it, and apply that.");
    message
}

fn threshold_message(
    what: &str,
    deactivations: usize,
    outside_target: usize,
    allowance: &str,
    allowed: Option<u32>,
    applying: bool,
) -> String {
    let count = deactivations + outside_target;
    let what = if outside_target > 0 {
        format!(
            "the plan has {what}, and {outside_target} more wait outside --target: {count} in all"
        )
    } else {
        format!("the plan has {what}")
    };
    match allowed {
        Some(n) if count > n as usize => {
            format!("refusing to apply: {what}, more than --allow-deactivations {n}")
        }
        _ if !applying => format!(
            "{what}, more than safety.max_deactivations allows ({allowance}): `roster apply` \
             refuses it unless given --allow-deactivations {count} after review"
        ),
        _ => format!(
            "refusing to apply: {what}, more than safety.max_deactivations allows ({allowance}). \
             If that is intended, review the plan and run again with --allow-deactivations {count}"
        ),
    }
}

/// How a successful command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// A plan with changes, under `--detailed-exitcode`.
    Changes,
    /// The command ran and reported its own failures (an apply that did not complete).
    Failed,
    /// `apply --policy`: the plan is beyond `reconcile.auto_apply`; nothing was written.
    Held,
}

/// The process exit code for a command's result.
pub(crate) fn exit_code(result: &Result<Outcome, Error>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Changes) => ExitCode::from(2),
        Ok(Outcome::Held) => ExitCode::from(3),
        Ok(Outcome::Failed) | Err(_) => ExitCode::FAILURE,
    }
}

/// `; 3 change(s) carried out or tried have no line in it: a, b, c` for the audit-log error
/// (the first five keys, and how many more).
fn missing_lines(keys: &[String]) -> String {
    const SHOWN: usize = 5;
    if keys.is_empty() {
        return String::new();
    }
    let more = match keys.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!(
        "; {} change(s) carried out or tried have no line in it: {}{more}",
        keys.len(),
        keys.iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    )
}
