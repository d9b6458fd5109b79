//! `query`, `queryAll` and query-more: SOQL over the org's records, 2,000 rows a page by
//! default (`Sforce-Query-Options: batchSize=N`, 200 to 2,000), `nextRecordsUrl` locators.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::super::http::{json_text_response, param, salesforce_error, url_pairs};
use super::super::soql::{self, Query};
use super::super::state::object_name;
use super::super::{Request, Shared, ids};
use super::records::{field_type, known_field};
use super::with_attributes;
use crate::concurrent::lock;

pub(crate) fn start(shared: &Shared, request: &Request, version: &str) -> Response {
    let pairs = url_pairs(&request.query);
    let Some(q) = param(&pairs, "q") else {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let query = match soql::parse(q) {
        Ok(query) => query,
        Err(e) => {
            return salesforce_error(
                StatusCode::BAD_REQUEST,
                "MALFORMED_QUERY",
                &malformed(q, &e),
            );
        }
    };
    let Some(object) = object_name(&query.object) else {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            &format!("sObject type '{}' is not supported.", query.object),
        );
    };
    if let Some(bad) = query
        .fields
        .iter()
        .chain(query.order.iter().map(|(f, _)| f))
        .chain(query.compared.iter().map(|(f, _)| f))
        .find(|f| !known_field(shared, object, f))
    {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!(
                "No such column '{bad}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name."
            ),
        );
    }
    // A field selected twice, in any case: "duplicate field selected: Id", INVALID_FIELD (SOQL
    // and SOSL Reference, FIELDS(): `SELECT Id, FIELDS(ALL) FROM User` answers that). The
    // field is named as written the second time (an assumption).
    if let Some(twice) = query.fields.iter().enumerate().find_map(|(i, field)| {
        query.fields[..i]
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(field))
            .then_some(field)
    }) {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            &format!("duplicate field selected: {twice}"),
        );
    }
    // A quoted literal for a checkbox, date, date-time or number: Salesforce wants the value
    // bare ("value of filter criterion for field 'IsActive' must be of type boolean and should
    // not be enclosed in quotes", INVALID_FIELD, as real orgs answer it); a bare one for text or
    // an id, quoted. A bare literal of another kind (`IsActive = 1`, `UsedLicenses = true`) is
    // answered in the same words. Our assumptions: that last wording, and the words "integer"
    // and "id" — the reports seen name boolean, date, dateTime, double and string.
    let mistyped = query.compared.iter().find_map(|(field, literal)| {
        use soql::Literal;
        let (wanted, quoted) = match field_type(shared, object, field)? {
            "boolean" => ("boolean", false),
            "date" => ("date", false),
            "datetime" => ("dateTime", false),
            "double" | "currency" | "percent" => ("double", false),
            "int" => ("integer", false),
            "id" | "reference" => ("id", true),
            "string" | "email" | "phone" | "picklist" | "textarea" | "url" => ("string", true),
            _ => return None,
        };
        let wrong = match literal {
            Literal::Null => false,
            Literal::Quoted => !quoted,
            Literal::Boolean => wanted != "boolean",
            Literal::Number => !matches!(wanted, "double" | "integer"),
            Literal::Date => !matches!(wanted, "date" | "dateTime"),
        };
        wrong.then(|| {
            format!(
                "value of filter criterion for field '{field}' must be of type {wanted} and \
                 should {}be enclosed in quotes",
                if quoted { "" } else { "not " }
            )
        })
    });
    if let Some(message) = mistyped {
        return salesforce_error(StatusCode::BAD_REQUEST, "INVALID_FIELD", &message);
    }
    let mut query = query;
    if let Err(message) = read_ids(shared, object, &mut query) {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_FILTER_OPERATOR",
            &message,
        );
    }
    let rows = rows(shared, object, &query, version);
    let batch = batch_size(request);
    page(shared, version, rows, batch)
}

/// An id compared with a field of ids is a record's id, 15 characters (case-sensitive) or 18:
/// compared in its 18-character form, the one records carry; anything else is "invalid ID
/// field: x" (INVALID_QUERY_FILTER_OPERATOR), as Salesforce answers `Id = 'abc'`; `LIKE` on an
/// id is "invalid operator on id field" (our assumption of the wording). An empty one is taken
/// as no id (our assumption).
fn read_ids(shared: &Shared, object: &str, query: &mut Query) -> Result<(), String> {
    let mut invalid = None;
    if let Some(filter) = query.filter.as_mut() {
        filter.each_literal(&mut |field, op, literal| {
            let Value::String(text) = literal else { return };
            if invalid.is_some()
                || !matches!(field_type(shared, object, field), Some("id" | "reference"))
            {
                return;
            }
            // Ids are matched whole: LIKE is no operator for them.
            if op == Some(soql::Op::Like) {
                invalid = Some("invalid operator on id field".to_owned());
                return;
            }
            if text.is_empty() {
                return;
            }
            match ids::normalize(text) {
                Ok(id) => *literal = Value::String(id),
                Err(_) => invalid = Some(format!("invalid ID field: {text}")),
            }
        });
    }
    invalid.map_or(Ok(()), Err)
}

