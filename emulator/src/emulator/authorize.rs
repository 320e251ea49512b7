//! `/authorize`: GET validates the request like e-Signet's oauth-details call and shows the
//! login page; POST (the form) authenticates the person and redirects back with a code
//! (reference §2).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use super::claims::{scope_claims, to_iso639_3};
use super::config::{
    ClientRegistration, EsignetVersion, ACR_BIOMETRICS, ACR_GENERATED_CODE, ACR_STATIC_CODE,
};
use super::jose::{psut, random_token};
use super::pages::{error_page, login_page, LoginPage};
use super::redirect::{error_url, redirect_uri_allowed, success_url};
use super::state::{lock, now, AuthTransaction, CodeGrant, Shared, TRANSACTION_TTL};

/// Scopes that make `openid` mandatory.
const OPENID_SCOPES: [&str; 4] = ["profile", "email", "phone", "address"];
const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];
const DISPLAYS: [&str; 4] = ["page", "popup", "touch", "wap"];

/// Why a request (with a good client and redirect URI) was refused. Shown on e-Signet's own
/// page, never redirected: the oidc-ui shows oauth-details errors itself, and only
/// `invalid_transaction` (and `link_code_limit_reached`) go back to the relying party
/// (`mosip/esignet @ v1.4.1 and v1.8.0 : oidc-ui/src/helpers/redirectOnError.js` callers).
#[derive(Debug, PartialEq)]
struct Rejection {
    code: &'static str,
    description: String,
}

fn back(code: &'static str, description: impl Into<String>) -> Rejection {
    Rejection {
        code,
        description: description.into(),
    }
}

/// GET `/authorize`: validate, start a transaction, render the login page.
pub(crate) async fn start(State(app): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or(""));
    // Client and redirect URI first: until both are known good, nothing may be redirected.
    let client = match params.get("client_id").and_then(|id| app.client(id)) {
        Some(client) => client,
        None => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_client_id",
                "Unknown or missing client_id",
            )
        }
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if redirect_uri_allowed(&client.redirect_uris, uri) => uri.to_string(),
        _ => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "redirect_uri is missing or not registered for this client",
            )
        }
    };
    let state = params.get("state").map(str::to_string);
    let tx = match validate(&app, &client, &params, redirect_uri, state) {
        Ok(tx) => tx,
        Err(Rejection { code, description }) => {
            return error_response(StatusCode::BAD_REQUEST, code, &description)
        }
    };
    let transaction_id = random_token(32);
    let html = render_login(&app, &transaction_id, &tx, "", None);
    {
        let mut store = lock(&app.store);
        store.prune(now());
        store.transactions.insert(transaction_id, tx);
    }
    Html(html).into_response()
}

