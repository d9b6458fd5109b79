//! Many users at once through Bulk API 2.0 ingest jobs (`salesforce::bulk` speaks the wire
//! format): one job per upload of at most 100 MB, one after another; a job not started when
//! roster stops is not sent. A handful of requests instead of one per 200 records.

use super::requests::{request_failure, stop_on};
use super::{Ctx, Written};
use crate::salesforce::bulk::{self, JobError, MAX_UPLOAD_BYTES};
use crate::salesforce::write::{Op, Record};

/// Writes `records` (all of one object) with ingest jobs; outcomes in the order given.
pub(super) async fn write(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: &[Record<'_>],
) -> Vec<Written> {
    write_split(ctx, op, object, records, MAX_UPLOAD_BYTES).await
}

async fn write_split(
    ctx: &Ctx,
    op: Op,
    object: &'static str,
    records: &[Record<'_>],
    max_bytes: usize,
) -> Vec<Written> {
    let mut outcomes = Vec::with_capacity(records.len());
    let stopped = || ctx.stopped();
    for upload in bulk::uploads(op, object, records, max_bytes) {
        let records = &records[upload.records.clone()];
        if ctx.stopped() {
            outcomes.extend(records.iter().map(|_| Written::NotSent));
            continue;
        }
        match bulk::run_job(&ctx.salesforce, op, object, &upload, &stopped).await {
            Ok(results) => {
                ctx.task.add(records.len() as u64);
                outcomes.extend(records.iter().map(|r| results.outcome(r).into()));
            }
            Err(JobError::Unwritten(e)) => {
                stop_on(ctx, &e);
                let mut failure = request_failure(&e);
                failure.message = format!("nothing of this Bulk API job was written: {e}");
                outcomes.extend(records.iter().map(|_| Written::Failed(failure.clone())));
            }
            Err(JobError::Unknown(e)) => {
                stop_on(ctx, &e);
                let failure = request_failure(&e);
                outcomes.extend(records.iter().map(|_| Written::Unknown(failure.clone())));
            }
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::write_split;
    use crate::apply::{Ctx, Options, Stop, Written};
    use crate::emulator::{self, State, synthetic};
    use crate::salesforce::write::Op;

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
        let salesforce = crate::salesforce::synthetic_client(&running.base_url(), &dir);
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
        let records: Vec<crate::salesforce::write::Record<'_>> = (0..7)
            .map(|n| {
                let record: crate::sorted_map::Fields = serde_json::from_value(json!({
                    "Username": format!("split{n}@example.com.dev1"), "LastName": format!("Split{n}"),
                    "Email": format!("split{n}@example.com"), "Alias": format!("split{n}"),
                    "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
                    "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": profile,
                }))
                .unwrap();
                crate::salesforce::write::Record::from(record)
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
