//! The Salesforce edge: facts about the User object (and, later, the REST and OAuth clients).

pub(crate) mod user_fields;
