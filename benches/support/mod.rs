//! What the benchmarks share: a `roster emulate --synthetic N` child process and the
//! environment its `export` lines give.

#![allow(dead_code, reason = "each benchmark uses a part of it")]

pub(crate) mod floor;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The number in environment variable `name`, or `default`.
pub(crate) fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A synthetic emulator; killed on drop.
pub(crate) struct Emulator {
    child: Child,
    /// `ROSTER_*_URL` and the world's secrets, as `roster emulate` exports them.
    pub(crate) env: Vec<(String, String)>,
}

impl Emulator {
    /// Starts `roster emulate --synthetic USERS` on a free loopback port, with `extra`
    /// arguments, and waits for its exports (they end with the Salesforce client secret).
    pub(crate) fn start(users: u64, extra: &[&std::ffi::OsStr]) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args([
                "emulate",
                "--synthetic",
                &users.to_string(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut env: Vec<(String, String)> = Vec::new();
        while !env.iter().any(|(k, _)| k == "SF_CLIENT_SECRET") {
            let line = lines.next().unwrap().unwrap();
            if let Some((name, value)) = line.trim_start_matches("export ").split_once('=') {
                env.push((name.to_owned(), value.to_owned()));
            }
        }
        // Keep reading so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Emulator { child, env }
    }

    /// The emulator's base URL.
    pub(crate) fn base(&self) -> String {
        self.var("ROSTER_GRAPH_URL").to_owned()
    }

    pub(crate) fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls the emulator's admin API (`/_emulator/PATH`) and returns its JSON answer.
pub(crate) fn admin(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
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

/// A process's CPU time so far (ms), from `/proc/PID/stat` (10 ms ticks).
pub(crate) fn cpu_ms_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    (fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()) * 10
}

/// A process's peak RSS (MiB), from `/proc/PID/status`.
pub(crate) fn peak_mib_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        / 1024
}

/// The number after `marker` in the last stderr line holding it (what `roster -v` logs, e.g.
/// `peak memory 449 MiB`).
pub(crate) fn number_after(stderr: &str, marker: &str) -> u64 {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.split(marker).nth(1))
        .and_then(|rest| rest.split([' ', ',']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {marker:?} in:\n{stderr}"))
}

/// How a figure stands against its target, as the benchmarks print it.
pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// A synthetic world of `users`: a scratch directory named by the benchmark and `label`, and an
/// emulator that wrote its config there (`roster.yaml`).
pub(crate) fn world(bench: &str, users: u64, label: &str) -> (std::path::PathBuf, Emulator) {
    let dir = std::env::temp_dir().join(format!(
        "roster-bench-{bench}-{}-{label}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("roster.yaml");
    let emulator = Emulator::start(users, &["--write-config".as_ref(), config.as_os_str()]);
    (dir, emulator)
}
