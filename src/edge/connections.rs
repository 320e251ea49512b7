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
//!   carry many clients, are exempt); a refused one gets a `503` (on a TLS
//!   listener: nothing, it is refused before its handshake) and is closed;
//! - gives each request `server.header_timeout` from its first byte to
//!   complete its headers, the first from the accept, TLS handshake included
//!   (the gateway runs the handshake itself, after admission), and an idle
//!   connection between requests [`KEEPALIVE_IDLE`] more, after which the
//!   connection is closed ([`Guarded`]);
//! - reads an HTTP/1 connection's first request headers before pingora sees
//!   the connection (`Guarded::read_first_headers`), so a graceful shutdown
//!   or binary upgrade never drops a request that was on its way.
//!
//! The limits are read from the current configuration snapshot at each
//! accept, so a reload changes them for new connections.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::{Buf, Bytes, BytesMut};
use pingora::apps::ServerApp;
use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::decision::limits::client_key;
use crate::edge::forwarded::AddressValue;
use crate::edge::gateway::Gateway;
use crate::identity::memo::IdentityMemo;
use crate::session::cookie::CookieMemo;
use crate::shared::metrics::Metrics;

/// How long a kept-alive connection may stay idle between two requests, on
/// top of `header_timeout`.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// How much [`Guarded::read_first_headers`] asks for per read: a typical
/// request's headers in one read.
const FIRST_READ: usize = 4096;

/// The proxy application, behind the connection limits.
pub struct GuardedApp<A> {
    inner: Arc<A>,
    current: Arc<ArcSwap<Gateway>>,
    open: Arc<OpenConnections>,
    tls: Option<Acceptor>,
    listening: Arc<Listening>,
}

/// Whether the proxy listener has accepted a connection yet: pingora binds
/// it in its own time after startup (retrying a port in use for 30 s), so
/// `/readyz` and the startup check wait for the first accept.
#[derive(Debug, Default)]
pub struct Listening(AtomicBool);

impl Listening {
    /// Whether a connection was accepted.
    pub fn is_listening(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn accepted(&self) {
        if !self.is_listening() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Marks [`Listening`] when dropped.
struct MarkAccepted<'a>(&'a Listening);

impl Drop for MarkAccepted<'_> {
    fn drop(&mut self) {
        self.0.accepted();
    }
}

impl<A> GuardedApp<A> {
    /// Wraps `inner`; limits come from the current snapshot at each accept.
    /// `tls`: the listener's TLS, whose handshakes run here, after admission
    /// and under the header deadline (the listener itself is plain TCP).
    /// `listening` is marked at the first accepted connection.
    pub fn new(
        inner: A,
        current: Arc<ArcSwap<Gateway>>,
        tls: Option<Acceptor>,
        listening: Arc<Listening>,
    ) -> GuardedApp<A> {
        GuardedApp {
            inner: Arc::new(inner),
            current,
            open: Arc::new(OpenConnections::default()),
            tls,
            listening,
        }
    }

