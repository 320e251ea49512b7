//! Verification of the ID token and the userinfo JWS.
//!
//! Pure functions over the token text and candidate keys; the caller picks the
//! keys from the JWKS by the header's `kid` and `alg`. The rules follow OIDC
//! Core §3.1.3.7 with e-Signet's shapes (reference §4, §5): RS256 and PS256
//! only (never `none` or HS*), `iss` among the accepted issuers, `aud` exactly
//! the client, `exp`/`iat` within the allowed skew, `nonce` equal to the one
//! sent, `at_hash` checked when present, `sub` present. Userinfo carries no
//! `iss`/`exp` with MOSIP IDA, so only its signature, its `sub` and, when
//! present, `aud` and `exp` are checked.

use std::time::Duration;

use crate::shared::clock::now_secs;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::error::TokenKind;
use super::error::TokenProblem;
use crate::shared::secret::constant_time_eq;

/// Claims of a verified token.
pub type Claims = Map<String, Value>;

/// Signature algorithms accepted from the provider.
pub const ACCEPTED_ALGS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::PS256];

/// The header facts needed to pick keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsHeader {
    /// Signature algorithm (one of [`ACCEPTED_ALGS`]).
    pub alg: Algorithm,
    /// Key id, if any.
    pub kid: Option<String>,
}

/// Reads a compact JWS header, refusing anything but RS256/PS256.
pub fn inspect_header(token: &str) -> Result<JwsHeader, TokenProblem> {
    if token.split('.').count() == 5 {
        return Err(TokenProblem::Encrypted);
    }
    let header = jsonwebtoken::decode_header(token).map_err(TokenProblem::Header)?;
    if !ACCEPTED_ALGS.contains(&header.alg) {
        return Err(TokenProblem::Algorithm(header.alg));
    }
    Ok(JwsHeader {
        alg: header.alg,
        kid: header.kid,
    })
}

/// What an ID token must satisfy.
pub struct IdTokenExpectations<'a> {
    /// Accepted `iss` values.
    pub issuers: &'a [String],
    /// The client id (`aud`).
    pub client_id: &'a str,
    /// The nonce sent at authorize.
    pub nonce: &'a str,
    /// The access token from the same response (for `at_hash`).
    pub access_token: &'a str,
    /// Allowed clock skew.
    pub clock_skew: Duration,
}

