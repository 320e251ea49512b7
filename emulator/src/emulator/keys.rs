//! Key material: e-Signet's token-signing key, the ID system's KYC-signing key, and an
//! unpublished "rogue" key for the bad-signature faults. Loaded once at start; the JWKS
//! document is derived from the first two.

use std::io;
use std::sync::{Arc, RwLock};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::jose::b64url;

/// An unpublished RSA key, shipped with the crate so tests need no slow key generation.
const ROGUE_KEY_PEM: &str = include_str!("../../keys/rogue-signing.pem");

/// One RSA signing key with its derived public forms.
pub(crate) struct SigningKey {
    /// RFC 7638 SHA-256 thumbprint, base64url; the `kid` in JWKS and in JWS headers.
    pub kid: String,
    /// base64url modulus.
    n: String,
    /// base64url public exponent.
    e: String,
    /// The SPKI PEM of the public key (the secret of the HS256 algorithm-confusion fault).
    pub public_pem: String,
    encoding: EncodingKey,
}

impl SigningKey {
    /// Parses a PKCS#8 RSA private key PEM.
    pub fn from_pem(pem: &str, what: &str) -> io::Result<Self> {
        let invalid =
            |e: String| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"));
        let private = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| invalid(e.to_string()))?;
        let public = private.to_public_key();
        let n = b64url(public.n().to_bytes_be());
        let e = b64url(public.e().to_bytes_be());
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| invalid(e.to_string()))?;
        let encoding =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| invalid(e.to_string()))?;
        // RFC 7638: members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = b64url(Sha256::digest(canonical.as_bytes()));
        Ok(SigningKey {
            kid,
            n,
            e,
            public_pem,
            encoding,
        })
    }

    /// The JWKS entry, e-Signet style: `kid`, `kty`, `e`, `n` and a non-standard `exp` (epoch
    /// seconds, the certificate's expiry in e-Signet); no `alg`, no `use`.
    pub fn jwk(&self, exp: i64) -> Value {
        json!({ "kid": self.kid, "kty": "RSA", "e": self.e, "n": self.n, "exp": exp })
    }

    /// Signs `claims` with `alg`, putting `kid` in the header (typically `self.kid`; the
    /// rogue key is given a published kid for the bad-signature faults).
    pub fn sign(&self, alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.typ = None;
        header.kid = Some(kid.to_string());
        // Signing a JSON value with a valid RSA key cannot fail short of a crypto-library bug;
        // an empty token then fails verification at the client, which is the honest outcome.
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap_or_default()
    }
}

/// All keys of one emulator.
pub(crate) struct Keys {
    /// e-Signet's OIDC key: ID and access tokens. Replaced by [`Keys::rotate_esignet`].
    esignet: RwLock<Arc<SigningKey>>,
    /// e-Signet keys replaced by a rotation, still published until [`Keys::retire_previous`].
    previous: RwLock<Vec<Arc<SigningKey>>>,
    /// The ID system's KYC key: userinfo.
    pub id_system: SigningKey,
    /// Never published.
    pub rogue: SigningKey,
    /// The `exp` advertised for both published keys.
    pub jwks_exp: i64,
}

impl Keys {
    /// Loads the two configured keys and the built-in rogue key.
    pub fn load(esignet_pem: &str, id_system_pem: &str, now: i64) -> io::Result<Self> {
        Ok(Keys {
            esignet: RwLock::new(Arc::new(SigningKey::from_pem(
                esignet_pem,
                "e-Signet signing key",
            )?)),
            previous: RwLock::new(Vec::new()),
            id_system: SigningKey::from_pem(id_system_pem, "ID-system signing key")?,
            rogue: SigningKey::from_pem(ROGUE_KEY_PEM, "built-in rogue key")?,
            jwks_exp: now + 365 * 24 * 3600,
        })
    }

    /// The e-Signet key that signs now.
    pub fn esignet(&self) -> Arc<SigningKey> {
        self.esignet
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Makes `pem` the e-Signet signing key; the replaced key stays published. Returns the
    /// new `kid`.
    pub fn rotate_esignet(&self, pem: &str) -> io::Result<String> {
        let new = Arc::new(SigningKey::from_pem(pem, "new e-Signet signing key")?);
        let kid = new.kid.clone();
        let old = std::mem::replace(
            &mut *self
                .esignet
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            new,
        );
        self.previous
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(old);
        Ok(kid)
    }

    /// Stops publishing the e-Signet keys replaced by rotations.
    pub fn retire_previous(&self) {
        self.previous
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// The JWKS document: e-Signet's key (then, after a rotation, its previous keys until
    /// retired) followed by the ID system's KYC key (e-Signet appends
    /// `getAllKycSigningCertificates()` to its own).
    pub fn jwks(&self) -> Value {
        let mut keys = vec![self.esignet().jwk(self.jwks_exp)];
        keys.extend(
            self.previous
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .map(|k| k.jwk(self.jwks_exp)),
        );
        keys.push(self.id_system.jwk(self.jwks_exp));
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn rogue_key_signs_and_verifies_against_its_components() {
        let key = SigningKey::from_pem(ROGUE_KEY_PEM, "rogue").expect("rogue key parses");
        assert_eq!(key.kid.len(), 43);
        let token = key.sign(
            Algorithm::PS256,
            &key.kid,
            &json!({"sub": "x", "exp": 4102444800u64}),
        );
        let decoding = DecodingKey::from_rsa_components(&key.n, &key.e).expect("components");
        let data =
            jsonwebtoken::decode::<Value>(&token, &decoding, &Validation::new(Algorithm::PS256))
                .expect("verifies");
        assert_eq!(data.claims["sub"], "x");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
        assert!(key.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn bad_pem_is_an_error() {
        assert!(SigningKey::from_pem("not a pem", "x").is_err());
    }
}
