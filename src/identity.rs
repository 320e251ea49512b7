//! The identity the gateway sends upstream: a signed assertion and plain headers.
//!
//! Every request forwarded on a protected route carries a short-lived JWT,
//! signed by the gateway, that the portal verifies against the gateway's JWKS.
//! Signing with RSA on every request would cost more than the whole proxying,
//! so an assertion is minted once per (session, audience) and reused until
//! half its lifetime has passed; its `jti` identifies the assertion, not the
//! request. Identity headers sent by clients are stripped on every route.

pub mod access_token;
pub mod codes;
pub mod memo;
pub mod portal;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value};

use crate::config::{IdentityForm, IdentitySettings, UpstreamIdentity};
use crate::mapping::MappedIdentity;
use crate::session::{IdHasher, Session, SessionId};
use crate::shared::clock::now_secs;
use crate::shared::keys::SigningKey;

/// Why the minter cannot be built or cannot sign. Never quotes a key or a
/// claim value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configured signing key (`identity.signing_key(s)`) cannot be used.
    #[error("identity signing key")]
    Key(#[from] crate::shared::keys::KeyError),
    /// No signing key is configured.
    #[error("no identity signing key")]
    NoKey,
    /// A configured header name (`identity.header`, `identity.headers`) is invalid.
    #[error("identity header {name:?} is not a valid header name")]
    HeaderName {
        /// The configured name.
        name: String,
        /// The parser's reason.
        #[source]
        source: http::header::InvalidHeaderName,
    },
    /// The audience was not given when the minter was built (a bug).
    #[error("audience {0:?} is not configured")]
    UnknownAudience(String),
    /// jsonwebtoken could not sign the claims.
    #[error("cannot sign the identity assertion")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// A minted value is not a valid header value.
    #[error("a minted identity header is not a valid header value")]
    HeaderValue(#[source] http::header::InvalidHeaderValue),
}

/// Mapped claims longer than this never go into the assertion (a header).
const MAX_CLAIM_BYTES: usize = 1024;

/// Claim names the gateway sets itself; mapped claims cannot override them.
const RESERVED: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "acr",
    "auth_time",
    "groups",
    "login",
    "user_id",
    "registrant_id",
    "partner",
];

/// Cache key of a forwarded identity, within its audience's cache: the
/// session and its `auth_time`, so a step-up (a new authentication, possibly
/// on another replica) never reuses an assertion carrying the old `acr`.
/// Both parts are `Copy`: building the key allocates nothing.
type IdentityKey = (SessionId, u64);

/// The forwarded identities of one audience.
type IdentityCache = moka::sync::Cache<IdentityKey, Arc<ForwardedIdentity>, IdHasher>;

/// What a request on a protected route carries upstream for one session and
/// audience, in every form an upstream may read, as ready header values.
/// Cached whole, so a forwarded request only clones reference-counted header
/// values.
#[derive(Debug)]
pub struct ForwardedIdentity {
    /// The signed assertion in `identity.header` (one pair: the header name
    /// as configured, case kept, since pingora takes `Bytes` as a
    /// case-preserving name). What a `header` upstream receives by default.
    pub headers: Vec<(Bytes, HeaderValue)>,
    /// `Authorization: Bearer <assertion>`, for `bearer` upstreams.
    pub bearer: (Bytes, HeaderValue),
    /// The plain identity headers (`identity.headers`), sent only to
    /// upstreams with `insecure_plain_identity_headers`.
    pub plain: Vec<(Bytes, HeaderValue)>,
    /// Until when (Unix seconds) it is forwarded: half the assertion's
    /// lifetime after it was signed, as long as the minter's cache keeps it.
    pub fresh_until: u64,
}

impl ForwardedIdentity {
    /// The headers an upstream with these settings receives: one signed
    /// identity in the form it reads, then the plain headers if it opted in.
    ///
    /// Runs on every forwarded request of a session; allocates nothing.
    pub fn headers_for<'a>(
        &'a self,
        upstream: &'a UpstreamIdentity,
    ) -> impl Iterator<Item = &'a (Bytes, HeaderValue)> + 'a {
        let signed = match upstream.form {
            IdentityForm::Header => self.headers.iter(),
            IdentityForm::Bearer => std::slice::from_ref(&self.bearer).iter(),
        };
        let plain = if upstream.plain_headers {
            self.plain.iter()
        } else {
            [].iter()
        };
        signed.chain(plain)
    }
}

