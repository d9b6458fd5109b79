//! Bulk API 2.0 ingest jobs in Salesforce's wire format: records as CSV (split into uploads
//! of at most 100 MB), a job opened, its data uploaded, `UploadComplete`, polled until it ends,
//! and each row's outcome read back from `successfulResults` and `failedResults` (Bulk API 2.0
//! and Bulk API Developer Guide). A job whose answer was lost is looked up, never guessed.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::write::{Failure, Op, Outcome, Record};
use super::{Salesforce, SalesforceError};
use crate::field_value::FieldValue;
use crate::http::Body;

/// The longest wait between two polls of a job.
const MAX_POLL: Duration = Duration::from_secs(10);

/// The CSV cell Bulk API 2.0 writes as null ("Prepare CSV Files": an empty cell leaves the field
/// as it is). No cell can hold the text itself: a record with it goes by sObject Collections.
pub(crate) const NULL_CELL: &str = "#N/A";

/// A CSV cell: null as `NULL_CELL`, and so is the empty text — an empty cell leaves the field
/// as it is, where sObject Collections' `""` clears it (Salesforce keeps no empty text: it
/// reads back as null).
fn cell(value: &FieldValue) -> String {
    match value {
        FieldValue::Null => NULL_CELL.to_owned(),
        FieldValue::Text(s) if s.is_empty() => NULL_CELL.to_owned(),
        FieldValue::Text(s) => s.as_str().to_owned(),
        other => other.to_string(),
    }
}

/// How a result row finds its record again: by one column (Username for User inserts, which
/// Salesforce compares without case; Id for updates), or by every cell (an assignment insert is
/// nothing but its user and its access object, and two equal ones are one duplicate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowKey {
    Column(&'static str),
    AllCells,
}

impl RowKey {
    /// The key of `op` on `object`.
    pub(crate) fn of(op: Op, object: &str) -> RowKey {
        match op {
            Op::Update => RowKey::Column("Id"),
            Op::Insert if object == "User" => RowKey::Column("Username"),
            Op::Insert => RowKey::AllCells,
        }
    }

    /// The key of a row from its uploaded cells, in the upload's column order.
    fn of_cells<'c>(self, cells: impl IntoIterator<Item = &'c str>) -> String {
        let mut cells = cells.into_iter();
        match self {
            RowKey::Column("Username") => cells.next().unwrap_or_default().to_lowercase(),
            RowKey::Column(_) => cells.next().unwrap_or_default().to_owned(),
            RowKey::AllCells => cells.collect::<Vec<_>>().join("\u{1f}"),
        }
    }
}

/// The most CSV one job uploads: Salesforce takes 150 MB of base64-encoded content a request
/// and advises at most 100 MB of data, since the encoding adds about half ("Upload Job Data",
/// Bulk API 2.0 Developer Guide). Larger writes are split into several jobs.
pub(crate) const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// One job's worth of records, as the CSV it uploads.
pub(crate) struct Upload {
    /// The records it holds, as a range of those given to `uploads`.
    pub(crate) records: Range<usize>,
    csv: bytes::Bytes,
    /// The columns uploaded, the key's first.
    columns: Vec<String>,
    key: RowKey,
}

/// The CSV uploads for `records` (all of one object): the key column first, then every other
/// field any record sets, each upload at most `max_bytes` (one record at least).
pub(crate) fn uploads(
    op: Op,
    object: &str,
    records: &[Record<'_>],
    max_bytes: usize,
) -> Vec<Upload> {
    let key = RowKey::of(op, object);
    let columns: Vec<&str> = {
        let mut names: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.iter().map(|(k, _)| k.as_ref()))
            .filter(|k| *k != "attributes")
            .collect();
        match key {
            RowKey::Column(first) => {
                names.remove(first);
                std::iter::once(first).chain(names).collect()
            }
            RowKey::AllCells => names.into_iter().collect(),
        }
    };
    let mut header = String::new();
    crate::csv::write_row(&mut header, columns.iter().copied());
    let mut out = Vec::new();
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
                .map(|c| records[end].get(c).map(cell).unwrap_or_default())
                .collect();
            crate::csv::write_row(&mut row, cells.iter().map(String::as_str));
            if end > start && csv.len() + row.len() > max_bytes {
                break;
            }
            csv.push_str(&row);
            end += 1;
        }
        out.push(Upload {
            records: start..end,
            csv: bytes::Bytes::from(csv),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            key,
        });
        start = end;
    }
    out
}

