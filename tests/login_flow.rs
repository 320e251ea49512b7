//! End to end on loopback: a browser-like login through the real gateway
//! against the e-Signet emulator, in both emulated versions, and what the
//! portal then receives.

mod common;

use common::echoed_header as header;
use common::*;
use esignet_emulator::EsignetVersion;
use serde_json::Value;

async fn echo(browser: &Browser, url: &str) -> Value {
    let response = browser.fetch_json(url).await;
    assert_eq!(response.status(), 200, "upstream echo for {url}");
    response.json().await.unwrap()
}

async fn full_login_delivers_a_verifiable_identity(version: EsignetVersion) {
    let env = Env::start(EnvOptions {
        version,
        ..Default::default()
    })
    .await;
    let browser = env.browser();
    let back = browser.login(&env.url("/portal/home?tab=1")).await;
    assert_eq!(back.status(), 302);
    assert_eq!(
        location(&back),
        "/portal/home?tab=1",
        "returns to the page first asked for"
    );

    let seen = echo(&browser, &env.url("/portal/home?tab=1")).await;
    assert_eq!(seen["path"], "/portal/home");
    assert_eq!(seen["query"], "tab=1");
    let identity = &seen["identity"];
    assert_eq!(
        identity["verified"], true,
        "upstream verifies the assertion: {identity}"
    );
    let claims = &identity["claims"];
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert_eq!(claims["sub"], psut.as_str());
    // The compact assertion: `sub` is the user id and the registrant ID's value.
    assert!(claims.get("user_id").is_none(), "{claims}");
    assert_eq!(
        claims["registrant_id"],
        serde_json::json!({"id_type": "MOSIP PSUT"})
    );
    assert_eq!(claims["aud"], "g2p-portal");
    assert_eq!(claims["groups"], serde_json::json!(["portal"]));
    assert_eq!(claims["name"], "Siddharth K Mansour");
    assert_eq!(claims["gender"], "Male");
    assert_eq!(
        claims["birthdate"], "1987-11-25",
        "birthdate normalised to ISO 8601"
    );
    assert!(claims["address"].is_object(), "address stays an object");
    assert!(
        claims.get("picture").is_none(),
        "the picture never goes in a header"
    );
    assert_eq!(
        claims["login"], claims["email"],
        "login attribute defaults to email"
    );
    assert_eq!(claims["acr"], "mosip:idp:acr:generated-code");
    assert!(claims["jti"].is_string());
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(lifetime <= 60, "short-lived assertion");

    // Signed only by default: the plain headers are an upstream's opt-in
    // (`insecure_plain_identity_headers`, tests/portal_identity.rs).
    assert!(header(&seen, "x-g2p-reg-id").is_empty());
    assert!(header(&seen, "x-g2p-reg-id-type").is_empty());
    assert_eq!(header(&seen, "x-forwarded-proto"), vec!["http"]);
    assert_eq!(header(&seen, "x-forwarded-for"), vec!["127.0.0.1"]);
    let cookies = header(&seen, "cookie").join(";");
    assert!(
        !cookies.contains("g2p-session"),
        "session cookie never reaches the portal"
    );
}

#[tokio::test]
async fn full_login_esignet_1_8() {
    full_login_delivers_a_verifiable_identity(EsignetVersion::V1_8).await;
}

#[tokio::test]
async fn full_login_esignet_1_4_1() {
    full_login_delivers_a_verifiable_identity(EsignetVersion::V1_4_1).await;
}

#[tokio::test]
async fn authorize_request_carries_pkce_state_nonce_acr_and_claims() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let start = browser.start_login(&env.url("/")).await;
    let url = &start.authorize_url;
    assert!(url.starts_with(&format!("{}/authorize?", env.emulator.base_url())));
    assert_eq!(query_param(url, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(url, "code_challenge").unwrap().len(), 43);
    let state = query_param(url, "state").unwrap();
    assert!(
        state.len() >= 43
            && state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(query_param(url, "nonce").unwrap().len() >= 43);
    assert_eq!(
        query_param(url, "acr_values").as_deref(),
        Some("mosip:idp:acr:generated-code mosip:idp:acr:biometrics")
    );
    let claims: Value = serde_json::from_str(&query_param(url, "claims").unwrap()).unwrap();
    for claim in [
        "birthdate",
        "address",
        "gender",
        "name",
        "phone_number",
        "email",
        "picture",
    ] {
        assert!(
            claims["userinfo"].get(claim).is_some(),
            "claims asks for {claim}"
        );
    }
    assert!(
        !url.contains('+'),
        "spaces are %20-encoded for e-Signet's decodeURI"
    );

    // A second login gets a fresh state and nonce.
    let again = env.browser().start_login(&env.url("/")).await;
    assert_ne!(query_param(&again.authorize_url, "state").unwrap(), state);
}

#[tokio::test]
async fn client_assertion_is_private_key_jwt_as_esignet_expects() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let requests = env.emulator.token_requests();
    assert_eq!(requests.len(), 1);
    let token = &requests[0];
    assert_eq!(token.status, 200);
    assert_eq!(token.field("grant_type"), Some("authorization_code"));
    assert_eq!(
        token.field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert!(token.field("code_verifier").is_some());
    let header = token.assertion_header.as_ref().unwrap();
    assert_eq!(header["alg"], "RS256");
    assert!(
        header.get("kid").is_none(),
        "no kid unless the registered JWK has one"
    );
    let claims = token.assertion_claims.as_ref().unwrap();
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], env.emulator.token_endpoint().as_str());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(claims["iat"].as_u64().unwrap() <= now, "iat is back-dated");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(lifetime <= 300, "short-lived assertion");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

