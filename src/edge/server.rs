//! Assembles the pingora server: proxy, admin listener and background work.
//!
//! Runs once in `main`. Listen addresses with port 0 are resolved to a free
//! port first and printed, so tests and scripts can run many gateways side by
//! side without fixed ports.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::apps::http_app::HttpServer;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use tokio::net::TcpStream;

use crate::config::Config;
use crate::config::StoreSettings;
use crate::edge::admin::AdminApp;
use crate::edge::connections::{GuardedApp, Listening};
use crate::edge::error::StartupError;
use crate::edge::gateway::Gateway;
use crate::edge::proxy::GatewayProxy;
use crate::edge::reload::ReloadService;
use crate::session::memory::MemoryStore;
use crate::session::redis::RedisStore;
use crate::session::SessionStore;
use crate::shared::errors::Chain;
use crate::shared::metrics::Metrics;

/// Process-level options of `g2p-gateway run` (not part of `gateway.yaml`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Take over the listening sockets of a running gateway (binary upgrade):
    /// start the new binary with this, then send SIGQUIT to the old one.
    pub upgrade: bool,
    /// The Unix socket the listening sockets are handed over on (old and new
    /// process must agree). Default: pingora's `/tmp/pingora_upgrade.sock`.
    pub upgrade_sock: Option<std::path::PathBuf>,
}

/// Builds the gateway from `config` and runs it until a shutdown signal.
pub fn run(config: Config) -> Result<(), StartupError> {
    run_with(config, RunOptions::default())
}

/// [`run`], with process options (binary upgrade).
pub fn run_with(config: Config, options: RunOptions) -> Result<(), StartupError> {
    let process = config.start.server.clone();
    let listen = resolve_port(process.listen)?;
    let admin = resolve_port(process.admin_listen)?;
    if !options.upgrade {
        // pingora retries a bind for 30 s and then fails only the service
        // it belongs to, leaving a process without a proxy: fail here.
        ensure_free(listen)?;
        ensure_free(admin)?;
    }
    let metrics = Arc::new(Metrics::new());
    let (store, invalidation) = build_store(&config, &metrics)?;
    let grace = process.grace_period.as_secs().max(1);
    let gateway = Gateway::build(Arc::new(config), store, metrics)?;
    let current = Arc::new(ArcSwap::from_pointee(gateway));

    let mut conf = ServerConf {
        threads: process.threads,
        work_stealing: process.work_stealing,
        grace_period_seconds: Some(grace),
        graceful_shutdown_timeout_seconds: Some(grace),
        ..ServerConf::default()
    };
    if let Some(sock) = &options.upgrade_sock {
        conf.upgrade_sock = sock.to_string_lossy().into_owned();
    }
    let opt = pingora::server::configuration::Opt {
        upgrade: options.upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();

    let proxy_app =
        pingora::proxy::http_proxy(&server.configuration, GatewayProxy::new(current.clone()));
    // With TLS the listener stays plain TCP: the gateway runs the handshake
    // after admitting the connection, under the header deadline.
    let tls = match &process.tls {
        Some(files) => {
            let (cert, key) = (files.cert.to_string_lossy(), files.key.to_string_lossy());
            let settings = TlsSettings::intermediate(&cert, &key).map_err(StartupError::Tls)?;
            Some(settings.build())
        }
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listening = Arc::new(Listening::default());
    let mut proxy = Service::new(
        "g2p-gateway proxy".to_string(),
        GuardedApp::new(proxy_app, current.clone(), tls, listening.clone()),
    );
    proxy.add_tcp(&listen.to_string());
    let mut admin_service = Service::new(
        "g2p-gateway admin".to_string(),
        HttpServer::new_app(AdminApp::new(current.clone(), listening.clone())),
    );
    admin_service.add_tcp(&admin.to_string());
    let reload = background_service(
        "g2p-gateway config reload",
        ReloadService::new(current.clone(), process.watch_config),
    );
    let warm_up = background_service("g2p-gateway provider warm-up", WarmUp { current });
    server.add_service(reload);
    server.add_service(proxy);
    server.add_service(admin_service);
    server.add_service(warm_up);
    server.add_service(background_service(
        "g2p-gateway listener check",
        ListenerCheck { listen, listening },
    ));
    if let Some(redis) = invalidation {
        server.add_service(background_service(
            "g2p-gateway session invalidation",
            Invalidation { redis },
        ));
    }

    println!("g2p-gateway listening on {scheme}://{listen} (admin http://{admin})");
    tracing::info!(%listen, %admin, "g2p-gateway starting");
    server.run_forever()
}

/// The store every request uses, and the Redis store again when its
/// invalidation listener must run.
type BuiltStore = (Arc<dyn SessionStore>, Option<Arc<RedisStore>>);

/// The configured session store. Runs once at startup; connects nothing.
fn build_store(config: &Config, metrics: &Arc<Metrics>) -> Result<BuiltStore, StartupError> {
    let bounds = &config.start.session;
    match &bounds.store {
        StoreSettings::Memory => {
            metrics.set_store_up(true);
            let store = MemoryStore::new(
                bounds.max_sessions,
                bounds.idle_timeout,
                bounds.max_pending_logins,
                config.esignet.login_timeout,
            );
            Ok((Arc::new(store), None))
        }
        StoreSettings::Redis(redis) => {
            let store = Arc::new(RedisStore::new(
                redis,
                bounds,
                config.esignet.login_timeout,
                metrics.clone(),
            )?);
            Ok((store.clone(), Some(store)))
        }
    }
}

/// Drops this replica's cached sessions when any replica ends them (Redis
/// pub/sub), reconnecting by itself; runs until shutdown.
struct Invalidation {
    redis: Arc<RedisStore>,
}

#[async_trait]
impl BackgroundService for Invalidation {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        self.redis.listen(&mut shutdown).await;
    }
}

/// Replaces port 0 by a free port, so the address can be printed and reused.
fn resolve_port(addr: SocketAddr) -> Result<SocketAddr, StartupError> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let bind = |source| StartupError::Bind { addr, source };
    let probe = TcpListener::bind(addr).map_err(bind)?;
    probe.local_addr().map_err(bind)
}

