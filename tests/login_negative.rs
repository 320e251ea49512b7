//! One negative case per login check: each is rejected with a clear error,
//! no session is created, and nothing reaches the portal with an identity.

mod common;

use common::*;
use esignet_emulator::{Faults, IdTokenFault, TokenEndpointFault, UserinfoFault};
use serde_json::Value;

/// Runs a login with the emulator misbehaving and asserts it fails cleanly.
async fn login_fails_cleanly(env: &Env, faults: Faults, expected_status: u16) {
    env.emulator.set_faults(faults.clone());
    let browser = env.browser();
    let callback = browser.login(&env.url("/account")).await;
    assert_eq!(
        callback.status(),
        expected_status,
        "fault {faults:?} must be refused"
    );
    assert!(callback.headers().get("x-correlation-id").is_some());
    let set_cookies: Vec<_> = callback
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        !set_cookies
            .iter()
            .any(|c| c.starts_with("g2p-session=") && !c.contains("Max-Age=0")),
        "no session cookie on failure: {set_cookies:?}"
    );
    let body = callback.text().await.unwrap();
    assert!(
        body.contains("Reference:"),
        "a clear page with a correlation id"
    );
    assert!(!body.contains("eyJ"), "no token echoed to the user");
    // Still logged out: the protected route asks for a login again.
    let again = browser.fetch_json(&env.url("/account")).await;
    assert_eq!(again.status(), 401, "no session after {faults:?}");
    env.emulator.set_faults(Faults::default());
}

fn id_token_fault(fault: IdTokenFault) -> Faults {
    Faults {
        id_token: Some(fault),
        ..Default::default()
    }
}

fn userinfo_fault(fault: UserinfoFault) -> Faults {
    Faults {
        userinfo: Some(fault),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_bad_id_token_is_refused() {
    let env = Env::start(EnvOptions::default()).await;
    for fault in [
        IdTokenFault::BadSignature,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::Expired,
        IdTokenFault::IssuedInFuture,
        IdTokenFault::NonceMismatch,
        IdTokenFault::MissingNonce,
        IdTokenFault::UnknownKid,
        IdTokenFault::AlgNone,
        IdTokenFault::Hs256WithPublicKey,
        IdTokenFault::WrongAtHash,
        IdTokenFault::MissingSub,
    ] {
        login_fails_cleanly(&env, id_token_fault(fault), 401).await;
    }
    let metrics = env.gateway.metrics().await;
    assert!(metrics.contains("g2p_gateway_logins_failed_total{reason=\"invalid_id_token\"}"));
    assert!(metrics.contains("g2p_gateway_logins_failed_total{reason=\"unknown_key\"}"));
    assert!(!metrics.contains("g2p_gateway_logins_completed_total 1"));
}

#[tokio::test]
async fn every_bad_userinfo_is_refused() {
    let env = Env::start(EnvOptions::default()).await;
    for fault in [
        UserinfoFault::SubMismatch,
        UserinfoFault::UnsignedJson,
        UserinfoFault::BadSignature,
        UserinfoFault::UnknownKid,
    ] {
        login_fails_cleanly(&env, userinfo_fault(fault), 401).await;
    }
}

#[tokio::test]
async fn provider_failures_give_a_clear_502() {
    let env = Env::start(EnvOptions::default()).await;
    for fault in [TokenEndpointFault::ServerError, TokenEndpointFault::Garbage] {
        let faults = Faults {
            token_endpoint: Some(fault),
            ..Default::default()
        };
        login_fails_cleanly(&env, faults, 502).await;
    }
}

#[tokio::test]
async fn a_state_cannot_be_replayed() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let start = browser.start_login(&env.url("/")).await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    assert_eq!(browser.navigate(&callback).await.status(), 302);
    let replay = browser.navigate(&callback).await;
    assert_eq!(replay.status(), 400, "the same callback twice");
    let body = replay.text().await.unwrap();
    assert!(body.contains("expired or was already used"));
}

#[tokio::test]
async fn a_replayed_code_with_a_fresh_state_is_refused_by_the_provider() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let first = browser.start_login(&env.url("/")).await;
    let callback = browser
        .authenticate(&first.authorize_url, INDIVIDUAL_ID)
        .await;
    assert_eq!(browser.navigate(&callback).await.status(), 302);
    // Replay the used code under a new, valid state of the same browser.
    let second = browser.start_login(&env.url("/_gateway/login")).await;
    let fresh_state = query_param(&second.authorize_url, "state").unwrap();
    let replay = with_query_param(&callback, "state", &fresh_state);
    let response = browser.navigate(&replay).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_callback_from_another_browser_is_refused() {
    let env = Env::start(EnvOptions::default()).await;
    let victim = env.browser();
    let attacker = env.browser();
    // The attacker starts a login and tricks the victim into finishing it
    // (login CSRF): the victim's browser lacks the binding cookie.
    let start = attacker.start_login(&env.url("/")).await;
    let callback = attacker
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    let response = victim.navigate(&callback).await;
    assert_eq!(response.status(), 400);
    assert_eq!(victim.fetch_json(&env.url("/")).await.status(), 401);
    // The state was consumed: the attacker cannot use it either.
    assert_eq!(attacker.navigate(&callback).await.status(), 400);
}

#[tokio::test]
async fn a_callback_with_a_wrong_iss_is_refused() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let start = browser.start_login(&env.url("/")).await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    assert!(query_param(&callback, "iss").is_some(), "1.8 sends iss");
    let forged = with_query_param(&callback, "iss", "https://evil.example");
    assert_eq!(browser.navigate(&forged).await.status(), 400);
}

