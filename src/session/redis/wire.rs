//! The connection to Redis: one server, a Sentinel-managed master, or a
//! Cluster, behind one multiplexed connection with timeouts and reconnects.
//!
//! Nothing connects at startup: the first command connects (so the gateway
//! starts, not ready, while Redis is down). A command that fails on I/O or
//! times out drops the connection, and the next command connects again; after
//! a failed attempt, commands fail fast for [`RETRY_AFTER`] instead of each
//! waiting for the connect timeout. Sentinel is asked for the master at each
//! connect, so a failover is followed on the next reconnect.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionLike, MultiplexedConnection};
use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::cluster_async::ClusterConnection;
use ::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use ::redis::{
    AsyncConnectionConfig, Client, Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, RedisError,
    RedisFuture, ScriptInvocation, TlsCertificates, TlsMode, Value,
};

use crate::config::{RedisSettings, RedisTopology};
use crate::session::SetupError;

/// How long commands fail fast after a failed connection attempt.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// A live connection of either kind; both are cheap clones of one multiplexed socket set.
#[derive(Clone)]
pub(crate) enum Conn {
    /// One server (standalone or the Sentinel master).
    Single(MultiplexedConnection),
    /// A cluster (routes each command by slot, reconnects nodes itself).
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Where connections come from.
enum Target {
    Standalone(Client),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
    Cluster {
        client: ClusterClient,
        /// Clients for each seed node, for the invalidation subscription
        /// (cluster pub/sub messages reach every node).
        nodes: Vec<Client>,
    },
}

/// A failure to talk to Redis. Carries no data, only what went wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    /// No answer within the command timeout.
    #[error("redis command timed out")]
    Timeout,
    /// A recent connection attempt failed; not retrying yet.
    #[error("redis unreachable (retrying shortly)")]
    Backoff,
}

/// The shared connection and its settings.
pub(crate) struct Wire {
    target: Target,
    conn: tokio::sync::Mutex<Option<Conn>>,
    failed_at: Mutex<Option<Instant>>,
    connect_timeout: Duration,
    command_timeout: Duration,
}

