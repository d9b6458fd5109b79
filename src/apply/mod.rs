//! Carrying out a plan exactly: it decides nothing. Users are updated and created through sObject
//! Collections (200 records a request), or a Bulk API 2.0 ingest job above a threshold; then
//! permission-set assignments are added and removed (setup objects cannot share a request with
//! users); deactivations and freezes come last. Requests run side by side, a few at a time.
//!
//! A record Salesforce rejects fails alone, with Salesforce's code and message; the others go
//! on. `UNABLE_TO_LOCK_ROW` is retried a few rounds. A request that fails as a whole (after the
//! HTTP layer's own retries) — `REQUEST_LIMIT_EXCEEDED` above all — stops the apply cleanly:
//! nothing more is sent, and the report says what was and was not applied.

pub(crate) mod app_roles;
mod bulk;
mod record;
mod requests;
mod stale;
mod verify;

pub(crate) use record::{
    ApplyReport, AuditLog, Tally, apply_report_schema_text, audit_line_schema_text,
    audit_line_schemas, complete,
};

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::config::WhenRefused;
use crate::field_value::FieldValue;
use crate::grants::GrantKind;
use crate::plan::{Action, Change, Plan};
use crate::progress::Task;
use crate::salesforce::Salesforce;

pub(crate) use crate::salesforce::write::Failure;
use crate::salesforce::write::{Op, Record};
use requests::{delete_assignments, write};
pub(crate) use stale::Comparison;

/// Above this many records of one kind a Bulk API 2.0 job writes them, unless told otherwise:
/// Salesforce's own advice ("more than 2,000 records is a good candidate for Bulk API 2.0").
pub(crate) const DEFAULT_BULK_THRESHOLD: usize = 2000;

/// How to write.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// The ids, in their 15-character form, of the Users read for the plan: a create that
    /// Salesforce answers with one of them made no new user, whatever the answer says, and its
    /// grants would go to that user (a protected administrator, say).
    pub(crate) existing_users: Arc<crate::hash::HashSet<String>>,
    /// Above this many records of one kind, a Bulk API 2.0 job writes them.
    pub(crate) bulk_threshold: usize,
    /// Requests in flight at once.
    pub(crate) concurrency: usize,
    /// What to do when Salesforce refuses a deactivation (`deprovision.when_refused`).
    pub(crate) when_refused: WhenRefused,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            existing_users: Arc::default(),
            bulk_threshold: DEFAULT_BULK_THRESHOLD,
            concurrency: 4,
            when_refused: WhenRefused::Freeze,
        }
    }
}

/// What became of one step, and of a change as a whole.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Done: Salesforce confirmed it (for a change, every step was).
    Applied,
    /// Salesforce rejected it, or its request failed (for a change, at least one step did).
    Failed,
    /// roster did not send it: it stopped first, or an earlier step of the change failed.
    NotAttempted,
    /// Its request failed as a whole and looking it up afterwards failed too: Salesforce may
    /// or may not have carried it out; the next plan shows which.
    Unknown,
    /// A change only: some steps applied, the rest not attempted, none failed.
    Incomplete,
}

/// One step a change needs — the user write (`create`, `update`, `reactivate`, `deactivate`,
/// `freeze`) or one assignment (`add permission set X`, `remove permission set X`) — and its
/// result; a failed step carries Salesforce's code and message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct Step {
    // Shared between the changes that take the same step (`add queue Support_Tier_1`).
    #[serde(rename = "step")]
    pub(crate) name: Arc<str>,
    pub(crate) result: Status,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) failure: Option<Failure>,
}

/// Step names, each held once however many changes take the step: a whole-world apply plans
/// 88,000 creates of the same three steps.
#[derive(Default)]
struct StepNames(std::collections::HashMap<String, Arc<str>>);

impl StepNames {
    fn shared(&mut self, name: String) -> Arc<str> {
        Arc::clone(
            self.0
                .entry(name)
                .or_insert_with_key(|name| Arc::from(name.as_str())),
        )
    }
}

