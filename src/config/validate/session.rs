//! `session:` checks: the session cookie, timeouts and store bounds (the
//! store engine itself is checked in `store`).

use url::Url;

use super::{secrets, store, Checker};
use crate::config::model::{SessionSettings, StoreBounds};
use crate::config::path::YamlPath;
use crate::config::raw::{RawSession, DEFAULT_INSECURE_COOKIE_NAME, DEFAULT_SECURE_COOKIE_NAME};

/// Checks `session:`; `public_url` (if valid) decides whether cookies can be
/// `Secure`. Returns the reloadable part and the part bound at start.
pub(super) fn check(
    cx: &mut Checker<'_>,
    raw: &RawSession,
    public_url: Option<&Url>,
) -> Option<(SessionSettings, StoreBounds)> {
    let path = YamlPath::root().key("session");
    let insecure = raw.insecure_cookie_without_secure;
    if public_url.is_some_and(|url| url.scheme() == "http") && !insecure {
        cx.error(
            &path.key("insecure_cookie_without_secure"),
            "server.public_url is http://, and browsers drop Secure cookies on http, so no one \
             could log in; serve the gateway over https, or set \
             insecure_cookie_without_secure: true for a local demo only",
        );
    }
    let cookie_name = cookie_name(
        cx,
        &path.key("cookie_name"),
        raw.cookie_name.as_deref(),
        insecure,
    );
    let cookie_keys = secrets::key_list(
        cx,
        &path.key("cookie_keys"),
        raw.cookie_keys.as_ref(),
        secrets::cookie_key,
    );
    let idle_timeout = cx.positive(&path.key("idle_timeout"), raw.idle_timeout);
    if raw.absolute_timeout < raw.idle_timeout {
        cx.error(
            &path.key("absolute_timeout"),
            format!(
                "must be at least session.idle_timeout ({})",
                humantime::format_duration(raw.idle_timeout)
            ),
        );
    }
    let max_sessions = at_least_one(cx, &path.key("max_sessions"), raw.max_sessions);
    let max_pending_logins =
        at_least_one(cx, &path.key("max_pending_logins"), raw.max_pending_logins);
    let store = store::check(cx, &path.key("store"), &raw.store, raw.idle_timeout);
    let settings = SessionSettings {
        cookie_name: cookie_name?,
        cookie_keys: cookie_keys?,
        insecure_cookie_without_secure: insecure,
        absolute_timeout: raw.absolute_timeout,
    };
    let bounds = StoreBounds {
        store: store?,
        max_sessions: max_sessions?,
        max_pending_logins: max_pending_logins?,
        idle_timeout: idle_timeout?,
    };
    Some((settings, bounds))
}

/// The cookie name: a valid token; `__Host-`/`__Secure-` names need `Secure`.
fn cookie_name(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: Option<&str>,
    insecure: bool,
) -> Option<String> {
    let Some(name) = raw else {
        let default = if insecure {
            DEFAULT_INSECURE_COOKIE_NAME
        } else {
            DEFAULT_SECURE_COOKIE_NAME
        };
        return Some(default.to_owned());
    };
    if !is_cookie_token(name) {
        cx.error(
            path,
            format!(
                "{name:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
        );
        return None;
    }
    let lower = name.to_ascii_lowercase();
    if insecure && (lower.starts_with("__host-") || lower.starts_with("__secure-")) {
        cx.error(
            path,
            format!(
                "{name:?} needs the Secure attribute, which insecure_cookie_without_secure \
                 removes; browsers would ignore it. Use a name without the __Host-/__Secure- prefix"
            ),
        );
        return None;
    }
    Some(name.to_owned())
}

/// RFC 6265 `cookie-name` (an RFC 2616 token).
fn is_cookie_token(name: &str) -> bool {
    const SEPARATORS: &[u8] = b"()<>@,;:\\\"/[]?={}";
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !SEPARATORS.contains(&b))
}

fn at_least_one(cx: &mut Checker<'_>, path: &YamlPath, value: u64) -> Option<u64> {
    if value == 0 {
        cx.error(path, "must be at least 1");
        return None;
    }
    Some(value)
}
