//! The desired-state file: its types, loading, JSON Schema and semantic validation.

mod desired;
mod load;
mod locate;
mod schema;
mod schema_errors;
pub(crate) mod secret;
mod types;
mod validate;

pub(crate) use desired::*;
pub(crate) use load::{
    LoadError, Loaded, in_config_words, in_config_words_unshown, load, load_bytes, placed,
    placed_with, yaml_message, yaml_options,
};
pub(crate) use schema::{config_schema_text, extends_schema_text};
pub(crate) use secret::{
    SecretError, SecretRef, rsa_signing_key, unreadable as unreadable_secrets,
};
