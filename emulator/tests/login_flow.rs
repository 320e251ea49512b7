//! The scripted end-to-end login, in both versions, and the authorize-side rules.

mod common;

use common::*;
use esignet_emulator::emulator::psut;
use esignet_emulator::{EsignetVersion, Faults};
use jsonwebtoken::Algorithm;
use serde_json::Value;

const CLAIMS: &str = r#"{"userinfo":{"name":{"essential":true},"individual_id":{"essential":true},"birthdate":null,"gender":null,"address":null,"picture":null,"email":null,"phone_number":null,"nationality":null},"id_token":{}}"#;

/// GET authorize → form → callback → token → verify ID token → userinfo JWS → claims.
async fn full_login(version: EsignetVersion) {
    let emu = start(version).await;
    let http = http();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let nonce = random();
    let callback = login(
        &http,
        &emu,
        &[
            ("nonce", &nonce),
            ("claims", CLAIMS),
            (
                "acr_values",
                "mosip:idp:acr:generated-code mosip:idp:acr:biometrics",
            ),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("claims_locales", "en"),
            ("ui_locales", "en"),
            ("display", "page"),
            ("prompt", "consent"),
        ],
    )
    .await;
    assert!(
        callback.starts_with(&format!("{REDIRECT_URI}?state=state-123&code=")),
        "{callback}"
    );
    assert_eq!(
        query_param(&callback, "state").as_deref(),
        Some("state-123")
    );
    let code = query_param(&callback, "code").expect("code");
    match version {
        EsignetVersion::V1_8 => assert_eq!(query_param(&callback, "iss"), Some(emu.issuer())),
        EsignetVersion::V1_4_1 => assert_eq!(query_param(&callback, "iss"), None),
    }

    let assertion = sign_assertion(&assertion_claims(&emu), Algorithm::RS256, None);
    let mut form = token_form(&code, &assertion);
    set(&mut form, "code_verifier", verifier);
    let (status, tokens) = post_token(&http, &emu, &form).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens.get("refresh_token").is_none());

    let set_ = jwks(&http, &emu).await;
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let (header, claims) = verify(id_token, &set_, CLIENT_ID).expect("ID token verifies");
    let expected_alg = match version {
        EsignetVersion::V1_4_1 => Algorithm::RS256,
        EsignetVersion::V1_8 => Algorithm::PS256,
    };
    assert_eq!(header.alg, expected_alg);
    assert_eq!(header.kid.as_deref(), set_.keys[0].common.key_id.as_deref());
    let sub = psut(SIDDHARTH, CLIENT_ID);
    assert_eq!(claims["iss"], emu.issuer());
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], nonce);
    assert_eq!(claims["acr"], "mosip:idp:acr:generated-code");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        3600
    );
    assert!(claims["auth_time"].as_i64().is_some());
    assert_eq!(claims["at_hash"], at_hash(access_token));
    assert!(claims.get("name").is_none() && claims.get("amr").is_none());

    let (_, access) = verify(access_token, &set_, CLIENT_ID).expect("access token verifies");
    assert_eq!(access["sub"], sub);
    assert_eq!(access["client_id"], CLIENT_ID);

    for _ in 0..2 {
        let response = userinfo(&http, &emu, access_token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/jwt");
        let jws = response.text().await.expect("body");
        let (header, info) = verify(&jws, &set_, CLIENT_ID).expect("userinfo verifies");
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(
            header.kid.as_deref(),
            set_.keys[1].common.key_id.as_deref(),
            "signed by the ID system key"
        );
        assert_eq!(info["sub"], sub);
        assert_eq!(info["name"], "Siddharth K Mansour");
        assert_eq!(info["individual_id"], SIDDHARTH);
        assert_eq!(info["birthdate"], "1987/11/25");
        assert_eq!(info["gender"], "Male");
        assert_eq!(info["email"], "siddharth@example.org");
        assert_eq!(info["phone_number"], "+919427357934");
        assert_eq!(info["address"]["locality"], "Cmattey");
        assert!(info["address"].is_object());
        assert!(info["picture"]
            .as_str()
            .expect("picture")
            .starts_with("data:image/png;base64,"));
        assert!(
            info.get("nationality").is_none(),
            "unregistered claims are dropped"
        );
    }

    let recorded = emu.token_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].status, 200);
    assert_eq!(recorded[0].field("code_verifier"), Some(verifier));
    assert_eq!(
        recorded[0].assertion_header.as_ref().expect("header")["alg"],
        "RS256"
    );
    assert_eq!(
        recorded[0].assertion_claims.as_ref().expect("claims")["aud"],
        emu.token_endpoint()
    );
}

fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[tokio::test]
async fn full_login_v18() {
    full_login(EsignetVersion::V1_8).await;
}

#[tokio::test]
async fn full_login_v141() {
    full_login(EsignetVersion::V1_4_1).await;
}

