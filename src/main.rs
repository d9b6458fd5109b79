//! The `roster` binary: a doorway into `roster::run`.

fn main() -> std::process::ExitCode {
    roster::run(std::env::args_os())
}

/// jemalloc instead of the system allocator: a plan of 100,000 users makes and frees millions
/// of small values, and glibc's malloc spent about a fifth of the planner's CPU on them
/// (`malloc_consolidate`, `unlink_chunk`). mimalloc was as quick in user time but handed freed
/// pages back to the kernel within milliseconds, so the planner waited on the kernel zeroing
/// them again (up to half its time, varying run to run); jemalloc keeps them for reuse. Medians
/// of five plans of 100,000 users at 20 ms a request (`cargo bench --bench plan`): mimalloc
/// 2.96 s, 502 MiB, planner 1.36 s; jemalloc 2.77 s, 449 MiB, planner 1.06 s.
///
/// Its options are built in (`.cargo/config.toml`, `JEMALLOC_SYS_WITH_MALLOC_CONF`, as roster
/// forbids the unsafe `malloc_conf` symbol): one arena, since roster reads on tokio's workers and
/// plans and writes on another thread and an arena per thread kept what the read freed from
/// what came after; freed pages back after 100 ms instead of ten seconds. A whole-world apply of
/// 100,000 users: 487 MiB with the defaults, 412 MiB with one arena and a one-second decay; the
/// 100-ms decay took a 100,000-user plan's peak 8 MiB lower again, planning's CPU the same.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