fn rows(shared: &Shared, object: &'static str, query: &Query, version: &str) -> Vec<Row> {
    let state = shared.state();
    // UsedLicenses is derived: for a UserLicense the active users on the licence's profiles,
    // for a permission set or package licence its assignments.
    let derived = matches!(
        object,
        "UserLicense" | "PermissionSetLicense" | "PackageLicense" | "ActiveFeatureLicenseMetric"
    );
    let licences: Vec<serde_json::Map<String, Value>> = if derived {
        state
            .org
            .records(object)
            .map(|r| {
                let mut r = r.clone();
                let id = r
                    .get("Id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if object == "ActiveFeatureLicenseMetric" {
                    let feature = r
                        .get("FeatureType")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let holders = state.org.feature_holders(&feature);
                    r.insert("AssignedUserCount".into(), Value::from(holders));
                    r.insert("ActiveUserCount".into(), Value::from(holders));
                    return r;
                }
                let used = if object == "UserLicense" {
                    state.org.licence_usage(&id)
                } else {
                    state.org.holders(&id)
                };
                r.insert("UsedLicenses".into(), Value::from(used));
                r
            })
            .collect()
    } else {
        Vec::new()
    };
    let source: Box<dyn Iterator<Item = &serde_json::Map<String, Value>>> = if derived {
        Box::new(licences.iter())
    } else {
        Box::new(state.org.listed(object))
    };
    // A unique custom User field set case-sensitive compares as written.
    let exact = |name: &str| {
        object == "User"
            && state
                .org
                .custom_user_field(name)
                .is_some_and(|f| f.case_sensitive)
    };
    let mut matching: Vec<&serde_json::Map<String, Value>> = source
        .filter(|r| query.filter.as_ref().is_none_or(|f| f.matches(r, &exact)))
        .collect();
    for (field, descending) in query.order.iter().rev() {
        matching.sort_by(|a, b| {
            let ord = soql::compare(soql::field(a, field), soql::field(b, field))
                .unwrap_or(std::cmp::Ordering::Equal);
            if *descending { ord.reverse() } else { ord }
        });
    }
    if let Some(limit) = query.limit {
        matching.truncate(limit);
    }
    matching
        .into_iter()
        .map(|r| with_attributes(object, version, r, Some(&query.fields)))
        .collect()
}

fn batch_size(request: &Request) -> usize {
    request
        .headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(2000, |n| n.clamp(200, 2000))
}

/// One record, as JSON text in the API's key order (`with_attributes`).
pub(crate) type Row = Box<serde_json::value::RawValue>;

/// A page of query results, its keys in Salesforce's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryPage<'r> {
    total_size: usize,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_records_url: Option<String>,
    records: &'r [Row],
}

/// The first page of a query: a new locator holds the rest.
fn page(shared: &Shared, version: &str, rows: Vec<Row>, batch: usize) -> Response {
    let id = ids::make(ids::QUERY_LOCATOR, "8c", shared.next_locator());
    let total = rows.len();
    serve(shared, version, &id[..15], total, rows, batch)
}

/// The next page behind a `<locator id>-<offset>` locator.
pub(crate) fn more(shared: &Shared, version: &str, locator: &str) -> Response {
    let Some((batch, rows)) = lock(&shared.locators).remove(locator) else {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
    };
    let (base, offset) = locator.rsplit_once('-').unwrap_or((locator, "0"));
    let total = offset.parse::<usize>().unwrap_or(0) + rows.len();
    serve(shared, version, base, total, rows, batch)
}

/// Up to `batch` of the remaining `rows` of a query of `total` rows; the rest wait behind
/// `<base>-<offset>` for query-more.
fn serve(
    shared: &Shared,
    version: &str,
    base: &str,
    total: usize,
    mut rows: Vec<Row>,
    batch: usize,
) -> Response {
    let rest = if rows.len() > batch {
        rows.split_off(batch)
    } else {
        Vec::new()
    };
    let next = (!rest.is_empty()).then(|| {
        let next = format!("{base}-{}", total - rest.len());
        let url = format!("/services/data/v{version}/query/{next}");
        lock(&shared.locators).insert(next, (batch, rest));
        url
    });
    // Salesforce's key order: totalSize, done, nextRecordsUrl (when more), records.
    let body = QueryPage {
        total_size: total,
        done: next.is_none(),
        next_records_url: next,
        records: &rows,
    };
    json_text_response(
        StatusCode::OK,
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

/// A `MALFORMED_QUERY` message as Salesforce writes one: the query's line, a caret under where
/// reading stopped, `ERROR at Row:R:Column:C` and why.
fn malformed(q: &str, e: &soql::SyntaxError) -> String {
    // The error's column counts characters across the whole query; Salesforce counts rows.
    let before: Vec<char> = q.chars().take(e.column.saturating_sub(1)).collect();
    let row = 1 + before.iter().filter(|c| **c == '\n').count();
    let column = 1 + before.iter().rev().take_while(|c| **c != '\n').count();
    let line = q.lines().nth(row - 1).unwrap_or_default();
    format!(
        "\n{line}\n{}^\nERROR at Row:{row}:Column:{column}\n{}",
        " ".repeat(column - 1),
        e.message
    )
}
