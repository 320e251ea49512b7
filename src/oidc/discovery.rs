//! The provider's metadata: from its discovery document, explicit URLs, or both.
//!
//! Fetched on first use and kept; a failed fetch is retried at most once per
//! [`RETRY_INTERVAL`], so a dead provider is not hammered. Only the fields the
//! gateway uses are read, so e-Signet's placeholder values elsewhere in the
//! document (`"RSAXXXXX"`) cannot break parsing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use serde::Deserialize;
use url::Url;

use super::error::Error;
use super::http::IdpHttp;
use crate::config::{EndpointOverrides, ProviderEndpoints};
use crate::shared::metrics::IdpEndpoint;

/// Minimum time between two discovery attempts after a failure.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// The provider endpoints and facts the gateway needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// The provider's issuer, as published.
    pub issuer: String,
    /// Where browsers are sent to log in.
    pub authorization_endpoint: Url,
    /// Where codes are exchanged (the v2 endpoint when discovery names
    /// e-Signet's v1 `/oauth/token`, which drops PKCE's `code_verifier`).
    pub token_endpoint: Url,
    /// The client assertion's default `aud`: the token endpoint *as the
    /// provider publishes it*. e-Signet compares `aud` with its own
    /// configured token endpoint (`TokenServiceImpl.verifyClientAssertionToken`,
    /// v1.4.1 and v1.8.0), so a `token_url` override (an internal host) must
    /// not change it.
    pub token_audience: String,
    /// Where userinfo is fetched.
    pub userinfo_endpoint: Url,
    /// Where the signing keys are.
    pub jwks_uri: Url,
    /// RP-initiated logout, when the provider has it (e-Signet does not).
    pub end_session_endpoint: Option<Url>,
}

/// The discovery document, reduced to what the gateway reads.
#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// Parses a discovery document and applies the configured overrides.
pub fn parse_discovery(
    body: &[u8],
    overrides: &EndpointOverrides,
) -> Result<ProviderMetadata, Error> {
    let doc: DiscoveryDocument = serde_json::from_slice(body).map_err(Error::DiscoveryJson)?;
    if doc.issuer.trim().is_empty() {
        return Err(Error::EmptyIssuer);
    }
    let endpoint = |field: &'static str, value: &str, over: &Option<Url>| match over {
        Some(url) => Ok(url.clone()),
        None => web_url(field, value),
    };
    let published_token = web_url("token_endpoint", &doc.token_endpoint)?;
    let token_endpoint = match &overrides.token {
        Some(url) => url.clone(),
        None => prefer_v2_token_endpoint(published_token),
    };
    Ok(ProviderMetadata {
        token_audience: doc.token_endpoint.clone(),
        token_endpoint,
        issuer: doc.issuer,
        authorization_endpoint: endpoint(
            "authorization_endpoint",
            &doc.authorization_endpoint,
            &overrides.authorize,
        )?,
        userinfo_endpoint: endpoint(
            "userinfo_endpoint",
            &doc.userinfo_endpoint,
            &overrides.userinfo,
        )?,
        jwks_uri: endpoint("jwks_uri", &doc.jwks_uri, &overrides.jwks)?,
        end_session_endpoint: doc
            .end_session_endpoint
            .as_deref()
            .map(|url| web_url("end_session_endpoint", url))
            .transpose()?,
    })
}

/// e-Signet's v1 token endpoint (`…/oauth/token`) drops `code_verifier` in
/// every tag (`OAuthController.buildTokenRequest`, v1.2.0–v1.8.0), so PKCE
/// can never pass there (1.4.1 even answers HTTP 500). Older MOSIP configs
/// still advertise it; the v2 endpoint beside it (`…/oauth/v2/token`) is
/// used instead, with a warning. Any other URL is kept.
pub fn prefer_v2_token_endpoint(url: Url) -> Url {
    if !crate::config::is_v1_token_endpoint(&url) {
        return url;
    }
    let mut v2 = url.clone();
    let path = url.path();
    let base = &path[..path.len() - "/oauth/token".len()];
    v2.set_path(&format!("{base}/oauth/v2/token"));
    tracing::warn!(
        "discovery names e-Signet's v1 token endpoint, which drops PKCE's code_verifier; \
         using the v2 endpoint beside it"
    );
    v2
}

/// `value` as an http(s) URL; `field` names the document member in the error.
fn web_url(field: &'static str, value: &str) -> Result<Url, Error> {
    let url = Url::parse(value).map_err(|e| Error::DiscoveryUrl {
        field,
        source: Some(e),
    })?;
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(url),
        _ => Err(Error::DiscoveryUrl {
            field,
            source: None,
        }),
    }
}

