//! OpenG2P claim mapping: verified e-Signet claims → the identity the gateway
//! asserts upstream.
//!
//! Runs once per login, in the callback, after the ID token has been verified
//! and userinfo fetched (and its `sub` compared with the ID token's). The
//! result is stored in the session and feeds the signed identity assertion
//! and the plain identity headers.
//!
//! Semantics follow OpenG2P's Odoo `auth_oauth_provider` mapping (protocol
//! notes §7), with these deliberate differences:
//!
//! * **Missing claims are absent, not `""`.** Odoo's
//!   `res[to] = userinfo.get(from, "")` inserts an empty string for a claim
//!   the provider did not release. An empty string in a signed assertion is
//!   worse than absence: it looks like a released, empty value. A claim whose
//!   value is `null` or `""` is treated as missing too, so it neither appears
//!   nor overwrites a value mapped from the ID token.
//! * **Locale suffixes are resolved** (`name#en`, `name#fra`), which Odoo does
//!   not do: see [`map_identity`].
//! * **`birthdate` is re-formatted** from e-Signet's `YYYY/MM/DD` to
//!   `mapping.birthdate_format` (ISO `%Y-%m-%d` by default; set it to the
//!   portal provider row's `date_format`, OpenG2P's default `%Y/%m/%d`, when
//!   the portal parses it) and `gender` is capitalised here, once, instead of
//!   in each consumer.
//!
//! As in OpenG2P 17 (`OpenG2P/openg2p-registry @ 17.0 :
//! g2p_auth_oidc/models/auth_oauth_provider.py`, `combine_tokens` then
//! `map_validation_values`), the **token map reads the merge of the verified
//! ID token and userinfo, userinfo winning**: e-Signet's ID tokens never carry
//! user claims (v1.4.1 `TokenServiceImpl.getIDToken`, v1.8.0 `buildIDToken`),
//! so `individual_id:user_id` only works on that merge. A `token_map` entry
//! repeated for one target: the **last** entry wins (`res[to_key] = …`). A
//! configured `user_id` (or `user_id<N>`) source that is missing refuses the
//! login; it never falls back to `sub`, which would file a PSUT under the
//! national-ID type. A `userinfo_map` target of `user_id` (or another reserved
//! key) is ignored with a warning.

mod claims;
mod partner;
#[cfg(test)]
mod tests;
mod verified;

pub use crate::config::BirthdateFormat;
pub use claims::Claims;
pub use partner::{partner_fields, split_name};
pub use verified::Verified;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::MappingSettings;

/// The mapped key holding the user id (Odoo's `oauth_uid`).
pub const USER_ID_KEY: &str = "user_id";

/// Keys that are fields of [`MappedIdentity`] and so can't be claim targets.
pub const RESERVED_KEYS: [&str; 5] = [
    USER_ID_KEY,
    "registrant_id",
    "registrant_id_type",
    "login",
    "groups",
];

/// Longest user id accepted (a PSUT is 43 characters, an IDA PSUT ~36 digits).
const MAX_USER_ID_LEN: usize = 1024;

/// An OpenG2P registrant ID: the value looked up in `g2p_reg_id`.
///
/// `Debug` prints the type only; the value identifies a person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrantId {
    /// The ID type, e.g. `MOSIP PSUT` (from `registrant_id_type`): every
    /// session holds the configuration's one copy.
    pub id_type: Arc<str>,
    /// The ID value: the user id, the same allocation as
    /// [`MappedIdentity::user_id`] when it is the same text.
    pub value: Arc<str>,
}

impl fmt::Debug for RegistrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrantId")
            .field("id_type", &self.id_type)
            .field("value", &Redacted)
            .finish()
    }
}

