//! Running independent work side by side: requests, at most `limit` at a time (the first
//! failure cancels the rest: a read that failed anywhere never yields a partial result), and
//! the planner's per-user work, on every core.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Runs every future, `limit` at once, and returns their results in the order given.
pub(crate) async fn all<T, E, F>(limit: usize, futures: Vec<F>) -> Result<Vec<T>, E>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut set = JoinSet::new();
    let count = futures.len();
    for (index, future) in futures.into_iter().enumerate() {
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await;
            (index, future.await)
        });
    }
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(result?),
            // A panic in a task is a bug: let it surface as the panic it is.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    Ok(results.into_iter().flatten().collect())
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The threads CPU-bound work may use: one a core (`available_parallelism`, which honours a
/// container's CPU quota), at least one.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `f(0)`, `f(1)`, … `f(count - 1)`, in that order, computed on up to `threads` threads: the
/// caller's and scoped ones, each a contiguous share of the indexes. One thread (or one index)
/// computes them on the caller's thread alone, spawning none. A panic in `f` is passed on as it
/// is.
pub(crate) fn map_indexed<T: Send>(
    count: usize,
    threads: usize,
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return (0..count).map(f).collect();
    }
    let share = count.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads)
            .map(|t| {
                let indexes = (t * share).min(count)..((t + 1) * share).min(count);
                scope.spawn(move || indexes.map(f).collect::<Vec<T>>())
            })
            .collect();
        let mut all: Vec<T> = Vec::with_capacity(count);
        all.extend((0..share).map(f));
        for other in others {
            all.extend(joined(other));
        }
        all
    })
}

/// `out[j] = f(j)` for every slot of `out`, beside other work: computed on `threads - 1`
/// scoped threads while the caller's thread runs `first`, then on the caller's thread too until
/// every slot is filled; `first`'s result. The slots are handed out a batch at a time, so a
/// caller's thread that comes late takes what is left, whatever `first` cost. Each value is
/// written where it stays: the planner fills the same two buffers of some 2,048 changes (half
/// a megabyte) chunk after chunk, where collecting batches and then the chunk copied every
/// change twice into memory fresh from the kernel. One thread runs `first`, then fills `out`,
/// on the caller's thread alone. A panic in `f` or `first` is passed on as it is.
pub(crate) fn fill_beside<T: Send, R>(
    out: &mut [T],
    threads: usize,
    f: impl Fn(usize) -> T + Sync,
    first: impl FnOnce() -> R,
) -> R {
    /// Slots taken at a time: few enough that threads finish together, enough that taking
    /// them costs nothing beside `f`.
    const BATCH: usize = 64;
    if threads <= 1 || out.is_empty() {
        let done = first();
        for (j, slot) in out.iter_mut().enumerate() {
            *slot = f(j);
        }
        return done;
    }
    let spawned = threads.min(out.len().div_ceil(BATCH) + 1);
    let batches = Mutex::new(out.chunks_mut(BATCH).enumerate());
    let work = || {
        loop {
            // The lock is held only to take a batch.
            let Some((batch, slots)) = lock(&batches).next() else {
                return;
            };
            for (j, slot) in slots.iter_mut().enumerate() {
                *slot = f(batch * BATCH + j);
            }
        }
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..spawned).map(|_| scope.spawn(work)).collect();
        let done = first();
        work();
        others.into_iter().for_each(joined);
        done
    })
}

/// `f` on every item of `items`, on up to `threads` threads (the caller's among them), each a
/// contiguous share. A panic in `f` is passed on as it is.
pub(crate) fn for_each_mut<T: Send>(items: &mut [T], threads: usize, f: impl Fn(&mut T) + Sync) {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        items.iter_mut().for_each(f);
        return;
    }
    let share = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut shares = items.chunks_mut(share);
        let mine = shares.next();
        let others: Vec<_> = shares
            .map(|part| scope.spawn(move || part.iter_mut().for_each(f)))
            .collect();
        mine.into_iter().flatten().for_each(f);
        others.into_iter().for_each(joined);
    });
}

/// A scoped thread's result, its panic passed on as it is.
pub(crate) fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn keeps_order_and_the_bound() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let futures: Vec<_> = (0..12u64)
            .map(|i| {
                let running = Arc::clone(&running);
                let peak = Arc::clone(&peak);
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(12 - i)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok::<u64, String>(i)
                }
            })
            .collect();
        assert_eq!(all(3, futures).await.unwrap(), (0..12).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn map_indexed_keeps_order_on_any_number_of_threads() {
        for threads in [0, 1, 2, 3, 7, 64] {
            for count in [0, 1, 2, 5, 100] {
                let squares = map_indexed(count, threads, |i| i * i);
                assert_eq!(
                    squares,
                    (0..count).map(|i| i * i).collect::<Vec<_>>(),
                    "{count} on {threads} threads"
                );
            }
        }
    }

    #[test]
    fn map_indexed_runs_off_the_callers_thread() {
        let caller = std::thread::current().id();
        let elsewhere = map_indexed(4, 2, |_| std::thread::current().id() != caller);
        assert_eq!(elsewhere, [false, false, true, true]);
    }

    #[test]
    fn fill_beside_fills_every_slot_in_order_and_gives_firsts_result() {
        for threads in [0, 1, 2, 3, 7] {
            for count in [0, 1, 2, 63, 64, 65, 1000] {
                // Stale values from a chunk before are overwritten.
                let mut out = vec![usize::MAX; count];
                let first = fill_beside(&mut out, threads, |i| i * i, || "first");
                assert_eq!(
                    out,
                    (0..count).map(|i| i * i).collect::<Vec<_>>(),
                    "{count} on {threads} threads"
                );
                assert_eq!(first, "first");
            }
        }
    }

    /// The slots fill while `first` runs on the caller's thread: `first` waits for a value
    /// another thread computed (were they one after the other, it would wait in vain).
    #[test]
    fn fill_beside_computes_while_first_runs() {
        let caller = std::thread::current().id();
        let (sent, received) = std::sync::mpsc::channel();
        let sent = Mutex::new(sent);
        let mut out = vec![(); 200];
        let heard = fill_beside(
            &mut out,
            2,
            |i| {
                let _ = lock(&sent).send(i);
            },
            || {
                assert_eq!(std::thread::current().id(), caller);
                received
                    .recv_timeout(std::time::Duration::from_secs(30))
                    .is_ok()
            },
        );
        assert!(heard, "nothing was computed while first ran");
    }

    #[test]
    fn for_each_mut_reaches_every_item_once() {
        for threads in [0, 1, 2, 3, 64] {
            for count in [0, 1, 2, 5, 100] {
                let mut items: Vec<usize> = (0..count).collect();
                for_each_mut(&mut items, threads, |i| *i *= 2);
                assert_eq!(
                    items,
                    (0..count).map(|i| i * 2).collect::<Vec<_>>(),
                    "{count} on {threads} threads"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_first_error_wins() {
        let futures: Vec<_> = (0..5u32)
            .map(|i| async move {
                if i == 2 {
                    Err(format!("broke at {i}"))
                } else {
                    Ok(i)
                }
            })
            .collect();
        assert_eq!(all(2, futures).await.unwrap_err(), "broke at 2");
    }
}
