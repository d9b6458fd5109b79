//! What `roster snapshot` costs on a tenant of 100,000 users (or `ROSTER_BENCH_USERS`): the
//! emulator serves the synthetic world with 20 ms latency per request (or
//! `ROSTER_BENCH_LATENCY_MS`), and the benchmark prints roster's wall time, its peak memory, the
//! requests per route, and how far their number is from the minimum the page limits allow.
//!
//! Run: `cargo bench --bench snapshot`

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a benchmark prints its numbers"
)]

use std::process::Command;
use std::time::Instant;

mod support;

fn main() {
    let users = support::env_number("ROSTER_BENCH_USERS", 100_000);
    let latency = support::env_number("ROSTER_BENCH_LATENCY_MS", 20);
    let dir = std::env::temp_dir().join(format!("roster-bench-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roster.yaml");
    let latency_text = latency.to_string();
    let emulator = support::Emulator::start(
        users,
        &[
            "--latency-ms".as_ref(),
            latency_text.as_ref(),
            "--write-config".as_ref(),
            config.as_os_str(),
        ],
    );
    let base = emulator.base();

    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("-c")
        .arg(&config)
        .args(["snapshot", "-v", "--out"])
        .arg(dir.join("snapshot"))
        .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "roster snapshot failed:\n{stderr}");
    let peak = stderr
        .lines()
        .find_map(|l| l.split("peak memory ").nth(1))
        .unwrap_or("?")
        .to_owned();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let counts: std::collections::BTreeMap<String, u64> = runtime.block_on(async {
        reqwest::get(format!("{base}/_emulator/requests"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);

    // The synthetic world: users spread round-robin over 4 assigned groups; a tenth of them
    // exist in Salesforce. The fewest requests the page limits allow:
    // Graph: token + service principal + assignments (4 rows, one page) + each group's members
    // at 999 a page (their attributes ride along, so no user is read twice).
    let group_pages: u64 = (0..4)
        .map(|g| (users / 4 + u64::from(g < users % 4)).div_ceil(999))
        .sum();
    let graph_minimum = 3 + group_pages;
    // Salesforce: token + Organization + UserLicense + Profile + UserRole + PermissionSet +
    // PermissionSetAssignment (one page) + Users at 2,000 a page.
    let salesforce_minimum = 7 + (users / 10).div_ceil(2000).max(1);
    let graph: u64 = counts
        .iter()
        .filter(|(route, _)| !route.contains("/services/"))
        .map(|(_, n)| n)
        .sum();
    let salesforce: u64 = counts
        .iter()
        .filter(|(route, _)| route.contains("/services/"))
        .map(|(_, n)| n)
        .sum();
    println!("roster snapshot: {users} users, {latency} ms latency per request");
    println!("wall time: {:.2} s", wall.as_secs_f64());
    println!("peak memory: {peak}");
    println!("requests per route:");
    for (route, n) in &counts {
        println!("  {n:>6}  {route}");
    }
    let total = graph + salesforce;
    let minimum = graph_minimum + salesforce_minimum;
    println!(
        "requests: Graph {graph} (minimum {graph_minimum}), Salesforce {salesforce} (minimum {salesforce_minimum}), \
         total {total} = {:.1}% over the minimum {minimum}",
        (total as f64 / minimum as f64 - 1.0) * 100.0
    );
}