#[tokio::test]
async fn v141_nonce_is_null_when_absent_and_v18_omits_it() {
    for (version, expect_null) in [
        (EsignetVersion::V1_4_1, true),
        (EsignetVersion::V1_8, false),
    ] {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &[("nonce", "")]).await;
        let (status, tokens) = exchange(&http, &emu, &code).await;
        assert_eq!(status, 200);
        let (_, claims) = unverified(tokens["id_token"].as_str().expect("id"));
        let obj = claims.as_object().expect("object");
        assert_eq!(obj.contains_key("nonce"), expect_null);
        if expect_null {
            assert_eq!(obj["nonce"], Value::Null);
        }
    }
}

#[tokio::test]
async fn v141_appends_raw_state() {
    let emu = start(EsignetVersion::V1_4_1).await;
    let http = http();
    let state = r#"{"p":1,"r":"/a&b=c"}"#;
    let callback = login(
        &http,
        &emu,
        &[
            ("state", state),
            ("redirect_uri", "http://rp.test/app/cb?x=1"),
        ],
    )
    .await;
    let prefix = format!("http://rp.test/app/cb?x=1&state={state}&code=");
    assert!(callback.starts_with(&prefix), "{callback}");
}

#[tokio::test]
async fn v18_encodes_state() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let state = r#"{"p":1,"r":"/a&b=c"}"#;
    let callback = login(&http, &emu, &[("state", state)]).await;
    assert_eq!(query_param(&callback, "state").as_deref(), Some(state));
    assert!(!callback.contains('{'));
}

#[tokio::test]
async fn reused_nonce_is_rejected() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let nonce = random();
    open_login(&http, &authorize_url(&emu, &[("nonce", &nonce)])).await;
    let response = http
        .get(authorize_url(&emu, &[("nonce", &nonce)]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(shown_error(response).await, "invalid_request");
}

/// Nonce replay is checked only from e-Signet 1.6.0 (`AuthorizationHelperService`).
#[tokio::test]
async fn v141_does_not_check_nonce_replay() {
    let emu = start(EsignetVersion::V1_4_1).await;
    let http = http();
    let nonce = random();
    open_login(&http, &authorize_url(&emu, &[("nonce", &nonce)])).await;
    open_login(&http, &authorize_url(&emu, &[("nonce", &nonce)])).await;
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_show_a_page() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    for params in [
        vec![("client_id", "nobody")],
        vec![("redirect_uri", "http://evil.test/cb")],
        vec![("redirect_uri", "")],
    ] {
        let response = http
            .get(authorize_url(&emu, &params))
            .send()
            .await
            .expect("authorize");
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
        let body = response.text().await.expect("body");
        assert!(body.contains("invalid_client_id") || body.contains("invalid_redirect_uri"));
    }
}

#[tokio::test]
async fn authorize_validation_errors_are_shown_on_the_esignet_page() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("scope", "something")], "invalid_scope"),
        (
            vec![("scope", "email"), ("claims", CLAIMS)],
            "invalid_scope",
        ),
        (vec![("response_type", "token")], "invalid_response_type"),
        (vec![("prompt", "login consent")], "invalid_prompt"),
        (vec![("code_challenge", "abc")], "invalid_pkce_challenge"),
        (
            vec![
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
            "unsupported_pkce_challenge_method",
        ),
        (vec![("claims", "{not json")], "invalid_claim"),
    ];
    for (params, error) in cases {
        let response = http
            .get(authorize_url(&emu, &params))
            .send()
            .await
            .expect("authorize");
        // Only invalid_transaction is redirected (oidc-ui `redirectOnError` callers).
        assert_eq!(shown_error(response).await, error, "{params:?}");
    }
}