/// Mints and caches identity assertions.
pub struct AssertionMinter {
    keys: Vec<SigningKey>,
    issuer: String,
    lifetime: Duration,
    /// The assertion header's name (`identity.header`).
    header: Bytes,
    /// Plain headers: name and mapped key (`identity.headers`).
    plain_headers: Vec<(Bytes, String)>,
    /// One cache per configured audience (the default and the routes'):
    /// looking one up is a short scan over a handful of strings, and keeps
    /// the audience out of the per-request key.
    caches: Vec<(Box<str>, IdentityCache)>,
    /// This minter among all built in the process (each reload builds one):
    /// a connection's [`memo::IdentityMemo`] holds only its own minter's.
    generation: u64,
    /// Advanced by every [`Self::forget`], so connection memos taken before
    /// it are not used after it.
    forgotten: AtomicU64,
}

/// Source of [`AssertionMinter`] generations.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

impl AssertionMinter {
    /// Builds the minter from the configured keys (newest first) and every
    /// audience a route may ask for. Runs at startup and at each reload.
    pub fn new<'a>(
        settings: &IdentitySettings,
        audiences: impl IntoIterator<Item = &'a str>,
        max_sessions: u64,
    ) -> Result<AssertionMinter, Error> {
        let keys = settings
            .signing_keys
            .iter()
            .map(|k| SigningKey::from_pem(k.expose()))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(Error::NoKey);
        }
        let header_name = |name: &str| match HeaderName::from_bytes(name.as_bytes()) {
            Ok(_) => Ok(Bytes::copy_from_slice(name.as_bytes())),
            Err(source) => Err(Error::HeaderName {
                name: name.to_owned(),
                source,
            }),
        };
        let plain_headers = settings
            .headers
            .iter()
            .map(|(name, key)| Ok((header_name(name)?, key.clone())))
            .collect::<Result<Vec<_>, Error>>()?;
        let mut all: Vec<Box<str>> = vec![settings.audience.as_str().into()];
        all.extend(audiences.into_iter().map(Box::from));
        let mut caches: Vec<(Box<str>, _)> = Vec::new();
        for audience in all {
            if caches.iter().all(|(known, _)| *known != audience) {
                let cache = moka::sync::Cache::builder()
                    .max_capacity(max_sessions)
                    .time_to_live(settings.lifetime / 2)
                    .support_invalidation_closures()
                    .build_with_hasher(IdHasher::default());
                caches.push((audience, cache));
            }
        }
        Ok(AssertionMinter {
            keys,
            issuer: settings.issuer.clone(),
            lifetime: settings.lifetime,
            header: header_name(&settings.header)?,
            plain_headers,
            caches,
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            forgotten: AtomicU64::new(0),
        })
    }

    /// The identity headers for this session and audience: cached, or with
    /// a newly signed assertion.
    ///
    /// Runs on every request forwarded on a protected route (and on every
    /// allowed forward-auth check). The boolean says whether a new assertion
    /// was signed (for metrics). An audience not given to [`Self::new`] is
    /// refused: every audience comes from the config.
    pub fn identity(
        &self,
        session_id: &SessionId,
        session: &Session,
        audience: &str,
    ) -> Result<(Arc<ForwardedIdentity>, bool), Error> {
        self.identity_remembered(session_id, session, audience, None)
    }

    /// [`Self::identity`], first asking the request's connection's memo of
    /// the identity it forwarded last, and leaving the answer there.
    pub fn identity_remembered(
        &self,
        session_id: &SessionId,
        session: &Session,
        audience: &str,
        memo: Option<&memo::IdentityMemo>,
    ) -> Result<(Arc<ForwardedIdentity>, bool), Error> {
        let (slot, cache) = self
            .caches
            .iter()
            .enumerate()
            .find(|(_, (known, _))| &**known == audience)
            .map(|(slot, (_, cache))| (slot, cache))
            .ok_or_else(|| Error::UnknownAudience(audience.to_owned()))?;
        let key = (*session_id, session.auth_time);
        let asked = memo::Asked {
            minter: self.generation,
            // Read before the cache: a `forget` from here on makes what is
            // found now unusable for the memo's next request.
            forgotten: self.forgotten.load(Ordering::Acquire),
            audience: slot,
            key,
        };
        if let Some(found) = memo.and_then(|m| m.recall(&asked, now_secs())) {
            return Ok((found, false));
        }
        let (found, minted) = match cache.get(&key) {
            Some(found) => (found, false),
            None => {
                let forwarded = Arc::new(self.forwarded_identity(session, audience)?);
                cache.insert(key, forwarded.clone());
                (forwarded, true)
            }
        };
        if let Some(memo) = memo {
            memo.remember(asked, found.clone());
        }
        Ok((found, minted))
    }

    /// Signs an assertion and renders the plain headers.
    fn forwarded_identity(
        &self,
        session: &Session,
        audience: &str,
    ) -> Result<ForwardedIdentity, Error> {
        let token = self.mint(session, audience)?;
        let assertion = HeaderValue::from_str(&token).map_err(Error::HeaderValue)?;
        let bearer =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(Error::HeaderValue)?;
        let mut plain = Vec::new();
        for (name, key) in &self.plain_headers {
            if let Some(value) = plain_header_value(session, key) {
                let value = HeaderValue::from_str(&value).map_err(Error::HeaderValue)?;
                plain.push((name.clone(), value));
            }
        }
        Ok(ForwardedIdentity {
            headers: vec![(self.header.clone(), assertion)],
            bearer: (Bytes::from_static(b"Authorization"), bearer),
            plain,
            fresh_until: now_secs() + self.lifetime.as_secs() / 2,
        })
    }

    /// Drops cached identities of a session (at logout and step-up), here
    /// and in every connection's memo.
    pub fn forget(&self, session_id: &SessionId) {
        let id = *session_id;
        for (_, cache) in &self.caches {
            let _ = cache.invalidate_entries_if(move |(sid, _), _| *sid == id);
        }
        // After the caches: a lookup that read the old count may still have
        // found the identity, and the new count keeps it out of the memo.
        self.forgotten.fetch_add(1, Ordering::AcqRel);
    }

    /// Signs a fresh assertion with the newest key.
    pub fn mint(&self, session: &Session, audience: &str) -> Result<String, Error> {
        let now = now_secs();
        let claims = assertion_claims(
            &session.identity,
            session,
            &self.issuer,
            audience,
            now,
            now + self.lifetime.as_secs(),
        );
        self.sign(&claims)
    }

    /// Signs `claims` as a JWT with the newest key: RS256 with an RSA key,
    /// ES256 with an EC P-256 key (assertions, and the tokens the gateway's
    /// provider gives portals).
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, Error> {
        let signer = &self.keys[0];
        let mut header = Header::new(signer.algorithm);
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.encoding).map_err(Error::Sign)
    }

    /// The algorithm tokens are signed with now (the newest key's).
    pub fn algorithm(&self) -> Algorithm {
        self.keys[0].algorithm
    }

    /// The issuer of assertions and provider tokens (`identity.issuer`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS the portal verifies assertions with: every configured key.
    pub fn jwks(&self) -> Value {
        serde_json::json!({ "keys": self.keys.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>() })
    }
}

