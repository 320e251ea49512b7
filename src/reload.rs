//! Configuration reload without downtime: SIGHUP (and, with
//! `server.watch_config`, a change of the file) re-reads `gateway.yaml`.
//!
//! A new [`Gateway`] snapshot is built from the new file with the **same**
//! session store and metrics, warmed up (provider metadata and keys), and
//! swapped in atomically: requests already running finish on the old snapshot,
//! the next ones start on the new one, no connection is dropped and every
//! session and pending login survives. A file with errors is rejected as a
//! whole: every error is logged with its YAML path, the old configuration
//! stays in force, and `g2p_gateway_config_reloads_total{outcome="failure"}`
//! counts it.
//!
//! What a reload cannot change (the listeners, worker threads, grace period,
//! TLS certificate, session-store backend and limits, logging) is bound when
//! the process starts: a changed value is logged as a warning and applies
//! after a restart or a binary upgrade.
//!
//! The file watch polls the file's modification time and size every
//! [`WATCH_INTERVAL`]: no inotify dependency, and it follows Kubernetes
//! ConfigMap updates, which swap a symlink rather than write the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::gateway::Gateway;

/// How often `server.watch_config` looks at the file.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Why a reload was not applied.
#[derive(Debug)]
pub enum ReloadError {
    /// The file is invalid; one line per problem.
    Invalid(Vec<String>),
    /// The file is valid but the gateway could not be built from it.
    Build(String),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Invalid(errors) => {
                write!(f, "{} error(s): {}", errors.len(), errors.join("; "))
            }
            ReloadError::Build(e) => f.write_str(e),
        }
    }
}

/// Re-reads the config file of the current snapshot and swaps in a new
/// gateway built from it. On failure nothing changes.
pub async fn reload(current: &ArcSwap<Gateway>) -> Result<(), ReloadError> {
    let old = current.load_full();
    let path = old.config.source.clone();
    let result = build_from(&old, &path).await;
    // Logs first, then the metric: whoever sees the count also finds the lines.
    match &result {
        Ok((new, warmed)) => {
            let routes = new.config.routes.len();
            current.store(new.clone());
            if !warmed {
                retry_warm_up(new.clone());
            }
            tracing::info!(config = %path.display(), routes, "configuration reloaded");
            old.metrics.config_reload(true);
        }
        Err(ReloadError::Invalid(errors)) => {
            for error in errors {
                tracing::error!(config = %path.display(), problem = %error, "configuration reload rejected");
            }
            tracing::error!(
                config = %path.display(),
                errors = errors.len(),
                "configuration reload rejected; the previous configuration stays in force"
            );
            old.metrics.config_reload(false);
        }
        Err(ReloadError::Build(e)) => {
            tracing::error!(config = %path.display(), error = %e,
                "configuration reload failed; the previous configuration stays in force");
            old.metrics.config_reload(false);
        }
    }
    result.map(|_| ())
}

/// Keeps warming up a swapped-in snapshot whose provider was unreachable,
/// with backoff, until it works or a newer snapshot replaces it.
fn retry_warm_up(gateway: Arc<Gateway>) {
    let weak = Arc::downgrade(&gateway);
    drop(gateway);
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        loop {
            tokio::time::sleep(delay).await;
            let Some(gateway) = weak.upgrade() else {
                return;
            };
            if gateway.oidc.warm_up().await.is_ok() {
                tracing::info!("reload: identity provider metadata and keys loaded");
                return;
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    });
}

