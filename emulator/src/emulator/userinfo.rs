//! `GET /v1/esignet/oidc/userinfo`: the KYC the ID system released for an access token, as a
//! JWS signed by the **ID system's** key (reference §5). Callable repeatedly while the access
//! token lives.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::claims::userinfo_claims;
use super::config::EsignetVersion;
use super::faults::UserinfoFault;
use super::jose::psut;
use super::state::{lock, now, Shared};

/// The userinfo handler.
pub(crate) async fn userinfo(State(app): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let asks_for_jwt = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/jwt"));
    // e-Signet takes the second space-separated part of the Authorization header.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    let Some(token) = token else {
        return unauthorized();
    };
    let grant = lock(&app.store).access_tokens.get(&token).cloned();
    let Some(grant) = grant.filter(|g| g.expires > now()) else {
        return unauthorized();
    };
    let Some(identity) = app.identity(&grant.individual_id) else {
        return unauthorized();
    };
    let fault = app.faults().userinfo;
    let sub = match fault {
        Some(UserinfoFault::SubMismatch) => psut(&grant.individual_id, "another-partner"),
        _ => grant.psut.clone(),
    };
    // mock 0.9.3 (1.4.1 era) signs only `sub` and the claims; mock 0.13.0 adds `iss`
    // (`mosip.mockidentitysystem.esignet.issuer-id`) and `aud`.
    let mut payload = match app.version {
        EsignetVersion::V1_4_1 => json!({ "sub": sub }),
        EsignetVersion::V1_8 => json!({
            "sub": sub,
            "iss": format!("{}/v1/esignet", app.base_url),
            "aud": grant.client_id,
        }),
    };
    if let Value::Object(map) = &mut payload {
        map.extend(userinfo_claims(
            app.version,
            identity,
            &grant.claims,
            &grant.locales,
        ));
    }
    let keys = &app.keys;
    let (content_type, body) = match fault {
        Some(UserinfoFault::UnsignedJson) => ("application/json", payload.to_string()),
        Some(UserinfoFault::SignedOnlyWhenAsked) if !asks_for_jwt => {
            ("application/json", payload.to_string())
        }
        Some(UserinfoFault::BadSignature) => (
            "application/jwt",
            keys.rogue
                .sign(Algorithm::RS256, &keys.id_system.kid, &payload),
        ),
        Some(UserinfoFault::UnknownKid) => (
            "application/jwt",
            keys.rogue.sign(Algorithm::RS256, &keys.rogue.kid, &payload),
        ),
        Some(UserinfoFault::SubMismatch | UserinfoFault::SignedOnlyWhenAsked) | None => (
            "application/jwt",
            keys.id_system
                .sign(Algorithm::RS256, &keys.id_system.kid, &payload),
        ),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `ExceptionHandlerAdvice.handleExceptionWithHeader`: 401, empty body.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "error=\"invalid_token\"")],
    )
        .into_response()
}