/// Checks everything after client and redirect URI, in e-Signet's order, and resolves claims,
/// ACRs and locales. The nonce is checked (and burnt) last, so a request rejected for another
/// reason does not use it up.
fn validate(
    app: &Shared,
    client: &ClientRegistration,
    params: &Params,
    redirect_uri: String,
    state: Option<String>,
) -> Result<AuthTransaction, Rejection> {
    if params.get("response_type") != Some("code") {
        return Err(back("invalid_response_type", "response_type must be code"));
    }
    let claims_request = match params.get("claims").filter(|c| !c.trim().is_empty()) {
        Some(raw) => Some(parse_claims(raw)?),
        None => None,
    };
    let wants_userinfo_claims = claims_request
        .as_ref()
        .and_then(|c| c.get("userinfo"))
        .is_some_and(|u| !u.is_null());
    let scopes: Vec<&str> = params
        .get("scope")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    validate_scopes(app.version, &scopes, wants_userinfo_claims)?;

    if let Some(prompt) = params.get("prompt") {
        if !PROMPTS.contains(&prompt) {
            return Err(back(
                "invalid_prompt",
                "prompt must be exactly one of none, login, consent, select_account",
            ));
        }
    }
    if let Some(display) = params.get("display") {
        if !DISPLAYS.contains(&display) {
            return Err(back(
                "invalid_display",
                "display must be one of page, popup, touch, wap",
            ));
        }
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (Some(challenge), Some("S256")) if !challenge.is_empty() => Some(challenge.to_string()),
        (Some(_), Some(method)) if method != "S256" => {
            return Err(back(
                "unsupported_pkce_challenge_method",
                "Only S256 is supported",
            ))
        }
        _ => {
            return Err(back(
                "invalid_pkce_challenge",
                "code_challenge and code_challenge_method must be sent together",
            ))
        }
    };
    if client.require_pkce && code_challenge.is_none() {
        return Err(back("use_pkce", "This client must use PKCE"));
    }
    if client.acrs.is_empty() {
        return Err(back(
            "no_acr_registered",
            "The client has no registered ACR",
        ));
    }
    let acrs = resolve_acrs(client, params.get("acr_values"), claims_request.as_ref());
    let claims = resolve_claims(app.version, client, &scopes, claims_request.as_ref());
    // The 1.4.1-era mock plugin passes locales verbatim (`en`); 1.8 with esignet-plugins
    // converts them to ISO-639-3 (`eng`) (`MockAuthenticationService`, mock 0.9.3 / 0.13.0).
    let locales = params
        .get("claims_locales")
        .unwrap_or("")
        .split_whitespace()
        .map(|l| match app.version {
            EsignetVersion::V1_4_1 => l.to_string(),
            EsignetVersion::V1_8 => to_iso639_3(l),
        })
        .fold(Vec::new(), |mut acc: Vec<String>, l| {
            if !acc.contains(&l) {
                acc.push(l);
            }
            acc
        });
    let nonce = params.get("nonce").map(str::to_string);
    let now = now();
    // Nonce replay is checked from v1.6.0 on (`AuthorizationHelperService.validateNonce`); 1.4.1
    // has no check.
    if let Some(nonce) = nonce.as_ref().filter(|_| app.version.is_modern()) {
        let mut store = lock(&app.store);
        store.prune(now);
        if store.nonces.contains_key(nonce) {
            return Err(back("invalid_request", "nonce was already used"));
        }
        store.nonces.insert(nonce.clone(), now);
    }
    Ok(AuthTransaction {
        client_id: client.client_id.clone(),
        redirect_uri,
        state,
        nonce,
        claims,
        acrs,
        locales,
        code_challenge,
        created: now,
    })
}

/// `OIDCScopeValidator`: at least one known scope; `openid` is mandatory with any OpenID
/// scope or a `claims.userinfo` request. Unknown scopes are ignored.
fn validate_scopes(
    version: EsignetVersion,
    scopes: &[&str],
    userinfo_claims: bool,
) -> Result<(), Rejection> {
    let known: &[&str] = match version {
        EsignetVersion::V1_4_1 => &["openid", "profile", "email", "phone"],
        EsignetVersion::V1_8 => &["openid", "profile", "email", "phone", "address"],
    };
    if !scopes.iter().any(|s| known.contains(s)) {
        return Err(back("invalid_scope", "No supported scope requested"));
    }
    let has_openid = scopes.contains(&"openid");
    if !has_openid && (scopes.iter().any(|s| OPENID_SCOPES.contains(s)) || userinfo_claims) {
        return Err(back("invalid_scope", "The openid scope is required"));
    }
    Ok(())
}

