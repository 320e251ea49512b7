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
    ) -> Result<PortalIssuer, String> {
        Ok(PortalIssuer {
            codes: CodeSealer::new(cookie_keys)?,
            jwks_body: Bytes::from(jwks.to_string()),
            verifier: AccessTokenVerifier::new(jwks, issuer)?,
        })
    }
}