/// The result of one change of the plan.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ChangeResult {
    /// `applied` only when every step was.
    pub(crate) status: Status,
    /// The Salesforce User id (new for a create).
    pub(crate) target_id: Option<String>,
    /// Ids of permission-set assignments created.
    pub(crate) assignment_ids: Vec<String>,
    /// Every step the change needs, in the order they are sent.
    pub(crate) steps: Vec<Step>,
    /// Something a reader should know, e.g. a create found already done.
    pub(crate) note: Option<String>,
}

impl ChangeResult {
    /// The steps that failed or whose outcome is unknown, each as `("create failed", why)`.
    pub(crate) fn failures(&self) -> impl Iterator<Item = (String, &Failure)> {
        self.steps.iter().filter_map(|s| {
            let what = match s.result {
                Status::Unknown => "outcome unknown",
                _ => "failed",
            };
            Some((format!("{} {what}", s.name), s.failure.as_ref()?))
        })
    }

    /// Files one step's outcome; `NotSent` leaves it not attempted.
    fn settle(&mut self, step: usize, outcome: Written) {
        let Some(step) = self.steps.get_mut(step) else {
            return;
        };
        match outcome {
            Written::Ok(_) => step.result = Status::Applied,
            Written::Failed(failure) => {
                step.result = Status::Failed;
                step.failure = Some(failure);
            }
            Written::Unknown(failure) => {
                step.result = Status::Unknown;
                step.failure = Some(failure);
            }
            Written::NotSent => {}
        }
        self.status = overall(&self.steps);
    }

    /// Whether the user write (the first step, for creates, updates and reactivations) is not
    /// known to have succeeded: later steps of the change are then not sent.
    fn user_write_unconfirmed(&self, change: &Change) -> bool {
        user_step(change).is_some() && self.steps.first().map(|s| s.result) != Some(Status::Applied)
    }
}

/// A change's status from its steps.
fn overall(steps: &[Step]) -> Status {
    overall_of(steps.iter().map(|s| s.result))
}

/// A change's result from its steps' `results`: failed if one failed, else unknown if one is,
/// applied if all were, not attempted if none was, else incomplete. The audit log's `result`
/// is this of its `steps` (`roster log` refuses a line that says otherwise).
pub(crate) fn overall_of(results: impl IntoIterator<Item = Status>) -> Status {
    let (mut failed, mut unknown, mut all_applied, mut none_attempted) = (false, false, true, true);
    for result in results {
        failed |= result == Status::Failed;
        unknown |= result == Status::Unknown;
        all_applied &= result == Status::Applied;
        none_attempted &= result == Status::NotAttempted;
    }
    if failed {
        Status::Failed
    } else if unknown {
        Status::Unknown
    } else if all_applied {
        Status::Applied
    } else if none_attempted {
        Status::NotAttempted
    } else {
        Status::Incomplete
    }
}

/// The user write a change needs first, if any: creates, and updates or reactivations that
/// change a User field (an update may only change permission sets, or only unfreeze).
fn user_step(change: &Change) -> Option<&'static str> {
    let user_fields = change.after.keys().any(|k| k.as_ref() != "IsFrozen");
    match change.action {
        Action::Create => Some("create"),
        Action::Update | Action::Reactivate if !user_fields => None,
        Action::Update => Some("update"),
        Action::Reactivate => Some("reactivate"),
        Action::Deactivate | Action::Freeze => None,
    }
}

/// Whether an update turns a feature licence checkbox (`UserPermissions*`) off, freeing a seat.
fn frees_a_feature_licence(change: &Change) -> bool {
    let on = crate::grants::checkbox_on;
    change.after.iter().any(|(field, after)| {
        field.starts_with("UserPermissions") && !on(Some(after)) && on(change.before.get(field))
    })
}

/// Whether an update lets a frozen user back in (`IsFrozen` true to false on the UserLogin).
fn unfreezes(change: &Change) -> bool {
    matches!(change.action, Action::Update | Action::Reactivate)
        && change.after.get("IsFrozen") == Some(&FieldValue::Bool(false))
}

