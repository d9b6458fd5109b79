//! Apply at scale: 10,000 user creates (or `ROSTER_BENCH_CREATES`) against the emulator with
//! 20 ms latency per request (or `ROSTER_BENCH_LATENCY_MS`), once through sObject Collections
//! and once through a Bulk API 2.0 job. A synthetic world is planned, the saved plan trimmed to
//! its first N creates, and `roster apply PLAN` timed; the benchmark prints the wall time and
//! the Salesforce requests by route, the staleness check's reads apart from the writes.
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

fn admin(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request =
            reqwest::Client::new().request(method, format!("{base}/_emulator/{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().json().await.unwrap()
    })
}

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

fn run(creates: usize, latency: u64, bulk_threshold: &str, label: &str) {
    let dir =
        std::env::temp_dir().join(format!("roster-bench-apply-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // About 88 % of a synthetic world's users are not in Salesforce yet.
    let users = (creates as u64 * 100 / 85).max(100);
    let config = dir.join("roster.yaml");
    let emulator =
        support::Emulator::start(users, &["--write-config".as_ref(), config.as_os_str()]);
    roster(
        &dir,
        &emulator,
        &["plan", "-q", "--format", "json", "--out", "full.json"],
    );
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("full.json")).unwrap()).unwrap();
    let kept: Vec<Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create")
        .take(creates)
        .cloned()
        .collect();
    assert_eq!(
        kept.len(),
        creates,
        "the synthetic world has too few creates"
    );
    let assignments: usize = kept
        .iter()
        .map(|c| c["permission_sets"]["add"].as_array().map_or(0, Vec::len))
        .sum();
    plan["changes"] = Value::Array(kept);
    std::fs::write(dir.join("plan.json"), plan.to_string()).unwrap();

    let base = emulator.base();
    admin(
        &base,
        reqwest::Method::POST,
        "latency",
        Some(serde_json::json!({"ms": latency})),
    );
    admin(&base, reqwest::Method::DELETE, "requests", None);
    let started = Instant::now();
    let out = roster(
        &dir,
        &emulator,
        &["apply", "plan.json", "--bulk-threshold", bulk_threshold],
    );
    let wall = started.elapsed();
    let requests = admin(&base, reqwest::Method::GET, "requests", None);
    let mut reads = 0;
    let mut writes = 0;
    println!(
        "{label}: {creates} creates with {assignments} permission-set assignments \
         ({} collections requests of 200), {latency} ms latency per request",
        assignments.div_ceil(200)
    );
    for (route, count) in requests.as_object().unwrap() {
        let count = count.as_u64().unwrap();
        println!("  {count:>6}  {route}");
        if route.starts_with("GET /services/data/{v}/query") {
            reads += count;
        } else if route.starts_with("POST /services/oauth2") {
        } else {
            writes += count;
        }
    }
    println!(
        "  wall time {:.2} s; Salesforce write requests {writes} (staleness-check queries {reads}, plus the login)",
        wall.as_secs_f64()
    );
    println!(
        "  {}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let creates = usize::try_from(support::env_number("ROSTER_BENCH_CREATES", 10_000)).unwrap();
    let latency = support::env_number("ROSTER_BENCH_LATENCY_MS", 20);
    run(creates, latency, "1000000000", "sObject Collections");
    run(creates, latency, "2000", "Bulk API 2.0");
}
