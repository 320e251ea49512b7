//! Sessions and pending logins, behind one store interface.
//!
//! The browser holds only an opaque, sealed session id; everything else lives
//! on the server in a [`SessionStore`]. The in-memory store is the default; a
//! shared store (Redis) implements the same trait for several replicas.

pub mod cached;
pub mod cookie;
pub mod memory;
pub mod redis;
pub mod sealed;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::mapping::MappedIdentity;

/// The hasher of the caches keyed by session ids (the session store's, the
/// Redis store's local copies, the forwarded identities'), looked up on
/// every request to a protected route.
///
/// foldhash, seeded at random, in place of std's SipHash
/// (~0.7k instructions a request less, `docs/performance.md`). Flooding a
/// cache's buckets needs chosen keys, and these keys are never chosen by a
/// client: a session id is the gateway's own random value (a client can name
/// one only through a cookie the gateway sealed), and the local copies are
/// keyed by a digest of it.
pub type IdHasher = foldhash::fast::RandomState;

/// A session id: 256 random bits, base64url. Unguessable, never reused.
///
/// Kept inline (43 ASCII bytes, no heap): it is copied into the request
/// context and into cache keys on every request to a protected route.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; SESSION_ID_LEN]);

/// Length of a session id's text: 32 bytes in unpadded base64url.
const SESSION_ID_LEN: usize = 43;

impl SessionId {
    /// A fresh random id. Called at every login (no fixation).
    pub fn random() -> SessionId {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut text = [0u8; SESSION_ID_LEN];
        let written = URL_SAFE_NO_PAD
            .encode_slice(bytes, &mut text)
            .expect("32 bytes encode to 43");
        debug_assert_eq!(written, SESSION_ID_LEN);
        SessionId(text)
    }

    /// Accepts an id read from a sealed cookie, if it has the right shape.
    pub fn parse(value: &str) -> Option<SessionId> {
        let bytes: [u8; SESSION_ID_LEN] = value.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(SessionId(bytes))
    }

    /// The id text.
    ///
    /// # Security
    /// It is a bearer credential: never log it.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("session ids are ASCII")
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// A logged-in user's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The mapped OpenG2P identity.
    pub identity: MappedIdentity,
    /// The provider's `sub` (the PSUT with e-Signet): the same allocation as
    /// the identity's `user_id` when it is the same text (the default
    /// token map, `sub:user_id`).
    pub sub: Arc<str>,
    /// The authentication context class reached (`acr` of the ID token).
    ///
    /// This and the other texts that never change after login are boxed
    /// strings, not `String`s: 8 bytes less each, which keeps a `Session`
    /// in the allocator's 256-byte size class instead of its 320-byte one.
    pub acr: Box<str>,
    /// When the user authenticated (epoch seconds).
    pub auth_time: u64,
    /// The provider session id (`sid`), for back-channel logout.
    pub sid: Option<Box<str>>,
    /// When the session was created (epoch seconds).
    pub created_at: u64,
    /// When the session ends whatever the activity (epoch seconds).
    pub expires_at: u64,
    /// The ID token, kept for RP-initiated logout (`id_token_hint`).
    #[serde(default)]
    pub id_token: Option<Box<str>>,
}

/// A login started and not yet finished, keyed by its `state`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// PKCE code verifier.
    pub code_verifier: String,
    /// Nonce the ID token must carry.
    pub nonce: String,
    /// Same-origin path to return to.
    pub return_to: String,
    /// Hash of the login-binding cookie of the browser that started it.
    pub browser_binding: String,
    /// `acr_values` asked for.
    pub acr_values: Vec<String>,
    /// When set, the new ID token's `acr` must be one of these (step-up, or a
    /// route whose policy names acrs); otherwise the login is refused.
    #[serde(default)]
    pub required_acr: Option<Vec<String>>,
    /// When it started (epoch seconds).
    pub created_at: u64,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("return_to", &self.return_to)
            .field("acr_values", &self.acr_values)
            .finish_non_exhaustive()
    }
}