/// Parses the `claims` parameter (already percent-decoded once; a second decode is tried, as
/// the UI runs `decodeURI` on it) and checks its outline.
fn parse_claims(raw: &str) -> Result<Value, Rejection> {
    let parsed: Option<Value> = serde_json::from_str(raw).ok().or_else(|| {
        let decoded: String = url::form_urlencoded::parse(format!("c={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        serde_json::from_str(&decoded).ok()
    });
    let invalid = || back("invalid_claim", "claims is not a valid claims request");
    let value = parsed.ok_or_else(invalid)?;
    let object = value.as_object().ok_or_else(invalid)?;
    for member in ["userinfo", "id_token"] {
        match object.get(member) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => return Err(invalid()),
        }
    }
    if let Some(Value::Object(userinfo)) = object.get("userinfo") {
        if userinfo.values().any(|v| !(v.is_null() || v.is_object())) {
            return Err(invalid());
        }
    }
    Ok(value)
}

/// `claims.id_token.acr.values` wins over `acr_values`; both are filtered to the client's
/// ACRs; when nothing survives, all registered ACRs are used, silently.
fn resolve_acrs(
    client: &ClientRegistration,
    acr_values: Option<&str>,
    claims: Option<&Value>,
) -> Vec<String> {
    let from_claims: Option<Vec<String>> = claims
        .and_then(|c| c.pointer("/id_token/acr/values"))
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
    let requested = from_claims.unwrap_or_else(|| {
        acr_values
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    });
    let allowed: Vec<String> = requested
        .into_iter()
        .filter(|acr| client.acrs.contains(acr))
        .collect();
    if allowed.is_empty() {
        client.acrs.clone()
    } else {
        allowed
    }
}

/// The userinfo claims to release: those named in `claims.userinfo` plus those implied by the
/// scopes, each only if the client is registered for it; in `user_claims` order.
fn resolve_claims(
    version: EsignetVersion,
    client: &ClientRegistration,
    scopes: &[&str],
    claims: Option<&Value>,
) -> Vec<String> {
    let mut wanted: Vec<String> = claims
        .and_then(|c| c.get("userinfo"))
        .and_then(Value::as_object)
        .map(|u| u.keys().cloned().collect())
        .unwrap_or_default();
    for scope in scopes {
        wanted.extend(scope_claims(version, scope).iter().map(|c| c.to_string()));
    }
    client
        .user_claims
        .iter()
        .filter(|c| wanted.contains(c))
        .cloned()
        .collect()
}

/// POST `/authorize`: the login form.
pub(crate) async fn submit(State(app): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let transaction_id = form.get("transaction_id").unwrap_or("");
    let tx = lock(&app.store).transactions.get(transaction_id).cloned();
    let Some(tx) = tx else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_transaction",
            "Unknown login transaction",
        );
    };
    let take = || lock(&app.store).transactions.remove(transaction_id);
    if now() - tx.created >= TRANSACTION_TTL {
        take();
        // The one authorize error the oidc-ui redirects to the relying party.
        return redirect(&error_url(
            app.version,
            &tx.redirect_uri,
            tx.state.as_deref(),
            "invalid_transaction",
            "The login took too long",
        ));
    }
    let method = form.get("method").unwrap_or("otp");
    let acr = match method {
        "cancel" => {
            take();
            // 1.4.1 `Consent.js`: `consent_request_rejected`; 1.8: `access_denied`.
            let code = match app.version {
                EsignetVersion::V1_4_1 => "consent_request_rejected",
                EsignetVersion::V1_8 => "access_denied",
            };
            return redirect(&error_url(
                app.version,
                &tx.redirect_uri,
                tx.state.as_deref(),
                code,
                "The user cancelled the login",
            ));
        }
        "otp" => ACR_GENERATED_CODE,
        "pin" => ACR_STATIC_CODE,
        "biometrics" => ACR_BIOMETRICS,
        _ => {
            return retry(
                &app,
                transaction_id,
                &tx,
                "",
                StatusCode::BAD_REQUEST,
                "Unknown login method",
            )
        }
    };
    let individual_id = form.get("individual_id").unwrap_or("").trim().to_string();
    if !tx.acrs.iter().any(|a| a == acr) {
        return retry(
            &app,
            transaction_id,
            &tx,
            &individual_id,
            StatusCode::BAD_REQUEST,
            "This login method is not allowed for this application",
        );
    }
    let Some(identity) = app.identity(&individual_id) else {
        return retry(
            &app,
            transaction_id,
            &tx,
            &individual_id,
            StatusCode::UNAUTHORIZED,
            "Unknown UIN/VID",
        );
    };
    if acr != ACR_BIOMETRICS && form.get("otp").unwrap_or("").trim() != app.otp_for(identity) {
        return retry(
            &app,
            transaction_id,
            &tx,
            &individual_id,
            StatusCode::UNAUTHORIZED,
            "Invalid OTP or PIN",
        );
    }
    if take().is_none() {
        // Completed concurrently by another submission of the same form.
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_transaction",
            "Login transaction already completed",
        );
    }
    let acr = app.faults().acr_fallback.unwrap_or_else(|| acr.to_string());
    let code = random_token(32);
    let now = now();
    // The mock derives the PSUT from the relying-party id the client is registered under.
    let relying_party = app
        .client(&tx.client_id)
        .map(|c| c.relying_party().to_string())
        .unwrap_or_else(|| tx.client_id.clone());
    let grant = CodeGrant {
        psut: psut(&individual_id, &relying_party),
        individual_id,
        acr,
        auth_time: now,
        issued: now,
        used: false,
        tx: tx.clone(),
    };
    {
        let mut store = lock(&app.store);
        store.prune(now);
        store.codes.insert(code.clone(), grant);
    }
    redirect(&success_url(
        app.version,
        &tx.redirect_uri,
        tx.state.as_deref(),
        &code,
        &app.issuer,
    ))
}

