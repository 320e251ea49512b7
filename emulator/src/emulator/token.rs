//! The token endpoint (`POST /v1/esignet/oauth/v2/token`, and the legacy v1 path): code
//! exchange with `private_key_jwt` client authentication and PKCE, then the ID token and the
//! access token (reference §3 and §4). Every request is recorded for the tests.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use super::assertion::{self, Expectations};
use super::config::EsignetVersion;
use super::faults::{Faults, IdTokenFault, TokenEndpointFault};
use super::jose::{at_hash, decode_unverified, pkce_s256, random_token, unsigned_jws};
use super::state::{
    lock, now, AccessGrant, CodeGrant, RecordedTokenRequest, Shared, CODE_TTL, TOKEN_TTL,
};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Which token endpoint was called; they differ in the expected assertion `aud` and, on 1.8,
/// in whether `code_verifier` survives (the v1 DTO lost it in 1.7, reference §9 pitfall 7).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    V2,
    V1,
}

/// POST `/v1/esignet/oauth/v2/token`.
pub(crate) async fn token_v2(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    delay_if_faulted(&app).await;
    handle(&app, Endpoint::V2, &headers, &body)
}

/// POST `/v1/esignet/oauth/token` (legacy; not advertised in discovery).
pub(crate) async fn token_v1(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    delay_if_faulted(&app).await;
    handle(&app, Endpoint::V1, &headers, &body)
}

/// Waits under [`TokenEndpointFault::Delay`].
async fn delay_if_faulted(app: &Shared) {
    if let Some(TokenEndpointFault::Delay(delay)) = app.faults().token_endpoint {
        tokio::time::sleep(delay).await;
    }
}

/// Why a token request failed. Rendered with the raw e-Signet code on 1.4.1 and with the
/// collapsed OAuth code on 1.8. Status: 1.8 answers 400 for all; 1.4.1 answers 400 for invalid
/// requests and **500** for PKCE and KYC failures (`mosip/esignet @ v1.4.1 :
/// esignet-service/.../advice/ExceptionHandlerAdvice.java`: `EsignetException` that is not an
/// `InvalidRequestException` is a 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    UnsupportedGrantType,
    InvalidRequest,
    InvalidTransaction,
    InvalidClientId,
    InvalidRedirectUri,
    InvalidAssertionType,
    InvalidAssertion,
    InvalidPkceVerifier,
    PkceFailed,
    KycExchangeFailed,
}

impl Failure {
    fn raw(self) -> &'static str {
        match self {
            Failure::UnsupportedGrantType => "unsupported_grant_type",
            Failure::InvalidRequest => "invalid_request",
            Failure::InvalidTransaction => "invalid_transaction",
            Failure::InvalidClientId => "invalid_client_id",
            Failure::InvalidRedirectUri => "invalid_redirect_uri",
            Failure::InvalidAssertionType => "invalid_assertion_type",
            Failure::InvalidAssertion => "invalid_assertion",
            Failure::InvalidPkceVerifier => "invalid_pkce_code_verifier",
            Failure::PkceFailed => "pkce_failed",
            Failure::KycExchangeFailed => "data_exchange_failed",
        }
    }

    /// The HTTP status in this version.
    fn status(self, version: EsignetVersion) -> StatusCode {
        match (version, self) {
            (
                EsignetVersion::V1_4_1,
                Failure::InvalidPkceVerifier | Failure::PkceFailed | Failure::KycExchangeFailed,
            ) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn oauth(self) -> &'static str {
        match self {
            Failure::UnsupportedGrantType => "unsupported_grant_type",
            // 1.8.0 `ExceptionHandlerAdvice` keeps only the OAuth codes: `invalid_client_id`
            // and `data_exchange_failed` become `invalid_request`.
            Failure::InvalidRequest
            | Failure::InvalidRedirectUri
            | Failure::InvalidClientId
            | Failure::KycExchangeFailed => "invalid_request",
            Failure::InvalidTransaction | Failure::InvalidPkceVerifier | Failure::PkceFailed => {
                "invalid_grant"
            }
            Failure::InvalidAssertionType | Failure::InvalidAssertion => "invalid_client",
        }
    }

    fn code(self, version: EsignetVersion) -> &'static str {
        match version {
            EsignetVersion::V1_4_1 => self.raw(),
            EsignetVersion::V1_8 => self.oauth(),
        }
    }
}

