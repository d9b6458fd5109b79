//! The process's peak memory, logged at `-v` so benchmarks and users can see what a run cost.

/// Logs the peak resident set size (Linux's `VmHWM`); silent where the platform has no
/// `/proc/self/status`.
pub(crate) fn log_peak() {
    if let Some(kib) = peak_kib() {
        tracing::info!(target: "roster::memory", "peak memory {} MiB", kib / 1024);
    }
}

fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
