//! The route table: which configured route serves a request, and the
//! request-path checks that make that decision trustworthy.
//!
//! Runs on every proxied request: [`check_request_path`] first, then
//! [`RouteTable::find`]. Both are pure and never panic; `find` never
//! allocates, and `check_request_path` only for paths holding `%25`.
//!
//! # Why the path is checked before it is matched
//!
//! The gateway decides "public" or "login required" from the raw request path,
//! then forwards that same raw path upstream. If the upstream normalises the
//! path differently from the way the gateway matched it, a request the gateway
//! matched as `/public/../admin` (a public route) is served by the upstream as
//! `/admin` (a login route) without a login. The same holds for encoded
//! separators (`/public%2f..%2fadmin`), encoded unreserved characters
//! (`/%61dmin` is `/admin` to most servers), merged slashes (`//admin` is
//! `/admin` to nginx and werkzeug), and `;` path parameters (`/admin;x` is
//! `/admin` to Tomcat, Jetty and Spring, but not to the gateway).
//! [`check_request_path`] refuses every such path instead of trying to guess
//! the upstream's normalisation, so the gateway's view of the path and any
//! reasonable upstream's view agree on which route prefix it falls under.
//!
//! Matching is case-sensitive, as paths are: an upstream that treats paths
//! case-insensitively must not be put behind routes that differ only in case.

#[cfg(test)]
mod tests;

use crate::config::Route;

/// The configured routes, ordered once by specificity so that a lookup is a
/// single scan that stops at the first hit.
///
/// Built once per loaded configuration (startup and reload) and shared by all
/// requests.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// Routes in lookup order: with a host before without, then the longest
    /// prefix first, then file order.
    entries: Vec<Entry>,
}

/// One route with its match keys normalised at build time.
#[derive(Debug, Clone)]
struct Entry {
    /// Lower-case host without port, brackets or trailing dot.
    host: Option<String>,
    /// Path prefix without trailing `/` (except the root `/` itself).
    prefix: String,
    /// The route as configured.
    route: Route,
}

impl RouteTable {
    /// Builds the table from the routes in file order.
    ///
    /// Runs once per configuration load. Ordering rules: a route with a host
    /// beats one without; then the longer path prefix wins; ties keep file
    /// order (validation forbids exact duplicates, so the only ties that can
    /// both match a request are prefixes differing in a trailing `/`, or
    /// hosts differing in case or port). A trailing `/` on a prefix is
    /// ignored, so `/api/` and `/api` match the same paths.
    pub fn new(routes: &[Route]) -> Self {
        let mut entries: Vec<Entry> = routes.iter().map(Entry::new).collect();
        // Stable sort: equal keys keep file order.
        entries.sort_by(|a, b| {
            b.host
                .is_some()
                .cmp(&a.host.is_some())
                .then_with(|| b.prefix.len().cmp(&a.prefix.len()))
        });
        RouteTable { entries }
    }

    /// Finds the most specific route for a request, or `None` when no route
    /// matches (the caller answers 404).
    ///
    /// Runs on every request, after [`check_request_path`] accepted `path`.
    /// `host` is the `Host` header (or `:authority`) as received: any case,
    /// optionally with a port, `[v6]` brackets or a trailing dot. `path` is
    /// the path only, without the query. Does not allocate.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Route> {
        let host = host.and_then(host_key);
        self.entries
            .iter()
            .find(|e| e.host_matches(host) && prefix_matches(&e.prefix, path))
            .map(|e| &e.route)
    }

    /// The routes in lookup order (for startup logging and tests).
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.entries.iter().map(|e| &e.route)
    }
}

impl Entry {
    /// Normalises one configured route's match keys.
    fn new(route: &Route) -> Self {
        Entry {
            // A configured host that normalises to nothing stays a host
            // condition that no request can meet, never a catch-all.
            host: route
                .host
                .as_deref()
                .map(|h| host_key(h).unwrap_or_default().to_ascii_lowercase()),
            prefix: normalise_prefix(&route.path_prefix),
            route: route.clone(),
        }
    }

