//! The provider's signing keys, cached.
//!
//! e-Signet publishes its own token-signing keys and the ID system's
//! userinfo-signing keys in one JWKS, so both ID tokens and userinfo are
//! verified here. The set lives in a moka cache for `jwks_cache_ttl`; a token
//! whose `kid` is unknown forces a refetch, at most once per
//! `jwks_min_refresh_interval`, so a flood of made-up kids costs the provider
//! one request per interval. Keys the gateway cannot use (other key types, a
//! `use` other than `sig`) are skipped rather than failing the whole set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use moka::future::Cache;
use serde::Deserialize;

use super::discovery::Provider;
use super::error::Error;
use super::http::IdpHttp;
use crate::shared::metrics::{IdpEndpoint, Metrics, Outcome};

/// One usable verification key.
#[derive(Clone)]
pub struct VerificationKey {
    /// The key's `kid`, if published.
    pub kid: Option<String>,
    /// The key's `alg`, if published; a token must then use exactly it.
    pub alg: Option<Algorithm>,
    /// The key itself.
    pub key: DecodingKey,
}

/// A parsed JWKS.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
}

impl KeySet {
    /// Keys that may have signed a token with this `kid` and `alg`.
    ///
    /// A token without `kid` may match any key of a compatible algorithm
    /// (some ID systems omit it).
    pub fn matching(&self, kid: Option<&str>, alg: Algorithm) -> Vec<DecodingKey> {
        self.keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .filter(|k| k.alg.is_none_or(|a| a == alg))
            .map(|k| k.key.clone())
            .collect()
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawRsaKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    n: String,
    e: String,
}

/// Parses a JWKS document, keeping the RSA signing keys.
pub fn parse_jwks(body: &[u8]) -> Result<KeySet, Error> {
    let raw: RawSet = serde_json::from_slice(body).map_err(Error::JwksJson)?;
    let keys = raw.keys.into_iter().filter_map(parse_key).collect();
    Ok(KeySet { keys })
}

fn parse_key(value: serde_json::Value) -> Option<VerificationKey> {
    let raw: RawRsaKey = serde_json::from_value(value).ok()?;
    if raw.kty != "RSA" || raw.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match raw.alg.as_deref() {
        None => None,
        Some("RS256") => Some(Algorithm::RS256),
        Some("PS256") => Some(Algorithm::PS256),
        Some(_) => return None,
    };
    let key = DecodingKey::from_rsa_components(&raw.n, &raw.e).ok()?;
    Some(VerificationKey {
        kid: raw.kid,
        alg,
        key,
    })
}

/// The cached JWKS of the provider.
pub struct JwksCache {
    provider: Arc<Provider>,
    http: IdpHttp,
    metrics: Arc<Metrics>,
    cache: Cache<(), Arc<KeySet>>,
    min_refresh_interval: Duration,
    last_forced: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    /// Creates an empty cache; the first lookup fetches.
    pub fn new(
        provider: Arc<Provider>,
        http: IdpHttp,
        metrics: Arc<Metrics>,
        ttl: Duration,
        min_refresh_interval: Duration,
    ) -> JwksCache {
        JwksCache {
            provider,
            http,
            metrics,
            cache: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            min_refresh_interval,
            last_forced: tokio::sync::Mutex::new(None),
        }
    }

    /// The keys that may verify a token with this `kid` and `alg`.
    ///
    /// Runs for every ID token and userinfo response. Unknown kids trigger one
    /// throttled refetch: the provider may have rotated its keys.
    pub async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<DecodingKey>, Error> {
        let set = self.current().await?;
        let found = set.matching(kid, alg);
        if !found.is_empty() {
            return Ok(found);
        }
        if let Some(set) = self.forced_refresh().await? {
            let found = set.matching(kid, alg);
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Err(Error::UnknownKey {
            kid: kid.map(str::to_owned),
            alg,
        })
    }

    /// The cached set, fetching it when absent or expired (one fetch for all waiters).
    pub async fn current(&self) -> Result<Arc<KeySet>, Error> {
        self.cache
            .try_get_with((), self.fetch())
            .await
            .map_err(Error::JwksUnavailable)
    }

    /// Refetches unless a forced refetch happened within the minimum interval.
    /// Returns the new set, or `None` when throttled.
    async fn forced_refresh(&self) -> Result<Option<Arc<KeySet>>, Error> {
        let mut last = self.last_forced.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh_interval) {
            return Ok(None);
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                self.cache.insert((), set.clone()).await;
                Ok(Some(set))
            }
            // Keep the cached keys: they stay valid for their lifetime.
            Err(_) => Ok(None),
        }
    }

    async fn fetch(&self) -> Result<Arc<KeySet>, Error> {
        let result = self.fetch_inner().await;
        let outcome = if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        };
        self.metrics.jwks_refresh(outcome);
        if let Err(e) = &result {
            tracing::warn!(error = %crate::shared::errors::Chain(e), "JWKS refresh failed");
        }
        result
    }

    async fn fetch_inner(&self) -> Result<Arc<KeySet>, Error> {
        let metadata = self.provider.metadata().await?;
        let response = self
            .http
            .get(IdpEndpoint::Jwks, metadata.jwks_uri.as_str(), None)
            .await?;
        if response.status != 200 {
            return Err(Error::Status {
                endpoint: IdpEndpoint::Jwks,
                status: response.status,
            });
        }
        let set = parse_jwks(&response.body)?;
        tracing::info!(keys = set.len(), "JWKS fetched");
        Ok(Arc::new(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real 2048-bit modulus is not needed to test selection; from_rsa_components
    // accepts any base64url value.
    fn jwks(keys: &str) -> KeySet {
        parse_jwks(format!("{{\"keys\":[{keys}]}}").as_bytes()).unwrap()
    }

    #[test]
    fn selects_by_kid_and_alg_and_skips_unusable_keys() {
        let set = jwks(
            r#"{"kty":"RSA","kid":"a","n":"sXch","e":"AQAB","exp":1718000000,"x5c":["MII"]},
               {"kty":"RSA","kid":"b","n":"sXch","e":"AQAB","alg":"PS256"},
               {"kty":"RSA","kid":"enc","n":"sXch","e":"AQAB","use":"enc"},
               {"kty":"EC","kid":"ec","crv":"P-256","x":"a","y":"b"},
               {"kty":"RSA","kid":"weird","n":"sXch","e":"AQAB","alg":"RSA-OAEP-256"}"#,
        );
        assert_eq!(set.len(), 2);
        assert_eq!(set.matching(Some("a"), Algorithm::RS256).len(), 1);
        assert_eq!(set.matching(Some("b"), Algorithm::RS256).len(), 0);
        assert_eq!(set.matching(Some("b"), Algorithm::PS256).len(), 1);
        assert_eq!(set.matching(Some("enc"), Algorithm::RS256).len(), 0);
        assert_eq!(set.matching(None, Algorithm::RS256).len(), 1);
        assert_eq!(set.matching(None, Algorithm::PS256).len(), 2);
    }

    #[test]
    fn rejects_documents_without_keys() {
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert_eq!(jwks("").len(), 0);
    }
}