/// Verifies an ID token and returns its claims.
pub fn verify_id_token(
    token: &str,
    header: &JwsHeader,
    keys: &[DecodingKey],
    expect: &IdTokenExpectations<'_>,
) -> Result<Claims, Error> {
    let fail = Error::token(TokenKind::IdToken);
    let mut validation = Validation::new(header.alg);
    validation.leeway = expect.clock_skew.as_secs();
    validation.set_issuer(expect.issuers);
    validation.set_audience(&[expect.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    let claims = verify_with_any_key(token, keys, &validation).map_err(fail)?;

    check_audience_is_only_us(&claims, expect.client_id).map_err(fail)?;
    check_iat(&claims, expect.clock_skew).map_err(fail)?;
    match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(fail(TokenProblem::Claim("sub is missing or empty"))),
    }
    match claims.get("nonce") {
        Some(Value::String(n)) if constant_time_eq(n.as_bytes(), expect.nonce.as_bytes()) => {}
        Some(_) => return Err(fail(TokenProblem::Claim("nonce does not match"))),
        None => return Err(fail(TokenProblem::Claim("nonce is missing"))),
    }
    if let Some(at_hash) = claims.get("at_hash") {
        let expected = at_hash_of(expect.access_token);
        let ok = at_hash
            .as_str()
            .is_some_and(|h| constant_time_eq(h.as_bytes(), expected.as_bytes()));
        if !ok {
            return Err(fail(TokenProblem::Claim(
                "at_hash does not match the access token",
            )));
        }
    }
    Ok(claims)
}

/// Verifies a signed userinfo response and returns its claims.
pub fn verify_userinfo(
    token: &str,
    header: &JwsHeader,
    keys: &[DecodingKey],
    client_id: &str,
    expected_sub: &str,
    clock_skew: Duration,
) -> Result<Claims, Error> {
    let fail = Error::token(TokenKind::Userinfo);
    let mut validation = Validation::new(header.alg);
    validation.leeway = clock_skew.as_secs();
    validation.set_required_spec_claims::<&str>(&[]);
    // `aud` and `exp` are checked when present and not required.
    validation.set_audience(&[client_id]);
    let claims = verify_with_any_key(token, keys, &validation).map_err(fail)?;
    check_userinfo_sub(&claims, expected_sub).map_err(fail)?;
    Ok(claims)
}

/// Accepts an unsigned userinfo JSON object (only when configured to).
pub fn unsigned_userinfo(body: &[u8], expected_sub: &str) -> Result<Claims, Error> {
    let fail = Error::token(TokenKind::Userinfo);
    let claims: Claims = serde_json::from_slice(body).map_err(|_| fail(TokenProblem::NotJson))?;
    check_userinfo_sub(&claims, expected_sub).map_err(fail)?;
    Ok(claims)
}

fn check_userinfo_sub(claims: &Claims, expected_sub: &str) -> Result<(), TokenProblem> {
    match claims.get("sub") {
        Some(Value::String(s)) if s == expected_sub => Ok(()),
        _ => Err(TokenProblem::Claim(
            "userinfo sub does not match the ID token",
        )),
    }
}

/// Tries each candidate key; a signature mismatch moves on to the next key,
/// any other failure (expired, wrong issuer…) is final.
pub(crate) fn verify_with_any_key(
    token: &str,
    keys: &[DecodingKey],
    validation: &Validation,
) -> Result<Claims, TokenProblem> {
    let mut last = TokenProblem::NoCandidateKey;
    for key in keys {
        match jsonwebtoken::decode::<Claims>(token, key, validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                last = TokenProblem::Signature;
            }
            Err(e) => return Err(TokenProblem::Rejected(e)),
        }
    }
    Err(last)
}

/// Several audiences are allowed only if every one is this client.
fn check_audience_is_only_us(claims: &Claims, client_id: &str) -> Result<(), TokenProblem> {
    match claims.get("aud") {
        Some(Value::String(a)) if a == client_id => Ok(()),
        Some(Value::Array(list)) if list.iter().all(|a| a.as_str() == Some(client_id)) => Ok(()),
        _ => Err(TokenProblem::Claim(
            "aud names other parties than this client",
        )),
    }
}

fn check_iat(claims: &Claims, skew: Duration) -> Result<(), TokenProblem> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or(TokenProblem::Claim("iat is missing"))?;
    let now = now_secs() as f64;
    if iat > now + skew.as_secs_f64() {
        return Err(TokenProblem::Claim("iat is in the future"));
    }
    Ok(())
}

/// `at_hash`: base64url of the left half of SHA-256 over the access token
/// (e-Signet always uses SHA-256, and so do RS256 and PS256).
pub fn at_hash_of(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_refuses_none_hs256_and_jwe() {
        // {"alg":"none"} . {} .
        assert!(inspect_header("eyJhbGciOiJub25lIn0.e30.").is_err());
        // {"alg":"HS256","typ":"JWT"}
        assert!(inspect_header("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig").is_err());
        assert!(inspect_header("a.b.c.d.e").is_err());
        assert!(inspect_header("garbage").is_err());
        // {"alg":"PS256","kid":"k"}
        let h = inspect_header("eyJhbGciOiJQUzI1NiIsImtpZCI6ImsifQ.e30.sig").unwrap();
        assert_eq!(h.alg, Algorithm::PS256);
        assert_eq!(h.kid.as_deref(), Some("k"));
    }

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core A.3: access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" → "77QmUPtjPfzWtF2AnpK9RQ".
        assert_eq!(
            at_hash_of("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn audience_must_be_only_this_client() {
        let mut c = Claims::new();
        c.insert("aud".into(), Value::from("me"));
        assert!(check_audience_is_only_us(&c, "me").is_ok());
        c.insert("aud".into(), serde_json::json!(["me", "other"]));
        assert!(check_audience_is_only_us(&c, "me").is_err());
    }
}
