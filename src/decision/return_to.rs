//! Safe post-login and post-logout return targets (open-redirect defence).
//!
//! After login or logout the gateway redirects the browser to a target that
//! came from the request (`return_to` parameter, or the URI recorded when the
//! login started). A target that leads off the gateway's origin would make the
//! gateway an open redirector: a phishing link on a trusted domain, and a way
//! to leak whatever follows in the URL. Every such target goes through
//! [`safe_return_path`]; anything it refuses becomes `/`.
//!
//! The rules err on the safe side: a legitimate target lost to them only
//! costs the user a click from `/`, while a wrong accept is a vulnerability.
//! The decision never relies on our own percent-decoding to *accept*
//! anything; decoding is only used to *refuse* paths that an upstream or a
//! browser could turn into `//host` or `/\host` later.

use url::Url;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod tests_support;

/// Longest return target accepted, before and after normalisation.
pub const MAX_RETURN_TARGET_LEN: usize = 2048;

/// How many layers of percent-encoding are inspected at the start of a path.
const MAX_DECODE_LAYERS: usize = 3;

/// Reduces a requested return target to a path (+ `?query`) on the gateway's
/// own origin, or `None` when it is not a safe same-origin target (the caller
/// then uses `/`).
///
/// Runs when a login starts (for `return_to`), when the login callback
/// redirects, and at logout. `public_origin` is the configured public URL.
///
/// Accepted: a path starting with exactly one `/`, or an absolute
/// `http(s)://` URL whose origin (scheme, host, port) equals
/// `public_origin`'s. Refused: anything longer than
/// [`MAX_RETURN_TARGET_LEN`]; any control character, whitespace, backslash
/// (raw or `%5c`) or non-ASCII character; `//…` (scheme-relative); other
/// schemes (`javascript:`, `data:`, `https:host` without slashes); relative
/// paths without a leading `/`; user-info in an absolute URL. The candidate
/// is then resolved with `public_origin.join`, the result's origin checked
/// again, and its path refused if the gateway would refuse it as a request
/// path ([`crate::decision::routing::check_request_path`]: `//`, dot segments, `;`,
/// encoded `/`, `\` or unreserved characters…), or if it (or its
/// percent-decoded form, up to three layers) starts with `//` or `/\`, has a
/// non-ASCII character right after the leading `/`, or decodes to a control
/// character or backslash.
///
/// The output never contains scheme or host, and drops any fragment.
pub fn safe_return_path(candidate: &str, public_origin: &Url) -> Option<String> {
    if candidate.is_empty() || candidate.len() > MAX_RETURN_TARGET_LEN {
        return None;
    }
    if !has_only_safe_chars(candidate) {
        return None;
    }
    if !is_rooted_path(candidate) && !is_http_absolute(candidate) {
        return None;
    }
    let resolved = public_origin.join(candidate).ok()?;
    if !same_origin(&resolved, public_origin) || has_user_info(&resolved) {
        return None;
    }
    let path = resolved.path();
    if !path_is_safe(path) {
        return None;
    }
    let out = match resolved.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    (out.len() <= MAX_RETURN_TARGET_LEN).then_some(out)
}

/// Whether a request's own path-and-query may be recorded as the place to
/// return to after login.
///
/// Runs when an unauthenticated request to a login route starts a login.
/// The target must be a path starting with exactly one `/` and pass every
/// rule of [`safe_return_path`] (including after dot-segment resolution,
/// so `/a/..//evil` is refused). When this says no, record `/` instead.
/// The recorded value is checked again by [`safe_return_path`] before the
/// redirect, so this is a first line, not the only one.
pub fn request_target_is_safe(path_and_query: &str) -> bool {
    if !is_rooted_path(path_and_query) {
        return false;
    }
    let Ok(base) = Url::parse("http://gateway.invalid/") else {
        return false;
    };
    safe_return_path(path_and_query, &base).is_some()
}

/// Only printable ASCII other than `\`, and no `%5c` (encoded backslash).
fn has_only_safe_chars(candidate: &str) -> bool {
    let printable = candidate
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'\\');
    printable && !contains_ignore_ascii_case(candidate.as_bytes(), b"%5c")
}

/// Starts with exactly one `/` (not `//`; `/\` is already refused).
fn is_rooted_path(candidate: &str) -> bool {
    candidate.starts_with('/') && !candidate.starts_with("//")
}

/// Starts with `http://` or `https://`, in any case.
fn is_http_absolute(candidate: &str) -> bool {
    let b = candidate.as_bytes();
    starts_with_ignore_ascii_case(b, b"http://") || starts_with_ignore_ascii_case(b, b"https://")
}

/// Same scheme, host and port. Opaque origins (non-http schemes) never match.
fn same_origin(url: &Url, public_origin: &Url) -> bool {
    let (a, b) = (url.origin(), public_origin.origin());
    a.is_tuple() && a == b
}

/// `user:pass@` in the URL; harmless in a path-only output, refused anyway
/// because no legitimate return target carries it.
fn has_user_info(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// The path of the resolved URL: one the gateway would itself accept as a
/// request path (a target it would answer with 400 is no use after login,
/// and those rules refuse `//`, encoded separators and dots), and safe at
/// every decoding layer.
fn path_is_safe(path: &str) -> bool {
    if crate::decision::routing::check_request_path(path).is_err() {
        return false;
    }
    let mut layer = std::borrow::Cow::Borrowed(path.as_bytes());
    for _ in 0..MAX_DECODE_LAYERS {
        if !layer_is_safe(&layer) {
            return false;
        }
        let decoded: Vec<u8> = percent_encoding::percent_decode(&layer).collect();
        if decoded == *layer {
            return true;
        }
        layer = std::borrow::Cow::Owned(decoded);
    }
    // Still changing after three decodes: too deeply encoded to judge.
    false
}

/// One layer: starts with a single `/` followed by an ASCII byte (or nothing),
/// and holds no control byte or backslash.
fn layer_is_safe(layer: &[u8]) -> bool {
    match layer {
        [b'/'] => true,
        [b'/', second, ..] => {
            second.is_ascii()
                && *second != b'/'
                && !layer.iter().any(|b| b.is_ascii_control() || *b == b'\\')
        }
        _ => false,
    }
}

/// ASCII case-insensitive prefix test on bytes.
fn starts_with_ignore_ascii_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// ASCII case-insensitive substring test on bytes.
fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}
