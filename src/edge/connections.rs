//! Client connections: how many may be open, and how long a request's
//! headers may take.
//!
//! pingora's only downstream timeout is per read (60 s), so a client sending
//! one header byte every 59 s holds a connection forever (slowloris), and
//! nothing caps how many connections one source opens. [`GuardedApp`] wraps
//! the proxy application and, for every accepted connection:
//! - admits it only while fewer than `server.max_connections` are open, and
//!   fewer than `server.max_connections_per_client` from its client
//!   (an IPv4 address or IPv6 /64; peers in `server.trusted_proxies`, which
//!   carry many clients, are exempt); a refused one gets a `503` and is closed;
//! - gives each request `server.header_timeout` from its first byte (the
//!   first request: from the accept) to complete its headers, and an idle
//!   connection between requests [`KEEPALIVE_IDLE`] more, after which the
//!   connection is closed ([`Guarded`]).
//!
//! The limits are read from the current configuration snapshot at each
//! accept, so a reload changes them for new connections.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::decision::limits::client_key;
use crate::edge::gateway::Gateway;
use crate::identity::memo::IdentityMemo;
use crate::session::cookie::CookieMemo;
use crate::shared::metrics::Metrics;

/// How long a kept-alive connection may stay idle between two requests, on
/// top of `header_timeout`.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// The proxy application, behind the connection limits.
pub struct GuardedApp<A> {
    inner: Arc<A>,
    current: Arc<ArcSwap<Gateway>>,
    open: Arc<OpenConnections>,
}

impl<A> GuardedApp<A> {
    /// Wraps `inner`; limits come from the current snapshot at each accept.
    pub fn new(inner: A, current: Arc<ArcSwap<Gateway>>) -> GuardedApp<A> {
        GuardedApp {
            inner: Arc::new(inner),
            current,
            open: Arc::new(OpenConnections::default()),
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for GuardedApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // pingora's HTTP/1 app serves a kept-alive connection's requests in
        // its own loop; should a stream ever be handed back for reuse, it
        // was admitted and wrapped already and must not be counted twice.
        let stream: Stream = if stream.as_any().is::<Guarded>() {
            stream
        } else {
            let gw = self.current.load();
            let settings = &gw.config.server;
            let peer = peer_ip(&stream);
            match self.open.admit(peer, settings) {
                Ok(permit) => {
                    let http1 = !matches!(stream.selected_alpn_proto(), Some(ALPN::H2));
                    Box::new(Guarded {
                        inner: stream,
                        phase: Phase::Headers { started: false },
                        window: 0,
                        header_timeout: settings.header_timeout,
                        deadline: Box::pin(tokio::time::sleep(settings.header_timeout)),
                        http1,
                        metrics: gw.metrics.clone(),
                        memos: Memos::default(),
                        _permit: permit,
                    })
                }
                Err(limit) => {
                    gw.metrics.refused(limit);
                    refuse(stream).await;
                    return None;
                }
            }
        };
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

/// Answers a connection over the limits with a `503` and closes it.
async fn refuse(mut stream: Stream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
        Retry-After: 10\r\nContent-Length: 0\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY).await;
        Shutdown::shutdown(&mut *stream).await;
    })
    .await;
}

fn peer_ip(stream: &Stream) -> Option<IpAddr> {
    let digest = stream.get_socket_digest()?;
    let addr = digest.peer_addr()?;
    addr.as_inet().map(|a| a.ip())
}

/// The open connections, in all and per client.
#[derive(Debug, Default)]
struct OpenConnections {
    total: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenConnections {
    /// Counts a new connection in, or names the limit it would break.
    fn admit(
        self: &Arc<Self>,
        peer: Option<IpAddr>,
        settings: &crate::config::ServerSettings,
    ) -> Result<Permit, &'static str> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= settings.max_connections {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err("max_connections");
        }
        let key = peer
            .filter(|ip| settings.max_connections_per_client > 0 && !settings.is_trusted_proxy(*ip))
            .map(client_key);
        if let Some(key) = key {
            let mut clients = self.clients();
            let count = clients.entry(key).or_insert(0);
            if *count >= settings.max_connections_per_client {
                drop(clients);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err("max_connections_per_client");
            }
            *count += 1;
        }
        Ok(Permit {
            open: self.clone(),
            key,
        })
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_client.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One admitted connection; counted out when dropped (the connection closed).
#[derive(Debug)]
struct Permit {
    open: Arc<OpenConnections>,
    key: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.open.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.key {
            let mut clients = self.open.clients();
            if let Some(count) = clients.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    clients.remove(&key);
                }
            }
        }
    }
}

