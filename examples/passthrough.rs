//! The benchmark floor: a plain pingora reverse proxy, nothing else.
//!
//! Bench-only (an example, never shipped): `./scripts/bench` runs it as row 2,
//! built from the same pingora version, features and settings as the gateway
//! (worker threads and runtime kind, allocator, upstream timeouts, pingora's
//! default upstream keep-alive pool of 128 connections), so the difference between this row and the gateway's rows is the gateway's own
//! work: routing, header stripping, cookie opening, the session lookup, the
//! identity assertion and metrics.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/passthrough --listen 127.0.0.1:6190 --upstream 127.0.0.1:8000 \
//!     --threads 2 --connect-timeout 5 --read-timeout 60
//! ```
//! Prints `passthrough listening on http://ADDR` once configured.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use clap::Parser;
use http::HeaderValue;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;

/// The gateway's allocator, so the floor differs from the gateway only by
/// the gateway's own work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6190")]
    listen: String,
    /// Upstream `host:port` (plain HTTP).
    #[arg(long)]
    upstream: String,
    /// pingora worker threads (the gateway's `server.threads`).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// pingora's work-stealing runtime (`true`, the default, as the gateway's
    /// `server.work_stealing`) or one runtime per thread (`false`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    work_stealing: bool,
    /// Upstream connect timeout in seconds, like the gateway's
    /// `upstreams.<name>.connect_timeout` (0: none).
    #[arg(long, default_value_t = 0)]
    connect_timeout: u64,
    /// Upstream read and write timeout in seconds, like the gateway's
    /// `upstreams.<name>.read_timeout` (0: none).
    #[arg(long, default_value_t = 0)]
    read_timeout: u64,
    /// A header to add to every upstream request, as `Name: value`
    /// (repeatable). `./scripts/bench` uses it for its diagnostic row that
    /// carries the gateway's own upstream headers (the identity assertion and
    /// the forwarding headers) with constant values and no other work.
    #[arg(long = "set-header", value_parser = parse_header)]
    set_headers: Vec<(String, String)>,
}

fn parse_header(raw: &str) -> Result<(String, String), String> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| format!("{raw:?}: expected `Name: value`"))?;
    Ok((name.trim().to_string(), value.trim().to_string()))
}

/// Forwards every request to one upstream, unchanged but for `set_headers`.
struct PassThrough {
    upstream: String,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    /// Case-preserving names (pingora takes `Bytes` as such) and values.
    set_headers: Vec<(Bytes, HeaderValue)>,
}

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.upstream.as_str(), false, String::new());
        peer.options.connection_timeout = self.connect_timeout;
        peer.options.read_timeout = self.read_timeout;
        peer.options.write_timeout = self.read_timeout;
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        _ctx: &mut (),
    ) -> pingora::Result<()> {
        for (name, value) in &self.set_headers {
            upstream.insert_header(name.clone(), value.clone())?;
        }
        Ok(())
    }
}

fn secs(n: u64) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(n))
}

fn main() {
    let args = Args::parse();
    let conf = ServerConf {
        threads: args.threads,
        work_stealing: args.work_stealing,
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(Opt::default()), conf);
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        PassThrough {
            upstream: args.upstream,
            connect_timeout: secs(args.connect_timeout),
            read_timeout: secs(args.read_timeout),
            set_headers: args
                .set_headers
                .iter()
                .map(|(name, value)| {
                    let value = HeaderValue::from_str(value).expect("a valid header value");
                    (Bytes::copy_from_slice(name.as_bytes()), value)
                })
                .collect(),
        },
        "passthrough",
    );
    proxy.add_tcp(&args.listen);
    server.add_service(proxy);
    println!("passthrough listening on http://{}", args.listen);
    server.run_forever();
}
