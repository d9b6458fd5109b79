//! The Salesforce edge: the REST and OAuth client, SOQL text, and the reader that takes the
//! target snapshot.

pub(crate) mod access;
pub(crate) mod bulk;
mod client;
mod read;
pub(crate) mod soql;
pub(crate) mod write;

pub(crate) use client::{Salesforce, SalesforceError};
pub(crate) use read::{read, user_fields};

/// The case-sensitive 15-character form of a record id, whichever form the API gave (the
/// 18-character form adds a case checksum); anything shorter as it is.
pub(crate) fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Whether `a` and `b` name the same record: Salesforce ids (15 or 18 letters and digits)
/// compare by their 15-character form, anything else (an Entra object id) whole, without case.
pub(crate) fn same_id(a: &str, b: &str) -> bool {
    let salesforce =
        |id: &str| matches!(id.len(), 15 | 18) && id.bytes().all(|c| c.is_ascii_alphanumeric());
    if salesforce(a) && salesforce(b) {
        id15(a) == id15(b)
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

/// The key prefix of UserLicense ids: a permission set whose `LicenseId` starts with it is for
/// that user licence only (Object Reference, PermissionSet `LicenseId`; key prefixes in
/// `../shared/reference/salesforce-access.md`).
pub(crate) const USER_LICENSE_PREFIX: &str = "100";
