//! `session.store:` checks: `memory`, or a Redis reached standalone, through
//! Sentinel or as a Cluster, with its record keys, prefix and timeouts.
//!
//! URLs are read from secret sources (they may carry a password), so error
//! messages name the source and never echo the value.

use std::time::Duration;

use url::Url;

use super::{secrets, Checker};
use crate::config::model::{RedisSettings, RedisTopology, StoreSettings};
use crate::config::path::YamlPath;
use crate::config::raw::{RawRedis, RawStore};
use crate::shared::secret::Secret;

/// Longest accepted key prefix.
const MAX_PREFIX_LEN: usize = 64;
/// Longest accepted local cache lifetime: a logout must not wait longer than
/// this on a replica that missed the invalidation message.
const MAX_LOCAL_CACHE_TTL: Duration = Duration::from_secs(60);

/// Checks `session.store`; `idle_timeout` bounds the local cache lifetime.
pub(super) fn check(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawStore,
    idle_timeout: Duration,
) -> Option<StoreSettings> {
    match raw {
        RawStore::Memory => Some(StoreSettings::Memory),
        RawStore::Map(map) => match &map.redis {
            Some(redis) => {
                self::redis(cx, &path.key("redis"), redis, idle_timeout).map(StoreSettings::Redis)
            }
            None => {
                cx.error(path, "set `memory` or a map {redis: {...}}");
                None
            }
        },
    }
}

fn redis(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawRedis,
    idle_timeout: Duration,
) -> Option<RedisSettings> {
    let topology = topology(cx, path, raw);
    let key_prefix = key_prefix(cx, &path.key("key_prefix"), &raw.key_prefix);
    if let (Some(RedisTopology::Cluster { .. }), Some(prefix)) = (&topology, &key_prefix) {
        if !has_hash_tag(prefix) {
            cx.error(
                &path.key("key_prefix"),
                "with cluster, the prefix needs a hash tag such as \"{g2p}:\" so that the \
                 gateway's keys share one slot (its scripts touch several keys at once)",
            );
        }
    }
    let record_keys = secrets::key_list(
        cx,
        &path.key("record_keys"),
        raw.record_keys.as_ref(),
        secrets::record_key,
    );
    let local_cache_ttl = cx.duration_in(
        &path.key("local_cache_ttl"),
        raw.local_cache_ttl,
        Duration::ZERO,
        MAX_LOCAL_CACHE_TTL,
    );
    if raw.local_cache_ttl >= idle_timeout {
        cx.error(
            &path.key("local_cache_ttl"),
            "must be shorter than session.idle_timeout",
        );
    }
    let ms = Duration::from_millis;
    let connect_timeout = cx.duration_in(
        &path.key("connect_timeout"),
        raw.connect_timeout,
        ms(10),
        Duration::from_secs(60),
    );
    let command_timeout = cx.duration_in(
        &path.key("command_timeout"),
        raw.command_timeout,
        ms(10),
        Duration::from_secs(60),
    );
    let tls_ca = match &raw.tls_ca {
        None => Some(None),
        Some(source) => secrets::text(cx, &path.key("tls_ca"), source).and_then(|(pem, origin)| {
            if pem.contains("-----BEGIN CERTIFICATE-----") {
                Some(Some(pem.into_bytes()))
            } else {
                cx.error(
                    &path.key("tls_ca"),
                    format!("{origin}: is not a PEM certificate (-----BEGIN CERTIFICATE-----)"),
                );
                None
            }
        }),
    };
    Some(RedisSettings {
        tls_ca: tls_ca?,
        topology: topology?,
        key_prefix: key_prefix?,
        record_keys: record_keys?,
        local_cache_ttl: local_cache_ttl?,
        connect_timeout: connect_timeout?,
        command_timeout: command_timeout?,
    })
}

/// Exactly one of `url`, `sentinel` and `cluster`.
fn topology(cx: &mut Checker<'_>, path: &YamlPath, raw: &RawRedis) -> Option<RedisTopology> {
    let given = [
        raw.url.is_some(),
        raw.sentinel.is_some(),
        raw.cluster.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        cx.error(
            path,
            "set exactly one of url (one server), sentinel or cluster",
        );
        return None;
    }
    if let Some(source) = &raw.url {
        let url_path = path.key("url");
        let (text, origin) = secrets::text(cx, &url_path, source)?;
        redis_url(cx, &url_path, &text, &origin)?;
        return Some(RedisTopology::Standalone {
            url: Secret::new(text),
        });
    }
    if let Some(sentinel) = &raw.sentinel {
        let path = path.key("sentinel");
        let master = cx
            .required(&path.key("master"), sentinel.master.as_ref())
            .and_then(|m| cx.word(&path.key("master"), m));
        let urls = url_list(cx, &path.key("urls"), sentinel.urls.as_ref());
        let password = match &sentinel.password {
            None => Some(None),
            Some(source) => secrets::text(cx, &path.key("password"), source)
                .map(|(text, _)| Some(Secret::new(text))),
        };
        return Some(RedisTopology::Sentinel {
            master: master?,
            urls: urls?,
            password: password?,
            tls: sentinel.tls,
        });
    }
    let cluster = raw.cluster.as_ref()?;
    let urls = url_list(cx, &path.key("cluster").key("urls"), cluster.urls.as_ref())?;
    Some(RedisTopology::Cluster { urls })
}

/// A whitespace- or comma-separated list of Redis URLs from one secret.
fn url_list(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: Option<&crate::config::raw::SecretRef>,
) -> Option<Secret<Vec<String>>> {
    let source = cx.required(path, source)?;
    let (text, origin) = secrets::text(cx, path, source)?;
    let urls: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    let mut ok = true;
    for (index, url) in urls.iter().enumerate() {
        let origin = format!("{origin}, URL #{}", index + 1);
        ok &= redis_url(cx, path, url, &origin).is_some();
    }
    ok.then(|| Secret::new(urls))
}

/// A `redis://` or `rediss://` URL with a host. The value is never echoed.
fn redis_url(cx: &mut Checker<'_>, path: &YamlPath, text: &str, origin: &str) -> Option<()> {
    let valid = Url::parse(text)
        .ok()
        .is_some_and(|u| matches!(u.scheme(), "redis" | "rediss") && u.host_str().is_some());
    if !valid {
        cx.error(
            path,
            format!("{origin}: is not a redis:// or rediss:// URL with a host"),
        );
        return None;
    }
    Some(())
}

fn key_prefix(cx: &mut Checker<'_>, path: &YamlPath, value: &str) -> Option<String> {
    let prefix = cx.word(path, value)?;
    if prefix.len() > MAX_PREFIX_LEN || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        cx.error(
            path,
            format!("must be at most {MAX_PREFIX_LEN} printable ASCII characters"),
        );
        return None;
    }
    Some(prefix)
}

/// True when the prefix holds a non-empty Redis Cluster hash tag (`{tag}`).
fn has_hash_tag(prefix: &str) -> bool {
    prefix
        .find('{')
        .and_then(|open| prefix[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}
