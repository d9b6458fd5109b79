//! The top-level error and the exit-code contract, decided in one place:
//! `0` success, `1` any error, `2` success with changes under `--detailed-exitcode`.

use std::process::ExitCode;

use crate::config::LoadError;
use crate::diagnostic::Diagnostic;

/// Everything that can make a command fail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Config(#[from] LoadError),
    /// Problems pointing into a file or an expression, rendered with snippets.
    #[error("{} error(s)", .0.len())]
    Diagnostics(Vec<Diagnostic>),
    /// Bad command-line input that is not a file.
    #[error("{0}")]
    Input(String),
    #[error("reading Microsoft Entra failed")]
    Graph(#[source] Box<crate::graph::GraphError>),
    #[error("reading Salesforce failed")]
    Salesforce(#[source] Box<crate::salesforce::SalesforceError>),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
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

/// How a successful command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// A plan with changes, under `--detailed-exitcode`.
    Changes,
    /// The command ran and reported its own failures (an apply that did not complete).
    Failed,
}

/// The process exit code for a command's result.
pub(crate) fn exit_code(result: &Result<Outcome, Error>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Changes) => ExitCode::from(2),
        Ok(Outcome::Failed) | Err(_) => ExitCode::FAILURE,
    }
}
