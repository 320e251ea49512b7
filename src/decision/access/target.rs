//! What a request is about: its host and its path, read one way only.
//!
//! Runs first on every request, before routing, in both modes. The gateway
//! decides access from the host and path it reads; the upstream serves the
//! host and path *it* reads. Every request whose host or target two
//! reasonable HTTP implementations could read differently is refused here,
//! so the two readings cannot disagree:
//!
//! - **Request targets** (RFC 9112 §3.2). Origin-form (`/path?query`) is
//!   taken as is. Absolute-form (`http://host/path`) is rewritten to
//!   origin-form with `Host` set to its authority, after checking that a
//!   `Host` the client also sent names the same authority. Everything else
//!   is refused: asterisk-form, authority-form, and targets with no leading
//!   `/` (`bank/update`, `x:/bank/update`), which pingora routes as `/` while
//!   werkzeug serves them as `/bank/update`.
//! - **Host** (RFC 9110 §7.2): exactly one, `name[:port]` or `[v6][:port]`,
//!   with a name of letters, digits, `-`, `.` and `_` and a port of digits.
//!   `portal.example.org:1:1` or a non-ASCII port fall through host routes
//!   in the gateway but reach nginx and Odoo's `dbfilter` as
//!   `portal.example.org`, so they are refused. Names compare without case
//!   and without one trailing dot; the upstream is sent that canonical form.

use std::borrow::Cow;

use pingora::http::RequestHeader;

/// Why a request's target or host was refused. Messages name the rule,
/// never the value, so they are safe to log and to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetRejection {
    /// A target that is neither origin-form nor absolute-form.
    #[error("request target must be a path starting with '/' or an absolute http(s) URL")]
    NotOriginForm,
    /// No `Host` header (and no authority in the target).
    #[error("request has no Host header")]
    MissingHost,
    /// More than one `Host` header.
    #[error("request has more than one Host header")]
    DuplicateHost,
    /// A `Host` (or target authority) that is not `name[:port]`.
    #[error("Host must be a host name or IP address with an optional numeric port")]
    MalformedHost,
    /// An absolute-form target whose authority differs from `Host`.
    #[error("the request target's host differs from the Host header")]
    HostMismatch,
    /// An absolute-form target with user information (`user@host`).
    #[error("the request target must not contain user information")]
    UserInfo,
}

impl TargetRejection {
    /// Bounded label for `g2p_gateway_requests_refused_total{reason}`.
    pub fn label(self) -> &'static str {
        match self {
            TargetRejection::NotOriginForm | TargetRejection::UserInfo => "bad_target",
            _ => "bad_host",
        }
    }
}

/// Makes `req` say one thing to the gateway and to the upstream: an
/// origin-form target and one canonical `Host`.
///
/// Runs first in the proxy's `request_filter`. Allocates only when it has to
/// rewrite (absolute-form, or a `Host` not yet in canonical form).
pub fn normalise_request(req: &mut RequestHeader) -> Result<(), TargetRejection> {
    let raw = req.raw_path();
    if raw.first() == Some(&b'/') {
        let host = single_host(req)?.ok_or(TargetRejection::MissingHost)?;
        let canonical = canonical_host(host)?;
        // An HTTP/2 `:authority` lands in the URI; it must agree too.
        if let Some(authority) = req.uri.authority() {
            if canonical_host(authority.as_str().as_bytes())? != canonical {
                return Err(TargetRejection::HostMismatch);
            }
        }
        if let Cow::Owned(canonical) = canonical {
            set_host(req, canonical);
        }
        return Ok(());
    }
    let (authority, path_and_query) = split_absolute(raw)?;
    let canonical = canonical_host(authority)?.into_owned();
    if let Some(host) = single_host(req)? {
        if canonical_host(host)? != canonical.as_str() {
            return Err(TargetRejection::HostMismatch);
        }
    }
    let origin_form = match path_and_query.first() {
        Some(b'/') => Cow::Borrowed(path_and_query),
        // `http://host?q` and `http://host` address the root.
        _ => Cow::Owned([b"/".as_slice(), path_and_query].concat()),
    };
    let origin_form = origin_form.into_owned();
    req.set_raw_path(&origin_form)
        .map_err(|_| TargetRejection::NotOriginForm)?;
    set_host(req, canonical);
    Ok(())
}

