//! The requests that write: sObject Collections of 200 (Bulk API 2.0 above the threshold),
//! a few in flight at once, with records Salesforce could not lock tried again, and each
//! record's outcome read back in order.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Ctx, Failure, Written, bulk};
use crate::http::Body;
use crate::salesforce::SalesforceError;

/// Records in one sObject Collections request: Salesforce's limit.
const PER_REQUEST: usize = 200;
/// Rounds of retrying records Salesforce could not lock.
const LOCK_RETRIES: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Insert,
    Update,
}

/// Writes records: by Bulk API 2.0 above the threshold, else by collections; then retries the
/// ones Salesforce could not lock. Outcomes come back in the order given.
pub(super) async fn write(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: Vec<(usize, Map<String, Value>)>,
) -> Vec<(usize, Written)> {
    if records.is_empty() {
        return Vec::new();
    }
    let (indexes, records): (Vec<usize>, Vec<Map<String, Value>>) = records.into_iter().unzip();
    let mut outcomes = if records.len() > ctx.options.bulk_threshold && object == "User" {
        bulk::write(ctx, op, object, &records).await
    } else {
        collections(ctx, op, &records).await
    };
    for round in 0..LOCK_RETRIES {
        let locked: Vec<usize> = (0..records.len())
            .filter(
                |i| matches!(&outcomes[*i], Written::Failed(f) if f.code == "UNABLE_TO_LOCK_ROW"),
            )
            .collect();
        if locked.is_empty() || ctx.stopped() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500 << round)).await;
        tracing::warn!(target: "roster::apply", "retrying {} locked {object} records", locked.len());
        let again: Vec<Map<String, Value>> = locked.iter().map(|i| records[*i].clone()).collect();
        for (i, outcome) in locked.into_iter().zip(collections(ctx, op, &again).await) {
            outcomes[i] = outcome;
        }
    }
    indexes.into_iter().zip(outcomes).collect()
}

/// `POST` (insert) or `PATCH` (update) `/composite/sobjects`, 200 records a request.
pub(super) async fn collections(ctx: &Ctx, op: Op, records: &[Map<String, Value>]) -> Vec<Written> {
    let method = match op {
        Op::Insert => Method::POST,
        Op::Update => Method::PATCH,
    };
    let chunks: Vec<Vec<Map<String, Value>>> =
        records.chunks(PER_REQUEST).map(<[_]>::to_vec).collect();
    let requests: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let body = json!({"allOrNone": false, "records": chunk});
            let count = chunk.len();
            send_chunk(
                ctx.clone(),
                method.clone(),
                "composite/sobjects".to_owned(),
                Some(body),
                count,
            )
        })
        .collect();
    in_flight(ctx, requests).await
}

/// `DELETE /composite/sobjects?ids=...` of permission-set assignments, 200 a request;
/// `removes` holds (change, step, assignment id), the outcome comes back with change and step.
pub(super) async fn delete_assignments(
    ctx: &Ctx,
    removes: Vec<(usize, usize, String)>,
) -> Vec<(usize, usize, Written)> {
    let requests: Vec<_> = removes
        .chunks(PER_REQUEST)
        .map(|chunk| {
            let ids: Vec<&str> = chunk.iter().map(|(_, _, id)| id.as_str()).collect();
            let path = format!("composite/sobjects?ids={}&allOrNone=false", ids.join(","));
            send_chunk(ctx.clone(), Method::DELETE, path, None, chunk.len())
        })
        .collect();
    let outcomes = in_flight(ctx, requests).await;
    removes
        .into_iter()
        .zip(outcomes)
        .map(|((i, step, _), outcome)| (i, step, outcome))
        .collect()
}

/// Runs the chunk requests a few at a time and flattens their outcomes, in order.
pub(super) async fn in_flight<F>(ctx: &Ctx, requests: Vec<F>) -> Vec<Written>
where
    F: std::future::Future<Output = Vec<Written>> + Send + 'static,
{
    let requests: Vec<_> = requests
        .into_iter()
        .map(|r| async move { Ok::<_, std::convert::Infallible>(r.await) })
        .collect();
    let Ok(outcomes) = crate::concurrent::all(ctx.options.concurrency, requests).await;
    outcomes.into_iter().flatten().collect()
}

/// One collections request; a whole-request failure stops the apply.
pub(super) async fn send_chunk(
    ctx: Ctx,
    method: Method,
    path: String,
    body: Option<Value>,
    count: usize,
) -> Vec<Written> {
    if ctx.stopped() {
        return vec![Written::NotSent; count];
    }
    let answer = ctx
        .salesforce
        .data(method, &path, body.as_ref().map(Body::Json))
        .await;
    ctx.task.add(count as u64);
    match answer {
        Ok(Value::Array(items)) if items.len() == count => items.iter().map(item_outcome).collect(),
        Ok(other) => {
            let failure = Failure::new(
                "UNEXPECTED_RESPONSE",
                format!(
                    "Salesforce answered {count} records with {}",
                    truncate(&other.to_string())
                ),
            );
            vec![Written::Failed(failure); count]
        }
        Err(e) => {
            stop_on(&ctx, &e);
            vec![Written::Failed(request_failure(&e)); count]
        }
    }
}

/// A request failed as a whole: nothing more is sent.
pub(super) fn stop_on(ctx: &Ctx, error: &SalesforceError) {
    ctx.stop(error.to_string());
}

pub(super) fn request_failure(error: &SalesforceError) -> Failure {
    let code = match error {
        SalesforceError::Http(crate::http::HttpError::RequestLimit { .. }) => {
            "REQUEST_LIMIT_EXCEEDED".to_owned()
        }
        SalesforceError::Http(crate::http::HttpError::Status {
            code: Some(code), ..
        }) => code.clone(),
        _ => "REQUEST_FAILED".to_owned(),
    };
    Failure {
        code,
        message: format!(
            "the request failed, so whether Salesforce wrote this record is unknown until the next plan: {error}"
        ),
    }
}

pub(super) fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

/// A collections result item: `{"id", "success", "errors": [{"statusCode", "message"}]}`.
pub(super) fn item_outcome(item: &Value) -> Written {
    if item.get("success").and_then(Value::as_bool) == Some(true) {
        return Written::Ok(
            item.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let error = item
        .get("errors")
        .and_then(|e| e.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Written::Failed(Failure {
        code: text("statusCode"),
        message: text("message"),
    })
}