    /// Admits a new connection, completes its TLS handshake (on a TLS
    /// listener) and reads its first request's headers, all within the
    /// header deadline; `None` when the connection ends there. Runs once per
    /// accepted connection.
    ///
    /// pingora's own TLS listener would run the handshake before the gateway
    /// sees the connection, uncounted by the connection caps and under
    /// pingora's fixed 60 s: a client could hold any number of connections
    /// by never finishing handshakes.
    async fn open_connection(&self, stream: Stream) -> Option<Box<Guarded>> {
        // Marked when this returns, after a connection that ends here (the
        // startup check's own) has given its permit back.
        let _accepted = MarkAccepted(&self.listening);
        let gw = self.current.load();
        let settings = &gw.config.server;
        let (header_timeout, max_header_bytes) =
            (settings.header_timeout, settings.max_header_bytes);
        let metrics = gw.metrics.clone();
        let admitted = self.open.admit(peer_ip(&stream), settings);
        drop(gw);
        let permit = match admitted {
            Ok(permit) => permit,
            Err(limit) => {
                metrics.refused(limit);
                // Before a TLS handshake there is no way to answer: close.
                if self.tls.is_none() {
                    refuse(stream).await;
                }
                return None;
            }
        };
        let due = Instant::now() + header_timeout;
        let stream = match &self.tls {
            None => stream,
            Some(acceptor) => match tls_handshake(acceptor, stream, due).await {
                Ok(stream) => stream,
                Err(HandshakeEnd::TimedOut) => {
                    metrics.refused("header_timeout");
                    return None;
                }
                Err(HandshakeEnd::Failed(reason)) => {
                    tracing::debug!(%reason, "TLS handshake failed");
                    return None;
                }
            },
        };
        let http1 = !matches!(stream.selected_alpn_proto(), Some(ALPN::H2));
        let mut guarded = Box::new(Guarded {
            inner: stream,
            phase: Phase::Headers(HeaderEnd::default()),
            header_timeout,
            due,
            timer: Box::pin(tokio::time::sleep_until(due)),
            http1,
            ahead: Bytes::new(),
            metrics,
            memos: Memos::default(),
            _permit: permit,
        });
        if http1 {
            match guarded.read_first_headers(max_header_bytes).await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::debug!(error = %e, "connection closed before its first request");
                    return None;
                }
            }
        }
        Some(guarded)
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
            self.open_connection(stream).await?
        };
        self.inner.process_new(stream, shutdown).await
    }

    /// Runs once, when the service has stopped listening (SIGTERM, or
    /// SIGQUIT once the listeners were handed over). pingora's cleanup drops
    /// every connection waiting for its next request; the gateway lets half
    /// of `server.grace_period` pass first. pingora has turned keep-alive off
    /// by then, so meanwhile a kept-alive connection's next request is
    /// answered with `Connection: close` and the connection ends cleanly,
    /// instead of being closed under a request its client may be sending.
    /// Only connections idle all that time are dropped.
    async fn cleanup(&self) {
        let grace = self.current.load().config.start.server.grace_period;
        tokio::time::sleep(grace / 2).await;
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

/// How a TLS handshake ended without a connection.
enum HandshakeEnd {
    /// Not finished by the header deadline.
    TimedOut,
    /// Refused or broken (not TLS, no shared cipher, closed).
    Failed(String),
}

/// The TLS handshake of a connection accepted on a TLS listener, finished by
/// `due`, as pingora's listener would run it (the same acceptor, on the same
/// plain TCP stream).
async fn tls_handshake(
    acceptor: &Acceptor,
    stream: Stream,
    due: Instant,
) -> Result<Stream, HandshakeEnd> {
    let tcp = stream
        .into_any()
        .downcast::<L4Stream>()
        .map_err(|_| HandshakeEnd::Failed("not a TCP connection".into()))?;
    match tokio::time::timeout_at(due, acceptor.tls_handshake(*tcp)).await {
        Ok(Ok(tls)) => Ok(Box::new(tls)),
        Ok(Err(e)) => Err(HandshakeEnd::Failed(e.to_string())),
        Err(_) => Err(HandshakeEnd::TimedOut),
    }
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
    Headers(HeaderEnd),
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
///
/// The deadline is a plain instant, `due`, moved on every request; the timer
/// is only touched when a read has to wait, and only when it would wake the
/// read late. A keep-alive request then costs a clock read, not a timer reset.
pub struct Guarded {
    inner: Stream,
    phase: Phase,
    header_timeout: Duration,
    /// When the current wait for headers ends.
    due: Instant,
    /// Wakes a waiting read no later than `due`; may fire early (then it is
    /// set to `due` again), never late.
    timer: Pin<Box<Sleep>>,
    http1: bool,
    /// Bytes read ahead of pingora ([`Guarded::read_first_headers`]), handed
    /// to its first reads.
    ahead: Bytes,
    /// Counts connections cut at the deadline.
    metrics: Arc<Metrics>,
    /// What this connection's requests worked out last.
    memos: Memos,
    _permit: Permit,
}

/// What one client connection's requests worked out last, to skip the work
/// when the next request on it is the same person's, or comes from the same
/// address.
#[derive(Debug, Default)]
pub struct Memos {
    /// The session cookie opened last.
    pub cookie: CookieMemo,
    /// The identity forwarded last.
    pub identity: IdentityMemo,
    /// The client's address, as `X-Forwarded-For` writes it.
    pub address: AddressValue,
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
    /// Reads the first request's headers (all of them, or `limit` bytes of
    /// them) into `ahead`, under the header deadline. Runs once per HTTP/1
    /// connection, right after it is admitted; `false` if the client closed
    /// it without sending a request.
    ///
    /// Why: when the server shuts down (SIGTERM, or SIGQUIT for a binary
    /// upgrade), pingora drops every connection waiting in its read of a
    /// request, to close idle kept-alive connections. A connection accepted
    /// just before, whose first request is still on its way, was dropped
    /// with them, and its client got no answer and nothing it could safely
    /// retry. pingora reads buffered bytes before it looks at the shutdown,
    /// so a connection that reaches it with its first request's headers
    /// already read is answered (with `Connection: close`).
    async fn read_first_headers(&mut self, limit: usize) -> std::io::Result<bool> {
        let mut ahead = BytesMut::new();
        while matches!(self.phase, Phase::Headers(_)) && ahead.len() < limit {
            ahead.reserve(FIRST_READ);
            if self.read_buf(&mut ahead).await? == 0 {
                break;
            }
        }
        self.ahead = ahead.freeze();
        Ok(!self.ahead.is_empty())
    }

    /// Advances the header scan over bytes just read. Runs on every read of
    /// a request's headers.
    fn scan(&mut self, bytes: &[u8]) {
        let Phase::Headers(end) = &mut self.phase else {
            return;
        };
        match end.advance(bytes) {
            Seen::End => self.phase = Phase::Message,
            // A request arriving in pieces: its deadline counts from its
            // first byte.
            Seen::FirstByte => self.due = Instant::now() + self.header_timeout,
            Seen::Nothing => {}
        }
    }

    /// Notes a response written: a final status line starts the wait for
    /// the next request (idle allowance plus the header deadline).
    fn saw_write(&mut self, bytes: &[u8]) {
        let final_status = bytes.len() > 9 && bytes.starts_with(b"HTTP/1.") && bytes[9] != b'1';
        if self.http1 && final_status && self.phase == Phase::Message {
            self.phase = Phase::Headers(HeaderEnd::default());
            self.due = Instant::now() + self.header_timeout + KEEPALIVE_IDLE;
        }
    }

    /// Whether the wait for headers is over; if not, the timer will wake
    /// this read by `due`. Runs when a read of headers has to wait.
    fn past_due(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timer.deadline() > self.due {
            // `due` moved earlier (a request arriving in pieces).
            self.timer.as_mut().reset(self.due);
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            if Instant::now() >= self.due {
                return true;
            }
            // Set for an earlier wait: wait on for this one.
            self.timer.as_mut().reset(self.due);
        }
        false
    }
}

/// Finds the blank line (`\n\n` or `\n\r\n`) that ends a request's
/// headers, across reads. Looks only at line feeds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct HeaderEnd {
    /// A byte of this request other than a blank line was read.
    started: bool,
    /// The last three bytes read (the latest lowest).
    window: u32,
}

/// What one read showed of a request's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Their end.
    End,
    /// Their first byte, but not their end.
    FirstByte,
    /// More of them, or blank lines before them.
    Nothing,
}

