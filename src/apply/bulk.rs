//! Many users at once through a Bulk API 2.0 ingest job: open the job, upload one CSV, mark it
//! `UploadComplete`, poll until it ends, then read which rows succeeded and which failed (with
//! Salesforce's `CODE:message`). A handful of requests instead of one per 200 records.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::requests::{Op, request_failure, stop_on};
use super::{Ctx, Failure, Written};
use crate::http::Body;
use crate::salesforce::SalesforceError;

/// The longest wait between two polls of a job.
const MAX_POLL: Duration = Duration::from_secs(10);

/// A CSV cell: Bulk API 2.0 writes `#N/A` as null.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "#N/A".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How a row is found again in the job's results: by Id for updates, by Username (which
/// Salesforce compares without case) for inserts. The key is the first column uploaded.
fn row_key(op: Op, value: &str) -> String {
    match op {
        Op::Insert => value.to_lowercase(),
        Op::Update => value.to_owned(),
    }
}

/// Writes `records` (all of one object) with one ingest job; outcomes in the order given.
pub(super) async fn write(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: &[Map<String, Value>],
) -> Vec<Written> {
    if ctx.stopped() {
        return vec![Written::NotSent; records.len()];
    }
    // The column that finds a result row's record again (see `row_key`).
    let key = match op {
        Op::Insert => "Username",
        Op::Update => "Id",
    };
    let columns: Vec<&str> = {
        let mut names: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.keys().map(String::as_str))
            .filter(|k| *k != "attributes")
            .collect();
        names.remove(key);
        std::iter::once(key).chain(names).collect()
    };
    let mut csv = String::new();
    crate::csv::write_row(&mut csv, columns.iter().copied());
    for record in records {
        let cells: Vec<String> = columns
            .iter()
            // A column the record does not set stays empty: unchanged on update, unset on insert.
            .map(|c| record.get(*c).map(cell).unwrap_or_default())
            .collect();
        crate::csv::write_row(&mut csv, cells.iter().map(String::as_str));
    }
    match run_job(ctx, op, object, &csv).await {
        Ok((succeeded, failed)) => {
            let key_of =
                |r: &Map<String, Value>| row_key(op, &r.get(key).map(cell).unwrap_or_default());
            ctx.task.add(records.len() as u64);
            records
                .iter()
                .map(|r| {
                    let k = key_of(r);
                    if let Some(id) = succeeded.get(&k) {
                        Written::Ok(id.clone())
                    } else if let Some(f) = failed.get(&k) {
                        Written::Failed(f.clone())
                    } else {
                        Written::Failed(Failure {
                            step: String::new(),
                            code: "NOT_PROCESSED".to_owned(),
                            message: "the Bulk API job did not process this record".to_owned(),
                        })
                    }
                })
                .collect()
        }
        Err(e) => {
            stop_on(ctx, &e);
            vec![Written::Failed(request_failure(&e)); records.len()]
        }
    }
}

type Results = (HashMap<String, String>, HashMap<String, Failure>);

async fn run_job(ctx: &Ctx, op: Op, object: &str, csv: &str) -> Result<Results, SalesforceError> {
    let salesforce = &ctx.salesforce;
    let operation = match op {
        Op::Insert => "insert",
        Op::Update => "update",
    };
    let spec = json!({
        "object": object, "operation": operation, "contentType": "CSV",
        "columnDelimiter": "COMMA", "lineEnding": "LF",
    });
    let job = salesforce
        .data(Method::POST, "jobs/ingest", Some(Body::Json(&spec)))
        .await?;
    let id = job
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| SalesforceError::Read("the Bulk API job has no id".to_owned()))?
        .to_owned();
    tracing::info!(target: "roster::apply", "Bulk API job {id}: {operation} {object}");
    let path = format!("jobs/ingest/{id}");
    salesforce
        .data_reply(
            Method::PUT,
            &format!("{path}/batches"),
            Some(Body::Csv(csv)),
        )
        .await?;
    salesforce
        .data(
            Method::PATCH,
            &path,
            Some(Body::Json(&json!({"state": "UploadComplete"}))),
        )
        .await?;
    let mut wait = Duration::from_millis(250);
    let info = loop {
        let info = salesforce.data(Method::GET, &path, None).await?;
        match info.get("state").and_then(Value::as_str) {
            Some("JobComplete") => break info,
            Some(state @ ("Failed" | "Aborted")) => {
                let message = info
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or("no message");
                return Err(SalesforceError::Read(format!(
                    "Bulk API job {id} ended {state}: {message}"
                )));
            }
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_POLL);
            }
        }
    };
    tracing::info!(
        target: "roster::apply",
        "Bulk API job {id}: {} processed, {} failed",
        info["numberRecordsProcessed"],
        info["numberRecordsFailed"]
    );
    read_results(ctx, op, &id).await
}

/// The rows that succeeded (id by key) and failed (failure by key).
async fn read_results(ctx: &Ctx, op: Op, id: &str) -> Result<Results, SalesforceError> {
    let salesforce = &ctx.salesforce;
    let path = format!("jobs/ingest/{id}");
    // After `sf__Id` and `sf__Created`/`sf__Error`, the uploaded columns: the key first.
    let key_column = 2;
    let rows = |text: &[u8]| -> Result<Vec<Vec<String>>, SalesforceError> {
        crate::csv::parse(&String::from_utf8_lossy(text))
            .map(|mut rows| {
                if !rows.is_empty() {
                    rows.remove(0);
                }
                rows
            })
            .map_err(|e| SalesforceError::Read(format!("Bulk API job {id} results: {e}")))
    };
    let ok = salesforce
        .data_reply(Method::GET, &format!("{path}/successfulResults"), None)
        .await?;
    let succeeded = rows(&ok.body)?
        .into_iter()
        .filter(|r| r.len() > key_column)
        .map(|r| (row_key(op, &r[key_column]), r[0].clone()))
        .collect();
    let bad = salesforce
        .data_reply(Method::GET, &format!("{path}/failedResults"), None)
        .await?;
    let failed = rows(&bad.body)?
        .into_iter()
        .filter(|r| r.len() > key_column)
        .map(|r| {
            // `CODE:message:fields`
            let mut parts = r[1].splitn(2, ':');
            let code = parts.next().unwrap_or_default().to_owned();
            let rest = parts.next().unwrap_or_default();
            let message = rest
                .rsplit_once(':')
                .map_or(rest, |(message, _fields)| message)
                .to_owned();
            (
                row_key(op, &r[key_column]),
                Failure {
                    step: String::new(),
                    code,
                    message,
                },
            )
        })
        .collect();
    Ok((succeeded, failed))
}
