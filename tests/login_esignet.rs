//! Logins against every e-Signet emulator mode, and the e-Signet traps of
//! issue 13: the issuer mismatch of stock 1.4.x–1.7.x configs, registrants
//! keyed on the national ID from userinfo (real ID tokens carry no
//! `individual_id`), a provider that signs userinfo only when asked, a
//! `token_url` override that must not change the client assertion's `aud`,
//! and the `check-config` refusals for v1 `/oauth/token` and a missing
//! `assertion_aud`.

mod common;

use std::process::Command;

use common::*;
use esignet_emulator::{EsignetVersion, Faults, UserinfoFault};
use serde_json::{json, Value};

/// What the upstream saw: the verified identity assertion's claims.
async fn assertion_claims(env: &Env, browser: &Browser) -> Value {
    let response = browser.fetch_json(&env.url("/portal/x")).await;
    assert_eq!(response.status(), 200, "upstream echo");
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["identity"]["verified"], true, "{seen}");
    seen["identity"]["claims"].clone()
}

/// A login that must succeed: the callback sends the browser back.
async fn logs_in(env: &Env, browser: &Browser) {
    let back = browser.login(&env.url("/portal/x")).await;
    let status = back.status();
    let body = back.text().await.unwrap_or_default();
    assert_eq!(status, 302, "login failed: {body}\n{}", env.gateway.logs());
}

