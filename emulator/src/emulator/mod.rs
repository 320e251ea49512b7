//! The e-Signet emulator: an axum server speaking e-Signet's OIDC dialect (1.4.1 or 1.8),
//! started in-process by the gateway's tests and by the `esignet-emulator` binary for the demo.
//!
//! Endpoints (relative to [`Emulator::base_url`]):
//!
//! | Path | What |
//! |---|---|
//! | `/.well-known/openid-configuration`, `/v1/esignet/oidc/.well-known/openid-configuration` | discovery |
//! | `/.well-known/jwks.json`, `/v1/esignet/oauth/.well-known/jwks.json` | JWKS (e-Signet + ID-system keys) |
//! | `GET /authorize` | validates, shows the login page |
//! | `POST /authorize` | the login form: `transaction_id`, `individual_id`, `otp`, `method` (`otp`, `pin`, `biometrics`, `cancel`) |
//! | `POST /v1/esignet/oauth/v2/token` | code exchange (also the legacy `/v1/esignet/oauth/token`) |
//! | `GET /v1/esignet/oidc/userinfo` | userinfo JWS |
//! | `POST`/`PUT /v1/esignet/client-mgmt/{oidc,oauth}-client[/{id}]` | client registration (bearer [`EmulatorConfig::admin_token`]) |
//! | `POST`/`PUT /v1/partnermanager/oidc/client[/{id}]` | PMS client registration (same token) |

mod assertion;
mod authorize;
mod claims;
mod client_mgmt;
mod config;
mod discovery;
mod faults;
mod jose;
mod keys;
mod pages;
mod redirect;
mod state;
mod token;
mod userinfo;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use crate::serve::Served;
use axum::routing::{get, post, put};
use axum::Router;

pub use client_mgmt::MAX_PUBLIC_KEY_CHARS;
pub use config::{
    load_clients, load_identities, ClientRegistration, EmulatorConfig, EsignetVersion,
    MockIdentity, ACR_BIOMETRICS, ACR_GENERATED_CODE, ACR_STATIC_CODE, DEFAULT_ADMIN_TOKEN,
    DEFAULT_OTP,
};
pub use faults::{Faults, IdTokenFault, TokenEndpointFault, UserinfoFault};
pub use jose::psut;
pub use state::RecordedTokenRequest;

use keys::Keys;
use state::{lock, now, Shared, Store};

/// A running emulator. Dropping it stops the server (without waiting); [`Emulator::shutdown`]
/// stops it and waits.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Served,
}

impl Emulator {
    /// Binds `bind` (use `127.0.0.1:0` in tests), starts serving on the current tokio runtime
    /// and returns once the socket is listening. Fails if the address cannot be bound or a key
    /// does not parse.
    pub async fn start(config: EmulatorConfig, bind: SocketAddr) -> io::Result<Emulator> {
        let keys = Keys::load(&config.esignet_key_pem, &config.id_system_key_pem, now())?;
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let base_url = base_url_for(addr);
        let issuer = config
            .issuer
            .clone()
            .map(|i| i.trim_end_matches('/').to_string())
            .unwrap_or_else(|| base_url.clone());
        // Tokens carry `issuer-id`; stock 1.4.x–1.7.x configs append the servlet path.
        let token_issuer = if config.issuer_mismatch {
            format!("{issuer}/v1/esignet")
        } else {
            issuer.clone()
        };
        let clients = config
            .clients
            .into_iter()
            .map(|c| (c.client_id.clone(), c))
            .collect::<HashMap<_, _>>();
        let shared = Arc::new(Shared {
            version: config.version,
            base_url,
            issuer,
            token_issuer,
            otp: config.otp,
            admin_token: config.admin_token,
            keys,
            identities: config.identities,
            clients: RwLock::new(clients),
            faults: RwLock::new(Faults::default()),
            store: Mutex::new(Store::default()),
            token_requests: Mutex::new(Vec::new()),
        });
        let app = router(shared.clone());
        let server = Served::spawn(listener, app, "e-Signet emulator");
        tracing::debug!(%addr, version = %shared.version, "e-Signet emulator listening");
        Ok(Emulator {
            addr,
            shared,
            server,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` (no trailing slash); an unspecified bind address shows as 127.0.0.1.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The issuer in discovery (and in tokens, unless in issuer-mismatch mode).
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The `iss` of ID and access tokens: [`Emulator::issuer`], plus `/v1/esignet` in
    /// issuer-mismatch mode.
    pub fn token_issuer(&self) -> String {
        self.shared.token_issuer.clone()
    }

    /// The emulated version.
    pub fn version(&self) -> EsignetVersion {
        self.shared.version
    }

    /// `{base}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.shared.base_url)
    }

    /// `{base}/v1/esignet/oauth/v2/token`: the token endpoint and the client-assertion `aud`.
    pub fn token_endpoint(&self) -> String {
        self.shared.token_endpoint()
    }

    /// `{base}/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.shared.base_url)
    }

