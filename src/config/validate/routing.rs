//! `upstreams:` and `routes:` checks: where requests go and who may pass.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use url::{Host, Url};

use super::policy::{self, PolicyContext};
use super::Checker;
use crate::config::model::{Access, Policy, Route, Upstream};
use crate::config::path::YamlPath;
use crate::config::raw::{OrderedMap, RawAccess, RawRoute, RawUpstream};
use crate::config::suggest;

/// Checked `upstreams:`.
pub(super) struct UpstreamsCheck {
    /// Every name written, valid or not (routes may refer to them).
    pub names: Vec<String>,
    /// The section, when every upstream is valid.
    pub upstreams: Option<BTreeMap<String, Upstream>>,
}

/// Checks `upstreams:` (required, at least one).
pub(super) fn upstreams(
    cx: &mut Checker<'_>,
    raw: Option<&OrderedMap<RawUpstream>>,
) -> UpstreamsCheck {
    let path = YamlPath::root().key("upstreams");
    let entries = cx
        .required(&path, raw)
        .map(|map| map.0.as_slice())
        .unwrap_or_default();
    if raw.is_some() && entries.is_empty() {
        cx.error(&path, "at least one upstream is required");
    }
    let names = entries.iter().map(|(name, _)| name.clone()).collect();
    let mut upstreams = Some(BTreeMap::new());
    for (name, upstream) in entries {
        let checked = upstream_entry(cx, &path.key(name), name, upstream);
        match (checked, upstreams.as_mut()) {
            (Some(upstream), Some(map)) => {
                map.insert(name.clone(), upstream);
            }
            _ => upstreams = None,
        }
    }
    UpstreamsCheck { names, upstreams }
}

fn upstream_entry(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    name: &str,
    raw: &RawUpstream,
) -> Option<Upstream> {
    let named = is_name(name, true);
    if !named {
        cx.error(
            path,
            format!("{name:?} is not a valid upstream name (letters, digits, . _ -)"),
        );
    }
    let url_path = path.key("url");
    let url = cx.required(&url_path, raw.url.as_ref())?;
    let upstream = upstream_url(cx, &url_path, url);
    let mut timeouts_ok = true;
    for (key, value) in [
        ("connect_timeout", raw.connect_timeout),
        ("read_timeout", raw.read_timeout),
    ] {
        if value.is_zero() {
            cx.error(&path.key(key), "must be longer than 0s");
            timeouts_ok = false;
        }
    }
    let identity = super::upstream_identity::check(cx, path, raw);
    upstream
        .filter(|_| named && timeouts_ok)
        .zip(identity)
        .map(|(u, identity)| Upstream {
            connect_timeout: raw.connect_timeout,
            read_timeout: raw.read_timeout,
            identity,
            real_ip_header: raw.real_ip_header,
            ..u
        })
}

/// `http(s)://host[:port]` → address, TLS flag and SNI.
fn upstream_url(cx: &mut Checker<'_>, path: &YamlPath, value: &str) -> Option<Upstream> {
    let url = cx.http_url(path, value)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        cx.error(
            path,
            format!("must be scheme, host and optional port only, e.g. http://127.0.0.1:8000 (got {value:?})"),
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        cx.error(path, "must not contain a user name or password");
        return None;
    }
    upstream_of(&url)
}

fn upstream_of(url: &Url) -> Option<Upstream> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let sni = match url.host()? {
        Host::Domain(domain) => domain.to_owned(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    Some(Upstream {
        address: format!("{host}:{port}"),
        tls: url.scheme() == "https",
        sni,
        connect_timeout: Duration::ZERO,
        read_timeout: Duration::ZERO,
        base_url: url.as_str().trim_end_matches('/').to_owned(),
        identity: Default::default(),
        real_ip_header: false,
    })
}

/// Checks `routes:` (required, at least one) against upstreams and the prefix.
pub(super) fn routes(
    cx: &mut Checker<'_>,
    raw: Option<&[RawRoute]>,
    upstreams: &[String],
    prefix: Option<&str>,
    policy_context: Option<&PolicyContext>,
) -> Option<Vec<Route>> {
    let path = YamlPath::root().key("routes");
    let raw = cx.required(&path, raw)?;
    if raw.is_empty() {
        cx.error(&path, "at least one route is required");
        return None;
    }
    let checked: Vec<RouteCheck> = raw
        .iter()
        .enumerate()
        .map(|(index, route)| {
            let targets = RouteTargets {
                upstreams,
                prefix,
                policy_context,
            };
            route_entry(cx, &path.index(index), index, route, &targets)
        })
        .collect();
    let names_ok = unique_names(cx, &path, raw);
    let matches_ok = unique_matches(cx, &path, &checked);
    let routes: Option<Vec<Route>> = checked.into_iter().map(|c| c.route).collect();
    routes.filter(|_| names_ok && matches_ok)
}

/// One checked route; `matches` (host, path) is kept even when another key
/// is invalid, so duplicates are still found.
struct RouteCheck {
    matches: Option<(Option<String>, String)>,
    route: Option<Route>,
}

/// What a route may refer to.
struct RouteTargets<'a> {
    upstreams: &'a [String],
    prefix: Option<&'a str>,
    policy_context: Option<&'a PolicyContext>,
}

