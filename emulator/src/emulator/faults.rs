//! Switchable misbehaviour, for the gateway's negative tests. Set with
//! [`Emulator::set_faults`](super::Emulator::set_faults); each fault is read when the affected
//! response is produced (ID token: at the token call; userinfo: at the userinfo call; ACR
//! fallback: when the login completes).

/// All faults; the default is a well-behaved e-Signet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Corrupt the ID token in this way.
    pub id_token: Option<IdTokenFault>,
    /// Corrupt the userinfo response in this way.
    pub userinfo: Option<UserinfoFault>,
    /// Make the token endpoint fail in this way (no code is consumed).
    pub token_endpoint: Option<TokenEndpointFault>,
    /// Ignore the requested/used ACR and put this one in the ID token, like e-Signet's silent
    /// fallback to the client's registered ACRs.
    pub acr_fallback: Option<String>,
    /// The JWKS endpoints answer 503.
    pub jwks_unavailable: bool,
}

/// Ways to corrupt the ID token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenFault {
    /// Signed by an unpublished key, but with the published e-Signet `kid`.
    BadSignature,
    /// `iss` is not the issuer.
    WrongIssuer,
    /// `aud` is another client.
    WrongAudience,
    /// `exp` 10 minutes in the past.
    Expired,
    /// `iat` 10 minutes in the future.
    IssuedInFuture,
    /// `nonce` differs from the one sent at authorize.
    NonceMismatch,
    /// No `nonce` member at all.
    MissingNonce,
    /// Signed by an unpublished key under an unpublished `kid`.
    UnknownKid,
    /// Header `alg: none` and an empty signature.
    AlgNone,
    /// Algorithm confusion: HS256, MAC keyed with the PEM of e-Signet's public key.
    Hs256WithPublicKey,
    /// `at_hash` does not match the access token.
    WrongAtHash,
    /// No `sub`.
    MissingSub,
}

/// Ways to corrupt the userinfo response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserinfoFault {
    /// `sub` differs from the ID token's.
    SubMismatch,
    /// Plain `application/json` instead of a JWS.
    UnsignedJson,
    /// Signed by an unpublished key, with the ID system's `kid`.
    BadSignature,
    /// Signed by an unpublished key under an unpublished `kid`.
    UnknownKid,
    /// Behave like an OpenID provider that signs userinfo only when asked: without
    /// `Accept: application/jwt` the answer is plain `application/json` (e-Signet itself always
    /// signs).
    SignedOnlyWhenAsked,
}

/// Ways for the token endpoint to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenEndpointFault {
    /// HTTP 500 with `{"error":"unknown_error"}`.
    ServerError,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// This HTTP status with `{"error":"unknown_error"}`.
    Status(u16),
    /// The ID system's KYC exchange fails after every check passed: e-Signet 1.4.1 answers
    /// HTTP 500 `data_exchange_failed` (`OAuthServiceImpl.getTokens`, v1.4.1), 1.8 HTTP 400
    /// `invalid_request`.
    KycExchangeFailed,
    /// Answer normally, but only after this long (a provider slower than the gateway's
    /// `esignet.http_timeout`). The code is consumed when the answer is produced.
    Delay(std::time::Duration),
}