/// The identity of a logged-in user, in OpenG2P's vocabulary.
///
/// Built by [`map_identity`] at login, stored in the session (serde), and
/// read on every proxied request to build the assertion and headers.
/// `Debug` prints claim *keys* only, never values: they are personal data.
///
/// Stored records hold `verified` in full (the record format is the same as
/// before [`Verified`] existed); in memory it refers to `claims` and
/// `user_id` ([`Verified`]), so change those only through a new identity.
#[derive(Clone, PartialEq)]
pub struct MappedIdentity {
    /// The user id (Odoo `oauth_uid`): the token-map `user_id` target,
    /// falling back to the ID token's `sub`.
    pub user_id: Arc<str>,
    /// The registrant ID OpenG2P looks the person up by.
    pub registrant_id: RegistrantId,
    /// The login: the claim named by `login_attribute`, else the user id.
    pub login: String,
    /// Groups granted (OpenG2P's default group).
    pub groups: Vec<String>,
    /// Mapped key → value, from the userinfo map and the token map (except
    /// `user_id`). Missing claims are absent. Held as JSON text (one small
    /// allocation per session); see [`Claims`].
    pub claims: Claims,
    /// Further registrant IDs from `user_id<N>` token-map targets (OpenG2P's
    /// `oidc_signin_process_reg_ids`): `id_type` is the `<N>`, the
    /// `g2p.id.type` row id. Empty (and absent from stored records) without
    /// such targets.
    pub extra_registrant_ids: Vec<RegistrantId>,
    /// e-Signet's verified claims as a portal sees them: the merge of the
    /// verified ID token and userinfo (userinfo wins), without the token
    /// mechanics (`iss`, `aud`, `exp`, `iat`, `nonce`, `at_hash`, …). Locale
    /// suffixes are kept as e-Signet sent them. This is what a portal-facing
    /// userinfo passes on (name, gender, birthdate, phone_number, email,
    /// address, individual_id, picture…). It holds the picture: never put it
    /// in a header. Records stored before it existed read as empty. Held as
    /// what `claims` and `user_id` do not already hold: read it with
    /// [`verified_claims`](Self::verified_claims), set it with
    /// [`set_verified`](Self::set_verified).
    pub verified: Verified,
}

/// A [`MappedIdentity`] as stored records hold it, borrowed for writing.
/// The field order and names are the record format: keep them.
#[derive(Serialize)]
struct StoredRef<'a> {
    user_id: &'a str,
    registrant_id: &'a RegistrantId,
    login: &'a String,
    groups: &'a Vec<String>,
    claims: &'a Claims,
    #[serde(skip_serializing_if = "no_registrant_ids")]
    extra_registrant_ids: &'a Vec<RegistrantId>,
    verified: Map<String, Value>,
}

/// Whether there are no further registrant IDs (they are left out then).
fn no_registrant_ids(ids: &&Vec<RegistrantId>) -> bool {
    ids.is_empty()
}

/// A [`MappedIdentity`] as stored records hold it, for reading.
#[derive(Deserialize)]
struct Stored {
    user_id: Arc<str>,
    registrant_id: RegistrantId,
    login: String,
    groups: Vec<String>,
    claims: Claims,
    #[serde(default)]
    extra_registrant_ids: Vec<RegistrantId>,
    #[serde(default)]
    verified: Claims,
}

impl Serialize for MappedIdentity {
    /// The record format: `verified` written in full. Runs when a session
    /// is written to the store.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredRef {
            user_id: &self.user_id,
            registrant_id: &self.registrant_id,
            login: &self.login,
            groups: &self.groups,
            claims: &self.claims,
            extra_registrant_ids: &self.extra_registrant_ids,
            verified: self.verified_claims(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MappedIdentity {
    /// Reads a stored record (with or without `verified`, as written by
    /// this or an earlier version). Runs on a store read.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        let mut registrant_id = stored.registrant_id;
        if registrant_id.value == stored.user_id {
            registrant_id.value = stored.user_id.clone();
        }
        let mut identity = MappedIdentity {
            user_id: stored.user_id,
            registrant_id,
            login: stored.login,
            groups: stored.groups,
            claims: stored.claims,
            extra_registrant_ids: stored.extra_registrant_ids,
            verified: Verified::default(),
        };
        identity.set_verified(stored.verified.to_map());
        Ok(identity)
    }
}

impl fmt::Debug for MappedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedIdentity")
            .field("user_id", &Redacted)
            .field("registrant_id", &self.registrant_id)
            .field("login", &Redacted)
            .field("groups", &self.groups)
            .field("claims", &self.claims)
            .field("extra_registrant_ids", &self.extra_registrant_ids)
            .field("verified", &self.verified)
            .finish()
    }
}

