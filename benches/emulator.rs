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

use std::time::Instant;

mod support;

fn main() {
    let users = support::env_number("ROSTER_BENCH_USERS", 100_000);
    let started = Instant::now();
    let emulator = support::Emulator::start(users, &[]);
    let startup = started.elapsed();
    let base = emulator.base();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (listed, pages, listing, counts) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let token = support::floor::Client::new(
            &base,
            emulator.var("AZURE_CLIENT_SECRET"),
            emulator.var("SF_CLIENT_SECRET"),
        )
        .entra_token()
        .await;
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
    let peak_mib = support::peak_mib_of(emulator.pid());
    drop(emulator);
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
    println!(
        "emulator peak memory (VmHWM): {peak_mib} MiB   target <= 300 MB at 100,000 users   {}",
        support::verdict(peak_mib * 1024 * 1024 <= 300_000_000)
    );
}
