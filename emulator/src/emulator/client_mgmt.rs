//! Client registration, as e-Signet's `ClientManagementController` and MOSIP PMS do it
//! (reference §6): create and update OIDC clients over the internal admin APIs.
//!
//! | Method/path | Body |
//! |---|---|
//! | `POST /v1/esignet/client-mgmt/oidc-client` | `ClientDetailCreateRequest` |
//! | `PUT /v1/esignet/client-mgmt/oidc-client/{client_id}` | `ClientDetailUpdateRequest` (no key) |
//! | `POST /v1/esignet/client-mgmt/oauth-client` | V2 = V1 + `clientNameLangMap` |
//! | `PUT /v1/esignet/client-mgmt/oauth-client/{client_id}` | V2 update |
//! | `POST /v1/partnermanager/oidc/client` | PMS envelope; PMS generates the client id |
//! | `PUT /v1/partnermanager/oidc/client/{client_id}` | PMS update |
//!
//! Like the real services these answer **HTTP 200 even on errors**, with
//! `errors: [{errorCode, errorMessage}]` (every validation problem at once), and
//! `response: {clientId, status}` on success. A missing or wrong bearer token is the only
//! non-200 answer (401, as Spring Security answers before the controller runs). A client
//! registered here can log in at once.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::config::ClientRegistration;
use super::discovery;
use super::jose::{b64url, random_token};
use super::state::Shared;

/// e-Signet's `client_detail.public_key varchar(1024)`.
pub const MAX_PUBLIC_KEY_CHARS: usize = 1024;
/// `mosip.esignet.reqtime.leeway-minutes` (2), in seconds.
const REQUEST_TIME_LEEWAY_SECS: i64 = 120;
/// Most redirect URIs a client may have.
const MAX_REDIRECT_URIS: usize = 5;

/// Which API a request came through; they differ in envelope and fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Api {
    /// `/v1/esignet/client-mgmt/oidc-client` (V1).
    OidcClient,
    /// `/v1/esignet/client-mgmt/oauth-client` (V2, `clientNameLangMap`).
    OauthClient,
    /// `/v1/partnermanager/oidc/client`.
    Pms,
}

/// One `errors[]` entry.
#[derive(Debug, Clone, PartialEq)]
struct ApiError {
    code: &'static str,
    message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        code,
        message: message.into(),
    }
}

/// `POST /v1/esignet/client-mgmt/oidc-client`.
pub(crate) async fn create_oidc(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&app, Api::OidcClient, None, &headers, &body)
}

/// `PUT /v1/esignet/client-mgmt/oidc-client/{client_id}`.
pub(crate) async fn update_oidc(
    State(app): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&app, Api::OidcClient, Some(client_id), &headers, &body)
}

/// `POST /v1/esignet/client-mgmt/oauth-client`.
pub(crate) async fn create_oauth(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&app, Api::OauthClient, None, &headers, &body)
}

/// `PUT /v1/esignet/client-mgmt/oauth-client/{client_id}`.
pub(crate) async fn update_oauth(
    State(app): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&app, Api::OauthClient, Some(client_id), &headers, &body)
}

/// `POST /v1/partnermanager/oidc/client`.
pub(crate) async fn create_pms(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&app, Api::Pms, None, &headers, &body)
}

/// `PUT /v1/partnermanager/oidc/client/{client_id}`.
pub(crate) async fn update_pms(
    State(app): State<Arc<Shared>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&app, Api::Pms, Some(client_id), &headers, &body)
}

fn handle(
    app: &Shared,
    api: Api,
    update: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !authorized(app, headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({
                "errors": [{"errorCode": "invalid_token",
                            "errorMessage": "a valid admin bearer token is required"}],
            })),
        )
            .into_response();
    }
    let result = serde_json::from_slice::<Value>(body)
        .map_err(|e| vec![err("invalid_request", format!("body is not JSON: {e}"))])
        .and_then(|envelope| process(app, api, update.as_deref(), &envelope));
    envelope_response(api, result)
}

/// The bearer token must equal the configured admin token (compared in constant time).
fn authorized(app: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return false;
    };
    let expected = Sha256::digest(app.admin_token.as_bytes());
    let got = Sha256::digest(token.trim().as_bytes());
    expected == got
}

fn envelope_response(api: Api, result: Result<(String, &'static str), Vec<ApiError>>) -> Response {
    let now = response_time();
    let (response, errors) = match result {
        Ok((client_id, status)) => (json!({"clientId": client_id, "status": status}), vec![]),
        Err(errors) => (Value::Null, errors),
    };
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|e| json!({"errorCode": e.code, "errorMessage": e.message}))
        .collect();
    let body = match api {
        Api::Pms => json!({
            "id": "mosip.pms.oidc.client.create",
            "version": "1.0",
            "responsetime": now,
            "metadata": null,
            "response": response,
            "errors": errors,
        }),
        _ => json!({"responseTime": now, "response": response, "errors": errors}),
    };
    (StatusCode::OK, Json(body)).into_response()
}