type Refusal = (Failure, String);

fn handle(app: &Shared, endpoint: Endpoint, headers: &HeaderMap, body: &[u8]) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (assertion_header, assertion_claims) = field("client_assertion")
        .and_then(decode_unverified)
        .map_or((None, None), |(h, c)| (Some(h), Some(c)));
    let mut record = RecordedTokenRequest {
        path: match endpoint {
            Endpoint::V2 => "/v1/esignet/oauth/v2/token".to_string(),
            Endpoint::V1 => "/v1/esignet/oauth/token".to_string(),
        },
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        form: form.clone(),
        assertion_header,
        assertion_claims,
        status: 200,
        error: None,
    };
    let faults = app.faults();
    let failure = faults.token_endpoint.filter(|f| {
        !matches!(
            f,
            TokenEndpointFault::Delay(_) | TokenEndpointFault::KycExchangeFailed
        )
    });
    let (status, body, content_type) = if let Some(fault) = failure {
        fault_body(fault)
    } else {
        match exchange(app, endpoint, &form, &faults) {
            Ok(tokens) => (StatusCode::OK, tokens.to_string(), "application/json"),
            Err((failure, description)) => {
                let body =
                    json!({ "error": failure.code(app.version), "error_description": description });
                (
                    failure.status(app.version),
                    body.to_string(),
                    "application/json",
                )
            }
        }
    };
    record.status = status.as_u16();
    if status != StatusCode::OK {
        record.error = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|b| b.get("error").and_then(Value::as_str).map(str::to_string));
    }
    lock(&app.token_requests).push(record);
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn fault_body(fault: TokenEndpointFault) -> (StatusCode, String, &'static str) {
    let unknown =
        json!({ "error": "unknown_error", "error_description": "Injected fault" }).to_string();
    match fault {
        TokenEndpointFault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            unknown,
            "application/json",
        ),
        TokenEndpointFault::Garbage => (
            StatusCode::OK,
            "<html><body>502 Bad Gateway (this is not JSON)</body></html>".to_string(),
            "application/json",
        ),
        TokenEndpointFault::Status(code) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            unknown,
            "application/json",
        ),
        // Handled elsewhere: a delayed answer is a normal one; a KYC failure is a refusal.
        TokenEndpointFault::Delay(_) | TokenEndpointFault::KycExchangeFailed => (
            StatusCode::INTERNAL_SERVER_ERROR,
            unknown,
            "application/json",
        ),
    }
}

