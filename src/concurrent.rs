//! Running independent requests side by side, at most `limit` at a time. The first failure
//! cancels the rest: a read that failed anywhere never yields a partial result.

use std::future::Future;
use std::sync::Arc;

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
