//! The provider's discovery document (OpenID Connect Discovery 1.0).
//!
//! Served at `<prefix>/.well-known/openid-configuration`. The portals do not
//! read it (their provider record lists every endpoint), but operators and
//! other relying parties can.

use serde_json::{json, Value};

use super::base_url;
use crate::edge::gateway::Gateway;

/// The discovery document for this snapshot's config.
pub fn document(gw: &Gateway) -> Value {
    let base = base_url(gw);
    // The newest key's algorithm: RS256, or ES256 with an EC key.
    let alg = format!("{:?}", gw.minter.algorithm());
    json!({
        "issuer": gw.minter.issuer(),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        "jwks_uri": format!("{base}/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "userinfo_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "phone", "address"],
        "claims_supported": [
            "sub", "name", "email", "phone_number", "gender", "birthdate", "address",
            "picture", "individual_id", "acr", "auth_time", "nonce", "at_hash",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}