/// Prints `[redacted]` in `Debug`.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl MappedIdentity {
    /// `sub` as a session keeps it: this identity's `user_id` allocation when
    /// it is the same text (the default token map), else its own. Runs once
    /// per login.
    pub fn shared_user_id(&self, sub: String) -> Arc<str> {
        if *self.user_id == *sub {
            self.user_id.clone()
        } else {
            sub.into()
        }
    }

    /// e-Signet's verified claims in full ([`MappedIdentity::verified`]).
    /// Runs for the provider's userinfo and the session endpoint.
    pub fn verified_claims(&self) -> Map<String, Value> {
        if self.verified.is_empty() {
            return Map::new();
        }
        self.verified.decode(&self.claims.to_map(), &self.user_id)
    }

    /// Keeps `claims` as the verified claims, held against the current
    /// `claims` and `user_id`. Runs at login and on a store read.
    pub fn set_verified(&mut self, claims: Map<String, Value>) {
        self.verified = if claims.is_empty() {
            Verified::default()
        } else {
            Verified::encode(claims, &self.claims.to_map(), &self.user_id)
        };
    }

    /// Keeps only the verified claims `keep` names. Runs at login, when no
    /// portal client could read them (the provider's userinfo is their main
    /// reader): less personal data held.
    pub fn keep_verified(&mut self, keep: impl Fn(&str) -> bool) {
        if self.verified.is_empty() {
            return;
        }
        let mut claims = self.verified_claims();
        claims.retain(|name, _| keep(name));
        self.set_verified(claims);
    }

    /// The value for a plain identity header configured as `key`.
    ///
    /// Runs on every proxied request that sends plain headers (a claim is
    /// parsed out of the [`Claims`] text, skipping the others). Keys:
    /// `user_id`, `registrant_id`, `registrant_id_type`, `login`, `groups`
    /// (comma-joined), or a mapped claim: strings as is, numbers and booleans
    /// as JSON text, objects and arrays as compact JSON. `None` for an absent
    /// or `null` claim, for `picture`, and for any `data:` URI value (images
    /// don't belong in headers). The caller must still check the value is a
    /// valid header value (claims may hold non-ASCII text).
    pub fn value_for(&self, key: &str) -> Option<String> {
        match key {
            USER_ID_KEY => Some(self.user_id.to_string()),
            "registrant_id" => Some(self.registrant_id.value.to_string()),
            "registrant_id_type" => Some(self.registrant_id.id_type.to_string()),
            "login" => Some(self.login.clone()),
            "groups" => (!self.groups.is_empty()).then(|| self.groups.join(",")),
            "picture" => None,
            _ => self.claims.get(key).and_then(render_for_header),
        }
    }
}

/// A claim value as header text; `None` for `null` and `data:` URIs.
fn render_for_header(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if is_data_uri(&s) => None,
        Value::String(s) => Some(s),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => {
            serde_json::to_string(&value).ok()
        }
    }
}

/// Starts with `data:`, in any case.
fn is_data_uri(s: &str) -> bool {
    s.as_bytes()
        .get(..5)
        .is_some_and(|head| head.eq_ignore_ascii_case(b"data:"))
}

/// Why a login could not be mapped to an identity. Messages carry no
/// personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The user id is missing or blank: no token-map entry targets
    /// `user_id` and the ID token has no `sub`, or the source holds blank text.
    #[error("no user id: the user id claim is missing or blank")]
    MissingUserId,
    /// The claim the token map names for `user_id` (or `user_id<N>`) is in
    /// neither the ID token nor userinfo. The login is refused rather than
    /// keyed on another claim (a PSUT stored under a national-ID type).
    #[error(
        "token_map source `{claim}` for `{target}` is in neither the ID token nor userinfo \
         (e-Signet releases it only when requested: add it to esignet.user_claims and to the \
         client's registered claims)"
    )]
    MissingUserIdSource {
        /// The configured source claim.
        claim: String,
        /// The target (`user_id` or `user_id<N>`).
        target: String,
    },
    /// The user id claim exists but can't be used as an id.
    #[error("the user id claim is unusable: {reason}")]
    InvalidUserId {
        /// What is wrong with it (shape or content, never the value).
        reason: &'static str,
    },
    /// Userinfo names a different subject than the ID token: its claims
    /// belong to someone else (pitfall 11: compare `sub`).
    #[error("the userinfo `sub` differs from the ID token `sub`")]
    SubjectMismatch,
}