/// Fails if something already listens on `addr` (bound the way pingora
/// binds, with `SO_REUSEADDR`, so a port left in `TIME_WAIT` by a previous
/// run is not refused). Runs once at startup, except for a binary upgrade,
/// where the old process holds the sockets.
fn ensure_free(addr: SocketAddr) -> Result<(), StartupError> {
    let bind = |source| StartupError::Bind { addr, source };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(bind)?;
    socket.set_reuseaddr(true).map_err(bind)?;
    socket.bind(addr).map_err(bind)
}

/// How long the proxy listener may take to accept after startup: pingora
/// retries a bind once a second, 30 times, then gives up on that service.
const LISTEN_DEADLINE: Duration = Duration::from_secs(40);

/// Connects to the proxy listener until the proxy has accepted a connection
/// (`/readyz` waits for that). If it has not within [`LISTEN_DEADLINE`], the
/// process exits with status 1: the admin listener alone would keep alive a
/// gateway that serves nobody. A connection some other process accepts on
/// the port does not count. Runs once at startup.
struct ListenerCheck {
    listen: SocketAddr,
    listening: Arc<Listening>,
}

#[async_trait]
impl BackgroundService for ListenerCheck {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let target = loopback_for(self.listen);
        let started = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(5);
        while !self.listening.is_listening() {
            if started.elapsed() >= LISTEN_DEADLINE {
                tracing::error!(listen = %self.listen, "the proxy listener never accepted a connection; exiting");
                std::process::exit(1);
            }
            // Its accept is what counts; the connection itself is dropped.
            let _ = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(target)).await;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }
}

/// Where a local client reaches a listener on `addr` (the loopback address
/// for a wildcard one).
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Fetches the provider's discovery document and JWKS at startup, retrying
/// with backoff until it works, so the first login does not pay for it and
/// `/readyz` turns true as soon as the provider is known.
struct WarmUp {
    current: Arc<ArcSwap<Gateway>>,
}

#[async_trait]
impl BackgroundService for WarmUp {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut delay = Duration::from_millis(250);
        loop {
            let gw = self.current.load_full();
            match gw.oidc.warm_up().await {
                Ok(()) => {
                    tracing::info!("identity provider metadata and keys loaded");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), retry_in = ?delay, "identity provider not reachable yet")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unbindable_address_is_a_startup_error_with_the_os_cause() {
        // TEST-NET-1 (RFC 5737) is never a local address.
        let addr: SocketAddr = "192.0.2.1:0".parse().unwrap();
        let err = resolve_port(addr).unwrap_err();
        assert!(matches!(err, StartupError::Bind { .. }), "{err:?}");
        let cause = std::error::Error::source(&err).expect("the OS error is kept");
        assert!(cause.is::<std::io::Error>());
        assert!(Chain(&err)
            .to_string()
            .starts_with("cannot bind 192.0.2.1:0: "));
        let fixed: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(resolve_port(fixed).unwrap(), fixed);
    }

    #[test]
    fn an_address_something_listens_on_is_a_startup_error() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = busy.local_addr().unwrap();
        let err = ensure_free(addr).unwrap_err();
        assert!(Chain(&err)
            .to_string()
            .starts_with(&format!("cannot bind {addr}: ")));
        drop(busy);
        ensure_free(addr).expect("free once the listener is gone");
    }

    #[test]
    fn a_wildcard_listener_is_checked_on_loopback() {
        let at = |s: &str| loopback_for(s.parse().unwrap()).to_string();
        assert_eq!(at("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(at("[::]:8080"), "[::1]:8080");
        assert_eq!(at("10.1.2.3:8080"), "10.1.2.3:8080");
    }
}
