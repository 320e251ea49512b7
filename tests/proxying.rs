//! The proxy itself: requests pass through intact (methods, bodies both ways,
//! WebSockets), routes match whole segments with the most specific winning,
//! the reserved prefix is configurable, and the assertion is not re-signed
//! on every request.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn methods_and_bodies_pass_through_both_ways() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let body = "x".repeat(3 * 1024 * 1024);
    let response = browser
        .client
        .put(env.url("/upload?kind=big"))
        .header("accept", "application/json")
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["query"], "kind=big");
    assert_eq!(seen["body_len"], body.len());

    let streamed = browser
        .client
        .get(env.url("/stream?chunks=50"))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    let text = streamed.text().await.unwrap();
    assert!(
        text.lines().count() >= 50,
        "all chunks arrive: {}",
        text.len()
    );

    let delete: Value = browser
        .client
        .delete(env.url("/items/7"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(delete["method"], "DELETE");
    assert_eq!(delete["path"], "/items/7");
}

#[tokio::test]
async fn websockets_are_authenticated_at_the_upgrade_and_proxied() {
    let env = Env::start(EnvOptions::default()).await;
    let ws_url = env.url("/ws").replace("http://", "ws://");

    // Without a session the upgrade is refused.
    let refused = tokio_tungstenite::connect_async(ws_url.as_str()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("upgrade without session must be refused, got {other:?}"),
    }

    let browser = env.browser();
    let back = browser.login(&env.url("/")).await;
    let cookie = set_cookie(&back, "g2p-session").unwrap();
    let mut request = ws_url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    socket
        .send(Message::text("hello through the gateway"))
        .await
        .unwrap();
    let echoed = socket.next().await.unwrap().unwrap();
    assert_eq!(
        echoed.into_text().unwrap().as_str(),
        "hello through the gateway"
    );
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn routes_match_whole_segments_and_the_most_specific_wins() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["routes"] = serde_json::json!([
                { "name": "root", "path": "/", "upstream": "portal", "auth": "login" },
                { "name": "api", "path": "/api", "upstream": "portal", "auth": "public" },
                { "name": "api-private", "path": "/api/private", "upstream": "portal", "auth": "login" },
                { "name": "other-host", "host": "other.example", "path": "/", "upstream": "portal", "auth": "public" },
            ]);
        }),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::new();
    let status = |path: &'static str, host: Option<&'static str>| {
        let mut request = client
            .get(env.url(path))
            .header("accept", "application/json");
        if let Some(h) = host {
            request = request.header("host", h);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/api", None).await, 200);
    assert_eq!(status("/api/x", None).await, 200);
    assert_eq!(
        status("/apix", None).await,
        401,
        "/api must not match /apix"
    );
    assert_eq!(status("/api/private", None).await, 401);
    assert_eq!(status("/api/private/deep", None).await, 401);
    assert_eq!(status("/api/privatex", None).await, 200);
    assert_eq!(
        status("/", Some("other.example")).await,
        200,
        "host route wins"
    );
    assert_eq!(status("/", Some("OTHER.example:8080")).await, 200);
}

#[tokio::test]
async fn the_reserved_prefix_can_be_changed() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["server"]["prefix"] = "/auth-gw".into();
        }),
        ..Default::default()
    })
    .await;
    // The emulator registered `/_gateway/callback`; register the new one too.
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("certs/demo/client.jwk.json")).unwrap(),
    )
    .unwrap();
    env.emulator
        .register_client(esignet_emulator::ClientRegistration::new(
            CLIENT_ID,
            jwk,
            vec![env.url("/_gateway/callback"), env.url("/auth-gw/callback")],
        ));
    let browser = env.browser();
    let start = browser.start_login(&env.url("/")).await;
    assert_eq!(
        query_param(&start.authorize_url, "redirect_uri"),
        Some(env.url("/auth-gw/callback"))
    );
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    assert_eq!(browser.navigate(&callback).await.status(), 302);
    let jwks = browser.fetch_json(&env.url("/auth-gw/jwks.json")).await;
    assert_eq!(jwks.status(), 200);
    // The old prefix is now an ordinary (protected) path.
    let old = browser.fetch_json(&env.url("/_gateway/jwks.json")).await;
    assert_eq!(old.status(), 200);
    let seen: Value = old.json().await.unwrap();
    assert_eq!(seen["path"], "/_gateway/jwks.json", "proxied to the portal");
}

#[tokio::test]
async fn the_assertion_is_signed_once_and_reused() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        let seen: Value = browser
            .fetch_json(&env.url(&format!("/page/{i}")))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["identity"]["verified"], true);
        tokens.push(
            seen["identity"]["claims"]["jti"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one signature serves many requests");
    let metrics = env.gateway.metrics().await;
    assert!(
        metrics.contains("g2p_gateway_identity_assertions_minted_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn forwarded_headers_are_set_and_client_values_are_not_trusted_by_default() {
    let env = Env::start(EnvOptions::default()).await;
    let seen: Value = reqwest::Client::new()
        .get(env.url("/public/x"))
        .header("accept", "application/json")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let get = |name: &str| echoed_header(&seen, name);
    assert_eq!(get("x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(get("x-forwarded-proto"), vec!["http"]);
    assert_eq!(get("x-forwarded-host").len(), 1);
    assert!(get("x-forwarded-host")[0].starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn an_unreachable_upstream_gives_a_clean_502() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["upstreams"]["dead"] =
                serde_json::json!({ "url": format!("http://127.0.0.1:{}", free_port()) });
            config["routes"] = serde_json::json!([
                { "path": "/", "upstream": "dead", "auth": "public" },
            ]);
        }),
        ..Default::default()
    })
    .await;
    let response = reqwest::Client::new()
        .get(env.url("/x"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "upstream_unavailable");
    assert!(body["correlation_id"].is_string());
}