/// Something dropped or ignored while mapping; the login still succeeds.
/// Meant for logging: names claims and config keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingWarning {
    /// A birthdate that isn't a valid `YYYY/MM/DD` or `YYYY-MM-DD` date.
    /// (The message names the input formats; the output format is configured.)
    #[error("claim `{claim}` dropped: not a valid YYYY/MM/DD or YYYY-MM-DD calendar date")]
    InvalidDate {
        /// The source claim name.
        claim: String,
    },
    /// A claim whose JSON type doesn't fit its normalisation.
    #[error("claim `{claim}` dropped: expected {expected}, got {found}")]
    UnexpectedShape {
        /// The source claim name.
        claim: String,
        /// The JSON type wanted.
        expected: &'static str,
        /// The JSON type received.
        found: &'static str,
    },
    /// A map entry targets a key reserved for identity fields.
    #[error("mapping target `{target}` is reserved for the identity itself and was ignored")]
    ReservedTarget {
        /// The configured target key.
        target: String,
    },
}

/// A mapped identity plus what was dropped on the way.
#[derive(Debug, Clone)]
pub struct MappingOutcome {
    /// The identity to store in the session.
    pub identity: MappedIdentity,
    /// Claims dropped or map entries ignored; log them at `warn`.
    pub warnings: Vec<MappingWarning>,
}

/// Maps verified claims to an OpenG2P identity, discarding warnings.
///
/// Same as [`map_identity_with_warnings`]; prefer that one in the login
/// callback so dropped claims get logged.
pub fn map_identity(
    settings: &MappingSettings,
    id_token: &Map<String, Value>,
    userinfo: &Map<String, Value>,
    preferred_locales: &[String],
) -> Result<MappedIdentity, MappingError> {
    map_identity_with_warnings(settings, id_token, userinfo, preferred_locales).map(|o| o.identity)
}

/// Maps verified claims to an OpenG2P identity.
///
/// Runs once per login, in the callback. `id_token` holds the verified ID
/// token claims, `userinfo` the userinfo claims, `preferred_locales` the
/// configured `claims_locales` in preference order (`en`, `fra`, `fr-FR`…).
///
/// * Fails with [`MappingError::SubjectMismatch`] when userinfo carries a
///   `sub` different from the ID token's (defence in depth; the OIDC layer
///   should already have checked).
/// * The token map reads the **merge** of ID token and userinfo (userinfo
///   wins), as OpenG2P 17's `combine_tokens` does. For each target the
///   **last** entry wins, as its `map_validation_values` does.
/// * `user_id`: the source of the last `token_map` entry targeting
///   `user_id`; when that source is missing the login fails with
///   [`MappingError::MissingUserIdSource`] (no fallback). Without any such
///   entry: the ID token's `sub`. It must be a non-empty string or an integer
///   (converted to text), without control characters, at most 1024 bytes;
///   otherwise the login fails with [`MappingError`].
/// * `user_id<N>` targets become [`MappedIdentity::extra_registrant_ids`]
///   of ID type `<N>`, under the same rules.
/// * `registrant_id`: `{ registrant_id_type, user_id }`.
/// * `claims`: other `token_map` targets from the merge, then
///   `userinfo_map` targets from userinfo (overwriting when present).
///   Reserved targets are ignored with a warning.
/// * Sources may be dotted paths into objects (`address.locality`), as in
///   OpenG2P 17.
/// * Locales: for a wanted claim `X`, the first present of `X`, then for each
///   preferred locale `X#<2-letter>` and `X#<3-letter>`, then the first `X#*`
///   in sorted order. Object values (address) get the same treatment for
///   their inner keys (`locality#eng` → `locality`).
/// * Normalisation by source claim: `birthdate` to `birthdate_format`
///   (dropped with a warning if invalid), `gender` capitalised like Python's
///   `str.capitalize()`. Other values are kept as they are (`picture` stays
///   a data URI, `address` an object or string).
/// * `login`: the `login_attribute` claim if a non-empty string, else the
///   user id. `groups`: `[default_group]` (empty if that is empty).
/// * `verified`: the merge itself, less the token mechanics.
///
/// Never panics, whatever the JSON shapes.
pub fn map_identity_with_warnings(
    settings: &MappingSettings,
    id_token: &Map<String, Value>,
    userinfo: &Map<String, Value>,
    preferred_locales: &[String],
) -> Result<MappingOutcome, MappingError> {
    check_same_subject(id_token, userinfo)?;
    let locales = locale_codes(preferred_locales);
    let merged = merge_tokens(id_token, userinfo);
    let user_id = resolve_user_id(settings, id_token, &merged, &locales)?;
    let extra_registrant_ids = extra_registrant_ids(settings, &merged, &locales)?;
    let mut warnings = Vec::new();
    let mut claims = Map::new();
    let date = &settings.birthdate_format;
    apply_token_map(
        settings,
        &merged,
        &locales,
        date,
        &mut claims,
        &mut warnings,
    );
    apply_userinfo_map(
        settings,
        userinfo,
        &locales,
        date,
        &mut claims,
        &mut warnings,
    );
    let login = login_for(&claims, &settings.login_attribute, &user_id);
    let groups = if settings.default_group.is_empty() {
        Vec::new()
    } else {
        vec![settings.default_group.clone()]
    };
    let verified = Verified::encode(without_token_mechanics(merged), &claims, &user_id);
    let user_id: Arc<str> = user_id.into();
    let identity = MappedIdentity {
        registrant_id: RegistrantId {
            id_type: settings.registrant_id_type.clone(),
            value: user_id.clone(),
        },
        user_id,
        login,
        groups,
        claims: Claims::from_map(claims),
        extra_registrant_ids,
        verified,
    };
    Ok(MappingOutcome { identity, warnings })
}

