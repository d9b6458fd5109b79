//! The desired-state file: its types, loading, JSON Schema and semantic validation.

mod load;
mod locate;
mod schema;
mod schema_errors;
mod secret;
mod types;
mod validate;

pub(crate) use load::{LoadError, Loaded, load};
pub(crate) use schema::config_schema_text;
#[allow(
    unused_imports,
    reason = "the planner and clients consume the model (issues 5-6)"
)]
pub(crate) use secret::{SecretError, SecretRef};
#[allow(
    unused_imports,
    reason = "the planner and clients consume the model (issues 5-6)"
)]
pub(crate) use types::*;
