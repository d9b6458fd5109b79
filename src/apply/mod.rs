//! Carrying out a plan exactly: it decides nothing. Users are updated and created through sObject
//! Collections (200 records a request), or a Bulk API 2.0 ingest job above a threshold; then
//! permission-set assignments are added and removed (setup objects cannot share a request with
//! users); deactivations and freezes come last. Requests run side by side, a few at a time.
//!
//! A record Salesforce rejects fails alone, with Salesforce's code and message; the others go
//! on. `UNABLE_TO_LOCK_ROW` is retried a few rounds. A request that fails as a whole (after the
//! HTTP layer's own retries) — `REQUEST_LIMIT_EXCEEDED` above all — stops the apply cleanly:
//! nothing more is sent, and the report says what was and was not applied.

mod bulk;
mod requests;
mod stale;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::plan::{Action, Change, Plan};
use crate::progress::Task;
use crate::salesforce::Salesforce;

use requests::{Op, delete_assignments, stop_on, write};
pub(crate) use stale::check as check_fresh;

/// Above this many records of one kind a Bulk API 2.0 job writes them, unless told otherwise:
/// Salesforce's own advice ("more than 2,000 records is a good candidate for Bulk API 2.0").
pub(crate) const DEFAULT_BULK_THRESHOLD: usize = 2000;

/// How to write.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// Above this many records of one kind, a Bulk API 2.0 job writes them.
    pub(crate) bulk_threshold: usize,
    /// Requests in flight at once.
    pub(crate) concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bulk_threshold: DEFAULT_BULK_THRESHOLD,
            concurrency: 4,
        }
    }
}

/// What became of one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Every part of it is done.
    Applied,
    /// Salesforce rejected a part of it, or its request failed.
    Failed,
    /// roster stopped before sending it.
    NotAttempted,
}

/// One step of a change that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Failure {
    /// `create`, `update`, `deactivate`, `freeze`, `add permission set X`, ...
    pub(crate) step: String,
    /// Salesforce's code (`DUPLICATE_USERNAME`, ...), or roster's for a failed request.
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The result of one change of the plan.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ChangeResult {
    pub(crate) status: Status,
    /// The Salesforce User id (new for a create).
    pub(crate) target_id: Option<String>,
    /// Ids of permission-set assignments created.
    pub(crate) assignment_ids: Vec<String>,
    pub(crate) failures: Vec<Failure>,
    /// Something a reader should know, e.g. a create found already done.
    pub(crate) note: Option<String>,
    /// Whether any part of it was sent.
    #[serde(skip)]
    attempted: bool,
}

/// Everything an apply did.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    /// One per change, in the plan's order.
    pub(crate) results: Vec<ChangeResult>,
    /// Why roster stopped early, when it did.
    pub(crate) stopped: Option<String>,
}

/// The outcome of writing one record.
#[derive(Clone, Debug)]
enum Written {
    Ok(String),
    Failed(Failure),
    NotSent,
}

/// Why an apply stops sending requests, once it must: set by a failed request, or from outside
/// (an interrupt). Requests in flight finish; nothing new is sent.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stop(Arc<Mutex<Option<String>>>);

impl Stop {
    /// Stops the apply; the first reason given is the one reported.
    pub(crate) fn stop(&self, why: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(why);
    }