/// ID-token claims that describe the token, not the person: left out of
/// [`MappedIdentity::verified`].
pub(crate) const TOKEN_MECHANICS: [&str; 14] = [
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
    "azp",
    "sid",
    "auth_time",
    "acr",
    "amr",
];

/// OpenG2P 17's `combine_tokens(id_token, userinfo)`: a dict update, the
/// later (userinfo) winning.
fn merge_tokens(
    id_token: &Map<String, Value>,
    userinfo: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = id_token.clone();
    merged.extend(userinfo.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// The merge without the token mechanics (`sub` stays: it is the PSUT).
fn without_token_mechanics(mut merged: Map<String, Value>) -> Map<String, Value> {
    merged.retain(|k, _| !TOKEN_MECHANICS.contains(&k.as_str()));
    merged
}

/// Refuses userinfo whose `sub` differs from the ID token's. A userinfo
/// without `sub` passes (the caller's userinfo check decides about that).
fn check_same_subject(
    id_token: &Map<String, Value>,
    userinfo: &Map<String, Value>,
) -> Result<(), MappingError> {
    match (id_token.get("sub"), userinfo.get("sub")) {
        (Some(a), Some(b)) if a != b => Err(MappingError::SubjectMismatch),
        _ => Ok(()),
    }
}

/// The source of the last token-map entry for `target`, if any.
fn last_source<'a>(settings: &'a MappingSettings, target: &str) -> Option<&'a str> {
    settings
        .token_map
        .iter()
        .rev()
        .find(|(_, to)| to == target)
        .map(|(from, _)| from.as_str())
}

/// The user id: the last token-map `user_id` source, looked up in the
/// merge (missing: refused), else the ID token's `sub`.
fn resolve_user_id(
    settings: &MappingSettings,
    id_token: &Map<String, Value>,
    merged: &Map<String, Value>,
    locales: &[String],
) -> Result<String, MappingError> {
    let value = match last_source(settings, USER_ID_KEY) {
        Some(from) => Some(resolve_path(merged, from, locales).ok_or_else(|| {
            MappingError::MissingUserIdSource {
                claim: from.to_string(),
                target: USER_ID_KEY.to_string(),
            }
        })?),
        None => id_token.get("sub").filter(|v| is_present(v)),
    };
    match value {
        Some(value) => user_id_text(value),
        None => Err(MappingError::MissingUserId),
    }
}

/// The `<N>` of a `user_id<N>` target (digits only), as OpenG2P's
/// `oidc_signin_process_reg_ids` reads it.
fn extra_id_type(target: &str) -> Option<&str> {
    target
        .strip_prefix(USER_ID_KEY)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Registrant IDs from `user_id<N>` targets, in first-appearance order of
/// the target; each from its last entry, refused when missing.
fn extra_registrant_ids(
    settings: &MappingSettings,
    merged: &Map<String, Value>,
    locales: &[String],
) -> Result<Vec<RegistrantId>, MappingError> {
    let mut ids: Vec<RegistrantId> = Vec::new();
    for (_, to) in &settings.token_map {
        let Some(id_type) = extra_id_type(to) else {
            continue;
        };
        if ids.iter().any(|id| *id.id_type == *id_type) {
            continue;
        }
        let from = last_source(settings, to).unwrap_or_default();
        let value = resolve_path(merged, from, locales).ok_or_else(|| {
            MappingError::MissingUserIdSource {
                claim: from.to_string(),
                target: to.clone(),
            }
        })?;
        ids.push(RegistrantId {
            id_type: id_type.into(),
            value: user_id_text(value)?.into(),
        });
    }
    Ok(ids)
}

/// A user id value as text, or why it can't be one.
fn user_id_text(value: &Value) -> Result<String, MappingError> {
    let invalid = |reason| Err(MappingError::InvalidUserId { reason });
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(_) => return invalid("a non-integer number"),
        Value::Null => return Err(MappingError::MissingUserId),
        Value::Bool(_) => return invalid("a boolean"),
        Value::Array(_) => return invalid("an array"),
        Value::Object(_) => return invalid("an object"),
    };
    if text.trim().is_empty() {
        return Err(MappingError::MissingUserId);
    }
    if text.len() > MAX_USER_ID_LEN {
        return invalid("longer than 1024 bytes");
    }
    if text.chars().any(char::is_control) {
        return invalid("contains control characters");
    }
    Ok(text)
}

