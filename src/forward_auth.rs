//! Forward-auth mode: the gateway as the authentication service of an ingress
//! that stays the proxy (nginx-ingress `auth-url`, Traefik `ForwardAuth`).
//!
//! The ingress asks `GET <prefix>/auth` about each request, passing the
//! original URL in headers. The answer follows the ingress conventions:
//! `200` with the identity headers (the ingress copies them upstream), `401`
//! when a login is needed (nginx then redirects through `auth-signin`; for
//! Traefik, which returns the answer to the client as is, browsers get the
//! `302` to the provider directly), or `403` when the route's policy denies.
//! The same routes and policies apply as in proxy mode.

use pingora::http::RequestHeader;

use crate::endpoints::{self, cookie_headers};
use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::policy::{self, Decision};
use crate::respond::{Reply, Requester};
use crate::routing::check_request_path;

/// The request the ingress is asking about.
struct OriginalRequest {
    method: http::Method,
    host: Option<String>,
    path: String,
    path_and_query: String,
    /// nginx-style (`X-Original-URL`): answer 401, never redirect.
    nginx: bool,
}

/// Answers an ingress's auth subrequest.
pub async fn answer(
    gw: &Gateway,
    req: &RequestHeader,
    correlation_id: &str,
    client: Option<std::net::IpAddr>,
) -> Reply {
    let Some(original) = original_request(req) else {
        let e = GatewayError::BadRequest("no X-Original-URL or X-Forwarded-Uri".into());
        return gw.reject(&e, Requester::api(&req.headers), correlation_id, None);
    };
    let kind = match original.nginx {
        true => Requester::api(&req.headers),
        false => Requester::of(&original.method, &req.headers),
    };
    if let Err(rejection) = check_request_path(&original.path) {
        let e = GatewayError::BadRequest(rejection.to_string());
        return gw.reject(&e, kind, correlation_id, None);
    }
    let Some(route) = gw.routes.find(original.host.as_deref(), &original.path) else {
        // Fail closed: a URL no route covers is not let through.
        let e = GatewayError::Forbidden("forward-auth: no route for this URL".into());
        return gw.reject(&e, kind, correlation_id, None);
    };
    if route.access == crate::config::Access::Public {
        return Reply::empty(http::StatusCode::OK);
    }
    let session = match gw.cookies.session_id(cookie_headers(req)) {
        Some(id) => match gw.store.session(&id).await {
            Ok(found) => found.map(|s| (id, s)),
            Err(e) => {
                let e = GatewayError::Internal(e.to_string());
                return gw.reject(&e, kind, correlation_id, None);
            }
        },
        None => None,
    };
    let required_acr = match &session {
        Some((id, user)) => match policy::decide(route, user) {
            Decision::Allow => return allowed(gw, route, id, user),
            Decision::StepUp(acrs) => Some(acrs),
            Decision::Deny(reason) => {
                let e = GatewayError::Forbidden(format!("route {}: {reason}", route.name));
                return gw.reject(&e, kind, correlation_id, None);
            }
        },
        None => policy::acrs_named(route),
    };
    endpoints::login_required_for(
        gw,
        req,
        kind,
        &original.path_and_query,
        correlation_id,
        required_acr,
        client,
    )
    .await
}

/// `200` carrying the signed identity and the plain headers.
fn allowed(
    gw: &Gateway,
    route: &crate::config::Route,
    id: &crate::session::SessionId,
    user: &crate::session::Session,
) -> Reply {
    let audience = route
        .audience
        .as_deref()
        .unwrap_or(&gw.config.identity.audience);
    let mut reply = Reply::empty(http::StatusCode::OK);
    match gw.minter.identity(id, user, audience) {
        Ok((identity, minted)) => {
            if minted {
                gw.metrics.assertion_minted();
            }
            let form = gw.upstreams.get(&route.upstream).map(|u| &u.identity);
            let default_form = crate::config::UpstreamIdentity::default();
            for (name, value) in identity.headers_for(form.unwrap_or(&default_form)) {
                // Header values the minter made are visible ASCII.
                let name = String::from_utf8_lossy(name).into_owned();
                reply = reply.with_header(name, value.to_str().unwrap_or_default());
            }
            reply
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot sign the identity assertion");
            Reply::empty(http::StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Reads the original request from nginx's or Traefik's headers.
fn original_request(req: &RequestHeader) -> Option<OriginalRequest> {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let method = header("x-original-method")
        .or_else(|| header("x-forwarded-method"))
        .and_then(|m| http::Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(http::Method::GET);
    if let Some(url) = header("x-original-url") {
        let (host, path_and_query) = split_url(&url)?;
        return Some(original(method, host, path_and_query, true));
    }
    let path_and_query = header("x-forwarded-uri")?;
    let host = header("x-forwarded-host");
    Some(original(method, host, path_and_query, false))
}

fn original(
    method: http::Method,
    host: Option<String>,
    path_and_query: String,
    nginx: bool,
) -> OriginalRequest {
    let path = path_and_query.split('?').next().unwrap_or("/").to_string();
    OriginalRequest {
        method,
        host,
        path,
        path_and_query,
        nginx,
    }
}

/// `https://host:port/path?q` → (`host:port`, `/path?q`); a bare path is accepted too.
fn split_url(url: &str) -> Option<(Option<String>, String)> {
    if url.starts_with('/') {
        return Some((None, url.to_string()));
    }
    let rest = url.split_once("://")?.1;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((Some(authority.to_string()), path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_urls_split_into_host_and_path() {
        assert_eq!(
            split_url("https://portal.example.org/a/b?x=1"),
            Some((Some("portal.example.org".into()), "/a/b?x=1".into()))
        );
        assert_eq!(
            split_url("http://h:8080"),
            Some((Some("h:8080".into()), "/".into()))
        );
        assert_eq!(split_url("/only/path"), Some((None, "/only/path".into())));
        assert_eq!(split_url("garbage"), None);
    }
}
