//! Bulk API 2.0 ingest jobs (shared/reference/salesforce-api.md §3.7): create a job, upload CSV,
//! mark it `UploadComplete`, poll it, read `successfulResults` / `failedResults` /
//! `unprocessedrecords`, list jobs. The emulator writes a job's records when its upload completes,
//! through the same record rules as every other write, but the job shows them over several
//! polls (`bulk_job_polls` in the world file): `UploadComplete` → `InProgress` → `JobComplete`.
//! Until it is complete, its counts are 0 and its result files hold only their header: a client
//! that reads results early finds none, as it would on a real org.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::super::http::{json_response, salesforce_error};
use super::super::ids;
use super::super::state::object_name;
use super::super::{Request, Shared};
use super::records::{Failure, create, update};
use crate::concurrent::lock;

/// One ingest job.
#[derive(Debug)]
pub(crate) struct Job {
    id: String,
    object: &'static str,
    operation: String,
    state: &'static str,
    version: String,
    created: String,
    /// The uploaded CSV, as uploaded.
    data: String,
    /// Per row: the header, the row, and the record id or the failure.
    header: Vec<String>,
    results: Vec<(Vec<String>, RowResult)>,
    error: Option<String>,
    /// Polls still to come before the job shows how it ended (`JobComplete` or `Failed`).
    polls_left: u32,
    /// What the job ended as, shown once `polls_left` reaches 0.
    ended: &'static str,
    /// The user who opened the job: its rows run as that user.
    created_by: Option<String>,
}

impl Job {
    /// Whether the job's results are visible: it ended. An aborted job's processed rows stay
    /// written and listed ("If changes to data have already been committed, they aren't rolled
    /// back", Bulk API "Abort a Job"); the emulator processes a job's rows when its upload
    /// completes, so one aborted after that lists them all.
    fn done(&self) -> bool {
        matches!(self.state, "JobComplete" | "Failed" | "Aborted")
    }

    /// A poll: the job moves one step towards how it ended.
    fn poll(&mut self, polls: u32) {
        if !matches!(self.state, "UploadComplete" | "InProgress") {
            return;
        }
        self.polls_left = self.polls_left.saturating_sub(1);
        self.state = if self.polls_left == 0 {
            self.ended
        } else if self.polls_left + 1 == polls && polls >= 3 {
            "UploadComplete"
        } else {
            "InProgress"
        };
    }
}

/// A row's record id and whether it was created, or why it failed.
type RowResult = Result<(String, bool), Failure>;

/// The jobs of the org, by id.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    jobs: HashMap<String, Job>,
    next: u64,
}

