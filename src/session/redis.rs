//! The Redis session store, shared by every replica of the gateway.
//!
//! Layout under the configured prefix `<p>` (e.g. `g2p:`; `H(x)` = base64url(SHA-256(x))):
//!
//! | key | value | expires |
//! |---|---|---|
//! | `<p>s:H(session id)` | sealed session | min(idle, absolute end), refreshed by reads |
//! | `<p>p:H(state)` | sealed pending login | login timeout |
//! | `<p>u:H(sub)`, `<p>d:H(sid)` | set of `H(session id)` (back-channel logout indexes) | the newest session's absolute end |
//! | `<p>j:H(jti)` | `1` (logout-token replay set) | the token's lifetime |
//! | `<p>sessions`, `<p>pending` | sorted sets of hashes by deadline (sizes, the pending bound) | |
//!
//! Keys hold only hashes, so reading Redis does not yield a session id or a
//! state to replay; values are sealed ([`Sealer`]) and bound to their key.
//! Writes that touch several keys are Lua scripts (atomic); `take_pending`
//! is one too, so a state is used once even when two replicas race. Ending a
//! session publishes its hash on `<p>invalidate`, which every replica's
//! [`LocalCache`] listens to.
//!
//! Every method runs on the request path of whichever pingora runtime serves
//! the request; failures become [`StoreError`] (HTTP 503), count in
//! `g2p_gateway_session_store_errors_total{op}` and flip
//! `g2p_gateway_session_store_up`.

pub(crate) mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::Script;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use self::wire::{Wire, WireError};
use super::cached::{self, LocalCache};
use super::sealed::Sealer;
use super::SetupError;
use super::{PendingLogin, Session, SessionId, SessionStore, StoreError};
use crate::config::{RedisSettings, StoreBounds};
use crate::shared::clock::now_secs;
use crate::shared::metrics::Metrics;

/// Deadlines in the size sets use Redis's clock (as key expiry does), one
/// millisecond after the key's expiry: a hash leaves the set only once its key
/// has expired, whatever the replicas' clocks say.
macro_rules! with_clock {
    ($body:literal) => {
        concat!(
            "local t = redis.call('TIME')\n",
            "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n",
            $body
        )
    };
}

/// Stores a session and adds it to the size set and the logout indexes,
/// which live until the latest session they list ends (`ARGV[4]`).
const INSERT_SESSION: &str = with_clock!(
    r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]) + 1, ARGV[3])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  -- Only ever lengthen: the index must outlive every session it lists.
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[4]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[4])
  end
end
return 1
"
);

/// Renews a session's idle timer (if it still exists) and its size deadline.
const REFRESH_SESSION: &str = with_clock!(
    r"
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[1]) + 1, ARGV[2])
end
return 1
"
);

/// Drops expired hashes from the size sets and counts what is left.
const SIZES: &str = with_clock!(
    r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])}
"
);

/// Ends one session and tells every replica.
const REMOVE_SESSION: &str = r"
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
";

/// Ends every session listed in an index (a subject's, a provider session's);
/// returns how many were still live, and every listed hash. The session keys
/// are built from the prefix, so with Cluster the prefix's hash tag keeps them
/// in the index's slot.
const REMOVE_INDEXED: &str = r"
local members = redis.call('SMEMBERS', KEYS[1])
local n = 0
for _, h in ipairs(members) do
  n = n + redis.call('DEL', ARGV[1] .. h)
  redis.call('ZREM', KEYS[2], h)
  redis.call('PUBLISH', ARGV[2], h)
end
redis.call('DEL', KEYS[1])
return {n, members}
";

/// Stores a pending login unless the bound is reached.
const INSERT_PENDING: &str = with_clock!(
    r"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]) + 1, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"
);

/// Returns and deletes a pending login, once.
const TAKE_PENDING: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return v
";

/// Sessions and pending logins in Redis, with a short local cache in front.
pub struct RedisStore {
    wire: Wire,
    sealer: Sealer,
    cache: LocalCache,
    metrics: Arc<Metrics>,
    up: AtomicBool,
    prefix: String,
    channel: String,
    idle: Duration,
    login_timeout: Duration,
    max_pending: u64,
    scripts: Scripts,
}

struct Scripts {
    insert_session: Script,
    refresh_session: Script,
    sizes: Script,
    remove_session: Script,
    remove_indexed: Script,
    insert_pending: Script,
    take_pending: Script,
}

