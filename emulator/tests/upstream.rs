//! The demo upstream: echo, identity verification, WebSocket, slow and streaming endpoints.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use esignet_emulator::DemoUpstream;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn repo_pem(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../certs/demo")
        .join(name);
    std::fs::read_to_string(path).expect("pem")
}

fn jwk_for(pem: &str, kid: &str) -> Value {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
           "n": b64.encode(key.n().to_bytes_be()), "e": b64.encode(key.e().to_bytes_be())})
}

/// A stand-in gateway JWKS whose contents the test can change; counts fetches.
struct FakeJwks {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<Mutex<u32>>,
}

async fn fake_jwks(initial: Value) -> FakeJwks {
    let keys = Arc::new(Mutex::new(initial));
    let fetches = Arc::new(Mutex::new(0u32));
    let (k, f) = (keys.clone(), fetches.clone());
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let (k, f) = (k.clone(), f.clone());
            async move {
                *f.lock().expect("lock") += 1;
                let keys = k.lock().expect("lock").clone();
                Json(keys)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeJwks { url, keys, fetches }
}

fn identity_jwt(pem: &str, kid: &str, alg: Algorithm, claims: Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("key"),
    )
    .expect("sign")
}

fn claims(aud: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "psut-1", "name": "Aïcha <Benali>", "aud": aud, "iat": now, "exp": now + exp_offset,
           "individual_id": "5678901234"})
}

async fn echo(client: &reqwest::Client, url: &str, identity: Option<&str>) -> Value {
    let mut request = client.get(url);
    if let Some(identity) = identity {
        request = request.header("X-G2P-Identity", identity);
    }
    request
        .send()
        .await
        .expect("echo")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn echoes_requests_as_json() {
    let upstream = DemoUpstream::start("127.0.0.1:0".parse().expect("addr"), None, None)
        .await
        .expect("start");
    let response = reqwest::Client::new()
        .post(format!("{}/some/path?a=1&b=%20", upstream.base_url()))
        .header("X-Dup", "one")
        .header("Cookie", "c=1")
        .header("X-Dup", "two")
        .body("hello body")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.expect("json");
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["path"], "/some/path");
    assert_eq!(doc["query"], "a=1&b=%20");
    assert_eq!(doc["body"], "hello body");
    assert_eq!(doc["body_len"], 10);
    let headers = doc["headers"].as_array().expect("headers");
    let dups: Vec<&Value> = headers
        .iter()
        .filter(|h| h[0] == "x-dup")
        .map(|h| &h[1])
        .collect();
    assert_eq!(dups, [&json!("one"), &json!("two")]);
    assert!(headers.iter().any(|h| h[0] == "cookie" && h[1] == "c=1"));
    assert_eq!(
        doc["identity"],
        json!({"verified": false, "error": null, "claims": null})
    );
}