/// The one `Host` value, `None` when absent.
fn single_host(req: &RequestHeader) -> Result<Option<&[u8]>, TargetRejection> {
    let mut hosts = req.headers.get_all(http::header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(TargetRejection::DuplicateHost);
    }
    Ok(first.map(|h| h.as_bytes()))
}

fn set_host(req: &mut RequestHeader, canonical: String) {
    // A canonical host is visible ASCII, always a valid header value.
    if let Ok(value) = http::HeaderValue::from_str(&canonical) {
        let _ = req.insert_header(http::header::HOST, value);
    }
}

/// Splits an absolute-form target `http(s)://authority[path][?query]` into
/// its authority and the rest. Only `http` and `https` are accepted.
fn split_absolute(target: &[u8]) -> Result<(&[u8], &[u8]), TargetRejection> {
    let (scheme, rest) = match target.windows(3).position(|w| w == b"://") {
        Some(i) => (&target[..i], &target[i + 3..]),
        None => return Err(TargetRejection::NotOriginForm),
    };
    if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
        return Err(TargetRejection::NotOriginForm);
    }
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(end);
    if authority.contains(&b'@') {
        return Err(TargetRejection::UserInfo);
    }
    Ok((authority, path_and_query))
}

/// The canonical form of a `Host` value or target authority: lower-case
/// name without a trailing dot, the port as sent (digits only).
///
/// Borrowed when the value is already canonical (the common case: no
/// allocation on the hot path). Refuses anything that is not
/// `reg-name[:port]`, `IPv4[:port]` or `[IPv6][:port]`.
pub fn canonical_host(value: &[u8]) -> Result<Cow<'_, str>, TargetRejection> {
    if is_canonical_reg_name(value) {
        // Only ASCII passed the check, so this cannot fail.
        if let Ok(text) = std::str::from_utf8(value) {
            return Ok(Cow::Borrowed(text));
        }
    }
    canonical_host_of_any(value)
}

/// Whether `value` is a lower-case `reg-name[:port]` already in canonical
/// form, checked in one pass over the bytes. Runs on every request (the
/// `Host` of nearly every request is one); anything else, IPv6 literals,
/// upper case and trailing dots included, takes [`canonical_host_of_any`].
fn is_canonical_reg_name(value: &[u8]) -> bool {
    let mut label_len = 0usize;
    let mut end = value.len();
    for (i, &b) in value.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {
                label_len += 1;
                if label_len > 63 {
                    return false;
                }
            }
            b'.' if label_len > 0 => label_len = 0,
            b':' => {
                end = i;
                break;
            }
            _ => return false,
        }
    }
    // An empty name, an empty last label or a trailing dot ends with 0.
    if label_len == 0 || end > 253 {
        return false;
    }
    match value.get(end + 1..) {
        None => true,
        Some(port) => {
            (1..=5).contains(&port.len())
                && port.iter().all(u8::is_ascii_digit)
                && port.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 65_535
        }
    }
}

/// [`canonical_host`] of any value: checks and, where needed, rewrites it.
fn canonical_host_of_any(value: &[u8]) -> Result<Cow<'_, str>, TargetRejection> {
    let text = std::str::from_utf8(value).map_err(|_| TargetRejection::MalformedHost)?;
    let (name, port) = split_port(text)?;
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65_535);
        if !valid {
            return Err(TargetRejection::MalformedHost);
        }
    }
    if let Some(v6) = name.strip_prefix('[') {
        let inner = v6.strip_suffix(']').ok_or(TargetRejection::MalformedHost)?;
        let addr: std::net::Ipv6Addr = inner.parse().map_err(|_| TargetRejection::MalformedHost)?;
        let canonical = format!("[{addr}]");
        return Ok(if canonical == name {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(join_port(&canonical, port))
        });
    }
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !is_reg_name(trimmed) {
        return Err(TargetRejection::MalformedHost);
    }
    let lower = !trimmed.bytes().any(|b| b.is_ascii_uppercase());
    if lower && trimmed.len() == name.len() {
        return Ok(Cow::Borrowed(text));
    }
    Ok(Cow::Owned(join_port(&trimmed.to_ascii_lowercase(), port)))
}