#[tokio::test]
async fn api_clients_get_401_json_not_a_redirect() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let response = browser.fetch_json(&env.url("/api/things")).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let cid = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "login_required");
    assert_eq!(body["correlation_id"], cid.as_str());
    assert_eq!(
        body["login_url"],
        "/_gateway/login?return_to=%2Fapi%2Fthings"
    );
    let post = browser
        .client
        .post(env.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401, "a POST is never redirected to login");
}

#[tokio::test]
async fn public_routes_pass_without_login_and_without_identity() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let seen = echo(&browser, &env.url("/public/info")).await;
    assert_eq!(seen["identity"]["verified"], false);
    assert!(header(&seen, "x-g2p-identity").is_empty());
    // `/publicity` is not under `/public`: it belongs to the protected root route.
    let other = browser.fetch_json(&env.url("/publicity")).await;
    assert_eq!(other.status(), 401);
}

#[tokio::test]
async fn spoofed_identity_headers_are_stripped_on_every_route() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let spoof = |request: reqwest::RequestBuilder| {
        request
            .header("accept", "application/json")
            .header("X-G2P-Identity", "forged.jwt.value")
            .header("x-g2p-reg-id", "victim")
            .header("X_G2P_Reg_Id", "victim2")
            .header("X-G2P-REG-ID-TYPE", "NATIONAL ID")
            .header("x-g2p-user-id", "admin")
    };
    let public: Value = spoof(browser.client.get(env.url("/public/x")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for pair in public["headers"].as_array().unwrap() {
        let name = pair[0].as_str().unwrap().replace('_', "-");
        assert!(
            !name.starts_with("x-g2p-"),
            "leaked {pair} on a public route"
        );
    }
    browser.login(&env.url("/")).await;
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    let protected: Value = spoof(browser.client.get(env.url("/x")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(header(&protected, "x-g2p-reg-id").is_empty());
    assert!(header(&protected, "x-g2p-reg-id-type").is_empty());
    assert!(header(&protected, "x-g2p-user-id").is_empty());
    assert!(header(&protected, "x_g2p_reg_id").is_empty());
    assert_eq!(header(&protected, "x-g2p-identity").len(), 1);
    assert_eq!(protected["identity"]["verified"], true);
    assert_eq!(protected["identity"]["claims"]["sub"], psut.as_str());
}

#[tokio::test]
async fn session_info_logout_and_jwks() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    let anonymous = browser.fetch_json(&env.url("/_gateway/session")).await;
    assert_eq!(anonymous.status(), 401);
    browser.login(&env.url("/")).await;
    let info: Value = browser
        .fetch_json(&env.url("/_gateway/session"))
        .await
        .json()
        .await
        .unwrap();
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert_eq!(info["user_id"], psut.as_str());
    assert_eq!(info["registrant_id"]["id_type"], "MOSIP PSUT");
    assert_eq!(info["claims"]["name"], "Siddharth K Mansour");
    assert_eq!(info["claims"]["phone"], "+919427357934");

    let jwks: Value = browser
        .fetch_json(&env.url("/_gateway/jwks.json"))
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key.get("d").is_none(), "no private parts published");

    let out = browser
        .logout(&env.url("/_gateway/logout?return_to=/public/bye"))
        .await;
    assert_eq!(out.status(), 302);
    assert_eq!(location(&out), "/public/bye");
    let after = browser.fetch_json(&env.url("/")).await;
    assert_eq!(after.status(), 401, "the session is gone after logout");
}

#[tokio::test]
async fn metrics_count_the_login_funnel() {
    let env = Env::start(EnvOptions::default()).await;
    env.browser().login(&env.url("/")).await;
    let text = env.gateway.metrics().await;
    assert!(
        text.contains("g2p_gateway_logins_started_total 1"),
        "{text}"
    );
    assert!(text.contains("g2p_gateway_logins_completed_total 1"));
    assert!(text.contains(
        "g2p_gateway_idp_request_duration_seconds_count{endpoint=\"token\",outcome=\"ok\"} 1"
    ));
    assert!(text.contains("g2p_gateway_jwks_refreshes_total{outcome=\"ok\"}"));
    assert!(text.contains("g2p_gateway_sessions_active 1"));
}

#[tokio::test]
async fn logs_never_contain_tokens_cookies_or_claims() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    echo(&browser, &env.url("/x")).await;
    let logs = env.gateway.logs();
    assert!(logs.contains("login completed"), "{logs}");
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    for secret in [psut.as_str(), "Siddharth", "eyJ", "1987", INDIVIDUAL_ID] {
        assert!(!logs.contains(secret), "logs leak {secret}");
    }
}
