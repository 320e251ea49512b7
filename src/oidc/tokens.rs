//! The token request: exchanging the authorization code at the token endpoint.
//!
//! Sans-IO halves: [`token_form`] builds the form, [`parse_token_response`]
//! interprets the answer, so both are testable without a provider. e-Signet
//! has no refresh token; only `id_token` and `access_token` are read.

use serde::Deserialize;

use super::error::Error;

/// The client-assertion type URN (e-Signet accepts only this one).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Raw e-Signet error codes that e-Signet 1.4.1 answers with HTTP 500 though
/// they refuse the request (`ErrorConstants`, v1.4.1).
const REFUSALS_AS_500: [&str; 5] = [
    "pkce_failed",
    "invalid_pkce_code_verifier",
    "invalid_transaction",
    "invalid_assertion",
    // KYC exchange failure (`ErrorConstants.DATA_EXCHANGE_FAILED`).
    "data_exchange_failed",
];

/// The tokens the gateway keeps from a successful exchange.
#[derive(Debug)]
pub struct TokenSet {
    /// The ID token (compact JWS).
    pub id_token: String,
    /// The access token, used once for userinfo.
    pub access_token: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: Option<String>,
    token_type: String,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
}

/// The form fields of the token request.
pub fn token_form<'a>(
    code: &'a str,
    redirect_uri: &'a str,
    client_id: &'a str,
    assertion: &'a str,
    code_verifier: &'a str,
) -> [(&'static str, &'a str); 7] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
        ("code_verifier", code_verifier),
    ]
}

/// Interprets the token endpoint's answer.
///
/// A 4xx with an OAuth error is the provider refusing (bad code, bad
/// assertion); a 5xx or an unreadable answer is the provider failing.
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<TokenSet, Error> {
    if status == 200 {
        let parsed: TokenResponse = serde_json::from_slice(body).map_err(Error::NoTokens)?;
        if !parsed.token_type.eq_ignore_ascii_case("bearer") {
            return Err(Error::TokenType);
        }
        let id_token = parsed.id_token.ok_or(Error::NoIdToken)?;
        return Ok(TokenSet {
            id_token,
            access_token: parsed.access_token,
        });
    }
    let code = serde_json::from_slice::<ErrorResponse>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| "unreadable".into());
    // Keep only a safe, short code: never log what a provider echoes back.
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    match status {
        // e-Signet ≤ 1.6 answers some refusals with HTTP 500 and its raw
        // code (`ExceptionHandlerAdvice`, v1.4.1: PKCE and KYC failures):
        // a refused login, not an unavailable provider.
        500 if REFUSALS_AS_500.contains(&code.as_str()) => {
            Err(Error::TokenRefused { status, code })
        }
        400..=499 => Err(Error::TokenRefused { status, code }),
        _ => Err(Error::TokenEndpointFailed { status, code }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_needs_an_id_token_and_bearer_type() {
        let ok = br#"{"id_token":"a.b.c","access_token":"x.y.z","token_type":"Bearer","expires_in":3600}"#;
        let t = parse_token_response(200, ok).unwrap();
        assert_eq!(t.id_token, "a.b.c");
        let no_id = br#"{"access_token":"x","token_type":"Bearer"}"#;
        assert!(parse_token_response(200, no_id).is_err());
        let dpop = br#"{"id_token":"a","access_token":"x","token_type":"DPoP"}"#;
        assert!(parse_token_response(200, dpop).is_err());
    }

    #[test]
    fn errors_are_classified() {
        let e = parse_token_response(400, br#"{"error":"invalid_grant"}"#).unwrap_err();
        assert!(matches!(e, Error::TokenRefused { .. }));
        let e = parse_token_response(500, b"<html>").unwrap_err();
        assert!(matches!(e, Error::TokenEndpointFailed { .. }));
        // e-Signet 1.4.1 answers a PKCE failure with HTTP 500 (issue 13).
        let e = parse_token_response(500, br#"{"error":"pkce_failed"}"#).unwrap_err();
        assert!(matches!(e, Error::TokenRefused { .. }), "{e:?}");
        let e = parse_token_response(500, br#"{"error":"unknown_error"}"#).unwrap_err();
        assert!(matches!(e, Error::TokenEndpointFailed { .. }));
        let e = parse_token_response(200, b"garbage").unwrap_err();
        assert!(matches!(e, Error::NoTokens(_)));
        assert!(
            std::error::Error::source(&e).is_some(),
            "the parse error is kept"
        );
    }
}
