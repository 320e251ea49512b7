//! Discovery and JWKS, per version.

mod common;

use common::*;
use esignet_emulator::{EsignetVersion, Faults};
use serde_json::Value;

async fn discovery(http: &reqwest::Client, url: String) -> Value {
    let response = http.get(url).send().await.expect("discovery");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[tokio::test]
async fn discovery_on_both_paths_v18() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    let root = discovery(&http, emu.discovery_url()).await;
    let servlet = discovery(
        &http,
        format!(
            "{}/v1/esignet/oidc/.well-known/openid-configuration",
            emu.base_url()
        ),
    )
    .await;
    assert_eq!(root, servlet);
    let base = emu.base_url();
    assert_eq!(root["issuer"], base);
    assert_eq!(emu.issuer(), base);
    assert_eq!(root["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(
        root["token_endpoint"],
        format!("{base}/v1/esignet/oauth/v2/token")
    );
    assert_eq!(
        root["userinfo_endpoint"],
        format!("{base}/v1/esignet/oidc/userinfo")
    );
    assert_eq!(root["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        root["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "PS256"])
    );
    assert_eq!(
        root["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(root["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        root["userinfo_encryption_alg_values_supported"],
        serde_json::json!(["RSAXXXXX"])
    );
    assert_eq!(root["claims_parameter_supported"], true);
    let scopes = root["scopes_supported"].as_array().expect("scopes");
    assert!(scopes.contains(&Value::from("openid")) && scopes.contains(&Value::from("address")));
    assert!(root["claims_supported"]
        .as_array()
        .expect("claims")
        .contains(&Value::from("individual_id")));
    assert!(root["acr_values_supported"]
        .as_array()
        .expect("acrs")
        .contains(&Value::from("mosip:idp:acr:biometrics")));
    assert!(root.get("end_session_endpoint").is_none());
}

#[tokio::test]
async fn discovery_v141_shape_and_configured_issuer() {
    let emu = start_with(EsignetVersion::V1_4_1, |c| {
        c.issuer = Some("https://esignet.example.org".to_string());
    })
    .await;
    let http = http();
    let doc = discovery(&http, emu.discovery_url()).await;
    assert_eq!(doc["issuer"], "https://esignet.example.org");
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/v1/esignet/oauth/v2/token", emu.base_url())
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["profile", "email", "phone"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert!(doc.get("code_challenge_methods_supported").is_none());
    assert!(doc
        .get("authorization_response_iss_parameter_supported")
        .is_none());
    assert!(doc.get("end_session_endpoint").is_none());
}

#[tokio::test]
async fn jwks_has_both_keys_with_exp_and_no_alg() {
    let emu = start(EsignetVersion::V1_8).await;
    let http = http();
    for path in [
        "/.well-known/jwks.json",
        "/v1/esignet/oauth/.well-known/jwks.json",
    ] {
        let doc: Value = http
            .get(format!("{}{path}", emu.base_url()))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        let keys = doc["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 2);
        for key in keys {
            assert_eq!(key["kty"], "RSA");
            assert_eq!(key["kid"].as_str().map(str::len), Some(43));
            assert!(key["exp"].as_i64().expect("exp") > now());
            assert!(key.get("alg").is_none() && key.get("use").is_none());
        }
        assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    }
    // The non-standard `exp` member does not stop a JWK library from reading the set.
    assert_eq!(jwks(&http, &emu).await.keys.len(), 2);
}

#[tokio::test]
async fn jwks_unavailable_fault_answers_503() {
    let emu = start(EsignetVersion::V1_8).await;
    emu.set_faults(Faults {
        jwks_unavailable: true,
        ..Faults::default()
    });
    let response = http().get(emu.jwks_url()).send().await.expect("jwks");
    assert_eq!(response.status(), 503);
    emu.set_faults(Faults::default());
    let response = http().get(emu.jwks_url()).send().await.expect("jwks");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let emu = start(EsignetVersion::V1_8).await;
    let url = emu.discovery_url();
    assert_eq!(http().get(&url).send().await.expect("up").status(), 200);
    emu.shutdown().await;
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}
