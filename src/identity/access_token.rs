//! Verification of the access tokens the gateway issues to portals.
//!
//! Runs at the provider's userinfo endpoint: a portal presents the access
//! token it got from the gateway's token endpoint, and only a token signed
//! by one of the gateway's own keys, for this issuer, unexpired, passes.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::identity::portal::SetupError;

/// Verifies the gateway's own access tokens (userinfo).
pub struct AccessTokenVerifier {
    /// Each key with the validation of its algorithm (RS256 or ES256).
    keys: Vec<(DecodingKey, Validation)>,
}

impl AccessTokenVerifier {
    /// From the gateway's JWKS (every configured key verifies, RSA or EC).
    pub fn new(jwks: &Value, issuer: &str) -> Result<AccessTokenVerifier, SetupError> {
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(jwks.clone()).map_err(SetupError::Jwks)?;
        let keys = jwks
            .keys
            .iter()
            .map(|jwk| {
                let key = DecodingKey::from_jwk(jwk).map_err(SetupError::Key)?;
                let algorithm = match jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => Algorithm::RS256,
                };
                let mut validation = Validation::new(algorithm);
                validation.set_issuer(&[issuer]);
                // The audience is a portal's client id, checked by the caller.
                validation.validate_aud = false;
                validation.leeway = 0;
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                Ok((key, validation))
            })
            .collect::<Result<Vec<_>, SetupError>>()?;
        Ok(AccessTokenVerifier { keys })
    }

    /// The claims of a valid, unexpired access token signed by the gateway.
    pub fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        self.keys.iter().find_map(|(key, validation)| {
            jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
                .ok()
                .map(|data| data.claims)
        })
    }
}
