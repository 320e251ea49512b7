//! The gateway's request-level errors and their one mapping to HTTP.
//!
//! Modules report failures in their own typed errors, which keep their
//! causes (`oidc::Error`, `identity::Error`, `session::StoreError`,
//! `provision::ProvisionError`); [`GatewayError`] wraps them, and this file
//! is the only place that decides the status code, the public code and the
//! login-failure metric label. `respond` renders the result as a page or
//! JSON (RFC 6749 JSON for the provider and back-channel endpoints), and
//! `Gateway::reject` logs it. Details (the cause chain, see `Chain`) go
//! to the log with the correlation id, never to the client.
//! [`StartupError`] does the same for building a gateway.

use http::StatusCode;

use crate::oidc;

/// Why a login could not be completed. The `label` is a bounded metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// The callback's `state` is unknown, expired or already used.
    UnknownState,
    /// The callback came from a browser other than the one that started the login.
    BrowserMismatch,
    /// The callback is missing `code` or `state`, or carries a wrong `iss`.
    MalformedCallback,
    /// The provider redirected back with `error` (the user cancelled, or e-Signet refused).
    ProviderRefused,
    /// The token endpoint refused the code or the client assertion.
    TokenRejected,
    /// The ID token failed a check (signature, iss, aud, exp, nonce, at_hash, sub).
    InvalidIdToken,
    /// The userinfo response failed a check (signature, `sub`).
    InvalidUserinfo,
    /// The claims could not be mapped to an OpenG2P identity.
    Mapping,
    /// The signing key for a token is not in the provider's JWKS.
    UnknownKey,
    /// The authenticated `acr` is weaker than the route requires.
    InsufficientAcr,
}

impl LoginFailure {
    /// Bounded label for `g2p_gateway_logins_failed_total{reason=…}`.
    pub fn label(self) -> &'static str {
        match self {
            Self::UnknownState => "unknown_state",
            Self::BrowserMismatch => "browser_mismatch",
            Self::MalformedCallback => "malformed_callback",
            Self::ProviderRefused => "provider_refused",
            Self::TokenRejected => "token_rejected",
            Self::InvalidIdToken => "invalid_id_token",
            Self::InvalidUserinfo => "invalid_userinfo",
            Self::Mapping => "mapping",
            Self::UnknownKey => "unknown_key",
            Self::InsufficientAcr => "insufficient_acr",
        }
    }
}

/// An error code of the gateway's own OpenID provider (RFC 6749 §5.2,
/// RFC 6750 §3.1), answered to portals as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    /// The request is malformed (body missing or too large).
    InvalidRequest,
    /// The portal's client authentication failed.
    InvalidClient,
    /// The code does not open, expired, was replayed, or its session ended.
    InvalidGrant,
    /// A grant type other than `authorization_code`.
    UnsupportedGrantType,
    /// The access token is missing or invalid, or its session ended.
    InvalidToken,
    /// The gateway could not sign a token.
    ServerError,
    /// The session store cannot be reached.
    TemporarilyUnavailable,
}

impl OAuthCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status: 401 for client and token failures (with a Bearer
    /// challenge), 500/503 for the gateway's own, 400 otherwise.
    fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidRequest | Self::InvalidGrant | Self::UnsupportedGrantType => {
                StatusCode::BAD_REQUEST
            }
        }
    }
}

