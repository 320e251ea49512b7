//! Small JOSE helpers: base64url, unverified JWT decoding (for recording and error messages),
//! `at_hash`, PKCE S256 and the mock identity system's PSUT.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sha3::Sha3_256;

/// base64url without padding.
pub(crate) fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` random bytes as base64url: used for codes, transaction ids and access-token ids.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    b64url(bytes)
}

/// Decodes a compact JWS's header and payload as JSON without checking anything. `None` when
/// the token is not three dot-separated base64url JSON parts.
pub(crate) fn decode_unverified(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let header = parts.next()?;
    let payload = parts.next()?;
    parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    Some((decode(header)?, decode(payload)?))
}

/// A JWS with `alg: none` and an empty signature (`header.payload.`), for the `AlgNone` fault.
pub(crate) fn unsigned_jws(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(header.to_string()),
        b64url(payload.to_string())
    )
}

/// OIDC `at_hash` as e-Signet computes it (`IdentityProviderUtil.generateOIDCAtHash`): the
/// left half of SHA-256 of the access token, whatever the signing algorithm.
pub(crate) fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    b64url(&digest[..16])
}

/// PKCE S256: base64url(SHA-256(code_verifier)).
pub(crate) fn pkce_s256(code_verifier: &str) -> String {
    b64url(Sha256::digest(code_verifier.as_bytes()))
}

/// The Partner-Specific User Token the way mock-identity-system derives it
/// (`saveKycAuthTransaction`): base64url(SHA3-256(individualId ‖ relyingPartyId)). The emulator
/// uses the `client_id` as relying-party id, so one person has one `sub` per client.
pub fn psut(individual_id: &str, relying_party_id: &str) -> String {
    let mut hasher = Sha3_256::new();
    hasher.update(individual_id.as_bytes());
    hasher.update(relying_party_id.as_bytes());
    b64url(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_example() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn at_hash_is_22_chars_of_sha256_left_half() {
        let h = at_hash("some-access-token");
        assert_eq!(h.len(), 22);
        assert_eq!(h, b64url(&Sha256::digest(b"some-access-token")[..16]));
    }

    #[test]
    fn psut_is_stable_and_partner_scoped() {
        let a = psut("8267411571", "client-a");
        assert_eq!(a, psut("8267411571", "client-a"));
        assert_ne!(a, psut("8267411571", "client-b"));
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn decode_unverified_rejects_non_jws() {
        assert!(decode_unverified("a.b").is_none());
        assert!(decode_unverified("not.a.jwt.at.all").is_none());
        let token = unsigned_jws(
            &serde_json::json!({"alg":"none"}),
            &serde_json::json!({"a":1}),
        );
        let (h, p) = decode_unverified(&token).expect("decodes");
        assert_eq!(h["alg"], "none");
        assert_eq!(p["a"], 1);
    }
}
