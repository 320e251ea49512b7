//! Forward-auth mode: the gateway as the authentication service of an ingress
//! that stays the proxy (nginx-ingress `auth-url`, Traefik `ForwardAuth`).
//!
//! The ingress asks `<prefix>/auth` about each request, naming the original
//! request in headers that depend on the ingress, so `forward_auth.source`
//! says which ones to read (the endpoint is off without it):
//! - `nginx`: `X-Original-URL` (absolute) and `X-Original-Method`, which the
//!   nginx config sets from the real request;
//! - `traefik`: `X-Forwarded-Host`, `-Uri` and `-Method`, which Traefik
//!   overwrites. `X-Original-URL` is never read there: Traefik copies client
//!   headers to the auth request, so a client could choose what is checked.
//!
//! The original request then passes the same target and path checks and the
//! same [`access::decide`] as in proxy mode. The answer follows the ingress
//! conventions: `200` with the identity headers (the ingress copies them
//! upstream), `401` when a login is needed (nginx then redirects through
//! `auth-signin`; Traefik returns the answer as is, so browsers get the `302`
//! to the provider directly), `403` when refused. Refusals map to HTTP in
//! [`Gateway::reject`] as everywhere else; only a request no route covers
//! answers `403` rather than `404`, since nginx turns any other status into
//! a `500`.

use pingora::http::RequestHeader;

use crate::config::ForwardAuthSource;
use crate::decision::access::target::{OriginalTarget, TargetRejection};
use crate::decision::access::{self, Outcome};
use crate::decision::routing::check_request_path;
use crate::edge::endpoints;
use crate::edge::error::GatewayError;
use crate::edge::gateway::Gateway;
use crate::edge::respond::{Reply, Requester};
use crate::session::cookie::cookie_headers;

/// The request the ingress is asking about.
#[derive(Debug)]
struct OriginalRequest {
    method: http::Method,
    target: OriginalTarget,
}

/// Answers an ingress's auth subrequest.
pub async fn answer(
    gw: &Gateway,
    req: &RequestHeader,
    correlation_id: &str,
    client: Option<std::net::IpAddr>,
) -> Reply {
    let Some(source) = gw.config.forward_auth else {
        return gw.reject(
            &GatewayError::NoRoute,
            Requester::of(&req.method, &req.headers),
            correlation_id,
            None,
        );
    };
    let original = match original_request(source, req) {
        Ok(original) => original,
        Err(e) => return gw.reject(&e, Requester::api(&req.headers), correlation_id, None),
    };
    let kind = match source {
        // nginx answers 401 itself (through `auth-signin`): never redirect.
        ForwardAuthSource::Nginx => Requester::api(&req.headers),
        ForwardAuthSource::Traefik => Requester::of(&original.method, &req.headers),
    };
    let path = original.target.path();
    if let Err(rejection) = check_request_path(path) {
        gw.metrics.refused("bad_path");
        let e = GatewayError::BadRequest(rejection.to_string());
        return gw.reject(&e, kind, correlation_id, None);
    }
    let facts = access::Facts {
        method: &original.method,
        host: &original.target.host,
        path,
        preflight: access::is_cors_preflight(&original.method, &req.headers),
    };
    let outcome = gw.decide(&facts, cookie_headers(&req.headers), None).await;
    if let Outcome::NoRoute = outcome {
        // Fail closed: a URL no route covers is not let through.
        let e = GatewayError::Forbidden("forward-auth: no route for this URL".into());
        return gw.reject(&e, kind, correlation_id, None);
    }
    if let Some(refusal) = gw.refusal(&outcome) {
        return gw.reject(&refusal, kind, correlation_id, None);
    }
    match outcome {
        Outcome::Allow { route, id, session } => {
            let upstream = &gw.route_upstreams[route];
            let identity = gw.forwarded_identity(&gw.config.routes[route], &id, &session, None);
            match identity {
                Ok(identity) => {
                    let mut reply = Reply::empty(http::StatusCode::OK);
                    for (name, value) in identity.headers_for(&upstream.identity) {
                        // Header values the minter made are visible ASCII.
                        let name = String::from_utf8_lossy(name).into_owned();
                        reply = reply.with_header(name, value.to_str().unwrap_or_default());
                    }
                    reply
                }
                Err(e) => gw.reject(&e, kind, correlation_id, None),
            }
        }
        Outcome::Login { acr, .. } => {
            endpoints::login_required_for(
                gw,
                req,
                kind,
                &original.target.path_and_query,
                correlation_id,
                acr,
                client,
            )
            .await
        }
        // Public; refusals were answered above.
        _ => Reply::empty(http::StatusCode::OK),
    }
}

