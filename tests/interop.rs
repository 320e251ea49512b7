//! Interop with an independent, OpenID-certified provider: panva's
//! `oidc-provider` (npm), configured for private_key_jwt, PKCE and signed
//! userinfo. The same gateway flow must pass against it as against e-Signet.
//!
//! Needs `npm ci --prefix tests/interop` (the README's test command does it).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;
use esignet_emulator::DemoUpstream;
use serde_json::Value;

struct NodeProvider {
    child: Child,
    issuer: String,
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_provider(redirect_uri: &str) -> NodeProvider {
    let root = repo_root();
    let dir = root.join("tests/interop");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci --prefix tests/interop` first (the README's test command does)"
    );
    let mut child = Command::new("node")
        .current_dir(&dir)
        .arg("provider.mjs")
        .arg(CLIENT_ID)
        .arg(redirect_uri)
        .arg(root.join("certs/demo/client.jwk.json"))
        .arg(root.join("certs/demo/esignet-signing.pem"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line).map(|_| line);
        // Keep draining: a closed pipe would kill the child at its next print.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        read
    })
    .await
    .unwrap()
    .unwrap();
    let issuer = line
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no listen line from oidc-provider: {line:?}"))
        .to_string();
    NodeProvider { child, issuer }
}

/// Follows the provider's dev interactions (login, then consent) until it
/// redirects to the gateway's callback, and returns that URL.
async fn provider_login(browser: &Browser, authorize_url: &str, callback_prefix: &str) -> String {
    let mut url = authorize_url.to_string();
    for _ in 0..12 {
        if url.starts_with(callback_prefix) {
            return url;
        }
        let response = browser.navigate(&url).await;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            url = resolve(&url, &location(&response));
            continue;
        }
        assert_eq!(status, 200, "unexpected answer at {url}");
        let page = response.text().await.unwrap();
        let form: &[(&str, &str)] = if page.contains("name=\"login\"") {
            &[("prompt", "login"), ("login", "alice"), ("password", "any")]
        } else {
            &[("prompt", "consent")]
        };
        let posted = browser.client.post(&url).form(form).send().await.unwrap();
        assert!(
            posted.status().is_redirection(),
            "interaction POST at {url}"
        );
        url = resolve(&url, &location(&posted));
    }
    panic!("the provider never redirected back to the gateway");
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_gateway_logs_in_through_panva_oidc_provider() {
    let root = repo_root();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let callback = format!("{base}/_gateway/callback");
    let provider = start_provider(&callback).await;
    let upstream = DemoUpstream::start(
        "127.0.0.1:0".parse().unwrap(),
        Some(format!("{base}/_gateway/jwks.json")),
        Some("g2p-portal".into()),
    )
    .await
    .unwrap();
    let certs = root.join("certs/demo");
    let file = |name: &str| serde_json::json!({ "file": certs.join(name).to_string_lossy() });
    let config = serde_json::json!({
        "server": {
            "listen": format!("127.0.0.1:{port}"),
            "admin_listen": "127.0.0.1:0",
            "public_url": base,
            "grace_period": "1s",
        },
        "esignet": {
            "client_id": CLIENT_ID,
            "discovery_url": format!("{}/.well-known/openid-configuration", provider.issuer),
            "private_key": file("client.pem"),
            "scope": "openid profile email phone address",
            "acr_values": [],
        },
        "session": { "cookie_keys": [file("cookie.key")], "insecure_cookie_without_secure": true },
        "identity": { "signing_keys": [file("gateway-signing.pem")] },
        "upstreams": { "portal": { "url": upstream.base_url() } },
        "routes": [{ "path": "/", "upstream": "portal", "auth": "login" }],
    });
    let gateway = spawn_gateway(&config).await;

    let browser = Browser::new();
    let start = browser.start_login(&format!("{base}/benefits")).await;
    assert!(start.authorize_url.starts_with(&provider.issuer));
    let back_url = provider_login(&browser, &start.authorize_url, &callback).await;
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
    assert_eq!(claims["registrant_id"]["value"], "alice");
    assert_eq!(claims["name"], "Interop Person");
    assert_eq!(claims["birthdate"], "1990-02-03");
    assert_eq!(claims["gender"], "Female");
    assert_eq!(claims["login"], "alice@interop.example");

    // RP-initiated logout goes through the provider's end_session_endpoint.
    let out = browser.navigate(&format!("{base}/_gateway/logout")).await;
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
