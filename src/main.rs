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
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
