//! What a run cost: peak memory and CPU time, logged at `-v` so benchmarks and users can see it.

/// Logs the peak resident set size so far (Linux's `VmHWM`) and the CPU time used so far;
/// silent where the platform has no `/proc/self`.
pub(crate) fn log_peak() {
    if let Some(kib) = peak_kib() {
        let cpu = cpu_time().map_or_else(String::new, |c| {
            format!(
                ", {} ms of CPU so far ({} ms user, {} ms system)",
                c.user_ms + c.system_ms,
                c.user_ms,
                c.system_ms
            )
        });
        tracing::info!(target: "roster::memory", "peak memory {} MiB{cpu}", kib / 1024);
    }
}

fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time this process has used, user and system, from Linux's `/proc/self/stat`; `None`
/// elsewhere. Resolution is the kernel's clock tick (10 ms).
pub(crate) fn cpu_time() -> Option<Cpu> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let tick = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    Some(Cpu {
        user_ms: tick(11)? * 10,
        system_ms: tick(12)? * 10,
    })
}

/// CPU time in milliseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cpu {
    pub(crate) user_ms: u64,
    pub(crate) system_ms: u64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, before: Cpu) -> Cpu {
        Cpu {
            user_ms: self.user_ms.saturating_sub(before.user_ms),
            system_ms: self.system_ms.saturating_sub(before.system_ms),
        }
    }
}
