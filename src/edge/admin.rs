//! The admin listener: `/metrics`, `/healthz` and `/readyz` (ready once the
//! proxy listener accepts and the identity provider's metadata and keys are
//! loaded).
//!
//! The session store does not decide readiness: every replica shares the same
//! Redis, so a Redis blip would take every replica out of the Service at once,
//! although sessions in each replica's local cache still work and everything
//! else gets a clear `session_store_unavailable` answer from the gateway
//! itself. `/readyz` still reports the store ("ready; degraded: ...") and
//! `g2p_gateway_session_store_up` drops to 0, which the
//! `G2PGatewaySessionStoreDown` alert watches.
//!
//! Kept off the proxy listener so Prometheus and the kubelet never share a
//! port with citizens' traffic, and so nothing here is reachable through a route.

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::edge::connections::Listening;
use crate::edge::gateway::Gateway;

/// Serves the admin endpoints for the current gateway snapshot.
pub struct AdminApp {
    current: Arc<ArcSwap<Gateway>>,
    /// Whether the proxy listener has accepted a connection yet.
    listening: Arc<Listening>,
}

impl AdminApp {
    /// Wraps the shared gateway state.
    pub fn new(current: Arc<ArcSwap<Gateway>>, listening: Arc<Listening>) -> AdminApp {
        AdminApp { current, listening }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let gw = self.current.load();
        let path = session.req_header().uri.path().to_string();
        match path.as_str() {
            "/metrics" => {
                let (sessions, pending) = gw.store.sizes().await;
                gw.metrics.set_store_sizes(sessions, pending);
                let up = gw.store.health().await.is_ok();
                gw.metrics.set_store_up(up);
                text(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    gw.metrics.render(),
                )
            }
            "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
            "/readyz" => {
                if !self.listening.is_listening() {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "not ready: the proxy listener does not accept yet\n".into(),
                    )
                } else if !gw.oidc.provider().is_ready() {
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "not ready: identity provider metadata not loaded\n".into(),
                    )
                } else if gw.store.health().await.is_err() {
                    // The store logs and counts the failure itself.
                    text(
                        StatusCode::OK,
                        "text/plain",
                        "ready; degraded: session store unreachable\n".into(),
                    )
                } else {
                    text(StatusCode::OK, "text/plain", "ready\n".into())
                }
            }
            _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
        }
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Vec<u8>> {
    let body = body.into_bytes();
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .header("cache-control", "no-store")
        .body(body)
        .unwrap_or_default()
}