#[tokio::test]
async fn logs_in_against_every_emulator_mode_including_the_issuer_mismatch() {
    for version in [EsignetVersion::V1_4_1, EsignetVersion::V1_8] {
        for mismatch in [false, true] {
            let env = Env::start(EnvOptions {
                version,
                emulator_edit: Box::new(move |c| c.issuer_mismatch = mismatch),
                ..Default::default()
            })
            .await;
            if mismatch {
                assert_eq!(
                    env.emulator.token_issuer(),
                    format!("{}/v1/esignet", env.emulator.issuer())
                );
            }
            let browser = env.browser();
            logs_in(&env, &browser).await;
            let claims = assertion_claims(&env, &browser).await;
            let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
            assert_eq!(claims["sub"], psut.as_str(), "{version} {mismatch}");
            if mismatch {
                assert!(
                    env.gateway
                        .logs()
                        .contains("another issuer than its discovery"),
                    "the mismatch is accepted with a warning"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_foreign_issuer_is_still_refused() {
    // Only the two e-Signet forms of the discovered issuer are accepted.
    let env = Env::start(EnvOptions {
        emulator_edit: Box::new(|c| c.issuer_mismatch = true),
        edit: Box::new(|config| {
            config["esignet"]["issuer"] = json!("https://someone-else.example");
        }),
        ..Default::default()
    })
    .await;
    let back = env.browser().login(&env.url("/portal/x")).await;
    assert_ne!(back.status(), 302);
}

/// Issue 13, "done when": `individual_id:user_id` produces the national ID
/// as `user_id` from a real-shaped token pair (the emulator's ID token has
/// no user claims; `individual_id` comes only in userinfo).
#[tokio::test]
async fn individual_id_user_id_keys_the_registrant_on_the_national_id() {
    for version in [EsignetVersion::V1_4_1, EsignetVersion::V1_8] {
        let env = Env::start(EnvOptions {
            version,
            edit: Box::new(|config| {
                config["esignet"]["user_claims"] =
                    json!("name gender birthdate email phone_number address picture individual_id");
                config["mapping"] = json!({
                    "token_map": "individual_id:user_id",
                    "registrant_id_type": "NATIONAL ID",
                    "birthdate_format": "%Y/%m/%d",
                    "userinfo_map": "name:name email:email phone_number:phone birthdate:birthdate gender:gender picture:picture",
                });
            }),
            ..Default::default()
        })
        .await;
        let browser = env.browser();
        logs_in(&env, &browser).await;
        let claims = assertion_claims(&env, &browser).await;
        // `sub` is the user id and the registrant ID's value.
        assert_eq!(claims["sub"], INDIVIDUAL_ID, "{version}");
        assert_eq!(claims["registrant_id"], json!({"id_type": "NATIONAL ID"}));
        // OpenG2P's partner fields, in the assertion, without the picture.
        let partner = &claims["partner"];
        assert_eq!(partner["name"], "MANSOUR, SIDDHARTH K", "{partner}");
        assert_eq!(partner["given_name"], "Siddharth");
        assert_eq!(partner["family_name"], "Mansour");
        assert_eq!(partner["addl_name"], "K");
        // The birthdate is the top-level claim, not repeated in `partner`.
        assert_eq!(claims["birthdate"], "1987/11/25");
        assert!(partner.get("birthdate").is_none(), "{partner}");
        assert!(partner.get("image_1920").is_none(), "never in a header");
        assert!(claims.get("picture").is_none());
        // The session endpoint has the picture where OpenG2P fills image_1920.
        let info: Value = browser
            .fetch_json(&env.url("/_gateway/session"))
            .await
            .json()
            .await
            .unwrap();
        let image = info["partner"]["image_1920"].as_str().unwrap_or_default();
        assert!(!image.is_empty() && !image.starts_with("data:"), "{info}");
    }
}

#[tokio::test]
async fn a_missing_individual_id_refuses_the_login_instead_of_filing_the_psut() {
    // individual_id is requested, but the client is not registered for it,
    // so e-Signet silently drops it from userinfo.
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["esignet"]["user_claims"] = json!("name email individual_id");
            config["mapping"] = json!({
                "token_map": "individual_id:user_id",
                "registrant_id_type": "NATIONAL ID",
            });
        }),
        ..Default::default()
    })
    .await;
    let public_jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("certs/demo/client.jwk.json")).unwrap(),
    )
    .unwrap();
    let mut client = esignet_emulator::ClientRegistration::new(
        CLIENT_ID,
        public_jwk,
        vec![env.url("/_gateway/callback")],
    );
    client.user_claims.retain(|c| c != "individual_id");
    env.emulator.register_client(client);
    let back = env.browser().login(&env.url("/portal/x")).await;
    assert_ne!(back.status(), 302, "no session keyed on the PSUT");
    let logs = env.gateway.logs();
    assert!(
        logs.contains("token_map source `individual_id`"),
        "a clear reason: {logs}"
    );
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert!(!logs.contains(&psut), "no personal data in the logs");
}

#[tokio::test]
async fn userinfo_is_asked_for_as_a_jwt() {
    let env = Env::start(EnvOptions::default()).await;
    env.emulator.set_faults(Faults {
        userinfo: Some(UserinfoFault::SignedOnlyWhenAsked),
        ..Faults::default()
    });
    let browser = env.browser();
    logs_in(&env, &browser).await;
    let claims = assertion_claims(&env, &browser).await;
    assert_eq!(claims["name"], "Siddharth K Mansour");
}

#[tokio::test]
async fn a_token_url_override_keeps_the_assertion_aud_e_signet_expects() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            // Same emulator, another host name: what an internal URL is.
            let discovery = config["esignet"]["discovery_url"].as_str().unwrap();
            let internal = discovery.replace("127.0.0.1", "localhost").replace(
                "/.well-known/openid-configuration",
                "/v1/esignet/oauth/v2/token",
            );
            config["esignet"]["token_url"] = json!(internal);
        }),
        ..Default::default()
    })
    .await;
    logs_in(&env, &env.browser()).await;
    let requests = env.emulator.token_requests();
    let last = requests.last().expect("a token request");
    assert!(last.path.ends_with("/oauth/v2/token"));
    assert_eq!(
        last.assertion_claims.as_ref().unwrap()["aud"],
        env.emulator.token_endpoint().as_str(),
        "aud is e-Signet's published endpoint, not the override"
    );
}

