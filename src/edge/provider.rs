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
//! * `GET  <prefix>/jwks.json` and `<prefix>/.well-known/jwks.json`: the keys
//!   (the first is also where portals verify the forwarded identity).
//!
//! Codes and access tokens are self-contained (sealed with keys derived from
//! the cookie keys, signed with the identity keys), so every replica accepts
//! them; replay is refused through the session store's shared "seen" set.

pub mod authorize;
pub mod clients;
pub mod discovery;
pub mod token;
pub mod userinfo;

use std::net::IpAddr;

use http::StatusCode;
use pingora::http::RequestHeader;

use crate::edge::gateway::Gateway;
use crate::edge::respond::Reply;

/// Paths under the prefix that the provider answers.
const PATHS: &[&str] = &[
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/jwks.json",
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/userinfo",
];

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
        ("GET" | "HEAD", "/.well-known/jwks.json" | "/jwks.json") => jwks(gw),
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