/// The claims of an identity assertion, in the compact shape: no value
/// twice (docs/performance.md, "The compact assertion").
///
/// `sub` is the user id and also the registrant ID's value, so
/// `registrant_id` carries only `id_type`; `partner` carries only what the
/// top-level claims do not already say (the name split the OpenG2P way, and
/// the `user_id<N>` registrant IDs as `reg_ids`); its `gender`,
/// `birthdate`, `email` and `phone` are the top-level claims of the same
/// name. Runs when an assertion is minted (once per session and audience
/// per half lifetime).
pub fn assertion_claims(
    identity: &MappedIdentity,
    session: &Session,
    issuer: &str,
    audience: &str,
    iat: u64,
    exp: u64,
) -> Map<String, Value> {
    let mut claims = Map::new();
    for (k, v) in identity.claims.to_map() {
        let too_big = v.to_string().len() > MAX_CLAIM_BYTES;
        if k != "picture" && !too_big && !RESERVED.contains(&k.as_str()) {
            claims.insert(k, v);
        }
    }
    let mut partner = crate::mapping::partner_fields(identity, false);
    for key in PARTNER_AS_CLAIMS {
        if partner.get(*key).is_some() && partner.get(*key) == claims.get(*key) {
            partner.remove(*key);
        }
    }
    // reg_ids[0] is `registrant_id` with `sub` as its value.
    if let Some(Value::Array(ids)) = partner.get_mut("reg_ids") {
        ids.retain(|id| {
            id["id_type"] != *identity.registrant_id.id_type
                || id["value"] != *identity.registrant_id.value
        });
        if ids.is_empty() {
            partner.remove("reg_ids");
        }
    }
    let fixed = serde_json::json!({
        "iss": issuer,
        "aud": audience,
        "sub": identity.user_id,
        "iat": iat,
        "exp": exp,
        "jti": uuid::Uuid::new_v4().to_string(),
        "registrant_id": { "id_type": identity.registrant_id.id_type },
        "login": identity.login,
        "groups": identity.groups,
        "acr": session.acr,
        "auth_time": session.auth_time,
    });
    if let Value::Object(fixed) = fixed {
        claims.extend(fixed);
    }
    // OpenG2P's partner fields (issue 13), never the picture: a header.
    claims.insert("partner".into(), Value::Object(partner));
    claims
}

