//! Verification of the `X-G2P-Identity` JWT that the gateway injects, against the gateway's
//! JWKS. The JWKS is fetched on first use, cached, and fetched again when a token names a
//! `kid` the cache lacks (key rotation).

use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// The header the gateway puts the identity JWT in.
pub(crate) const IDENTITY_HEADER: &str = "x-g2p-identity";

/// The outcome for one request, as echoed in JSON.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct IdentityCheck {
    pub verified: bool,
    pub error: Option<String>,
    pub claims: Option<Value>,
}

/// The cached gateway keys, each with its `kid`.
type KeyCache = Vec<(Option<String>, Jwk)>;

/// Verifies identity JWTs; shared by all requests of one upstream.
pub(crate) struct IdentityVerifier {
    jwks_url: Option<String>,
    audience: Option<String>,
    http: reqwest::Client,
    /// `(kid, key)` pairs of the last fetched JWKS; `None` until the first fetch.
    keys: Mutex<Option<KeyCache>>,
}

impl IdentityVerifier {
    pub(crate) fn new(jwks_url: Option<String>, audience: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        IdentityVerifier {
            jwks_url,
            audience,
            http,
            keys: Mutex::new(None),
        }
    }

    /// Checks the identity header's value, if any.
    pub(crate) async fn check(&self, header: Option<&str>) -> IdentityCheck {
        let Some(raw) = header else {
            return IdentityCheck::default();
        };
        let token = raw.trim();
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        match self.verify(token).await {
            Ok(claims) => IdentityCheck {
                verified: true,
                error: None,
                claims: Some(claims),
            },
            Err(reason) => IdentityCheck {
                verified: false,
                error: Some(reason),
                claims: None,
            },
        }
    }

    async fn verify(&self, token: &str) -> Result<Value, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed JWT: {e}"))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256
        ) {
            return Err(format!("algorithm {:?} is not allowed", header.alg));
        }
        let Some(url) = &self.jwks_url else {
            return Err("no gateway JWKS URL configured".to_string());
        };
        let mut candidates = self.candidates(header.kid.as_deref()).await;
        if candidates.is_empty() {
            self.fetch(url).await?;
            candidates = self.candidates(header.kid.as_deref()).await;
        }
        if candidates.is_empty() {
            return Err(match header.kid {
                Some(kid) => format!("unknown kid {kid:?}"),
                None => "no key in the gateway JWKS".to_string(),
            });
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = 5;
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.set_required_spec_claims(&["exp", "aud"]);
            }
            None => validation.validate_aud = false,
        }
        let mut last = String::from("no usable key");
        for jwk in candidates {
            let key = match DecodingKey::from_jwk(&jwk) {
                Ok(key) => key,
                Err(e) => {
                    last = format!("unusable JWK: {e}");
                    continue;
                }
            };
            match jsonwebtoken::decode::<Value>(token, &key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = describe(e.kind()),
            }
        }
        Err(last)
    }

    /// Cached keys matching `kid` (all keys when the token has no kid).
    async fn candidates(&self, kid: Option<&str>) -> Vec<Jwk> {
        let keys = self.keys.lock().await;
        keys.iter()
            .flatten()
            .filter(|(k, _)| kid.is_none() || k.as_deref() == kid)
            .map(|(_, jwk)| jwk.clone())
            .collect()
    }

    async fn fetch(&self, url: &str) -> Result<(), String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("cannot fetch the gateway JWKS: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("gateway JWKS answered {}", response.status()));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("gateway JWKS is not JSON: {e}"))?;
        // Entry by entry, so one exotic key does not hide the others.
        let keys: KeyCache = body
            .get("keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
                Some((jwk.common.key_id.clone(), jwk))
            })
            .collect();
        *self.keys.lock().await = Some(keys);
        Ok(())
    }
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "token expired".to_string(),
        ErrorKind::InvalidAudience => "wrong audience".to_string(),
        ErrorKind::InvalidSignature => "bad signature".to_string(),
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim}"),
        ErrorKind::ImmatureSignature => "token not valid yet".to_string(),
        other => format!("{other:?}"),
    }
}
