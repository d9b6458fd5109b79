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
            Err(JobError::Ended(results, e)) => {
                // What it processed stays written; the rest it never will.
                stop_on(ctx, &e);
                ctx.task.add(records.len() as u64);
                outcomes.extend(records.iter().map(|r| results.outcome(r).into()));
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

    /// An emulated org of three users, roster's client of it, and seven new users to write.
    async fn org_and_records() -> (
        emulator::Running,
        Ctx,
        Vec<crate::salesforce::write::Record<'static>>,
        std::path::PathBuf,
    ) {
        let running = emulator::start(
            State::from_world(synthetic::world(3, 1)).unwrap(),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "roster-bulk-{}-{}",
            std::process::id(),
            running.base_url().rsplit(':').next().unwrap_or_default()
        ));
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
        let records = (0..7)
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
        (running, ctx, records, dir)
    }

    /// A write larger than one upload may be is split into several jobs, each row's outcome
    /// still found again.
    #[tokio::test]
    async fn writes_larger_than_one_upload_take_several_jobs() {
        let (running, ctx, records, dir) = org_and_records().await;
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

    /// A job aborted (by an admin, say) after it processed rows: those rows stay written and
    /// are reported so, not as unknown, and the apply stops.
    #[tokio::test]
    async fn a_job_aborted_partway_reports_the_rows_it_wrote() {
        let (running, ctx, records, dir) = org_and_records().await;
        // The job is followed for several polls, while someone aborts it.
        running.shared.state().org.bulk_job_polls = 6;
        let client = Arc::clone(&ctx.salesforce);
        let aborter = tokio::spawn(async move {
            loop {
                let jobs = client
                    .data(reqwest::Method::GET, "jobs/ingest", None)
                    .await
                    .unwrap();
                let running_job = jobs["records"].as_array().and_then(|jobs| {
                    jobs.iter()
                        .find(|j| j["state"] == "UploadComplete" || j["state"] == "InProgress")
                });
                if let Some(job) = running_job {
                    let path = format!("jobs/ingest/{}", job["id"].as_str().unwrap());
                    let body = json!({"state": "Aborted"});
                    client
                        .data(
                            reqwest::Method::PATCH,
                            &path,
                            Some(crate::http::Body::Json(&body)),
                        )
                        .await
                        .unwrap();
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        let outcomes = write_split(&ctx, Op::Insert, "User", &records, 420).await;
        aborter.await.unwrap();
        // The first job's rows were written before the abort; nothing after it was sent.
        let written = outcomes
            .iter()
            .take_while(|o| matches!(o, Written::Ok(id) if id.starts_with("005")))
            .count();
        assert!(written >= 1, "{outcomes:?}");
        assert!(
            outcomes[written..]
                .iter()
                .all(|o| matches!(o, Written::NotSent)),
            "{outcomes:?}"
        );
        let stopped = ctx.stop.reason().unwrap_or_default();
        assert!(stopped.contains("ended Aborted"), "{stopped}");
        let _ = std::fs::remove_dir_all(dir);
        running.shutdown().await;
    }
}