    /// The `sub` (PSUT) this emulator gives `individual_id` at `client_id`: derived from the
    /// client's relying-party id (the client id when it has none or is unknown).
    pub fn expected_sub(&self, individual_id: &str, client_id: &str) -> String {
        let rp = self
            .shared
            .client(client_id)
            .map(|c| c.relying_party().to_string())
            .unwrap_or_else(|| client_id.to_string());
        psut(individual_id, &rp)
    }

    /// Replaces the active faults (takes effect for the next affected response).
    pub fn set_faults(&self, faults: Faults) {
        *self
            .shared
            .faults
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = faults;
    }

    /// The active faults.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Rotates e-Signet's token-signing key at runtime: `pem` (PKCS#8 RSA) signs every ID and
    /// access token from now on, and the JWKS publishes it first while still publishing the
    /// replaced key, until [`Emulator::retire_old_keys`]. Returns the new key's `kid`.
    pub fn rotate_signing_key(&self, pem: &str) -> io::Result<String> {
        self.shared.keys.rotate_esignet(pem)
    }

    /// Stops publishing the e-Signet keys replaced by [`Emulator::rotate_signing_key`].
    pub fn retire_old_keys(&self) {
        self.shared.keys.retire_previous();
    }

    /// The `kid`s the JWKS publishes now, in order.
    pub fn published_kids(&self) -> Vec<String> {
        self.shared.keys.jwks()["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Registers (or replaces, by `client_id`) a client.
    pub fn register_client(&self, client: ClientRegistration) {
        self.shared
            .clients
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(client.client_id.clone(), client);
    }

    /// Every token request received so far, oldest first.
    pub fn token_requests(&self) -> Vec<RecordedTokenRequest> {
        lock(&self.shared.token_requests).clone()
    }

    /// Forgets the recorded token requests.
    pub fn clear_token_requests(&self) {
        lock(&self.shared.token_requests).clear();
    }

    /// Stops accepting connections, lets in-flight requests finish (at most 5 s), and waits
    /// for the server task to end. Afterwards connections to [`Emulator::addr`] are refused.
    pub async fn shutdown(mut self) {
        self.server.shutdown().await;
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("version", &self.shared.version)
            .field("issuer", &self.shared.issuer)
            .finish()
    }
}

/// `http://IP:PORT` for a bound address; 0.0.0.0/:: become loopback so the URL is usable.
pub(crate) fn base_url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/v1/esignet/oidc/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/v1/esignet/oauth/.well-known/jwks.json",
            get(discovery::jwks),
        )
        .route("/authorize", get(authorize::start).post(authorize::submit))
        .route("/v1/esignet/oauth/v2/token", post(token::token_v2))
        .route("/v1/esignet/oauth/token", post(token::token_v1))
        .route("/v1/esignet/oidc/userinfo", get(userinfo::userinfo))
        .route(
            "/v1/esignet/client-mgmt/oidc-client",
            post(client_mgmt::create_oidc),
        )
        .route(
            "/v1/esignet/client-mgmt/oidc-client/{client_id}",
            put(client_mgmt::update_oidc),
        )
        .route(
            "/v1/esignet/client-mgmt/oauth-client",
            post(client_mgmt::create_oauth),
        )
        .route(
            "/v1/esignet/client-mgmt/oauth-client/{client_id}",
            put(client_mgmt::update_oauth),
        )
        .route(
            "/v1/partnermanager/oidc/client",
            post(client_mgmt::create_pms),
        )
        .route(
            "/v1/partnermanager/oidc/client/{client_id}",
            put(client_mgmt::update_pms),
        )
        .with_state(shared)
}