/// Why a job did not complete: nothing of it was written (it never opened, or was aborted
/// before its upload completed), it ended `Failed` or `Aborted` partway, or its outcome is
/// unknown (it was submitted and could not be read back).
#[derive(Debug)]
pub(crate) enum JobError {
    Unwritten(SalesforceError),
    /// The job ended `Failed` or `Aborted`: the results of the rows it processed, which stay
    /// written ("If changes to data have already been committed, they aren't rolled back",
    /// Bulk API "Abort a Job"), and why it ended. It never processes the others: "the remaining
    /// job data isn't processed" ("Understanding Bulk API 2.0 Ingest").
    Ended(JobResults, SalesforceError),
    Unknown(SalesforceError),
}

/// A finished job's rows: the id of each row that succeeded and the failure of each that did
/// not, by row key.
#[derive(Debug)]
pub(crate) struct JobResults {
    key: RowKey,
    columns: Vec<String>,
    succeeded: HashMap<String, String>,
    failed: HashMap<String, Failure>,
    /// The failure of a row in neither list: the job never processed it.
    unprocessed: Failure,
}

impl JobResults {
    /// The outcome of `record`, found by its key.
    pub(crate) fn outcome(&self, record: &Record<'_>) -> Outcome {
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|c| record.get(c).map(cell).unwrap_or_default())
            .collect();
        let key = self.key.of_cells(cells.iter().map(String::as_str));
        if let Some(id) = self.succeeded.get(&key) {
            Outcome::Written(id.clone())
        } else if let Some(f) = self.failed.get(&key) {
            Outcome::Rejected(f.clone())
        } else {
            Outcome::Rejected(self.unprocessed.clone())
        }
    }
}

/// How long a job roster was told to stop during is still waited for: enough for a small job
/// to finish, short of what CI allows between its interrupt and its kill (GitHub Actions:
/// 7.5 s from SIGINT to SIGTERM).
const STOPPED_GRACE: Duration = Duration::from_secs(5);
/// How often a job's state is asked again after a failed poll.
const POLL_FAILURES: u32 = 3;

/// Runs one ingest job of `upload` to its end. `stopped` says whether roster was
/// told to stop: a submitted job is then followed only a little longer.
pub(crate) async fn run_job(
    salesforce: &Salesforce,
    op: Op,
    object: &str,
    upload: &Upload,
    stopped: &(dyn Fn() -> bool + Sync),
) -> Result<JobResults, JobError> {
    let operation = op.operation();
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
    tracing::info!(target: "roster::salesforce", "Bulk API job {id}: {operation} {object}");
    let path = format!("jobs/ingest/{id}");
    let uploaded = salesforce
        .data_reply(
            Method::PUT,
            &format!("{path}/batches"),
            Some(Body::Csv(&upload.csv)),
        )
        .await;
    // Which step failed, for the log: the upload, or completing it.
    let (step, completed) = match uploaded {
        Ok(_) => (
            "the answer to completing its upload was lost",
            salesforce
                .data(
                    Method::PATCH,
                    &path,
                    Some(Body::Json(&json!({"state": "UploadComplete"}))),
                )
                .await,
        ),
        Err(e) => ("uploading its data failed", Err(e)),
    };
    if let Err(e) = completed {
        // The answer may be lost while the request took effect: ask the job what it is.
        match state(salesforce, &path).await {
            Ok(state) if state == "Open" => {
                abort(salesforce, &path).await;
                return Err(JobError::Unwritten(e));
            }
            Ok(state) => tracing::warn!(
                target: "roster::salesforce",
                "Bulk API job {id}: {step} ({e}), and the job is {state}: following it"
            ),
            // Both failures are named: the first alone would hide why the outcome is unknown.
            Err(read) => {
                return Err(JobError::Unknown(SalesforceError::Read(format!(
                    "{e}; reading Bulk API job {id} to learn whether that took effect failed \
                     too: {read}"
                ))));
            }
        }
    }
    let info = poll(salesforce, &id, &path, stopped)
        .await
        .map_err(JobError::Unknown)?;
    let ended = info
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or_default();
    tracing::info!(
        target: "roster::salesforce",
        "Bulk API job {id} {ended}: {} processed, {} failed",
        info["numberRecordsProcessed"],
        info["numberRecordsFailed"]
    );
    let results = read_results(salesforce, upload, &id).await;
    if ended == "JobComplete" {
        return results.map_err(JobError::Unknown);
    }
    let message = info
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let why = format!("Bulk API job {id} ended {ended}: {message}");
    match results {
        Ok(mut results) => {
            results.unprocessed = Failure::new(
                "NOT_PROCESSED",
                format!("{why}, before it processed this record"),
            );
            Err(JobError::Ended(results, SalesforceError::Read(why)))
        }
        Err(read) => Err(JobError::Unknown(SalesforceError::Read(format!(
            "{why}; reading which records it processed failed: {read}"
        )))),
    }
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
        tracing::warn!(target: "roster::salesforce", "cannot abort Bulk API {path}: {e}");
    }
}