/// Token-map targets other than the user ids, from the merge; for a
/// repeated target the last entry wins (OpenG2P 17 assigns in order), and a
/// missing last source leaves the target absent.
fn apply_token_map(
    settings: &MappingSettings,
    merged: &Map<String, Value>,
    locales: &[String],
    date: &BirthdateFormat,
    claims: &mut Map<String, Value>,
    warnings: &mut Vec<MappingWarning>,
) {
    let mut done: Vec<&str> = Vec::new();
    for (_, to) in &settings.token_map {
        if to == USER_ID_KEY || extra_id_type(to).is_some() || to.is_empty() {
            continue;
        }
        if done.contains(&to.as_str()) {
            continue;
        }
        done.push(to);
        if is_reserved(to) {
            warnings.push(MappingWarning::ReservedTarget { target: to.clone() });
            continue;
        }
        let from = last_source(settings, to).unwrap_or_default();
        if let Some(value) = mapped_value(merged, from, locales, date, warnings) {
            claims.insert(to.clone(), value);
        }
    }
}

/// Userinfo-map targets, from userinfo; a present value overwrites one from
/// the token map.
fn apply_userinfo_map(
    settings: &MappingSettings,
    userinfo: &Map<String, Value>,
    locales: &[String],
    date: &BirthdateFormat,
    claims: &mut Map<String, Value>,
    warnings: &mut Vec<MappingWarning>,
) {
    for (from, to) in &settings.userinfo_map {
        if to.is_empty() {
            continue;
        }
        if is_reserved(to) || extra_id_type(to).is_some() {
            warnings.push(MappingWarning::ReservedTarget { target: to.clone() });
            continue;
        }
        if let Some(value) = mapped_value(userinfo, from, locales, date, warnings) {
            claims.insert(to.clone(), value);
        }
    }
}

/// Whether a target key is one of the identity's own fields.
fn is_reserved(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}

/// Resolves a dotted source path (`address.locality`), each step with
/// locale resolution; a plain name is one step.
fn resolve_path<'a>(
    source: &'a Map<String, Value>,
    path: &str,
    locales: &[String],
) -> Option<&'a Value> {
    let mut steps = path.split('.');
    let mut value = resolve_claim(source, steps.next()?, locales)?;
    for step in steps {
        value = resolve_claim(value.as_object()?, step, locales)?;
    }
    Some(value)
}

/// Resolves, de-localises and normalises one wanted claim.
fn mapped_value(
    source: &Map<String, Value>,
    claim: &str,
    locales: &[String],
    date: &BirthdateFormat,
    warnings: &mut Vec<MappingWarning>,
) -> Option<Value> {
    let value = match resolve_path(source, claim, locales)? {
        Value::Object(inner) => Value::Object(resolve_inner_keys(inner, locales)),
        other => other.clone(),
    };
    match normalise(claim, value, date) {
        Ok(value) => Some(value),
        Err(warning) => {
            warnings.push(warning);
            None
        }
    }
}

