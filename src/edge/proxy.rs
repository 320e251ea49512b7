//! The pingora proxy: phase glue between HTTP and the gateway's decisions.
//!
//! Per request: `request_filter` strips client identity headers, answers the
//! gateway's own endpoints, matches the route and checks the session;
//! `upstream_peer` picks the route's upstream; `upstream_request_filter` sets
//! the forwarding headers and the signed identity; `logging` records metrics.
//! Every response the gateway writes itself goes through [`write_reply`].

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorSource, ErrorType, Result};

use crate::decision::access::{self, target};
use crate::decision::routing::check_request_path;
use crate::edge::connections;
use crate::edge::endpoints;
use crate::edge::error::GatewayError;
use crate::edge::forward_auth;
use crate::edge::forwarded;
use crate::edge::gateway::Gateway;
use crate::edge::respond::{Reply, Requester};
use crate::session::cookie::{cookie_headers, CookieMemo};
use crate::session::{Session as UserSession, SessionId};

/// The proxy service; holds the current gateway snapshot.
pub struct GatewayProxy {
    current: Arc<ArcSwap<Gateway>>,
}

impl GatewayProxy {
    /// Wraps the shared, swappable gateway state.
    pub fn new(current: Arc<ArcSwap<Gateway>>) -> GatewayProxy {
        GatewayProxy { current }
    }
}

/// Per-request state, written by the phases in order.
pub struct RequestCtx {
    /// The snapshot this request runs under (set in `request_filter`).
    gateway: Option<Arc<Gateway>>,
    /// Random id for logs and error pages (made on first use).
    correlation_id: CorrelationId,
    /// The client's address (the rightmost `X-Forwarded-For` hop when trusted).
    client_ip: Option<std::net::IpAddr>,
    /// Index of the matched route in `gateway.config.routes`.
    route: Option<usize>,
    /// The session, on protected routes (set in `request_filter`).
    session: Option<(SessionId, Arc<UserSession>)>,
    /// When the request started.
    started: Instant,
    /// Request body bytes seen so far (against `max_body_bytes`).
    body_bytes: u64,
}

/// A request's correlation id, generated only when something reads it (an
/// error page, a log line, a gateway endpoint): a forwarded request that goes
/// well never needs one, and a random UUID costs a `getrandom` system call
/// and an allocation. Reads as `&str` (`&ctx.correlation_id`).
#[derive(Default)]
struct CorrelationId(std::sync::OnceLock<String>);

impl std::ops::Deref for CorrelationId {
    type Target = str;

    fn deref(&self) -> &str {
        self.0
            .get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
    }
}

