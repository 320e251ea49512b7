//! `server:` and `logging:` checks: listeners, the public origin, the prefix.

use std::net::SocketAddr;

use url::Url;

use super::Checker;
use crate::config::model::{LogFormat, LoggingSettings, ProcessSettings, ServerSettings, TlsFiles};
use crate::config::path::YamlPath;
use crate::config::raw::{RawLogFormat, RawLogging, RawServer, RawTls};

/// Checked `server:` parts; the public URL and prefix are also used by other sections.
pub(super) struct ServerCheck {
    /// `server.public_url`, when valid.
    pub public_url: Option<Url>,
    /// `server.prefix`, when valid.
    pub prefix: Option<String>,
    /// The reloadable part of the section, when every key is valid.
    pub settings: Option<ServerSettings>,
    /// The part bound at process start, when every key is valid.
    pub process: Option<ProcessSettings>,
}

/// Checks `server:`.
pub(super) fn check(cx: &mut Checker<'_>, raw: &RawServer) -> ServerCheck {
    let path = YamlPath::root().key("server");
    let listen = socket_addr(cx, &path.key("listen"), &raw.listen);
    let admin_listen = socket_addr(cx, &path.key("admin_listen"), &raw.admin_listen);
    if let (Some(listen), Some(admin)) = (listen, admin_listen) {
        listeners_differ(cx, &path.key("admin_listen"), listen, admin);
    }
    let public_url_path = path.key("public_url");
    let public_url = cx
        .required(&public_url_path, raw.public_url.as_ref())
        .and_then(|url| public_url(cx, &public_url_path, url));
    let prefix = prefix(cx, &path.key("prefix"), &raw.prefix);
    let threads = threads(cx, &path.key("threads"), raw.threads);
    let tls = match &raw.tls {
        Some(files) => tls(cx, &path.key("tls"), files).map(Some),
        None => Some(None),
    };
    let trusted_proxies = trusted_proxies(cx, &path, raw);
    let header_timeout = raw.header_timeout;
    if header_timeout.is_zero() {
        cx.error(
            &path.key("header_timeout"),
            "must be positive, e.g. 30s: without it one client can hold connections open",
        );
    }
    if raw.max_connections == 0 {
        cx.error(&path.key("max_connections"), "must be at least 1");
    }
    let process = match (listen, admin_listen, threads, tls) {
        (Some(listen), Some(admin_listen), Some(threads), Some(tls)) => Some(ProcessSettings {
            listen,
            admin_listen,
            threads,
            work_stealing: raw.work_stealing,
            grace_period: raw.grace_period,
            tls,
            watch_config: raw.watch_config,
        }),
        _ => None,
    };
    let settings = match (public_url.clone(), prefix.clone(), trusted_proxies) {
        (Some(public_url), Some(prefix), Some(trusted_proxies)) => Some(ServerSettings {
            public_url,
            prefix,
            trusted_proxies,
            max_header_bytes: raw.max_header_bytes,
            max_body_bytes: raw.max_body_bytes,
            header_timeout,
            max_connections: raw.max_connections as usize,
            max_connections_per_client: raw.max_connections_per_client as usize,
        }),
        _ => None,
    };
    ServerCheck {
        public_url,
        prefix,
        settings,
        process,
    }
}