fn response_time() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Validates and applies one create or update. Returns the client id and status.
fn process(
    app: &Shared,
    api: Api,
    update: Option<&str>,
    envelope: &Value,
) -> Result<(String, &'static str), Vec<ApiError>> {
    let mut errors = Vec::new();
    let time_key = if api == Api::Pms {
        "requesttime"
    } else {
        "requestTime"
    };
    check_request_time(envelope.get(time_key), &mut errors);
    let Some(request) = envelope.get("request").and_then(Value::as_object) else {
        errors.push(err("invalid_request", "request is required"));
        return Err(errors);
    };
    let fields = Fields::check(app, api, update.is_some(), request, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut clients = app
        .clients
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match update {
        None => {
            let public_jwk = fields.public_jwk.unwrap_or(Value::Null);
            let client_id = match api {
                // PMS-style generated id; the prefix keeps it from starting
                // with `-`, which command lines would read as a flag.
                Api::Pms => format!("pms-{}", random_token(24)),
                _ => fields.client_id.unwrap_or_default(),
            };
            if clients.contains_key(&client_id) {
                return Err(vec![err(
                    "duplicate_client_id",
                    format!("client {client_id} already exists"),
                )]);
            }
            let hash = key_hash(&public_jwk);
            if clients.values().any(|c| key_hash(&c.public_jwk) == hash) {
                return Err(vec![err(
                    "duplicate_public_key",
                    "this public key is already registered for another client",
                )]);
            }
            let mut client =
                ClientRegistration::new(client_id.clone(), public_jwk, fields.redirect_uris);
            if api != Api::Pms {
                client.user_claims = fields.user_claims;
                client.acrs = fields.acrs;
            }
            client.relying_party_id = fields.relying_party_id;
            clients.insert(client_id.clone(), client);
            Ok((client_id, "ACTIVE"))
        }
        Some(client_id) => {
            let Some(client) = clients.get_mut(client_id) else {
                return Err(vec![err(
                    "invalid_client_id",
                    format!("no client {client_id}"),
                )]);
            };
            client.redirect_uris = fields.redirect_uris;
            if api != Api::Pms {
                client.user_claims = fields.user_claims;
                client.acrs = fields.acrs;
            }
            let status = fields.status.unwrap_or("ACTIVE");
            if status == "INACTIVE" {
                clients.remove(client_id);
            }
            Ok((client_id.to_string(), status))
        }
    }
}

/// e-Signet's `public_key_hash`: for RSA, a hash of the modulus.
fn key_hash(jwk: &Value) -> String {
    let n = jwk.get("n").and_then(Value::as_str).unwrap_or_default();
    b64url(Sha256::digest(n.as_bytes()))
}

/// `requestTime` in `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, within ±2 minutes of now.
fn check_request_time(value: Option<&Value>, errors: &mut Vec<ApiError>) {
    let Some(text) = value.and_then(Value::as_str) else {
        errors.push(err("invalid_request_time", "requestTime is required"));
        return;
    };
    let parsed = (text.len() == 24)
        .then(|| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ").ok())
        .flatten();
    match parsed {
        None => errors.push(err(
            "invalid_request_time",
            format!("requestTime {text:?} is not yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"),
        )),
        Some(time) => {
            let skew = (time.and_utc().timestamp() - chrono::Utc::now().timestamp()).abs();
            if skew > REQUEST_TIME_LEEWAY_SECS {
                errors.push(err(
                    "invalid_request_time",
                    format!("requestTime is {skew} s away from server time (leeway 2 min)"),
                ));
            }
        }
    }
}

/// The validated fields of a request body.
struct Fields {
    client_id: Option<String>,
    relying_party_id: Option<String>,
    public_jwk: Option<Value>,
    redirect_uris: Vec<String>,
    user_claims: Vec<String>,
    acrs: Vec<String>,
    status: Option<&'static str>,
}

impl Fields {
    fn check(
        app: &Shared,
        api: Api,
        update: bool,
        request: &Map<String, Value>,
        errors: &mut Vec<ApiError>,
    ) -> Fields {
        let mut fields = Fields {
            client_id: None,
            relying_party_id: None,
            public_jwk: None,
            redirect_uris: Vec::new(),
            user_claims: Vec::new(),
            acrs: Vec::new(),
            status: None,
        };
        let name_key = if api == Api::Pms && !update {
            "name"
        } else {
            "clientName"
        };
        match text(request, name_key) {
            Some(name) if name.chars().count() <= 256 => {}
            _ => errors.push(err(
                "invalid_client_name",
                format!("{name_key} must be 1-256 characters"),
            )),
        }
        if !update {
            if api == Api::Pms {
                for key in ["policyId", "authPartnerId"] {
                    if text(request, key).is_none() {
                        errors.push(err("invalid_input_parameter", format!("{key} is required")));
                    }
                }
                // PMS registers the client under the auth partner: the
                // relying party the ID system derives PSUTs from.
                fields.relying_party_id = text(request, "authPartnerId").map(str::to_string);
            } else {
                match text(request, "clientId") {
                    Some(id) if id.len() <= 100 && !id.chars().any(char::is_whitespace) => {
                        fields.client_id = Some(id.to_string())
                    }
                    _ => errors.push(err(
                        "invalid_client_id",
                        "clientId must be 1-100 characters without whitespace",
                    )),
                }
                match text(request, "relyingPartyId") {
                    Some(rp) if rp.len() <= 100 => fields.relying_party_id = Some(rp.to_string()),
                    _ => errors.push(err(
                        "invalid_rp_id",
                        "relyingPartyId must be 1-100 characters",
                    )),
                }
            }
            fields.public_jwk = public_key(request.get("publicKey"), errors);
        } else {
            let status = request.get("status").and_then(Value::as_str);
            match status {
                Some("ACTIVE") => fields.status = Some("ACTIVE"),
                Some("INACTIVE") => fields.status = Some("INACTIVE"),
                _ => errors.push(err("invalid_status", "status must be ACTIVE or INACTIVE")),
            }
        }
        if api == Api::OauthClient {
            lang_map(request.get("clientNameLangMap"), errors);
        }
        match text(request, "logoUri") {
            Some(uri) if url::Url::parse(uri).is_ok() => {}
            _ => errors.push(err("invalid_uri", "logoUri must be a URL")),
        }
        fields.redirect_uris = redirect_uris(request.get("redirectUris"), errors);
        exactly(
            request.get("grantTypes"),
            "authorization_code",
            "invalid_grant_type",
            errors,
        );
        exactly(
            request.get("clientAuthMethods"),
            "private_key_jwt",
            "invalid_client_auth",
            errors,
        );
        if api != Api::Pms {
            let discovery = discovery::document(app);
            fields.user_claims = subset(
                request.get("userClaims"),
                &discovery["claims_supported"],
                (0, 30),
                "invalid_claim",
                "userClaims",
                errors,
            );
            fields.acrs = subset(
                request.get("authContextRefs"),
                &discovery["acr_values_supported"],
                (1, 30),
                "invalid_acr",
                "authContextRefs",
                errors,
            );
        }
        fields
    }
}

/// A non-blank string member.
fn text<'a>(request: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    request
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The client's public JWK: RSA, `kty`/`n`/`e`, no private members, ≤ 1024 characters.
/// Only the public members are kept, as e-Signet stores them.
fn public_key(value: Option<&Value>, errors: &mut Vec<ApiError>) -> Option<Value> {
    let problem = match value {
        None | Some(Value::Null) => Some("publicKey is required".to_string()),
        Some(Value::Object(jwk)) => {
            let member = |k: &str| jwk.get(k).and_then(Value::as_str).unwrap_or_default();
            if member("kty") != "RSA" {
                Some("publicKey must be an RSA JWK (kty RSA)".into())
            } else if member("n").is_empty() || member("e").is_empty() {
                Some("publicKey must have n and e".into())
            } else if ["d", "p", "q", "dp", "dq", "qi"]
                .iter()
                .any(|k| jwk.contains_key(*k))
            {
                Some("publicKey must be a public JWK (it has private members)".into())
            } else if ["alg", "use", "kid"].iter().any(|k| {
                jwk.get(*k)
                    .is_some_and(|v| v.as_str().is_none_or(str::is_empty))
            }) {
                Some("alg, use and kid must be non-blank strings when present".into())
            } else if value.map(Value::to_string).unwrap_or_default().len() > MAX_PUBLIC_KEY_CHARS {
                Some(format!(
                    "publicKey is longer than {MAX_PUBLIC_KEY_CHARS} characters"
                ))
            } else {
                None
            }
        }
        Some(_) => Some("publicKey must be a JWK object".into()),
    };
    if let Some(problem) = problem {
        errors.push(err("invalid_public_key", problem));
        return None;
    }
    let jwk = value?.as_object()?;
    let kept: Map<String, Value> = jwk
        .iter()
        .filter(|(k, _)| ["kty", "n", "e", "kid", "alg", "use"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(Value::Object(kept))
}

/// `clientNameLangMap`: at least one ISO-639-3 language → a name of at most 50 characters.
fn lang_map(value: Option<&Value>, errors: &mut Vec<ApiError>) {
    let ok = value.and_then(Value::as_object).is_some_and(|map| {
        !map.is_empty()
            && map.iter().all(|(lang, name)| {
                lang.len() == 3
                    && name
                        .as_str()
                        .is_some_and(|n| !n.trim().is_empty() && n.chars().count() <= 50)
            })
    });
    if !ok {
        errors.push(err(
            "invalid_client_name_value",
            "clientNameLangMap must map ISO-639-3 codes to names of 1-50 characters",
        ));
    }
}

/// 1-5 absolute URLs (Ant patterns such as `**` are allowed in the path).
fn redirect_uris(value: Option<&Value>, errors: &mut Vec<ApiError>) -> Vec<String> {
    let uris: Option<Vec<String>> = value.and_then(Value::as_array).and_then(|list| {
        list.iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect()
    });
    match uris {
        Some(uris)
            if (1..=MAX_REDIRECT_URIS).contains(&uris.len())
                && uris.iter().all(|u| valid_redirect_uri(u)) =>
        {
            uris
        }
        _ => {
            errors.push(err(
                "invalid_redirect_uri",
                format!("redirectUris must hold 1-{MAX_REDIRECT_URIS} valid absolute URLs"),
            ));
            Vec::new()
        }
    }
}

fn valid_redirect_uri(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| u.has_host() && u.fragment().is_none())
}

/// A list that holds exactly `expected` (once).
fn exactly(value: Option<&Value>, expected: &str, code: &'static str, errors: &mut Vec<ApiError>) {
    let ok = value
        .and_then(Value::as_array)
        .is_some_and(|list| list.len() == 1 && list[0] == expected);
    if !ok {
        errors.push(err(code, format!("must be [\"{expected}\"]")));
    }
}

/// A list of distinct strings, each in `supported`, with a length in `bounds`.
fn subset(
    value: Option<&Value>,
    supported: &Value,
    bounds: (usize, usize),
    code: &'static str,
    what: &str,
    errors: &mut Vec<ApiError>,
) -> Vec<String> {
    let supported: HashSet<&str> = supported
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let items: Option<Vec<String>> = match value {
        None | Some(Value::Null) if bounds.0 == 0 => Some(Vec::new()),
        _ => value.and_then(Value::as_array).and_then(|list| {
            list.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        }),
    };
    let Some(items) = items else {
        errors.push(err(code, format!("{what} must be a list of strings")));
        return Vec::new();
    };
    if !(bounds.0..=bounds.1).contains(&items.len()) {
        errors.push(err(
            code,
            format!("{what} must hold {} to {} values", bounds.0, bounds.1),
        ));
    }
    let unknown: Vec<&str> = items
        .iter()
        .map(String::as_str)
        .filter(|i| !supported.contains(i))
        .collect();
    if !unknown.is_empty() {
        errors.push(err(
            code,
            format!("{what} holds unsupported values: {}", unknown.join(", ")),
        ));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_must_be_exact_format_and_recent() {
        let mut errors = Vec::new();
        check_request_time(Some(&json!(response_time())), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        for bad in [
            json!("2020-01-01T00:00:00.000Z"),
            json!("2026-11-25T16:45:26Z"),
            json!(12),
        ] {
            let mut errors = Vec::new();
            check_request_time(Some(&bad), &mut errors);
            assert_eq!(errors[0].code, "invalid_request_time", "{bad}");
        }
    }

    #[test]
    fn public_keys_are_public_rsa_and_short() {
        let mut errors = Vec::new();
        let kept = public_key(
            Some(&json!({"kty": "RSA", "n": "abc", "e": "AQAB", "x5c": ["…"], "use": "sig"})),
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(
            kept,
            Some(json!({"kty": "RSA", "n": "abc", "e": "AQAB", "use": "sig"}))
        );
        for bad in [
            json!({"kty": "EC", "x": "a", "y": "b"}),
            json!({"kty": "RSA", "n": "abc"}),
            json!({"kty": "RSA", "n": "abc", "e": "AQAB", "d": "secret"}),
            json!({"kty": "RSA", "n": "a".repeat(1100), "e": "AQAB"}),
            json!({"kty": "RSA", "n": "abc", "e": "AQAB", "alg": ""}),
            json!("not a jwk"),
        ] {
            let mut errors = Vec::new();
            assert!(public_key(Some(&bad), &mut errors).is_none());
            assert_eq!(errors[0].code, "invalid_public_key");
        }
    }
}
