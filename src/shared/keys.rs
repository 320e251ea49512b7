//! The gateway's signing keys (RSA for RS256, P-256 for ES256) and their
//! public JWKs.
//!
//! The algorithm follows from the key: an RSA key signs RS256, an EC P-256
//! key ES256 (`g2p-gateway keygen --type ec` makes one). The `kid` is the
//! RFC 7638 thumbprint of the public key, so the same key always gets the
//! same id on every replica without configuration.

use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, SecretDocument};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Why a key file cannot be used. Never quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file is not UTF-8 text, so not PEM.
    #[error("key is not PEM text")]
    NotText(#[source] std::str::Utf8Error),
    /// The RSA key parses but jsonwebtoken cannot sign with it.
    #[error("RSA key cannot sign")]
    Rsa(#[source] jsonwebtoken::errors::Error),
    /// The key is neither RSA nor EC P-256 in PKCS#8.
    #[error(
        "key is neither an RSA private key in PEM nor an EC P-256 private key in PKCS#8 PEM \
         (`openssl pkcs8 -topk8 -nocrypt` converts an `EC PRIVATE KEY`)"
    )]
    Unsupported,
    /// An RSA key is required (the e-Signet client key) and this is not one.
    #[error("key is not an RSA private key in PEM")]
    NotRsa,
    /// An EC public key is not an uncompressed P-256 point.
    #[error("not an uncompressed P-256 public key")]
    EcPoint,
}

/// A signing key with its public half.
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// RS256 for an RSA key, ES256 for an EC P-256 key.
    pub algorithm: Algorithm,
    /// The private key, ready for jsonwebtoken.
    pub encoding: EncodingKey,
    /// The public JWK (`kty`, `kid`, `use`, `alg`, and `n`, `e` or `crv`,
    /// `x`, `y`).
    pub public_jwk: Value,
}

impl SigningKey {
    /// Reads a private key in PEM: RSA (PKCS#8 or PKCS#1) or EC P-256
    /// (PKCS#8). Runs at startup and at each reload.
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, KeyError> {
        let text = std::str::from_utf8(pem).map_err(KeyError::NotText)?;
        if let Ok(private) =
            RsaPrivateKey::from_pkcs8_pem(text).or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
        {
            let encoding = EncodingKey::from_rsa_pem(pem).map_err(KeyError::Rsa)?;
            return Ok(SigningKey::new(
                Algorithm::RS256,
                encoding,
                public_jwk(&private),
            ));
        }
        if let Some(der) = pkcs8_der(text) {
            if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der) {
                let jwk = ec_public_jwk(pair.public_key().as_ref())?;
                let encoding = EncodingKey::from_ec_der(&der);
                return Ok(SigningKey::new(Algorithm::ES256, encoding, jwk));
            }
        }
        Err(KeyError::Unsupported)
    }

    /// Reads an RSA private key only (the e-Signet client key: e-Signet
    /// verifies `private_key_jwt` with RS256).
    pub fn from_rsa_pem(pem: &[u8]) -> Result<SigningKey, KeyError> {
        let key = SigningKey::from_pem(pem).map_err(|_| KeyError::NotRsa)?;
        if key.algorithm != Algorithm::RS256 {
            return Err(KeyError::NotRsa);
        }
        Ok(key)
    }

    fn new(algorithm: Algorithm, encoding: EncodingKey, jwk: Value) -> SigningKey {
        SigningKey {
            kid: jwk["kid"].as_str().unwrap_or_default().to_string(),
            algorithm,
            encoding,
            public_jwk: jwk,
        }
    }
}

/// The DER of a `PRIVATE KEY` (PKCS#8) PEM document.
fn pkcs8_der(text: &str) -> Option<Vec<u8>> {
    let (label, doc) = SecretDocument::from_pem(text).ok()?;
    (label == "PRIVATE KEY").then(|| doc.as_bytes().to_vec())
}

/// The public JWK of a private key, with its thumbprint as `kid`.
pub fn public_jwk(private: &RsaPrivateKey) -> Value {
    let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
    let kid = thumbprint(&n, &e);
    serde_json::json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": e })
}

/// The public JWK of a P-256 public key given as an uncompressed SEC1 point
/// (`04 || x || y`), with its RFC 7638 thumbprint as `kid`.
pub fn ec_public_jwk(point: &[u8]) -> Result<Value, KeyError> {
    if point.len() != 65 || point[0] != 4 {
        return Err(KeyError::EcPoint);
    }
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..]);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Ok(serde_json::json!({
        "kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256", "x": x, "y": y
    }))
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

    #[test]
    fn ec_jwk_matches_rfc7517_example_key() {
        // RFC 7517 Appendix A.1's EC public key.
        let x = URL_SAFE_NO_PAD
            .decode("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4")
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM")
            .unwrap();
        let point = [&[4u8][..], &x, &y].concat();
        let jwk = ec_public_jwk(&point).unwrap();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["x"], "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4");
        assert_eq!(jwk["y"], "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
        assert!(ec_public_jwk(&point[1..]).is_err());
    }

    #[test]
    fn the_key_type_decides_the_algorithm() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/demo");
        let rsa =
            SigningKey::from_pem(&std::fs::read(dir.join("gateway-signing.pem")).unwrap()).unwrap();
        assert_eq!(rsa.algorithm, Algorithm::RS256);
        assert_eq!(rsa.public_jwk["kty"], "RSA");
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = ec.to_pkcs8v1().unwrap();
        let pem = SecretDocument::try_from(der.as_ref())
            .unwrap()
            .to_pem("PRIVATE KEY", rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let key = SigningKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(key.algorithm, Algorithm::ES256);
        assert_eq!(key.public_jwk["kid"], key.kid.as_str());
        assert!(SigningKey::from_rsa_pem(pem.as_bytes()).is_err());
        assert!(SigningKey::from_pem(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
    }

    #[test]
    fn unreadable_keys_are_typed_and_keep_their_cause() {
        let err = SigningKey::from_pem(&[0xff, 0xfe]).err().expect("refused");
        assert!(matches!(err, KeyError::NotText(_)), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
        let err = SigningKey::from_pem(b"-----BEGIN NOTHING-----")
            .err()
            .expect("refused");
        assert!(matches!(err, KeyError::Unsupported), "{err:?}");
    }
}
