//! The OpenID provider the gateway offers to OpenG2P portals.
//!
//! The portals (Odoo 17's `/auth_oauth/signin`, the FastAPI portal's
//! `/oauth2/callback`) create registrants and their own sessions only in
//! their OAuth callback. Their `auth_oauth_provider` record is repointed
//! from e-Signet to these endpoints, so their own code keeps doing that work
//! while the citizen's login, policies and step-up happen at the gateway:
//!
//! * `GET  <prefix>/.well-known/openid-configuration`: discovery;
//! * `GET  <prefix>/oauth/authorize`: a one-time code for the gateway session
//!   (after an e-Signet login when there is none);
//! * `POST <prefix>/oauth/token`: the code for a gateway-signed access token
//!   and ID token;
//! * `GET|POST <prefix>/oauth/userinfo`: the session's verified claims, as
//!   JSON or `application/jwt`;
//! * `GET  <prefix>/jwks.json` and `<prefix>/.well-known/jwks.json`: the keys.
//!
//! Codes and access tokens are self-contained (sealed with keys derived from
//! the cookie keys, signed with the identity keys), so every replica accepts
//! them; replay is refused through the session store's shared "seen" set.

pub mod authorize;
pub mod clients;
pub mod codes;
pub mod discovery;
pub mod provision;
pub mod token;
pub mod userinfo;

use std::net::IpAddr;

use bytes::Bytes;
use http::StatusCode;
use pingora::http::RequestHeader;

use crate::gateway::Gateway;
use crate::respond::Reply;

/// Paths under the prefix that the provider answers.
const PATHS: &[&str] = &[
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/userinfo",
];

/// The provider's per-snapshot state: code sealer, token verifier, JWKS.
pub struct Provider {
    /// Seals codes and the session references inside access tokens.
    pub codes: codes::CodeSealer,
    /// The JWKS document, serialised once: the FastAPI portal fetches it on
    /// every request it authenticates.
    pub jwks_body: Bytes,
    /// Verifies the gateway's own access tokens at userinfo.
    pub verifier: token::AccessTokenVerifier,
}

impl Provider {
    /// Builds the state from the cookie keys and the identity keys. Runs at
    /// startup and at each reload.
    pub fn new(
        cookie_keys: &[crate::secret::Secret<Vec<u8>>],
        jwks: &serde_json::Value,
        issuer: &str,
    ) -> Result<Provider, SetupError> {
        Ok(Provider {
            codes: codes::CodeSealer::new(cookie_keys)?,
            jwks_body: Bytes::from(jwks.to_string()),
            verifier: token::AccessTokenVerifier::new(jwks, issuer)?,
        })
    }
}

/// Why the provider role cannot be set up (startup, reload).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The code-sealing keys derived from the cookie keys are unusable.
    #[error("provider code keys")]
    CodeKeys(#[from] crate::session::SetupError),
    /// The gateway's own JWKS is not a JWK set (a bug: the minter makes it).
    #[error("the gateway's JWKS is not a JWK set")]
    Jwks(#[source] serde_json::Error),
    /// A key of the gateway's own JWKS cannot verify tokens.
    #[error("a key of the gateway's JWKS cannot verify tokens")]
    Key(#[source] jsonwebtoken::errors::Error),
}

/// Whether the request is for one of the provider's endpoints (the proxy
/// then reads its bounded body and calls [`handle`]).
pub fn is_provider_request(gw: &Gateway, req: &RequestHeader) -> bool {
    req.uri
        .path()
        .strip_prefix(gw.config.server.prefix.as_str())
        .is_some_and(|rest| PATHS.contains(&rest))
}

/// Answers a provider request. `body` is the form body, already read
/// (bounded) by the proxy; `None` when it was too large.
pub async fn handle(
    gw: &Gateway,
    req: &RequestHeader,
    body: Option<&[u8]>,
    correlation_id: &str,
    client: Option<IpAddr>,
) -> Reply {
    let rest = req
        .uri
        .path()
        .strip_prefix(gw.config.server.prefix.as_str())
        .unwrap_or_default();
    let method = req.method.as_str();
    match (method, rest) {
        ("GET" | "HEAD", "/.well-known/openid-configuration") => {
            Reply::json(StatusCode::OK, &discovery::document(gw))
                .with_header("cache-control", "public, max-age=300")
        }
        ("GET" | "HEAD", "/.well-known/jwks.json") => jwks(gw),
        ("GET", "/oauth/authorize") => authorize::authorize(gw, req, correlation_id, client).await,
        ("POST", "/oauth/token") => token::token(gw, req, body, correlation_id).await,
        ("GET" | "POST", "/oauth/userinfo") => {
            userinfo::userinfo(gw, req, body, correlation_id).await
        }
        // Every path of PATHS is answered above for its methods.
        _ => Reply::empty(StatusCode::METHOD_NOT_ALLOWED),
    }
}

/// The JWKS, from the pre-serialised body, cacheable by the portal and any
/// cache in between (keys rotate through the config, newest first).
pub fn jwks(gw: &Gateway) -> Reply {
    Reply {
        status: StatusCode::OK,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "public, max-age=300".into()),
        ],
        body: gw.provider.jwks_body.clone(),
    }
}

/// The public base URL of the provider's endpoints (`<public_url><prefix>`).
pub(crate) fn base_url(gw: &Gateway) -> String {
    format!(
        "{}{}",
        gw.config.server.public_url.as_str().trim_end_matches('/'),
        gw.config.server.prefix
    )
}
