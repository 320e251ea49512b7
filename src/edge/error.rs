//! The gateway's request-level errors and their one mapping to HTTP.
//!
//! Every module reports failures as a [`GatewayError`]. `respond` turns it
//! into a page or JSON; this file is the only place that decides the status
//! code, the public code and the public message. Details (the `source`) go to
//! the log with the correlation id, never to the client.

use http::StatusCode;

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
    /// The identity provider could not be reached or answered nonsense.
    #[error("identity provider unavailable: {0}")]
    ProviderUnavailable(String),
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
    #[error("session store unavailable: {0}")]
    SessionStoreUnavailable(String),
    /// The login worked, but the portal could not set up the citizen's
    /// account (gateway-driven `/oauth2/callback`); the next login retries.
    #[error("portal setup failed: {0}")]
    PortalSetupFailed(String),
    /// A bug or an unexpected local failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl GatewayError {
    /// Shorthand for a login failure.
    pub fn login(reason: LoginFailure, detail: impl Into<String>) -> Self {
        GatewayError::LoginFailed {
            reason,
            detail: detail.into(),
        }
    }

    /// The HTTP status sent to the client.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::LoginRequired | Self::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::LoginFailed { reason, .. } => match reason {
                LoginFailure::UnknownState
                | LoginFailure::BrowserMismatch
                | LoginFailure::MalformedCallback => StatusCode::BAD_REQUEST,
                LoginFailure::InsufficientAcr => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            },
            Self::ProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge("headers") => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UpstreamUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::SessionStoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::PortalSetupFailed(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::LoginFailed { reason, .. } => match reason {
                LoginFailure::UnknownState => "login_expired",
                LoginFailure::BrowserMismatch => "login_browser_mismatch",
                LoginFailure::ProviderRefused => "login_cancelled",
                LoginFailure::InsufficientAcr => "insufficient_authentication",
                _ => "login_failed",
            },
            Self::ProviderUnavailable(_) => "identity_provider_unavailable",
            Self::Overloaded => "overloaded",
            Self::RateLimited(_) => "rate_limited",
            Self::TooLarge(_) => "request_too_large",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::SessionStoreUnavailable(_) => "session_store_unavailable",
            Self::PortalSetupFailed(_) => "portal_setup_failed",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<crate::session::StoreError> for GatewayError {
    fn from(e: crate::session::StoreError) -> Self {
        GatewayError::SessionStoreUnavailable(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::pages::{self, Lang};

    #[test]
    fn public_messages_never_echo_details() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.secret";
        let errors = [
            GatewayError::BadRequest(secret.into()),
            GatewayError::login(LoginFailure::InvalidIdToken, secret),
            GatewayError::ProviderUnavailable(secret.into()),
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
            GatewayError::ProviderUnavailable(String::new()).status(),
            StatusCode::BAD_GATEWAY
        );
    }
}
