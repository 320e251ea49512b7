//! The validated configuration: plain types the rest of the gateway runs on.
//!
//! Everything here has already passed validation (`config::load`), so runtime
//! code never re-checks a URL, a duration or a cross-reference. Defaults live in
//! `config::raw` as named constants.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::shared::secret::Secret;

/// The whole gateway configuration, as loaded from `gateway.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The settings bound when the process starts (listeners, runtime, the
    /// session store, logging): a reload reports a change and keeps them.
    pub start: StartSettings,
    /// Public URL, prefix, trusted proxies and request bounds (reloadable).
    pub server: ServerSettings,
    /// How the gateway talks to e-Signet (or any OpenID provider).
    pub esignet: EsignetSettings,
    /// OpenG2P's claim-mapping semantics.
    pub mapping: MappingSettings,
    /// Session cookie and server-side session store.
    pub session: SessionSettings,
    /// The signed identity sent upstream.
    pub identity: IdentitySettings,
    /// Named upstreams, by name.
    pub upstreams: BTreeMap<String, Upstream>,
    /// Routes in file order; the route table orders them by specificity.
    pub routes: Vec<Route>,
    /// Bounds against abuse of the login endpoints.
    pub limits: LimitSettings,
    /// The operator's page template (HTML with `{{placeholders}}`), if any.
    pub page_template: Option<String>,
    /// Forward-auth mode (`<prefix>/auth`); `None`: the endpoint is off.
    pub forward_auth: Option<ForwardAuthSource>,
    /// The OpenID provider offered to OpenG2P portals (`provider:`).
    pub provider: ProviderSettings,
    /// Path of the file this came from (for reload and messages).
    pub source: PathBuf,
}

/// The settings bound when the process starts, by the YAML section they
/// are written in. A reload compares them as a whole ([`StartSettings::changed`])
/// and logs each changed one; they apply after a restart or binary upgrade.
/// Everything else in [`Config`] is swapped in by a reload.
#[derive(Debug, Clone, PartialEq)]
pub struct StartSettings {
    /// `server:` listeners and runtime.
    pub server: ProcessSettings,
    /// `session:` store engine and its bounds.
    pub session: StoreBounds,
    /// `logging:`, set up once.
    pub logging: LoggingSettings,
}

impl StartSettings {
    /// The YAML keys whose values differ between `self` (running) and
    /// `new` (just loaded). Runs on every reload. Secrets compare in constant
    /// time; every field is destructured, so a start-time setting added later
    /// cannot be left out of the comparison.
    pub fn changed(&self, new: &StartSettings) -> Vec<&'static str> {
        let StartSettings {
            server,
            session,
            logging,
        } = self;
        let ProcessSettings {
            listen,
            admin_listen,
            threads,
            work_stealing,
            grace_period,
            tls,
            watch_config,
        } = server;
        let StoreBounds {
            store,
            max_sessions,
            max_pending_logins,
            idle_timeout,
        } = session;
        let LoggingSettings { format, filter } = logging;
        let (s, b) = (&new.server, &new.session);
        [
            ("server.listen", *listen != s.listen),
            ("server.admin_listen", *admin_listen != s.admin_listen),
            ("server.threads", *threads != s.threads),
            ("server.work_stealing", *work_stealing != s.work_stealing),
            ("server.grace_period", *grace_period != s.grace_period),
            ("server.tls", *tls != s.tls),
            ("server.watch_config", *watch_config != s.watch_config),
            ("session.store", *store != b.store),
            ("session.max_sessions", *max_sessions != b.max_sessions),
            (
                "session.max_pending_logins",
                *max_pending_logins != b.max_pending_logins,
            ),
            ("session.idle_timeout", *idle_timeout != b.idle_timeout),
            ("logging.format", *format != new.logging.format),
            ("logging.level", *filter != new.logging.filter),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}

/// `server:` settings bound at process start: listeners and runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSettings {
    /// Proxy listener. Port 0 picks a free port (printed at startup).
    pub listen: SocketAddr,
    /// Admin listener for `/metrics`, `/healthz`, `/readyz`. Port 0 picks a free port.
    pub admin_listen: SocketAddr,
    /// pingora worker threads for the proxy service.
    pub threads: usize,
    /// pingora's work-stealing runtime (`true`, the default), or one
    /// single-threaded runtime per worker thread (`false`): each connection
    /// then stays on the thread that accepted it, which saves cross-thread
    /// wake-ups and measured faster, but lets a few busy connections load one
    /// thread while another idles (see docs/performance.md).
    pub work_stealing: bool,
    /// How long in-flight requests may take to finish on SIGTERM.
    pub grace_period: Duration,
    /// Terminate TLS on `listen` with this certificate and key (`None`: plain HTTP).
    pub tls: Option<TlsFiles>,
    /// Also reload when the file changes (polled every 2 s), not only on SIGHUP.
    pub watch_config: bool,
}

