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
use crate::salesforce::{Salesforce, SalesforceError};

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

/// The most CSV one job uploads: Salesforce takes 150 MB of base64-encoded content a request
/// and advises at most 100 MB of data, since the encoding adds about half ("Upload Job Data",
/// Bulk API 2.0 Developer Guide). Larger writes are split into several jobs.
const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Writes `records` (all of one object) with ingest jobs of at most `MAX_UPLOAD_BYTES` of CSV
/// each, one after the other; outcomes in the order given.
pub(super) async fn write(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: &[Map<String, Value>],
) -> Vec<Written> {
    write_split(ctx, op, object, records, MAX_UPLOAD_BYTES).await
}

async fn write_split(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: &[Map<String, Value>],
    max_bytes: usize,
) -> Vec<Written> {
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
    let mut header = String::new();
    crate::csv::write_row(&mut header, columns.iter().copied());
    let mut outcomes = Vec::with_capacity(records.len());
    let mut start = 0;
    while start < records.len() {
        let mut csv = header.clone();
        let mut end = start;
        while end < records.len() {
            let mut row = String::new();
            let cells: Vec<String> = columns
                .iter()
                // A column the record does not set stays empty: unchanged on update, unset on
                // insert.
                .map(|c| records[end].get(*c).map(cell).unwrap_or_default())
                .collect();
            crate::csv::write_row(&mut row, cells.iter().map(String::as_str));
            if end > start && csv.len() + row.len() > max_bytes {
                break;
            }
            csv.push_str(&row);
            end += 1;
        }
        outcomes.extend(job(ctx, op, object, key, &records[start..end], &csv).await);
        start = end;
    }
    outcomes
}

/// One ingest job of `records`, whose CSV is `csv`.
async fn job(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    key: &str,
    records: &[Map<String, Value>],
    csv: &str,
) -> Vec<Written> {
    if ctx.stopped() {
        return vec![Written::NotSent; records.len()];
    }
    match run_job(ctx, op, object, csv).await {
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
                        Written::Failed(Failure::new(
                            "NOT_PROCESSED",
                            "the Bulk API job did not process this record",
                        ))
                    }
                })
                .collect()
        }
        Err(JobError::Unwritten(e)) => {
            stop_on(ctx, &e);
            let mut failure = request_failure(&e);
            failure.message = format!("nothing of this Bulk API job was written: {e}");
            vec![Written::Failed(failure); records.len()]
        }
        Err(JobError::Unknown(e)) => {
            stop_on(ctx, &e);
            vec![Written::Failed(request_failure(&e)); records.len()]
        }
    }
}

/// Why a job gave no results: either nothing of it was written (it never opened, or was aborted
/// before its upload completed), or its outcome is unknown (it was submitted and could not be
/// read back).
enum JobError {
    Unwritten(SalesforceError),
    Unknown(SalesforceError),
}

type Results = (HashMap<String, String>, HashMap<String, Failure>);

/// How long a job roster was told to stop during is still waited for: enough for a small job
/// to finish, short of what CI allows between its interrupt and its kill (GitHub Actions:
/// 7.5 s from SIGINT to SIGTERM).
const STOPPED_GRACE: Duration = Duration::from_secs(5);
/// How often a job's state is asked again after a failed poll.
const POLL_FAILURES: u32 = 3;

async fn run_job(ctx: &Ctx, op: Op, object: &str, csv: &str) -> Result<Results, JobError> {
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
        .await
        .map_err(JobError::Unwritten)?;
    let id = job
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            JobError::Unwritten(SalesforceError::Read(
                "the Bulk API job has no id".to_owned(),
            ))
        })?
        .to_owned();
    tracing::info!(target: "roster::apply", "Bulk API job {id}: {operation} {object}");
    let path = format!("jobs/ingest/{id}");
    let uploaded = salesforce
        .data_reply(
            Method::PUT,
            &format!("{path}/batches"),
            Some(Body::Csv(csv)),
        )
        .await;
    let completed = match uploaded {
        Ok(_) => {
            salesforce
                .data(
                    Method::PATCH,
                    &path,
                    Some(Body::Json(&json!({"state": "UploadComplete"}))),
                )
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = completed {
        // The answer may be lost while the request took effect: ask the job what it is.
        match state(salesforce, &path).await {
            Ok(state) if state == "Open" => {
                abort(salesforce, &path).await;
                return Err(JobError::Unwritten(e));
            }
            Ok(state) => tracing::warn!(
                target: "roster::apply",
                "Bulk API job {id}: the answer to completing its upload was lost, and the job is \
                 {state}: following it"
            ),
            Err(_) => return Err(JobError::Unknown(e)),
        }
    }
    let info = poll(ctx, &id, &path).await.map_err(JobError::Unknown)?;
    tracing::info!(
        target: "roster::apply",
        "Bulk API job {id}: {} processed, {} failed",
        info["numberRecordsProcessed"],
        info["numberRecordsFailed"]
    );
    read_results(ctx, op, &id).await.map_err(JobError::Unknown)
}

/// A job's `state`.
async fn state(salesforce: &Salesforce, path: &str) -> Result<String, SalesforceError> {
    let info = salesforce.data(Method::GET, path, None).await?;
    info.get("state")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SalesforceError::Read(format!("Bulk API {path}: the answer has no state")))
}

