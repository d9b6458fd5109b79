//! The Salesforce edge: facts about the User object, the REST and OAuth client, and the reader
//! that takes the target snapshot.

mod client;
mod read;
pub(crate) mod user_fields;

pub(crate) use client::{Salesforce, SalesforceError};
pub(crate) use read::read;