/// The new snapshot, and whether its provider metadata and keys are loaded.
async fn build_from(old: &Gateway, path: &Path) -> Result<(Arc<Gateway>, bool), ReloadError> {
    let config = crate::config::load(path)
        .map_err(|errors| ReloadError::Invalid(errors.iter().map(ToString::to_string).collect()))?;
    warn_fixed_settings(&old.config, &config);
    let http_timeout = config.esignet.http_timeout;
    let new = Gateway::build(Arc::new(config), old.store.clone(), old.metrics.clone())
        .map_err(ReloadError::Build)?;
    // Load the provider's metadata and keys before the swap, so /readyz stays
    // true and the next login does not pay for it. If the provider is down,
    // the new snapshot still goes live (routes and keys must not wait for
    // e-Signet) and keeps retrying in the background.
    let warmed = match tokio::time::timeout(http_timeout * 2, new.oidc.warm_up()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reload: identity provider not reachable; retrying in the background");
            false
        }
        Err(_) => {
            tracing::warn!(
                "reload: identity provider warm-up timed out; retrying in the background"
            );
            false
        }
    };
    Ok((Arc::new(new), warmed))
}

/// Logs a warning for every setting a reload cannot apply.
fn warn_fixed_settings(old: &Config, new: &Config) {
    let changed = |name: &str, differs: bool| {
        if differs {
            tracing::warn!(
                setting = name,
                "changed in the file, but only applies after a restart or binary upgrade"
            );
        }
    };
    changed("server.listen", old.server.listen != new.server.listen);
    changed(
        "server.admin_listen",
        old.server.admin_listen != new.server.admin_listen,
    );
    changed("server.threads", old.server.threads != new.server.threads);
    changed(
        "server.work_stealing",
        old.server.work_stealing != new.server.work_stealing,
    );
    changed(
        "server.grace_period",
        old.server.grace_period != new.server.grace_period,
    );
    changed(
        "server.tls",
        format!("{:?}", old.server.tls) != format!("{:?}", new.server.tls),
    );
    changed(
        "session.max_sessions",
        old.session.max_sessions != new.session.max_sessions,
    );
    changed(
        "session.max_pending_logins",
        old.session.max_pending_logins != new.session.max_pending_logins,
    );
    changed(
        "session.idle_timeout",
        old.session.idle_timeout != new.session.idle_timeout,
    );
    changed(
        "session.store",
        format!("{:?}", old.session.store) != format!("{:?}", new.session.store),
    );
    changed(
        "logging",
        old.logging.filter != new.logging.filter || old.logging.format != new.logging.format,
    );
}

/// Installs the process-wide SIGHUP handler right away, before pingora
/// starts its services: until the reload service listens, a SIGHUP (an early
/// `systemctl reload`) is then ignored instead of ending the process, which
/// is SIGHUP's default action. Tokio keeps the OS handler installed for the
/// life of the process; the reload service's own stream receives later ones.
pub fn guard_sighup() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(async {
            if let Err(e) = signal(SignalKind::hangup()) {
                tracing::warn!(error = %e, "cannot install the SIGHUP handler early");
            }
        }),
        Err(e) => tracing::warn!(error = %e, "cannot install the SIGHUP handler early"),
    }
}

/// The background service that waits for SIGHUP (and watches the file).
pub struct ReloadService {
    current: Arc<ArcSwap<Gateway>>,
    watch: bool,
}

impl ReloadService {
    /// Reloads `current`'s config file on SIGHUP; also on change when `watch`.
    pub fn new(current: Arc<ArcSwap<Gateway>>, watch: bool) -> ReloadService {
        ReloadService { current, watch }
    }
}

#[async_trait]
impl BackgroundService for ReloadService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot install the SIGHUP handler; reload disabled");
                return;
            }
        };
        let path: PathBuf = self.current.load().config.source.clone();
        let mut seen = fingerprint(&path);
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(
            config = %path.display(),
            watch = self.watch,
            "config reload armed (SIGHUP re-reads the file)"
        );
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    tracing::info!(config = %path.display(), "SIGHUP: reloading configuration");
                    seen = fingerprint(&path);
                    let _ = reload(&self.current).await;
                }
                _ = tick.tick(), if self.watch => {
                    let now = fingerprint(&path);
                    if now != seen {
                        seen = now;
                        tracing::info!(config = %path.display(), "config file changed: reloading");
                        let _ = reload(&self.current).await;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Modification time and size of the file (following symlinks).
fn fingerprint(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