fn not_found() -> Response {
    salesforce_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

fn invalid(message: &str) -> Response {
    salesforce_error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

pub(crate) fn route(
    shared: &Shared,
    request: &Request,
    version: &str,
    segments: &[&str],
    caller: Option<&str>,
) -> Response {
    match (request.method.as_str(), segments) {
        ("POST", []) => open(shared, version, &request.body, caller),
        ("GET", []) => list(shared),
        ("GET", [id]) => {
            let polls = shared.state().org.bulk_job_polls;
            let mut jobs = lock(&shared.jobs);
            match jobs.jobs.get_mut(*id) {
                Some(job) => {
                    job.poll(polls);
                    json_response(StatusCode::OK, &info(job))
                }
                None => not_found(),
            }
        }
        ("PUT", [id, "batches"]) => upload(shared, id, &request.body),
        ("PATCH", [id]) => change_state(shared, id, &request.body),
        ("DELETE", [id]) => match lock(&shared.jobs).jobs.remove(*id) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => not_found(),
        },
        ("GET", [id, "successfulResults"]) => with_job(shared, id, |job| results(job, true)),
        ("GET", [id, "failedResults"]) => with_job(shared, id, |job| results(job, false)),
        ("GET", [id, unprocessed]) if unprocessed.eq_ignore_ascii_case("unprocessedrecords") => {
            with_job(shared, id, |job| {
                let mut out = String::new();
                write_row(&mut out, job.header.iter().map(String::as_str));
                // Rows of a job never processed; one aborted after its upload completed was
                // processed already (the emulator writes at upload completion).
                if job.results.is_empty() && matches!(job.state, "Open" | "Aborted") {
                    for row in crate::csv::parse(&job.data)
                        .unwrap_or_default()
                        .iter()
                        .skip(1)
                    {
                        write_row(&mut out, row.iter().map(String::as_str));
                    }
                }
                csv_response(out)
            })
        }
        _ => not_found(),
    }
}

fn with_job(shared: &Shared, id: &str, f: impl FnOnce(&Job) -> Response) -> Response {
    match lock(&shared.jobs).jobs.get(id) {
        Some(job) => f(job),
        None => not_found(),
    }
}

/// `GET /jobs/ingest`: every ingest job of the org, oldest first, in one page.
fn list(shared: &Shared) -> Response {
    let jobs = lock(&shared.jobs);
    let mut records: Vec<&Job> = jobs.jobs.values().collect();
    records.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let records: Vec<Value> = records.into_iter().map(summary).collect();
    json_response(
        StatusCode::OK,
        &json!({"done": true, "records": records, "nextRecordsUrl": null}),
    )
}

/// A job as the list of jobs shows it.
fn summary(job: &Job) -> Value {
    json!({
        "id": job.id,
        "operation": job.operation,
        "object": job.object,
        "createdById": job
            .created_by
            .as_deref()
            .unwrap_or(crate::emulator::state::SETUP_USER_ID),
        "createdDate": job.created,
        "systemModstamp": job.created,
        "state": job.state,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": job.version.parse::<f64>().unwrap_or(62.0),
        "jobType": "V2Ingest",
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
    })
}

/// The job info document: the summary, its upload URL and its counts.
fn info(job: &Job) -> Value {
    let shown: &[(Vec<String>, RowResult)] = if job.done() { &job.results } else { &[] };
    let failed = shown.iter().filter(|(_, r)| r.is_err()).count();
    let mut info = summary(job);
    if let Value::Object(fields) = &mut info {
        fields.extend([
            (
                "contentUrl".to_owned(),
                json!(format!(
                    "services/data/v{}/jobs/ingest/{}/batches",
                    job.version, job.id
                )),
            ),
            ("numberRecordsProcessed".to_owned(), json!(shown.len())),
            ("numberRecordsFailed".to_owned(), json!(failed)),
            ("retries".to_owned(), json!(0)),
            ("totalProcessingTime".to_owned(), json!(0)),
            ("errorMessage".to_owned(), json!(job.error)),
        ]);
    }
    info
}

fn open(shared: &Shared, version: &str, body: &[u8], caller: Option<&str>) -> Response {
    let Ok(Value::Object(spec)) = serde_json::from_slice::<Value>(body) else {
        return salesforce_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
        );
    };
    let text = |key: &str| spec.get(key).and_then(Value::as_str);
    let Some(object) = text("object").and_then(object_name) else {
        return invalid("Unable to find object: the job's object is not supported");
    };
    let operation = text("operation").unwrap_or_default();
    if !matches!(operation, "insert" | "update") {
        return invalid(&format!(
            "InvalidJob : the emulator supports the insert and update operations, not {operation:?}"
        ));
    }
    // jsforce sends only object and operation; the rest defaults as on a real org.
    if text("contentType").is_some_and(|c| c != "CSV")
        || text("columnDelimiter").is_some_and(|c| c != "COMMA")
    {
        return invalid("InvalidJob : the emulator reads comma-separated CSV only");
    }
    let created = shared.state().org.tick();
    let mut jobs = lock(&shared.jobs);
    jobs.next += 1;
    let pod = shared.state().org.pod.clone();
    let id = ids::make(ids::BULK_JOB, &pod, jobs.next);
    let job = Job {
        id: id.clone(),
        object,
        operation: operation.to_owned(),
        state: "Open",
        version: version.to_owned(),
        created,
        data: String::new(),
        header: Vec::new(),
        results: Vec::new(),
        error: None,
        polls_left: 0,
        ended: "JobComplete",
        created_by: caller.map(str::to_owned),
    };
    let body = info(&job);
    jobs.jobs.insert(id, job);
    json_response(StatusCode::OK, &body)
}

fn upload(shared: &Shared, id: &str, body: &[u8]) -> Response {
    let mut jobs = lock(&shared.jobs);
    let Some(job) = jobs.jobs.get_mut(id) else {
        return not_found();
    };
    if job.state != "Open" {
        return invalid(&format!(
            "InvalidJobState : the job is {}, data can be uploaded only while it is Open",
            job.state
        ));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return invalid("InvalidBatch : the CSV is not UTF-8");
    };
    if job.data.is_empty() {
        job.data.push_str(text);
    } else {
        // A second upload adds rows under the same header.
        job.data.extend(text.split_once('\n').map(|(_, rows)| rows));
    }
    StatusCode::CREATED.into_response()
}

