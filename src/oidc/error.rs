//! The relying party's errors.
//!
//! Every failure of discovery, the provider calls, the JWKS and the token
//! checks is one [`Error`] variant that keeps its cause (`source`). The RP
//! never decides what the client sees: [`crate::edge::error::GatewayError`] wraps
//! an [`Error`] and `src/error.rs` maps each variant to a status, a public
//! code and a login-failure metric label. Messages name what failed, never
//! the token, key or claim values themselves (they are logged).

use std::sync::Arc;

use jsonwebtoken::Algorithm;

use crate::shared::metrics::IdpEndpoint;

/// Which token a verification problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The ID token from the token endpoint.
    IdToken,
    /// The userinfo response (signed, or plain JSON when allowed).
    Userinfo,
    /// A back-channel logout token POSTed by the provider.
    LogoutToken,
}

impl std::fmt::Display for TokenKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenKind::IdToken => "ID token",
            TokenKind::Userinfo => "userinfo",
            TokenKind::LogoutToken => "logout token",
        })
    }
}

/// Why a token failed its checks.
#[derive(Debug, thiserror::Error)]
pub enum TokenProblem {
    /// The token is an encrypted JWE (five parts); only JWS is accepted.
    #[error("encrypted (JWE) tokens are not supported")]
    Encrypted,
    /// The JWS header cannot be read.
    #[error("unreadable or unsupported JWS header")]
    Header(#[source] jsonwebtoken::errors::Error),
    /// The header names an algorithm other than RS256 or PS256.
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(Algorithm),
    /// No candidate key verifies the signature.
    #[error("signature does not verify")]
    Signature,
    /// No candidate key was offered.
    #[error("no candidate key")]
    NoCandidateKey,
    /// No key could be found for a logout token (JWKS unavailable or no such kid).
    #[error("no usable signing key")]
    NoUsableKey(#[source] Box<Error>),
    /// The signature verifies but a standard check failed (exp, nbf, iss, aud…).
    #[error("{}", describe(.0))]
    Rejected(#[source] jsonwebtoken::errors::Error),
    /// A claim rule failed; the text names the rule, never the value.
    #[error("{0}")]
    Claim(&'static str),
    /// A logout token's `typ` header is not `logout+jwt` (or `JWT`).
    #[error("typ is not a logout token")]
    Typ,
    /// The body is not a JSON object (unsigned userinfo). The parser's
    /// error is dropped: it may quote the body, which is personal data.
    #[error("not a JSON object")]
    NotJson,
    /// The body is not UTF-8 text (signed userinfo).
    #[error("not text")]
    NotText(#[source] std::str::Utf8Error),
}

/// What went wrong in the relying party.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The extra CA bundle (`esignet.ca_file`) is not a PEM certificate bundle.
    #[error("esignet.ca_file: not a PEM certificate bundle")]
    CaBundle(#[source] reqwest::Error),
    /// The extra CA bundle (`esignet.ca_file`) holds no certificate.
    #[error("esignet.ca_file: holds no certificate")]
    EmptyCaBundle,
    /// The HTTP client for provider calls could not be built.
    #[error("cannot build the provider HTTP client")]
    Client(#[source] reqwest::Error),
    /// The client's private key (`esignet.private_key`) is not an RSA PEM key.
    #[error("client private key is not a usable RSA PEM key")]
    ClientKey(#[source] jsonwebtoken::errors::Error),
    /// The `private_key_jwt` client assertion could not be signed.
    #[error("cannot sign the client assertion")]
    SignAssertion(#[source] jsonwebtoken::errors::Error),
    /// A provider call failed on the wire (connect, timeout, body); the
    /// source has its URL removed (it may carry a query).
    #[error("{} call failed: {}", .endpoint.label(), transport_kind(.source))]
    Transport {
        /// The endpoint called.
        endpoint: IdpEndpoint,
        /// The client's error, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// A provider answer is larger than the gateway reads.
    #[error("{} call failed: response too large", .endpoint.label())]
    TooLarge {
        /// The endpoint called.
        endpoint: IdpEndpoint,
    },
    /// A provider endpoint answered an unexpected HTTP status.
    #[error("{} answered HTTP {status}", .endpoint.label())]
    Status {
        /// The endpoint called.
        endpoint: IdpEndpoint,
        /// The status it answered.
        status: u16,
    },
    /// Discovery failed a moment ago and is not retried yet.
    #[error("discovery failed recently; waiting before retrying")]
    DiscoveryBackoff,
    /// Explicit endpoints were configured but none are known (a bug).
    #[error("explicit endpoints missing")]
    NoEndpoints,
    /// The discovery document is not the expected JSON.
    #[error("discovery document is not valid")]
    DiscoveryJson(#[source] serde_json::Error),
    /// The discovery document has an empty `issuer`.
    #[error("discovery document has an empty issuer")]
    EmptyIssuer,
    /// A URL in the discovery document is unusable.
    #[error("discovery `{field}`: not an http(s) URL")]
    DiscoveryUrl {
        /// The document member.
        field: &'static str,
        /// Why it cannot be parsed, when it is not a URL at all.
        #[source]
        source: Option<url::ParseError>,
    },
    /// The JWKS is not the expected JSON.
    #[error("JWKS is not valid")]
    JwksJson(#[source] serde_json::Error),
    /// The JWKS could not be fetched and nothing is cached.
    #[error("JWKS unavailable")]
    JwksUnavailable(#[source] Arc<Error>),
    /// The JWKS has no key for this `kid` and `alg`, even after a refetch.
    #[error("no key for kid {kid:?} and alg {alg:?}")]
    UnknownKey {
        /// The token's kid.
        kid: Option<String>,
        /// The token's alg.
        alg: Algorithm,
    },
    /// The callback's `iss` is not the provider's issuer (RFC 9207 mix-up).
    #[error("callback iss is not the provider's issuer")]
    CallbackIssuer,
    /// The token endpoint refused the code or the client assertion.
    #[error("token endpoint refused the code: HTTP {status}, error {code}")]
    TokenRefused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code, reduced to `[A-Za-z0-9_]`, at most 64 characters.
        code: String,
    },
    /// The token endpoint failed (a 5xx that is not a refusal).
    #[error("token endpoint failed: HTTP {status}, error {code}")]
    TokenEndpointFailed {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code, reduced like [`Error::TokenRefused`]'s.
        code: String,
    },
    /// The token endpoint answered 200 without the expected members.
    #[error("token endpoint answered 200 without tokens")]
    NoTokens(#[source] serde_json::Error),
    /// The token endpoint issued a token type other than Bearer.
    #[error("unsupported token_type")]
    TokenType,
    /// The token response has no ID token.
    #[error("token response has no id_token")]
    NoIdToken,
    /// The userinfo endpoint refused the access token (401 or 403).
    #[error("userinfo refused the access token: HTTP {status}")]
    UserinfoRefused {
        /// The HTTP status.
        status: u16,
    },
    /// Userinfo is unsigned JSON and `insecure_allow_unsigned_userinfo` is off.
    #[error("userinfo is unsigned JSON and insecure_allow_unsigned_userinfo is off")]
    UnsignedUserinfo,
    /// A token failed verification.
    #[error("{kind} rejected")]
    Token {
        /// Which token.
        kind: TokenKind,
        /// Why.
        #[source]
        problem: TokenProblem,
    },
}

impl Error {
    /// A token problem about `kind`.
    pub fn token(kind: TokenKind) -> impl Fn(TokenProblem) -> Error + Copy {
        move |problem| Error::Token { kind, problem }
    }
}

/// reqwest errors print the URL, which may carry a query; name just the kind.
fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "bad response body"
    } else {
        "request failed"
    }
}

/// A readable reason for a standard JWT check that failed.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "token has expired".into(),
        ErrorKind::ImmatureSignature => "token is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "iss is not an accepted issuer".into(),
        ErrorKind::InvalidAudience => "aud is not this client".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("required claim {c} is missing"),
        ErrorKind::InvalidAlgorithm => "algorithm not accepted".into(),
        _ => "token rejected".into(),
    }
}