#[async_trait]
impl ProxyHttp for GatewayProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            gateway: None,
            correlation_id: CorrelationId::default(),
            client_ip: None,
            route: None,
            session: None,
            started: Instant::now(),
            body_bytes: 0,
        }
    }

    /// Decides the request's fate before anything reaches the upstream.
    ///
    /// `async_trait` moves this future into a fresh heap box on every
    /// request, so the answers the gateway writes itself (its endpoints, a
    /// login redirect, a refusal) are boxed where they are awaited: the
    /// proxied request, the common case, then carries only its own state.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        // One reference count taken per request, moved into `ctx` below: the
        // count is shared by every worker thread.
        let gw = self.current.load_full();
        let peer = peer_ip(session);
        let reply = match target::normalise_request(session.req_header_mut()) {
            Err(rejection) => {
                gw.metrics.refused(rejection.label());
                let req = session.req_header();
                let e = GatewayError::BadRequest(rejection.to_string());
                Some(gw.reject(
                    &e,
                    Requester::of(&req.method, &req.headers),
                    &ctx.correlation_id,
                    None,
                ))
            }
            Ok(()) => {
                ctx.client_ip =
                    access::client_address(&gw.config.server, peer, &session.req_header().headers);
                strip_identity_headers(&gw, session.req_header_mut());
                if is_backchannel_logout(&gw, session.req_header()) {
                    Some(Box::pin(backchannel_logout(&gw, session, &ctx.correlation_id)).await)
                } else if crate::edge::provider::is_provider_request(&gw, session.req_header()) {
                    Some(Box::pin(provider_request(&gw, session, ctx)).await)
                } else {
                    let memo = connections::memos(session).map(|m| &m.cookie);
                    decide(&gw, session.req_header(), memo, ctx).await
                }
            }
        };
        ctx.gateway = Some(gw);
        match reply {
            Some(reply) => {
                Box::pin(write_reply(session, reply)).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Counts streamed body bytes; past `max_body_bytes` the request fails with 413.
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(gw) = &ctx.gateway else {
            return Ok(());
        };
        ctx.body_bytes += body.as_ref().map_or(0, |b| b.len() as u64);
        if ctx.body_bytes > gw.config.server.max_body_bytes {
            return Err(Error::explain(
                ErrorType::HTTPStatus(413),
                "request body too large",
            ));
        }
        Ok(())
    }

    async fn upstream_peer(&self, _s: &mut Session, ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
        let (gw, route) = route_of(ctx)?;
        let upstream = &gw.route_upstreams[route];
        let mut peer = HttpPeer::new(
            upstream.address.as_str(),
            upstream.tls,
            upstream.sni.clone(),
        );
        peer.options.connection_timeout = Some(upstream.connect_timeout);
        peer.options.read_timeout = Some(upstream.read_timeout);
        peer.options.write_timeout = Some(upstream.read_timeout);
        Ok(Box::new(peer))
    }

    /// Sets forwarding headers, removes the gateway's cookies and adds the identity.
    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let (gw, route) = route_of(ctx)?;
        let target = &gw.route_upstreams[route];
        let route = &gw.config.routes[route];
        let real_ip = ctx.client_ip.filter(|_| target.real_ip_header);
        let memos = connections::memos(session);
        let fresh = forwarded::AddressValue::default();
        let written = memos.map_or(&fresh, |m| &m.address);
        forwarded::set_forwarding_headers(gw, peer_ip(session), real_ip, written, upstream)?;
        strip_gateway_cookies(gw, upstream)?;
        let form = &target.identity;
        let live = crate::edge::upstream::portal_cookies_allowed(
            gw,
            form,
            session.req_header(),
            ctx.session.is_some(),
        )
        .await;
        crate::edge::upstream::strip_client_identity(form, live, upstream)?;
        if let Some((id, user)) = &ctx.session {
            // The GatewayError rides along as the cause, so `fail_to_proxy`
            // answers and logs it through the one mapping, chain intact.
            let memo = memos.map(|m| &m.identity);
            let identity = gw.forwarded_identity(route, id, user, memo).map_err(|e| {
                Error::because(
                    ErrorType::InternalError,
                    "cannot mint the forwarded identity",
                    e,
                )
            })?;
            for (name, value) in identity.headers_for(form) {
                upstream.insert_header(name.clone(), value.clone())?;
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let Some(gw) = ctx.gateway.clone() else {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        let error = match e.esource() {
            _ if matches!(e.etype(), ErrorType::HTTPStatus(413)) => GatewayError::TooLarge("body"),
            ErrorSource::Upstream if is_timeout(e) => GatewayError::UpstreamTimeout(e.to_string()),
            ErrorSource::Upstream => GatewayError::UpstreamUnavailable(e.to_string()),
            ErrorSource::Downstream => {
                return FailToProxy {
                    error_code: 0,
                    can_reuse_downstream: false,
                };
            }
            _ => GatewayError::Internal(e.to_string()),
        };
        // A failure of the gateway's own carries its GatewayError as the cause.
        let own = e
            .cause
            .as_deref()
            .and_then(|cause| cause.downcast_ref::<GatewayError>());
        let error = own.unwrap_or(&error);
        let kind = Requester::of(&session.req_header().method, &session.req_header().headers);
        let reply = gw.reject(error, kind, &ctx.correlation_id, None);
        // The connection is not reused after a failure: say so to the client.
        session.set_keepalive(None);
        let code = reply.status.as_u16();
        let _ = write_reply(session, reply).await;
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let Some(gw) = &ctx.gateway else { return };
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        match ctx.route.and_then(|i| gw.route_metrics.get(i)) {
            Some(route) => {
                route.request(status);
                if status != 0 {
                    route.upstream(ctx.started.elapsed());
                }
            }
            None => gw.unrouted_metrics.request(status),
        }
    }
}

/// The routing and session decision. `None` means "proxy it".
///
/// Runs after [`target::normalise_request`]: the `Host` header is present
/// and canonical, and the target is origin-form.
async fn decide(
    gw: &Gateway,
    req: &RequestHeader,
    memo: Option<&CookieMemo>,
    ctx: &mut RequestCtx,
) -> Option<Reply> {
    let path = req.uri.path();
    let kind = || Requester::of(&req.method, &req.headers);
    if let Some(too_large) = oversized(gw, req) {
        gw.metrics.refused("too_large");
        return Some(gw.reject(&too_large, kind(), &ctx.correlation_id, None));
    }
    if let Err(rejection) = check_request_path(path) {
        gw.metrics.refused("bad_path");
        let e = GatewayError::BadRequest(rejection.to_string());
        return Some(gw.reject(&e, kind(), &ctx.correlation_id, None));
    }
    let prefix = gw.config.server.prefix.as_str();
    if let Some(rest) = path.strip_prefix(prefix) {
        if rest == "/auth" {
            let (cid, ip) = (&ctx.correlation_id, ctx.client_ip);
            return Some(Box::pin(forward_auth::answer(gw, req, cid, ip)).await);
        }
        if rest.is_empty() || rest.starts_with('/') {
            let (cid, ip) = (&ctx.correlation_id, ctx.client_ip);
            return Some(Box::pin(endpoints::handle(gw, req, rest, cid, ip)).await);
        }
    }
    let facts = access::Facts {
        method: &req.method,
        host: request_host(req),
        path,
        preflight: access::is_cors_preflight(&req.method, &req.headers),
    };
    let outcome = gw.decide(&facts, cookie_headers(&req.headers), memo).await;
    ctx.route = outcome.route();
    if let Some(refusal) = gw.refusal(&outcome) {
        return Some(gw.reject(&refusal, kind(), &ctx.correlation_id, None));
    }
    match outcome {
        access::Outcome::Public { .. } => None,
        access::Outcome::Allow { id, session, .. } => {
            ctx.session = Some((id, session));
            None
        }
        access::Outcome::Login { acr, .. } => {
            let (cid, ip) = (&ctx.correlation_id, ctx.client_ip);
            Some(Box::pin(endpoints::login_required(gw, req, cid, acr, ip)).await)
        }
        // Refusals were answered above.
        _ => None,
    }
}

/// The canonical `Host` of a normalised request.
fn request_host(req: &RequestHeader) -> &str {
    req.headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
}

/// The connection's peer address.
fn peer_ip(session: &Session) -> Option<std::net::IpAddr> {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip())
}

/// Headers or a declared body beyond the configured caps. Chunked bodies are
/// counted as they stream, in `request_body_filter`.
fn oversized(gw: &Gateway, req: &RequestHeader) -> Option<GatewayError> {
    let limits = &gw.config.server;
    let header_bytes: usize = req
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > limits.max_header_bytes {
        return Some(GatewayError::TooLarge("headers"));
    }
    let declared = req
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes) {
        return Some(GatewayError::TooLarge("body"));
    }
    None
}