impl RedisStore {
    /// Builds the store; connects nothing yet (the first command does).
    /// Runs once at startup.
    pub fn new(
        redis: &RedisSettings,
        bounds: &StoreBounds,
        login_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Result<RedisStore, SetupError> {
        metrics.set_store_up(false);
        Ok(RedisStore {
            wire: Wire::new(redis)?,
            sealer: Sealer::new(&redis.record_keys)?,
            cache: LocalCache::new(redis.local_cache_ttl, bounds.max_sessions, |id| {
                digest(id.as_str())
            }),
            metrics,
            up: AtomicBool::new(false),
            channel: format!("{}invalidate", redis.key_prefix),
            prefix: redis.key_prefix.clone(),
            idle: bounds.idle_timeout,
            login_timeout,
            max_pending: bounds.max_pending_logins,
            scripts: Scripts {
                insert_session: Script::new(INSERT_SESSION),
                refresh_session: Script::new(REFRESH_SESSION),
                sizes: Script::new(SIZES),
                remove_session: Script::new(REMOVE_SESSION),
                remove_indexed: Script::new(REMOVE_INDEXED),
                insert_pending: Script::new(INSERT_PENDING),
                take_pending: Script::new(TAKE_PENDING),
            },
        })
    }

    /// Listens for other replicas' logouts until `shutdown` changes.
    /// Runs for the life of the process (a pingora background service).
    pub async fn listen(&self, shutdown: &mut watch::Receiver<bool>) {
        cached::listen(&self.cache, &self.wire, &self.channel, shutdown).await;
    }

    /// Whether this replica currently hears other replicas' logouts.
    pub fn is_listening(&self) -> bool {
        self.cache.is_subscribed()
    }

    fn key(&self, kind: &str, hash: &str) -> String {
        format!("{}{kind}:{hash}", self.prefix)
    }

    fn seal<T: Serialize>(&self, key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| StoreError::Encode(Arc::new(e)))?;
        Ok(self.sealer.seal(key.as_bytes(), &json))
    }

    /// Opens a record; one that does not open counts as absent (and is logged).
    fn open<T: DeserializeOwned>(&self, key: &str, record: &[u8]) -> Option<T> {
        let opened = self
            .sealer
            .open(key.as_bytes(), record)
            .map_err(|e| e.to_string())
            .and_then(|json| serde_json::from_slice(&json).map_err(|_| "undecodable".into()));
        match opened {
            Ok(value) => Some(value),
            Err(reason) => {
                self.metrics.store_error("open");
                tracing::warn!(%reason, "session store record ignored");
                None
            }
        }
    }