fn route_entry(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    index: usize,
    raw: &RawRoute,
    targets: &RouteTargets<'_>,
) -> RouteCheck {
    let (upstreams, prefix) = (targets.upstreams, targets.prefix);
    let name = route_name(cx, &path.key("name"), index, raw.name.as_deref());
    let host = match &raw.host {
        Some(host) => route_host(cx, &path.key("host"), host).map(Some),
        None => Some(None),
    };
    let path_path = path.key("path");
    let path_prefix = cx
        .required(&path_path, raw.path.as_ref())
        .and_then(|p| route_path(cx, &path_path, p, prefix));
    let upstream_path = path.key("upstream");
    let upstream = cx
        .required(&upstream_path, raw.upstream.as_ref())
        .and_then(|u| known_upstream(cx, &upstream_path, u, upstreams));
    let access = cx
        .required(&path.key("auth"), raw.auth.as_ref())
        .map(|auth| match auth {
            RawAccess::Public => Access::Public,
            RawAccess::Login => Access::Login,
        });
    let audience = cx.opt_word(&path.key("audience"), raw.audience.as_ref());
    let (policy, step_up_acr_values) = route_policy(cx, path, raw, access, targets.policy_context);
    let matches = host.clone().zip(path_prefix.clone());
    let route = (|| {
        Some(Route {
            index,
            name: name?,
            host: host?,
            path_prefix: path_prefix?,
            upstream: upstream?,
            access: access?,
            audience: audience?,
            policy: policy?,
            step_up_acr_values: step_up_acr_values?,
        })
    })();
    RouteCheck { matches, route }
}

/// The route's `policy` and `step_up_acr_values`, only allowed with `auth: login`.
#[allow(clippy::type_complexity)]
fn route_policy(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawRoute,
    access: Option<Access>,
    context: Option<&PolicyContext>,
) -> (Option<Option<Policy>>, Option<Option<Vec<String>>>) {
    if access == Some(Access::Public) {
        if raw.policy.is_some() {
            cx.error(
                &path.key("policy"),
                "a public route cannot have a policy (use auth: login)",
            );
        }
        if raw.step_up_acr_values.is_some() {
            cx.error(
                &path.key("step_up_acr_values"),
                "a public route cannot ask for step-up",
            );
        }
        return (Some(None), Some(None));
    }
    let policy = match &raw.policy {
        None => Some(None),
        Some(p) => policy::check(cx, &path.key("policy"), p, context).map(Some),
    };
    let step_up = match &raw.step_up_acr_values {
        None => Some(None),
        Some(words) => {
            let path = path.key("step_up_acr_values");
            let acrs = cx.words(&path, words);
            if acrs.is_empty() {
                cx.error(&path, "needs at least one acr value");
                None
            } else {
                Some(Some(acrs))
            }
        }
    };
    (policy, step_up)
}

/// The route's name, `route<index>` by default.
fn route_name(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    index: usize,
    raw: Option<&str>,
) -> Option<String> {
    let Some(name) = raw else {
        return Some(format!("route{index}"));
    };
    if !is_name(name, false) {
        cx.error(
            path,
            format!("{name:?} is not a valid route name (a-z, 0-9, _ and - only)"),
        );
        return None;
    }
    Some(name.to_owned())
}

