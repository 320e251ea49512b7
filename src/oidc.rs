//! The OpenID Connect relying party: starting and finishing e-Signet logins.
//!
//! `start_login` runs when a browser without a session reaches a protected
//! route; `finish_login` runs on the callback. Between the two, the per-login
//! secrets (PKCE verifier, nonce) wait in the session store under the opaque
//! `state`, never in the browser.

pub(crate) mod assertion;
pub(crate) mod authorize;
pub(crate) mod discovery;
pub(crate) mod error;
pub(crate) mod http;
pub(crate) mod jwks;
pub(crate) mod logout_token;
pub(crate) mod tokens;
pub(crate) mod verify;

pub use self::error::Error;
pub use self::error::TokenKind;
pub use self::error::TokenProblem;

use std::sync::Arc;

use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge};

use self::assertion::ClientAssertionSigner;
use self::authorize::{authorize_url, AuthorizeParams};
use self::discovery::Provider;
use self::http::IdpHttp;
use self::jwks::JwksCache;
use self::verify::{Claims, IdTokenExpectations};
use crate::config::EsignetSettings;
use crate::session::PendingLogin;
use crate::shared::metrics::{IdpEndpoint, Metrics};

/// The e-Signet servlet path that stock 1.4.x–1.7.x configs put in the
/// tokens' `iss` but not in discovery's `issuer`
/// (`mosip.esignet.discovery.issuer-id = ${domain.url}${server.servlet.path}`
/// in `esignet-service/src/main/resources/application-default.properties`
/// v1.5.0–v1.7.1; fixed in v1.8.0 by PR #1624).
const ESIGNET_SERVLET_PATH: &str = "/v1/esignet";

/// The discovered issuer and its other e-Signet form: `https://host` and
/// `https://host/v1/esignet`, either way round. Exactly these two, so the
/// check stays an exact match against the provider's own issuer; an issuer
/// with any other path is accepted only as it is.
pub fn servlet_issuer_forms(discovered: &str) -> Vec<String> {
    let bare = discovered.trim_end_matches('/');
    let other = match bare.strip_suffix(ESIGNET_SERVLET_PATH) {
        Some(host) => host.to_string(),
        None => match url::Url::parse(bare) {
            Ok(url) if url.path() == "/" || url.path().is_empty() => {
                format!("{bare}{ESIGNET_SERVLET_PATH}")
            }
            _ => return vec![discovered.to_string()],
        },
    };
    if other.is_empty() || !other.contains("://") {
        return vec![discovered.to_string()];
    }
    vec![discovered.to_string(), other]
}

/// Bytes of randomness in `state` and `nonce`.
const RANDOM_LEN: u32 = 32;

/// A started login: where to send the browser, and what to remember.
pub struct LoginStart {
    /// The authorization URL.
    pub authorize_url: String,
    /// The opaque state, key of the pending login.
    pub state: String,
    /// What the callback needs.
    pub pending: PendingLogin,
}

/// A finished, verified login.
#[derive(Debug)]
pub struct VerifiedLogin {
    /// Verified ID-token claims.
    pub id_token: Claims,
    /// Verified userinfo claims.
    pub userinfo: Claims,
    /// The raw ID token, kept for RP-initiated logout (`id_token_hint`).
    pub raw_id_token: String,
}

/// The relying party for one provider and one client.
pub struct OidcClient {
    settings: Arc<EsignetSettings>,
    redirect_uri: String,
    provider: Arc<Provider>,
    jwks: JwksCache,
    http: IdpHttp,
    signer: ClientAssertionSigner,
}

impl OidcClient {
    /// Builds the client. Fails only on a bad private key or HTTP client setup.
    pub fn new(
        settings: Arc<EsignetSettings>,
        redirect_uri: String,
        metrics: Arc<Metrics>,
    ) -> Result<OidcClient, Error> {
        let http = IdpHttp::new(
            settings.http_timeout,
            metrics.clone(),
            settings.ca_bundle.as_deref(),
        )?;
        let provider = Arc::new(Provider::new(settings.endpoints.clone(), http.clone()));
        let jwks = JwksCache::new(
            provider.clone(),
            http.clone(),
            metrics,
            settings.jwks_cache_ttl,
            settings.jwks_min_refresh_interval,
        );
        let signer = ClientAssertionSigner::new(
            &settings.client_id,
            settings.private_key.expose(),
            settings.private_key_kid.clone(),
            settings.assertion_lifetime,
        )?;
        Ok(OidcClient {
            settings,
            redirect_uri,
            provider,
            jwks,
            http,
            signer,
        })
    }

