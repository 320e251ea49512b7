//! Token-endpoint refusals, with 1.8's collapsed OAuth codes and 1.4.1's raw codes.

mod common;

use common::*;
use esignet_emulator::{Emulator, EsignetVersion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// A named edit of the assertion claims.
type ClaimEdit = (&'static str, Box<dyn FnOnce(&mut Value)>);

const VERSIONS: [EsignetVersion; 2] = [EsignetVersion::V1_8, EsignetVersion::V1_4_1];

/// The PKCE pair of RFC 7636 appendix B (verifier `dBjftJeZ…`).
const PKCE: [(&str, &str); 2] = [
    (
        "code_challenge",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    ),
    ("code_challenge_method", "S256"),
];

/// Asserts the version's status and error code: 400, except 1.4.1's 500 for PKCE failures
/// (`ExceptionHandlerAdvice`, v1.4.1).
fn refused(version: EsignetVersion, (status, body): (u16, Value), oauth: &str, raw: &str) {
    let pkce = ["pkce_failed", "invalid_pkce_code_verifier"].contains(&raw);
    let expected_status = match version {
        EsignetVersion::V1_4_1 if pkce => 500,
        _ => 400,
    };
    assert_eq!(status, expected_status, "{version}: {body}");
    let expected = match version {
        EsignetVersion::V1_8 => oauth,
        EsignetVersion::V1_4_1 => raw,
    };
    assert_eq!(body["error"], expected, "{version}: {body}");
    assert!(body["error_description"].is_string());
}

async fn with_claims(
    http: &reqwest::Client,
    emu: &Emulator,
    code: &str,
    edit: impl FnOnce(&mut Value),
) -> (u16, Value) {
    let mut claims = assertion_claims(emu);
    edit(&mut claims);
    let assertion = sign_assertion(&claims, Algorithm::RS256, None);
    post_token(http, emu, &token_form(code, &assertion)).await
}

#[tokio::test]
async fn assertion_claim_errors() {
    for version in VERSIONS {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &[]).await;
        let now = now();
        let endpoint = emu.token_endpoint();
        let cases: Vec<ClaimEdit> = vec![
            (
                "wrong aud",
                Box::new(|c: &mut Value| c["aud"] = json!("https://elsewhere/token")),
            ),
            (
                "v1 aud on v2",
                Box::new(move |c: &mut Value| {
                    c["aud"] = json!(endpoint.replace("/v2/token", "/token"))
                }),
            ),
            (
                "expired",
                Box::new(move |c: &mut Value| c["exp"] = json!(now - 30)),
            ),
            (
                "iat in future",
                Box::new(move |c: &mut Value| c["iat"] = json!(now + 30)),
            ),
            (
                "nbf in future",
                Box::new(move |c: &mut Value| c["nbf"] = json!(now + 30)),
            ),
            (
                "wrong iss",
                Box::new(|c: &mut Value| c["iss"] = json!("someone")),
            ),
            (
                "wrong sub",
                Box::new(|c: &mut Value| c["sub"] = json!("someone")),
            ),
            (
                "no exp",
                Box::new(|c: &mut Value| {
                    c.as_object_mut().map(|o| o.remove("exp"));
                }),
            ),
            (
                "no iat",
                Box::new(|c: &mut Value| {
                    c.as_object_mut().map(|o| o.remove("iat"));
                }),
            ),
        ];
        for (name, edit) in cases {
            let result = with_claims(&http, &emu, &code, edit).await;
            assert_eq!(result.0, 400, "{version} {name}");
            refused(version, result, "invalid_client", "invalid_assertion");
        }
        // None of these consumed the code.
        let (status, body) = exchange(&http, &emu, &code).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(emu.token_requests().len(), 10);
        assert_eq!(
            emu.token_requests()[0].error.as_deref(),
            Some(if version == EsignetVersion::V1_8 {
                "invalid_client"
            } else {
                "invalid_assertion"
            })
        );
    }
}

#[tokio::test]
async fn leeway_is_zero_on_141_and_five_seconds_on_18() {
    for (version, ok) in [
        (EsignetVersion::V1_8, true),
        (EsignetVersion::V1_4_1, false),
    ] {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &[]).await;
        let result = with_claims(&http, &emu, &code, |c| c["iat"] = json!(now() + 3)).await;
        assert_eq!(result.0 == 200, ok, "{version}: {}", result.1);
    }
}

#[tokio::test]
async fn issuer_as_audience_only_on_18() {
    for (version, ok) in [
        (EsignetVersion::V1_8, true),
        (EsignetVersion::V1_4_1, false),
    ] {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &[]).await;
        let issuer = emu.issuer();
        let result = with_claims(&http, &emu, &code, |c| c["aud"] = json!(issuer)).await;
        assert_eq!(result.0 == 200, ok, "{version}: {}", result.1);
    }
}

