//! SOQL text, in one place: string literals quoted one way, and `WHERE field IN (...)` queries
//! over any number of values, chunked under Salesforce's URL length limit and run a few at a
//! time. Field names never come from here: the config's are checked as API names by `validate`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value;

use super::{Salesforce, SalesforceError};

/// Record ids in one `IN (...)` list (18 characters each, well under the 16,384-character URL
/// limit of a REST query).
pub(crate) const IDS_PER_QUERY: usize = 300;
/// Usernames in one `IN (...)` list (up to 80 characters each).
pub(crate) const NAMES_PER_QUERY: usize = 200;
/// Queries in flight at once.
pub(crate) const CONCURRENCY: usize = 4;

/// A SOQL string literal: `'...'` with the escape sequences of the SOQL and SOSL Reference
/// ("Quoted String Escape Sequences"): `\\`, `\'`, `\"`, `\n`, `\r`, `\t`, `\b`, `\f`.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// Every row of `{select} WHERE {field} IN (...)` over `values`, `per_query` values a query,
/// the queries run side by side; rows in the order of the chunks.
pub(crate) async fn query_in(
    salesforce: &Arc<Salesforce>,
    select: &str,
    field: &str,
    values: &[String],
    per_query: usize,
) -> Result<Vec<Value>, SalesforceError> {
    let queries: Vec<_> = values
        .chunks(per_query.max(1))
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(|v| quote(v)).collect();
            let soql = format!("{select} WHERE {field} IN ({})", list.join(", "));
            let salesforce = Arc::clone(salesforce);
            async move { Ok::<_, Infallible>(salesforce.query(&soql, None).await) }
        })
        .collect();
    let Ok(pages) = crate::concurrent::all(CONCURRENCY, queries).await;
    let mut rows = Vec::new();
    for page in pages {
        rows.extend(page?);
    }
    Ok(rows)
}

/// A text field of a query row (`""` when absent or not text).
pub(crate) fn text<'a>(row: &'a Value, field: &str) -> &'a str {
    row.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Ids of the users with these Usernames, by lower-case Username (Salesforce compares
/// Usernames without case).
pub(crate) async fn ids_by_username(
    salesforce: &Arc<Salesforce>,
    usernames: &[String],
) -> Result<HashMap<String, String>, SalesforceError> {
    let rows = query_in(
        salesforce,
        "SELECT Id, Username FROM User",
        "Username",
        usernames,
        NAMES_PER_QUERY,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| (text(r, "Username").to_lowercase(), text(r, "Id").to_owned()))
        .collect())
}

/// The users with these ids, each a row of `fields` (API names the config's checks let
/// through), by 15-character id.
pub(crate) async fn users_by_id(
    salesforce: &Arc<Salesforce>,
    ids: &[String],
    fields: &[&str],
) -> Result<HashMap<String, Value>, SalesforceError> {
    let mut select = vec!["Id"];
    select.extend(fields.iter().filter(|f| !f.eq_ignore_ascii_case("Id")));
    let rows = query_in(
        salesforce,
        &format!("SELECT {} FROM User", select.join(", ")),
        "Id",
        ids,
        IDS_PER_QUERY,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (super::id15(text(&r, "Id")).to_owned(), r))
        .collect())
}

/// The assignments of one kind of grant these users hold: assignment id by (user, access
/// object), both as 15-character ids.
pub(crate) async fn assignments_of(
    salesforce: &Arc<Salesforce>,
    kind: crate::grants::GrantKind,
    assignees: &[String],
) -> Result<HashMap<(String, String), String>, SalesforceError> {
    let spec = kind.spec();
    let rows = query_in(
        salesforce,
        &kind.assignments_soql(),
        spec.assignee_field,
        assignees,
        IDS_PER_QUERY,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                (
                    super::id15(text(r, spec.assignee_field)).to_owned(),
                    super::id15(text(r, spec.object_field)).to_owned(),
                ),
                text(r, "Id").to_owned(),
            )
        })
        .collect())
}

/// Which of these `object` records exist, as 15-character ids.
pub(crate) async fn existing(
    salesforce: &Arc<Salesforce>,
    object: &str,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, SalesforceError> {
    let rows = query_in(
        salesforce,
        &format!("SELECT Id FROM {object}"),
        "Id",
        ids,
        IDS_PER_QUERY,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| super::id15(text(r, "Id")).to_owned())
        .collect())
}

/// Whether each of these `UserLogin` records is frozen, by 15-character id.
pub(crate) async fn frozen_logins(
    salesforce: &Arc<Salesforce>,
    ids: &[String],
) -> Result<HashMap<String, bool>, SalesforceError> {
    let rows = query_in(
        salesforce,
        "SELECT Id, IsFrozen FROM UserLogin",
        "Id",
        ids,
        IDS_PER_QUERY,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                super::id15(text(r, "Id")).to_owned(),
                r.get("IsFrozen").and_then(Value::as_bool) == Some(true),
            )
        })
        .collect())
}

/// The `UserLogin` id of each of these users, by the user's 15-character id (every user has
/// one login record).
pub(crate) async fn logins_of(
    salesforce: &Arc<Salesforce>,
    users: &[String],
) -> Result<HashMap<String, String>, SalesforceError> {
    let rows = query_in(
        salesforce,
        "SELECT Id, UserId FROM UserLogin",
        "UserId",
        users,
        IDS_PER_QUERY,
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                super::id15(text(r, "UserId")).to_owned(),
                text(r, "Id").to_owned(),
            )
        })
        .filter(|(_, login)| !login.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn literals_escape_what_soql_escapes() {
        assert_eq!(quote("O'Brien"), r"'O\'Brien'");
        assert_eq!(quote(r"a\' OR Id != '"), r"'a\\\' OR Id != \''");
        assert_eq!(quote("two\nlines\t\"x\""), r#"'two\nlines\t\"x\"'"#);
        assert_eq!(quote("jdoe@contoso.com"), "'jdoe@contoso.com'");
    }
}