/// `server.trusted_proxies`: IP networks (`10.0.0.0/8`, `fd00::/8`) or single
/// addresses. The replaced `trust_forwarded_headers: true` trusted any peer;
/// it is refused with a pointer to the list, so no upgrade keeps that hole.
fn trusted_proxies(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawServer,
) -> Option<Vec<ipnet::IpNet>> {
    if raw.trust_forwarded_headers == Some(true) {
        cx.error(
            &path.key("trust_forwarded_headers"),
            "was replaced by server.trusted_proxies: list the networks of the proxies in front \
             (e.g. [10.0.0.0/8]); trusting every peer let any client choose its own address",
        );
    }
    let mut networks = Vec::new();
    let mut ok = true;
    for (i, entry) in raw.trusted_proxies.iter().enumerate() {
        let entry = entry.trim();
        let parsed = entry
            .parse::<ipnet::IpNet>()
            .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) if net.prefix_len() == 0 => {
                cx.error(
                    &path.key("trusted_proxies").index(i),
                    format!("{entry:?} trusts every address; list the proxies' networks"),
                );
                ok = false;
            }
            Ok(net) => networks.push(net.trunc()),
            Err(_) => {
                cx.error(
                    &path.key("trusted_proxies").index(i),
                    format!("{entry:?} is not an IP network, e.g. 10.0.0.0/8 or 192.0.2.7"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(networks)
}

fn socket_addr(cx: &mut Checker<'_>, path: &YamlPath, value: &str) -> Option<SocketAddr> {
    match value.trim().parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            cx.error(
                path,
                format!("invalid listen address {value:?}: expected IP:PORT, e.g. 127.0.0.1:8080"),
            );
            None
        }
    }
}

/// The admin listener must not collide with the proxy listener (port 0 is
/// always free, since the kernel picks a different port for each).
fn listeners_differ(cx: &mut Checker<'_>, path: &YamlPath, listen: SocketAddr, admin: SocketAddr) {
    let same_port = listen.port() == admin.port() && listen.port() != 0;
    let overlapping_ip =
        listen.ip() == admin.ip() || listen.ip().is_unspecified() || admin.ip().is_unspecified();
    if same_port && overlapping_ip {
        cx.error(
            path,
            format!("{admin} collides with server.listen ({listen}); use another port"),
        );
    }
}

/// The browser-facing origin: scheme, host and port only.
fn public_url(cx: &mut Checker<'_>, path: &YamlPath, value: &str) -> Option<Url> {
    let url = cx.http_url(path, value)?;
    let problem = if !url.username().is_empty() || url.password().is_some() {
        Some("must not contain a user name or password")
    } else if url.path() != "/" {
        Some("must be an origin without a path, e.g. https://portal.example.org")
    } else if url.query().is_some() || url.fragment().is_some() {
        Some("must not have a query or fragment")
    } else {
        None
    };
    match problem {
        Some(problem) => {
            cx.error(path, format!("{problem} (got {value:?})"));
            None
        }
        None => Some(url),
    }
}

/// The reserved prefix: `/seg[/seg…]` with unreserved URL characters only.
fn prefix(cx: &mut Checker<'_>, path: &YamlPath, value: &str) -> Option<String> {
    let problem = if !value.starts_with('/') {
        Some("must start with \"/\"")
    } else if value == "/" {
        Some("must not be \"/\": the gateway's endpoints would hide every route")
    } else if value.ends_with('/') {
        Some("must not end with \"/\"")
    } else if !value[1..].split('/').all(is_prefix_segment) {
        Some("each segment must be non-empty and use only A-Z a-z 0-9 . _ ~ -")
    } else {
        None
    };
    match problem {
        Some(problem) => {
            cx.error(path, format!("{problem} (got {value:?})"));
            None
        }
        None => Some(value.to_owned()),
    }
}

fn is_prefix_segment(segment: &str) -> bool {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || "._~-".contains(c);
    !segment.is_empty() && segment != "." && segment != ".." && segment.chars().all(unreserved)
}

/// `server.tls`: a readable PEM certificate and a readable PEM private key
/// (paths relative to the config file). Their contents are never echoed.
fn tls(cx: &mut Checker<'_>, path: &YamlPath, raw: &RawTls) -> Option<TlsFiles> {
    let cert = tls_file(
        cx,
        &path.key("cert"),
        raw.cert.as_deref(),
        "-----BEGIN CERTIFICATE-----",
        "a PEM certificate",
    );
    let key = tls_file(
        cx,
        &path.key("key"),
        raw.key.as_deref(),
        "PRIVATE KEY-----",
        "a PEM private key",
    );
    Some(TlsFiles {
        cert: cert?,
        key: key?,
    })
}

fn tls_file(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    value: Option<&str>,
    marker: &str,
    what: &str,
) -> Option<std::path::PathBuf> {
    let value = cx.required(path, value)?;
    let resolved = cx.base_dir.join(value);
    match std::fs::read(&resolved) {
        Ok(bytes) if String::from_utf8_lossy(&bytes).contains(marker) => Some(resolved),
        Ok(_) => {
            cx.error(path, format!("{} is not {what}", resolved.display()));
            None
        }
        Err(e) => {
            cx.error(path, format!("cannot read {}: {e}", resolved.display()));
            None
        }
    }
}

fn threads(cx: &mut Checker<'_>, path: &YamlPath, value: u32) -> Option<usize> {
    if !(1..=256).contains(&value) {
        cx.error(path, format!("{value} is out of range; allowed: 1 to 256"));
        return None;
    }
    usize::try_from(value).ok()
}

/// Checks `logging:`; the format is already an enum, the filter must not be blank.
pub(super) fn logging(cx: &mut Checker<'_>, raw: &RawLogging) -> LoggingSettings {
    let path = YamlPath::root().key("logging");
    let filter = cx.text(&path.key("level"), &raw.level).unwrap_or_default();
    let format = match raw.format {
        RawLogFormat::Text => LogFormat::Text,
        RawLogFormat::Json => LogFormat::Json,
    };
    LoggingSettings { format, filter }
}