/// `session:` settings bound at process start: the store and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreBounds {
    /// Where sessions live: this process's memory, or Redis shared by replicas.
    pub store: StoreSettings,
    /// Bound on sessions held in memory.
    pub max_sessions: u64,
    /// Bound on pending (started, not finished) logins held in memory.
    pub max_pending_logins: u64,
    /// A session ends after this long without a request.
    pub idle_timeout: Duration,
}

/// `server:` settings a reload applies.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The origin browsers use to reach the gateway (scheme, host, port, no path).
    /// The redirect URI and the same-origin check for return URLs derive from it.
    pub public_url: Url,
    /// Reserved path prefix for the gateway's own endpoints, e.g. `/_gateway`
    /// (starts with `/`, no trailing `/`).
    pub prefix: String,
    /// Networks of the proxies in front (ingress, load balancer) whose
    /// `X-Forwarded-For`, `-Proto` and `-Host` are believed. Empty: no peer
    /// is trusted and every client-sent forwarding header is replaced.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Largest total size of a request's header names and values (431 beyond).
    pub max_header_bytes: usize,
    /// Largest request body (413 beyond).
    pub max_body_bytes: u64,
    /// Deadline for a request's complete headers (slow-client defence).
    pub header_timeout: Duration,
    /// Cap on open client connections, all clients together.
    pub max_connections: usize,
    /// Cap on open connections per client address (IPv6 /64); 0 is no cap.
    /// Peers in `trusted_proxies` are exempt.
    pub max_connections_per_client: usize,
}