#[tokio::test]
async fn jti_required_and_replay_checked_on_18_only() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let claims = assertion_claims(&emu);
    let assertion = sign_assertion(&claims, Algorithm::RS256, None);
    let first = code_for(&http, &emu, &[]).await;
    assert_eq!(
        post_token(&http, &emu, &token_form(&first, &assertion))
            .await
            .0,
        200
    );
    let second = code_for(&http, &emu, &[]).await;
    let replay = post_token(&http, &emu, &token_form(&second, &assertion)).await;
    refused(
        EsignetVersion::V1_8,
        replay,
        "invalid_client",
        "invalid_assertion",
    );
    let no_jti = with_claims(&http, &emu, &second, |c| {
        c.as_object_mut().map(|o| o.remove("jti"));
    })
    .await;
    refused(
        EsignetVersion::V1_8,
        no_jti,
        "invalid_client",
        "invalid_assertion",
    );

    let old = start(EsignetVersion::V1_4_1).await;
    let mut claims = assertion_claims(&old);
    claims.as_object_mut().map(|o| o.remove("jti"));
    let assertion = sign_assertion(&claims, Algorithm::RS256, None);
    for _ in 0..2 {
        let code = code_for(&http, &old, &[]).await;
        let (status, body) = post_token(&http, &old, &token_form(&code, &assertion)).await;
        assert_eq!(
            status, 200,
            "1.4.1 neither requires nor replay-checks jti: {body}"
        );
    }
}

#[tokio::test]
async fn kid_and_alg_must_match_the_registered_key() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let code = code_for(&http, &emu, &[]).await;
    // The registered demo JWK has no kid: a kid in the header cannot match.
    let assertion = sign_assertion(&assertion_claims(&emu), Algorithm::RS256, Some("some-kid"));
    refused(
        EsignetVersion::V1_8,
        post_token(&http, &emu, &token_form(&code, &assertion)).await,
        "invalid_client",
        "invalid_assertion",
    );
    // The registered JWK says alg RS256: PS256 is refused even on 1.8.
    let assertion = sign_assertion(&assertion_claims(&emu), Algorithm::PS256, None);
    refused(
        EsignetVersion::V1_8,
        post_token(&http, &emu, &token_form(&code, &assertion)).await,
        "invalid_client",
        "invalid_assertion",
    );
    // Signed by another key.
    let other = EncodingKey::from_rsa_pem(
        &std::fs::read(repo_root().join("certs/demo/esignet-signing.pem")).expect("pem"),
    )
    .expect("key");
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &assertion_claims(&emu),
        &other,
    )
    .expect("sign");
    refused(
        EsignetVersion::V1_8,
        post_token(&http, &emu, &token_form(&code, &forged)).await,
        "invalid_client",
        "invalid_assertion",
    );

    // A client registered with a kid and no alg: header kid must equal it or be absent; PS256 ok on 1.8.
    let mut client = test_client();
    let mut jwk = client_jwk();
    jwk["kid"] = json!("client-key-1");
    jwk.as_object_mut().map(|o| o.remove("alg"));
    client.public_jwk = jwk;
    emu.register_client(client);
    let assertion = sign_assertion(
        &assertion_claims(&emu),
        Algorithm::PS256,
        Some("client-key-1"),
    );
    assert_eq!(
        post_token(&http, &emu, &token_form(&code, &assertion))
            .await
            .0,
        200
    );
    let code = code_for(&http, &emu, &[]).await;
    let assertion = sign_assertion(&assertion_claims(&emu), Algorithm::RS256, None);
    assert_eq!(
        post_token(&http, &emu, &token_form(&code, &assertion))
            .await
            .0,
        200
    );
    let code = code_for(&http, &emu, &[]).await;
    let assertion = sign_assertion(
        &assertion_claims(&emu),
        Algorithm::RS256,
        Some("client-key-2"),
    );
    assert_eq!(
        post_token(&http, &emu, &token_form(&code, &assertion))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn ps256_assertion_refused_on_141() {
    let emu = start(EsignetVersion::V1_4_1).await;
    let mut client = test_client();
    client.public_jwk.as_object_mut().map(|o| o.remove("alg"));
    emu.register_client(client);
    let http = http();
    let code = code_for(&http, &emu, &[]).await;
    let assertion = sign_assertion(&assertion_claims(&emu), Algorithm::PS256, None);
    refused(
        EsignetVersion::V1_4_1,
        post_token(&http, &emu, &token_form(&code, &assertion)).await,
        "invalid_client",
        "invalid_assertion",
    );
}

#[tokio::test]
async fn code_redirect_and_request_errors() {
    for version in VERSIONS {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &[]).await;
        let assertion = || sign_assertion(&assertion_claims(&emu), Algorithm::RS256, None);

        // One field wrong at a time: (field, value, 1.8 error, 1.4.1 error code).
        let wrong = [
            (
                "redirect_uri",
                "http://rp.test/app/other",
                "invalid_request",
                "invalid_redirect_uri",
            ),
            (
                "client_id",
                "someone-else",
                // 1.8.0 collapses invalid_client_id into invalid_request.
                "invalid_request",
                "invalid_client_id",
            ),
            (
                "grant_type",
                "client_credentials",
                "unsupported_grant_type",
                "unsupported_grant_type",
            ),
            (
                "client_assertion_type",
                "urn:other",
                "invalid_client",
                "invalid_assertion_type",
            ),
        ];
        for (field, value, error, legacy_code) in wrong {
            let mut form = token_form(&code, &assertion());
            set(&mut form, field, value);
            refused(
                version,
                post_token(&http, &emu, &form).await,
                error,
                legacy_code,
            );
        }

        let form = token_form("no-such-code", &assertion());
        refused(
            version,
            post_token(&http, &emu, &form).await,
            "invalid_grant",
            "invalid_transaction",
        );

        // client_id is optional.
        let mut form = token_form(&code, &assertion());
        form.retain(|(k, _)| k != "client_id");
        assert_eq!(post_token(&http, &emu, &form).await.0, 200);

        // Single use.
        refused(
            version,
            post_token(&http, &emu, &token_form(&code, &assertion())).await,
            "invalid_grant",
            "invalid_transaction",
        );
    }
}

