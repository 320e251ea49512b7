//! The authorization request: the URL a browser is sent to for login.
//!
//! Values are percent-encoded with `%20` for spaces (not `+`): e-Signet's UI
//! decodes `claims` with `decodeURI`, which leaves `+` alone.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::config::EsignetSettings;

/// Everything but RFC 3986 unreserved characters is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The per-login values that go into the authorization request.
pub struct AuthorizeParams<'a> {
    /// The opaque state (also the key of the pending login).
    pub state: &'a str,
    /// The nonce the ID token must echo.
    pub nonce: &'a str,
    /// PKCE S256 challenge.
    pub code_challenge: &'a str,
    /// The redirect URI (the gateway's callback).
    pub redirect_uri: &'a str,
    /// `acr_values` for this login (route-specific for step-up).
    pub acr_values: &'a [String],
}

/// The OIDC `claims` parameter requesting the configured user claims.
pub fn claims_parameter(settings: &EsignetSettings) -> serde_json::Value {
    let mut userinfo = serde_json::Map::new();
    for claim in &settings.user_claims {
        let essential = settings.essential_claims.contains(claim);
        userinfo.insert(claim.clone(), serde_json::json!({ "essential": essential }));
    }
    serde_json::json!({ "userinfo": userinfo, "id_token": {} })
}

/// Builds the authorization URL.
pub fn authorize_url(
    endpoint: &Url,
    settings: &EsignetSettings,
    p: &AuthorizeParams<'_>,
) -> String {
    let claims = claims_parameter(settings).to_string();
    let scope = settings.scope.join(" ");
    let acr = p.acr_values.join(" ");
    let claims_locales = settings.claims_locales.join(" ");
    let ui_locales = settings.ui_locales.join(" ");
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &settings.client_id),
        ("redirect_uri", p.redirect_uri),
        ("scope", &scope),
        ("state", p.state),
        ("nonce", p.nonce),
        ("code_challenge", p.code_challenge),
        ("code_challenge_method", "S256"),
    ];
    if !acr.is_empty() {
        pairs.push(("acr_values", &acr));
    }
    if !settings.user_claims.is_empty() {
        pairs.push(("claims", &claims));
    }
    if !claims_locales.is_empty() {
        pairs.push(("claims_locales", &claims_locales));
    }
    if !ui_locales.is_empty() {
        pairs.push(("ui_locales", &ui_locales));
    }
    if let Some(prompt) = &settings.prompt {
        pairs.push(("prompt", prompt));
    }
    if let Some(display) = &settings.display {
        pairs.push(("display", display));
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&");
    let mut url = endpoint.to_string();
    url.push(if endpoint.query().is_some() { '&' } else { '?' });
    url.push_str(&query);
    url
}