/// What went wrong with a request, from the client's point of view.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request itself is malformed (bad path, bad parameters).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No route matches the request.
    #[error("no route for this request")]
    NoRoute,
    /// A protected route was requested without a valid session by an API client.
    #[error("login required")]
    LoginRequired,
    /// A stronger authentication (`acr`) is needed; API clients get an RFC 9470
    /// step-up challenge.
    #[error("step-up authentication required")]
    StepUpRequired {
        /// The acrs that would pass.
        acr_values: Vec<String>,
    },
    /// Access is denied to the logged-in user.
    #[error("access denied: {0}")]
    Forbidden(String),
    /// A login could not be completed.
    #[error("login failed ({}): {detail}", .reason.label())]
    LoginFailed {
        /// The bounded reason.
        reason: LoginFailure,
        /// Details for the log only.
        detail: String,
    },
    /// The request's headers or body are larger than allowed.
    #[error("request too large: {0}")]
    TooLarge(&'static str),
    /// This client sent too many login requests; it should slow down.
    #[error("rate limited: {0}")]
    RateLimited(&'static str),
    /// Too many logins are in progress; the gateway sheds new ones.
    #[error("too many logins in progress")]
    Overloaded,
    /// The upstream did not answer in time.
    #[error("upstream timed out: {0}")]
    UpstreamTimeout(String),
    /// The upstream could not be reached or failed.
    #[error("upstream unavailable: {0}")]
    UpstreamUnavailable(String),
    /// The shared session store (Redis) cannot be reached: nobody is let in
    /// without a session that could be checked.
    #[error(transparent)]
    SessionStoreUnavailable(#[from] crate::session::StoreError),
    /// The login worked, but the portal could not set up the citizen's
    /// account (gateway-driven `/oauth2/callback`); the next login retries.
    #[error("portal setup failed")]
    PortalSetupFailed(ProvisionError),
    /// A bug or an unexpected local failure.
    #[error("internal error: {0}")]
    Internal(String),
    /// The OpenID Connect relying party failed; `rp_class` decides what
    /// the client sees.
    #[error(transparent)]
    Oidc(#[from] oidc::Error),
    /// The identity for the upstream could not be minted (signing failed):
    /// a local failure, answered like [`GatewayError::Internal`].
    #[error(transparent)]
    Identity(#[from] crate::identity::Error),
    /// The gateway's own OpenID provider refused a portal's request; answered
    /// as RFC 6749 JSON by [`crate::edge::respond::Reply::oauth_error`].
    #[error("{}: {detail}", .code.as_str())]
    OAuth {
        /// The OAuth error code.
        code: OAuthCode,
        /// Details for the log only.
        detail: String,
    },
}

/// Why a gateway could not be built: at startup (the process exits) or at a
/// reload (the old gateway stays). Each variant keeps its cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The relying party cannot be set up (client key, CA bundle, HTTP client).
    #[error(transparent)]
    Rp(#[from] oidc::Error),
    /// The identity minter cannot be set up (signing keys, header names).
    #[error(transparent)]
    Identity(#[from] crate::identity::Error),
    /// The session cookies or the session store cannot be set up.
    #[error(transparent)]
    Session(#[from] crate::session::SetupError),
    /// The provider role cannot be set up.
    #[error(transparent)]
    Provider(#[from] crate::identity::portal::SetupError),
    /// A listen address with port 0 cannot be given a free port.
    #[error("cannot bind {addr}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key (`server.tls`) cannot be loaded.
    #[error("server.tls: cannot load the certificate or key")]
    Tls(#[source] Box<pingora::Error>),
    /// A route names an upstream that does not exist (config validation
    /// refuses this first; kept so the gateway never builds without one).
    #[error("route {route} names no upstream {upstream}")]
    UnknownUpstream {
        /// The route's name.
        route: String,
        /// The upstream it names.
        upstream: String,
    },
}

/// What a relying-party error means to the client: one of the request-level
/// answers above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RpClass {
    /// Answered as [`GatewayError::LoginFailed`] with this reason.
    Login(LoginFailure),
    /// Answered as `identity_provider_unavailable` (502).
    ProviderUnavailable,
    /// Answered as [`GatewayError::BadRequest`] (a bad back-channel logout token).
    BadRequest,
    /// Answered as [`GatewayError::Internal`] (local setup: keys, HTTP client).
    Internal,
}

/// The one decision of what each relying-party failure is for the client.
fn rp_class(error: &oidc::Error) -> RpClass {
    use oidc::Error as E;
    match error {
        E::CaBundle(_) | E::EmptyCaBundle | E::Client(_) | E::ClientKey(_) => RpClass::Internal,
        E::SignAssertion(_) | E::NoEndpoints => RpClass::Internal,
        E::Transport { .. }
        | E::TooLarge { .. }
        | E::Status { .. }
        | E::DiscoveryBackoff
        | E::DiscoveryJson(_)
        | E::EmptyIssuer
        | E::DiscoveryUrl { .. }
        | E::JwksJson(_)
        | E::JwksUnavailable(_)
        | E::TokenEndpointFailed { .. }
        | E::NoTokens(_) => RpClass::ProviderUnavailable,
        E::UnknownKey { .. } => RpClass::Login(LoginFailure::UnknownKey),
        E::CallbackIssuer => RpClass::Login(LoginFailure::MalformedCallback),
        E::TokenRefused { .. } | E::TokenType => RpClass::Login(LoginFailure::TokenRejected),
        E::NoIdToken => RpClass::Login(LoginFailure::InvalidIdToken),
        E::UserinfoRefused { .. } | E::UnsignedUserinfo => {
            RpClass::Login(LoginFailure::InvalidUserinfo)
        }
        E::Token { kind, .. } => match kind {
            oidc::TokenKind::IdToken => RpClass::Login(LoginFailure::InvalidIdToken),
            oidc::TokenKind::Userinfo => RpClass::Login(LoginFailure::InvalidUserinfo),
            oidc::TokenKind::LogoutToken => RpClass::BadRequest,
        },
    }
}

/// Why a portal could not set up the citizen's account. The one-time code
/// is never in the message (reqwest's URL is dropped from the cause).
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// `provider.clients.<id>.provision.upstream` names no upstream.
    #[error("{client_id}: no such upstream")]
    NoUpstream {
        /// The portal's client id.
        client_id: String,
    },
    /// The portal's callback could not be reached or timed out.
    #[error("{client_id}: portal callback unreachable")]
    Unreachable {
        /// The portal's client id.
        client_id: String,
        /// The client's error, without its URL (it carries the code).
        #[source]
        source: reqwest::Error,
    },
    /// The portal answered without redirecting (it refused or failed).
    #[error("{client_id}: portal callback answered {status}: {text}")]
    Refused {
        /// The portal's client id.
        client_id: String,
        /// The portal's status.
        status: http::StatusCode,
        /// A bounded prefix of the portal's answer (its error text names no
        /// personal data, e.g. "Partner Not Found in Registry").
        text: String,
    },
    /// The new session could not be removed again after a failure (the
    /// edge answers this as the store being unavailable).
    #[error("the session store failed while undoing the login")]
    Store(#[from] crate::session::StoreError),
}

impl From<ProvisionError> for GatewayError {
    /// A portal's failure is `portal_setup_failed`; the store failing while
    /// the login is undone is the store being unavailable.
    fn from(error: ProvisionError) -> Self {
        match error {
            ProvisionError::Store(e) => GatewayError::SessionStoreUnavailable(e),
            other => GatewayError::PortalSetupFailed(other),
        }
    }
}

impl GatewayError {
    /// Shorthand for a refusal of the gateway's own provider.
    pub fn oauth(code: OAuthCode, detail: impl Into<String>) -> Self {
        GatewayError::OAuth {
            code,
            detail: detail.into(),
        }
    }

    /// Shorthand for a login failure.
    pub fn login(reason: LoginFailure, detail: impl Into<String>) -> Self {
        GatewayError::LoginFailed {
            reason,
            detail: detail.into(),
        }
    }

    /// Why a login failed, for `g2p_gateway_logins_failed_total`; `None`
    /// when this is not a failed login.
    pub fn login_failure(&self) -> Option<LoginFailure> {
        match self {
            Self::LoginFailed { reason, .. } => Some(*reason),
            Self::Oidc(e) => match rp_class(e) {
                RpClass::Login(reason) => Some(reason),
                _ => None,
            },
            _ => None,
        }
    }

    /// The RFC 6749 §5.2 `error` for endpoints that answer OAuth-style JSON
    /// (back-channel logout, OpenID Back-Channel Logout §2.8):
    /// `temporarily_unavailable` when the gateway or its dependencies
    /// failed, `invalid_request` when the request did.
    pub fn oauth_code(&self) -> &'static str {
        if let Self::OAuth { code, .. } = self {
            code.as_str()
        } else if self.status().is_server_error() {
            "temporarily_unavailable"
        } else {
            "invalid_request"
        }
    }

    /// The HTTP status sent to the client.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::LoginRequired | Self::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::LoginFailed { reason, .. } => login_status(*reason),
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge("headers") => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UpstreamUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::SessionStoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::PortalSetupFailed(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) | Self::Identity(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::OAuth { code, .. } => code.status(),
            Self::Oidc(e) => match rp_class(e) {
                RpClass::Login(reason) => login_status(reason),
                RpClass::ProviderUnavailable => StatusCode::BAD_GATEWAY,
                RpClass::BadRequest => StatusCode::BAD_REQUEST,
                RpClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// A stable, machine-readable code for API clients.
    pub fn public_code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NoRoute => "not_found",
            Self::LoginRequired => "login_required",
            Self::StepUpRequired { .. } => "insufficient_user_authentication",
            Self::Forbidden(_) => "forbidden",
            Self::LoginFailed { reason, .. } => login_code(*reason),
            Self::Overloaded => "overloaded",
            Self::RateLimited(_) => "rate_limited",
            Self::TooLarge(_) => "request_too_large",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::SessionStoreUnavailable(_) => "session_store_unavailable",
            Self::PortalSetupFailed(_) => "portal_setup_failed",
            Self::Internal(_) | Self::Identity(_) => "internal_error",
            Self::OAuth { code, .. } => code.as_str(),
            Self::Oidc(e) => match rp_class(e) {
                RpClass::Login(reason) => login_code(reason),
                RpClass::ProviderUnavailable => "identity_provider_unavailable",
                RpClass::BadRequest => "bad_request",
                RpClass::Internal => "internal_error",
            },
        }
    }
}

/// The status of a failed login.
fn login_status(reason: LoginFailure) -> StatusCode {
    match reason {
        LoginFailure::UnknownState
        | LoginFailure::BrowserMismatch
        | LoginFailure::MalformedCallback => StatusCode::BAD_REQUEST,
        LoginFailure::InsufficientAcr => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// The public code of a failed login.
fn login_code(reason: LoginFailure) -> &'static str {
    match reason {
        LoginFailure::UnknownState => "login_expired",
        LoginFailure::BrowserMismatch => "login_browser_mismatch",
        LoginFailure::ProviderRefused => "login_cancelled",
        LoginFailure::InsufficientAcr => "insufficient_authentication",
        _ => "login_failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::errors::Chain;
    use crate::shared::pages::{self, Lang};

    #[test]
    fn public_messages_never_echo_details() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.secret";
        let errors = [
            GatewayError::BadRequest(secret.into()),
            GatewayError::login(LoginFailure::InvalidIdToken, secret),
            GatewayError::Internal(secret.into()),
        ];
        for e in errors {
            for lang in [Lang::En, Lang::Fr] {
                let text = pages::text(e.public_code(), lang);
                assert!(!text.title.contains(secret) && !text.message.contains(secret));
            }
            assert!(!e.public_code().contains(secret));
        }
    }

    #[test]
    fn callback_problems_are_client_errors_and_verification_failures_are_401() {
        assert_eq!(
            GatewayError::login(LoginFailure::UnknownState, "").status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            GatewayError::login(LoginFailure::InvalidIdToken, "").status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            GatewayError::from(oidc::Error::DiscoveryBackoff).status(),
            StatusCode::BAD_GATEWAY
        );
    }

    /// Each relying-party failure answers exactly as its string-typed
    /// predecessor did: same status, public code and metric label.
    #[test]
    fn relying_party_errors_map_as_before() {
        use crate::shared::metrics::IdpEndpoint;
        use oidc::{Error as E, TokenKind, TokenProblem};
        let jwt =
            || jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidToken);
        let json = || serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err();
        let token = |kind| E::Token {
            kind,
            problem: TokenProblem::Signature,
        };
        let cases: Vec<(E, u16, &str, Option<&str>)> = vec![
            (
                E::CallbackIssuer,
                400,
                "login_failed",
                Some("malformed_callback"),
            ),
            (
                E::TokenRefused {
                    status: 400,
                    code: "invalid_grant".into(),
                },
                401,
                "login_failed",
                Some("token_rejected"),
            ),
            (E::TokenType, 401, "login_failed", Some("token_rejected")),
            (
                E::TokenEndpointFailed {
                    status: 500,
                    code: "x".into(),
                },
                502,
                "identity_provider_unavailable",
                None,
            ),
            (
                E::NoTokens(json()),
                502,
                "identity_provider_unavailable",
                None,
            ),
            (E::NoIdToken, 401, "login_failed", Some("invalid_id_token")),
            (
                token(TokenKind::IdToken),
                401,
                "login_failed",
                Some("invalid_id_token"),
            ),
            (
                token(TokenKind::Userinfo),
                401,
                "login_failed",
                Some("invalid_userinfo"),
            ),
            (token(TokenKind::LogoutToken), 400, "bad_request", None),
            (
                E::UserinfoRefused { status: 403 },
                401,
                "login_failed",
                Some("invalid_userinfo"),
            ),
            (
                E::UnsignedUserinfo,
                401,
                "login_failed",
                Some("invalid_userinfo"),
            ),
            (
                E::Status {
                    endpoint: IdpEndpoint::Userinfo,
                    status: 500,
                },
                502,
                "identity_provider_unavailable",
                None,
            ),
            (
                E::UnknownKey {
                    kid: Some("k".into()),
                    alg: jsonwebtoken::Algorithm::RS256,
                },
                401,
                "login_failed",
                Some("unknown_key"),
            ),
            (
                E::JwksUnavailable(std::sync::Arc::new(E::DiscoveryBackoff)),
                502,
                "identity_provider_unavailable",
                None,
            ),
            (
                E::DiscoveryBackoff,
                502,
                "identity_provider_unavailable",
                None,
            ),
            (
                E::DiscoveryJson(json()),
                502,
                "identity_provider_unavailable",
                None,
            ),
            (E::SignAssertion(jwt()), 500, "internal_error", None),
            (E::NoEndpoints, 500, "internal_error", None),
        ];
        for (rp, status, code, label) in cases {
            let what = format!("{rp:?}");
            let e = GatewayError::from(rp);
            assert_eq!(e.status().as_u16(), status, "{what}");
            assert_eq!(e.public_code(), code, "{what}");
            assert_eq!(e.login_failure().map(LoginFailure::label), label, "{what}");
        }
    }

    #[test]
    fn a_wrapped_relying_party_error_keeps_its_cause_chain() {
        let parse = serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err();
        let e = GatewayError::from(oidc::Error::NoTokens(parse));
        let cause = std::error::Error::source(&e).expect("the JSON error is kept");
        assert!(cause.is::<serde_json::Error>());
        let logged = Chain(&e).to_string();
        assert!(
            logged.starts_with("token endpoint answered 200 without tokens: "),
            "{logged}"
        );

        let token = oidc::Error::Token {
            kind: oidc::TokenKind::IdToken,
            problem: oidc::TokenProblem::Rejected(
                jsonwebtoken::errors::ErrorKind::ExpiredSignature.into(),
            ),
        };
        let logged = Chain(&GatewayError::from(token)).to_string();
        assert!(
            logged.starts_with("ID token rejected: token has expired"),
            "{logged}"
        );
    }

    #[test]
    fn back_channel_answers_use_oauth_codes() {
        let bad = GatewayError::from(oidc::Error::Token {
            kind: oidc::TokenKind::LogoutToken,
            problem: oidc::TokenProblem::Typ,
        });
        assert_eq!(bad.oauth_code(), "invalid_request");
        let down = GatewayError::from(crate::session::StoreError::Failed {
            op: "session",
            cause: std::sync::Arc::new(std::io::Error::other("connection refused")),
        });
        assert_eq!(down.oauth_code(), "temporarily_unavailable");
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.public_code(), "session_store_unavailable");
        assert_eq!(
            Chain(&down).to_string(),
            "session store: session failed: connection refused"
        );
    }

    #[test]
    fn a_minting_failure_is_an_internal_error_with_its_cause() {
        let e = GatewayError::from(crate::identity::Error::Sign(
            jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into(),
        ));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.public_code(), "internal_error");
        assert!(std::error::Error::source(&e).is_some());
    }
}
