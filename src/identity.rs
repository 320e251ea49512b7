//! The identity the gateway sends upstream: a signed assertion and plain headers.
//!
//! Every request forwarded on a protected route carries a short-lived JWT,
//! signed by the gateway, that the portal verifies against the gateway's JWKS.
//! Signing with RSA on every request would cost more than the whole proxying,
//! so an assertion is minted once per (session, audience) and reused until
//! half its lifetime has passed; its `jti` identifies the assertion, not the
//! request. Identity headers sent by clients are stripped on every route.

pub mod keys;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value};

use self::keys::SigningKey;
use crate::clock::now_secs;
use crate::config::{IdentityForm, IdentitySettings, UpstreamIdentity};
use crate::mapping::MappedIdentity;
use crate::session::{Session, SessionId};

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
type IdentityCache = moka::sync::Cache<IdentityKey, Arc<ForwardedIdentity>>;

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
}

impl AssertionMinter {
    /// Builds the minter from the configured keys (newest first) and every
    /// audience a route may ask for. Runs at startup and at each reload.
    pub fn new<'a>(
        settings: &IdentitySettings,
        audiences: impl IntoIterator<Item = &'a str>,
        max_sessions: u64,
    ) -> Result<AssertionMinter, String> {
        let keys = settings
            .signing_keys
            .iter()
            .map(|k| SigningKey::from_pem(k.expose()))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err("no identity signing key".into());
        }
        let header_name = |name: &str| match HeaderName::from_bytes(name.as_bytes()) {
            Ok(_) => Ok(Bytes::copy_from_slice(name.as_bytes())),
            Err(_) => Err(format!(
                "identity header {name:?} is not a valid header name"
            )),
        };
        let plain_headers = settings
            .headers
            .iter()
            .map(|(name, key)| Ok((header_name(name)?, key.clone())))
            .collect::<Result<Vec<_>, String>>()?;
        let mut all: Vec<Box<str>> = vec![settings.audience.as_str().into()];
        all.extend(audiences.into_iter().map(Box::from));
        let mut caches: Vec<(Box<str>, _)> = Vec::new();
        for audience in all {
            if caches.iter().all(|(known, _)| *known != audience) {
                let cache = moka::sync::Cache::builder()
                    .max_capacity(max_sessions)
                    .time_to_live(settings.lifetime / 2)
                    .support_invalidation_closures()
                    .build();
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
    ) -> Result<(Arc<ForwardedIdentity>, bool), String> {
        let cache = self
            .caches
            .iter()
            .find(|(known, _)| &**known == audience)
            .map(|(_, cache)| cache)
            .ok_or_else(|| format!("audience {audience:?} is not configured"))?;
        let key = (*session_id, session.auth_time);
        if let Some(found) = cache.get(&key) {
            return Ok((found, false));
        }
        let forwarded = Arc::new(self.forwarded_identity(session, audience)?);
        cache.insert(key, forwarded.clone());
        Ok((forwarded, true))
    }

    /// Signs an assertion and renders the plain headers.
    fn forwarded_identity(
        &self,
        session: &Session,
        audience: &str,
    ) -> Result<ForwardedIdentity, String> {
        let token = self.mint(session, audience)?;
        let assertion = HeaderValue::from_str(&token).map_err(|e| e.to_string())?;
        let bearer =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?;
        let mut plain = Vec::new();
        for (name, key) in &self.plain_headers {
            if let Some(value) = plain_header_value(session, key) {
                let value = HeaderValue::from_str(&value).map_err(|e| e.to_string())?;
                plain.push((name.clone(), value));
            }
        }
        Ok(ForwardedIdentity {
            headers: vec![(self.header.clone(), assertion)],
            bearer: (Bytes::from_static(b"Authorization"), bearer),
            plain,
        })
    }

    /// Drops cached identities of a session (at logout and step-up).
    pub fn forget(&self, session_id: &SessionId) {
        let id = *session_id;
        for (_, cache) in &self.caches {
            let _ = cache.invalidate_entries_if(move |(sid, _), _| *sid == id);
        }
    }

    /// Signs a fresh assertion with the newest key.
    pub fn mint(&self, session: &Session, audience: &str) -> Result<String, String> {
        let now = now_secs();
        let claims = assertion_claims(
            &session.identity,
            session,
            &self.issuer,
            audience,
            now,
            now + self.lifetime.as_secs(),
        );
        let signer = &self.keys[0];
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, &claims, &signer.encoding).map_err(|e| e.to_string())
    }

    /// Signs `claims` as an RS256 JWT with the newest key (the tokens the
    /// gateway's provider gives portals).
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, String> {
        let signer = &self.keys[0];
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.encoding).map_err(|e| e.to_string())
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

/// The claims of an identity assertion.
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
    let fixed = serde_json::json!({
        "iss": issuer,
        "aud": audience,
        "sub": identity.user_id,
        "iat": iat,
        "exp": exp,
        "jti": uuid::Uuid::new_v4().to_string(),
        "user_id": identity.user_id,
        "registrant_id": {
            "id_type": identity.registrant_id.id_type,
            "value": identity.registrant_id.value,
        },
        "login": identity.login,
        "groups": identity.groups,
        "acr": session.acr,
        "auth_time": session.auth_time,
        // OpenG2P's partner fields (issue 13), never the picture: a header.
        "partner": crate::mapping::partner_fields(identity, false),
    });
    if let Value::Object(fixed) = fixed {
        claims.extend(fixed);
    }
    claims
}

/// The value of a plain identity header for `key`, made safe for a header.
///
/// `acr` and `auth_time` come from the session; everything else from the
/// mapped identity. Bytes outside visible ASCII (non-Latin names, control
/// characters) are percent-encoded as UTF-8, so a claim can never break the
/// header framing; portals decode with any URL decoder.
pub fn plain_header_value(session: &Session, key: &str) -> Option<String> {
    let raw = match key {
        "acr" => Some(session.acr.clone()),
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
        let name = name.trim().as_bytes();
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
    use crate::secret::Secret;

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
    use crate::secret::Secret;

    fn minter() -> AssertionMinter {
        let pem = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/demo/gateway-signing.pem"),
        )
        .expect("demo signing key");
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

    #[test]
    fn an_audience_outside_the_config_is_refused() {
        let refused = minter().identity(&SessionId::random(), &session(1), "elsewhere");
        assert!(refused.unwrap_err().contains("not configured"));
    }
}