/// The index of a change's step by name.
fn step_of(result: &ChangeResult, name: &str) -> Option<usize> {
    result.steps.iter().position(|s| &*s.name == name)
}

/// Every step of a change, in the order apply sends them: the user write, the assignments
/// added, those removed, then the deactivation or freeze.
fn planned_steps(change: &Change, names: &mut StepNames) -> Vec<Step> {
    let mut pending = |name: String| Step {
        name: names.shared(name),
        result: Status::NotAttempted,
        failure: None,
    };
    let mut steps: Vec<Step> = user_step(change)
        .map(|s| pending(s.to_owned()))
        .into_iter()
        .collect();
    if unfreezes(change) {
        steps.push(pending("unfreeze".to_owned()));
    }
    // Removals first, the last kind first (group membership before the permission sets,
    // permission sets before the licences they need); then adds in dependency order. The
    // licences Salesforce assigns along with a permission set are not a step of roster's.
    steps.extend(
        change
            .grants
            .remove
            .iter()
            .rev()
            .map(|g| pending(g.step(false))),
    );
    steps.extend(change.grants.written_adds().map(|g| pending(g.step(true))));
    match change.action {
        Action::Deactivate => steps.push(pending("deactivate".to_owned())),
        Action::Freeze => steps.push(pending("freeze".to_owned())),
        _ => {}
    }
    steps
}

/// The phase after which a change has no step left to send (see `apply`).
fn last_phase(change: &Change) -> Phase {
    match change.action {
        Action::Deactivate | Action::Freeze => Phase::Deprovision,
        _ if !change.grants.is_empty() => Phase::Grants,
        _ => Phase::Users,
    }
}

/// The order of an apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Users,
    Grants,
    Deprovision,
}

/// Everything an apply did.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    /// One per change, in the plan's order.
    pub(crate) results: Vec<ChangeResult>,
    /// Why roster stopped early, when it did.
    pub(crate) stopped: Option<String>,
    /// The app-role changes' outcome (one Graph write for all), when the plan has any.
    pub(crate) app_roles: Option<AppRolesOutcome>,
}

impl Report {
    /// The report of `plan` with nothing sent: every step of every change not attempted, and
    /// `stopped` saying why (a plan held by the reconcile policy), or none before an apply.
    pub(crate) fn not_attempted(plan: &Plan, stopped: Option<String>) -> Report {
        let mut names = StepNames::default();
        let results = plan
            .changes
            .iter()
            .map(|c| {
                let steps = planned_steps(c, &mut names);
                ChangeResult {
                    status: overall(&steps),
                    target_id: c.target_id.as_deref().map(str::to_owned),
                    assignment_ids: Vec::new(),
                    steps,
                    note: None,
                }
            })
            .collect();
        Report {
            results,
            app_roles: (stopped.is_some() && !plan.app_roles.is_empty()).then_some(
                AppRolesOutcome {
                    status: Status::NotAttempted,
                    error: None,
                },
            ),
            stopped,
        }
    }
}

/// What became of the plan's app-role changes: written together, so one status.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct AppRolesOutcome {
    pub(crate) status: Status,
    /// Graph's error, when the write failed.
    pub(crate) error: Option<String>,
}

/// The outcome of writing one record.
#[derive(Clone, Debug)]
enum Written {
    /// Written; the record's id.
    Ok(String),
    /// Refused, or not written.
    Failed(Failure),
    /// Its request failed as a whole: it may or may not have been written (`verify` looks).
    Unknown(Failure),
    NotSent,
}

/// Why an apply stops sending requests, once it must: set by a failed request, or from outside
/// (an interrupt). Requests in flight finish; nothing new is sent.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stop(Arc<Mutex<Option<String>>>);

impl Stop {
    /// Stops the apply; the first reason given is the one reported.
    pub(crate) fn stop(&self, why: String) {
        crate::concurrent::lock(&self.0).get_or_insert(why);
    }