/// `name:port` → (`name`, `Some("port")`); `[v6]:port` likewise; a second
/// `:` outside brackets is malformed.
fn split_port(text: &str) -> Result<(&str, Option<&str>), TargetRejection> {
    if text.starts_with('[') {
        return match text.find(']') {
            Some(end) => match &text[end + 1..] {
                "" => Ok((text, None)),
                rest => match rest.strip_prefix(':') {
                    Some(port) => Ok((&text[..=end], Some(port))),
                    None => Err(TargetRejection::MalformedHost),
                },
            },
            None => Err(TargetRejection::MalformedHost),
        };
    }
    match text.split_once(':') {
        Some((_, port)) if port.contains(':') => Err(TargetRejection::MalformedHost),
        Some((name, port)) => Ok((name, Some(port))),
        None => Ok((text, None)),
    }
}

/// A DNS-style name or dotted IPv4: labels of letters, digits, `-` and `_`,
/// no empty label, at most 253 characters.
fn is_reg_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn join_port(name: &str, port: Option<&str>) -> String {
    match port {
        Some(port) => format!("{name}:{port}"),
        None => name.to_string(),
    }
}

/// The host name part of a canonical `Host` (no port, no brackets), as the
/// route table compares it.
pub fn host_name(canonical: &str) -> &str {
    if let Some(v6) = canonical.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    canonical.split(':').next().unwrap_or_default()
}

/// An original request described in an ingress's headers (forward-auth):
/// canonical host and origin-form path and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalTarget {
    /// Canonical `Host` value.
    pub host: String,
    /// Origin-form path and query.
    pub path_and_query: String,
}

impl OriginalTarget {
    /// From an absolute URL (nginx's `X-Original-URL`); the same rules as an
    /// absolute-form request target.
    pub fn from_absolute_url(url: &str) -> Result<OriginalTarget, TargetRejection> {
        let (authority, rest) = split_absolute(url.as_bytes())?;
        let host = canonical_host(authority)?.into_owned();
        let rest = std::str::from_utf8(rest).map_err(|_| TargetRejection::NotOriginForm)?;
        let rest = rest.split('#').next().unwrap_or_default();
        let path_and_query = match rest.starts_with('/') {
            true => rest.to_string(),
            false => format!("/{rest}"),
        };
        Ok(OriginalTarget {
            host,
            path_and_query,
        })
    }

    /// From a host and an origin-form URI (Traefik's `X-Forwarded-Host` and
    /// `X-Forwarded-Uri`).
    pub fn from_parts(host: &str, uri: &str) -> Result<OriginalTarget, TargetRejection> {
        if !uri.starts_with('/') {
            return Err(TargetRejection::NotOriginForm);
        }
        Ok(OriginalTarget {
            host: canonical_host(host.as_bytes())?.into_owned(),
            path_and_query: uri.split('#').next().unwrap_or_default().to_string(),
        })
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &[u8], hosts: &[&str]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", target, None).unwrap();
        for h in hosts {
            req.append_header("host", *h).unwrap();
        }
        req
    }

    fn host_of(req: &RequestHeader) -> &str {
        req.headers.get("host").unwrap().to_str().unwrap()
    }

    #[test]
    fn the_one_pass_check_agrees_with_the_general_one() {
        let long_label = "a".repeat(64);
        let long_name = ["abcdefghij"; 26].join(".");
        let samples = [
            "portal.example.org",
            "portal.example.org:8080",
            "127.0.0.1:45123",
            "localhost",
            "a",
            "a_b-c.d",
            "x:0",
            "x:65535",
            "x:65536",
            "x:99999",
            "x:123456",
            "x:",
            ":80",
            "",
            ".",
            "a.",
            "a..b",
            ".a",
            "Portal.example.org",
            "portal.example.org.",
            "portal.example.org.:80",
            "[::1]",
            "[::1]:80",
            "a:b:c",
            "a:8a",
            "é.example",
            "a b",
            "a/b",
            "a@b",
            &long_label,
            &long_name,
            "x:+80",
            "x:-1",
        ];
        for sample in samples {
            let fast = is_canonical_reg_name(sample.as_bytes());
            let general = canonical_host_of_any(sample.as_bytes());
            if fast {
                assert_eq!(general, Ok(Cow::Borrowed(sample)), "{sample:?}");
            } else if let Ok(Cow::Borrowed(_)) = general {
                // Only IPv6 literals are canonical and left to the general check.
                assert!(
                    sample.starts_with('['),
                    "{sample:?} missed the one-pass check"
                );
            }
            assert_eq!(canonical_host(sample.as_bytes()), general, "{sample:?}");
        }
    }