/// Partner fields that are the mapped claims of the same name: left out of
/// the assertion's `partner` when the top-level claim has the same value.
const PARTNER_AS_CLAIMS: &[&str] = &["gender", "birthdate", "email", "phone"];

/// The value of a plain identity header for `key`, made safe for a header.
///
/// `acr` and `auth_time` come from the session; everything else from the
/// mapped identity. Bytes outside visible ASCII (non-Latin names, control
/// characters) are percent-encoded as UTF-8, so a claim can never break the
/// header framing; portals decode with any URL decoder.
pub fn plain_header_value(session: &Session, key: &str) -> Option<String> {
    let raw = match key {
        "acr" => Some(session.acr.to_string()),
        "auth_time" => Some(session.auth_time.to_string()),
        _ => session.identity.value_for(key),
    }?;
    Some(header_safe(&raw))
}

fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decides which client-sent headers are identity headers, to strip them.
///
/// Names are compared case-insensitively and with `_` read as `-`, because
/// WSGI servers (Odoo) fold `X_G2P_Reg_Id` and `X-G2P-Reg-Id` into the same
/// variable: a client must not smuggle an identity through either spelling.
pub struct HeaderStripper {
    prefix: String,
    exact: Vec<String>,
}

impl HeaderStripper {
    /// Builds the stripper from the identity settings.
    pub fn new(settings: &IdentitySettings) -> HeaderStripper {
        let mut exact: Vec<String> = settings.headers.keys().map(|h| normalize(h)).collect();
        exact.push(normalize(&settings.header));
        HeaderStripper {
            prefix: normalize(&settings.strip_prefix),
            exact,
        }
    }

    /// Whether a request header with this name must be removed.
    ///
    /// Runs for every header of every request: compares in place, without
    /// building the normalised name.
    pub fn is_identity_header(&self, name: &str) -> bool {
        let name = name.trim_ascii().as_bytes();
        let prefixed = !self.prefix.is_empty()
            && name.len() >= self.prefix.len()
            && same_normalized(&name[..self.prefix.len()], self.prefix.as_bytes());
        prefixed
            || self
                .exact
                .iter()
                .any(|e| same_normalized(name, e.as_bytes()))
    }
}

/// Whether `raw` equals the already-normalised `normalized` once `raw` is
/// lower-cased with `_` read as `-` (the same reading as [`normalize`]).
fn same_normalized(raw: &[u8], normalized: &[u8]) -> bool {
    raw.len() == normalized.len()
        && raw.iter().zip(normalized).all(|(&r, &n)| {
            let r = if r == b'_' {
                b'-'
            } else {
                r.to_ascii_lowercase()
            };
            r == n
        })
}

