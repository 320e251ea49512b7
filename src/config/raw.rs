//! The serde mirror of `gateway.yaml`: what the operator wrote, before any check.
//!
//! Every struct denies unknown keys and every optional key has a named
//! `DEFAULT_*` constant. Required keys are `Option`s so that their absence is
//! reported by validation with a YAML path, together with every other problem.

mod values;

use std::time::Duration;

use serde::Deserialize;

pub use values::{OneOrMany, OrderedMap, PairList, SecretRef, Words};

// === Defaults ===

/// Default proxy listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default admin listener (`/metrics`, `/healthz`, `/readyz`).
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
/// Default reserved prefix for the gateway's own endpoints.
pub const DEFAULT_PREFIX: &str = "/_gateway";
/// Default number of pingora worker threads.
pub const DEFAULT_THREADS: u32 = 2;
/// Default graceful-shutdown period.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// Default ACRs: e-Signet's OTP and biometric factors.
pub const DEFAULT_ACR_VALUES: &str = "mosip:idp:acr:generated-code mosip:idp:acr:biometrics";
/// Default user claims requested through the `claims` parameter.
pub const DEFAULT_USER_CLAIMS: &str = "birthdate address gender name phone_number email picture";
/// Default `scope`.
pub const DEFAULT_SCOPE: &str = "openid profile";
/// Default `claims_locales`.
pub const DEFAULT_CLAIMS_LOCALES: &str = "en";
/// Default `ui_locales`.
pub const DEFAULT_UI_LOCALES: &str = "en";
/// Default allowed clock skew for token times.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Default client-assertion lifetime.
pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(120);
/// Default JWKS cache lifetime.
pub const DEFAULT_JWKS_CACHE_TTL: Duration = Duration::from_secs(3600);
/// Default minimum interval between unknown-`kid` JWKS refetches.
pub const DEFAULT_JWKS_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Default timeout for each provider call.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default lifetime of a started login.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(600);
/// Default Odoo token map: the PSUT (`sub`) becomes the registrant ID.
pub const DEFAULT_TOKEN_MAP: &str = "sub:user_id";
/// Default Odoo "Partner Creation Validate Response" mapping.
pub const DEFAULT_USERINFO_MAP: &str =
    "name:name email:email phone_number:phone birthdate:birthdate gender:gender address:address";
/// Default registrant ID type for the mapped `user_id`.
pub const DEFAULT_REGISTRANT_ID_TYPE: &str = "MOSIP PSUT";
/// Default group given to every user.
pub const DEFAULT_GROUP: &str = "portal";
/// Default mapped key used as the login.
pub const DEFAULT_LOGIN_ATTRIBUTE: &str = "email";
/// Default cookie name when the cookie is `Secure`.
pub const DEFAULT_SECURE_COOKIE_NAME: &str = "__Host-g2p-session";
/// Default cookie name with `insecure_cookie_without_secure`.
pub const DEFAULT_INSECURE_COOKIE_NAME: &str = "g2p-session";
/// Default session idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default session absolute timeout.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(8 * 3600);
/// Default bound on sessions in memory.
pub const DEFAULT_MAX_SESSIONS: u64 = 100_000;
/// Default bound on pending logins in memory.
pub const DEFAULT_MAX_PENDING_LOGINS: u64 = 10_000;
/// Default prefix of every Redis key.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "g2p:";
/// Default time a replica serves a session from memory without asking Redis.
pub const DEFAULT_LOCAL_CACHE_TTL: Duration = Duration::from_secs(5);
/// Default bound on one Redis connection attempt.
pub const DEFAULT_REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default bound on one Redis command.
pub const DEFAULT_REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Default header carrying the signed identity.
pub const DEFAULT_IDENTITY_HEADER: &str = "X-G2P-Identity";
/// Default identity-assertion audience.
pub const DEFAULT_IDENTITY_AUDIENCE: &str = "g2p-portal";
/// Default identity-assertion lifetime.
pub const DEFAULT_IDENTITY_LIFETIME: Duration = Duration::from_secs(60);
/// Default header prefix stripped from client requests.
pub const DEFAULT_STRIP_PREFIX: &str = "X-G2P-";
/// Default plain identity headers: header name → mapped key.
pub const DEFAULT_IDENTITY_HEADERS: &[(&str, &str)] = &[
    ("X-G2P-User-Id", "user_id"),
    ("X-G2P-Reg-Id", "registrant_id"),
    ("X-G2P-Reg-Id-Type", "registrant_id_type"),
];
/// Default log filter.
pub const DEFAULT_LOG_LEVEL: &str = "info";