impl ServerSettings {
    /// Whether `peer` is one of the configured trusted proxies.
    pub fn is_trusted_proxy(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

/// `forward_auth.source`: which ingress asks `<prefix>/auth`, and so which
/// headers name the original request. Each reads only headers its ingress
/// sets itself, never ones a client can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardAuthSource {
    /// nginx `auth_request` / ingress-nginx `auth-url`: `X-Original-URL`
    /// (absolute) and `X-Original-Method`, set by the ingress.
    Nginx,
    /// Traefik `ForwardAuth`: `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`,
    /// which Traefik overwrites; `X-Original-*` is never read.
    Traefik,
}

/// `server.tls`: PEM files, read by the TLS listener at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (leaf first), PEM.
    pub cert: PathBuf,
    /// Private key of the leaf certificate, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// e-Signet client settings, in the vocabulary of OpenG2P's e-Signet guide.
#[derive(Debug, Clone)]
pub struct EsignetSettings {
    /// The registered OIDC client id.
    pub client_id: String,
    /// Where the provider's endpoints come from.
    pub endpoints: ProviderEndpoints,
    /// Accepted `iss` values for ID tokens. Empty means "the discovery issuer".
    pub issuers: Vec<String>,
    /// Client-assertion `aud` override. `None` means the token endpoint as
    /// the provider publishes it (discovery), even when `token_url`
    /// overrides where the gateway posts.
    pub assertion_aud: Option<String>,
    /// Extra trusted root certificates for calls to the provider (a PEM
    /// bundle read from `ca_file` at load), added to the bundled web roots.
    pub ca_bundle: Option<Vec<u8>>,
    /// The client's RSA private key (PEM, PKCS#1 or PKCS#8).
    pub private_key: Secret<Vec<u8>>,
    /// `kid` to put in the client-assertion header; only set it when the
    /// registered JWK has a `kid`.
    pub private_key_kid: Option<String>,
    /// Space-separated `acr_values` sent at authorize.
    pub acr_values: Vec<String>,
    /// User claims requested in the `claims` parameter (userinfo member).
    pub user_claims: Vec<String>,
    /// Claims among `user_claims` marked `essential: true`.
    pub essential_claims: Vec<String>,
    /// `scope`, e.g. `openid profile`.
    pub scope: Vec<String>,
    /// `claims_locales`, in preference order.
    pub claims_locales: Vec<String>,
    /// `ui_locales`, in preference order.
    pub ui_locales: Vec<String>,
    /// Optional `prompt` (e-Signet accepts exactly one value).
    pub prompt: Option<String>,
    /// Optional `display` (`page`, `popup`, `touch`, `wap`).
    pub display: Option<String>,
    /// Accept userinfo as plain JSON (unsigned). Weakens security; warns at startup.
    pub insecure_allow_unsigned_userinfo: bool,
    /// Allowed clock skew for `exp`/`iat`.
    pub clock_skew: Duration,
    /// Lifetime of the client assertion (`exp - iat`).
    pub assertion_lifetime: Duration,
    /// How long a fetched JWKS is trusted before a background refresh.
    pub jwks_cache_ttl: Duration,
    /// Minimum interval between JWKS refetches triggered by unknown `kid`s.
    pub jwks_min_refresh_interval: Duration,
    /// Timeout for each call to the provider.
    pub http_timeout: Duration,
    /// How long a started login (state, nonce, PKCE verifier) stays valid.
    pub login_timeout: Duration,
}

/// Where the provider's endpoints come from.
#[derive(Debug, Clone)]
pub enum ProviderEndpoints {
    /// Fetch the discovery document; explicit URLs override its values.
    Discovery {
        /// The discovery document URL.
        url: Url,
        /// Overrides applied on top of discovery.
        overrides: EndpointOverrides,
    },
    /// No discovery: every endpoint is given.
    Explicit {
        /// `authorization_endpoint`.
        authorize: Url,
        /// `token_endpoint`.
        token: Url,
        /// `userinfo_endpoint`.
        userinfo: Url,
        /// `jwks_uri`.
        jwks: Url,
        /// `end_session_endpoint`, if the provider has one.
        end_session: Option<Url>,
        /// The provider's issuer (required without discovery).
        issuer: String,
    },
}

/// Explicit endpoint URLs that win over discovery.
#[derive(Debug, Clone, Default)]
pub struct EndpointOverrides {
    /// Overrides `authorization_endpoint`.
    pub authorize: Option<Url>,
    /// Overrides `token_endpoint`.
    pub token: Option<Url>,
    /// Overrides `userinfo_endpoint`.
    pub userinfo: Option<Url>,
    /// Overrides `jwks_uri`.
    pub jwks: Option<Url>,
}

/// OpenG2P's mapping settings (Odoo `auth_oauth_provider` semantics).
#[derive(Debug, Clone)]
pub struct MappingSettings {
    /// Token map: ID-token claim → mapped key, default `sub:user_id`.
    pub token_map: Vec<(String, String)>,
    /// "Partner Creation Validate Response" mapping: userinfo claim → mapped key.
    pub userinfo_map: Vec<(String, String)>,
    /// The registrant ID type for the user_id, default `MOSIP PSUT`.
    pub registrant_id_type: std::sync::Arc<str>,
    /// Group given to every user, default `portal`.
    pub default_group: String,
    /// Mapped key used as the login, default `email`, falling back to user_id.
    pub login_attribute: String,
    /// How a mapped `birthdate` is written (`%Y-%m-%d` by default; OpenG2P
    /// parses with its provider's `date_format`, by default `%Y/%m/%d`).
    pub birthdate_format: crate::config::BirthdateFormat,
}

/// Session cookie and store settings.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Cookie name; `__Host-` prefixed by default when the cookie is Secure.
    pub cookie_name: String,
    /// Cookie keys, newest first; at least 64 bytes each. The first seals
    /// new cookies, all are tried when reading.
    pub cookie_keys: Vec<Secret<Vec<u8>>>,
    /// Drop the `Secure` attribute (local http only). Warns at startup.
    pub insecure_cookie_without_secure: bool,
    /// A session ends this long after login, whatever the activity.
    pub absolute_timeout: Duration,
}

/// The session store engine (`session.store`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StoreSettings {
    /// In this process's memory: zero setup, one replica.
    #[default]
    Memory,
    /// In Redis, shared by every replica.
    Redis(RedisSettings),
}