#[tokio::test]
async fn pkce_verifier_checked() {
    for version in VERSIONS {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &PKCE).await;
        let assertion = || sign_assertion(&assertion_claims(&emu), Algorithm::RS256, None);
        let mut form = token_form(&code, &assertion());
        set(
            &mut form,
            "code_verifier",
            "not-the-verifier-not-the-verifier-not-the-verifier",
        );
        refused(
            version,
            post_token(&http, &emu, &form).await,
            "invalid_grant",
            "pkce_failed",
        );
        let form = token_form(&code, &assertion());
        refused(
            version,
            post_token(&http, &emu, &form).await,
            "invalid_grant",
            "invalid_pkce_code_verifier",
        );
        let mut form = token_form(&code, &assertion());
        set(
            &mut form,
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        );
        assert_eq!(post_token(&http, &emu, &form).await.0, 200);
    }
}

/// The v1 endpoint drops `code_verifier` in every tag (`OAuthController.buildTokenRequest`,
/// v1.2.0–v1.8.0): a PKCE flow fails there in both versions (1.4.1 with HTTP 500); without
/// PKCE it works, with `aud = issuer-id + "/oauth/token"`.
#[tokio::test]
async fn legacy_v1_endpoint_never_carries_pkce() {
    let http = http();
    for version in VERSIONS {
        let emu = start(version).await;
        let v1 = |form: Vec<(String, String)>| {
            let http = http.clone();
            let url = format!("{}/v1/esignet/oauth/token", emu.base_url());
            async move {
                let response = http.post(url).form(&form).send().await.expect("token");
                let status = response.status().as_u16();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        let code = code_for(&http, &emu, &PKCE).await;
        let mut claims = assertion_claims(&emu);
        claims["aud"] = json!(format!("{}/oauth/token", emu.issuer()));
        let mut form = token_form(&code, &sign_assertion(&claims, Algorithm::RS256, None));
        set(
            &mut form,
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        );
        refused(
            version,
            v1(form).await,
            "invalid_grant",
            "invalid_pkce_code_verifier",
        );

        let code = code_for(&http, &emu, &[]).await;
        let mut claims = assertion_claims(&emu);
        claims["aud"] = json!(format!("{}/oauth/token", emu.issuer()));
        let form = token_form(&code, &sign_assertion(&claims, Algorithm::RS256, None));
        assert_eq!(v1(form).await.0, 200, "{version}: v1 without PKCE");
    }
}

/// Token-check order (`OAuthServiceImpl.getTokens`, v1.4.1 and v1.8.0): PKCE before the
/// client assertion, so a bad verifier with a bad assertion reports the PKCE failure.
#[tokio::test]
async fn pkce_is_checked_before_the_assertion() {
    for version in VERSIONS {
        let emu = start(version).await;
        let http = http();
        let code = code_for(&http, &emu, &PKCE).await;
        let mut claims = assertion_claims(&emu);
        claims["aud"] = json!("https://elsewhere/token");
        let mut form = token_form(&code, &sign_assertion(&claims, Algorithm::RS256, None));
        set(
            &mut form,
            "code_verifier",
            "wrong-wrong-wrong-wrong-wrong-wrong-wrong-1",
        );
        refused(
            version,
            post_token(&http, &emu, &form).await,
            "invalid_grant",
            "pkce_failed",
        );
    }
}
