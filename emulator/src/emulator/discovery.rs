//! `/.well-known/openid-configuration` and `/.well-known/jwks.json` (each also under the
//! e-Signet servlet paths), shaped like e-Signet's `mosip.esignet.discovery.key-values` for the
//! configured version (reference §1.2, §1.3, §8.1).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::config::EsignetVersion;
use super::state::Shared;

/// The discovery document.
pub(crate) async fn openid_configuration(State(app): State<Arc<Shared>>) -> Json<Value> {
    Json(document(&app))
}

/// The JWKS (both keys), or 503 under the `jwks_unavailable` fault.
pub(crate) async fn jwks(State(app): State<Arc<Shared>>) -> Response {
    if app.faults().jwks_unavailable {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "JWKS temporarily unavailable",
        )
            .into_response();
    }
    Json(app.keys.jwks()).into_response()
}

/// Builds the document. Advertised as e-Signet does, including its inaccuracies: the
/// `RSAXXXXX`/`A128GCM` JWE placeholders and (1.4.1) `scopes_supported` without `openid`.
pub(crate) fn document(app: &Shared) -> Value {
    let base = &app.base_url;
    let acrs = [
        "mosip:idp:acr:static-code",
        "mosip:idp:acr:generated-code",
        "mosip:idp:acr:linked-wallet",
        "mosip:idp:acr:biometrics",
        "mosip:idp:acr:knowledge",
    ];
    let mut doc = json!({
        "issuer": app.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": app.token_endpoint(),
        "userinfo_endpoint": format!("{base}/v1/esignet/oidc/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "userinfo_encryption_alg_values_supported": ["RSAXXXXX"],
        "userinfo_encryption_enc_values_supported": ["A128GCM"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "subject_types_supported": ["pairwise"],
        "acr_values_supported": acrs,
        "request_parameter_supported": false,
        "claims_locales_supported": ["en"],
        "ui_locales_supported": ["en"],
    });
    let extra = match app.version {
        EsignetVersion::V1_4_1 => json!({
            "scopes_supported": ["profile", "email", "phone"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["name", "address", "gender", "birthdate", "picture",
                                  "email", "phone_number", "individual_id"],
        }),
        EsignetVersion::V1_8 => json!({
            "scopes_supported": ["openid", "profile", "email", "phone", "address"],
            "pushed_authorization_request_endpoint": format!("{base}/v1/esignet/oauth/par"),
            "require_pushed_authorization_requests": false,
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "userinfo_signed_response_alg": "PS256",
            "userinfo_signing_alg_values_supported": ["RS256", "PS256"],
            "id_token_signed_response_alg": "PS256",
            "id_token_signing_alg_values_supported": ["RS256", "PS256"],
            "claims_supported": ["name", "address", "gender", "birthdate", "picture", "email",
                                  "phone_number", "individual_id", "phone_number_verified",
                                  "registration_type", "updated_at"],
            "claims_in_verified_claims_supported": ["name", "address", "gender", "birthdate",
                                                    "picture", "email", "phone_number"],
            "dpop_signing_alg_values_supported": ["RS256", "PS256"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        }),
    };
    if let (Some(doc), Value::Object(extra)) = (doc.as_object_mut(), extra) {
        doc.extend(extra);
    }
    doc
}