    /// The provider metadata holder (for readiness and logout).
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Fetches discovery and the JWKS ahead of the first login. Runs at startup.
    pub async fn warm_up(&self) -> Result<(), Error> {
        self.provider.metadata().await?;
        self.jwks.current().await?;
        Ok(())
    }

    /// Starts a login: fresh state, nonce and PKCE verifier.
    ///
    /// `required_acr` overrides the configured `acr_values` and must then be
    /// met by the new ID token (step-up). `browser_binding` is the hash of the
    /// browser's login-binding cookie.
    pub async fn start_login(
        &self,
        return_to: String,
        browser_binding: String,
        required_acr: Option<Vec<String>>,
    ) -> Result<LoginStart, Error> {
        let metadata = self.provider.metadata().await?;
        let state = CsrfToken::new_random_len(RANDOM_LEN).into_secret();
        let nonce = Nonce::new_random_len(RANDOM_LEN).secret().clone();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let acr_values = required_acr
            .clone()
            .unwrap_or_else(|| self.settings.acr_values.clone());
        let url = authorize_url(
            &metadata.authorization_endpoint,
            &self.settings,
            &AuthorizeParams {
                state: &state,
                nonce: &nonce,
                code_challenge: challenge.as_str(),
                redirect_uri: &self.redirect_uri,
                acr_values: &acr_values,
            },
        );
        Ok(LoginStart {
            authorize_url: url,
            state,
            pending: PendingLogin {
                code_verifier: verifier.into_secret(),
                nonce,
                return_to,
                browser_binding,
                acr_values,
                required_acr,
                created_at: crate::shared::clock::now_secs(),
            },
        })
    }

    /// Finishes a login: checks the callback's `iss`, exchanges the code,
    /// verifies the ID token, then fetches and verifies userinfo.
    pub async fn finish_login(
        &self,
        pending: &PendingLogin,
        code: &str,
        callback_iss: Option<&str>,
    ) -> Result<VerifiedLogin, Error> {
        let metadata = self.provider.metadata().await?;
        let issuers = self.accepted_issuers(&metadata.issuer);
        if let Some(iss) = callback_iss {
            // RFC 9207: a wrong `iss` on the redirect means a mix-up attack.
            if iss != metadata.issuer && !issuers.iter().any(|i| i == iss) {
                return Err(Error::CallbackIssuer);
            }
        }
        let tokens = self.exchange_code(&metadata, code, pending).await?;
        let id_token = self
            .verify_id_token(&tokens, &issuers, &pending.nonce)
            .await?;
        self.warn_if_servlet_issuer(&metadata.issuer, &id_token);
        let sub = id_token
            .get("sub")
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string();
        let userinfo = self
            .fetch_userinfo(
                metadata.userinfo_endpoint.as_str(),
                &tokens.access_token,
                &sub,
            )
            .await?;
        Ok(VerifiedLogin {
            id_token,
            userinfo,
            raw_id_token: tokens.id_token,
        })
    }

    /// Verifies a back-channel logout token. Runs when the provider POSTs one.
    pub async fn verify_logout_token(
        &self,
        token: &str,
    ) -> Result<logout_token::LogoutRequest, Error> {
        // Any problem with the token itself is the sender's: 400, whatever
        // the key lookup says (only discovery failing is ours).
        let invalid = Error::token(TokenKind::LogoutToken);
        let metadata = self.provider.metadata().await?;
        let issuers = self.accepted_issuers(&metadata.issuer);
        let header = verify::inspect_header(token).map_err(&invalid)?;
        let typ = jsonwebtoken::decode_header(token).ok().and_then(|h| h.typ);
        let keys = self
            .jwks
            .keys_for(header.kid.as_deref(), header.alg)
            .await
            .map_err(|e| invalid(TokenProblem::NoUsableKey(Box::new(e))))?;
        logout_token::verify_logout_token(
            token,
            &header,
            typ.as_deref(),
            &keys,
            &issuers,
            &self.settings.client_id,
            self.settings.clock_skew,
        )
        .map_err(invalid)
    }

    /// The `iss` values accepted: the configured `issuer` list, else the
    /// discovered issuer in exactly its two e-Signet forms (see
    /// [`servlet_issuer_forms`]).
    fn accepted_issuers(&self, discovered: &str) -> Vec<String> {
        if self.settings.issuers.is_empty() {
            servlet_issuer_forms(discovered)
        } else {
            self.settings.issuers.clone()
        }
    }