#[tokio::test]
async fn provider_error_redirects_give_a_clear_page() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let start = browser.start_login(&env.url("/")).await;
    let state = query_param(&start.authorize_url, "state").unwrap();
    let url = env.url(&format!(
        "/_gateway/callback?error=access_denied&error_description=%3Cscript%3E&state={state}"
    ));
    let response = browser.navigate(&url).await;
    assert_eq!(response.status(), 401);
    let body = response.text().await.unwrap();
    assert!(body.contains("Sign-in cancelled"));
    assert!(!body.contains("<script>"));
}

#[tokio::test]
async fn offsite_return_urls_fall_back_to_the_start_page() {
    let env = Env::start(EnvOptions::default()).await;
    for target in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "https:evil.example",
    ] {
        let browser = env.browser();
        let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        let start = browser
            .start_login(&env.url(&format!("/_gateway/login?return_to={encoded}")))
            .await;
        let callback = browser
            .authenticate(&start.authorize_url, INDIVIDUAL_ID)
            .await;
        let back = browser.navigate(&callback).await;
        assert_eq!(back.status(), 302);
        assert_eq!(location(&back), "/", "{target} must not be followed");
    }
    // A same-origin target is kept.
    let browser = env.browser();
    let start = browser
        .start_login(&env.url("/_gateway/login?return_to=%2Fbenefits%3Fid%3D7"))
        .await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    assert_eq!(
        location(&browser.navigate(&callback).await),
        "/benefits?id=7"
    );
}

#[tokio::test]
async fn tampered_session_cookies_are_ignored() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let back = browser.login(&env.url("/")).await;
    let value = set_cookie(&back, "g2p-session")
        .unwrap()
        .trim_start_matches("g2p-session=")
        .to_string();
    let plain = reqwest::Client::new();
    let attempt = |v: String| {
        plain
            .get(env.url("/"))
            .header("accept", "application/json")
            .header("cookie", format!("g2p-session={v}"))
            .send()
    };
    assert_eq!(
        attempt(value.clone()).await.unwrap().status(),
        200,
        "the genuine cookie works"
    );
    let mut flipped = value.clone().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(flipped).unwrap(),
        value[..value.len() / 2].to_string(),
        format!("{value}AAAA"),
        "x".repeat(4000),
    ] {
        let response = attempt(bad).await.unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "login_required");
    }
}

#[tokio::test]
async fn path_confusion_is_refused_before_routing() {
    let env = Env::start(EnvOptions::default()).await;
    for path in [
        "/public/../account",
        "/public/%2e%2e/account",
        "/public%2faccount",
        "/public;/../x",
        "/public/..%2Faccount",
    ] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        let (status, _) = raw_request(&env.gateway.base_url, &request).await;
        assert_eq!(status, 400, "{path}");
    }
}
