//! `identity:` checks: the signed identity assertion and the plain headers.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use url::Url;

use super::mapping::{known_key, MappingCheck, LARGE_CLAIMS};
use super::{is_token, secrets, Checker};
use crate::config::model::IdentitySettings;
use crate::config::path::YamlPath;
use crate::config::raw::{OrderedMap, RawIdentity};

/// Keys the gateway derives itself, always available to plain headers.
pub(super) const DERIVED_KEYS: &[&str] = &[
    "user_id",
    "registrant_id",
    "registrant_id_type",
    "login",
    "groups",
    "acr",
    "auth_time",
];
/// Assertion lifetime bounds: re-minted often, yet not on every request.
const LIFETIME: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(3600));

/// Checks `identity:`; the issuer defaults to the public URL.
pub(super) fn check(
    cx: &mut Checker<'_>,
    raw: &RawIdentity,
    public_url: Option<&Url>,
    mapping: &MappingCheck,
) -> Option<IdentitySettings> {
    let path = YamlPath::root().key("identity");
    let header = header_name(cx, &path.key("header"), &raw.header);
    let issuer = match &raw.issuer {
        Some(issuer) => cx.word(&path.key("issuer"), issuer),
        None => public_url.map(|url| url.as_str().trim_end_matches('/').to_owned()),
    };
    let audience = cx.word(&path.key("audience"), &raw.audience);
    let (min, max) = LIFETIME;
    let lifetime = cx.duration_in(&path.key("lifetime"), raw.lifetime, min, max);
    let signing_keys = secrets::key_list(
        cx,
        &path.key("signing_keys"),
        raw.signing_keys.as_ref(),
        secrets::signing_key,
    );
    let strip_prefix = strip_prefix(cx, &path.key("strip_prefix"), &raw.strip_prefix);
    let headers = headers(cx, &path.key("headers"), &raw.headers, &raw.header, mapping);
    Some(IdentitySettings {
        header: header?,
        issuer: issuer?,
        audience: audience?,
        lifetime: lifetime?,
        signing_keys: signing_keys?,
        strip_prefix: strip_prefix?,
        headers: headers?,
    })
}

fn header_name(cx: &mut Checker<'_>, path: &YamlPath, name: &str) -> Option<String> {
    if is_token(name) {
        return Some(name.to_owned());
    }
    cx.error(path, format!("{name:?} is not a valid HTTP header name"));
    None
}

/// The stripped prefix may be empty (only the configured headers are stripped then).
fn strip_prefix(cx: &mut Checker<'_>, path: &YamlPath, prefix: &str) -> Option<String> {
    if prefix.is_empty() || is_token(prefix) {
        return Some(prefix.to_owned());
    }
    cx.error(
        path,
        format!("{prefix:?} is not a valid HTTP header-name prefix"),
    );
    None
}

/// Plain headers: valid, distinct names mapped to known, small keys.
fn headers(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &OrderedMap<String>,
    identity_header: &str,
    mapping: &MappingCheck,
) -> Option<BTreeMap<String, String>> {
    let mut known: Vec<String> = DERIVED_KEYS.iter().map(|k| k.to_string()).collect();
    for target in &mapping.targets {
        if !known.contains(target) {
            known.push(target.clone());
        }
    }
    let mut seen = HashSet::new();
    let mut headers = BTreeMap::new();
    let mut valid = true;
    for (name, key) in &raw.0 {
        let header_path = path.key(name);
        let ok = header_entry(cx, &header_path, name, identity_header, &mut seen)
            & small_key(cx, &header_path, key, &known, mapping);
        valid &= ok;
        headers.insert(name.clone(), key.clone());
    }
    valid.then_some(headers)
}

fn header_entry(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    name: &str,
    identity_header: &str,
    seen: &mut HashSet<String>,
) -> bool {
    let problem = if !is_token(name) {
        format!("{name:?} is not a valid HTTP header name")
    } else if name.eq_ignore_ascii_case(identity_header) {
        format!("{name:?} is identity.header, which carries the signed assertion")
    } else if !seen.insert(name.to_ascii_lowercase()) {
        format!("duplicate header {name:?} (header names are case-insensitive)")
    } else {
        return true;
    };
    cx.error(path, problem);
    false
}

/// A key that exists and is small enough for a header.
fn small_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    key: &str,
    known: &[String],
    mapping: &MappingCheck,
) -> bool {
    if LARGE_CLAIMS.contains(&key) || mapping.large_targets.iter().any(|t| t == key) {
        cx.error(
            path,
            format!("{key:?} is refused: large claims such as picture never go in a header"),
        );
        return false;
    }
    known_key(cx, path, key, known).is_some()
}