fn normalize(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::shared::secret::Secret;

    fn settings() -> IdentitySettings {
        IdentitySettings {
            header: "X-G2P-Identity".into(),
            issuer: "http://localhost:8080".into(),
            audience: "g2p-portal".into(),
            lifetime: Duration::from_secs(60),
            signing_keys: vec![Secret::new(Vec::new())],
            strip_prefix: "X-G2P-".into(),
            headers: BTreeMap::from([("X-Portal-User".to_string(), "user_id".to_string())]),
        }
    }

    #[test]
    fn header_values_are_visible_ascii() {
        assert_eq!(header_safe("Kénitra"), "K%C3%A9nitra");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("100%"), "100%25");
    }

    #[test]
    fn strips_every_spelling_of_identity_headers() {
        let s = HeaderStripper::new(&settings());
        for name in [
            "X-G2P-Identity",
            "x-g2p-identity",
            "X_G2P_Identity",
            "x-g2p-reg-id",
            "X_g2p-Anything",
            "X-Portal-User",
            "x_portal_user",
        ] {
            assert!(s.is_identity_header(name), "{name}");
        }
        for name in ["x-g2p", "accept", "x-portal-users", "cookie"] {
            assert!(!s.is_identity_header(name), "{name}");
        }
    }
}

#[cfg(test)]
mod minter_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::shared::secret::Secret;

    fn minter() -> AssertionMinter {
        let pem = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/demo/gateway-signing.pem"),
        )
        .expect("demo signing key");
        minter_with(pem)
    }

    /// A minter with a new EC P-256 key, as `keygen --type ec` writes it.
    fn es256_minter() -> AssertionMinter {
        use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        let pem = rsa::pkcs8::SecretDocument::try_from(der.as_ref())
            .unwrap()
            .to_pem("PRIVATE KEY", rsa::pkcs8::LineEnding::LF)
            .unwrap();
        minter_with(pem.as_bytes().to_vec())
    }

    fn minter_with(pem: Vec<u8>) -> AssertionMinter {
        let settings = IdentitySettings {
            header: "X-G2P-Identity".into(),
            issuer: "http://localhost:8080".into(),
            audience: "g2p-portal".into(),
            lifetime: Duration::from_secs(60),
            signing_keys: vec![Secret::new(pem)],
            strip_prefix: "X-G2P-".into(),
            headers: BTreeMap::from([("X-Portal-User".to_string(), "user_id".to_string())]),
        };
        AssertionMinter::new(&settings, ["admin-portal"], 100).expect("minter")
    }

    fn session(auth_time: u64) -> Session {
        crate::session::sample_session("mosip:idp:acr:generated-code", auth_time)
    }

    fn names(identity: &ForwardedIdentity) -> Vec<String> {
        let opted_in = UpstreamIdentity {
            plain_headers: true,
            ..Default::default()
        };
        names_for(identity, &opted_in)
    }

    fn names_for(identity: &ForwardedIdentity, upstream: &UpstreamIdentity) -> Vec<String> {
        let names = identity.headers_for(upstream);
        names
            .map(|(n, _)| String::from_utf8_lossy(n).into())
            .collect()
    }

    #[test]
    fn one_signed_identity_by_default_in_the_form_the_upstream_reads() {
        let (identity, _) = minter()
            .identity(&SessionId::random(), &session(1), "g2p-portal")
            .unwrap();
        assert_eq!(
            names_for(&identity, &UpstreamIdentity::default()),
            ["X-G2P-Identity"]
        );
        let bearer = UpstreamIdentity {
            form: IdentityForm::Bearer,
            ..Default::default()
        };
        assert_eq!(names_for(&identity, &bearer), ["Authorization"]);
        let (_, value) = identity.headers_for(&bearer).next().unwrap();
        let jwt = value.to_str().unwrap().strip_prefix("Bearer ").unwrap();
        assert_eq!(
            jwt,
            identity.headers[0].1.to_str().unwrap(),
            "same assertion"
        );
    }

    #[test]
    fn identity_headers_are_signed_once_per_session_audience_and_authentication() {
        let minter = minter();
        let (id, other) = (SessionId::random(), SessionId::random());
        let (first, minted) = minter.identity(&id, &session(1), "g2p-portal").unwrap();
        assert!(minted);
        assert_eq!(names(&first), ["X-G2P-Identity", "X-Portal-User"]);
        assert_eq!(first.plain[0].1, "psut-1");
        let (again, minted) = minter.identity(&id, &session(1), "g2p-portal").unwrap();
        assert!(!minted, "reused");
        assert!(Arc::ptr_eq(&first, &again));
        for (sid, auth_time, audience) in [
            (id, 1, "admin-portal"),
            (other, 1, "g2p-portal"),
            (id, 2, "g2p-portal"),
        ] {
            let (fresh, minted) = minter
                .identity(&sid, &session(auth_time), audience)
                .unwrap();
            assert!(minted, "{audience} {auth_time}: a new assertion");
            assert_ne!(fresh.headers[0].1, first.headers[0].1);
        }
        minter.forget(&id);
        let (_, minted) = minter.identity(&id, &session(1), "g2p-portal").unwrap();
        assert!(minted, "forgotten at logout");
    }

    /// A connection's memo answers only for the same minter, audience,
    /// session and `auth_time`, with no `forget` since, while fresh.
    #[test]
    fn a_connection_memo_answers_only_for_what_it_was_filled_for() {
        let memo = memo::IdentityMemo::default();
        let ask = |minter: &AssertionMinter, id: &SessionId, auth_time, audience| {
            minter
                .identity_remembered(id, &session(auth_time), audience, Some(&memo))
                .unwrap()
        };
        let minter = minter();
        let (id, other) = (SessionId::random(), SessionId::random());
        let (first, minted) = ask(&minter, &id, 1, "g2p-portal");
        assert!(minted);
        let (again, minted) = ask(&minter, &id, 1, "g2p-portal");
        assert!(!minted && Arc::ptr_eq(&first, &again), "remembered");
        for (sid, auth_time, audience) in [
            (id, 1, "admin-portal"),
            (other, 1, "g2p-portal"),
            (id, 2, "g2p-portal"),
        ] {
            let (fresh, minted) = ask(&minter, &sid, auth_time, audience);
            assert!(minted, "{audience} {auth_time}: not the memo's answer");
            assert!(!Arc::ptr_eq(&fresh, &first));
        }

        let (first, _) = ask(&minter, &id, 1, "g2p-portal");
        let reloaded = self::minter();
        let (from_reloaded, minted) = ask(&reloaded, &id, 1, "g2p-portal");
        assert!(minted, "a reload's minter never uses the old one's memo");
        assert!(!Arc::ptr_eq(&from_reloaded, &first));

        let (first, _) = ask(&minter, &id, 1, "g2p-portal");
        minter.forget(&other);
        let (after_forget, minted) = ask(&minter, &id, 1, "g2p-portal");
        assert!(
            !minted && Arc::ptr_eq(&after_forget, &first),
            "from the cache"
        );
        minter.forget(&id);
        let (after_forget, minted) = ask(&minter, &id, 1, "g2p-portal");
        assert!(minted, "a forget reaches the memo");
        assert!(!Arc::ptr_eq(&after_forget, &first));

        let asked = |forgotten| memo::Asked {
            minter: minter.generation,
            forgotten,
            audience: 0,
            key: (id, 1),
        };
        let until = after_forget.fresh_until;
        let half_lifetime_from_now = now_secs() + 30;
        assert!(
            (half_lifetime_from_now - 1..=half_lifetime_from_now).contains(&until),
            "fresh for half of identity.lifetime"
        );
        assert!(memo.recall(&asked(2), until - 1).is_some());
        assert!(memo.recall(&asked(2), until).is_none(), "stale");
        assert!(memo.recall(&asked(3), until - 1).is_none(), "forgotten");
    }

    #[test]
    fn an_audience_outside_the_config_is_refused() {
        let refused = minter().identity(&SessionId::random(), &session(1), "elsewhere");
        assert!(refused.unwrap_err().to_string().contains("not configured"));
    }

    /// Verifies `token` against the minter's own JWKS, as a portal does.
    fn verify(minter: &AssertionMinter, token: &str) -> Map<String, Value> {
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(minter.jwks()).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid in JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&["g2p-portal"]);
        validation.set_issuer(&["http://localhost:8080"]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .expect("verifies")
            .claims
    }

    #[test]
    fn an_ec_key_signs_es256_and_its_jwk_verifies_it() {
        let minter = es256_minter();
        assert_eq!(minter.algorithm(), Algorithm::ES256);
        let jwk = &minter.jwks()["keys"][0];
        for field in ["kid", "x", "y"] {
            assert!(jwk[field].as_str().is_some_and(|v| !v.is_empty()), "{jwk}");
        }
        assert_eq!(
            (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
            (
                &"EC".into(),
                &"P-256".into(),
                &"ES256".into(),
                &"sig".into()
            )
        );
        let token = minter.mint(&session(1), "g2p-portal").unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().alg,
            Algorithm::ES256
        );
        assert_eq!(verify(&minter, &token)["sub"], "psut-1");
        // The provider's tokens verify with the same JWKS.
        let verifier = crate::identity::access_token::AccessTokenVerifier::new(
            &minter.jwks(),
            minter.issuer(),
        )
        .unwrap();
        let mut access = Map::new();
        for (k, v) in [
            ("iss", "http://localhost:8080"),
            ("sub", "psut-1"),
            ("aud", "portal"),
        ] {
            access.insert(k.into(), v.into());
        }
        access.insert("exp".into(), (now_secs() + 60).into());
        let signed = minter.sign(&access).unwrap();
        assert_eq!(verifier.verify(&signed).unwrap()["sub"], "psut-1");
        // An RSA-signed token (another gateway's key) does not verify.
        assert!(verifier.verify(&minter_rs256_token()).is_none());
    }

    fn minter_rs256_token() -> String {
        let minter = minter();
        let mut claims = Map::new();
        claims.insert("iss".into(), "http://localhost:8080".into());
        claims.insert("sub".into(), "psut-1".into());
        claims.insert("aud".into(), "portal".into());
        claims.insert("exp".into(), (now_secs() + 60).into());
        minter.sign(&claims).unwrap()
    }

    #[test]
    fn the_assertion_carries_no_value_twice() {
        let mut named = session(1);
        let mut mapped = named.identity.claims.to_map();
        mapped.insert("name".into(), "Siddharth K Mansour".into());
        mapped.insert("birthdate".into(), "1987/11/25".into());
        named.identity.claims = crate::mapping::Claims::from_map(mapped);
        named.identity.extra_registrant_ids = vec![crate::mapping::RegistrantId {
            id_type: "4".into(),
            value: "NID-9".into(),
        }];
        let minter = minter();
        let claims = verify(&minter, &minter.mint(&named, "g2p-portal").unwrap());
        assert_eq!(claims["sub"], "psut-1");
        assert!(claims.get("user_id").is_none(), "sub carries it");
        assert_eq!(
            claims["registrant_id"],
            serde_json::json!({"id_type": "MOSIP PSUT"}),
            "its value is sub"
        );
        for key in [
            "iss",
            "aud",
            "iat",
            "exp",
            "jti",
            "login",
            "groups",
            "acr",
            "auth_time",
        ] {
            assert!(claims.contains_key(key), "{key}");
        }
        assert_eq!(claims["birthdate"], "1987/11/25");
        assert_eq!(claims["email"], "a@b.c");
        let partner = &claims["partner"];
        assert_eq!(partner["name"], "MANSOUR, SIDDHARTH K");
        assert_eq!(partner["given_name"], "Siddharth");
        assert_eq!(partner["addl_name"], "K");
        for duplicate in ["birthdate", "email", "gender"] {
            assert!(partner.get(duplicate).is_none(), "{duplicate}: {partner}");
        }
        assert_eq!(
            partner["reg_ids"],
            serde_json::json!([{"id_type": "4", "value": "NID-9"}]),
            "only the user_id<N> ones"
        );
        // A session without a name or extra IDs still has the claim.
        let plain = verify(&minter, &minter.mint(&session(2), "g2p-portal").unwrap());
        assert_eq!(plain["partner"], serde_json::json!({}));
    }

    #[test]
    fn es256_assertions_are_the_smallest() {
        let rs = minter().mint(&session(1), "g2p-portal").unwrap();
        let es = es256_minter().mint(&session(1), "g2p-portal").unwrap();
        // 342 characters of RS256 signature against 86 of ES256.
        assert!(es.len() + 250 < rs.len(), "{} vs {}", es.len(), rs.len());
    }
}