    fn reason(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What every write shares: the client, the options, the progress line and the stop signal.
#[derive(Clone)]
struct Ctx {
    salesforce: Arc<Salesforce>,
    options: Options,
    task: Task,
    stop: Stop,
}

impl Ctx {
    fn stopped(&self) -> bool {
        self.stop.reason().is_some()
    }

    fn stop(&self, why: String) {
        self.stop.stop(why);
    }
}

/// Applies `plan` to the org `salesforce` is logged in to; `stop` ends it early and cleanly.
pub(crate) async fn apply(
    salesforce: Arc<Salesforce>,
    plan: &Plan,
    options: Options,
    task: Task,
    stop: Stop,
) -> Report {
    let ctx = Ctx {
        salesforce,
        options,
        task,
        stop,
    };
    let total: usize = plan
        .changes
        .iter()
        .map(|c| {
            usize::from(!c.after.is_empty() || c.action == Action::Create)
                + c.permission_sets.add.len()
                + c.permission_sets.remove.len()
        })
        .sum();
    ctx.task.step("applying");
    ctx.task.set_total(total as u64);
    let mut results: Vec<ChangeResult> = plan
        .changes
        .iter()
        .map(|c| ChangeResult {
            status: Status::NotAttempted,
            target_id: c.target_id.clone(),
            assignment_ids: Vec::new(),
            failures: Vec::new(),
            note: None,
            attempted: false,
        })
        .collect();
    let changes = &plan.changes;
    users(&ctx, changes, &mut results).await;
    permission_sets(&ctx, changes, &mut results).await;
    deprovision(&ctx, changes, &mut results).await;
    for result in &mut results {
        result.status = if !result.failures.is_empty() {
            Status::Failed
        } else if result.attempted {
            Status::Applied
        } else {
            Status::NotAttempted
        };
    }
    let stopped = ctx.stop.reason();
    ctx.task.finish("done");
    Report { results, stopped }
}

/// The indexes of the changes with one of `actions`.
fn of(changes: &[Change], actions: &[Action]) -> Vec<usize> {
    (0..changes.len())
        .filter(|i| actions.contains(&changes[*i].action))
        .collect()
}

/// Users: updates (and reactivations), then creates.
async fn users(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    let updates: Vec<(usize, Map<String, Value>)> =
        of(changes, &[Action::Update, Action::Reactivate])
            .into_iter()
            .filter(|i| !changes[*i].after.is_empty())
            .map(|i| (i, record(&changes[i], changes[i].target_id.as_deref())))
            .collect();
    let written = write(ctx, Op::Update, "User", updates).await;
    settle(results, changes, written, |c| step_name(c.action));
    let creates: Vec<(usize, Map<String, Value>)> = of(changes, &[Action::Create])
        .into_iter()
        .map(|i| (i, record(&changes[i], None)))
        .collect();
    let mut written = write(ctx, Op::Insert, "User", creates).await;
    found_after_lost_response(ctx, changes, &mut written, results).await;
    settle(results, changes, written, |_| "create");
}

/// Permission-set assignments, for users whose own write did not fail.
async fn permission_sets(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    let ready = |i: usize, results: &[ChangeResult]| {
        results[i].failures.is_empty() && results[i].target_id.is_some()
    };
    let mut adds = Vec::new();
    let mut add_of = Vec::new();
    let mut removes = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        if !ready(i, results) {
            continue;
        }
        let assignee = results[i].target_id.clone().unwrap_or_default();
        for set in &change.permission_sets.add {
            let mut fields = Map::new();
            fields.insert(
                "attributes".into(),
                json!({"type": "PermissionSetAssignment"}),
            );
            fields.insert("AssigneeId".into(), json!(assignee));
            fields.insert("PermissionSetId".into(), json!(set.id));
            add_of.push(set.name.clone());
            adds.push((i, fields));
        }
        for set in &change.permission_sets.remove {
            if let Some(id) = &set.assignment_id {
                removes.push((i, set.name.clone(), id.clone()));
            }
        }
    }
    let written = write(ctx, Op::Insert, "PermissionSetAssignment", adds).await;
    for ((i, outcome), name) in written.into_iter().zip(add_of) {
        let step = format!("add permission set {name}");
        match outcome {
            // Already assigned is what was wanted.
            Written::Failed(f) if f.code == "DUPLICATE_VALUE" => results[i].attempted = true,
            Written::Ok(id) => {
                results[i].attempted = true;
                results[i].assignment_ids.push(id);
            }
            other => record_failure(&mut results[i], other, step),
        }
    }
    for (i, name, outcome) in delete_assignments(ctx, removes).await {
        let step = format!("remove permission set {name}");
        match outcome {
            // Already gone is what was wanted.
            Written::Failed(f) if f.code == "ENTITY_IS_DELETED" || f.code == "NOT_FOUND" => {
                results[i].attempted = true;
            }
            Written::Ok(_) => results[i].attempted = true,
            other => record_failure(&mut results[i], other, step),
        }
    }
}

/// Deactivations and freezes, last.
async fn deprovision(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    let deactivations: Vec<(usize, Map<String, Value>)> = of(changes, &[Action::Deactivate])
        .into_iter()
        .map(|i| (i, record(&changes[i], changes[i].target_id.as_deref())))
        .collect();
    let written = write(ctx, Op::Update, "User", deactivations).await;
    settle(results, changes, written, |_| "deactivate");
    let freezes = freeze_records(ctx, changes, &of(changes, &[Action::Freeze]), results).await;
    let written = write(ctx, Op::Update, "UserLogin", freezes).await;
    settle(results, changes, written, |_| "freeze");
}

fn step_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Reactivate => "reactivate",
        Action::Deactivate => "deactivate",
        Action::Freeze => "freeze",
    }
}