// === Document ===

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub server: RawServer,
    pub esignet: RawEsignet,
    pub mapping: RawMapping,
    pub session: RawSession,
    pub identity: RawIdentity,
    pub upstreams: Option<OrderedMap<RawUpstream>>,
    pub routes: Option<Vec<RawRoute>>,
    pub logging: RawLogging,
    pub pages: RawPages,
    pub limits: RawLimits,
    pub forward_auth: Option<RawForwardAuth>,
    pub provider: RawProvider,
}

/// `forward_auth:`: turns on the `<prefix>/auth` endpoint for one ingress kind.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawForwardAuth {
    pub source: Option<RawForwardAuthSource>,
}

/// `forward_auth.source`: whose headers describe the original request.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawForwardAuthSource {
    Nginx,
    Traefik,
}

/// `limits:`; each rate may be `off`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
    pub login_starts: RawRate,
    pub callbacks: RawRate,
    pub pending_logins_per_client: u32,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            login_starts: RawRate::Limit(RawRateLimit {
                per_minute: DEFAULT_LOGIN_STARTS_PER_MINUTE,
                burst: DEFAULT_LOGIN_STARTS_BURST,
            }),
            callbacks: RawRate::Limit(RawRateLimit {
                per_minute: DEFAULT_CALLBACKS_PER_MINUTE,
                burst: DEFAULT_CALLBACKS_BURST,
            }),
            pending_logins_per_client: DEFAULT_PENDING_LOGINS_PER_CLIENT,
        }
    }
}

/// Default login starts per client per minute (a NAT may hide many citizens).
pub const DEFAULT_LOGIN_STARTS_PER_MINUTE: u32 = 60;
/// Default burst of login starts per client.
pub const DEFAULT_LOGIN_STARTS_BURST: u32 = 30;
/// Default callbacks per client per minute.
pub const DEFAULT_CALLBACKS_PER_MINUTE: u32 = 60;
/// Default burst of callbacks per client.
pub const DEFAULT_CALLBACKS_BURST: u32 = 30;
/// Default cap of logins a client may have started within one login timeout.
pub const DEFAULT_PENDING_LOGINS_PER_CLIENT: u32 = 200;

/// A rate: `{per_minute, burst}` or the word `off`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawRate {
    Limit(RawRateLimit),
    Off(String),
}

/// `{per_minute, burst}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// `pages:` (the operator's error and denial page).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPages {
    pub template: Option<String>,
}

/// `server:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    pub admin_listen: String,
    pub public_url: Option<String>,
    pub prefix: String,
    pub threads: u32,
    pub work_stealing: bool,
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// Replaced by `trusted_proxies`; kept only to point operators there.
    pub trust_forwarded_headers: Option<bool>,
    pub trusted_proxies: Vec<String>,
    pub tls: Option<RawTls>,
    pub watch_config: bool,
    pub max_header_bytes: usize,
    pub max_body_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    pub max_connections: u32,
    pub max_connections_per_client: u32,
}

/// Default deadline for a request's headers, from its first byte (or from
/// the connection's accept). A citizen on a slow mobile link sends 1-2 kB of
/// headers in well under a second; nginx's `client_header_timeout` is 60 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on open client connections, all clients together.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;
/// Default cap on open connections from one client address (IPv6: one /64).
/// A browser opens about 6 per origin, but a carrier-grade NAT hides many
/// citizens behind one address, and a load test (`wrk -c400`) or a sidecar
/// proxy on loopback is one address too: high enough for those, low enough
/// that ten sources cannot take every connection. Peers in
/// `trusted_proxies` are exempt.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: u32 = 1024;

/// Default cap on the total size of a request's headers (431 beyond).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
/// Default cap on a request body (413 beyond); portals take document uploads.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 100 * 1024 * 1024;

/// `server.tls:` certificate and key files (PEM) for TLS on `server.listen`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTls {
    pub cert: Option<String>,
    pub key: Option<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: DEFAULT_LISTEN.into(),
            admin_listen: DEFAULT_ADMIN_LISTEN.into(),
            public_url: None,
            prefix: DEFAULT_PREFIX.into(),
            threads: DEFAULT_THREADS,
            work_stealing: true,
            grace_period: DEFAULT_GRACE_PERIOD,
            trust_forwarded_headers: None,
            trusted_proxies: Vec::new(),
            tls: None,
            watch_config: false,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        }
    }
}

/// `esignet:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawEsignet {
    pub client_id: Option<String>,
    pub discovery_url: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub end_session_url: Option<String>,
    pub issuer: Option<OneOrMany>,
    pub assertion_aud: Option<String>,
    pub ca_file: Option<String>,
    pub private_key: Option<SecretRef>,
    pub private_key_kid: Option<String>,
    pub acr_values: Words,
    pub user_claims: Words,
    pub essential_claims: Words,
    pub scope: Words,
    pub claims_locales: Words,
    pub ui_locales: Words,
    pub prompt: Option<String>,
    pub display: Option<String>,
    pub insecure_allow_unsigned_userinfo: bool,
    #[serde(with = "humantime_serde")]
    pub clock_skew: Duration,
    #[serde(with = "humantime_serde")]
    pub assertion_lifetime: Duration,
    #[serde(with = "humantime_serde")]
    pub jwks_cache_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub login_timeout: Duration,
}

