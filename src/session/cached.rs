//! A replica's short-lived copy of hot sessions, in front of Redis, and the
//! pub/sub listener that drops copies when any replica ends a session.
//!
//! A cached session is served without a round trip for at most
//! `local_cache_ttl`. Every replica publishes the hashed key of each session it
//! ends on `<prefix>invalidate`; every replica's `listen` loop drops its copy
//! on receipt (milliseconds). If the subscription breaks, the loop reconnects
//! with backoff and clears the whole cache when it is back, since messages may
//! have been missed meanwhile; the cache lifetime bounds staleness in any case.
//! A generation counter stops a read that raced an invalidation from
//! re-caching the session it just lost.
//!
//! Copies are keyed by session id, so the per-request lookup costs one
//! foldhash of 43 bytes; the SHA-256 of the hashed key runs only on a miss
//! (the Redis read) and when a copy leaves the cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use moka::future::Cache;
use tokio::sync::watch;

use super::redis::wire::Wire;
use super::{IdHasher, Session, SessionId};
use crate::shared::clock::now_secs;

/// Sessions this replica read recently, keyed by session id, so a request
/// finds its copy without hashing; invalidations arrive by hashed Redis key
/// and find the id through `ids`.
pub struct LocalCache {
    copies: Option<Copies>,
    generation: AtomicU64,
    subscribed: AtomicBool,
}

struct Copies {
    sessions: Cache<SessionId, Arc<Session>, IdHasher>,
    /// Hashed key → (id, copies inserted and not yet removed). Counted up
    /// before a copy is inserted, down by the cache's removal listener, which
    /// moka calls once for every inserted copy whatever ends it (replaced,
    /// expired, evicted, refused at admission, invalidated). So a copy in
    /// `sessions` is always listed here, within an invalidation's reach.
    ids: Arc<Mutex<Ids>>,
}

type Ids = HashMap<Box<str>, (SessionId, u32), IdHasher>;

impl LocalCache {
    /// A cache of at most `capacity` sessions kept `ttl`; a zero `ttl` disables it.
    /// `hash` turns a session id into its hashed Redis key; it runs when a
    /// copy leaves the cache, never on a lookup.
    pub fn new(ttl: Duration, capacity: u64, hash: fn(&SessionId) -> String) -> LocalCache {
        let copies = (!ttl.is_zero()).then(|| {
            let ids: Arc<Mutex<Ids>> = Arc::default();
            let listed = Arc::clone(&ids);
            let sessions = Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .eviction_listener(move |id: Arc<SessionId>, _, _| {
                    let key = hash(&id);
                    let mut ids = lock(&listed);
                    if let Some((_, copies)) = ids.get_mut(key.as_str()) {
                        *copies -= 1;
                        if *copies == 0 {
                            ids.remove(key.as_str());
                        }
                    }
                })
                .build_with_hasher(IdHasher::default());
            Copies { sessions, ids }
        });
        LocalCache {
            copies,
            generation: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
        }
    }

    /// The cached session, if still within its absolute lifetime.
    /// Runs on every request to a protected route: one lookup, no hashing.
    pub async fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        let found = self.copies.as_ref()?.sessions.get(id).await?;
        (found.expires_at > now_secs()).then_some(found)
    }

    /// A token to pass to [`LocalCache::insert`], taken before reading Redis.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches a session read from Redis under `key` (its hashed Redis key),
    /// unless an invalidation arrived since `generation` was taken (the read
    /// may predate a logout), or this replica is not subscribed (it would not
    /// hear of a logout).
    pub async fn insert(&self, id: &SessionId, key: &str, session: Arc<Session>, generation: u64) {
        let Some(copies) = &self.copies else { return };
        if !self.subscribed.load(Ordering::SeqCst) {
            return;
        }
        lock(&copies.ids).entry(key.into()).or_insert((*id, 0)).1 += 1;
        copies.sessions.insert(*id, session).await;
        if self.generation() != generation {
            copies.sessions.invalidate(id).await;
        }
    }

    /// Drops the copy of the session whose hashed Redis key is `key` (a logout
    /// here or on another replica).
    pub async fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let Some(copies) = &self.copies else { return };
        let listed = lock(&copies.ids).get(key).map(|(id, _)| *id);
        if let Some(id) = listed {
            copies.sessions.invalidate(&id).await;
        }
    }

    /// Drops everything (the subscription was re-established: messages may be lost).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(copies) = &self.copies {
            copies.sessions.invalidate_all();
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