/// Reads the original request from the configured ingress's headers only.
fn original_request(
    source: ForwardAuthSource,
    req: &RequestHeader,
) -> Result<OriginalRequest, GatewayError> {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let bad = |what: &str| GatewayError::BadRequest(format!("forward-auth: {what}"));
    let rejected = |r: TargetRejection| GatewayError::BadRequest(format!("forward-auth: {r}"));
    let (method, target) = match source {
        ForwardAuthSource::Nginx => {
            let url = header("x-original-url").ok_or_else(|| bad("no X-Original-URL"))?;
            let target = OriginalTarget::from_absolute_url(url).map_err(rejected)?;
            (header("x-original-method"), target)
        }
        ForwardAuthSource::Traefik => {
            let host = header("x-forwarded-host").ok_or_else(|| bad("no X-Forwarded-Host"))?;
            let uri = header("x-forwarded-uri").ok_or_else(|| bad("no X-Forwarded-Uri"))?;
            let target = OriginalTarget::from_parts(host, uri).map_err(rejected)?;
            (header("x-forwarded-method"), target)
        }
    };
    let method = match method {
        Some(m) => http::Method::from_bytes(m.as_bytes()).map_err(|_| bad("invalid method"))?,
        None => http::Method::GET,
    };
    Ok(OriginalRequest { method, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/_gateway/auth", None).unwrap();
        for (k, v) in headers {
            req.append_header(k.to_string(), *v).unwrap();
        }
        req
    }

    #[test]
    fn each_source_reads_only_its_own_headers() {
        let both = request(&[
            ("x-original-url", "https://a.example/admin"),
            ("x-forwarded-host", "a.example"),
            ("x-forwarded-uri", "/public"),
            ("x-forwarded-method", "POST"),
        ]);
        let traefik = original_request(ForwardAuthSource::Traefik, &both).unwrap();
        assert_eq!(traefik.target.path_and_query, "/public");
        assert_eq!(traefik.method, http::Method::POST);
        let nginx = original_request(ForwardAuthSource::Nginx, &both).unwrap();
        assert_eq!(nginx.target.path_and_query, "/admin");
        assert_eq!(nginx.method, http::Method::GET);
    }

    #[test]
    fn descriptions_must_be_complete_and_well_formed() {
        let nginx_path_only = request(&[("x-original-url", "/admin")]);
        assert!(original_request(ForwardAuthSource::Nginx, &nginx_path_only).is_err());
        let traefik_no_host = request(&[("x-forwarded-uri", "/admin")]);
        assert!(original_request(ForwardAuthSource::Traefik, &traefik_no_host).is_err());
        let bad_host = request(&[
            ("x-forwarded-host", "a.example:1:1"),
            ("x-forwarded-uri", "/admin"),
        ]);
        assert!(original_request(ForwardAuthSource::Traefik, &bad_host).is_err());
        let relative = request(&[
            ("x-forwarded-host", "a.example"),
            ("x-forwarded-uri", "admin"),
        ]);
        assert!(original_request(ForwardAuthSource::Traefik, &relative).is_err());
    }
}
