//! Whether a saved plan still describes the org: same org, every user it touches unchanged since
//! the plan (re-read by id, compared on `SystemModstamp`), no user yet under a Username it
//! creates. Also the lookups apply makes by Username and by user id.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value;

use crate::plan::{Action, Plan};
use crate::salesforce::{Salesforce, SalesforceError, id15};

/// Ids in one `IN (...)` list, well under Salesforce's 16 KB URL limit.
const IDS_PER_QUERY: usize = 300;
/// Usernames in one `IN (...)` list (up to 80 characters each).
const NAMES_PER_QUERY: usize = 200;
/// Queries in flight at once.
const CONCURRENCY: usize = 4;

/// A SOQL string literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Runs `select ... WHERE {field} IN (...)` over `values` in chunks, side by side.
async fn query_in(
    salesforce: &Arc<Salesforce>,
    select: &str,
    field: &str,
    values: &[String],
    per_query: usize,
) -> Result<Vec<Value>, SalesforceError> {
    let queries: Vec<_> = values
        .chunks(per_query)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(|v| quoted(v)).collect();
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

fn text<'a>(row: &'a Value, field: &str) -> &'a str {
    row.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Ids of the users with these Usernames, by lower-case Username.
pub(super) async fn ids_by_username(
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

/// The `UserLogin` id of each user, by the user's 15-character id.
pub(super) async fn logins(
    salesforce: &Arc<Salesforce>,
    users: &[String],
) -> Result<BTreeMap<String, String>, SalesforceError> {
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
        .map(|r| (id15(text(r, "UserId")).to_owned(), text(r, "Id").to_owned()))
        .collect())
}

/// Why the saved plan no longer describes the org (empty: it does).
pub(crate) async fn check(
    salesforce: &Arc<Salesforce>,
    plan: &Plan,
) -> Result<Vec<String>, SalesforceError> {
    let mut reasons = Vec::new();
    let org = salesforce
        .query("SELECT Id FROM Organization", None)
        .await?;
    let org_id = org.first().map(|r| text(r, "Id")).unwrap_or_default();
    if id15(org_id) != id15(&plan.target.org_id) {
        reasons.push(format!(
            "the plan was made for org {}, but the config now logs in to org {org_id}",
            plan.target.org_id
        ));
        return Ok(reasons);
    }
    let touched: Vec<(&str, &str, &str)> = plan
        .changes
        .iter()
        .filter_map(|c| {
            Some((
                c.target_id.as_deref()?,
                c.fingerprint.as_deref()?,
                c.key.as_str(),
            ))
        })
        .collect();
    let ids: Vec<String> = touched.iter().map(|(id, _, _)| (*id).to_owned()).collect();
    let rows = query_in(
        salesforce,
        "SELECT Id, SystemModstamp FROM User",
        "Id",
        &ids,
        IDS_PER_QUERY,
    )
    .await?;
    let now: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (id15(text(r, "Id")), text(r, "SystemModstamp")))
        .collect();
    for (id, fingerprint, key) in touched {
        match now.get(id15(id)) {
            None => reasons.push(format!("{key}: Salesforce user {id} no longer exists")),
            Some(stamp) if stamp != &fingerprint => reasons.push(format!(
                "{key}: Salesforce user {id} changed since the plan (SystemModstamp {fingerprint} -> {stamp})"
            )),
            Some(_) => {}
        }
    }
    let creates: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .filter_map(|c| c.after.get("Username").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let existing = ids_by_username(salesforce, &creates).await?;
    for username in creates {
        if let Some(id) = existing.get(&username.to_lowercase()) {
            reasons.push(format!(
                "{username}: the plan creates this user, but Salesforce user {id} has this Username now"
            ));
        }
    }
    Ok(reasons)
}