/// `session.store.redis`: a Redis shared by several replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// How to reach Redis.
    pub topology: RedisTopology,
    /// Prefix of every key and of the invalidation channel, e.g. `g2p:`.
    pub key_prefix: String,
    /// AEAD keys for records at rest (32 bytes each), newest first: the first
    /// seals, all open.
    pub record_keys: Vec<Secret<Vec<u8>>>,
    /// How long a replica serves a session from its own memory without asking Redis.
    pub local_cache_ttl: Duration,
    /// Bound on one connection attempt.
    pub connect_timeout: Duration,
    /// Bound on one command (or script) round trip.
    pub command_timeout: Duration,
    /// PEM certificates trusted for `rediss://` instead of the system's roots
    /// (a private CA, as Kubernetes operators often use).
    pub tls_ca: Option<Vec<u8>>,
}

/// How the gateway reaches Redis. URLs are secrets: they may carry a password.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisTopology {
    /// One server (`redis://` or `rediss://` for TLS).
    Standalone {
        /// The server URL.
        url: Secret<String>,
    },
    /// A master found through Redis Sentinel.
    Sentinel {
        /// The monitored master's name.
        master: String,
        /// Sentinel URLs (`redis://` or `rediss://`).
        urls: Secret<Vec<String>>,
        /// Password of the master (and replicas), if they need one.
        password: Option<Secret<String>>,
        /// Connect to the master with TLS.
        tls: bool,
    },
    /// A Redis Cluster, reached through any of its nodes.
    Cluster {
        /// Seed node URLs (`redis://` or `rediss://`).
        urls: Secret<Vec<String>>,
    },
}

/// The gateway-signed identity assertion and plain headers.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// Header carrying the signed JWT, default `X-G2P-Identity`.
    pub header: String,
    /// `iss` of the assertion; defaults to the public URL.
    pub issuer: String,
    /// Default `aud`; a route may override it.
    pub audience: String,
    /// Assertion lifetime; it is re-minted (cached per session) before expiry.
    pub lifetime: Duration,
    /// Signing keys (RSA PEM for RS256, EC P-256 PKCS#8 PEM for ES256),
    /// newest first. The first signs; all are published.
    pub signing_keys: Vec<Secret<Vec<u8>>>,
    /// Header-name prefix that is always stripped from client requests, e.g. `X-G2P-`.
    pub strip_prefix: String,
    /// Plain headers: header name → mapped key (`user_id`, `registrant_id`,
    /// `registrant_id_type`, `login`, `groups`, `acr` or a mapped claim).
    pub headers: BTreeMap<String, String>,
}

/// A named upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port` to connect to.
    pub address: String,
    /// Connect with TLS.
    pub tls: bool,
    /// SNI / Host for TLS, from the URL host.
    pub sni: String,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Longest wait for each read from and write to the upstream; a hung
    /// upstream then ends in a 504, not a request held forever.
    pub read_timeout: Duration,
    /// `scheme://host:port` of the upstream, for calls the gateway makes
    /// itself (portal provisioning).
    pub base_url: String,
    /// The form of the signed identity this upstream reads.
    pub identity: UpstreamIdentity,
    /// Send `X-Real-IP`, the client address the gateway decided on
    /// (`upstreams.<name>.real_ip_header`). Off by default: it costs a header
    /// insert on every request, and `X-Forwarded-For` carries the address.
    /// The client's own `X-Real-IP` never passes either way.
    pub real_ip_header: bool,
}

/// How an upstream receives the gateway's identity (`upstreams.<name>`:
/// `identity`, `insecure_plain_identity_headers`, `portal_cookies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// Where the signed assertion goes.
    pub form: IdentityForm,
    /// Also send the plain identity headers (`identity.headers`): weaker,
    /// anyone who reaches the upstream directly can forge them.
    pub plain_headers: bool,
    /// The portal's own session cookies: expired at every gateway login and
    /// logout, and forwarded only alongside a live gateway session.
    pub portal_cookies: Vec<String>,
}

/// Where the signed assertion travels to an upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdentityForm {
    /// In `identity.header` (default `X-G2P-Identity`).
    #[default]
    Header,
    /// As `Authorization: Bearer <jwt>`, the form OpenG2P's FastAPI portal
    /// (`JwtBearerAuth`) reads. Client-sent `Authorization`, `X-Access-Token`
    /// and `X-ID-Token` never reach such an upstream.
    Bearer,
}

