//! Writes in Salesforce's wire format: sObject Collections (`/composite/sobjects`, up to 200
//! records a request, `allOrNone: false`) to insert, update and delete, each record's outcome
//! read back in order (Salesforce REST API Developer Guide, "sObject Collections").

use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Salesforce, SalesforceError};
use crate::http::Body;

/// Records in one sObject Collections request: Salesforce's limit.
pub(crate) const PER_REQUEST: usize = 200;

/// What a write does to each record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Insert,
    Update,
}

impl Op {
    /// The Bulk API 2.0 `operation`.
    pub(crate) fn operation(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
        }
    }
}

/// Why Salesforce did not write a record: its error code (`DUPLICATE_USERNAME`, ...) and
/// message, or roster's code for a request that failed as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct Failure {
    pub(crate) code: String,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// What Salesforce answered for one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Written; the record's id.
    Written(String),
    /// Refused, with Salesforce's reason.
    Rejected(Failure),
}

impl Salesforce {
    /// Inserts (`POST`) or updates (`PATCH`) up to 200 records of `object` in one request; the
    /// outcomes come back in the order given. An answer that is not one result per record, each
    /// a success with an id or a failure with a code, is an error: the request's effect is then
    /// unknown.
    pub(crate) async fn write_records(
        &self,
        op: Op,
        object: &str,
        records: &[Map<String, Value>],
    ) -> Result<Vec<Outcome>, SalesforceError> {
        let method = match op {
            Op::Insert => Method::POST,
            Op::Update => Method::PATCH,
        };
        let records: Vec<Value> = records
            .iter()
            .map(|fields| {
                let mut record = Map::with_capacity(fields.len() + 1);
                record.insert("attributes".into(), json!({ "type": object }));
                record.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Object(record)
            })
            .collect();
        let body = json!({"allOrNone": false, "records": records});
        let answer = self
            .data(method, "composite/sobjects", Some(Body::Json(&body)))
            .await?;
        outcomes(&answer, records.len())
    }

    /// Deletes up to 200 records by id in one request (`DELETE /composite/sobjects?ids=`).
    pub(crate) async fn delete_records(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Outcome>, SalesforceError> {
        let path = format!("composite/sobjects?ids={}&allOrNone=false", ids.join(","));
        let answer = self.data(Method::DELETE, &path, None).await?;
        outcomes(&answer, ids.len())
    }
}

/// The per-record results of a collections answer: `[{"id", "success", "errors": [{"statusCode",
/// "message"}]}]`, one per record.
fn outcomes(answer: &Value, count: usize) -> Result<Vec<Outcome>, SalesforceError> {
    let unexpected = |detail: String| {
        SalesforceError::Read(format!(
            "Salesforce /composite/sobjects: the answer is not what roster expects: {detail}"
        ))
    };
    let Value::Array(items) = answer else {
        return Err(unexpected(format!(
            "{count} records answered with {}",
            short(answer)
        )));
    };
    if items.len() != count {
        return Err(unexpected(format!(
            "{count} records answered with {} results",
            items.len()
        )));
    }
    items
        .iter()
        .map(|item| {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            match item.get("success").and_then(Value::as_bool) {
                Some(true) => match text(item.get("id")) {
                    Some(id) if !id.is_empty() => Ok(Outcome::Written(id)),
                    _ => Err(unexpected(format!(
                        "a success without an id: {}",
                        short(item)
                    ))),
                },
                Some(false) => {
                    let error = item.get("errors").and_then(|e| e.get(0));
                    match error.and_then(|e| text(e.get("statusCode"))) {
                        Some(code) => Ok(Outcome::Rejected(Failure {
                            code,
                            message: error
                                .and_then(|e| text(e.get("message")))
                                .unwrap_or_default(),
                        })),
                        None => Err(unexpected(format!(
                            "a failure without a code: {}",
                            short(item)
                        ))),
                    }
                }
                None => Err(unexpected(format!(
                    "a result without `success`: {}",
                    short(item)
                ))),
            }
        })
        .collect()
}

/// A JSON value, cut to 200 characters for messages.
fn short(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Failure, Outcome, outcomes};

    #[test]
    fn results_are_read_in_order_and_malformed_ones_refused() {
        let answer = json!([
            {"id": "005A", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "DUPLICATE_USERNAME", "message": "Duplicate Username."}]}
        ]);
        assert_eq!(
            outcomes(&answer, 2).unwrap(),
            [
                Outcome::Written("005A".into()),
                Outcome::Rejected(Failure::new("DUPLICATE_USERNAME", "Duplicate Username."))
            ]
        );
        assert!(outcomes(&answer, 3).is_err(), "one result per record");
        assert!(
            outcomes(&json!([{"success": true}]), 1).is_err(),
            "a success needs an id"
        );
        assert!(outcomes(&json!([{"success": false}]), 1).is_err());
        assert!(outcomes(&json!({"x": 1}), 1).is_err());
    }
}
