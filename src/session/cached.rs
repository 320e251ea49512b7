//! A replica's short-lived copy of hot sessions, in front of Redis, and the
//! pub/sub listener that drops copies when any replica ends a session.
//!
//! A cached session is served without a round trip for at most
//! `local_cache_ttl`. Every replica publishes the hashed key of each session it
//! ends on `<prefix>invalidate`; every replica's [`listen`] loop drops its copy
//! on receipt (milliseconds). If the subscription breaks, the loop reconnects
//! with backoff and clears the whole cache when it is back, since messages may
//! have been missed meanwhile; the cache lifetime bounds staleness in any case.
//! A generation counter stops a read that raced an invalidation from
//! re-caching the session it just lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use moka::future::Cache;
use tokio::sync::watch;

use super::redis::wire::Wire;
use super::{IdHasher, Session};
use crate::shared::clock::now_secs;

/// Sessions this replica read recently, keyed by their hashed Redis key.
pub struct LocalCache {
    sessions: Option<Cache<String, Arc<Session>, IdHasher>>,
    generation: AtomicU64,
    subscribed: AtomicBool,
}

impl LocalCache {
    /// A cache of at most `capacity` sessions kept `ttl`; a zero `ttl` disables it.
    pub fn new(ttl: Duration, capacity: u64) -> LocalCache {
        let sessions = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(IdHasher::default())
        });
        LocalCache {
            sessions,
            generation: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
        }
    }

    /// The cached session, if still within its absolute lifetime.
    pub async fn get(&self, key: &str) -> Option<Arc<Session>> {
        let found = self.sessions.as_ref()?.get(key).await?;
        (found.expires_at > now_secs()).then_some(found)
    }

    /// A token to pass to [`LocalCache::insert`], taken before reading Redis.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a session read from Redis, unless an invalidation arrived since
    /// `generation` was taken (the read may predate a logout), or this replica
    /// is not subscribed (it would not hear of a logout).
    pub async fn insert(&self, key: &str, session: Arc<Session>, generation: u64) {
        let Some(cache) = &self.sessions else { return };
        if !self.subscribed.load(Ordering::SeqCst) {
            return;
        }
        cache.insert(key.to_owned(), session).await;
        if self.generation() != generation {
            cache.invalidate(key).await;
        }
    }

    /// Drops one session (a logout here or on another replica).
    pub async fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.sessions {
            cache.invalidate(key).await;
        }
    }

    /// Drops everything (the subscription was re-established: messages may be lost).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.sessions {
            cache.invalidate_all();
        }
    }

    /// Whether the invalidation subscription is up (copies are being kept).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
    }

    fn set_subscribed(&self, subscribed: bool) {
        self.subscribed.store(subscribed, Ordering::SeqCst);
    }
}

/// How often the listener pings Redis to notice a silently dead connection.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Subscribes to `channel` and invalidates cached sessions until `shutdown` changes.
///
/// Runs for the life of the process in a pingora background service.
/// Reconnects with backoff (250 ms doubling to 5 s) after any failure.
pub(crate) async fn listen(
    cache: &LocalCache,
    wire: &Wire,
    channel: &str,
    shutdown: &mut watch::Receiver<bool>,
) {
    let mut attempt = 0usize;
    let mut delay = Duration::from_millis(250);
    loop {
        match subscribe(cache, wire, channel, attempt, shutdown).await {
            Outcome::Stopped => return,
            Outcome::Lost(reason, was_up) => {
                cache.set_subscribed(false);
                if was_up {
                    delay = Duration::from_millis(250);
                }
                tracing::warn!(%reason, retry_in = ?delay, "session invalidation subscription lost");
            }
        }
        attempt = attempt.wrapping_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

enum Outcome {
    Stopped,
    /// The subscription failed or ended; `true` if it had been established.
    Lost(String, bool),
}

async fn subscribe(
    cache: &LocalCache,
    wire: &Wire,
    channel: &str,
    attempt: usize,
    shutdown: &mut watch::Receiver<bool>,
) -> Outcome {
    let client = match wire.pubsub_client(attempt).await {
        Ok(client) => client,
        Err(e) => return Outcome::Lost(e.to_string(), false),
    };
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, ::redis::RedisError>(pubsub)
    };
    let pubsub = match tokio::time::timeout(wire.connect_timeout() * 2, connect).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(e)) => return Outcome::Lost(format!("{:?}", e.kind()), false),
        Err(_) => return Outcome::Lost("timed out".into(), false),
    };
    // Anything published while we were not subscribed is lost: start afresh.
    cache.clear();
    cache.set_subscribed(true);
    tracing::info!("session invalidation subscription active");
    let (mut sink, mut messages) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    if let Ok(key) = std::str::from_utf8(message.get_payload_bytes()) {
                        cache.invalidate(key).await;
                    }
                }
                None => return Outcome::Lost("connection closed".into(), true),
            },
            _ = ping.tick() => {
                let pong = tokio::time::timeout(wire.command_timeout(), sink.ping::<String>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return Outcome::Lost("ping failed".into(), true);
                }
            }
            _ = shutdown.changed() => return Outcome::Stopped,
        }
    }
}