impl Wire {
    /// Prepares clients from the settings; connects nothing yet.
    pub(crate) fn new(settings: &RedisSettings) -> Result<Wire, SetupError> {
        let certificates = settings.tls_ca.as_ref().map(|ca| TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.clone()),
        });
        let open = |url: &str, what: &'static str| {
            match &certificates {
                Some(certs) => Client::build_with_tls(url, certs.clone()),
                None => Client::open(url),
            }
            .map_err(|e| redacted(what, &e))
        };
        let target = match &settings.topology {
            RedisTopology::Standalone { url } => {
                Target::Standalone(open(url.expose().as_str(), "url")?)
            }
            RedisTopology::Sentinel {
                master,
                urls,
                password,
                tls,
            } => {
                let mut addrs = Vec::new();
                let mut sentinel_auth = None;
                for url in urls.expose() {
                    let info = url
                        .as_str()
                        .into_connection_info()
                        .map_err(|e| redacted("sentinel url", &e))?;
                    let settings = info.redis_settings();
                    if sentinel_auth.is_none() {
                        if let Some(password) = settings.password() {
                            sentinel_auth =
                                Some((settings.username().map(str::to_owned), password.to_owned()));
                        }
                    }
                    addrs.push(info.addr().clone());
                }
                let mut builder =
                    SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)
                        .map_err(|e| redacted("sentinel", &e))?;
                if let Some((user, password)) = sentinel_auth {
                    if let Some(user) = user {
                        builder = builder.set_client_to_sentinel_username(user);
                    }
                    builder = builder.set_client_to_sentinel_password(password);
                }
                if let Some(password) = password {
                    builder = builder.set_client_to_redis_password(password.expose());
                }
                if *tls {
                    builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
                }
                if let Some(certs) = &certificates {
                    builder = builder
                        .set_client_to_redis_certificates(certs.clone())
                        .set_client_to_sentinel_certificates(certs.clone());
                }
                let client = builder.build().map_err(|e| redacted("sentinel", &e))?;
                Target::Sentinel(tokio::sync::Mutex::new(client))
            }
            RedisTopology::Cluster { urls } => {
                let mut builder =
                    ClusterClientBuilder::new(urls.expose().iter().map(String::as_str))
                        .connection_timeout(settings.connect_timeout)
                        .response_timeout(settings.command_timeout);
                if let Some(certs) = &certificates {
                    builder = builder.certs(certs.clone());
                }
                let client = builder.build().map_err(|e| redacted("cluster", &e))?;
                let nodes = urls
                    .expose()
                    .iter()
                    .map(|u| open(u.as_str(), "cluster url"))
                    .collect::<Result<_, _>>()?;
                Target::Cluster { client, nodes }
            }
        };
        Ok(Wire {
            target,
            conn: tokio::sync::Mutex::new(None),
            failed_at: Mutex::new(None),
            connect_timeout: settings.connect_timeout,
            command_timeout: settings.command_timeout,
        })
    }

    /// The per-command timeout (also bounds pings of the subscriber).
    pub(crate) fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// Runs one command.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, WireError> {
        let mut conn = self.conn().await?;
        let result = self.bounded(cmd.query_async(&mut conn)).await;
        self.after(result).await
    }

    /// Runs a pipeline (atomic only where the caller made it so).
    pub(crate) async fn pipe<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, WireError> {
        let mut conn = self.conn().await?;
        let result = self.bounded(pipe.query_async(&mut conn)).await;
        self.after(result).await
    }

    /// Runs a Lua script (EVALSHA, loading it on first use). Scripts are atomic.
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, WireError> {
        let mut conn = self.conn().await?;
        let result = self.bounded(invocation.invoke_async(&mut conn)).await;
        self.after(result).await
    }

    /// A client for a dedicated pub/sub connection (the master, or a cluster node).
    pub(crate) async fn pubsub_client(&self, attempt: usize) -> Result<Client, WireError> {
        match &self.target {
            Target::Standalone(client) => Ok(client.clone()),
            Target::Sentinel(sentinel) => {
                let mut sentinel = sentinel.lock().await;
                match tokio::time::timeout(self.connect_timeout, sentinel.async_get_client()).await
                {
                    Ok(result) => Ok(result?),
                    Err(_) => Err(WireError::Timeout),
                }
            }
            Target::Cluster { nodes, .. } => Ok(nodes[attempt % nodes.len()].clone()),
        }
    }

    /// The connect timeout, for the subscriber's own connections.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, WireError> {
        match tokio::time::timeout(self.command_timeout, fut).await {
            Ok(result) => result.map_err(WireError::Redis),
            Err(_) => Err(WireError::Timeout),
        }
    }

    /// Drops the connection after a failure that may have broken it.
    async fn after<T>(&self, result: Result<T, WireError>) -> Result<T, WireError> {
        if let Err(e) = &result {
            let broken = match e {
                WireError::Timeout | WireError::Backoff => true,
                WireError::Redis(e) => {
                    e.is_io_error()
                        || e.is_connection_dropped()
                        || e.is_connection_refusal()
                        || e.is_timeout()
                        || e.is_unrecoverable_error()
                }
            };
            if broken {
                *self.conn.lock().await = None;
            }
        }
        result
    }

    /// The current connection, connecting if there is none.
    async fn conn(&self) -> Result<Conn, WireError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let recently_failed = self
            .failed_at
            .lock()
            .map(|at| at.is_some_and(|t| t.elapsed() < RETRY_AFTER))
            .unwrap_or(false);
        if recently_failed {
            return Err(WireError::Backoff);
        }
        match self.connect().await {
            Ok(conn) => {
                if let Ok(mut at) = self.failed_at.lock() {
                    *at = None;
                }
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                if let Ok(mut at) = self.failed_at.lock() {
                    *at = Some(Instant::now());
                }
                Err(e)
            }
        }
    }

    async fn connect(&self) -> Result<Conn, WireError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.command_timeout));
        // The outer bound also covers DNS, TLS and asking Sentinel.
        let bound = self.connect_timeout + self.command_timeout;
        let attempt = async {
            match &self.target {
                Target::Standalone(client) => client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map(Conn::Single),
                Target::Sentinel(sentinel) => sentinel
                    .lock()
                    .await
                    .get_async_connection_with_config(&config)
                    .await
                    .map(Conn::Single),
                Target::Cluster { client, .. } => {
                    client.get_async_connection().await.map(Conn::Cluster)
                }
            }
        };
        match tokio::time::timeout(bound, attempt).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(WireError::Timeout),
        }
    }
}

/// A client-construction error, without the URL (it may hold a password).
fn redacted(what: &'static str, e: &RedisError) -> SetupError {
    SetupError::Redis {
        what,
        kind: e.kind(),
    }
}
