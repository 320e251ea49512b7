//! The gateway's RSA signing keys and their public JWKs.
//!
//! The `kid` is the RFC 7638 thumbprint of the public key, so the same key
//! always gets the same id on every replica without configuration.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::EncodingKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A signing key with its public half.
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// The private key, ready for jsonwebtoken.
    pub encoding: EncodingKey,
    /// The public JWK (`kty`, `kid`, `use`, `alg`, `n`, `e`).
    pub public_jwk: Value,
}

impl SigningKey {
    /// Reads an RSA private key in PEM (PKCS#8 or PKCS#1).
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        let text = std::str::from_utf8(pem).map_err(|_| "key is not PEM text".to_string())?;
        let private = RsaPrivateKey::from_pkcs8_pem(text)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
            .map_err(|_| "key is not an RSA private key in PEM".to_string())?;
        let jwk = public_jwk(&private);
        let encoding = EncodingKey::from_rsa_pem(pem).map_err(|e| e.to_string())?;
        Ok(SigningKey {
            kid: jwk["kid"].as_str().unwrap_or_default().to_string(),
            encoding,
            public_jwk: jwk,
        })
    }
}

/// The public JWK of a private key, with its thumbprint as `kid`.
pub fn public_jwk(private: &RsaPrivateKey) -> Value {
    let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
    let kid = thumbprint(&n, &e);
    serde_json::json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e })
}

/// RFC 7638 SHA-256 thumbprint of an RSA public key.
pub fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
