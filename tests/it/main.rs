//! roster's integration tests: the binary, run as a user runs it.
#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod app_roles;
mod apply;
mod cases;
mod check;
mod cli;
mod diff;
mod emulate;
mod entra;
mod expr;
mod extends;
mod grants;
mod log;
mod plan;
mod promises;
mod readme;
mod reconcile;
mod safety;
mod snapshot;
mod support;
mod validate;
mod workflows;
