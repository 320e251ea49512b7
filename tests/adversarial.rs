//! Hostile clients: the 834 open-redirect payloads, identity-header spoofing
//! in every spelling, oversized headers and bodies, request smuggling, and
//! floods of login starts and callbacks. Each case gets a clear error, no
//! session, and no identity reaches the portal.

mod common;

use common::*;
use serde_json::Value;

/// The open-redirect payloads vendored in `tests/fixtures/open-redirect/`
/// (mod_auth_openidc's list, Apache-2.0; see the README beside it).
fn payloads() -> Vec<String> {
    let path = repo_root().join("tests/fixtures/open-redirect/payloads.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip_while(|l| l.starts_with('#') || l.trim().is_empty())
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

fn stays_on_origin(location: &str, origin: &str) -> bool {
    if location.starts_with("//") || location.starts_with("/\\") {
        return false;
    }
    let base = url::Url::parse(origin).unwrap();
    match base.join(location) {
        Ok(target) => target.origin() == base.origin(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn no_open_redirect_payload_leaves_the_origin() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["limits"] = serde_json::json!({ "login_starts": "off", "callbacks": "off" });
        }),
        ..Default::default()
    })
    .await;
    let payloads = payloads();
    assert!(payloads.len() >= 800, "{} payloads", payloads.len());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let origin = env.gateway.base_url.clone();
    for payload in &payloads {
        let encoded: String = url::form_urlencoded::byte_serialize(payload.as_bytes()).collect();
        let response = client
            .post(env.url(&format!("/_gateway/logout?return_to={encoded}")))
            .header("origin", &origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{payload}");
        let target = location(&response);
        assert!(
            stays_on_origin(&target, &origin),
            "{payload:?} → {target:?}"
        );
    }
    // A sample also goes through a whole login.
    for payload in payloads.iter().step_by(97) {
        let browser = env.browser();
        let encoded: String = url::form_urlencoded::byte_serialize(payload.as_bytes()).collect();
        let start = browser
            .start_login(&env.url(&format!("/_gateway/login?return_to={encoded}")))
            .await;
        let callback = browser
            .authenticate(&start.authorize_url, INDIVIDUAL_ID)
            .await;
        let back = browser.navigate(&callback).await;
        assert!(stays_on_origin(&location(&back), &origin), "{payload:?}");
    }
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_portal() {
    let env = Env::start(EnvOptions::default()).await;
    let long = "A".repeat(8000);
    for path in ["/public/x", "/x"] {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n");
        for header in [
            "X-G2P-Identity: eyJhbGciOiJub25lIn0.eyJzdWIiOiJ2aWN0aW0ifQ.",
            "x-g2p-identity: second",
            "X-G2P-IDENTITY: third",
            "X_G2P_Identity: underscore",
            "X-G2P-Reg-Id: victim",
            "X-g2p-reg-id: victim-again",
            "X_G2P_REG_ID: victim-underscore",
            "X-G2P-User-Id: admin",
        ] {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str(&format!("X-G2P-Long: {long}\r\n\r\n"));
        let (status, text) = raw_request(&env.gateway.base_url, &request).await;
        if path == "/x" {
            assert_eq!(status, 401, "no session: no access, whatever the headers");
            continue;
        }
        assert_eq!(status, 200);
        let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
        let seen: Value = serde_json::from_str(body).unwrap();
        for pair in seen["headers"].as_array().unwrap() {
            let name = pair[0].as_str().unwrap().replace('_', "-");
            assert!(!name.starts_with("x-g2p-"), "leaked {pair}");
        }
        assert_eq!(seen["identity"]["verified"], false);
    }
}

#[tokio::test]
async fn oversized_headers_bodies_and_cookies_get_clear_errors() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["server"]["max_header_bytes"] = 16384.into();
            config["server"]["max_body_bytes"] = 65536.into();
        }),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::new();
    let big_header = client
        .get(env.url("/public/x"))
        .header("accept", "application/json")
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(big_header.status(), 431);
    let body: Value = big_header.json().await.unwrap();
    assert_eq!(body["error"], "request_too_large");

    let big_cookie = client
        .get(env.url("/x"))
        .header("accept", "application/json")
        .header("cookie", format!("g2p-session={}", "c".repeat(12_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        big_cookie.status(),
        401,
        "an unopenable cookie is no session"
    );

    let declared = client
        .post(env.url("/public/upload"))
        .header("accept", "application/json")
        .body(vec![b'x'; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);

    let (status, _) = raw_request(
        &env.gateway.base_url,
        &format!(
            "POST /public/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nAccept: application/json\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            100_000,
            "y".repeat(100_000)
        ),
    )
    .await;
    assert_eq!(status, 413, "a streamed body is counted too");
    // The gateway is still serving.
    assert_eq!(
        client
            .get(env.url("/public/ok"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn request_smuggling_attempts_are_refused() {
    let env = Env::start(EnvOptions::default()).await;
    let cases = [
        "POST /public/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 40\r\nConnection: close\r\n\r\nhello",
        "POST /public/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n0\r\n\r\n",
        "POST /public/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
    ];
    for request in cases {
        let (status, _) = raw_request(&env.gateway.base_url, request).await;
        assert_eq!(status, 400, "{request:?}");
    }
    // CL and TE together: never two requests out of one.
    let smuggle = "POST /public/a HTTP/1.1\r\nHost: a\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\nAccept: application/json\r\n\r\n0\r\n\r\nGET /account HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n";
    let (status, text) = raw_request(&env.gateway.base_url, smuggle).await;
    assert!(status == 400 || status == 200, "{text}");
    assert!(
        text.matches("HTTP/1.1 ").count() <= 1,
        "a smuggled second request was answered:\n{text}"
    );
}

#[tokio::test]
async fn login_floods_are_rate_limited_per_client() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["limits"] = serde_json::json!({
                "login_starts": { "per_minute": 1, "burst": 3 },
                "callbacks": { "per_minute": 1, "burst": 2 },
            });
        }),
        ..Default::default()
    })
    .await;
    let browser = env.browser();
    for _ in 0..3 {
        assert_eq!(browser.navigate(&env.url("/")).await.status(), 302);
    }
    let refused = browser.navigate(&env.url("/")).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "60");
    assert!(refused.text().await.unwrap().contains("Too many attempts"));
    for _ in 0..2 {
        let callback = browser
            .navigate(&env.url("/_gateway/callback?state=x&code=y"))
            .await;
        assert_eq!(callback.status(), 400);
    }
    let flooded = browser
        .fetch_json(&env.url("/_gateway/callback?state=x&code=y"))
        .await;
    assert_eq!(flooded.status(), 429);
    let metrics = env.gateway.metrics().await;
    assert!(
        metrics.contains("g2p_gateway_requests_refused_total{reason=\"rate_limited\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn pending_logins_are_capped_per_client() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["limits"] = serde_json::json!({
                "login_starts": "off",
                "pending_logins_per_client": 5,
            });
        }),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..5 {
        let r = client.get(env.url("/_gateway/login")).send().await.unwrap();
        assert_eq!(r.status(), 302);
    }
    let r = client.get(env.url("/_gateway/login")).send().await.unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_jwks_fetch_per_interval() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["limits"] = serde_json::json!({ "login_starts": "off", "callbacks": "off" });
        }),
        ..Default::default()
    })
    .await;
    let metric = |text: &str| sample(text, "g2p_gateway_jwks_refreshes_total{outcome=\"ok\"}");
    let scrape = || async { env.gateway.metrics().await };
    // A genuine login first, so the key set is cached before counting.
    assert_eq!(env.browser().login(&env.url("/")).await.status(), 302);
    let before = metric(&scrape().await);
    env.emulator.set_faults(esignet_emulator::Faults {
        id_token: Some(esignet_emulator::IdTokenFault::UnknownKid),
        ..Default::default()
    });
    for _ in 0..15 {
        let browser = env.browser();
        assert_eq!(browser.login(&env.url("/")).await.status(), 401);
    }
    let after = metric(&scrape().await);
    assert!(
        after - before <= 1.0,
        "{} JWKS fetches for 15 unknown kids",
        after - before
    );
}

