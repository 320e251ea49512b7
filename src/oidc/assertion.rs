//! The `private_key_jwt` client assertion sent with every token request.
//!
//! Built to pass every e-Signet version (reference §3.2): RS256, `iss` = `sub`
//! = client_id, `aud` = the exact token endpoint URL (or the configured
//! override), `iat` back-dated a few seconds because e-Signet ≤1.5 has no
//! clock leeway, a short `exp`, a fresh `jti` (required from 1.6 and
//! replay-checked from 1.7), and a `kid` header only when the registered JWK
//! has one (a mismatching kid fails key selection).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::error::Error;

/// How far `iat` is back-dated, against providers whose clock runs behind.
pub const IAT_BACKDATE: Duration = Duration::from_secs(5);

/// The assertion's claims.
#[derive(Debug, Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// Signs client assertions for one client.
pub struct ClientAssertionSigner {
    client_id: String,
    key: EncodingKey,
    kid: Option<String>,
    lifetime: Duration,
}

impl ClientAssertionSigner {
    /// Creates the signer from the client's private key (PEM).
    pub fn new(
        client_id: &str,
        private_key_pem: &[u8],
        kid: Option<String>,
        lifetime: Duration,
    ) -> Result<ClientAssertionSigner, Error> {
        let key = EncodingKey::from_rsa_pem(private_key_pem).map_err(Error::ClientKey)?;
        Ok(ClientAssertionSigner {
            client_id: client_id.to_string(),
            key,
            kid,
            lifetime,
        })
    }

    /// A fresh assertion for `audience`. Runs once per token request.
    pub fn sign(&self, audience: &str) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: audience,
            iat: now.saturating_sub(IAT_BACKDATE.as_secs()),
            exp: now + self.lifetime.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(Error::SignAssertion)
    }
}