impl Default for RawEsignet {
    fn default() -> Self {
        RawEsignet {
            client_id: None,
            discovery_url: None,
            authorize_url: None,
            token_url: None,
            userinfo_url: None,
            jwks_url: None,
            end_session_url: None,
            issuer: None,
            assertion_aud: None,
            ca_file: None,
            private_key: None,
            private_key_kid: None,
            acr_values: Words::text(DEFAULT_ACR_VALUES),
            user_claims: Words::text(DEFAULT_USER_CLAIMS),
            essential_claims: Words::default(),
            scope: Words::text(DEFAULT_SCOPE),
            claims_locales: Words::text(DEFAULT_CLAIMS_LOCALES),
            ui_locales: Words::text(DEFAULT_UI_LOCALES),
            prompt: None,
            display: None,
            insecure_allow_unsigned_userinfo: false,
            clock_skew: DEFAULT_CLOCK_SKEW,
            assertion_lifetime: DEFAULT_ASSERTION_LIFETIME,
            jwks_cache_ttl: DEFAULT_JWKS_CACHE_TTL,
            jwks_min_refresh_interval: DEFAULT_JWKS_MIN_REFRESH_INTERVAL,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }
}

/// `mapping:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMapping {
    pub token_map: PairList,
    pub userinfo_map: PairList,
    pub registrant_id_type: String,
    pub default_group: String,
    pub login_attribute: String,
    pub birthdate_format: Option<String>,
}

impl Default for RawMapping {
    fn default() -> Self {
        RawMapping {
            token_map: PairList::Text(DEFAULT_TOKEN_MAP.into()),
            userinfo_map: PairList::Text(DEFAULT_USERINFO_MAP.into()),
            registrant_id_type: DEFAULT_REGISTRANT_ID_TYPE.into(),
            default_group: DEFAULT_GROUP.into(),
            login_attribute: DEFAULT_LOGIN_ATTRIBUTE.into(),
            birthdate_format: None,
        }
    }
}

/// `session:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSession {
    pub cookie_name: Option<String>,
    pub cookie_keys: Option<Vec<SecretRef>>,
    pub insecure_cookie_without_secure: bool,
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
    pub max_sessions: u64,
    pub max_pending_logins: u64,
    pub store: RawStore,
}

impl Default for RawSession {
    fn default() -> Self {
        RawSession {
            cookie_name: None,
            cookie_keys: None,
            insecure_cookie_without_secure: false,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_timeout: DEFAULT_ABSOLUTE_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_pending_logins: DEFAULT_MAX_PENDING_LOGINS,
            store: RawStore::default(),
        }
    }
}

/// `session.store:`, either `memory` or `{redis: {...}}`.
#[derive(Debug, Default)]
pub enum RawStore {
    #[default]
    Memory,
    /// The map form, checked by validation (exactly one engine).
    Map(Box<RawStoreMap>),
}

/// `session.store:` written as a map.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStoreMap {
    pub redis: Option<RawRedis>,
}

/// `session.store.redis:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRedis {
    pub url: Option<SecretRef>,
    pub sentinel: Option<RawSentinel>,
    pub cluster: Option<RawCluster>,
    pub key_prefix: String,
    pub record_keys: Option<Vec<SecretRef>>,
    #[serde(with = "humantime_serde")]
    pub local_cache_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    pub tls_ca: Option<SecretRef>,
}

impl Default for RawRedis {
    fn default() -> Self {
        RawRedis {
            url: None,
            sentinel: None,
            cluster: None,
            key_prefix: DEFAULT_REDIS_KEY_PREFIX.into(),
            record_keys: None,
            local_cache_ttl: DEFAULT_LOCAL_CACHE_TTL,
            connect_timeout: DEFAULT_REDIS_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_REDIS_COMMAND_TIMEOUT,
            tls_ca: None,
        }
    }
}

/// `session.store.redis.sentinel:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSentinel {
    pub master: Option<String>,
    pub urls: Option<SecretRef>,
    pub password: Option<SecretRef>,
    pub tls: bool,
}

/// `session.store.redis.cluster:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCluster {
    pub urls: Option<SecretRef>,
}

impl<'de> Deserialize<'de> for RawStore {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StoreVisitor)
    }
}

struct StoreVisitor;

