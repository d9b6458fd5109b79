//! Writes in Salesforce's wire format: sObject Collections (`/composite/sobjects`, up to 200
//! records a request, `allOrNone: false`) to insert, update and delete, each record's outcome
//! read back in order (Salesforce REST API Developer Guide, "sObject Collections").

use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Salesforce, SalesforceError, id15};
use crate::field_value::FieldValue;
use crate::http::Body;
use crate::sorted_map::{Fields, Name};

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

/// One record to write: a change's fields as the plan holds them (borrowed, never copied: a
/// whole-world apply writes 88,000 creates' fields), less `Id` and `IsFrozen` (a plan's own
/// `Id` can never name another record; a freeze lives on the `UserLogin`), and fields of the
/// record's own (an update's `Id`, a login's or an assignment's fields), which win.
#[derive(Clone, Debug, Default)]
pub(crate) struct Record<'a> {
    change: Option<&'a Fields>,
    own: Fields,
}

impl<'a> Record<'a> {
    /// The record of a change's fields.
    pub(crate) fn of_change(fields: &'a Fields) -> Record<'a> {
        Record {
            change: Some(fields),
            own: Fields::new(),
        }
    }

    /// Sets a field of the record's own.
    pub(crate) fn insert(&mut self, name: Name, value: FieldValue) {
        self.own.insert(name, value);
    }

    /// The value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&FieldValue> {
        self.own.get(name).or_else(|| {
            self.change
                .filter(|_| written(name))
                .and_then(|fields| fields.get(name))
        })
    }

    /// The names and values, the change's first (in name order), then the record's own.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Name, &FieldValue)> {
        self.change
            .into_iter()
            .flat_map(Fields::iter)
            .filter(|(name, _)| written(name) && !self.own.contains_key(name))
            .chain(self.own.iter())
    }

    /// The record holding its own copy of every value.
    pub(crate) fn to_static(&self) -> Record<'static> {
        Record {
            change: None,
            own: self
                .iter()
                .map(|(name, value)| (*name, value.clone()))
                .collect(),
        }
    }
}

impl From<Fields> for Record<'_> {
    fn from(own: Fields) -> Self {
        Record { change: None, own }
    }
}

/// Whether a change's field is written with its user: not `Id`, not `IsFrozen`.
fn written(name: &str) -> bool {
    !name.eq_ignore_ascii_case("Id") && name != "IsFrozen"
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
        records: &[Record<'_>],
    ) -> Result<Vec<Outcome>, SalesforceError> {
        let method = match op {
            Op::Insert => Method::POST,
            Op::Update => Method::PATCH,
        };
        let records: Vec<Value> = records
            .iter()
            .map(|fields| {
                let mut record = Map::new();
                record.insert("attributes".into(), json!({ "type": object }));
                record.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_json())));
                Value::Object(record)
            })
            .collect();
        let expected = match op {
            Op::Insert => Expected::New(key_prefix(object)),
            Op::Update => Expected::Sent(
                records
                    .iter()
                    .map(|r| r.get("Id").and_then(Value::as_str).unwrap_or_default())
                    .collect(),
            ),
        };
        let body = json!({"allOrNone": false, "records": records});
        let answer = self
            .data(method, "composite/sobjects", Some(Body::Json(&body)))
            .await?;
        outcomes(&answer, records.len(), &expected)
    }

    /// Deletes up to 200 records by id in one request (`DELETE /composite/sobjects?ids=`).
    pub(crate) async fn delete_records(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Outcome>, SalesforceError> {
        let path = format!("composite/sobjects?ids={}&allOrNone=false", ids.join(","));
        let answer = self.data(Method::DELETE, &path, None).await?;
        outcomes(&answer, ids.len(), &Expected::Sent(ids.to_vec()))
    }
}

/// The ids a collections answer must carry: the records' own, in order, for updates and
/// deletes; for inserts, new ids of the object's key prefix, each once.
enum Expected<'a> {
    Sent(Vec<&'a str>),
    New(Option<&'static str>),
}

/// The key prefix of the objects roster inserts (the first three characters of their ids).
fn key_prefix(object: &str) -> Option<&'static str> {
    match object {
        "User" => Some("005"),
        "PermissionSetAssignment" => Some("0Pa"),
        "UserLogin" => Some("060"),
        _ => None,
    }
}

