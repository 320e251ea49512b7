//! Waiting for a condition, the one way the tests do it: poll with a short,
//! growing back-off until the condition holds or a bound runs out. Never a
//! fixed sleep standing in for an event.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns true; panics naming `what` after `limit`.
/// Returns how long it took.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    match within(limit, check).await {
        Some(took) => took,
        None => panic!("timed out after {limit:?} waiting for: {what}"),
    }
}

/// Polls `check` until it returns true; `None` after `limit`, so the caller
/// can panic with context of its own (a log, a response).
pub async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    let mut backoff = Duration::from_millis(2);
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(50));
    }
}

/// [`within`] for synchronous checks (child processes, blocking clients).
pub fn within_blocking(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(2);
    loop {
        if check() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(50));
    }
}

/// [`eventually`] for synchronous checks.
pub fn wait_until(what: &str, limit: Duration, check: impl FnMut() -> bool) -> Duration {
    match within_blocking(limit, check) {
        Some(took) => took,
        None => panic!("timed out after {limit:?} waiting until: {what}"),
    }
}