fn change_state(shared: &Shared, id: &str, body: &[u8]) -> Response {
    let wanted = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("state").and_then(Value::as_str).map(str::to_owned));
    let mut jobs = lock(&shared.jobs);
    let Some(job) = jobs.jobs.get_mut(id) else {
        return not_found();
    };
    match wanted.as_deref() {
        Some("Aborted") if matches!(job.state, "Open" | "UploadComplete") => {
            job.state = "Aborted";
        }
        Some("UploadComplete") if job.state == "Open" => {
            let mut state = shared.state();
            let mut faults = lock(&shared.faults);
            process(job, &mut state.org, &mut faults);
            job.ended = job.state;
            job.state = "UploadComplete";
            job.polls_left = state.org.bulk_job_polls;
        }
        _ => {
            return invalid(&format!(
                "InvalidJobState : a {} job cannot change to {}",
                job.state,
                wanted.as_deref().unwrap_or("no state")
            ));
        }
    }
    // The answer to the PATCH reports the state asked for; the processing shows on later GETs.
    json_response(StatusCode::OK, &info(job))
}

/// Runs every row of the job through the record rules.
fn process(job: &mut Job, org: &mut super::super::state::Org, faults: &mut super::super::Faults) {
    let rows = match crate::csv::parse(&job.data) {
        Ok(rows) if !rows.is_empty() => rows,
        Ok(_) => {
            job.state = "Failed";
            job.error = Some("InvalidBatch : the upload has no header row".to_owned());
            return;
        }
        Err(e) => {
            job.state = "Failed";
            job.error = Some(format!("InvalidBatch : {e}"));
            return;
        }
    };
    let mut rows = rows.into_iter();
    job.header = rows.next().unwrap_or_default();
    // A column named twice would let its last cell decide silently (the record's Id above all):
    // the whole upload is refused. The wording is the emulator's; Salesforce's is not published.
    if let Some(twice) = job.header.iter().enumerate().find_map(|(i, name)| {
        job.header[..i]
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(name))
            .then_some(name)
    }) {
        job.state = "Failed";
        job.error = Some(format!(
            "InvalidBatch : Duplicate field name in the header row: {twice}"
        ));
        return;
    }
    for row in rows {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        let mut fields = Map::new();
        for (name, text) in job.header.iter().zip(&row) {
            // An empty cell leaves the field as it is (unset on insert); `#N/A` sets null.
            if !text.is_empty() {
                fields.insert(name.clone(), csv_value(text));
            }
        }
        let result = if row.len() == job.header.len() {
            if job.operation == "insert" {
                create(org, faults, job.object, fields, job.created_by.as_deref())
                    .map(|id| (id, true))
            } else {
                let id = fields
                    .remove("Id")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                update(
                    org,
                    faults,
                    job.object,
                    &id,
                    fields,
                    job.created_by.as_deref(),
                )
                .map(|()| (ids::normalize(&id).unwrap_or(id), false))
            }
        } else {
            Err(Failure::new(
                "INVALID_FIELD",
                "the row's column count differs from the header's",
                &[],
            ))
        };
        job.results.push((row, result));
    }
    job.state = "JobComplete";
}

/// A CSV cell as the field's value: `#N/A` is null, anything else text (typed by the record
/// rules, as every write is: a checkbox's `true` becomes a boolean there).
fn csv_value(text: &str) -> Value {
    if text == "#N/A" {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
}

/// `successfulResults` (`sf__Id`, `sf__Created`) or `failedResults` (`sf__Id`, `sf__Error`),
/// followed by the uploaded columns.
fn results(job: &Job, successful: bool) -> Response {
    let mut out = String::new();
    let shown: &[(Vec<String>, RowResult)] = if job.done() { &job.results } else { &[] };
    let second = if successful {
        "sf__Created"
    } else {
        "sf__Error"
    };
    write_row(
        &mut out,
        ["sf__Id", second]
            .into_iter()
            .chain(job.header.iter().map(String::as_str)),
    );
    for (row, result) in shown {
        let (id, second) = match (result, successful) {
            (Ok((id, created)), true) => (id.clone(), created.to_string()),
            (Err(f), false) => {
                let fields = if f.fields.is_empty() {
                    "--".to_owned()
                } else {
                    f.fields.join(",")
                };
                (String::new(), format!("{}:{}:{fields}", f.code, f.message))
            }
            _ => continue,
        };
        write_row(
            &mut out,
            [id.as_str(), second.as_str()]
                .into_iter()
                .chain(row.iter().map(String::as_str)),
        );
    }
    csv_response(out)
}

/// Appends one CSV row as Salesforce writes its result files, through the `csv` crate (not
/// roster's own writer, which the emulator's answers would otherwise only echo).
fn write_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if writer.write_record(fields).is_ok()
        && let Ok(bytes) = writer.into_inner()
    {
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
}

fn csv_response(text: String) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/csv"));
    response
}