    /// Logs, once per process, that the tokens' `iss` is the other e-Signet
    /// form of the discovered issuer (a stock 1.4.x–1.7.x configuration).
    fn warn_if_servlet_issuer(&self, discovered: &str, id_token: &Claims) {
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let iss = id_token.get("iss").and_then(|v| v.as_str());
        if self.settings.issuers.is_empty()
            && iss.is_some_and(|iss| iss != discovered)
            && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                discovered,
                token_iss = iss.unwrap_or_default(),
                "the provider signs tokens with another issuer than its discovery document \
                 (stock e-Signet 1.4.x-1.7.x: issuer-id includes /v1/esignet); accepted as the \
                 same provider. Set esignet.issuer to both values to silence this."
            );
        }
    }

    async fn exchange_code(
        &self,
        metadata: &discovery::ProviderMetadata,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<tokens::TokenSet, Error> {
        let token_endpoint = &metadata.token_endpoint;
        // e-Signet checks `aud` against its own published endpoint, not
        // the URL posted to (a `token_url` override may be internal).
        let audience = self
            .settings
            .assertion_aud
            .clone()
            .unwrap_or_else(|| metadata.token_audience.clone());
        let assertion = self.signer.sign(&audience)?;
        let form = tokens::token_form(
            code,
            &self.redirect_uri,
            &self.settings.client_id,
            &assertion,
            &pending.code_verifier,
        );
        let response = self
            .http
            .post_form(IdpEndpoint::Token, token_endpoint.as_str(), &form)
            .await?;
        tokens::parse_token_response(response.status, &response.body)
    }

    async fn verify_id_token(
        &self,
        tokens: &tokens::TokenSet,
        issuers: &[String],
        nonce: &str,
    ) -> Result<Claims, Error> {
        let header =
            verify::inspect_header(&tokens.id_token).map_err(Error::token(TokenKind::IdToken))?;
        let keys = self.keys_for(&header).await?;
        verify::verify_id_token(
            &tokens.id_token,
            &header,
            &keys,
            &IdTokenExpectations {
                issuers,
                client_id: &self.settings.client_id,
                nonce,
                access_token: &tokens.access_token,
                clock_skew: self.settings.clock_skew,
            },
        )
    }

    async fn fetch_userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
        sub: &str,
    ) -> Result<Claims, Error> {
        // Ask for the signed form: providers that sign userinfo only when
        // asked answer plain JSON otherwise (e-Signet signs either way).
        let response = self
            .http
            .get_accepting(
                IdpEndpoint::Userinfo,
                endpoint,
                Some(access_token),
                "application/jwt",
            )
            .await?;
        match response.status {
            200 => {}
            status @ (401 | 403) => return Err(Error::UserinfoRefused { status }),
            status => {
                return Err(Error::Status {
                    endpoint: IdpEndpoint::Userinfo,
                    status,
                })
            }
        }
        if response.content_type == "application/json" {
            if !self.settings.insecure_allow_unsigned_userinfo {
                return Err(Error::UnsignedUserinfo);
            }
            return verify::unsigned_userinfo(&response.body, sub);
        }
        let invalid = Error::token(TokenKind::Userinfo);
        let token = std::str::from_utf8(&response.body)
            .map_err(|e| invalid(TokenProblem::NotText(e)))?
            .trim();
        let header = verify::inspect_header(token).map_err(&invalid)?;
        let keys = self.keys_for(&header).await?;
        verify::verify_userinfo(
            token,
            &header,
            &keys,
            &self.settings.client_id,
            sub,
            self.settings.clock_skew,
        )
    }

    async fn keys_for(
        &self,
        header: &verify::JwsHeader,
    ) -> Result<Vec<jsonwebtoken::DecodingKey>, Error> {
        self.jwks.keys_for(header.kid.as_deref(), header.alg).await
    }
}

#[cfg(test)]
mod tests {
    use super::servlet_issuer_forms;

    #[test]
    fn issuer_forms_are_exactly_the_two_esignet_ones() {
        assert_eq!(
            servlet_issuer_forms("https://esignet.example.org"),
            [
                "https://esignet.example.org",
                "https://esignet.example.org/v1/esignet"
            ]
        );
        assert_eq!(
            servlet_issuer_forms("https://esignet.example.org/v1/esignet"),
            [
                "https://esignet.example.org/v1/esignet",
                "https://esignet.example.org"
            ]
        );
        // Any other path: only itself (no prefix or suffix games).
        assert_eq!(
            servlet_issuer_forms("https://op.example/realms/x"),
            ["https://op.example/realms/x"]
        );
        assert_eq!(servlet_issuer_forms("not a url"), ["not a url"]);
    }
}