#[tokio::test]
async fn a_planted_session_cookie_is_replaced_at_login() {
    let env = Env::start(EnvOptions::default()).await;
    // The attacker logs in and plants their own session cookie in the victim's browser.
    let attacker = env.browser();
    let planted = attacker.login(&env.url("/")).await;
    let planted_cookie = set_cookie(&planted, "g2p-session").unwrap();
    let victim = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = victim
        .get(env.url("/_gateway/login"))
        .header("cookie", &planted_cookie)
        .send()
        .await
        .unwrap();
    let binding = set_cookie(&start, "g2p-session-login").unwrap();
    let helper = env.browser();
    let callback = helper.authenticate(&location(&start), "5678901234").await;
    let back = victim
        .get(&callback)
        .header("cookie", format!("{planted_cookie}; {binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let fresh = set_cookie(&back, "g2p-session").unwrap();
    assert_ne!(fresh, planted_cookie, "a fresh session id at login");
    // The planted session is gone: the attacker cannot ride on the victim's login.
    let reuse = reqwest::Client::new()
        .get(env.url("/x"))
        .header("accept", "application/json")
        .header("cookie", &planted_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), 401);
}

#[tokio::test]
async fn completed_logins_free_their_pending_slot() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["limits"] = serde_json::json!({
                "login_starts": "off",
                "callbacks": "off",
                "pending_logins_per_client": 3,
            });
        }),
        ..Default::default()
    })
    .await;
    for _ in 0..6 {
        let browser = env.browser();
        assert_eq!(browser.login(&env.url("/")).await.status(), 302);
    }
}
