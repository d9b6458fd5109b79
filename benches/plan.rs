//! The planner at tenant scale: a synthetic world of 100,000 users (or `ROSTER_BENCH_USERS`) is
//! read once with `roster snapshot`, then planned offline with `roster plan --snapshot` five
//! times; the benchmark prints the CPU time of the planning step itself (roster logs it at
//! `-v`), the whole command's wall time, and the plan's summary.
//!
//! Run: `cargo bench --bench plan`

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its numbers"
)]

use std::process::Command;
use std::time::Instant;

mod support;

fn main() {
    let users = support::env_number("ROSTER_BENCH_USERS", 100_000);
    let dir = std::env::temp_dir().join(format!("roster-bench-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roster.yaml");
    let emulator =
        support::Emulator::start(users, &["--write-config".as_ref(), config.as_os_str()]);
    let snapshot = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("-c")
        .arg(&config)
        .args(["snapshot", "-q", "--out"])
        .arg(dir.join("snapshot"))
        .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        snapshot.status.success(),
        "{}",
        String::from_utf8_lossy(&snapshot.stderr)
    );
    drop(emulator);

    let mut cpu = Vec::new();
    let mut summary = String::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("-c")
            .arg(&config)
            .args(["plan", "-v", "--format", "json", "--snapshot"])
            .arg(dir.join("snapshot"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let wall = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let line = stderr
            .lines()
            .find(|l| l.contains("planned "))
            .unwrap()
            .to_owned();
        let ms: u64 = line
            .split(" in ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        cpu.push(ms);
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        summary = plan["summary"].to_string();
        println!(
            "run: {} | command wall time {:.2} s",
            line.trim(),
            wall.as_secs_f64()
        );
    }
    cpu.sort_unstable();
    println!(
        "planner CPU time over 5 runs: min {} ms, median {} ms, max {} ms",
        cpu[0], cpu[2], cpu[4]
    );
    println!("plan summary: {summary}");
    let _ = std::fs::remove_dir_all(&dir);
}
