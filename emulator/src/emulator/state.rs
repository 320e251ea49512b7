//! The emulator's shared, mutable state: registered clients, faults, and the short-lived
//! records e-Signet keeps in Redis (authorize transactions, auth codes, access tokens, used
//! nonces and client-assertion `jti`s), each with the TTL e-Signet uses. Expired entries are
//! pruned whenever a new one is stored.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock};

use serde_json::Value;

use super::config::{ClientRegistration, EsignetVersion, MockIdentity};
use super::faults::Faults;
use super::keys::Keys;

/// Authorize transaction lifetime (the login page must be completed within it).
pub(crate) const TRANSACTION_TTL: i64 = 600;
/// Auth-code lifetime: the `authcodegenerated` cache TTL as OpenG2P configures it, 60 s
/// (`OpenG2P/mosip-config @ master : esignet-default.properties`; e-Signet 1.8's own default is
/// 300 s).
pub(crate) const CODE_TTL: i64 = 60;
/// Access- and ID-token lifetime.
pub(crate) const TOKEN_TTL: i64 = 3600;
/// How long a nonce or an assertion `jti` stays "used".
pub(crate) const REPLAY_TTL: i64 = 24 * 3600;

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every update here
/// leaves the maps consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What `/authorize` validated and resolved, kept until the login form is submitted.
#[derive(Clone, Debug)]
pub(crate) struct AuthTransaction {
    pub client_id: String,
    /// Exactly as sent; the token request must repeat it.
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// Requested userinfo claims after filtering to the client's `user_claims`.
    pub claims: Vec<String>,
    /// Resolved ACRs: the login methods on offer.
    pub acrs: Vec<String>,
    /// `claims_locales`, as ISO-639-3 codes.
    pub locales: Vec<String>,
    pub code_challenge: Option<String>,
    pub created: i64,
}

/// An issued auth code: the transaction plus who logged in and how.
#[derive(Clone, Debug)]
pub(crate) struct CodeGrant {
    pub tx: AuthTransaction,
    pub individual_id: String,
    pub psut: String,
    pub acr: String,
    pub auth_time: i64,
    pub issued: i64,
    pub used: bool,
}

/// What userinfo needs for a live access token.
#[derive(Clone, Debug)]
pub(crate) struct AccessGrant {
    pub client_id: String,
    pub individual_id: String,
    pub psut: String,
    pub claims: Vec<String>,
    pub locales: Vec<String>,
    pub expires: i64,
}

/// The Redis-like records.
#[derive(Default)]
pub(crate) struct Store {
    pub transactions: HashMap<String, AuthTransaction>,
    pub codes: HashMap<String, CodeGrant>,
    pub access_tokens: HashMap<String, AccessGrant>,
    pub nonces: HashMap<String, i64>,
    pub jtis: HashMap<String, i64>,
}

impl Store {
    /// Drops everything past its TTL. Expired transactions are kept one extra TTL so a late
    /// form submission gets `transaction_timeout` rather than "unknown transaction"; used
    /// codes are kept until they expire so a replay is told apart from a typo.
    pub fn prune(&mut self, now: i64) {
        self.transactions
            .retain(|_, tx| now - tx.created < 2 * TRANSACTION_TTL);
        self.codes.retain(|_, code| now - code.issued < CODE_TTL);
        self.access_tokens.retain(|_, grant| grant.expires > now);
        self.nonces.retain(|_, at| now - *at < REPLAY_TTL);
        self.jtis.retain(|_, at| now - *at < REPLAY_TTL);
    }
}

/// One token-endpoint call as received, for tests that assert what the gateway sent.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedTokenRequest {
    /// The request path (`/v1/esignet/oauth/v2/token`).
    pub path: String,
    /// Request headers, names lower-cased, in received order.
    pub headers: Vec<(String, String)>,
    /// The form fields, percent-decoded, in order.
    pub form: Vec<(String, String)>,
    /// The `client_assertion`'s JOSE header, decoded without verification.
    pub assertion_header: Option<Value>,
    /// The `client_assertion`'s claims, decoded without verification.
    pub assertion_claims: Option<Value>,
    /// The HTTP status the emulator answered with.
    pub status: u16,
    /// The `error` code answered, if any.
    pub error: Option<String>,
}

impl RecordedTokenRequest {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub version: EsignetVersion,
    /// `http://IP:PORT`, no trailing slash.
    pub base_url: String,
    /// The discovery `issuer`.
    pub issuer: String,
    /// The tokens' `iss` (`issuer-id`); differs from `issuer` in issuer-mismatch mode.
    pub token_issuer: String,
    pub otp: String,
    /// Bearer token of the client-management APIs.
    pub admin_token: String,
    pub keys: Keys,
    /// In configuration order, for the login page's hints and the binary's banner.
    pub identities: Vec<MockIdentity>,
    pub clients: RwLock<HashMap<String, ClientRegistration>>,
    pub faults: RwLock<Faults>,
    pub store: Mutex<Store>,
    pub token_requests: Mutex<Vec<RecordedTokenRequest>>,
}

impl Shared {
    /// `{base}/v1/esignet/oauth/v2/token`, the discovery `token_endpoint` and the
    /// client-assertion audience.
    pub fn token_endpoint(&self) -> String {
        format!("{}/v1/esignet/oauth/v2/token", self.base_url)
    }

    /// A registered client by id.
    pub fn client(&self, client_id: &str) -> Option<ClientRegistration> {
        self.clients
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(client_id)
            .cloned()
    }

    /// The current faults.
    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// An identity by its individual id.
    pub fn identity(&self, individual_id: &str) -> Option<&MockIdentity> {
        self.identities
            .iter()
            .find(|i| i.individual_id == individual_id)
    }

    /// The OTP/PIN accepted for `identity`.
    pub fn otp_for<'a>(&'a self, identity: &'a MockIdentity) -> &'a str {
        identity.otp.as_deref().unwrap_or(&self.otp)
    }
}