/// Why the session cookies or the store cannot be set up (startup, reload).
/// Never quotes a key or a Redis URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A cookie key (`session.cookie_keys`) is unusable (shorter than 64 bytes).
    #[error("session.cookie_keys: a key is unusable")]
    CookieKey(#[source] ::cookie::KeyError),
    /// No cookie key is configured.
    #[error("no cookie key")]
    NoCookieKey,
    /// A record key (`session.store.redis.record_keys`) is not 32 bytes.
    #[error("a record key must be 32 bytes")]
    RecordKeyLength,
    /// No record key is configured.
    #[error("no record key")]
    NoRecordKey,
    /// A Redis address or client setting is invalid. Only the error kind is
    /// kept: the client's message may quote the URL and its password.
    #[error("session.store.redis: invalid {what} ({kind:?})")]
    Redis {
        /// Which setting (`url`, `sentinel url`, `cluster`...).
        what: &'static str,
        /// The client's error kind.
        kind: ::redis::ErrorKind,
    },
}

/// A store failure (the shared store is unreachable, a record cannot be
/// encoded). Cheap to clone: the cause is shared.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// An operation failed: Redis unreachable, timed out, or answered an error.
    #[error("session store: {op} failed")]
    Failed {
        /// The operation (the `op` label of `g2p_gateway_session_store_errors_total`).
        op: &'static str,
        /// Why, from the Redis client.
        #[source]
        cause: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A record could not be encoded before sealing.
    #[error("session store: cannot encode a record")]
    Encode(#[source] Arc<serde_json::Error>),
}

/// Where sessions and pending logins live.
///
/// Implementations expire sessions after the idle timeout (reads refresh it)
/// and at `expires_at`, and make `take_pending` atomic: a state is returned at
/// most once, even with concurrent callbacks.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    async fn insert_session(&self, id: &SessionId, session: Session) -> Result<(), StoreError>;
    /// The live session for `id`, refreshing its idle timer.
    async fn session(&self, id: &SessionId) -> Result<Option<Arc<Session>>, StoreError>;
    /// Ends a session.
    async fn remove_session(&self, id: &SessionId) -> Result<(), StoreError>;
    /// Stores a pending login. Fails with `Ok(false)` when the store is full.
    async fn insert_pending(&self, state: &str, login: PendingLogin) -> Result<bool, StoreError>;
    /// Removes and returns the pending login for `state`, once.
    async fn take_pending(&self, state: &str) -> Result<Option<PendingLogin>, StoreError>;
    /// Ends every session of this provider subject (back-channel logout
    /// without `sid`). Returns how many ended.
    async fn remove_sessions_of_subject(&self, sub: &str) -> Result<u64, StoreError>;
    /// Ends every session carrying this provider session id (`sid`).
    async fn remove_sessions_of_sid(&self, sid: &str) -> Result<u64, StoreError>;
    /// Records a back-channel logout token's `jti` for `ttl`; `Ok(false)`
    /// when it was already seen (a replay).
    async fn remember_logout_jti(&self, jti: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Whether the store can serve requests (for `/readyz`).
    async fn health(&self) -> Result<(), StoreError>;
    /// Counts of sessions and pending logins, for metrics (runs at each scrape).
    async fn sizes(&self) -> (u64, u64);
}

/// A logged-in session for unit tests: PSUT `psut-1`, login `a@b.c`, group
/// `portal`, a few mapped claims (one of them empty), never expiring.
#[cfg(test)]
pub(crate) fn sample_session(acr: &str, auth_time: u64) -> Session {
    use crate::mapping::{Claims, RegistrantId};
    let claims = serde_json::json!({ "gender": "Female", "region": "Rabat", "age": 42, "email": "a@b.c", "empty": "" });
    Session {
        identity: MappedIdentity {
            user_id: "psut-1".into(),
            registrant_id: RegistrantId {
                id_type: "MOSIP PSUT".into(),
                value: "psut-1".into(),
            },
            login: "a@b.c".into(),
            groups: vec!["portal".into()],
            claims: Claims::from_map(claims.as_object().cloned().unwrap_or_default()),
            extra_registrant_ids: Vec::new(),
            verified: Default::default(),
        },
        sub: "psut-1".into(),
        acr: acr.into(),
        auth_time,
        sid: None,
        created_at: 0,
        expires_at: u64::MAX,
        id_token: None,
    }
}
