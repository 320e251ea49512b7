//! `mapping:` checks: OpenG2P's Odoo-style `from:to` claim maps.

use super::Checker;
use crate::config::model::MappingSettings;
use crate::config::path::YamlPath;
use crate::config::raw::{PairList, RawMapping};
use crate::config::suggest;
use crate::config::BirthdateFormat;

/// The key OpenG2P always has: the token map's target, or `sub` as fallback.
pub(super) const USER_ID: &str = "user_id";

/// Checked `mapping:`, plus the mapped keys other sections may refer to.
pub(super) struct MappingCheck {
    /// The section, when every key is valid.
    pub settings: Option<MappingSettings>,
    /// `user_id` and every target of both maps, in order.
    pub targets: Vec<String>,
    /// Targets mapped from a large claim (`picture`), never allowed in a header.
    pub large_targets: Vec<String>,
    /// The valid `token_map` pairs, even when another key is invalid.
    pub token_map: Vec<(String, String)>,
}

/// Claims too large for a header (a data URI picture can be hundreds of kB).
pub(super) const LARGE_CLAIMS: &[&str] = &["picture"];

/// Checks `mapping:`.
pub(super) fn check(cx: &mut Checker<'_>, raw: &RawMapping) -> MappingCheck {
    let path = YamlPath::root().key("mapping");
    let token_map = pairs(cx, &path.key("token_map"), &raw.token_map);
    let userinfo_map = pairs(cx, &path.key("userinfo_map"), &raw.userinfo_map);
    let targets = mapped_keys(&token_map, &userinfo_map);
    let registrant_id_type = cx.text(&path.key("registrant_id_type"), &raw.registrant_id_type);
    let default_group = cx.text(&path.key("default_group"), &raw.default_group);
    let login_path = path.key("login_attribute");
    let login_attribute = known_key(cx, &login_path, raw.login_attribute.trim(), &targets);
    let birthdate_format = match raw.birthdate_format.as_deref() {
        None => Some(BirthdateFormat::default()),
        Some(pattern) => BirthdateFormat::parse(pattern)
            .map_err(|e| cx.error(&path.key("birthdate_format"), format!("{pattern:?}: {e}")))
            .ok(),
    };
    let settings = match (
        registrant_id_type,
        default_group,
        login_attribute,
        birthdate_format,
    ) {
        (
            Some(registrant_id_type),
            Some(default_group),
            Some(login_attribute),
            Some(birthdate_format),
        ) => Some(MappingSettings {
            token_map: token_map.clone(),
            userinfo_map: userinfo_map.clone(),
            registrant_id_type: registrant_id_type.into(),
            default_group,
            login_attribute,
            birthdate_format,
        }),
        _ => None,
    };
    let large_targets = token_map
        .iter()
        .chain(&userinfo_map)
        .filter(|(from, _)| LARGE_CLAIMS.contains(&from.as_str()))
        .map(|(_, to)| to.clone())
        .collect();
    MappingCheck {
        settings,
        targets,
        large_targets,
        token_map,
    }
}

/// Claims every e-Signet ID token carries; all user claims come only in
/// userinfo (v1.4.1 `TokenServiceImpl.getIDToken`, v1.8.0 `buildIDToken`).
const ID_TOKEN_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "iat",
    "exp",
    "auth_time",
    "nonce",
    "acr",
    "at_hash",
];

/// Claims a scope releases (`mosip.esignet.openid.scope.claims`, 1.4.1).
fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "address",
            "gender",
            "birthdate",
            "picture",
            "email",
            "phone_number",
        ],
        "email" => &["email"],
        "phone" => &["phone_number"],
        "address" => &["address"],
        _ => &[],
    }
}

/// A `user_id` or `user_id<N>` source must be a claim the provider sends:
/// an ID-token claim, or a user claim requested through `esignet.user_claims`
/// or `scope`. `individual_id` is released only when requested (reference
/// §2: no scope reaches it), and a missing source refuses every login.
pub(super) fn check_id_sources(
    cx: &mut Checker<'_>,
    token_map: &[(String, String)],
    user_claims: &[String],
    scope: &[String],
) {
    let path = YamlPath::root().key("mapping").key("token_map");
    for (from, to) in token_map {
        let is_id = to == USER_ID
            || to
                .strip_prefix(USER_ID)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let base = from.split(['.', '#']).next().unwrap_or_default();
        let released = ID_TOKEN_CLAIMS.contains(&base)
            || user_claims.iter().any(|c| c == base)
            || scope.iter().any(|s| scope_claims(s).contains(&base));
        if is_id && !released {
            cx.error(
                &path,
                format!(
                    "source {base:?} for {to:?} is never released: e-Signet sends it only in \
                     userinfo when requested; add it to esignet.user_claims (and to the client's \
                     registered claims)"
                ),
            );
        }
    }
}

/// A mapped key that exists: `user_id` or a target of one of the maps.
pub(super) fn known_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    key: &str,
    targets: &[String],
) -> Option<String> {
    if targets.iter().any(|t| t == key) {
        return Some(key.to_owned());
    }
    let known = targets.iter().map(String::as_str);
    let message = format!(
        "unknown mapped key {key:?} (mapped keys: {})",
        suggest::known_list(known.clone())
    );
    cx.error(path, suggest::with_hint(message, key, known));
    None
}

/// `user_id` and the targets of both maps, without duplicates.
fn mapped_keys(token_map: &[(String, String)], userinfo_map: &[(String, String)]) -> Vec<String> {
    let mut keys = vec![USER_ID.to_owned()];
    for (_, to) in token_map.iter().chain(userinfo_map) {
        if to != "*" && !keys.contains(to) {
            keys.push(to.clone());
        }
    }
    keys
}

/// The valid pairs of a map, in order; each malformed pair is an error.
fn pairs(cx: &mut Checker<'_>, path: &YamlPath, raw: &PairList) -> Vec<(String, String)> {
    match raw {
        PairList::Text(text) => text
            .split_whitespace()
            .filter_map(|pair| parse_pair(cx, path, pair))
            .collect(),
        PairList::List(items) => items
            .iter()
            .enumerate()
            .filter_map(|(index, pair)| parse_pair(cx, &path.index(index), pair))
            .collect(),
        PairList::Map(entries) => entries
            .iter()
            .filter_map(|(from, to)| checked_pair(cx, &path.key(from), from, to))
            .collect(),
    }
}

/// `from:to`, exactly one colon, as Odoo's `pair.split(":")` requires.
fn parse_pair(cx: &mut Checker<'_>, path: &YamlPath, pair: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = pair.split(':').collect();
    match parts[..] {
        [from, to] if is_side(from) && is_side(to) => Some((from.to_owned(), to.to_owned())),
        _ => {
            cx.error(
                path,
                format!("malformed pair {pair:?}: expected \"from:to\", e.g. \"sub:user_id\""),
            );
            None
        }
    }
}

fn checked_pair(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    from: &str,
    to: &str,
) -> Option<(String, String)> {
    if is_side(from) && is_side(to) {
        return Some((from.to_owned(), to.to_owned()));
    }
    cx.error(
        path,
        format!("malformed pair {from:?} → {to:?}: both sides must be single words without \":\""),
    );
    None
}

fn is_side(side: &str) -> bool {
    !side.is_empty() && !side.contains(':') && !side.chars().any(char::is_whitespace)
}