/// The record to write for a change: its `after` fields, with the id for an update.
fn record(change: &Change, id: Option<&str>) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("attributes".into(), json!({"type": "User"}));
    if let Some(id) = id {
        fields.insert("Id".into(), json!(id));
    }
    for (name, value) in &change.after {
        fields.insert(name.to_string(), value.clone());
    }
    fields
}

/// Files each user write's outcome under its change.
fn settle(
    results: &mut [ChangeResult],
    changes: &[Change],
    written: Vec<(usize, Written)>,
    step: impl Fn(&Change) -> &'static str,
) {
    for (i, outcome) in written {
        match outcome {
            Written::Ok(id) => {
                results[i].attempted = true;
                if changes[i].action == Action::Create {
                    results[i].target_id = Some(id);
                }
            }
            other => record_failure(&mut results[i], other, step(&changes[i]).to_owned()),
        }
    }
}

fn record_failure(result: &mut ChangeResult, outcome: Written, step: String) {
    match outcome {
        Written::Failed(mut failure) => {
            result.attempted = true;
            failure.step = step;
            result.failures.push(failure);
        }
        Written::NotSent | Written::Ok(_) => {}
    }
}

/// Creates that failed with `DUPLICATE_USERNAME` because an earlier attempt did succeed (its
/// answer was lost and the request was sent again): a user with that Username now exists in
/// this org, although the plan saw none. Such a create is done; the next plan compares it.
async fn found_after_lost_response(
    ctx: &Ctx,
    changes: &[Change],
    written: &mut [(usize, Written)],
    results: &mut [ChangeResult],
) {
    let duplicates: Vec<usize> = (0..written.len())
        .filter(|k| matches!(&written[*k].1, Written::Failed(f) if f.code == "DUPLICATE_USERNAME"))
        .collect();
    if duplicates.is_empty() || ctx.stopped() {
        return;
    }
    let names: Vec<String> = duplicates
        .iter()
        .map(|k| {
            changes[written[*k].0]
                .after
                .get("Username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let found = match stale::ids_by_username(&ctx.salesforce, &names).await {
        Ok(found) => found,
        Err(e) => {
            stop_on(ctx, &e);
            return;
        }
    };
    for (k, name) in duplicates.into_iter().zip(&names) {
        if let Some(id) = found.get(&name.to_lowercase()) {
            let i = written[k].0;
            written[k].1 = Written::Ok(id.clone());
            results[i].note = Some(
                "the Username already existed in this org when roster created it: a retried \
                 request had created it, or someone did after the plan; the next plan compares it"
                    .to_owned(),
            );
        }
    }
}

/// The `UserLogin` records to freeze: each user's login, looked up by user id.
async fn freeze_records(
    ctx: &Ctx,
    changes: &[Change],
    indexes: &[usize],
    results: &mut [ChangeResult],
) -> Vec<(usize, Map<String, Value>)> {
    if indexes.is_empty() || ctx.stopped() {
        return Vec::new();
    }
    let users: Vec<String> = indexes
        .iter()
        .filter_map(|i| changes[*i].target_id.clone())
        .collect();
    let logins: BTreeMap<String, String> = match stale::logins(&ctx.salesforce, &users).await {
        Ok(logins) => logins,
        Err(e) => {
            stop_on(ctx, &e);
            return Vec::new();
        }
    };
    let mut records = Vec::new();
    for &i in indexes {
        let user = changes[i].target_id.clone().unwrap_or_default();
        match logins.get(crate::salesforce::id15(&user)) {
            Some(login) => {
                let mut fields = Map::new();
                fields.insert("attributes".into(), json!({"type": "UserLogin"}));
                fields.insert("Id".into(), json!(login));
                fields.insert("IsFrozen".into(), json!(true));
                records.push((i, fields));
            }
            None => record_failure(
                &mut results[i],
                Written::Failed(Failure {
                    step: String::new(),
                    code: "NOT_FOUND".to_owned(),
                    message: format!("no UserLogin record for user {user}"),
                }),
                "freeze".to_owned(),
            ),
        }
    }
    records
}