    #[test]
    fn origin_form_with_one_canonical_host_is_left_alone() {
        let mut req = request(b"/bank/update?x=1", &["sp.portal.example.org:8443"]);
        assert_eq!(normalise_request(&mut req), Ok(()));
        assert_eq!(req.raw_path(), b"/bank/update?x=1");
        assert_eq!(host_of(&req), "sp.portal.example.org:8443");
    }

    #[test]
    fn targets_without_a_leading_slash_are_refused() {
        for target in [
            &b"bank/update"[..],
            b"x:/bank/update",
            b"*",
            b"sp.portal.example.org:443",
            b"ftp://sp.portal.example.org/bank",
            b"foo:bar://host/admin",
            b"http:/bank",
        ] {
            let mut req = request(target, &["sp.portal.example.org"]);
            assert_eq!(
                normalise_request(&mut req),
                Err(TargetRejection::NotOriginForm),
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }

    #[test]
    fn absolute_form_becomes_origin_form_with_its_host() {
        let mut req = request(b"http://SP.Portal.example.org./bank/update?a=b", &[]);
        assert_eq!(normalise_request(&mut req), Ok(()));
        assert_eq!(req.raw_path(), b"/bank/update?a=b");
        assert_eq!(req.uri.path(), "/bank/update");
        assert_eq!(host_of(&req), "sp.portal.example.org");

        let mut req = request(b"https://h.example:8443", &["H.example:8443"]);
        assert_eq!(normalise_request(&mut req), Ok(()));
        assert_eq!(req.raw_path(), b"/");
        assert_eq!(host_of(&req), "h.example:8443");
    }

    #[test]
    fn absolute_form_must_agree_with_host() {
        let mut req = request(b"http://a.example/x", &["b.example"]);
        assert_eq!(
            normalise_request(&mut req),
            Err(TargetRejection::HostMismatch)
        );
        let mut req = request(b"http://user@a.example/x", &["a.example"]);
        assert_eq!(normalise_request(&mut req), Err(TargetRejection::UserInfo));
    }

    #[test]
    fn host_is_required_once_and_strict() {
        let mut req = request(b"/x", &[]);
        assert_eq!(
            normalise_request(&mut req),
            Err(TargetRejection::MissingHost)
        );
        let mut req = request(b"/x", &["a.example", "b.example"]);
        assert_eq!(
            normalise_request(&mut req),
            Err(TargetRejection::DuplicateHost)
        );
        for bad in [
            "sp.portal.example.org:1:1",
            "sp.portal.example.org:",
            "sp.portal.example.org:99999",
            "sp.portal.example.org:８０",
            "sp.portal.example.org:80x",
            "",
            "a..b",
            "a b",
            "a%2eb",
            "[::1",
            "[::1]x",
            "[zz]",
            "a/b",
            "a@b",
        ] {
            let mut req = RequestHeader::build("GET", b"/x", None).unwrap();
            req.insert_header(
                "host",
                http::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .unwrap();
            assert_eq!(
                normalise_request(&mut req),
                Err(TargetRejection::MalformedHost),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hosts_compare_without_case_and_trailing_dot() {
        assert_eq!(
            canonical_host(b"SP.Example.ORG.:80").unwrap(),
            "sp.example.org:80"
        );
        assert!(matches!(
            canonical_host(b"sp.example.org").unwrap(),
            Cow::Borrowed(_)
        ));
        assert_eq!(canonical_host(b"[0:0::1]:8080").unwrap(), "[::1]:8080");
        assert_eq!(canonical_host(b"127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("a.example:80"), "a.example");
    }

    #[test]
    fn ingress_descriptions_follow_the_same_rules() {
        assert_eq!(
            OriginalTarget::from_absolute_url("https://A.example/p?q=1").unwrap(),
            OriginalTarget {
                host: "a.example".into(),
                path_and_query: "/p?q=1".into()
            }
        );
        assert!(OriginalTarget::from_absolute_url("/p").is_err());
        assert!(OriginalTarget::from_absolute_url("https://a.example:1:1/p").is_err());
        assert!(OriginalTarget::from_parts("a.example", "p").is_err());
        assert_eq!(
            OriginalTarget::from_parts("a.example", "/p?x")
                .unwrap()
                .path(),
            "/p"
        );
    }
}