#[tokio::test]
async fn verifies_identity_against_gateway_jwks() {
    let pem = repo_pem("gateway-signing.pem");
    let jwks = fake_jwks(json!({"keys": [jwk_for(&pem, "gw-1")]})).await;
    let upstream = DemoUpstream::start(
        "127.0.0.1:0".parse().expect("addr"),
        Some(jwks.url.clone()),
        Some("g2p-portal".into()),
    )
    .await
    .expect("start");
    let client = reqwest::Client::new();
    let url = format!("{}/portal", upstream.base_url());

    let good = identity_jwt(&pem, "gw-1", Algorithm::RS256, claims("g2p-portal", 300));
    let doc = echo(&client, &url, Some(&good)).await;
    assert_eq!(doc["identity"]["verified"], true, "{doc}");
    assert_eq!(doc["identity"]["claims"]["individual_id"], "5678901234");
    let ps = identity_jwt(&pem, "gw-1", Algorithm::PS256, claims("g2p-portal", 300));
    assert_eq!(
        echo(&client, &url, Some(&ps)).await["identity"]["verified"],
        true
    );
    assert_eq!(*jwks.fetches.lock().expect("lock"), 1, "JWKS is cached");

    let cases = [
        (
            identity_jwt(&pem, "gw-1", Algorithm::RS256, claims("other-aud", 300)),
            "wrong audience",
        ),
        (
            identity_jwt(&pem, "gw-1", Algorithm::RS256, claims("g2p-portal", -120)),
            "token expired",
        ),
        (
            identity_jwt(
                &repo_pem("client.pem"),
                "gw-1",
                Algorithm::RS256,
                claims("g2p-portal", 300),
            ),
            "bad signature",
        ),
        ("not-a-jwt".to_string(), "malformed JWT"),
    ];
    for (token, reason) in cases {
        let doc = echo(&client, &url, Some(&token)).await;
        assert_eq!(doc["identity"]["verified"], false);
        let error = doc["identity"]["error"].as_str().expect("error");
        assert!(error.contains(reason), "{error} should mention {reason}");
        assert_eq!(doc["identity"]["claims"], Value::Null);
    }

    // Key rotation: an unknown kid triggers a refetch.
    let other = repo_pem("esignet-signing.pem");
    *jwks.keys.lock().expect("lock") =
        json!({"keys": [jwk_for(&pem, "gw-1"), jwk_for(&other, "gw-2")]});
    let rotated = identity_jwt(&other, "gw-2", Algorithm::RS256, claims("g2p-portal", 300));
    assert_eq!(
        echo(&client, &url, Some(&rotated)).await["identity"]["verified"],
        true
    );
    let unknown = identity_jwt(&other, "gw-3", Algorithm::RS256, claims("g2p-portal", 300));
    let doc = echo(&client, &url, Some(&unknown)).await;
    assert!(doc["identity"]["error"]
        .as_str()
        .expect("error")
        .contains("unknown kid"));

    // HTML for browsers.
    let html = client
        .get(&url)
        .header("Accept", "text/html,application/xhtml+xml")
        .header("X-G2P-Identity", &good)
        .send()
        .await
        .expect("html")
        .text()
        .await
        .expect("body");
    assert!(html.contains("Welcome, Aïcha &lt;Benali&gt;"), "{html}");
    let html = client
        .get(&url)
        .header("Accept", "text/html")
        .send()
        .await
        .expect("html")
        .text()
        .await
        .expect("body");
    assert!(html.contains("no identity header"));
    let html = client
        .get(&url)
        .header("Accept", "text/html")
        .header("X-G2P-Identity", "garbage")
        .send()
        .await
        .expect("html")
        .text()
        .await
        .expect("body");
    assert!(html.contains("INVALID identity: "));
}

#[tokio::test]
async fn websocket_echo_with_headers() {
    let upstream = DemoUpstream::start("127.0.0.1:0".parse().expect("addr"), None, None)
        .await
        .expect("start");
    let url = format!("ws://{}/ws", upstream.addr());
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("x-g2p-identity", "not-a-jwt".parse().expect("value"));
    request
        .headers_mut()
        .insert("cookie", "session=abc".parse().expect("value"));
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert_eq!(response.status(), 101);
    socket
        .send(Message::Text("hello".into()))
        .await
        .expect("send");
    assert_eq!(
        socket.next().await.expect("reply").expect("ok"),
        Message::Text("hello".into())
    );
    socket
        .send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .expect("send");
    assert_eq!(
        socket.next().await.expect("reply").expect("ok"),
        Message::Binary(vec![1u8, 2, 3].into())
    );
    socket
        .send(Message::Text("__headers__".into()))
        .await
        .expect("send");
    let Message::Text(summary) = socket.next().await.expect("reply").expect("ok") else {
        panic!("text expected");
    };
    let summary: Value = serde_json::from_str(summary.as_str()).expect("json");
    assert_eq!(summary["path"], "/ws");
    assert!(summary["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .any(|h| h[0] == "cookie" && h[1] == "session=abc"));
    assert_eq!(summary["identity"]["verified"], false);
    socket.close(None).await.expect("close");

    // Without an upgrade, /ws is an ordinary echo.
    let doc: Value = reqwest::get(format!("{}/ws", upstream.base_url()))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["path"], "/ws");
}

#[tokio::test]
async fn slow_and_stream() {
    let upstream = DemoUpstream::start("127.0.0.1:0".parse().expect("addr"), None, None)
        .await
        .expect("start");
    let started = std::time::Instant::now();
    let doc: Value = reqwest::get(format!("{}/slow?ms=200", upstream.base_url()))
        .await
        .expect("slow")
        .json()
        .await
        .expect("json");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_eq!(doc["path"], "/slow");

    let response = reqwest::get(format!(
        "{}/stream?chunks=4&delay_ms=5",
        upstream.base_url()
    ))
    .await
    .expect("stream");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "chunked"
    );
    let mut response = response;
    let mut chunks = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        chunks.push(chunk);
    }
    let text: String = chunks
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(
        text,
        "chunk 1 of 4\nchunk 2 of 4\nchunk 3 of 4\nchunk 4 of 4\n"
    );
}