/// The exchange proper, in e-Signet's order (`OAuthServiceImpl.getTokens`, v1.4.1 and v1.8.0):
/// grant type, code, client_id, redirect URI, PKCE, assertion, then the KYC exchange. The code
/// is consumed (evicted, `CacheUtilService.setUserInfoTransaction`) only when everything passed.
fn exchange(
    app: &Shared,
    endpoint: Endpoint,
    form: &[(String, String)],
    faults: &Faults,
) -> Result<Value, Refusal> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let now = now();
    if field("grant_type") != Some("authorization_code") {
        return Err((
            Failure::UnsupportedGrantType,
            "grant_type must be authorization_code".into(),
        ));
    }
    let code = field("code")
        .filter(|c| !c.is_empty())
        .ok_or((Failure::InvalidRequest, "code is required".to_string()))?;
    let grant = lock(&app.store).codes.get(code).cloned();
    let grant = match grant {
        Some(g) if g.used => {
            return Err((
                Failure::InvalidTransaction,
                "authorization code already used".into(),
            ))
        }
        Some(g) if now - g.issued >= CODE_TTL => {
            return Err((
                Failure::InvalidTransaction,
                "authorization code expired".into(),
            ))
        }
        Some(g) => g,
        None => {
            return Err((
                Failure::InvalidTransaction,
                "unknown authorization code".into(),
            ))
        }
    };
    if let Some(client_id) = field("client_id") {
        if client_id != grant.tx.client_id {
            return Err((
                Failure::InvalidClientId,
                "client_id does not match the authorization".into(),
            ));
        }
    }
    match field("redirect_uri") {
        Some(uri) if uri == grant.tx.redirect_uri => {}
        Some(_) => {
            return Err((
                Failure::InvalidRedirectUri,
                "redirect_uri differs from the authorize request".into(),
            ))
        }
        None => {
            return Err((
                Failure::InvalidRedirectUri,
                "redirect_uri is required".into(),
            ))
        }
    }
    // PKCE before the client assertion: `OAuthServiceImpl.getTokens` validates code →
    // client_id → redirect_uri → PKCE → assertion in v1.4.1 and v1.8.0.
    if let Some(challenge) = &grant.tx.code_challenge {
        // The v1 endpoint never carries `code_verifier`: `OAuthController.buildTokenRequest`
        // drops it in every tag v1.2.0–v1.8.0.
        let verifier = match endpoint {
            Endpoint::V1 => None,
            Endpoint::V2 => field("code_verifier").filter(|v| !v.is_empty()),
        };
        let verifier = verifier.ok_or((
            Failure::InvalidPkceVerifier,
            "code_verifier is required".to_string(),
        ))?;
        if pkce_s256(verifier) != *challenge {
            return Err((
                Failure::PkceFailed,
                "code_verifier does not match the code_challenge".into(),
            ));
        }
    }
    if field("client_assertion_type") != Some(JWT_BEARER) {
        return Err((
            Failure::InvalidAssertionType,
            format!("client_assertion_type must be {JWT_BEARER}"),
        ));
    }
    let assertion = field("client_assertion").filter(|a| !a.is_empty()).ok_or((
        Failure::InvalidAssertion,
        "client_assertion is required".to_string(),
    ))?;
    let client = app.client(&grant.tx.client_id).ok_or((
        Failure::InvalidClientId,
        "the client is no longer registered".to_string(),
    ))?;
    let mut audiences = vec![match endpoint {
        Endpoint::V2 => app.token_endpoint(),
        // v1: `issuer-id + "/oauth/token"`: the tokens' issuer, with `/v1/esignet` in
        // issuer-mismatch mode.
        Endpoint::V1 => format!("{}/oauth/token", app.token_issuer),
    }];
    if app.version.is_modern() {
        // 1.7+ also accept the discovery issuer.
        audiences.push(app.issuer.clone());
    }
    let claims = assertion::verify(
        assertion,
        &client,
        &Expectations {
            version: app.version,
            audiences: &audiences,
            now,
        },
    )
    .map_err(|reason| (Failure::InvalidAssertion, reason))?;
    if app.version.is_modern() {
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut store = lock(&app.store);
        if store.jtis.contains_key(&jti) {
            return Err((
                Failure::InvalidAssertion,
                "client assertion jti was already used".into(),
            ));
        }
        store.jtis.insert(jti, now);
    }
    if faults.token_endpoint == Some(TokenEndpointFault::KycExchangeFailed) {
        return Err((
            Failure::KycExchangeFailed,
            "the ID system's KYC exchange failed".into(),
        ));
    }
    {
        let mut store = lock(&app.store);
        match store.codes.get_mut(code) {
            Some(g) if !g.used => g.used = true,
            _ => {
                return Err((
                    Failure::InvalidTransaction,
                    "authorization code already used".into(),
                ))
            }
        }
    }
    let (access_token, id_token) = issue(app, &grant, faults, now);
    Ok(json!({
        "id_token": id_token,
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL,
    }))
}

/// Signs the access token and the ID token (with any ID-token fault applied) and registers the
/// access token for userinfo.
fn issue(app: &Shared, grant: &CodeGrant, faults: &Faults, now: i64) -> (String, String) {
    let client_id = &grant.tx.client_id;
    let alg = token_alg(app.version);
    let mut access = json!({
        "iss": app.token_issuer, "sub": grant.psut, "aud": client_id, "iat": now, "exp": now + TOKEN_TTL,
        "client_id": client_id, "jti": random_token(16),
    });
    if app.version.is_modern() {
        access["azp"] = json!(client_id);
    }
    let esignet = app.keys.esignet();
    let access_token = esignet.sign(alg, &esignet.kid, &access);
    lock(&app.store).access_tokens.insert(
        access_token.clone(),
        AccessGrant {
            client_id: client_id.clone(),
            individual_id: grant.individual_id.clone(),
            psut: grant.psut.clone(),
            claims: grant.tx.claims.clone(),
            locales: grant.tx.locales.clone(),
            expires: now + TOKEN_TTL,
        },
    );
    let mut claims = id_token_claims(app, grant, &access_token, now);
    if let Some(fault) = faults.id_token {
        corrupt_claims(&mut claims, fault, &access_token, now);
    }
    let id_token = sign_id_token(app, &Value::Object(claims), faults.id_token);
    (access_token, id_token)
}