    fn reason(&self) -> Option<String> {
        crate::concurrent::lock(&self.0).clone()
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
///
/// Phases, in order: users (updates and reactivations, then creates), grants (removed in
/// reverse dependency order, then added in dependency order: licences, permission sets and
/// groups, group and queue membership; setup objects cannot share a request with users), then
/// deactivations and freezes. `settled` is called once per change, as soon as its last step is
/// decided (at the end of its last phase, or when the apply ends), so an audit log can be
/// written as the apply goes: a process killed midway keeps the record of what it finished.
pub(crate) async fn apply(
    salesforce: Arc<Salesforce>,
    plan: &Plan,
    options: Options,
    task: Task,
    stop: Stop,
    settled: &mut (dyn FnMut(usize, &ChangeResult) + Send),
) -> Report {
    let ctx = Ctx {
        salesforce,
        options,
        task,
        stop,
    };
    let changes = &plan.changes;
    let mut results = Report::not_attempted(plan, None).results;
    let total: usize = results.iter().map(|r| r.steps.len()).sum();
    ctx.task.step("applying");
    ctx.task.set_total(total as u64);
    let mut report_settled = |phase: Phase, results: &[ChangeResult]| {
        for (i, change) in changes.iter().enumerate() {
            if last_phase(change) == phase {
                settled(i, &results[i]);
            }
        }
    };
    // After each phase, what a failed request left unknown is looked up before anything is
    // reported or built upon.
    users(&ctx, changes, &mut results).await;
    verify::resolve(&ctx, changes, &mut results).await;
    report_settled(Phase::Users, &results);
    grants(&ctx, changes, &mut results).await;
    verify::resolve(&ctx, changes, &mut results).await;
    report_settled(Phase::Grants, &results);
    deprovision(&ctx, changes, &mut results).await;
    verify::resolve(&ctx, changes, &mut results).await;
    results.iter_mut().for_each(note_frozen_instead);
    report_settled(Phase::Deprovision, &results);
    let stopped = ctx.stop.reason();
    ctx.task.finish("done");
    Report {
        results,
        stopped,
        app_roles: None,
    }
}

/// The indexes of the changes with one of `actions`.
fn of(changes: &[Change], actions: &[Action]) -> Vec<usize> {
    (0..changes.len())
        .filter(|i| actions.contains(&changes[*i].action))
        .collect()
}

/// Users: updates (and reactivations), then creates.
async fn users(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    // Updates that turn a feature licence off go first, apart: the plan may have given the
    // seats they free to other users' updates and creates.
    let (freeing, updates): (Vec<usize>, Vec<usize>) =
        of(changes, &[Action::Update, Action::Reactivate])
            .into_iter()
            .filter(|i| user_step(&changes[*i]).is_some())
            .partition(|i| frees_a_feature_licence(&changes[*i]));
    let mut sent: Vec<(usize, Record<'_>)> = Vec::new();
    let mut written = Vec::new();
    for wave in [freeing, updates] {
        let records: Vec<(usize, Record<'_>)> = wave
            .into_iter()
            .map(|i| (i, record(&changes[i], changes[i].target_id.as_deref())))
            .collect();
        sent.extend(records.iter().cloned());
        written.extend(write(ctx, Op::Update, "User", records).await);
    }
    // A unique value the plan hands from one user to another (a rename) is refused while the
    // user giving it up is not written yet, whatever order the requests took: a unique field's
    // `DUPLICATE_VALUE`, a nickname's `DUPLICATE_COMM_NICKNAME`.
    let written = again_while_progress(ctx, sent, written, |f| {
        matches!(
            f.code.as_str(),
            "DUPLICATE_VALUE" | "DUPLICATE_COMM_NICKNAME"
        )
    })
    .await;
    settle(results, written, |_| 0);
    // Returning users: their logins thawed once their user write (if any) is done.
    let thaws: Vec<(usize, Record<'_>)> = (0..changes.len())
        .filter(|i| unfreezes(&changes[*i]) && !results[*i].user_write_unconfirmed(&changes[*i]))
        .filter_map(|i| {
            let login = changes[i].login_id.as_ref()?;
            Some((i, login_record(login, false)))
        })
        .collect();
    let written = write(ctx, Op::Update, "UserLogin", thaws).await;
    let steps: Vec<usize> = written
        .iter()
        .map(|(i, _)| step_of(&results[*i], "unfreeze").unwrap_or_default())
        .collect();
    for ((i, outcome), step) in written.into_iter().zip(steps) {
        results[i].settle(step, outcome);
    }
    let creates: Vec<(usize, Record<'_>)> = of(changes, &[Action::Create])
        .into_iter()
        .map(|i| (i, record(&changes[i], None)))
        .collect();
    let mut written = write(ctx, Op::Insert, "User", creates).await;
    let mut answered = crate::hash::HashSet::default();
    for (i, outcome) in &mut written {
        if let Written::Ok(id) = outcome {
            let key = crate::salesforce::id15(id).to_owned();
            if ctx.options.existing_users.contains(&key) || !answered.insert(key) {
                *outcome = Written::Unknown(Failure::new(
                    "EXISTING_USER_ID",
                    format!(
                        "Salesforce answered the create with the id {id}, which is another \
                         user's (one read for the plan, or another create's): whether a user \
                         was made is unknown, and nothing more is written for this change"
                    ),
                ));
            } else {
                results[*i].target_id = Some(id.clone());
            }
        }
    }
    settle(results, written, |_| 0);
}

/// Grants, for users whose own write succeeded (or needed none); the steps of a user whose
/// write failed or was not sent stay not attempted. Removals go first, one assignment object at
/// a time from the last kind to the first (memberships, then permission sets and groups, then
/// licences: nothing is removed while something still needing it is held, and the seats they
/// free are there for the adds); then the adds, one write per assignment object and field in
/// `GrantKind` order (a licence before the permission set that needs it).
async fn grants(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    let ready: Vec<usize> = (0..changes.len())
        .filter(|i| {
            !changes[*i].grants.is_empty()
                && !results[*i].user_write_unconfirmed(&changes[*i])
                && results[*i].target_id.is_some()
        })
        .collect();
    for group in write_groups().iter().rev() {
        let mut removes = Vec::new();
        for &i in &ready {
            for g in changes[i]
                .grants
                .remove
                .iter()
                .filter(|g| group.contains(&g.kind))
            {
                let Some(step) = step_of(&results[i], &g.step(false)) else {
                    continue;
                };
                match &g.assignment_id {
                    Some(id) => removes.push((i, step, id.clone())),
                    None => results[i].settle(
                        step,
                        Written::Failed(Failure::new(
                            "NO_ASSIGNMENT_ID",
                            format!("the plan names no {} to delete", g.kind.spec().assignment),
                        )),
                    ),
                }
            }
        }
        for (i, step, outcome) in delete_assignments(ctx, removes).await {
            let outcome = match outcome {
                // Already gone (Salesforce removes a licence along with the last permission set
                // needing it, or someone did) is what was wanted.
                Written::Failed(f) if f.code == "ENTITY_IS_DELETED" || f.code == "NOT_FOUND" => {
                    Written::Ok(String::new())
                }
                other => other,
            };
            results[i].settle(step, outcome);
        }
    }
    for group in write_groups() {
        let spec = group[0].spec();
        let mut adds = Vec::new();
        let mut add_step = Vec::new();
        for &i in &ready {
            let assignee = results[i].target_id.clone().unwrap_or_default();
            for g in changes[i]
                .grants
                .written_adds()
                .filter(|g| group.contains(&g.kind))
            {
                let Some(step) = step_of(&results[i], &g.step(true)) else {
                    continue;
                };
                let mut fields = Record::default();
                fields.insert(
                    spec.assignee_field.into(),
                    FieldValue::from(assignee.as_str()),
                );
                fields.insert(spec.object_field.into(), FieldValue::from(&*g.id));
                add_step.push(step);
                adds.push((i, fields));
            }
        }
        let written = write(ctx, Op::Insert, spec.assignment, adds).await;
        for ((i, outcome), step) in written.into_iter().zip(add_step) {
            let outcome = match outcome {
                // Already assigned is what was wanted.
                Written::Failed(f) if f.code == "DUPLICATE_VALUE" => Written::Ok(String::new()),
                Written::Ok(id) => {
                    results[i].assignment_ids.push(id.clone());
                    Written::Ok(id)
                }
                other => other,
            };
            results[i].settle(step, outcome);
        }
    }
}

/// The kinds written together: consecutive kinds (in `GrantKind` order) whose assignments are
/// the same object and field (public groups and queues are both `GroupMember.GroupId`).
fn write_groups() -> Vec<Vec<GrantKind>> {
    let mut groups: Vec<Vec<GrantKind>> = Vec::new();
    for kind in GrantKind::ALL {
        let spec = kind.spec();
        match groups.last_mut() {
            Some(last)
                if last[0].spec().assignment == spec.assignment
                    && last[0].spec().object_field == spec.object_field =>
            {
                last.push(kind);
            }
            _ => groups.push(vec![kind]),
        }
    }
    groups
}

/// Deactivations and freezes, last: always the change's last step.
async fn deprovision(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    let last = |results: &[ChangeResult], i: usize| results[i].steps.len().saturating_sub(1);
    let deactivations: Vec<(usize, Record<'_>)> = of(changes, &[Action::Deactivate])
        .into_iter()
        .map(|i| (i, record(&changes[i], changes[i].target_id.as_deref())))
        .collect();
    let written = deactivate(ctx, deactivations).await;
    let steps: Vec<usize> = written.iter().map(|(i, _)| last(results, *i)).collect();
    let mut refused = Vec::new();
    for ((i, outcome), step) in written.into_iter().zip(steps) {
        if matches!(outcome, Written::Failed(_)) {
            refused.push(i);
        }
        results[i].settle(step, outcome);
    }
    if ctx.options.when_refused == WhenRefused::Freeze && !refused.is_empty() {
        freeze_refused(ctx, changes, results, &refused).await;
    }
    let freezes = freeze_records(changes, results);
    let written = write(ctx, Op::Update, "UserLogin", freezes).await;
    let steps: Vec<usize> = written.iter().map(|(i, _)| last(results, *i)).collect();
    for ((i, outcome), step) in written.into_iter().zip(steps) {
        results[i].settle(step, outcome);
    }
}

/// Writes `deactivations`, then sends again those Salesforce refused as the Manager of a user
/// still active — a User cannot report to an inactive User (Salesforce KB 000004425) — as long
/// as the round before deactivated someone (a report, perhaps). A team leaving together thus
/// goes in one apply whatever order the requests take. Outcomes in the order given.
async fn deactivate(ctx: &Ctx, deactivations: Vec<(usize, Record<'_>)>) -> Vec<(usize, Written)> {
    let sent = deactivations.clone();
    let written = write(ctx, Op::Update, "User", deactivations).await;
    again_while_progress(ctx, sent, written, reports_to).await
}

/// The User updates `sent` (`written`: their outcomes, in the same order) with those Salesforce
/// refused for a reason another write of theirs may remove (`for_now`) sent again, as long as
/// the round before wrote someone: each round that goes on wrote one more, so there are never
/// more rounds than records. Outcomes in the order sent.
async fn again_while_progress<'c>(
    ctx: &Ctx,
    sent: Vec<(usize, Record<'c>)>,
    mut written: Vec<(usize, Written)>,
    for_now: fn(&Failure) -> bool,
) -> Vec<(usize, Written)> {
    let mut progressed = written.iter().any(|(_, o)| matches!(o, Written::Ok(_)));
    for _ in 0..sent.len() {
        let refused: Vec<usize> = (0..written.len())
            .filter(|&at| matches!(&written[at].1, Written::Failed(f) if for_now(f)))
            .collect();
        if refused.is_empty() || !progressed || ctx.stopped() {
            break;
        }
        ctx.task.add_total(refused.len() as u64);
        let again = refused.iter().map(|&at| sent[at].clone()).collect();
        progressed = false;
        for (at, (_, outcome)) in refused
            .into_iter()
            .zip(write(ctx, Op::Update, "User", again).await)
        {
            progressed |= matches!(outcome, Written::Ok(_));
            if !matches!(outcome, Written::NotSent) {
                written[at].1 = outcome;
            }
        }
    }
    written
}

/// Whether `failure` is Salesforce refusing to deactivate a user named in a hierarchy field of
/// an active user (their Manager): "Cannot inactivate user that is the value of a hierarchy
/// field" (KB 000386275).
fn reports_to(failure: &Failure) -> bool {
    failure
        .message
        .contains("Cannot inactivate user that is the value of a hierarchy field")
}

/// Freezes the users whose deactivation Salesforce refused (`deprovision.when_refused:
/// freeze`, Salesforce's own advice): each change gets a `freeze` step after its failed
/// `deactivate`, so the audit log records both. Their logins are looked up now, since a plan
/// that deactivates does not read them.
async fn freeze_refused(
    ctx: &Ctx,
    changes: &[Change],
    results: &mut [ChangeResult],
    refused: &[usize],
) {
    for &i in refused {
        results[i].steps.push(Step {
            name: "freeze".into(),
            result: Status::NotAttempted,
            failure: None,
        });
    }
    ctx.task.add_total(refused.len() as u64);
    if ctx.stopped() {
        return;
    }
    let users: Vec<String> = refused
        .iter()
        .filter_map(|&i| changes[i].target_id.as_deref().map(str::to_owned))
        .collect();
    let logins = match crate::salesforce::soql::logins_of(&ctx.salesforce, &users).await {
        Ok(logins) => logins,
        Err(e) => {
            for &i in refused {
                let step = results[i].steps.len() - 1;
                results[i].settle(
                    step,
                    Written::Failed(Failure::new(
                        "LOOKUP_FAILED",
                        format!("the user's UserLogin could not be read: {e}"),
                    )),
                );
            }
            return;
        }
    };
    let mut records = Vec::new();
    for &i in refused {
        let login = changes[i]
            .target_id
            .as_deref()
            .and_then(|id| logins.get(crate::salesforce::id15(id)));
        let step = results[i].steps.len() - 1;
        match login {
            Some(login) => records.push((i, login_record(login, true))),
            None => results[i].settle(
                step,
                Written::Failed(Failure::new(
                    "NOT_FOUND",
                    "Salesforce lists no UserLogin record for the user",
                )),
            ),
        }
    }
    let written = write(ctx, Op::Update, "UserLogin", records).await;
    for (i, outcome) in written {
        let step = results[i].steps.len() - 1;
        results[i].settle(step, outcome);
    }
}

/// The note on a change whose deactivation Salesforce refused and whose freeze is confirmed
/// (written, or found written when looked up); nothing is said of a freeze that failed.
fn note_frozen_instead(result: &mut ChangeResult) {
    let step = |name: &str| step_of(result, name).map(|i| result.steps[i].result);
    if step("deactivate") == Some(Status::Failed) && step("freeze") == Some(Status::Applied) {
        result.note = Some(
            "Salesforce refused the deactivation; the user was frozen instead, so they cannot \
             log in. Clear what blocks the deactivation and apply again."
                .to_owned(),
        );
    }
}

/// The record to write for a change: its `after` fields, with the id for an update. A plan's
/// own `Id` field (which `validate` never lets a mapping produce) can never name another record.
fn record<'c>(change: &'c Change, id: Option<&str>) -> Record<'c> {
    let mut record = Record::of_change(&change.after);
    if let Some(id) = id {
        record.insert("Id".into(), FieldValue::from(id));
    }
    record
}

/// Files each record's outcome under its change, at the step `step` names.
fn settle(
    results: &mut [ChangeResult],
    written: Vec<(usize, Written)>,
    step: impl Fn(usize) -> usize,
) {
    for (i, outcome) in written {
        results[i].settle(step(i), outcome);
    }
}

/// The `UserLogin` record that freezes (`frozen`) or thaws the login `login`.
fn login_record(login: &str, frozen: bool) -> Record<'static> {
    Record::from(crate::sorted_map::Fields::from([
        ("Id".into(), FieldValue::from(login)),
        ("IsFrozen".into(), FieldValue::Bool(frozen)),
    ]))
}

/// The `UserLogin` records to freeze: each change names its user's login.
fn freeze_records(
    changes: &[Change],
    results: &mut [ChangeResult],
) -> Vec<(usize, Record<'static>)> {
    let mut records = Vec::new();
    for i in of(changes, &[Action::Freeze]) {
        if let Some(login) = &changes[i].login_id {
            records.push((i, login_record(login, true)));
        } else {
            let step = results[i].steps.len().saturating_sub(1);
            results[i].settle(
                step,
                Written::Failed(Failure::new(
                    "NOT_FOUND",
                    "the plan names no UserLogin record to freeze",
                )),
            );
        }
    }
    records
}

#[cfg(test)]
mod tests {

    use serde_json::{Value, json};

    use super::{frees_a_feature_licence, planned_steps};
    use crate::grants::GrantKind;
    use crate::plan::{Action, Change, GrantRef, Situation};

    fn update(before: &[(&str, Value)], after: &[(&str, Value)]) -> Change {
        let fields = |pairs: &[(&str, Value)]| -> crate::plan::Fields {
            pairs
                .iter()
                .map(|(k, v)| (crate::sorted_map::Name::from(*k), v.into()))
                .collect()
        };
        Change {
            target_id: Some("005000000000001".into()),
            before: fields(before),
            after: fields(after),
            ..Change::new(Action::Update, "u@x.com".to_owned(), Situation::Linked)
        }
    }

    #[test]
    fn only_updates_turning_a_feature_licence_off_go_first() {
        let off = update(
            &[("UserPermissionsKnowledgeUser", json!(true))],
            &[("UserPermissionsKnowledgeUser", json!("false"))],
        );
        assert!(frees_a_feature_licence(&off));
        let on = update(
            &[("UserPermissionsKnowledgeUser", json!(false))],
            &[("UserPermissionsKnowledgeUser", json!("true"))],
        );
        assert!(!frees_a_feature_licence(&on));
        let other = update(&[("Title", json!("a"))], &[("Title", json!("false"))]);
        assert!(!frees_a_feature_licence(&other));
    }

    #[test]
    fn removals_are_steps_before_adds_the_last_kind_first_and_implied_licences_are_none() {
        let mut change = update(&[], &[("Title", json!("x"))]);
        let grant = |kind, name: &str, implied: Option<&str>| GrantRef {
            kind,
            name: name.into(),
            id: "0PS000000000001".into(),
            assignment_id: Some("0Pa000000000001".to_owned()),
            implied_by: implied.map(str::to_owned),
        };
        change.grants.remove = vec![
            grant(GrantKind::PermissionSetLicense, "L", None),
            grant(GrantKind::PermissionSet, "S", None),
            grant(GrantKind::Queue, "Q", None),
        ];
        change.grants.add = vec![
            grant(GrantKind::PermissionSetLicense, "L2", Some("S2")),
            grant(GrantKind::PermissionSet, "S2", None),
        ];
        let steps: Vec<String> = planned_steps(&change, &mut super::StepNames::default())
            .into_iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(
            steps,
            [
                "update",
                "remove queue Q",
                "remove permission set S",
                "remove permission set licence L",
                "add permission set S2"
            ]
        );
    }
}
