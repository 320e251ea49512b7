//! One-time authorization codes and the session references in access tokens.
//!
//! A code is the sealed grant itself (AES-256-GCM under keys derived from
//! the cookie keys): the gateway session it is bound to, the client, the
//! exact redirect URI, the PKCE challenge, the portal's nonce and a short
//! expiry. Any replica opens it; the token endpoint refuses a second use
//! through the store's shared replay set. Nothing about the citizen is in a
//! code, and it means nothing without the client secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::portal::SetupError;
use crate::session::sealed::Sealer;
use crate::session::SessionId;
use crate::shared::secret::Secret;

/// Associated data of sealed codes: a code never opens as anything else.
const CODE_AAD: &[u8] = b"g2p-gateway provider code v1";
/// Associated data of the session reference inside access tokens.
const SESSION_REF_AAD: &[u8] = b"g2p-gateway provider session v1";

/// What a code grants, sealed inside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    /// The gateway session (a bearer credential: only ever sealed).
    pub sid: String,
    /// The client the code was issued to.
    pub client_id: String,
    /// The redirect URI the code was sent to (must be repeated exactly).
    pub redirect_uri: String,
    /// PKCE S256 challenge, if the authorization request had one.
    pub code_challenge: Option<String>,
    /// The portal's nonce, echoed in the ID token.
    pub nonce: Option<String>,
    /// Unix time after which the code is refused.
    pub exp: u64,
    /// Unique id, for the replay set.
    pub jti: String,
}

/// Seals and opens codes and session references.
pub struct CodeSealer {
    sealer: Sealer,
}

impl CodeSealer {
    /// Derives 32-byte keys from the cookie keys (newest first), so rotating
    /// the cookie keys rotates these too without another secret to manage.
    pub fn new(cookie_keys: &[Secret<Vec<u8>>]) -> Result<CodeSealer, SetupError> {
        let derived: Vec<Secret<Vec<u8>>> = cookie_keys
            .iter()
            .map(|k| {
                let mut hash = Sha256::new();
                hash.update(b"g2p-gateway provider key\0");
                hash.update(k.expose());
                Secret::new(hash.finalize().to_vec())
            })
            .collect();
        Ok(CodeSealer {
            sealer: Sealer::new(&derived)?,
        })
    }

    /// The code for a grant (base64url text, ~300 characters).
    pub fn seal(&self, grant: &Grant) -> String {
        let json = serde_json::to_vec(grant).expect("a grant serialises");
        URL_SAFE_NO_PAD.encode(self.sealer.seal(CODE_AAD, &json))
    }

    /// The grant inside a code, if it opens (expiry is checked by the caller).
    pub fn open(&self, code: &str) -> Option<Grant> {
        let raw = URL_SAFE_NO_PAD.decode(code.as_bytes()).ok()?;
        let json = self.sealer.open(CODE_AAD, &raw).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// An opaque reference to a session, for an access token's claims.
    pub fn seal_session(&self, id: &SessionId) -> String {
        URL_SAFE_NO_PAD.encode(self.sealer.seal(SESSION_REF_AAD, id.as_str().as_bytes()))
    }

    /// The session an access token refers to.
    pub fn open_session(&self, reference: &str) -> Option<SessionId> {
        let raw = URL_SAFE_NO_PAD.decode(reference.as_bytes()).ok()?;
        let text = self.sealer.open(SESSION_REF_AAD, &raw).ok()?;
        SessionId::parse(std::str::from_utf8(&text).ok()?)
    }
}

/// PKCE S256 (RFC 7636): base64url(SHA-256(verifier)).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(key: u8) -> CodeSealer {
        CodeSealer::new(&[Secret::new(vec![key; 64])]).unwrap()
    }

    fn grant() -> Grant {
        Grant {
            sid: "V8wTYb9CQq0wL5tzfmkCJz2CUhdywI6PJw7e7mTzXQE".into(),
            client_id: "portal".into(),
            redirect_uri: "https://portal.example.org/oauth2/callback".into(),
            code_challenge: Some(s256("verifier")),
            nonce: Some("n".into()),
            exp: 1,
            jti: "j".into(),
        }
    }

    #[test]
    fn codes_round_trip_and_do_not_open_elsewhere() {
        let (a, b) = (sealer(1), sealer(2));
        let code = a.seal(&grant());
        assert_eq!(a.open(&code), Some(grant()));
        assert_eq!(b.open(&code), None, "another deployment's key");
        assert!(!code.contains("portal"), "sealed, not signed");
        let mut tampered = code.clone().into_bytes();
        tampered[20] ^= 1;
        assert_eq!(a.open(std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(
            a.open_session(&code),
            None,
            "a code is not a session reference"
        );
    }

    #[test]
    fn session_references_round_trip() {
        let s = sealer(3);
        let id = SessionId::random();
        assert_eq!(s.open_session(&s.seal_session(&id)), Some(id));
        assert_eq!(s.open(&s.seal_session(&id)), None);
    }

    #[test]
    fn s256_matches_rfc7636() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