/// RS256 up to 1.6, PS256 from 1.7 (keymanager's default).
fn token_alg(version: EsignetVersion) -> Algorithm {
    match version {
        EsignetVersion::V1_4_1 => Algorithm::RS256,
        EsignetVersion::V1_8 => Algorithm::PS256,
    }
}

/// `TokenServiceImpl.buildIDToken`: no user claims, no `amr`/`azp`; `nonce` is JSON null on
/// 1.4.1 when none was sent and absent on 1.8.
fn id_token_claims(
    app: &Shared,
    grant: &CodeGrant,
    access_token: &str,
    now: i64,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(app.token_issuer));
    claims.insert("sub".into(), json!(grant.psut));
    claims.insert("aud".into(), json!(grant.tx.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + TOKEN_TTL));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    match (&grant.tx.nonce, app.version) {
        (Some(nonce), _) => {
            claims.insert("nonce".into(), json!(nonce));
        }
        (None, EsignetVersion::V1_4_1) => {
            claims.insert("nonce".into(), Value::Null);
        }
        (None, EsignetVersion::V1_8) => {}
    }
    claims.insert("acr".into(), json!(grant.acr));
    claims.insert("at_hash".into(), json!(at_hash(access_token)));
    claims
}

fn corrupt_claims(
    claims: &mut Map<String, Value>,
    fault: IdTokenFault,
    access_token: &str,
    now: i64,
) {
    match fault {
        IdTokenFault::WrongIssuer => {
            claims.insert("iss".into(), json!("https://wrong-issuer.invalid"));
        }
        IdTokenFault::WrongAudience => {
            claims.insert("aud".into(), json!("some-other-client"));
        }
        IdTokenFault::Expired => {
            claims.insert("iat".into(), json!(now - 600 - TOKEN_TTL));
            claims.insert("auth_time".into(), json!(now - 600 - TOKEN_TTL));
            claims.insert("exp".into(), json!(now - 600));
        }
        IdTokenFault::IssuedInFuture => {
            claims.insert("iat".into(), json!(now + 600));
            claims.insert("exp".into(), json!(now + 600 + TOKEN_TTL));
        }
        IdTokenFault::NonceMismatch => {
            claims.insert(
                "nonce".into(),
                json!(format!("not-your-nonce-{}", random_token(8))),
            );
        }
        IdTokenFault::MissingNonce => {
            claims.remove("nonce");
        }
        IdTokenFault::WrongAtHash => {
            claims.insert(
                "at_hash".into(),
                json!(at_hash(&format!("{access_token}x"))),
            );
        }
        IdTokenFault::MissingSub => {
            claims.remove("sub");
        }
        IdTokenFault::BadSignature
        | IdTokenFault::UnknownKid
        | IdTokenFault::AlgNone
        | IdTokenFault::Hs256WithPublicKey => {}
    }
}

fn sign_id_token(app: &Shared, claims: &Value, fault: Option<IdTokenFault>) -> String {
    let keys = &app.keys;
    let esignet = keys.esignet();
    let alg = token_alg(app.version);
    match fault {
        Some(IdTokenFault::BadSignature) => keys.rogue.sign(alg, &esignet.kid, claims),
        Some(IdTokenFault::UnknownKid) => keys.rogue.sign(alg, &keys.rogue.kid, claims),
        Some(IdTokenFault::AlgNone) => {
            unsigned_jws(&json!({ "alg": "none", "kid": esignet.kid }), claims)
        }
        Some(IdTokenFault::Hs256WithPublicKey) => {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = None;
            header.kid = Some(esignet.kid.clone());
            let secret = EncodingKey::from_secret(esignet.public_pem.as_bytes());
            jsonwebtoken::encode(&header, claims, &secret).unwrap_or_default()
        }
        _ => esignet.sign(alg, &esignet.kid, claims),
    }
}