/// Aborts a job whose upload never completed, so it can never run; a failure to abort is only
/// logged (an open job that is never completed is never processed either).
async fn abort(salesforce: &Salesforce, path: &str) {
    let aborted = salesforce
        .data(
            Method::PATCH,
            path,
            Some(Body::Json(&json!({"state": "Aborted"}))),
        )
        .await;
    if let Err(e) = aborted {
        tracing::warn!(target: "roster::apply", "cannot abort Bulk API {path}: {e}");
    }
}

/// Polls the job until it ends. A submitted job runs whatever roster does, so a stop does not
/// end the polling at once: the job is followed for `STOPPED_GRACE` more, then reported unknown.
/// A failed poll is asked again a few times before the outcome is called unknown.
async fn poll(ctx: &Ctx, id: &str, path: &str) -> Result<Value, SalesforceError> {
    let mut wait = Duration::from_millis(250);
    let mut failures = 0;
    let mut stopped_at: Option<std::time::Instant> = None;
    loop {
        match ctx.salesforce.data(Method::GET, path, None).await {
            Ok(info) => match info.get("state").and_then(Value::as_str) {
                Some("JobComplete") => return Ok(info),
                Some(state @ ("Failed" | "Aborted")) => {
                    let message = info
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or("no message");
                    return Err(SalesforceError::Read(format!(
                        "Bulk API job {id} ended {state}: {message}"
                    )));
                }
                _ => {}
            },
            Err(e) if failures + 1 >= POLL_FAILURES => {
                return Err(SalesforceError::Read(format!(
                    "Bulk API job {id} was submitted, and its state cannot be read ({e}): \
                     Salesforce runs it regardless; the next plan shows what it wrote"
                )));
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(target: "roster::apply", "polling Bulk API job {id} failed: {e}");
            }
        }
        if ctx.stopped() {
            let since = *stopped_at.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= STOPPED_GRACE {
                return Err(SalesforceError::Read(format!(
                    "Bulk API job {id} was still running when roster stopped: Salesforce \
                     finishes it regardless; the next plan shows what it wrote"
                )));
            }
            wait = wait.min(Duration::from_millis(500));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_POLL);
    }
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
            (row_key(op, &r[key_column]), Failure { code, message })
        })
        .collect();
    Ok((succeeded, failed))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Map, Value, json};

    use super::{Op, write_split};
    use crate::apply::{Ctx, Options, Stop, Written};
    use crate::emulator::{self, State, synthetic};
    use crate::endpoint::Endpoints;
    use crate::salesforce::Salesforce;

    /// A write larger than one upload may be is split into several jobs, each row's outcome
    /// still found again.
    #[tokio::test]
    async fn writes_larger_than_one_upload_take_several_jobs() {
        let running = emulator::start(
            State::from_world(synthetic::world(3, 1)).unwrap(),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!("roster-bulk-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sf.secret"), synthetic::SALESFORCE_SECRET).unwrap();
        let config = synthetic::config().replace("{env: SF_CLIENT_SECRET}", "{file: sf.secret}");
        std::fs::write(dir.join("roster.yaml"), config).unwrap();
        let loaded = crate::config::load(&dir.join("roster.yaml")).unwrap();
        let base = running.base_url();
        let endpoints = Endpoints {
            entra_login: base.clone(),
            graph: base.clone(),
            salesforce_login: base,
        };
        let salesforce = Salesforce::connect(&loaded.config, &dir, &endpoints).unwrap();
        let ctx = Ctx {
            salesforce: Arc::new(salesforce),
            options: Options::default(),
            task: crate::progress::Progress::new(false).task("test"),
            stop: Stop::default(),
        };
        let profile = running.shared.state().org.objects["Profile"]
            .values()
            .find(|p| p["Name"] == "Standard User")
            .unwrap()["Id"]
            .clone();
        let records: Vec<Map<String, Value>> = (0..7)
            .map(|n| {
                let Value::Object(record) = json!({
                    "Username": format!("split{n}@example.com.dev1"), "LastName": format!("Split{n}"),
                    "Email": format!("split{n}@example.com"), "Alias": format!("split{n}"),
                    "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
                    "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": profile,
                }) else {
                    unreachable!()
                };
                record
            })
            .collect();
        // About two rows an upload.
        let outcomes = write_split(&ctx, Op::Insert, "User", &records, 420).await;
        assert_eq!(outcomes.len(), 7);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Written::Ok(id) if id.starts_with("005"))),
            "{outcomes:?}"
        );
        let jobs = running
            .shared
            .counts()
            .get("POST /services/data/{v}/jobs/ingest")
            .copied();
        assert!(jobs.is_some_and(|n| (3..=7).contains(&n)), "{jobs:?}");
        let _ = std::fs::remove_dir_all(dir);
        running.shutdown().await;
    }
}
