//! What the gateway needs to act as the portals' OpenID provider, per
//! config snapshot: the code sealer, the access-token verifier and the
//! published JWKS. Built with the [`crate::edge::gateway::Gateway`]; read by
//! the provider's endpoints (`crate::edge::provider`).

use bytes::Bytes;

use crate::identity::access_token::AccessTokenVerifier;
use crate::identity::codes::CodeSealer;
use crate::shared::secret::Secret;

/// The provider's per-snapshot state: code sealer, token verifier, JWKS.
pub struct PortalIssuer {
    /// Seals codes and the session references inside access tokens.
    pub codes: CodeSealer,
    /// The JWKS document, serialised once: the FastAPI portal fetches it on
    /// every request it authenticates.
    pub jwks_body: Bytes,
    /// Verifies the gateway's own access tokens at userinfo.
    pub verifier: AccessTokenVerifier,
}

impl PortalIssuer {
    /// Builds the state from the cookie keys and the identity keys. Runs at
    /// startup and at each reload.
    pub fn new(
        cookie_keys: &[Secret<Vec<u8>>],
        jwks: &serde_json::Value,
        issuer: &str,
    ) -> Result<PortalIssuer, SetupError> {
        Ok(PortalIssuer {
            codes: CodeSealer::new(cookie_keys)?,
            jwks_body: Bytes::from(jwks.to_string()),
            verifier: AccessTokenVerifier::new(jwks, issuer)?,
        })
    }
}

/// Why the provider role cannot be set up (startup, reload).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The code-sealing keys derived from the cookie keys are unusable.
    #[error("provider code keys")]
    CodeKeys(#[from] crate::session::SetupError),
    /// The gateway's own JWKS is not a JWK set (a bug: the minter makes it).
    #[error("the gateway's JWKS is not a JWK set")]
    Jwks(#[source] serde_json::Error),
    /// A key of the gateway's own JWKS cannot verify tokens.
    #[error("a key of the gateway's JWKS cannot verify tokens")]
    Key(#[source] jsonwebtoken::errors::Error),
}