    /// Records a failed operation and turns it into a [`StoreError`].
    fn fail(&self, op: &'static str, e: WireError) -> StoreError {
        self.metrics.store_error(op);
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::error!(op, error = %e, "session store unreachable: new logins and uncached sessions get 503");
        } else {
            tracing::debug!(op, error = %e, "session store still unreachable");
        }
        self.metrics.set_store_up(false);
        StoreError::Failed {
            op,
            cause: Arc::new(e),
        }
    }

    /// Records a successful round trip.
    fn ok(&self) {
        if !self.up.swap(true, Ordering::SeqCst) {
            tracing::info!("session store reachable");
            self.metrics.set_store_up(true);
        }
    }

    async fn refresh(&self, key: &str, hash: &str, ttl_ms: u64) {
        let mut invocation = self.scripts.refresh_session.prepare_invoke();
        invocation
            .key(key)
            .key(self.sessions_set())
            .arg(ttl_ms)
            .arg(hash);
        match self.wire.script::<()>(&invocation).await {
            Ok(()) => self.ok(),
            Err(e) => {
                // The session was read; only its renewal is lost.
                self.fail("refresh", e);
            }
        }
    }

    fn sessions_set(&self) -> String {
        format!("{}sessions", self.prefix)
    }

    fn pending_set(&self) -> String {
        format!("{}pending", self.prefix)
    }

    async fn remove_indexed(&self, kind: &str, value: &str) -> Result<u64, StoreError> {
        let mut invocation = self.scripts.remove_indexed.prepare_invoke();
        invocation
            .key(self.key(kind, &digest(value)))
            .key(self.sessions_set())
            .arg(format!("{}s:", self.prefix))
            .arg(&self.channel);
        let (ended, listed): (u64, Vec<String>) = self
            .wire
            .script(&invocation)
            .await
            .map_err(|e| self.fail("remove_indexed", e))?;
        self.ok();
        // The published hashes reach this replica's listener too; dropping
        // the copies here as well covers a replica that is not subscribed.
        for hash in &listed {
            self.cache.invalidate(hash).await;
        }
        Ok(ended)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn insert_session(&self, id: &SessionId, session: Session) -> Result<(), StoreError> {
        let hash = digest(id.as_str());
        let key = self.key("s", &hash);
        let now = now_secs();
        let left = Duration::from_secs(session.expires_at.saturating_sub(now));
        let ttl = self.idle.min(left).max(Duration::from_millis(1));
        let record = self.seal(&key, &session)?;
        let mut invocation = self.scripts.insert_session.prepare_invoke();
        invocation
            .key(&key)
            .key(self.sessions_set())
            .key(self.key("u", &digest(&session.sub)));
        if let Some(sid) = &session.sid {
            invocation.key(self.key("d", &digest(sid)));
        }
        invocation
            .arg(record)
            .arg(ttl.as_millis() as u64)
            .arg(&hash)
            .arg(left.max(Duration::from_millis(1)).as_millis() as u64);
        self.wire
            .script::<()>(&invocation)
            .await
            .map_err(|e| self.fail("insert", e))?;
        self.ok();
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Arc<Session>>, StoreError> {
        if let Some(hit) = self.cache.get(id).await {
            return Ok(Some(hit));
        }
        let hash = digest(id.as_str());
        let generation = self.cache.generation();
        let key = self.key("s", &hash);
        let mut pipe = ::redis::pipe();
        pipe.get(&key).pttl(&key);
        let (record, pttl): (Option<Vec<u8>>, i64) = self
            .wire
            .pipe(&pipe)
            .await
            .map_err(|e| self.fail("get", e))?;
        self.ok();
        let Some(record) = record else {
            return Ok(None);
        };
        let Some(session) = self.open::<Session>(&key, &record) else {
            return Ok(None);
        };
        let now = now_secs();
        if session.expires_at <= now {
            return Ok(None);
        }
        // Refresh the idle timer only when half of it has passed: most reads
        // cost one round trip, and the idle timeout holds within a factor of two.
        let idle_ms = self.idle.as_millis() as u64;
        let left_ms = (session.expires_at - now) * 1000;
        let ttl_ms = idle_ms.min(left_ms);
        if pttl >= 0 && (pttl as u64) < idle_ms / 2 && ttl_ms > pttl as u64 {
            self.refresh(&key, &hash, ttl_ms).await;
        }
        let session = Arc::new(session);
        self.cache
            .insert(id, &hash, session.clone(), generation)
            .await;
        Ok(Some(session))
    }

    async fn remove_session(&self, id: &SessionId) -> Result<(), StoreError> {
        let hash = digest(id.as_str());
        self.cache.invalidate(&hash).await;
        let mut invocation = self.scripts.remove_session.prepare_invoke();
        invocation
            .key(self.key("s", &hash))
            .key(self.sessions_set())
            .arg(&hash)
            .arg(&self.channel);
        self.wire
            .script::<()>(&invocation)
            .await
            .map_err(|e| self.fail("remove", e))?;
        self.ok();
        Ok(())
    }

    async fn insert_pending(&self, state: &str, login: PendingLogin) -> Result<bool, StoreError> {
        let hash = digest(state);
        let key = self.key("p", &hash);
        let record = self.seal(&key, &login)?;
        let mut invocation = self.scripts.insert_pending.prepare_invoke();
        invocation
            .key(&key)
            .key(self.pending_set())
            .arg(record)
            .arg(self.login_timeout.as_millis() as u64)
            .arg(self.max_pending)
            .arg(&hash);
        let stored: u64 = self
            .wire
            .script(&invocation)
            .await
            .map_err(|e| self.fail("pending_insert", e))?;
        self.ok();
        Ok(stored == 1)
    }

    async fn take_pending(&self, state: &str) -> Result<Option<PendingLogin>, StoreError> {
        let hash = digest(state);
        let key = self.key("p", &hash);
        let mut invocation = self.scripts.take_pending.prepare_invoke();
        invocation.key(&key).key(self.pending_set()).arg(&hash);
        let record: Option<Vec<u8>> = self
            .wire
            .script(&invocation)
            .await
            .map_err(|e| self.fail("pending_take", e))?;
        self.ok();
        Ok(record.and_then(|r| self.open(&key, &r)))
    }

    async fn remove_sessions_of_subject(&self, sub: &str) -> Result<u64, StoreError> {
        self.remove_indexed("u", sub).await
    }

    async fn remove_sessions_of_sid(&self, sid: &str) -> Result<u64, StoreError> {
        self.remove_indexed("d", sid).await
    }

    async fn remember_logout_jti(&self, jti: &str, ttl: Duration) -> Result<bool, StoreError> {
        let key = self.key("j", &digest(jti));
        let ttl_ms = (ttl.as_millis() as u64).max(1);
        let set: Option<String> = self
            .wire
            .query(
                ::redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms),
            )
            .await
            .map_err(|e| self.fail("jti", e))?;
        self.ok();
        Ok(set.is_some())
    }

    async fn health(&self) -> Result<(), StoreError> {
        let _: String = self
            .wire
            .query(&::redis::cmd("PING"))
            .await
            .map_err(|e| self.fail("health", e))?;
        self.ok();
        Ok(())
    }

    async fn sizes(&self) -> (u64, u64) {
        let mut invocation = self.scripts.sizes.prepare_invoke();
        invocation.key(self.sessions_set()).key(self.pending_set());
        match self.wire.script::<(u64, u64)>(&invocation).await {
            Ok(sizes) => {
                self.ok();
                sizes
            }
            Err(e) => {
                self.fail("sizes", e);
                (0, 0)
            }
        }
    }
}

/// base64url(SHA-256(value)): what keys hold instead of ids, states and subjects.
fn digest(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}
