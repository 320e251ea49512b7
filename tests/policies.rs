//! Route policies and step-up, end to end against the e-Signet emulator:
//! a biometrics-only page upgrades an OTP session in place, e-Signet's silent
//! acr fallback ends on a clear page (not a loop), API clients get an RFC 9470
//! challenge, and a claim rule denies with 403.

mod common;

use common::*;
use esignet_emulator::Faults;
use serde_json::Value;

const OTP: &str = "mosip:idp:acr:generated-code";
const BIO: &str = "mosip:idp:acr:biometrics";

async fn env() -> Env {
    Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["routes"] = serde_json::json!([
                { "name": "portal", "path": "/", "upstream": "portal", "auth": "login" },
                { "name": "bank", "path": "/bank", "upstream": "portal", "auth": "login",
                  "policy": { "acr": [BIO] } },
                { "name": "women", "path": "/women", "upstream": "portal", "auth": "login",
                  "policy": { "all": [ { "groups": ["portal"] },
                                       { "claim": { "name": "gender", "equals": "Female" } } ] } },
            ]);
        }),
        ..Default::default()
    })
    .await
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response, "g2p-session")
}

async fn acr_seen(browser: &Browser, url: &str) -> String {
    let seen: Value = browser.fetch_json(url).await.json().await.unwrap();
    seen["identity"]["claims"]["acr"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn step_up_upgrades_the_session_in_place() {
    let env = env().await;
    let browser = env.browser();
    let first = browser.login(&env.url("/")).await;
    let cookie = session_cookie(&first).unwrap();
    assert_eq!(acr_seen(&browser, &env.url("/")).await, OTP);

    // The bank page needs biometrics: a new login asking only for it.
    let step_up = browser.start_login(&env.url("/bank/details")).await;
    assert_eq!(
        query_param(&step_up.authorize_url, "acr_values").as_deref(),
        Some(BIO)
    );
    let callback = browser
        .authenticate_with(&step_up.authorize_url, INDIVIDUAL_ID, "biometrics")
        .await;
    let back = browser.navigate(&callback).await;
    assert_eq!(back.status(), 302);
    assert_eq!(location(&back), "/bank/details");
    assert_eq!(acr_seen(&browser, &env.url("/bank/details")).await, BIO);

    // Upgraded in place: the cookie from the first login still opens the session.
    let plain = reqwest::Client::new();
    let old_cookie = plain
        .get(env.url("/bank/x"))
        .header("accept", "application/json")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old_cookie.status(),
        200,
        "the user did not lose the session"
    );
}

#[tokio::test]
async fn a_silent_acr_fallback_ends_on_a_clear_page_not_a_loop() {
    let env = env().await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    env.emulator.set_faults(Faults {
        acr_fallback: Some(OTP.to_string()),
        ..Default::default()
    });
    let step_up = browser.start_login(&env.url("/bank")).await;
    let callback = browser
        .authenticate_with(&step_up.authorize_url, INDIVIDUAL_ID, "biometrics")
        .await;
    let refused = browser.navigate(&callback).await;
    assert_eq!(
        refused.status(),
        403,
        "not a redirect back into another login"
    );
    assert!(refused.headers().get("location").is_none());
    let body = refused.text().await.unwrap();
    assert!(body.contains("Stronger sign-in needed"), "{body}");
    // The existing session is untouched.
    assert_eq!(browser.fetch_json(&env.url("/")).await.status(), 200);
    assert_eq!(acr_seen(&browser, &env.url("/")).await, OTP);
    let metrics = env.gateway.metrics().await;
    assert!(metrics.contains("g2p_gateway_logins_failed_total{reason=\"insufficient_acr\"} 1"));
}

#[tokio::test]
async fn api_clients_get_a_step_up_challenge() {
    let env = env().await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let response = browser.fetch_json(&env.url("/bank")).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!("acr_values=\"{BIO}\"")),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_user_authentication");
    // The login URL it offers asks for biometrics.
    let login_url = body["login_url"].as_str().unwrap();
    let start = browser.start_login(&env.url(login_url)).await;
    assert_eq!(
        query_param(&start.authorize_url, "acr_values").as_deref(),
        Some(BIO)
    );
}

#[tokio::test]
async fn a_first_login_on_a_strong_route_asks_for_its_acr_directly() {
    let env = env().await;
    let browser = env.browser();
    let start = browser.start_login(&env.url("/bank")).await;
    assert_eq!(
        query_param(&start.authorize_url, "acr_values").as_deref(),
        Some(BIO)
    );
    let callback = browser
        .authenticate_with(&start.authorize_url, INDIVIDUAL_ID, "biometrics")
        .await;
    assert_eq!(location(&browser.navigate(&callback).await), "/bank");
    assert_eq!(acr_seen(&browser, &env.url("/bank")).await, BIO);

    // The same first login when e-Signet falls back to OTP is refused.
    env.emulator.set_faults(Faults {
        acr_fallback: Some(OTP.to_string()),
        ..Default::default()
    });
    let other = env.browser();
    let start = other.start_login(&env.url("/bank")).await;
    let callback = other
        .authenticate_with(&start.authorize_url, INDIVIDUAL_ID, "biometrics")
        .await;
    assert_eq!(other.navigate(&callback).await.status(), 403);
    assert_eq!(
        other.fetch_json(&env.url("/")).await.status(),
        401,
        "no session"
    );
}

#[tokio::test]
async fn claim_rules_deny_with_403_for_browsers_and_api() {
    let env = env().await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let page = browser.navigate(&env.url("/women")).await;
    assert_eq!(page.status(), 403);
    let body = page.text().await.unwrap();
    assert!(body.contains("Access denied") && body.contains("Reference:"));
    let api = browser.fetch_json(&env.url("/women/api")).await;
    assert_eq!(api.status(), 403);
    let json: Value = api.json().await.unwrap();
    assert_eq!(json["error"], "forbidden");
    assert!(
        env.gateway.logs().contains("route women"),
        "the reason is logged"
    );
}
