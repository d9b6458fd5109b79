//! How the emulator holds up at tenant scale: start a synthetic world (100,000 users unless
//! `ROSTER_BENCH_USERS` says otherwise), list every user through Graph at `$top=999`, and print
//! the startup time, listing time, requests per route and the emulator's peak memory.
//!
//! Run: `cargo bench --bench emulator`

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark prints its numbers"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let users: u32 = std::env::var("ROSTER_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "emulate",
            "--synthetic",
            &users.to_string(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut env = std::collections::HashMap::new();
    while env.len() < 5 {
        let line = lines.next().unwrap().unwrap();
        let (name, value) = line.trim_start_matches("export ").split_once('=').unwrap();
        env.insert(name.to_owned(), value.to_owned());
    }
    let startup = started.elapsed();
    let base = env["ROSTER_GRAPH_URL"].clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (listed, pages, listing, counts) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(format!(
                "{base}/11111111-2222-4333-8444-555555555555/oauth2/v2.0/token"
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "22222222-3333-4444-8555-666666666666"),
                ("client_secret", env["AZURE_CLIENT_SECRET"].as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        let start = Instant::now();
        let (mut listed, mut pages) = (0, 0);
        let mut url = format!(
            "{base}/v1.0/users?$select=id,userPrincipalName,department,accountEnabled&$top=999"
        );
        loop {
            let page: serde_json::Value = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            listed += page["value"].as_array().unwrap().len();
            pages += 1;
            match page["@odata.nextLink"].as_str() {
                Some(next) => next.clone_into(&mut url),
                None => break,
            }
        }
        let listing = start.elapsed();
        let counts: serde_json::Value = http
            .get(format!("{base}/_emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (listed, pages, listing, counts)
    });
    let peak_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .unwrap_or_default();
    child.kill().unwrap();
    let _ = child.wait();
    println!("synthetic world: {users} users");
    println!(
        "startup (spawn to exports printed): {:.2} s",
        startup.as_secs_f64()
    );
    println!(
        "full Graph user listing: {listed} users in {pages} pages, {:.2} s",
        listing.as_secs_f64()
    );
    println!("requests per route: {counts}");
    println!("emulator peak memory (VmHWM): {peak_kib} KiB");
}