impl<'de> serde::de::Visitor<'de> for StoreVisitor {
    type Value = RawStore;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory or {redis: {...}}")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawStore, E> {
        match v {
            "memory" => Ok(RawStore::Memory),
            other => Err(E::custom(format!(
                "unknown store {other:?} (allowed: memory, or a map {{redis: {{...}}}})"
            ))),
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawStore, A::Error> {
        RawStoreMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            .map(|map| RawStore::Map(Box::new(map)))
    }
}

/// `identity:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawIdentity {
    pub header: String,
    pub issuer: Option<String>,
    pub audience: String,
    #[serde(with = "humantime_serde")]
    pub lifetime: Duration,
    pub signing_keys: Option<Vec<SecretRef>>,
    pub strip_prefix: String,
    pub headers: OrderedMap<String>,
}

impl Default for RawIdentity {
    fn default() -> Self {
        let headers = DEFAULT_IDENTITY_HEADERS
            .iter()
            .map(|(h, k)| (h.to_string(), k.to_string()))
            .collect();
        RawIdentity {
            header: DEFAULT_IDENTITY_HEADER.into(),
            issuer: None,
            audience: DEFAULT_IDENTITY_AUDIENCE.into(),
            lifetime: DEFAULT_IDENTITY_LIFETIME,
            signing_keys: None,
            strip_prefix: DEFAULT_STRIP_PREFIX.into(),
            headers: OrderedMap(headers),
        }
    }
}

/// One entry of `upstreams:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawUpstream {
    pub url: Option<String>,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// `header` (default) or `bearer` (an OpenG2P FastAPI portal).
    pub identity: Option<String>,
    pub insecure_plain_identity_headers: bool,
    /// The portal's own session cookies; default per identity form.
    pub portal_cookies: Option<Vec<String>>,
    /// Also send `X-Real-IP` (the client address the gateway decided on).
    pub real_ip_header: bool,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            url: None,
            connect_timeout: DEFAULT_UPSTREAM_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_UPSTREAM_READ_TIMEOUT,
            identity: None,
            insecure_plain_identity_headers: false,
            portal_cookies: None,
            real_ip_header: false,
        }
    }
}

/// The FastAPI portal's session cookies (`JwtBearerAuth` reads both), the
/// default `portal_cookies` of a `bearer` upstream.
pub const DEFAULT_BEARER_PORTAL_COOKIES: &[&str] = &["X-Access-Token", "X-ID-Token"];

/// `provider:`: the OpenID provider the gateway offers to OpenG2P portals.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawProvider {
    pub clients: OrderedMap<RawProviderClient>,
    #[serde(with = "humantime_serde")]
    pub code_lifetime: Duration,
    #[serde(with = "humantime_serde")]
    pub token_lifetime: Duration,
}

impl Default for RawProvider {
    fn default() -> Self {
        RawProvider {
            clients: OrderedMap::default(),
            code_lifetime: DEFAULT_PROVIDER_CODE_LIFETIME,
            token_lifetime: DEFAULT_PROVIDER_TOKEN_LIFETIME,
        }
    }
}

/// Default lifetime of a one-time authorization code given to a portal.
pub const DEFAULT_PROVIDER_CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Default lifetime of the access and ID tokens given to a portal.
pub const DEFAULT_PROVIDER_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// One entry of `provider.clients:` (keyed by client id).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawProviderClient {
    pub client_secret: Option<SecretRef>,
    pub redirect_uris: Vec<String>,
    pub provision: Option<RawProvision>,
}

/// `provider.clients.<id>.provision:`: the gateway drives the portal's own
/// `/oauth2/callback` after each login.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawProvision {
    pub upstream: Option<String>,
    pub callback_path: Option<String>,
    pub provider_id: Option<i64>,
    pub code_verifier: Option<SecretRef>,
}

/// Default time to open a connection to an upstream.
pub const DEFAULT_UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest wait for an upstream to send anything (each read and write).
pub const DEFAULT_UPSTREAM_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One entry of `routes:`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRoute {
    pub name: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub upstream: Option<String>,
    pub auth: Option<RawAccess>,
    pub audience: Option<String>,
    pub policy: Option<RawPolicy>,
    pub step_up_acr_values: Option<Words>,
}

/// A route's `policy:` rule: a map with exactly one key naming the rule kind
/// (validation enforces "exactly one").
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPolicy {
    pub all: Option<Vec<RawPolicy>>,
    pub any: Option<Vec<RawPolicy>>,
    pub acr: Option<Words>,
    pub groups: Option<Words>,
    pub claim: Option<RawClaimRule>,
    pub registrant_id_type: Option<String>,
}

/// `claim: {name, equals | one_of | present}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaimRule {
    pub name: String,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    pub one_of: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub present: Option<bool>,
}

/// A route's `auth:` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawAccess {
    Public,
    Login,
}

/// `logging:`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLogging {
    pub format: RawLogFormat,
    pub level: String,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            format: RawLogFormat::Text,
            level: DEFAULT_LOG_LEVEL.into(),
        }
    }
}

/// `logging.format:` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawLogFormat {
    Text,
    Json,
}