fn render_login(
    app: &Shared,
    transaction_id: &str,
    tx: &AuthTransaction,
    individual_id: &str,
    error: Option<&str>,
) -> String {
    let suggestions: Vec<(String, String)> = app
        .identities
        .iter()
        .map(|i| {
            let name = i
                .name
                .get("eng")
                .or_else(|| i.name.values().next())
                .cloned()
                .unwrap_or_default();
            (i.individual_id.clone(), name)
        })
        .collect();
    login_page(&LoginPage {
        transaction_id,
        client_id: &tx.client_id,
        claims: &tx.claims,
        acrs: &tx.acrs,
        individual_id,
        error,
        suggestions: &suggestions,
        otp_hint: &app.otp,
    })
}

fn retry(
    app: &Shared,
    transaction_id: &str,
    tx: &AuthTransaction,
    individual_id: &str,
    status: StatusCode,
    error: &str,
) -> Response {
    (
        status,
        Html(render_login(
            app,
            transaction_id,
            tx,
            individual_id,
            Some(error),
        )),
    )
        .into_response()
}

fn error_response(status: StatusCode, code: &str, description: &str) -> Response {
    (status, Html(error_page(code, description))).into_response()
}

/// A 302 to `location` (always a valid header value: see `redirect::success_url`).
fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown_error",
            "Cannot build the redirect",
        ),
    }
}

/// Query or form parameters, first occurrence wins, percent-decoded.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &str) -> Self {
        Params(
            url::form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client() -> ClientRegistration {
        let mut c = ClientRegistration::new("c", json!({}), vec!["http://rp/cb".into()]);
        c.acrs = vec![ACR_GENERATED_CODE.into(), ACR_BIOMETRICS.into()];
        c.user_claims = vec!["name".into(), "email".into(), "individual_id".into()];
        c
    }

    #[test]
    fn acr_values_filtered_then_fall_back_to_all() {
        let c = client();
        assert_eq!(
            resolve_acrs(&c, Some("mosip:idp:acr:biometrics x"), None),
            vec![ACR_BIOMETRICS]
        );
        assert_eq!(
            resolve_acrs(&c, Some("mosip:idp:acr:knowledge"), None),
            c.acrs
        );
        assert_eq!(resolve_acrs(&c, None, None), c.acrs);
        let claims = json!({"id_token": {"acr": {"values": [ACR_GENERATED_CODE]}}});
        assert_eq!(
            resolve_acrs(&c, Some(ACR_BIOMETRICS), Some(&claims)),
            vec![ACR_GENERATED_CODE]
        );
    }

    #[test]
    fn claims_are_filtered_to_the_registration() {
        let c = client();
        let claims = json!({"userinfo": {"individual_id": {"essential": true}, "gender": null}});
        assert_eq!(
            resolve_claims(EsignetVersion::V1_8, &c, &["openid"], Some(&claims)),
            vec!["individual_id"]
        );
        assert_eq!(
            resolve_claims(EsignetVersion::V1_8, &c, &["openid", "profile"], None),
            vec!["name", "email"]
        );
        assert_eq!(
            resolve_claims(
                EsignetVersion::V1_8,
                &c,
                &["openid", "email"],
                Some(&claims)
            ),
            vec!["email", "individual_id"]
        );
    }

    #[test]
    fn scope_rules() {
        assert!(validate_scopes(EsignetVersion::V1_8, &["openid", "profile"], true).is_ok());
        assert!(validate_scopes(EsignetVersion::V1_8, &["openid"], false).is_ok());
        assert_eq!(
            validate_scopes(EsignetVersion::V1_8, &["profile"], false),
            Err(back("invalid_scope", "The openid scope is required"))
        );
        assert!(validate_scopes(EsignetVersion::V1_8, &["foo"], false).is_err());
        assert!(validate_scopes(EsignetVersion::V1_4_1, &["address"], false).is_err());
    }

    #[test]
    fn claims_parameter_parsing() {
        assert!(parse_claims(r#"{"userinfo":{"name":{"essential":true}}}"#).is_ok());
        assert!(parse_claims("%7B%22userinfo%22%3A%7B%22name%22%3Anull%7D%7D").is_ok());
        assert!(parse_claims("[1]").is_err());
        assert!(parse_claims(r#"{"userinfo":[1]}"#).is_err());
        assert!(parse_claims(r#"{"userinfo":{"name":3}}"#).is_err());
        assert!(parse_claims("{not json").is_err());
    }
}