#[tokio::test]
async fn pkce_required_by_client() {
    let emu = start(EsignetVersion::V1_8).await;
    let mut client = test_client();
    client.client_id = "pkce-client".into();
    client.require_pkce = true;
    emu.register_client(client);
    let http = http();
    let response = http
        .get(authorize_url(&emu, &[("client_id", "pkce-client")]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(shown_error(response).await, "use_pkce");
    open_login(
        &http,
        &authorize_url(
            &emu,
            &[
                ("client_id", "pkce-client"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        ),
    )
    .await;
}

#[tokio::test]
async fn login_page_errors_and_cancel() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let tx = open_login(&http, &authorize_url(&emu, &[])).await;
    let wrong_otp = submit(&http, &emu, &tx, SIDDHARTH, "000000", "otp").await;
    assert_eq!(wrong_otp.status(), 401);
    let html = wrong_otp.text().await.expect("body");
    assert!(html.contains("Invalid OTP"));
    assert_eq!(transaction_id(&html), tx, "the same transaction continues");
    let unknown = submit(&http, &emu, &tx, "999", OTP, "otp").await;
    assert_eq!(unknown.status(), 401);
    assert!(unknown.text().await.expect("body").contains("Unknown UIN"));
    let cancelled = location(&submit(&http, &emu, &tx, "", "", "cancel").await);
    assert_eq!(
        query_param(&cancelled, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&cancelled, "state").as_deref(),
        Some("state-123")
    );
    let gone = submit(&http, &emu, &tx, SIDDHARTH, OTP, "otp").await;
    assert_eq!(gone.status(), 400, "transaction is over");
}

/// 1.4.1 `Consent.js`: a cancel is `consent_request_rejected`, and a request without state
/// comes back with `state=null`.
#[tokio::test]
async fn v141_cancel_is_consent_request_rejected_with_state_null() {
    let emu = start(EsignetVersion::V1_4_1).await;
    let http = http();
    let mut url = url::Url::parse(&authorize_url(&emu, &[])).expect("url");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "state")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let tx = open_login(&http, url.as_str()).await;
    let cancelled = location(&submit(&http, &emu, &tx, "", "", "cancel").await);
    assert_eq!(
        query_param(&cancelled, "error").as_deref(),
        Some("consent_request_rejected")
    );
    assert_eq!(query_param(&cancelled, "state").as_deref(), Some("null"));
}

#[tokio::test]
async fn acr_values_choose_methods_and_biometrics_sets_acr() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let url = authorize_url(&emu, &[("acr_values", "mosip:idp:acr:biometrics")]);
    let html = http
        .get(&url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(html.contains(r#"value="biometrics""#) && !html.contains(r#"value="otp""#));
    let tx = transaction_id(&html);
    let refused = submit(&http, &emu, &tx, SIDDHARTH, OTP, "otp").await;
    assert_eq!(refused.status(), 400);
    let callback = location(&submit(&http, &emu, &tx, SIDDHARTH, "", "biometrics").await);
    let code = query_param(&callback, "code").expect("code");
    let (_, tokens) = exchange(&http, &emu, &code).await;
    let (_, claims) = unverified(tokens["id_token"].as_str().expect("id"));
    assert_eq!(claims["acr"], "mosip:idp:acr:biometrics");

    // No requested ACR registered: silently all of the client's ACRs.
    let html = http
        .get(authorize_url(
            &emu,
            &[("acr_values", "mosip:idp:acr:knowledge")],
        ))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(html.contains(r#"value="biometrics""#) && html.contains(r#"value="otp""#));
}

#[tokio::test]
async fn acr_fallback_fault_overrides_acr() {
    let emu = start(EsignetVersion::V1_8).await;
    emu.set_faults(Faults {
        acr_fallback: Some("mosip:idp:acr:static-code".into()),
        ..Faults::default()
    });
    let http = http();
    let code = code_for(
        &http,
        &emu,
        &[("acr_values", "mosip:idp:acr:generated-code")],
    )
    .await;
    let (_, tokens) = exchange(&http, &emu, &code).await;
    let (_, claims) = unverified(tokens["id_token"].as_str().expect("id"));
    assert_eq!(claims["acr"], "mosip:idp:acr:static-code");
}

#[tokio::test]
async fn multi_locale_claims_get_suffixes() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let code = code_for(
        &http,
        &emu,
        &[("claims", CLAIMS), ("claims_locales", "en fr")],
    )
    .await;
    let (_, tokens) = exchange(&http, &emu, &code).await;
    let access = tokens["access_token"].as_str().expect("access");
    let jws = userinfo(&http, &emu, access)
        .await
        .text()
        .await
        .expect("body");
    let (_, info) = verify(&jws, &jwks(&http, &emu).await, CLIENT_ID).expect("verifies");
    assert_eq!(info["name#eng"], "Siddharth K Mansour");
    assert_eq!(info["gender#fra"], "Mâle");
    assert_eq!(info["gender#eng"], "Male");
    assert_eq!(info["address#fra"]["country#fra"], "Maroc");
    assert_eq!(info["address#eng"]["locality#eng"], "Cmattey");
    assert!(info.get("name").is_none() && info.get("address").is_none());
    assert_eq!(info["email"], "siddharth@example.org");
    assert_eq!(info["birthdate"], "1987/11/25");
}

#[tokio::test]
async fn scope_claims_without_claims_parameter() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let code = code_for(&http, &emu, &[("scope", "openid email")]).await;
    let (_, tokens) = exchange(&http, &emu, &code).await;
    let jws = userinfo(
        &http,
        &emu,
        tokens["access_token"].as_str().expect("access"),
    )
    .await
    .text()
    .await
    .expect("body");
    let (_, info) = unverified(&jws);
    let mut keys: Vec<&str> = info
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["aud", "email", "iss", "sub"]);
    assert_eq!(info["email"], "siddharth@example.org");
    assert!(info.get("name").is_none());
}

#[tokio::test]
async fn userinfo_requires_a_live_bearer_token() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let url = format!("{}/v1/esignet/oidc/userinfo", emu.base_url());
    let missing = http.get(&url).send().await.expect("userinfo");
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "error=\"invalid_token\""
    );
    assert!(missing.text().await.expect("body").is_empty());
    let unknown = userinfo(&http, &emu, "not-a-token").await;
    assert_eq!(unknown.status(), 401);
    let code = code_for(&http, &emu, &[]).await;
    let (_, tokens) = exchange(&http, &emu, &code).await;
    let as_query = http
        .get(format!(
            "{url}?access_token={}",
            tokens["access_token"].as_str().expect("access")
        ))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(as_query.status(), 401, "a query parameter does not work");
}