/// A Salesforce record id: 15 or 18 ASCII letters and digits.
fn is_record_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The per-record results of a collections answer: `[{"id", "success", "errors": [{"statusCode",
/// "message"}]}]`, one per record.
///
/// A success must name the record written: the id sent (updates, deletes) or a new record id of
/// the object's key prefix seen once (inserts). An answer crediting the wrong record would be
/// logged as the right one's change.
fn outcomes(
    answer: &Value,
    count: usize,
    expected: &Expected<'_>,
) -> Result<Vec<Outcome>, SalesforceError> {
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
    let mut new_ids = std::collections::HashSet::new();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            match item.get("success").and_then(Value::as_bool) {
                Some(true) => match text(item.get("id")) {
                    Some(id) if is_record_id(&id) => {
                        let right = match expected {
                            Expected::Sent(ids) => {
                                ids.get(i).is_some_and(|sent| id15(sent) == id15(&id))
                            }
                            Expected::New(prefix) => {
                                prefix.is_none_or(|p| id.starts_with(p))
                                    && new_ids.insert(id15(&id).to_owned())
                            }
                        };
                        if right {
                            Ok(Outcome::Written(id))
                        } else {
                            Err(unexpected(format!(
                                "result {} names a record roster did not write: {}",
                                i + 1,
                                short(item)
                            )))
                        }
                    }
                    _ => Err(unexpected(format!(
                        "a success without a record id: {}",
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

    use super::{Expected, Failure, Outcome, Record, outcomes};
    use crate::sorted_map::Fields;

    /// A change's record writes its fields but never its `Id` or `IsFrozen`; the record's own
    /// fields win; an owned copy reads the same.
    #[test]
    fn a_change_record_borrows_its_fields_less_id_and_is_frozen() {
        let after: Fields = serde_json::from_value(json!({
            "Id": "005PLANTED", "IsFrozen": true, "IsActive": true, "Title": "Lead"
        }))
        .unwrap();
        let mut record = Record::of_change(&after);
        record.insert("Id".into(), json!("005REAL").into());
        let read = |r: &Record<'_>| {
            let mut fields: Vec<String> = r.iter().map(|(k, v)| format!("{k}={v}")).collect();
            fields.sort();
            fields
        };
        assert_eq!(
            read(&record),
            ["Id=\"005REAL\"", "IsActive=true", "Title=\"Lead\""]
        );
        assert_eq!(record.get("Id"), Some(&json!("005REAL").into()));
        assert_eq!(record.get("IsFrozen"), None);
        assert_eq!(Record::of_change(&after).get("id"), None);
        assert_eq!(read(&record.to_static()), read(&record));
    }

    #[test]
    fn results_are_read_in_order_and_malformed_ones_refused() {
        let user = Expected::New(Some("005"));
        let answer = json!([
            {"id": "005000000000001AAA", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "DUPLICATE_USERNAME", "message": "Duplicate Username."}]}
        ]);
        assert_eq!(
            outcomes(&answer, 2, &user).unwrap(),
            [
                Outcome::Written("005000000000001AAA".into()),
                Outcome::Rejected(Failure::new("DUPLICATE_USERNAME", "Duplicate Username."))
            ]
        );
        assert!(
            outcomes(&answer, 3, &user).is_err(),
            "one result per record"
        );
        assert!(
            outcomes(&json!([{"success": true}]), 1, &user).is_err(),
            "a success needs an id"
        );
        assert!(outcomes(&json!([{"success": false}]), 1, &user).is_err());
        assert!(outcomes(&json!({"x": 1}), 1, &user).is_err());
    }

    #[test]
    fn a_success_must_name_the_record_written() {
        let ok = |id: &str| json!({"id": id, "success": true, "errors": []});
        // Inserts: a new id of the object's prefix, each once.
        let user = Expected::New(Some("005"));
        assert!(outcomes(&json!([ok("0Pa000000000001AAA")]), 1, &user).is_err());
        assert!(
            outcomes(&json!([ok("005")]), 1, &user).is_err(),
            "too short"
        );
        assert!(
            outcomes(
                &json!([ok("005000000000001"), ok("005000000000001AAA")]),
                2,
                &user
            )
            .is_err(),
            "the same record twice, 15 and 18 characters"
        );
        // Updates and deletes: the id sent, in order, in either length.
        let sent = Expected::Sent(vec!["005000000000001AAA", "005000000000002AAA"]);
        assert!(
            outcomes(
                &json!([ok("005000000000001"), ok("005000000000002AAA")]),
                2,
                &sent
            )
            .is_ok()
        );
        assert!(
            outcomes(
                &json!([ok("005000000000002AAA"), ok("005000000000001AAA")]),
                2,
                &sent
            )
            .is_err(),
            "swapped"
        );
    }
}