/// `provider:`: the OpenID provider the gateway offers to OpenG2P portals,
/// backed by the gateway's own e-Signet session.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    /// The portals allowed to log in through the gateway, by client id.
    pub clients: Vec<ProviderClient>,
    /// How long a one-time authorization code is valid.
    pub code_lifetime: Duration,
    /// Lifetime of the access and ID tokens issued to portals.
    pub token_lifetime: Duration,
}

/// A portal registered with the gateway's provider.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    /// The portal's `client_id` (the provider record's Client ID).
    pub client_id: String,
    /// The client secret (`client_secret_post` or `client_secret_basic`).
    pub client_secret: Secret<String>,
    /// Exact redirect URIs the portal may use.
    pub redirect_uris: Vec<String>,
    /// Gateway-driven first login (FastAPI portal), if configured.
    pub provision: Option<Provision>,
}

/// The gateway calls the portal's own OAuth callback after each login, so
/// the portal's code creates the registrant before the first request.
#[derive(Debug, Clone)]
pub struct Provision {
    /// The upstream the portal runs on.
    pub upstream: String,
    /// Path of the portal's callback, e.g. `/v1/selfservice/oauth2/callback`.
    pub callback_path: String,
    /// The `auth_oauth_provider` row id (the state's `p`).
    pub provider_id: i64,
    /// The row's static `code_verifier`, when the row has `enable_pkce`.
    pub code_verifier: Option<Secret<String>>,
}

/// Whether a route needs a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may pass; no identity is sent.
    Public,
    /// A valid session is required.
    Login,
}

/// One route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Index in the file, for messages and metrics labels.
    pub index: usize,
    /// Optional name for metrics; defaults to `route<index>`.
    pub name: String,
    /// Optional `Host` to match (lower-case, no port).
    pub host: Option<String>,
    /// Path prefix matched on whole segments, starting with `/`.
    pub path_prefix: String,
    /// Name of the upstream (validated to exist).
    pub upstream: String,
    /// Public or login.
    pub access: Access,
    /// `aud` of the identity assertion for this route; `None` uses the default.
    pub audience: Option<String>,
    /// Who may pass, beyond being logged in (`None`: any logged-in user).
    pub policy: Option<Policy>,
    /// `acr_values` requested when the session's `acr` is too weak for the
    /// policy (step-up). `None`: the acrs named by the policy's `acr` rules.
    pub step_up_acr_values: Option<Vec<String>>,
}

/// A route's access rules, combined with `all`/`any`.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Every rule must pass.
    All(Vec<Policy>),
    /// At least one rule must pass.
    Any(Vec<Policy>),
    /// The session's `acr` must be one of these.
    Acr(Vec<String>),
    /// The user must be in every one of these groups.
    Groups(Vec<String>),
    /// A mapped claim must satisfy a test.
    Claim {
        /// The mapped key (a `token_map`/`userinfo_map` target, `user_id` or `login`).
        name: String,
        /// The test.
        test: ClaimTest,
    },
    /// The registrant ID must be of this type.
    RegistrantIdType(String),
}

/// A test on one claim value.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimTest {
    /// Equal to this value (strings compare exactly).
    Equals(serde_json::Value),
    /// Equal to one of these values.
    OneOf(Vec<serde_json::Value>),
    /// Present and not null or empty.
    Present,
}

/// Per-client bounds on the login machinery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSettings {
    /// Login starts per client address; `None` disables the rate limit.
    pub login_starts: Option<RateLimit>,
    /// Callbacks per client address; `None` disables the rate limit.
    pub callbacks: Option<RateLimit>,
    /// Logins a client address may have started within one `login_timeout`.
    pub pending_logins_per_client: u32,
}

/// A token-bucket rate: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per minute, sustained.
    pub per_minute: u32,
    /// Requests allowed at once.
    pub burst: u32,
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// An `EnvFilter` directive, e.g. `info,pingora=warn`.
    pub filter: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Whether a URL is e-Signet's v1 token endpoint (path ending `/oauth/token`).
pub fn is_v1_token_endpoint(url: &url::Url) -> bool {
    url.path().trim_end_matches('/').ends_with("/oauth/token")
}