    /// Whether the request host satisfies this route's host condition.
    fn host_matches(&self, request_host: Option<&str>) -> bool {
        match (&self.host, request_host) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        }
    }
}

/// Drops trailing `/` from a configured prefix, keeping the root as `/`.
fn normalise_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Whether `path` lies under `prefix` on whole segments.
///
/// `prefix` is normalised (no trailing `/`, or exactly `/`). `/api` matches
/// `/api`, `/api/` and `/api/x`, not `/apix`; `/` matches everything.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Reduces a `Host` value to the comparable host name: port, IPv6 brackets
/// and one trailing dot removed. `None` for an empty host.
///
/// `example.org:8080` → `example.org`, `[::1]:8080` → `::1`,
/// `Example.ORG.` → `Example.ORG` (compared case-insensitively later).
/// A value with several `:` and no brackets is not a valid `Host`; it is
/// kept whole, so it can only match a route written the same way.
fn host_key(raw: &str) -> Option<&str> {
    let raw = raw.trim_ascii();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => &rest[..end],
            None => rest,
        }
    } else {
        match raw.split_once(':') {
            Some((name, port)) if !port.contains(':') => name,
            _ => raw,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// Why a request path was refused. The messages name the rule, never the
/// path, so they are safe to show to the client and to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRejection {
    /// The path is empty or does not start with `/`.
    #[error("request path must start with '/'")]
    NotAbsolute,
    /// A `.` or `..` segment.
    #[error("request path contains a '.' or '..' segment")]
    DotSegment,
    /// An empty segment (`//`) before the last segment.
    #[error("request path contains an empty segment ('//')")]
    EmptySegment,
    /// A percent-encoded `/`, `\` or `;` (at any encoding depth).
    #[error("request path contains an encoded '/', '\\' or ';'")]
    EncodedDelimiter,
    /// A percent-encoded letter, digit, `-`, `.`, `_` or `~` (`%2e`, `%61`).
    #[error("request path contains a percent-encoded unreserved character")]
    EncodedUnreserved,
    /// A raw `\`.
    #[error("request path contains a backslash")]
    Backslash,
    /// A `;` path parameter.
    #[error("request path contains a ';' path parameter")]
    PathParameter,
    /// A control character or NUL, raw or percent-encoded.
    #[error("request path contains a control character")]
    ControlCharacter,
    /// A raw space, `#` or non-ASCII character (browsers encode these).
    #[error("request path contains a space, '#' or a non-ASCII character")]
    ForbiddenCharacter,
    /// A `%` not followed by two hex digits, or an overlong UTF-8 sequence.
    #[error("request path contains malformed percent-encoding")]
    MalformedEncoding,
}

/// How many layers of percent-encoding are inspected; a path still holding
/// an encoded `%` after that many is refused as too deeply encoded.
const MAX_DECODE_LAYERS: usize = 3;

/// Checks a request path before it is routed and forwarded.
///
/// Runs on every request, before [`RouteTable::find`]. `raw_path` is the path
/// as received (still percent-encoded); anything from the first `?` on is
/// the query and is not checked. Refuses, with the reason:
/// a path not starting with `/`; `.`/`..` segments; `//`; `;` parameters;
/// raw `\`; encoded `/`, `\`, `;`; encoded unreserved characters (including
/// `%2e`); NUL and control characters, raw or encoded; raw space, `#` or
/// non-ASCII; malformed or overlong percent-encoding. An encoded `%` (`%25`)
/// makes the next decoded layer be checked too, so double-encoded forms
/// (`%252e`, `%252f`) are caught as well. See the module docs for why.
///
/// Allocates only for paths containing `%25`.
pub fn check_request_path(raw_path: &str) -> Result<(), PathRejection> {
    let path = raw_path.split('?').next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(PathRejection::NotAbsolute);
    }
    check_raw_bytes(path.as_bytes())?;
    check_segments(path)?;
    check_escape_layers(path.as_bytes())
}