impl HeaderEnd {
    fn advance(&mut self, mut bytes: &[u8]) -> Seen {
        let first_byte_here = !self.started;
        if first_byte_here {
            // Blank lines before a request line are skipped by parsers; they
            // neither start nor end a request.
            let Some(first) = bytes.iter().position(|&b| b != b'\r' && b != b'\n') else {
                return Seen::Nothing;
            };
            bytes = &bytes[first..];
            *self = HeaderEnd {
                started: true,
                window: 0,
            };
        }
        if bytes.ends_with(b"\n\n") || bytes.ends_with(b"\n\r\n") {
            // The usual case: a whole request in one read.
            return Seen::End;
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
                return Seen::End;
            }
        }
        for &b in &bytes[bytes.len().saturating_sub(3)..] {
            self.window = (self.window << 8) | u32::from(b);
        }
        if first_byte_here {
            Seen::FirstByte
        } else {
            Seen::Nothing
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
        if !this.ahead.is_empty() {
            // Scanned when it was read ahead.
            let n = this.ahead.len().min(buf.remaining());
            buf.put_slice(&this.ahead[..n]);
            this.ahead.advance(n);
            if this.ahead.is_empty() {
                this.ahead = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        if this.phase == Phase::TimedOut {
            return Poll::Ready(Err(headers_timed_out()));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &result {
            Poll::Ready(Ok(())) if this.http1 => this.scan(&buf.filled()[before..]),
            Poll::Pending
                if this.http1 && matches!(this.phase, Phase::Headers(_)) && this.past_due(cx) =>
            {
                this.phase = Phase::TimedOut;
                this.metrics.refused("header_timeout");
                return Poll::Ready(Err(headers_timed_out()));
            }
            _ => {}
        }
        result
    }
}

fn headers_timed_out() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "request headers not complete within server.header_timeout",
    )
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
        if self.ahead.is_empty() {
            return self.inner.try_peek(buf).await;
        }
        if self.ahead.len() >= buf.len() {
            buf.copy_from_slice(&self.ahead[..buf.len()]);
            return Ok(true);
        }
        // Part of what pingora wants to see was read ahead; the rest would
        // come from the socket, whose peek cannot skip what was consumed.
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the scan saw in the read that completed the headers, and in which read.
    fn end_of(reads: &[&[u8]]) -> Option<(usize, Seen)> {
        let mut end = HeaderEnd::default();
        reads
            .iter()
            .map(|read| end.advance(read))
            .enumerate()
            .find(|(_, seen)| *seen == Seen::End)
    }

    #[test]
    fn the_blank_line_ends_the_headers_wherever_the_reads_split_it() {
        for request in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody",
        ] {
            assert_eq!(end_of(&[request]), Some((0, Seen::End)));
            let blank = request.windows(2).position(|w| w == b"\n\n").map(|i| i + 1);
            let crlf = request
                .windows(3)
                .position(|w| w == b"\n\r\n")
                .map(|i| i + 2);
            let last_byte_of_end = blank.or(crlf).unwrap();
            for cut in 1..request.len() {
                let (head, tail) = request.split_at(cut);
                let read = if cut > last_byte_of_end { 0 } else { 1 };
                assert_eq!(
                    end_of(&[head, tail]).map(|(i, _)| i),
                    Some(read),
                    "cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn header_lines_and_leading_blank_lines_are_not_the_end() {
        let mut end = HeaderEnd::default();
        assert_eq!(end.advance(b"\r\n\r\n"), Seen::Nothing);
        assert_eq!(end.advance(b"\nGET / HTTP/1.1\r\n"), Seen::FirstByte);
        assert_eq!(end.advance(b"Host: a\r\n"), Seen::Nothing);
        assert_eq!(end.advance(b"X-A: b\r"), Seen::Nothing);
        assert_eq!(end.advance(b"\n"), Seen::Nothing);
        assert_eq!(end.advance(b"\r"), Seen::Nothing);
        assert_eq!(end.advance(b"\n"), Seen::End);
        let mut one_line = HeaderEnd::default();
        assert_eq!(one_line.advance(b"GET / HTTP/1.1\r\n"), Seen::FirstByte);
        assert_eq!(one_line.advance(b"Host: a\r\nX: \r\n"), Seen::Nothing);
    }
}
