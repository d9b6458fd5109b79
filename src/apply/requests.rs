//! The requests that write, as apply orders them: sObject Collections of 200 (Bulk API 2.0
//! above the threshold), a few in flight at once, records Salesforce could not lock tried again,
//! each record's outcome back in order. `salesforce::write` speaks the wire format.

use std::time::Duration;

use super::{Ctx, Failure, Written, bulk};
use crate::salesforce::SalesforceError;
use crate::salesforce::write::{Op, Outcome, PER_REQUEST, Record};

/// Rounds of retrying records Salesforce could not lock.
const LOCK_RETRIES: u32 = 3;

impl From<Outcome> for Written {
    fn from(outcome: Outcome) -> Written {
        match outcome {
            Outcome::Written(id) => Written::Ok(id),
            Outcome::Rejected(failure) => Written::Failed(failure),
        }
    }
}

/// Writes records of `object`: by Bulk API 2.0 above the threshold, else by collections; then
/// retries the ones Salesforce could not lock. Outcomes come back in the order given.
pub(super) async fn write(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: Vec<(usize, Record<'_>)>,
) -> Vec<(usize, Written)> {
    if records.is_empty() {
        return Vec::new();
    }
    let (indexes, records): (Vec<usize>, Vec<Record<'_>>) = records.into_iter().unzip();
    let mut outcomes = if records.len() > ctx.options.bulk_threshold {
        by_bulk(ctx, op, object, &records).await
    } else {
        collections(ctx, op, object, &records).await
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
        // Records sent again are more work: the progress count never passes its total.
        ctx.task.add_total(locked.len() as u64);
        let again: Vec<Record<'_>> = locked.iter().map(|i| records[*i].clone()).collect();
        for (i, outcome) in locked
            .into_iter()
            .zip(collections(ctx, op, object, &again).await)
        {
            // A retry the stop kept from being sent leaves the lock failure that was answered:
            // the write was sent and refused, which `not_attempted` would deny.
            if !matches!(outcome, Written::NotSent) {
                outcomes[i] = outcome;
            }
        }
    }
    indexes.into_iter().zip(outcomes).collect()
}

/// Writes `records` by Bulk API 2.0, except those holding the text `#N/A`: a Bulk CSV cell of
/// `#N/A` sets the field to null (Bulk API 2.0 Developer Guide, "Prepare CSV Files"), so the
/// value a person's attribute holds would be written as nothing. Those go by sObject
/// Collections, whose JSON carries the text as it is. Outcomes in the order given.
async fn by_bulk(ctx: &Ctx, op: Op, object: &'static str, records: &[Record<'_>]) -> Vec<Written> {
    let literal = |record: &Record<'_>| {
        record
            .iter()
            .any(|(_, value)| value.as_str() == Some(crate::salesforce::bulk::NULL_CELL))
    };
    let literals: Vec<bool> = records.iter().map(literal).collect();
    if !literals.contains(&true) {
        return bulk::write(ctx, op, object, records).await;
    }
    let pick = |wanted: bool| -> Vec<Record<'_>> {
        records
            .iter()
            .zip(&literals)
            .filter(|(_, l)| **l == wanted)
            .map(|(r, _)| r.clone())
            .collect()
    };
    let mut by_csv = bulk::write(ctx, op, object, &pick(false)).await.into_iter();
    let mut by_json = collections(ctx, op, object, &pick(true)).await.into_iter();
    literals
        .iter()
        .filter_map(|l| if *l { by_json.next() } else { by_csv.next() })
        .collect()
}

/// Inserts or updates through sObject Collections, 200 records a request, a few at a time.
async fn collections(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: &[Record<'_>],
) -> Vec<Written> {
    let requests: Vec<_> = records
        .chunks(PER_REQUEST)
        .map(|chunk| {
            // Each request owns its records: it may run on another thread.
            let chunk: Vec<Record<'static>> = chunk.iter().map(Record::to_static).collect();
            let ctx = ctx.clone();
            async move {
                let count = chunk.len();
                sent(&ctx, count, || {
                    ctx.salesforce.write_records(op, object, &chunk)
                })
                .await
            }
        })
        .collect();
    in_flight(ctx, requests).await
}

/// Deletes permission-set assignments, 200 a request; `removes` holds (change, step, assignment
/// id), the outcome comes back with change and step.
pub(super) async fn delete_assignments(
    ctx: &Ctx,
    removes: Vec<(usize, usize, String)>,
) -> Vec<(usize, usize, Written)> {
    let requests: Vec<_> = removes
        .chunks(PER_REQUEST)
        .map(|chunk| {
            let ctx = ctx.clone();
            let ids: Vec<String> = chunk.iter().map(|(_, _, id)| id.clone()).collect();
            async move {
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                sent(&ctx, ids.len(), || ctx.salesforce.delete_records(&refs)).await
            }
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
async fn in_flight<F>(ctx: &Ctx, requests: Vec<F>) -> Vec<Written>
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

/// One request of `count` records, unless the apply has stopped. A request that fails as a
/// whole stops the apply. Its records failed when Salesforce refused it (nothing of it was
/// written: the daily limit, a 4xx); otherwise their outcome is unknown, as it may have been
/// carried out.
async fn sent<Fut>(ctx: &Ctx, count: usize, request: impl FnOnce() -> Fut) -> Vec<Written>
where
    Fut: std::future::Future<Output = Result<Vec<Outcome>, SalesforceError>>,
{
    if ctx.stopped() {
        return vec![Written::NotSent; count];
    }
    let answer = request().await;
    ctx.task.add(count as u64);
    match answer {
        Ok(outcomes) => outcomes.into_iter().map(Written::from).collect(),
        Err(e) => {
            stop_on(ctx, &e);
            let mut failure = request_failure(&e);
            if e.refused() {
                failure.message = format!("nothing of the request was written: {e}");
                vec![Written::Failed(failure); count]
            } else {
                vec![Written::Unknown(failure); count]
            }
        }
    }
}

/// A request failed as a whole: nothing more is sent.
pub(super) fn stop_on(ctx: &Ctx, error: &SalesforceError) {
    ctx.stop(error.to_string());
}

/// The failure of a request that failed as a whole, with the API's code when it gave one.
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
        // The step's `unknown` result says the rest: roster looks it up before reporting.
        message: format!("the request failed: {error}"),
    }
}