fn is_timeout(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ReadTimedout | ErrorType::WriteTimedout | ErrorType::ConnectTimedout
    )
}

/// Largest form body the gateway reads itself (back-channel logout).
const MAX_FORM_BODY: usize = 64 * 1024;

fn is_backchannel_logout(gw: &Gateway, req: &RequestHeader) -> bool {
    req.method == http::Method::POST
        && req
            .uri
            .path()
            .strip_prefix(gw.config.server.prefix.as_str())
            == Some("/backchannel-logout")
}

/// Answers an e-Signet back-channel logout (a form POST).
async fn backchannel_logout(gw: &Gateway, session: &mut Session, cid: &str) -> Reply {
    let body = read_body_limited(session, MAX_FORM_BODY).await;
    endpoints::backchannel_logout(gw, body.as_deref(), cid).await
}

/// Answers the portal's calls to the gateway as its login provider.
async fn provider_request(gw: &Gateway, session: &mut Session, ctx: &RequestCtx) -> Reply {
    let body = read_body_limited(session, MAX_FORM_BODY).await;
    let (req, cid, ip) = (session.req_header(), &ctx.correlation_id, ctx.client_ip);
    crate::edge::provider::handle(gw, req, body.as_deref(), cid, ip).await
}

/// Reads the request body, giving up (`None`) past `limit` bytes or on error.
async fn read_body_limited(session: &mut Session, limit: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return None;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Some(body),
            Err(_) => return None,
        }
    }
}

/// The request's snapshot and route; borrowed, not cloned: the snapshot's
/// reference count is shared by every worker thread, and each clone and drop
/// on the hot path is a contended atomic write.
fn route_of(ctx: &RequestCtx) -> Result<(&Gateway, usize)> {
    match (&ctx.gateway, ctx.route) {
        (Some(gw), Some(route)) => Ok((gw.as_ref(), route)),
        _ => Err(Error::explain(ErrorType::InternalError, "no route decided")),
    }
}

/// Removes every client-sent identity header, on every route.
fn strip_identity_headers(gw: &Gateway, req: &mut RequestHeader) {
    forwarded::remove_headers(req, |name| gw.stripper.is_identity_header(name));
}

/// Removes the session and login-binding cookies from what goes upstream.
fn strip_gateway_cookies(gw: &Gateway, upstream: &mut RequestHeader) -> Result<()> {
    let mut kept = String::new();
    let headers = upstream.headers.get_all(http::header::COOKIE).iter();
    for rest in headers
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| gw.cookies.strip_own_cookies(v))
    {
        if !kept.is_empty() {
            kept.push_str("; ");
        }
        kept.push_str(&rest);
    }
    upstream.remove_header(&http::header::COOKIE);
    if !kept.is_empty() {
        upstream.insert_header(http::header::COOKIE, kept)?;
    }
    Ok(())
}

/// Writes a gateway-made reply to the downstream.
pub async fn write_reply(session: &mut Session, reply: Reply) -> Result<()> {
    let mut header = ResponseHeader::build(reply.status, Some(reply.headers.len() + 1))?;
    for (name, value) in reply.headers {
        header.append_header(name.into_owned(), value)?;
    }
    header.insert_header(http::header::CONTENT_LENGTH, reply.body.len().to_string())?;
    let head_only = session.req_header().method == http::Method::HEAD;
    let body: Option<Bytes> = (!reply.body.is_empty() && !head_only).then_some(reply.body);
    session
        .write_response_header(Box::new(header), body.is_none())
        .await?;
    if let Some(body) = body {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