/// `check-config` output and exit code for a config edited from the test one.
async fn check_config(edit: impl FnOnce(&mut Value)) -> (i32, String) {
    let (emulator, upstream) = demo_idp_and_upstream().await;
    let mut config = gateway_config(&repo_root(), free_port(), &emulator, &upstream);
    edit(&mut config);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "gateway.yaml", &config);
    let output = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    exit_code_and_text(&output)
}

#[tokio::test]
async fn check_config_refuses_a_v1_token_url_with_pkce() {
    let (code, text) = check_config(|config| {
        let discovery = config["esignet"]["discovery_url"].as_str().unwrap();
        config["esignet"]["token_url"] = json!(discovery.replace(
            "/.well-known/openid-configuration",
            "/v1/esignet/oauth/token"
        ));
    })
    .await;
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("esignet.token_url"), "{text}");
    assert!(text.contains("code_verifier"), "says why: {text}");
}

#[tokio::test]
async fn check_config_refuses_a_user_id_source_that_is_never_requested() {
    let (code, text) = check_config(|config| {
        config["mapping"] = json!({ "token_map": "individual_id:user_id" });
    })
    .await;
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("mapping.token_map"), "{text}");
    assert!(text.contains("esignet.user_claims"), "{text}");
    let (code, text) = check_config(|config| {
        config["mapping"] = json!({ "token_map": "individual_id:user_id" });
        config["esignet"]["user_claims"] = json!("name individual_id");
    })
    .await;
    assert_eq!(code, 0, "{text}");
}

#[tokio::test]
async fn check_config_says_assertion_aud_is_needed_for_an_internal_token_url() {
    let explicit = |config: &mut Value, with_aud: bool| {
        let esignet = &mut config["esignet"];
        let base = esignet["discovery_url"]
            .as_str()
            .unwrap()
            .replace("/.well-known/openid-configuration", "");
        let object = esignet.as_object_mut().unwrap();
        object.remove("discovery_url");
        object.insert("issuer".into(), json!(base));
        object.insert("authorize_url".into(), json!(format!("{base}/authorize")));
        let internal = base.replace("127.0.0.1", "localhost");
        object.insert(
            "token_url".into(),
            json!(format!("{internal}/v1/esignet/oauth/v2/token")),
        );
        object.insert(
            "userinfo_url".into(),
            json!(format!("{base}/v1/esignet/oidc/userinfo")),
        );
        object.insert(
            "jwks_url".into(),
            json!(format!("{base}/.well-known/jwks.json")),
        );
        if with_aud {
            object.insert(
                "assertion_aud".into(),
                json!(format!("{base}/v1/esignet/oauth/v2/token")),
            );
        }
    };
    let (code, text) = check_config(|c| explicit(c, false)).await;
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("esignet.assertion_aud"), "{text}");
    let (code, text) = check_config(|c| explicit(c, true)).await;
    assert_eq!(code, 0, "{text}");
}

/// e-Signet 1.4.1 answers a failed KYC exchange (and PKCE failures) with
/// HTTP 500 and its raw code: a refused login, not an unavailable provider.
#[tokio::test]
async fn a_1_4_1_refusal_with_http_500_is_a_refused_login_not_an_outage() {
    let env = Env::start(EnvOptions {
        version: EsignetVersion::V1_4_1,
        ..Default::default()
    })
    .await;
    env.emulator.set_faults(Faults {
        token_endpoint: Some(esignet_emulator::TokenEndpointFault::KycExchangeFailed),
        ..Faults::default()
    });
    let back = env.browser().login(&env.url("/portal/x")).await;
    assert_ne!(back.status(), 302);
    assert_ne!(back.status(), 502, "not 'identity provider unavailable'");
    let logs = env.gateway.logs();
    assert!(logs.contains("data_exchange_failed"), "{logs}");
}