/// Holds the provider metadata, fetching discovery when needed.
pub struct Provider {
    endpoints: ProviderEndpoints,
    http: IdpHttp,
    current: ArcSwapOption<ProviderMetadata>,
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl Provider {
    /// Creates the holder. With explicit endpoints the metadata is known at once.
    pub fn new(endpoints: ProviderEndpoints, http: IdpHttp) -> Provider {
        let known = match &endpoints {
            ProviderEndpoints::Explicit {
                authorize,
                token,
                userinfo,
                jwks,
                end_session,
                issuer,
            } => Some(Arc::new(ProviderMetadata {
                issuer: issuer.clone(),
                authorization_endpoint: authorize.clone(),
                token_endpoint: token.clone(),
                token_audience: token.to_string(),
                userinfo_endpoint: userinfo.clone(),
                jwks_uri: jwks.clone(),
                end_session_endpoint: end_session.clone(),
            })),
            ProviderEndpoints::Discovery { .. } => None,
        };
        Provider {
            endpoints,
            http,
            current: ArcSwapOption::new(known),
            last_attempt: tokio::sync::Mutex::new(None),
        }
    }

    /// The metadata, fetching discovery if it has not been fetched yet.
    ///
    /// Runs at startup (to warm up) and on the first login. Concurrent callers
    /// share one fetch.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, Error> {
        if let Some(m) = self.current.load_full() {
            return Ok(m);
        }
        let ProviderEndpoints::Discovery { url, overrides } = &self.endpoints else {
            return Err(Error::NoEndpoints);
        };
        let mut last = self.last_attempt.lock().await;
        if let Some(m) = self.current.load_full() {
            return Ok(m);
        }
        if last.is_some_and(|t| t.elapsed() < RETRY_INTERVAL) {
            return Err(Error::DiscoveryBackoff);
        }
        *last = Some(Instant::now());
        let response = self
            .http
            .get(IdpEndpoint::Discovery, url.as_str(), None)
            .await?;
        if response.status != 200 {
            return Err(Error::Status {
                endpoint: IdpEndpoint::Discovery,
                status: response.status,
            });
        }
        let metadata = Arc::new(parse_discovery(&response.body, overrides)?);
        self.current.store(Some(metadata.clone()));
        Ok(metadata)
    }

    /// Whether the metadata is known (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        self.current.load().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESIGNET_141: &str = r#"{
      "issuer": "https://esignet.example.org",
      "authorization_endpoint": "https://esignet.example.org/authorize",
      "token_endpoint": "https://esignet.example.org/v1/esignet/oauth/v2/token",
      "userinfo_endpoint": "https://esignet.example.org/v1/esignet/oidc/userinfo",
      "jwks_uri": "https://esignet.example.org/.well-known/jwks.json",
      "userinfo_encryption_alg_values_supported": ["RSAXXXXX"],
      "subject_types_supported": ["pairwise"]
    }"#;

    #[test]
    fn parses_esignet_discovery_with_placeholders() {
        let m = parse_discovery(ESIGNET_141.as_bytes(), &EndpointOverrides::default()).unwrap();
        assert_eq!(m.issuer, "https://esignet.example.org");
        assert_eq!(
            m.token_endpoint.as_str(),
            "https://esignet.example.org/v1/esignet/oauth/v2/token"
        );
        assert!(m.end_session_endpoint.is_none());
    }

    #[test]
    fn overrides_win() {
        let overrides = EndpointOverrides {
            token: Some(Url::parse("https://internal:8088/v1/esignet/oauth/v2/token").unwrap()),
            ..Default::default()
        };
        let m = parse_discovery(ESIGNET_141.as_bytes(), &overrides).unwrap();
        assert_eq!(m.token_endpoint.host_str(), Some("internal"));
        // Issue 13 item 5: the assertion `aud` stays what e-Signet expects.
        assert_eq!(
            m.token_audience,
            "https://esignet.example.org/v1/esignet/oauth/v2/token"
        );
    }

    #[test]
    fn a_v1_token_endpoint_is_replaced_by_v2_but_aud_stays_published() {
        // Older mosip-config: token_endpoint = …/v1/esignet/oauth/token.
        let old = ESIGNET_141.replace("/oauth/v2/token", "/oauth/token");
        let m = parse_discovery(old.as_bytes(), &EndpointOverrides::default()).unwrap();
        assert_eq!(
            m.token_endpoint.as_str(),
            "https://esignet.example.org/v1/esignet/oauth/v2/token"
        );
        assert_eq!(
            m.token_audience,
            "https://esignet.example.org/v1/esignet/oauth/token"
        );
        let other = Url::parse("https://op.example/token").unwrap();
        assert_eq!(prefer_v2_token_endpoint(other.clone()), other);
    }

    #[test]
    fn rejects_missing_fields_and_non_http_urls() {
        assert!(parse_discovery(b"{}", &EndpointOverrides::default()).is_err());
        let bad = ESIGNET_141.replace("https://esignet.example.org/authorize", "javascript:x");
        assert!(parse_discovery(bad.as_bytes(), &EndpointOverrides::default()).is_err());
        let e = parse_discovery(b"not json", &EndpointOverrides::default()).unwrap_err();
        assert!(
            std::error::Error::source(&e).is_some(),
            "the parse error is kept"
        );
        let e = parse_discovery(bad.as_bytes(), &EndpointOverrides::default()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::DiscoveryUrl {
                    field: "authorization_endpoint",
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