/// The login: a non-empty string claim named `attribute`, else the user id.
fn login_for(claims: &Map<String, Value>, attribute: &str, user_id: &str) -> String {
    match claims.get(attribute) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => user_id.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Locales
// ---------------------------------------------------------------------------

/// ISO 639-1 ↔ ISO 639-2/T codes for the languages MOSIP deployments use
/// (and other common ones). IDA suffixes claims with the 2-letter code, the
/// mock identity system with the 3-letter one.
const LANGUAGE_CODES: &[(&str, &str)] = &[
    ("af", "afr"),
    ("am", "amh"),
    ("ar", "ara"),
    ("as", "asm"),
    ("bn", "ben"),
    ("de", "deu"),
    ("en", "eng"),
    ("es", "spa"),
    ("fa", "fas"),
    ("fr", "fra"),
    ("gu", "guj"),
    ("ha", "hau"),
    ("hi", "hin"),
    ("id", "ind"),
    ("ig", "ibo"),
    ("it", "ita"),
    ("ja", "jpn"),
    ("km", "khm"),
    ("kn", "kan"),
    ("ko", "kor"),
    ("lo", "lao"),
    ("mg", "mlg"),
    ("ml", "mal"),
    ("mr", "mar"),
    ("ms", "msa"),
    ("my", "mya"),
    ("ne", "nep"),
    ("nl", "nld"),
    ("om", "orm"),
    ("or", "ori"),
    ("pa", "pan"),
    ("pl", "pol"),
    ("ps", "pus"),
    ("pt", "por"),
    ("ru", "rus"),
    ("rw", "kin"),
    ("si", "sin"),
    ("so", "som"),
    ("sw", "swa"),
    ("ta", "tam"),
    ("te", "tel"),
    ("th", "tha"),
    ("ti", "tir"),
    ("tl", "tgl"),
    ("tr", "tur"),
    ("uk", "ukr"),
    ("ur", "urd"),
    ("uz", "uzb"),
    ("vi", "vie"),
    ("xh", "xho"),
    ("yo", "yor"),
    ("zh", "zho"),
    ("zu", "zul"),
];

/// ISO 639-2/B codes that differ from /T, mapped to the 2-letter code.
const BIBLIOGRAPHIC_CODES: &[(&str, &str)] = &[
    ("bur", "my"),
    ("chi", "zh"),
    ("dut", "nl"),
    ("fre", "fr"),
    ("ger", "de"),
    ("may", "ms"),
    ("per", "fa"),
];

/// The suffixes to try, in order: for each preferred locale its 2-letter
/// then its 3-letter code (lower-case, without duplicates).
///
/// `fr-FR`, `fr_FR`, `FR`, `fra` and `fre` all yield `fr`, `fra`. A locale
/// whose primary subtag isn't 2–3 ASCII letters is skipped.
fn locale_codes(preferred: &[String]) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for locale in preferred {
        let primary = locale.split(['-', '_']).next().unwrap_or_default();
        if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        let primary = primary.to_ascii_lowercase();
        for code in two_and_three_letter(&primary).into_iter().flatten() {
            if !codes.iter().any(|c| c == code) {
                codes.push(code.to_string());
            }
        }
        if !codes.contains(&primary) {
            codes.push(primary);
        }
    }
    codes
}

/// The (2-letter, 3-letter) pair for a lower-case language code, as far as
/// the tables know it.
fn two_and_three_letter(code: &str) -> [Option<&'static str>; 2] {
    let two = match code.len() {
        2 => LANGUAGE_CODES
            .iter()
            .find(|(t, _)| *t == code)
            .map(|(t, _)| *t),
        _ => LANGUAGE_CODES
            .iter()
            .find(|(_, three)| *three == code)
            .map(|(t, _)| *t)
            .or_else(|| {
                BIBLIOGRAPHIC_CODES
                    .iter()
                    .find(|(b, _)| *b == code)
                    .map(|(_, t)| *t)
            }),
    };
    let three = two.and_then(|t| {
        LANGUAGE_CODES
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(_, h)| *h)
    });
    [two, three]
}

/// A value counts as released unless it is `null` or the empty string.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Finds wanted claim `name` in `source`, resolving locale suffixes:
/// `name`, then `name#<code>` for each code in order (ASCII
/// case-insensitive), then the first `name#*` by sorted key.
fn resolve_claim<'a>(
    source: &'a Map<String, Value>,
    name: &str,
    locales: &[String],
) -> Option<&'a Value> {
    if let Some(value) = source.get(name).filter(|v| is_present(v)) {
        return Some(value);
    }
    let mut variants: Vec<(&str, &Value)> = source
        .iter()
        .filter(|(_, v)| is_present(v))
        .filter_map(|(k, v)| locale_suffix(k, name).map(|suffix| (suffix, v)))
        .collect();
    if variants.is_empty() {
        return None;
    }
    for code in locales {
        if let Some((_, v)) = variants.iter().find(|(s, _)| s.eq_ignore_ascii_case(code)) {
            return Some(v);
        }
    }
    variants.sort_by(|a, b| a.0.cmp(b.0));
    variants.first().map(|(_, v)| *v)
}

