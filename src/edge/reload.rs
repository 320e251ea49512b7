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
//! The file watch polls, every [`WATCH_INTERVAL`], the modification time,
//! size and inode of the config file **and of every file it names** (each
//! `{file: PATH}` secret, `server.tls.cert`/`key`, `pages.template`): no
//! inotify dependency, and it follows Kubernetes ConfigMap and Secret
//! updates, which swap a symlink rather than write the file. A rotated key in
//! a mounted Secret is thereby picked up without a signal, which matters in a
//! distroless image that has no `kill` to send SIGHUP with. Secrets read from
//! `{env: VAR}` cannot change in a running process: a restart applies them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::edge::error::StartupError;
use crate::edge::gateway::Gateway;
use crate::shared::errors::Chain;

/// How often `server.watch_config` looks at the file.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Why a reload was not applied.
#[derive(Debug)]
pub enum ReloadError {
    /// The file is invalid; one line per problem.
    Invalid(Vec<String>),
    /// The file is valid but the gateway could not be built from it.
    Build(StartupError),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::Invalid(errors) => {
                write!(f, "{} error(s): {}", errors.len(), errors.join("; "))
            }
            ReloadError::Build(e) => Chain(e).fmt(f),
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
            tracing::error!(config = %path.display(), error = %Chain(e),
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
    let mut config = crate::config::load(path)
        .map_err(|errors| ReloadError::Invalid(errors.iter().map(ToString::to_string).collect()))?;
    keep_start_settings(&old.config, &mut config);
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
            tracing::warn!(error = %Chain(&e), "reload: identity provider not reachable; retrying in the background");
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

/// Keeps the running process's start-time settings in a reloaded config,
/// logging a warning for each one the file changed: they apply after a
/// restart or binary upgrade, and until then the snapshot describes the
/// process as it runs (the TLS listener, the store, the log setup).
fn keep_start_settings(old: &Config, new: &mut Config) {
    if old.start == new.start {
        return;
    }
    for name in old.start.changed(&new.start) {
        tracing::warn!(
            setting = name,
            "changed in the file, but only applies after a restart or binary upgrade"
        );
    }
    new.start = old.start.clone();
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
        let mut seen = fingerprints(&path);
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(
            config = %path.display(),
            watch = self.watch,
            watched_files = seen.len(),
            "config reload armed (SIGHUP re-reads the file)"
        );
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    tracing::info!(config = %path.display(), "SIGHUP: reloading configuration");
                    seen = fingerprints(&path);
                    let _ = reload(&self.current).await;
                }
                _ = tick.tick(), if self.watch => {
                    let now = fingerprints(&path);
                    if now != seen {
                        let changed: Vec<String> = now
                            .iter()
                            .filter(|entry| !seen.contains(entry))
                            .map(|(file, _)| file.display().to_string())
                            .collect();
                        seen = now;
                        tracing::info!(config = %path.display(), changed = ?changed,
                            "config or key file changed: reloading");
                        let _ = reload(&self.current).await;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// What identifies one version of a file: modification time, size and inode
/// (following symlinks; `None` while the file is missing).
type FileStamp = Option<(SystemTime, u64, u64)>;

/// The stamp of the config file and of every file it names, in a stable order.
fn fingerprints(config: &Path) -> Vec<(PathBuf, FileStamp)> {
    std::iter::once(config.to_path_buf())
        .chain(referenced_files(config))
        .map(|file| {
            let stamp = stamp(&file);
            (file, stamp)
        })
        .collect()
}

fn stamp(path: &Path) -> FileStamp {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Every file `config` names: `{file: PATH}` secrets anywhere in it,
/// `server.tls.cert` and `server.tls.key`, and `pages.template`, relative
/// paths taken from the config file's directory as the loader does. An
/// unreadable or invalid file names nothing (the reload reports it).
pub fn referenced_files(config: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(config) else {
        return Vec::new();
    };
    let Ok(document) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    collect_file_refs(&document, &mut names);
    let tls = &document["server"]["tls"];
    for value in [&tls["cert"], &tls["key"], &document["pages"]["template"]] {
        if let Some(name) = value.as_str() {
            names.push(name.to_owned());
        }
    }
    let base = config.parent().unwrap_or_else(|| Path::new("."));
    let mut files: Vec<PathBuf> = names.iter().map(|name| base.join(name)).collect();
    files.sort();
    files.dedup();
    files
}

/// Pushes the `PATH` of every `{file: PATH}` mapping under `value`.
fn collect_file_refs(value: &serde_yaml::Value, out: &mut Vec<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            if map.len() == 1 {
                if let Some(name) = map.get("file").and_then(serde_yaml::Value::as_str) {
                    out.push(name.to_owned());
                    return;
                }
            }
            for child in map.values() {
                collect_file_refs(child, out);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                collect_file_refs(item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped `gateway.yaml` with a Redis store whose URL and record
    /// key come from `url` and `key`.
    fn config_with_redis(url: &str, key: &str) -> Config {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut yaml: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(root.join("gateway.yaml")).unwrap())
                .unwrap();
        yaml["session"]["store"] = serde_yaml::from_str(
            "{redis: {url: {env: REDIS_URL}, record_keys: [{env: RECORD_KEY}]}}",
        )
        .unwrap();
        let (url, key) = (url.to_string(), key.to_string());
        let env = move |name: &str| match name {
            "REDIS_URL" => Some(url.clone()),
            "RECORD_KEY" => Some(key.clone()),
            _ => None,
        };
        let text = serde_yaml::to_string(&yaml).unwrap();
        crate::config::load_str_with_env(&text, &root.join("gateway.yaml"), &env)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn a_changed_secret_of_the_start_time_settings_is_reported() {
        let key = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="; // 32 bytes, base64
        let old = config_with_redis("redis://127.0.0.1:6379", key);
        let same = config_with_redis("redis://127.0.0.1:6379", key);
        assert_eq!(old.start, same.start);
        assert!(old.start.changed(&same.start).is_empty());
        let new_url = config_with_redis("redis://:secret@127.0.0.1:6380", key);
        assert_eq!(old.start.changed(&new_url.start), ["session.store"]);
        let new_key = config_with_redis(
            "redis://127.0.0.1:6379",
            "ampqampqampqampqampqampqampqampqampqampqamo=",
        );
        assert_eq!(old.start.changed(&new_key.start), ["session.store"]);
        // The reloaded snapshot keeps what the process runs with.
        let mut reloaded = new_key.clone();
        keep_start_settings(&old, &mut reloaded);
        assert_eq!(reloaded.start, old.start);
        assert_ne!(reloaded.start, new_key.start);
    }

    #[test]
    fn every_named_file_is_watched_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gateway.yaml");
        std::fs::write(
            &config,
            "server:\n  tls: {cert: tls/cert.pem, key: /abs/key.pem}\n\
             esignet:\n  private_key: {file: keys/client.pem}\n\
             session:\n  cookie_keys: [{file: cookie.key}, {env: OLD_COOKIE}]\n\
             \x20 store: {redis: {url: {env: URL}, record_keys: [{file: record.key}]}}\n\
             pages: {template: pages/error.html}\n",
        )
        .unwrap();
        let files = referenced_files(&config);
        let expected: Vec<PathBuf> = {
            let mut v = vec![
                PathBuf::from("/abs/key.pem"),
                dir.path().join("tls/cert.pem"),
                dir.path().join("keys/client.pem"),
                dir.path().join("cookie.key"),
                dir.path().join("record.key"),
                dir.path().join("pages/error.html"),
            ];
            v.sort();
            v
        };
        assert_eq!(files, expected);
    }

    #[test]
    fn a_replaced_key_file_changes_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, "session:\n  cookie_keys: [{file: cookie.key}]\n").unwrap();
        let key = dir.path().join("cookie.key");
        std::fs::write(&key, "old").unwrap();
        let before = fingerprints(&config);
        assert_eq!(before.len(), 2);
        // The kubelet's way: write a new file and rename it over the old one
        // (same size, maybe the same second: the inode still differs).
        let fresh = dir.path().join("cookie.key.new");
        std::fs::write(&fresh, "new").unwrap();
        std::fs::rename(&fresh, &key).unwrap();
        assert_ne!(fingerprints(&config), before);
        // A config that cannot be parsed still stamps the config file itself.
        std::fs::write(&config, "session: [").unwrap();
        assert_eq!(fingerprints(&config).len(), 1);
    }
}
