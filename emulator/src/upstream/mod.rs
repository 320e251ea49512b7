//! The demo upstream: stands in for the OpenG2P portal behind the gateway.
//!
//! * Any path, any method: echoes the request (JSON, or an HTML page for `Accept: text/html`)
//!   with the verdict on the `X-G2P-Identity` JWT, verified against the gateway's JWKS.
//! * `/ws`: a WebSocket that echoes text and binary messages; the text message `__headers__`
//!   is answered with the upgrade request's headers and identity verdict as JSON. Without an
//!   upgrade, `/ws` echoes like any other path.
//! * `/slow?ms=N`: waits N ms (at most 30 s), then echoes.
//! * `/stream?chunks=N&delay_ms=D`: streams N lines (at most 1000), D ms apart (default 10,
//!   at most 1000).

mod echo;
mod identity;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::serve::Served;
use axum::body::{Body, Bytes};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use echo::{echo_json, respond, Received};
use identity::{IdentityCheck, IdentityVerifier, IDENTITY_HEADER};

/// Largest request body echoed.
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Longest `/slow` wait.
const MAX_SLOW_MS: u64 = 30_000;
const MAX_CHUNKS: u64 = 1000;
const MAX_CHUNK_DELAY_MS: u64 = 1000;

/// A running demo upstream. Dropping it stops the server (without waiting).
pub struct DemoUpstream {
    addr: SocketAddr,
    server: Served,
}

impl DemoUpstream {
    /// Binds `bind` and serves on the current tokio runtime. Identity JWTs are verified
    /// against `gateway_jwks_url` (fetched lazily; `None` makes every identity invalid) and,
    /// when `expected_audience` is set, must carry that `aud`.
    pub async fn start(
        bind: SocketAddr,
        gateway_jwks_url: Option<String>,
        expected_audience: Option<String>,
    ) -> io::Result<DemoUpstream> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let verifier = Arc::new(IdentityVerifier::new(gateway_jwks_url, expected_audience));
        let app = Router::new()
            .route("/ws", any(websocket))
            .route("/slow", any(slow))
            .route("/stream", any(stream))
            .fallback(echo)
            .with_state(verifier);
        let server = Served::spawn(listener, app, "demo upstream");
        Ok(DemoUpstream { addr, server })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`.
    pub fn base_url(&self) -> String {
        crate::emulator::base_url_for(self.addr)
    }

    /// Stops accepting connections and waits (at most 5 s) for in-flight requests; open
    /// WebSockets and streams are cut after that.
    pub async fn shutdown(mut self) {
        self.server.shutdown().await;
    }
}

type Verifier = Arc<IdentityVerifier>;

/// Verifies the gateway's assertion: in `X-G2P-Identity`, or else (the
/// portal's form, `upstreams.<name>.identity: bearer`) in
/// `Authorization: Bearer`.
async fn check_identity(verifier: &IdentityVerifier, headers: &HeaderMap) -> IdentityCheck {
    let bearer = || {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .filter(|v| v.as_bytes().starts_with(b"Bearer "))
    };
    let value = headers
        .get(IDENTITY_HEADER)
        .or_else(bearer)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    verifier.check(value.as_deref()).await
}

/// Any path: echo.
async fn echo(State(verifier): State<Verifier>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let identity = check_identity(&verifier, &parts.headers).await;
    let received = Received {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body: &body,
    };
    respond(&received, &identity)
}

/// `/ws`: WebSocket echo, or plain echo when not an upgrade.
async fn websocket(
    State(verifier): State<Verifier>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    request: Request,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return echo(State(verifier), request).await;
    };
    let identity = check_identity(&verifier, request.headers()).await;
    let received = Received {
        method: request.method(),
        uri: request.uri(),
        headers: request.headers(),
        body: &[],
    };
    let summary = echo_json(&received, &identity).to_string();
    upgrade.on_upgrade(move |socket| echo_socket(socket, summary))
}

async fn echo_socket(mut socket: WebSocket, summary: String) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(text) if text.as_str() == "__headers__" => {
                Message::Text(summary.clone().into())
            }
            Message::Text(text) => Message::Text(text),
            Message::Binary(bytes) => Message::Binary(bytes),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

/// A numeric query parameter.
fn query_number(request: &Request, name: &str) -> Option<u64> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// `/slow?ms=N`.
async fn slow(State(verifier): State<Verifier>, request: Request) -> Response {
    let ms = query_number(&request, "ms")
        .unwrap_or(1000)
        .min(MAX_SLOW_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    echo(State(verifier), request).await
}

/// `/stream?chunks=N&delay_ms=D`.
async fn stream(request: Request) -> Response {
    let chunks = query_number(&request, "chunks")
        .unwrap_or(5)
        .min(MAX_CHUNKS);
    let delay = Duration::from_millis(
        query_number(&request, "delay_ms")
            .unwrap_or(10)
            .min(MAX_CHUNK_DELAY_MS),
    );
    let body = futures_util::stream::unfold(0u64, move |i| async move {
        if i >= chunks {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(delay).await;
        }
        let line = Bytes::from(format!("chunk {} of {chunks}\n", i + 1));
        Some((Ok::<_, Infallible>(line), i + 1))
    });
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