/// Checks the escapes of the path and of every layer hidden behind `%25`.
///
/// Inner layers only need their escapes checked: every other byte in them
/// was decoded from an escape the outer layer already allowed.
fn check_escape_layers(path: &[u8]) -> Result<(), PathRejection> {
    let mut layer = std::borrow::Cow::Borrowed(path);
    for depth in 0..MAX_DECODE_LAYERS {
        let has_encoded_percent = scan_escapes(&layer, depth == 0)?;
        if !has_encoded_percent {
            return Ok(());
        }
        layer = std::borrow::Cow::Owned(percent_encoding::percent_decode(&layer).collect());
    }
    Err(PathRejection::MalformedEncoding)
}

/// Refuses characters that must never appear raw in a request path.
fn check_raw_bytes(bytes: &[u8]) -> Result<(), PathRejection> {
    for &b in bytes {
        match b {
            0x00..=0x1f | 0x7f => return Err(PathRejection::ControlCharacter),
            b'\\' => return Err(PathRejection::Backslash),
            b';' => return Err(PathRejection::PathParameter),
            b' ' | b'#' | 0x80..=0xff => return Err(PathRejection::ForbiddenCharacter),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses dot segments and empty interior segments in the raw path.
fn check_segments(path: &str) -> Result<(), PathRejection> {
    // `path` starts with `/`, so the first piece is the empty string before it.
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        if is_dot_segment(segment.as_bytes()) {
            return Err(PathRejection::DotSegment);
        }
        let is_last = segments.peek().is_none();
        if segment.is_empty() && !is_last {
            return Err(PathRejection::EmptySegment);
        }
    }
    Ok(())
}

/// `.` or `..`.
fn is_dot_segment(segment: &[u8]) -> bool {
    segment == b"." || segment == b".."
}

/// Checks every `%XX` escape in one layer of the path; returns whether an
/// encoded `%` was seen (so the next layer must be checked).
///
/// In the outermost layer (`strict`), a `%` without two hex digits is
/// malformed; in inner layers it is a literal `%` and allowed.
fn scan_escapes(bytes: &[u8], strict: bool) -> Result<bool, PathRejection> {
    let mut has_encoded_percent = false;
    let mut previous: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            previous = None;
            i += 1;
            continue;
        }
        match decode_escape(bytes.get(i + 1..i + 3)) {
            Some(decoded) => {
                classify_escape(decoded, previous)?;
                has_encoded_percent |= decoded == b'%';
                previous = Some(decoded);
                i += 3;
            }
            None if strict => return Err(PathRejection::MalformedEncoding),
            None => {
                previous = None;
                i += 1;
            }
        }
    }
    Ok(has_encoded_percent)
}

/// Refuses one decoded escape byte by the rules of [`check_request_path`].
/// `previous` is the byte decoded by the directly preceding escape, used to
/// spot overlong UTF-8 (`%c0%ae` is an overlong `.`).
fn classify_escape(decoded: u8, previous: Option<u8>) -> Result<(), PathRejection> {
    match decoded {
        b'/' | b'\\' | b';' => Err(PathRejection::EncodedDelimiter),
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
            Err(PathRejection::EncodedUnreserved)
        }
        0x00..=0x1f | 0x7f => Err(PathRejection::ControlCharacter),
        0xc0 | 0xc1 => Err(PathRejection::MalformedEncoding),
        0x80..=0x9f if previous == Some(0xe0) => Err(PathRejection::MalformedEncoding),
        0x80..=0x8f if previous == Some(0xf0) => Err(PathRejection::MalformedEncoding),
        _ => Ok(()),
    }
}

/// Decodes the two hex digits after a `%`, if both are present and valid.
fn decode_escape(pair: Option<&[u8]>) -> Option<u8> {
    match pair? {
        [high, low] => Some(hex_digit(*high)? << 4 | hex_digit(*low)?),
        _ => None,
    }
}

/// One hex digit's value.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
