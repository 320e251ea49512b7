//! Interop with an independent, OpenID-certified provider: panva's
//! `oidc-provider` (npm), configured for private_key_jwt, PKCE and signed
//! userinfo. The same gateway flow must pass against it as against e-Signet.
//!
//! Needs `npm ci --prefix tests/interop` (the README's test command does it).

mod common;

use common::node_provider::{provider_login, ProviderEnv};
use common::*;
use serde_json::Value;

#[tokio::test]
async fn the_gateway_logs_in_through_panva_oidc_provider() {
    let env = ProviderEnv::start().await;
    let (base, callback, provider, gateway) =
        (&env.base, &env.callback, &env.provider, &env.gateway);
    let browser = Browser::new();
    let start = browser.start_login(&format!("{base}/benefits")).await;
    assert!(start.authorize_url.starts_with(&provider.issuer));
    let back_url = provider_login(&browser, &start.authorize_url, callback).await;
    let back = browser.navigate(&back_url).await;
    assert_eq!(back.status(), 302, "logs: {}", gateway.logs());
    assert_eq!(location(&back), "/benefits");

    let seen: Value = browser
        .fetch_json(&format!("{base}/benefits"))
        .await
        .json()
        .await
        .unwrap();
    let identity = &seen["identity"];
    assert_eq!(identity["verified"], true, "{identity}");
    let claims = &identity["claims"];
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["registrant_id"]["id_type"], "MOSIP PSUT");
    assert_eq!(claims["name"], "Interop Person");
    assert_eq!(claims["birthdate"], "1990-02-03");
    assert_eq!(claims["gender"], "Female");
    assert_eq!(claims["login"], "alice@interop.example");

    // RP-initiated logout goes through the provider's end_session_endpoint.
    let out = browser.logout(&format!("{base}/_gateway/logout")).await;
    assert_eq!(out.status(), 302);
    let end_session = location(&out);
    assert!(
        end_session.starts_with(&format!("{}/session/end", provider.issuer)),
        "{end_session}"
    );
    assert!(query_param(&end_session, "id_token_hint").is_some());
    assert_eq!(
        query_param(&end_session, "post_logout_redirect_uri").as_deref(),
        Some(format!("{base}/").as_str())
    );
    assert_eq!(
        browser
            .fetch_json(&format!("{base}/benefits"))
            .await
            .status(),
        401
    );
}