/// Where a connection is in its request cycle, as far as reading goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request's headers, under the deadline.
    /// `started`: a byte of this request other than a blank line was read.
    Headers { started: bool },
    /// Headers complete: reading a body or waiting for the response.
    Message,
    /// The deadline passed; every further read fails.
    TimedOut,
}

/// A client connection under the header deadline.
///
/// Reads watch for the blank line that ends a request's headers; a final
/// (non-`1xx`) response status line written back starts the next request's
/// deadline. HTTP/2 connections (`http1 == false`) are only counted.
pub struct Guarded {
    inner: Stream,
    phase: Phase,
    /// The last three bytes read (the latest lowest), to spot the blank line
    /// (`\n\n` or `\n\r\n`) across reads.
    window: u32,
    header_timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    http1: bool,
    /// Counts connections cut at the deadline.
    metrics: Arc<Metrics>,
    /// What this connection's requests worked out last.
    memos: Memos,
    _permit: Permit,
}

/// What one client connection's requests worked out last, to skip the work
/// when the next request on it is the same person's.
#[derive(Debug, Default)]
pub struct Memos {
    /// The session cookie opened last.
    pub cookie: CookieMemo,
    /// The identity forwarded last.
    pub identity: IdentityMemo,
}

/// The memos of `session`'s client connection: HTTP/1 connections admitted
/// by [`GuardedApp`] have them. Read on every request to a protected route.
pub fn memos(session: &pingora::proxy::Session) -> Option<&Memos> {
    let stream: &Stream = session.as_downstream().stream()?;
    let guarded = (**stream).as_any().downcast_ref::<Guarded>()?;
    Some(&guarded.memos)
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("inner", &self.inner)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Guarded {
    /// Advances the header scan over bytes just read. Runs on every read of
    /// a request's headers; looks only at line feeds.
    fn scan(&mut self, bytes: &[u8]) {
        let Phase::Headers { started } = self.phase else {
            return;
        };
        let mut bytes = bytes;
        let first_byte_here = !started;
        if !started {
            // Blank lines before a request line are skipped by parsers; they
            // neither start nor end a request.
            let Some(first) = bytes.iter().position(|&b| b != b'\r' && b != b'\n') else {
                return;
            };
            bytes = &bytes[first..];
            self.phase = Phase::Headers { started: true };
            self.window = 0;
        }
        // The byte `back` places before `i`, reaching into earlier reads.
        let window = self.window;
        let before = |i: usize, back: usize| match i.checked_sub(back) {
            Some(j) => bytes[j],
            None => (window >> (8 * (back - i - 1))) as u8,
        };
        for i in memchr::memchr_iter(b'\n', bytes) {
            let previous = before(i, 1);
            if previous == b'\n' || (previous == b'\r' && before(i, 2) == b'\n') {
                // The usual case: a whole request in one read. The timer is
                // left alone (moving it earlier takes the timer driver's lock).
                self.phase = Phase::Message;
                return;
            }
        }
        for &b in &bytes[bytes.len().saturating_sub(3)..] {
            self.window = (self.window << 8) | u32::from(b);
        }
        if first_byte_here {
            // A request arriving in pieces: its deadline counts from its
            // first byte.
            self.deadline
                .as_mut()
                .reset(Instant::now() + self.header_timeout);
        }
    }

    /// Notes a response written: a final status line starts the wait for
    /// the next request (idle allowance plus the header deadline).
    fn saw_write(&mut self, bytes: &[u8]) {
        let final_status = bytes.len() > 9 && bytes.starts_with(b"HTTP/1.") && bytes[9] != b'1';
        if self.http1 && final_status && self.phase == Phase::Message {
            self.phase = Phase::Headers { started: false };
            // Later than the timer's last deadline: tokio extends a timer
            // without taking the driver's lock.
            self.deadline
                .as_mut()
                .reset(Instant::now() + self.header_timeout + KEEPALIVE_IDLE);
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let watching = this.http1 && matches!(this.phase, Phase::Headers { .. } | Phase::TimedOut);
        if watching && this.deadline.as_mut().poll(cx).is_ready() {
            if this.phase != Phase::TimedOut {
                this.phase = Phase::TimedOut;
                this.metrics.refused("header_timeout");
            }
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request headers not complete within server.header_timeout",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            if this.http1 {
                this.scan(&buf.filled()[before..]);
            }
        }
        result
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = &result {
            this.saw_write(buf);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let (Poll::Ready(Ok(_)), Some(first)) = (&result, bufs.first()) {
            this.saw_write(first);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for Guarded {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut *self.inner).await
    }
}

impl UniqueID for Guarded {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Guarded {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Guarded {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Guarded {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for Guarded {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for Guarded {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}