/// The suffix of `key` if it is `name#<suffix>`.
fn locale_suffix<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    key.strip_prefix(name)?.strip_prefix('#')
}

/// An object with every inner key de-localised: `locality#eng` and
/// `locality#fra` become one `locality`, chosen like a top-level claim.
/// Keys with an empty base (`#en`) and absent values are dropped.
fn resolve_inner_keys(inner: &Map<String, Value>, locales: &[String]) -> Map<String, Value> {
    let mut bases: Vec<&str> = inner
        .keys()
        .map(|k| k.split('#').next().unwrap_or_default())
        .filter(|base| !base.is_empty())
        .collect();
    bases.sort_unstable();
    bases.dedup();
    bases
        .into_iter()
        .filter_map(|base| {
            resolve_claim(inner, base, locales).map(|v| (base.to_string(), v.clone()))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

/// Normalises a value by the name of its source claim (locale suffix and
/// path ignored). Only `birthdate` and `gender` change.
fn normalise(claim: &str, value: Value, date: &BirthdateFormat) -> Result<Value, MappingWarning> {
    let base = claim.rsplit('.').next().unwrap_or_default();
    match base.split('#').next().unwrap_or_default() {
        "birthdate" => match value {
            Value::String(s) => parse_date(&s)
                .map(|(y, m, d)| Value::String(date.format(y, m, d)))
                .ok_or_else(|| MappingWarning::InvalidDate {
                    claim: claim.to_string(),
                }),
            other => Err(shape_warning(claim, "a string", &other)),
        },
        "gender" => match value {
            Value::String(s) => Ok(Value::String(capitalize(&s))),
            other => Err(shape_warning(claim, "a string", &other)),
        },
        _ => Ok(value),
    }
}

/// A shape warning naming the JSON type received.
fn shape_warning(claim: &str, expected: &'static str, value: &Value) -> MappingWarning {
    MappingWarning::UnexpectedShape {
        claim: claim.to_string(),
        expected,
        found: json_type(value),
    }
}

/// The JSON type of a value, for messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `YYYY/MM/DD`, `YYYY-MM-DD`, `YYYY/M/D` (one separator kind throughout,
/// surrounding whitespace ignored) → (year, month, day), if a real calendar
/// date in years 0001–9999.
fn parse_date(raw: &str) -> Option<(u32, u32, u32)> {
    let raw = raw.trim();
    let separator = if raw.contains('/') { '/' } else { '-' };
    let mut parts = raw.split(separator);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let year = digits(year, 4..=4)?;
    let month = digits(month, 1..=2)?;
    let day = digits(day, 1..=2)?;
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

/// An all-ASCII-digit field of an allowed length, as a number.
fn digits(field: &str, len: std::ops::RangeInclusive<usize>) -> Option<u32> {
    if !len.contains(&field.len()) || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// Days in a month of the proleptic Gregorian calendar (`month` in 1..=12).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Gregorian leap year.
fn is_leap_year(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Python's `str.capitalize()`: the first character in title case, the rest
/// lower-case (`male`, `MALE` → `Male`; `mâle` → `Mâle`).
///
/// Title case is upper case except for the few characters that differ
/// (the Latin digraphs `ǆ ǉ ǌ ǳ` and `ß`, handled here). The rest is
/// lowered as a whole so a final sigma becomes `ς`, as in Python.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out = String::with_capacity(s.len());
    push_titlecase(first, &mut out);
    let lower = s.to_lowercase();
    let first_lower_len: usize = first.to_lowercase().map(char::len_utf8).sum();
    out.push_str(lower.get(first_lower_len..).unwrap_or_default());
    out
}

/// Appends the title-case form of `c`.
fn push_titlecase(c: char, out: &mut String) {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => out.push('ǅ'),
        'Ǉ' | 'ǈ' | 'ǉ' => out.push('ǈ'),
        'Ǌ' | 'ǋ' | 'ǌ' => out.push('ǋ'),
        'Ǳ' | 'ǲ' | 'ǳ' => out.push('ǲ'),
        'ß' => out.push_str("Ss"),
        _ => out.extend(c.to_uppercase()),
    }
}
