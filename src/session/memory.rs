//! The in-memory session store: two moka caches, bounded and self-expiring.
//!
//! Sessions expire after the idle timeout (moka's time-to-idle, refreshed by
//! every read) or at their absolute expiry (a per-entry expiry), whichever
//! comes first. Pending logins expire after the login timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::future::Cache;
use moka::Expiry;

use super::{IdHasher, PendingLogin, Session, SessionId, SessionStore, StoreError};
use crate::shared::clock::now_secs;

/// Expires a session at its absolute end.
struct AbsoluteExpiry;

impl Expiry<SessionId, Arc<Session>> for AbsoluteExpiry {
    fn expire_after_create(
        &self,
        _key: &SessionId,
        value: &Arc<Session>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(
            value.expires_at.saturating_sub(now_secs()),
        ))
    }
}

/// Sessions and pending logins in this process's memory.
pub struct MemoryStore {
    sessions: Cache<SessionId, Arc<Session>, IdHasher>,
    pending: Cache<String, PendingLogin>,
    logout_jtis: Cache<String, Duration>,
    max_pending: u64,
}

impl MemoryStore {
    /// Creates the store with its bounds and timeouts.
    pub fn new(
        max_sessions: u64,
        idle_timeout: Duration,
        max_pending: u64,
        login_timeout: Duration,
    ) -> MemoryStore {
        MemoryStore {
            sessions: Cache::builder()
                .max_capacity(max_sessions)
                .time_to_idle(idle_timeout)
                .expire_after(AbsoluteExpiry)
                .build_with_hasher(IdHasher::default()),
            pending: Cache::builder()
                .max_capacity(max_pending.saturating_mul(2))
                .time_to_live(login_timeout)
                .build(),
            logout_jtis: Cache::builder()
                .max_capacity(100_000)
                .expire_after(JtiExpiry)
                .build(),
            max_pending,
        }
    }

    /// Ends every session matching `predicate`; returns how many.
    async fn remove_where(&self, predicate: impl Fn(&Session) -> bool) -> u64 {
        let doomed: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| predicate(s))
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            self.sessions.invalidate(id).await;
        }
        doomed.len() as u64
    }
}

/// Remembers a logout-token `jti` for the lifetime stored with it.
struct JtiExpiry;

impl Expiry<String, Duration> for JtiExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        ttl: &Duration,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(*ttl)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, id: &SessionId, session: Session) -> Result<(), StoreError> {
        self.sessions.insert(*id, Arc::new(session)).await;
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Arc<Session>>, StoreError> {
        let found = self.sessions.get(id).await;
        // Belt and braces: never serve a session past its absolute end.
        Ok(found.filter(|s| s.expires_at > now_secs()))
    }

    async fn remove_session(&self, id: &SessionId) -> Result<(), StoreError> {
        self.sessions.invalidate(id).await;
        Ok(())
    }

    async fn insert_pending(&self, state: &str, login: PendingLogin) -> Result<bool, StoreError> {
        // The count lags behind inserts and removals until the cache's
        // pending work runs: run it first, so the bound is exact and the
        // cache never reaches its own (frequency-based) eviction, which
        // could drop a citizen's login silently.
        self.pending.run_pending_tasks().await;
        if self.pending.entry_count() >= self.max_pending {
            return Ok(false);
        }
        self.pending.insert(state.to_string(), login).await;
        Ok(true)
    }

    async fn take_pending(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        // `remove` is atomic: of two concurrent callbacks only one gets it.
        Ok(self.pending.remove(state).await)
    }

    async fn remove_sessions_of_subject(&self, sub: &str) -> Result<u64, StoreError> {
        Ok(self.remove_where(|s| *s.sub == *sub).await)
    }

    async fn remove_sessions_of_sid(&self, sid: &str) -> Result<u64, StoreError> {
        Ok(self.remove_where(|s| s.sid.as_deref() == Some(sid)).await)
    }

    async fn remember_logout_jti(&self, jti: &str, ttl: Duration) -> Result<bool, StoreError> {
        // `or_insert` is atomic: of two concurrent deliveries one is fresh.
        let entry = self.logout_jtis.entry(jti.to_string()).or_insert(ttl).await;
        Ok(entry.is_fresh())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn sizes(&self) -> (u64, u64) {
        self.sessions.run_pending_tasks().await;
        self.pending.run_pending_tasks().await;
        (self.sessions.entry_count(), self.pending.entry_count())
    }
}
