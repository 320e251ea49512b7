//! OpenID Connect Back-Channel Logout 1.0 against panva's oidc-provider: a
//! logout at the provider ends the gateway session; forged, replayed or
//! malformed logout tokens are refused and end nothing.

mod common;

use std::time::Duration;

use common::node_provider::ProviderEnv;
use common::wait::within;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs a logout token with the provider's key (or another PEM).
fn logout_token(claims: &Value, key_file: &str) -> String {
    let pem = std::fs::read(repo_root().join("certs/demo").join(key_file)).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("interop-signing".into());
    header.typ = Some("logout+jwt".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

async fn post_logout(env: &ProviderEnv, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/_gateway/backchannel-logout", env.base))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
}

async fn logged_in(env: &ProviderEnv, browser: &Browser) -> bool {
    browser
        .fetch_json(&format!("{}/x", env.base))
        .await
        .status()
        == 200
}

#[tokio::test]
async fn a_logout_at_the_provider_ends_the_gateway_session() {
    let env = ProviderEnv::start().await;
    let browser = Browser::new();
    assert_eq!(env.login(&browser, "/").await.status(), 302);
    assert!(logged_in(&env, &browser).await);

    // The user logs out at the provider itself (not through the gateway).
    let end = browser
        .navigate(&format!("{}/session/end", env.provider.issuer))
        .await;
    assert_eq!(end.status(), 200);
    let page = end.text().await.unwrap();
    let xsrf = extract_hidden(&page, "xsrf").expect("xsrf in the logout form");
    let confirm = browser
        .client
        .post(format!("{}/session/end/confirm", env.provider.issuer))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert!(confirm.status().is_redirection() || confirm.status().is_success());

    // The provider calls the gateway's back-channel endpoint; wait for its effect.
    let ended = within(Duration::from_secs(10), || async {
        !logged_in(&env, &browser).await
    })
    .await;
    assert!(
        ended.is_some(),
        "session still alive; logs:\n{}",
        env.gateway.logs()
    );
    assert!(env.gateway.logs().contains("back-channel logout"));
}

#[tokio::test]
async fn forged_replayed_and_malformed_logout_tokens_are_refused() {
    let env = ProviderEnv::start().await;
    let browser = Browser::new();
    env.login(&browser, "/").await;
    let good = json!({
        "iss": env.provider.issuer, "aud": CLIENT_ID, "iat": now(), "exp": now() + 120,
        "jti": "jti-1", "sub": "alice", "events": { EVENT: {} },
    });
    let variants: Vec<(&str, Value, &str)> = vec![
        ("signed by another key", good.clone(), "client.pem"),
        (
            "wrong audience",
            with(&good, "aud", json!("someone-else")),
            "esignet-signing.pem",
        ),
        (
            "wrong issuer",
            with(&good, "iss", json!("https://evil.example")),
            "esignet-signing.pem",
        ),
        (
            "expired",
            with(&good, "exp", json!(now() - 3600)),
            "esignet-signing.pem",
        ),
        ("no event", without(&good, "events"), "esignet-signing.pem"),
        (
            "a nonce (an ID token)",
            with(&good, "nonce", json!("n")),
            "esignet-signing.pem",
        ),
        (
            "neither sub nor sid",
            without(&good, "sub"),
            "esignet-signing.pem",
        ),
        ("no jti", without(&good, "jti"), "esignet-signing.pem"),
    ];
    for (what, claims, key) in variants {
        let response = post_logout(&env, &logout_token(&claims, key)).await;
        assert_eq!(response.status(), 400, "{what}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(
            logged_in(&env, &browser).await,
            "{what} must not end the session"
        );
    }
    let garbage = post_logout(&env, "not-a-jwt").await;
    assert_eq!(garbage.status(), 400);

    // A genuine token ends the session; the same token again is a replay.
    let genuine = logout_token(&good, "esignet-signing.pem");
    assert_eq!(post_logout(&env, &genuine).await.status(), 200);
    assert!(!logged_in(&env, &browser).await);
    assert_eq!(post_logout(&env, &genuine).await.status(), 400, "replay");
}

fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut c = claims.clone();
    c[key] = value;
    c
}

fn without(claims: &Value, key: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove(key);
    c
}