/// Polls the job until it ends (`JobComplete`, `Failed` or `Aborted`: its last state). A submitted job runs whatever roster does, so a stop does not
/// end the polling at once: the job is followed for `STOPPED_GRACE` more, then reported unknown.
/// A failed poll is asked again a few times before the outcome is called unknown.
async fn poll(
    salesforce: &Salesforce,
    id: &str,
    path: &str,
    stopped: &(dyn Fn() -> bool + Sync),
) -> Result<Value, SalesforceError> {
    let mut wait = Duration::from_millis(250);
    let mut failures = 0;
    let mut stopped_at: Option<std::time::Instant> = None;
    loop {
        match salesforce.data(Method::GET, path, None).await {
            Ok(info)
                if matches!(
                    info.get("state").and_then(Value::as_str),
                    Some("JobComplete" | "Failed" | "Aborted")
                ) =>
            {
                return Ok(info);
            }
            Ok(_) => {}
            Err(e) if failures + 1 >= POLL_FAILURES => {
                return Err(SalesforceError::Read(format!(
                    "Bulk API job {id} was submitted, and its state cannot be read ({e}): \
                     Salesforce runs it regardless; the next plan shows what it wrote"
                )));
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(target: "roster::salesforce", "polling Bulk API job {id} failed: {e}");
            }
        }
        if stopped() {
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
async fn read_results(
    salesforce: &Salesforce,
    upload: &Upload,
    id: &str,
) -> Result<JobResults, SalesforceError> {
    let path = format!("jobs/ingest/{id}");
    // After `sf__Id` and `sf__Created`/`sf__Error`, the uploaded columns in their order.
    let key_column = 2;
    let key = |r: &csv::StringRecord| upload.key.of_cells(r.iter().skip(key_column));
    // Each data row (the header skipped) with at least the key's cells.
    let rows = |text: &[u8], f: &mut dyn FnMut(&csv::StringRecord)| {
        let mut header = true;
        crate::csv::each_row(text, |r| {
            if !std::mem::take(&mut header) && r.len() > key_column {
                f(r);
            }
        })
        .map_err(|e| SalesforceError::Read(format!("Bulk API job {id} results: {e}")))
    };
    let ok = salesforce
        .data_reply(Method::GET, &format!("{path}/successfulResults"), None)
        .await?;
    let mut succeeded = HashMap::new();
    rows(&ok.body, &mut |r| {
        succeeded.insert(key(r), r[0].to_owned());
    })?;
    drop(ok);
    let bad = salesforce
        .data_reply(Method::GET, &format!("{path}/failedResults"), None)
        .await?;
    let mut failed = HashMap::new();
    rows(&bad.body, &mut |r| {
        // `CODE:message:fields`
        let mut parts = r[1].splitn(2, ':');
        let code = parts.next().unwrap_or_default().to_owned();
        let rest = parts.next().unwrap_or_default();
        let message = rest
            .rsplit_once(':')
            .map_or(rest, |(message, _fields)| message)
            .to_owned();
        failed.insert(key(r), Failure { code, message });
    })?;
    Ok(JobResults {
        key: upload.key,
        columns: upload.columns.clone(),
        succeeded,
        failed,
        unprocessed: Failure::new(
            "NOT_PROCESSED",
            "the Bulk API job did not process this record",
        ),
    })
}
