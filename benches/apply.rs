//! Apply at scale: a synthetic world of about 10,000 user creates (`ROSTER_BENCH_CREATES`),
//! with its updates, reactivations, deactivations and three kinds of grants (permission sets, a
//! permission set group, a queue), against the emulator with 20 ms latency per request
//! (`ROSTER_BENCH_LATENCY_MS`), once through sObject Collections and once through Bulk API 2.0
//! jobs. The saved plan is applied with `roster apply PLAN`; the benchmark prints the wall time,
//! the Salesforce requests by route, the write requests against the fewest the APIs allow for
//! the same writes, and the staleness check's reads apart.
//!
//! Then the whole 100,000-user synthetic world (`ROSTER_BENCH_USERS`) is applied in one run, and
//! its exit code, peak memory and wall time printed: once with `--auto-approve`, once as the
//! merge workflow applies a reviewed plan (`roster apply plan.json`, which plans again and holds
//! both plans to compare them).
//!
//! Run: `cargo bench --bench apply`

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its numbers"
)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

mod support;

fn roster(dir: &Path, emulator: &support::Emulator, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `roster apply ARGS` of the whole plan, whatever it deactivates, timed.
fn apply(
    dir: &Path,
    emulator: &support::Emulator,
    args: &[&str],
) -> (std::process::Output, std::time::Duration) {
    let started = Instant::now();
    let args: Vec<&str> = std::iter::once("apply")
        .chain(args.iter().copied())
        .chain(["--allow-deactivations", "1000000"])
        .collect();
    let out = roster(dir, emulator, &args);
    (out, started.elapsed())
}

/// The last line apply printed: `Apply complete! Resources: ...`.
fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

type Writes = std::collections::BTreeMap<String, usize>;

/// Each write apply sends, with its records: the users, then the grant removals and adds
/// (one write per kind, public groups and queues together as GroupMember; licences Salesforce
/// assigns along with a permission set are not written), then deactivations. Returns the
/// inserts and updates, and the removals apart (deleted 200 a request).
fn planned_writes(changes: &[Value]) -> (Writes, Writes) {
    let count = |action: &str| changes.iter().filter(|c| c["action"] == action).count();
    let mut writes_of: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    *writes_of.entry("user creates".into()).or_default() += count("create");
    *writes_of.entry("user updates".into()).or_default() += count("update") + count("reactivate");
    *writes_of.entry("deactivations".into()).or_default() += count("deactivate");
    let mut removals: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for change in changes {
        for (list, into) in [("add", &mut writes_of), ("remove", &mut removals)] {
            for g in change["grants"][list].as_array().unwrap() {
                if g.get("implied_by").is_some() {
                    continue;
                }
                let kind = g["kind"].as_str().unwrap();
                let write = if kind == "public_group" || kind == "queue" {
                    "group_member"
                } else {
                    kind
                };
                *into.entry(format!("{list} {write}")).or_default() += 1;
            }
        }
    }
    writes_of.retain(|_, n| *n > 0);
    (writes_of, removals)
}

fn run(creates: usize, latency: u64, bulk_threshold: &str, label: &str) {
    // About 88 % of a synthetic world's users are not in Salesforce yet; the rest are updates,
    // reactivations and deactivations. The whole plan is applied (`apply PLAN` re-plans and
    // refuses anything but the plan it was given).
    let users = (creates as u64 * 100 / 88).max(100);
    let (dir, emulator) = support::world("apply", users, label);
    roster(
        &dir,
        &emulator,
        &["plan", "-q", "--format", "json", "--out", "plan.json"],
    );
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    let (writes_of, removals) = planned_writes(changes);
    let creates = writes_of.get("user creates").copied().unwrap_or(0);
    let assignments: usize = writes_of
        .iter()
        .filter(|(k, _)| k.starts_with("add "))
        .map(|(_, n)| n)
        .sum();
    let base = emulator.base();
    support::admin(
        &base,
        reqwest::Method::POST,
        "latency",
        Some(serde_json::json!({"ms": latency})),
    );
    support::admin(&base, reqwest::Method::DELETE, "requests", None);
    let (out, wall) = apply(
        &dir,
        &emulator,
        &["plan.json", "--bulk-threshold", bulk_threshold],
    );
    let requests = support::admin(&base, reqwest::Method::GET, "requests", None);
    let mut reads = 0;
    let mut writes = 0;
    // The fewest write requests the APIs allow: per write (users, then each grant write), a
    // Bulk API 2.0 job above the threshold (open, upload, close, the polls the synthetic org
    // takes — 2 — and the two result reads), else collections of 200.
    let threshold: usize = bulk_threshold.parse().unwrap();
    let per_job = 4 + 2;
    let minimum: usize = writes_of
        .values()
        .map(|n| {
            if *n > threshold {
                per_job + 1
            } else {
                n.div_ceil(200)
            }
        })
        .chain(removals.values().map(|n| n.div_ceil(200)))
        .sum();
    println!(
        "{label}: {} changes ({creates} creates, {assignments} grants added); writes {writes_of:?}, \
         removals {removals:?}; {latency} ms latency per request; the fewest write requests the \
         APIs allow: {minimum}",
        changes.len()
    );
    for (route, count) in requests.as_object().unwrap() {
        let count = count.as_u64().unwrap();
        println!("  {count:>6}  {route}");
        // Writes: what changes the org, and the reads of a Bulk job's own state and results.
        let write = route.starts_with("GET /services/data/{v}/jobs/ingest")
            || (route.contains("/services/data/") && !route.starts_with("GET "));
        if write {
            writes += count;
        } else if !route.contains("oauth2") {
            reads += count;
        }
    }
    let ratio =
        f64::from(u32::try_from(writes).unwrap()) / f64::from(u32::try_from(minimum).unwrap());
    println!(
        "  wall time {:.2} s; Salesforce write requests {writes} = {ratio:.3} x the fewest \
         (the staleness check's reads {reads}, plus the logins)   target <= 1.05 x   {}",
        wall.as_secs_f64(),
        support::verdict(ratio <= 1.05)
    );
    println!("  {}", last_line(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The whole synthetic world of `users` applied in one run, as `roster apply --auto-approve`
/// does it (Bulk API 2.0 above the default threshold), or with `saved` as the merge workflow
/// does it (`roster plan --out plan.json`, then `roster apply plan.json`, which plans again and
/// compares): exit 0, roster's peak memory against the target (400 MB at 100,000 users), wall
/// time, and the emulator's CPU and peak memory.
fn whole_world(users: u64, saved: bool) {
    let (dir, emulator) = support::world("apply", users, if saved { "saved" } else { "all" });
    let args: &[&str] = if saved {
        roster(&dir, &emulator, &["plan", "--out", "plan.json", "-q"]);
        &["-v", "plan.json"]
    } else {
        &["-v", "--auto-approve"]
    };
    let emulator_before = support::cpu_ms_of(emulator.pid());
    let (out, wall) = apply(&dir, &emulator, args);
    let emulator_ms = support::cpu_ms_of(emulator.pid()) - emulator_before;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak_mib = support::number_after(&stderr, "peak memory ");
    println!(
        "the whole synthetic world of {users} users in one apply{} (exit 0):",
        if saved {
            " of the saved plan, as the merge workflow runs it"
        } else {
            ""
        }
    );
    println!("  {}", last_line(&out));
    println!(
        "  peak memory {peak_mib} MiB   target <= 400 MB   {}",
        support::verdict(peak_mib * 1024 * 1024 <= 400_000_000)
    );
    println!(
        "  wall time {:.1} s; emulator CPU {emulator_ms} ms, emulator peak {} MiB",
        wall.as_secs_f64(),
        support::peak_mib_of(emulator.pid())
    );
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let creates = usize::try_from(support::env_number("ROSTER_BENCH_CREATES", 10_000)).unwrap();
    let latency = support::env_number("ROSTER_BENCH_LATENCY_MS", 20);
    run(creates, latency, "1000000000", "sObject Collections");
    run(creates, latency, "2000", "Bulk API 2.0");
    let users = support::env_number("ROSTER_BENCH_USERS", 100_000);
    whole_world(users, false);
    whole_world(users, true);
}