/// The index stays usable after a panic elsewhere: each of its operations is
/// one map call, which leaves it consistent.
fn lock(ids: &Mutex<Ids>) -> std::sync::MutexGuard<'_, Ids> {
    ids.lock().unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::sample_session;

    fn cache(capacity: u64) -> LocalCache {
        let cache = LocalCache::new(Duration::from_secs(60), capacity, |id| {
            format!("h:{}", id.as_str())
        });
        cache.set_subscribed(true);
        cache
    }

    fn key(id: &SessionId) -> String {
        format!("h:{}", id.as_str())
    }

    async fn put(cache: &LocalCache, id: &SessionId) {
        let session = Arc::new(sample_session("acr", 1));
        cache
            .insert(id, &key(id), session, cache.generation())
            .await;
    }

    /// Runs moka's pending removals (and so the listener), then returns the
    /// number of copies and the number of listed keys.
    async fn settled(cache: &LocalCache) -> (u64, usize) {
        let copies = cache.copies.as_ref().expect("enabled");
        copies.sessions.run_pending_tasks().await;
        (copies.sessions.entry_count(), lock(&copies.ids).len())
    }

    #[tokio::test]
    async fn a_copy_is_found_by_id_and_dropped_by_its_hashed_key() {
        let cache = cache(100);
        let (a, b) = (SessionId::random(), SessionId::random());
        put(&cache, &a).await;
        put(&cache, &b).await;
        assert!(cache.get(&a).await.is_some());
        cache.invalidate(&key(&a)).await;
        assert!(cache.get(&a).await.is_none());
        assert!(cache.get(&b).await.is_some());
        assert_eq!(
            settled(&cache).await,
            (1, 1),
            "a's key is unlisted with its copy"
        );
        cache.invalidate("h:unknown").await;
        assert!(cache.get(&b).await.is_some());
    }

    #[tokio::test]
    async fn a_replaced_copy_stays_within_reach_of_an_invalidation() {
        let cache = cache(100);
        let id = SessionId::random();
        put(&cache, &id).await;
        put(&cache, &id).await;
        put(&cache, &id).await;
        assert_eq!(settled(&cache).await, (1, 1));
        cache.invalidate(&key(&id)).await;
        assert!(cache.get(&id).await.is_none());
        assert_eq!(settled(&cache).await, (0, 0));
    }

    #[tokio::test]
    async fn copies_that_leave_by_size_are_unlisted() {
        let cache = cache(4);
        let ids: Vec<SessionId> = (0..64).map(|_| SessionId::random()).collect();
        for id in &ids {
            put(&cache, id).await;
        }
        let (copies, listed) = settled(&cache).await;
        assert!(copies <= 4, "{copies} copies");
        assert_eq!(listed as u64, copies, "one listed key per copy, no leak");
        for id in &ids {
            if cache.get(id).await.is_some() {
                cache.invalidate(&key(id)).await;
                assert!(
                    cache.get(id).await.is_none(),
                    "every copy is reachable by key"
                );
            }
        }
        assert_eq!(settled(&cache).await, (0, 0));
    }

    #[tokio::test]
    async fn a_read_that_raced_an_invalidation_is_not_cached() {
        let cache = cache(100);
        let id = SessionId::random();
        let generation = cache.generation();
        cache.invalidate(&key(&id)).await;
        let session = Arc::new(sample_session("acr", 1));
        cache.insert(&id, &key(&id), session, generation).await;
        assert!(cache.get(&id).await.is_none());
        assert_eq!(settled(&cache).await, (0, 0));
    }

    #[tokio::test]
    async fn nothing_is_cached_while_unsubscribed_or_when_disabled() {
        let unsubscribed = cache(100);
        unsubscribed.set_subscribed(false);
        let id = SessionId::random();
        put(&unsubscribed, &id).await;
        assert!(unsubscribed.get(&id).await.is_none());
        let disabled = LocalCache::new(Duration::ZERO, 100, |id| id.as_str().into());
        disabled.set_subscribed(true);
        put(&disabled, &id).await;
        assert!(disabled.get(&id).await.is_none());
    }
}