/// `[a-z0-9_-]+` (route names, used as metric labels), or with upper case
/// and `.` too (upstream names).
fn is_name(name: &str, relaxed: bool) -> bool {
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '_'
            || c == '-'
            || (relaxed && (c.is_ascii_uppercase() || c == '.'))
    };
    !name.is_empty() && name.chars().all(allowed)
}

/// A bare host name, lower-cased: no scheme, port or path.
fn route_host(cx: &mut Checker<'_>, path: &YamlPath, value: &str) -> Option<String> {
    let lower = value.trim().to_ascii_lowercase();
    let host = lower.strip_suffix('.').unwrap_or(&lower).to_owned();
    let problem = if host.contains("://") {
        "must be a host name without a scheme, e.g. portal.example.org"
    } else if host.contains(':') {
        "must not include a port: routes match the Host header's name only"
    } else if host.is_empty() || !host.split('.').all(is_host_label) {
        "is not a valid host name"
    } else {
        return Some(host);
    };
    cx.error(path, format!("{problem} (got {value:?})"));
    None
}

fn is_host_label(label: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-';
    !label.is_empty() && label.len() <= 63 && label.chars().all(allowed)
}

/// A path prefix: starts with `/`, trailing `/` removed (except the root),
/// outside the gateway's reserved prefix.
fn route_path(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    value: &str,
    prefix: Option<&str>,
) -> Option<String> {
    let problem = if !value.starts_with('/') {
        "must start with \"/\"".to_owned()
    } else if value.contains(['?', '#', '%', ';']) || value.chars().any(char::is_whitespace) {
        // The gateway refuses request paths with escapes or `;` parameters,
        // so such a prefix could never match.
        "must be a plain path without query, fragment, spaces, %-escapes or \";\"".to_owned()
    } else if value.contains("//") || value.split('/').any(|s| s == "." || s == "..") {
        "must not contain empty (\"//\") or dot (\".\", \"..\") segments".to_owned()
    } else {
        let trimmed = trim_slash(value);
        match prefix {
            Some(prefix) if trimmed == prefix || trimmed.starts_with(&format!("{prefix}/")) => {
                format!("is inside server.prefix ({prefix}), which is reserved for the gateway's own endpoints")
            }
            _ => return Some(trimmed.to_owned()),
        }
    };
    cx.error(path, format!("{problem} (got {value:?})"));
    None
}

fn trim_slash(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

fn known_upstream(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    name: &str,
    upstreams: &[String],
) -> Option<String> {
    if upstreams.iter().any(|u| u == name) {
        return Some(name.to_owned());
    }
    if upstreams.is_empty() {
        cx.error(
            path,
            format!("unknown upstream {name:?} (no upstreams are defined)"),
        );
        return None;
    }
    let known = upstreams.iter().map(String::as_str);
    let message = format!(
        "unknown upstream {name:?} (known: {})",
        suggest::known_list(known.clone())
    );
    cx.error(path, suggest::with_hint(message, name, known));
    None
}

/// Route names (explicit or default) must be unique: they label metrics.
fn unique_names(cx: &mut Checker<'_>, path: &YamlPath, raw: &[RawRoute]) -> bool {
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut ok = true;
    for (index, route) in raw.iter().enumerate() {
        let name = route
            .name
            .clone()
            .unwrap_or_else(|| format!("route{index}"));
        if let Some(earlier) = first.get(&name) {
            cx.error(
                &path.index(index).key("name"),
                format!("duplicate route name {name:?} (also routes[{earlier}])"),
            );
            ok = false;
        } else {
            first.insert(name, index);
        }
    }
    ok
}

/// Two routes with the same host and path would make one unreachable.
fn unique_matches(cx: &mut Checker<'_>, path: &YamlPath, routes: &[RouteCheck]) -> bool {
    let mut first: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    let mut ok = true;
    for (index, check) in routes.iter().enumerate() {
        let Some((host, path_prefix)) = &check.matches else {
            continue;
        };
        let key = (host.as_deref(), path_prefix.as_str());
        if let Some(earlier) = first.get(&key) {
            cx.error(
                &path.index(index).key("path"),
                format!(
                    "duplicate route: host {} and path {path_prefix:?} are already used by routes[{earlier}]",
                    host.as_deref().unwrap_or("(any)"),
                ),
            );
            ok = false;
        } else {
            first.insert(key, index);
        }
    }
    ok
}
