//! The gateway as an OpenG2P portal's login provider and identity source,
//! against the e-Signet emulator and the demo upstream: the identity form per
//! upstream, the provider's endpoints and their refusals, portal cookies.
//! The real portal is in tests/portal_e2e.rs.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::echoed_header as header;
use common::{location, query_param, Env, EnvOptions, CLIENT_ID, INDIVIDUAL_ID};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ODOO: &str = "odoo-portal";
const SECRET: &str = "odoo-client-secret-0123456789";
const REDIRECT: &str = "http://odoo.example/auth_oauth/signin";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The JSON answer to a GET with these extra headers (for the demo
/// upstream: what it saw).
async fn echo(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = client.get(url).header("accept", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// An env whose gateway offers the provider to an Odoo-like client, with a
/// secret file in `dir`.
async fn provider_env(dir: &tempfile::TempDir, upstream: Value) -> Env {
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    Env::start(EnvOptions {
        edit: Box::new(move |config| {
            for (k, v) in upstream.as_object().unwrap() {
                config["upstreams"]["portal"][k] = v.clone();
            }
            config["provider"] = json!({ "clients": { ODOO: {
                "client_secret": { "file": secret },
                "redirect_uris": [REDIRECT],
            } } });
        }),
        ..Default::default()
    })
    .await
}

fn authorize_url(env: &Env, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&env.url("/_gateway/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", ODOO)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("state", r#"{"d":"db","p":3,"r":"/my"}"#)
        .append_pair("nonce", "portal-nonce")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

fn claims_of(jwt: &str) -> Value {
    part_of(jwt, 1)
}

/// The JOSE header of a JWT.
fn header_of(jwt: &str) -> Value {
    part_of(jwt, 0)
}

fn part_of(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn exchange(env: &Env, form: &[(&str, &str)], basic: bool) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(env.url("/_gateway/oauth/token"));
    if basic {
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{ODOO}:{SECRET}"))),
        );
    }
    let response = request.form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn signed_only_by_default_plain_headers_are_an_opt_in() {
    let env = Env::start(EnvOptions::default()).await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let seen = echo(&browser.client, &env.url("/x"), &[]).await;
    assert_eq!(header(&seen, "x-g2p-identity").len(), 1);
    assert!(header(&seen, "x-g2p-user-id").is_empty());
    assert!(header(&seen, "authorization").is_empty());

    let opted = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["upstreams"]["portal"]["insecure_plain_identity_headers"] = json!(true);
        }),
        ..Default::default()
    })
    .await;
    let browser = opted.browser();
    browser.login(&opted.url("/")).await;
    let seen = echo(&browser.client, &opted.url("/x"), &[]).await;
    let psut = opted.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert_eq!(header(&seen, "x-g2p-reg-id"), vec![psut.as_str()]);
    assert_eq!(header(&seen, "x-g2p-reg-id-type"), vec!["MOSIP PSUT"]);
    assert!(
        opted
            .gateway
            .logs()
            .contains("upstreams.portal.insecure_plain_identity_headers"),
        "the weaker switch warns at startup"
    );
}

#[tokio::test]
async fn a_bearer_upstream_gets_the_assertion_as_authorization_and_nothing_from_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let env = provider_env(&dir, json!({ "identity": "bearer" })).await;
    let browser = env.browser();
    let back = browser.login(&env.url("/")).await;
    let session = common::set_cookie(&back, "g2p-session").unwrap();
    let cookies = format!("{session}; X-ID-Token=other; X-Access-Token=other; lang=fr");
    let forged = [
        ("authorization", "Bearer forged"),
        ("x-access-token", "forged"),
        ("x-id-token", "forged"),
        ("cookie", cookies.as_str()),
    ];
    let seen = echo(&browser.client, &env.url("/x"), &forged).await;
    let authorization = header(&seen, "authorization");
    assert_eq!(authorization.len(), 1);
    let jwt = authorization[0]
        .strip_prefix("Bearer ")
        .expect("Bearer form");
    let claims = claims_of(jwt);
    assert_eq!(claims["iss"], env.gateway.base_url.as_str());
    assert_eq!(claims["aud"], "g2p-portal");
    assert_eq!(
        claims["sub"],
        env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID).as_str()
    );
    assert!(
        header(&seen, "x-g2p-identity").is_empty(),
        "one signed identity"
    );
    assert!(header(&seen, "x-access-token").is_empty());
    assert!(header(&seen, "x-id-token").is_empty());
    assert_eq!(header(&seen, "cookie"), vec!["lang=fr"]);

    // On a public route too, and with no session at all.
    let anonymous = [
        ("authorization", "Bearer forged"),
        ("cookie", "X-Access-Token=other; lang=fr"),
    ];
    let public = echo(&env.browser().client, &env.url("/public/x"), &anonymous).await;
    assert!(header(&public, "authorization").is_empty());
    assert_eq!(header(&public, "cookie"), vec!["lang=fr"]);
}

#[tokio::test]
async fn jwks_and_discovery_are_cacheable_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let env = provider_env(&dir, json!({})).await;
    let client = reqwest::Client::new();
    let mut bodies = Vec::new();
    for path in ["/_gateway/jwks.json", "/_gateway/.well-known/jwks.json"] {
        let response = client.get(env.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "public, max-age=300");
        bodies.push(response.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    let discovery = echo(
        &client,
        &env.url("/_gateway/.well-known/openid-configuration"),
        &[],
    )
    .await;
    assert_eq!(discovery["issuer"], env.gateway.base_url.as_str());
    assert_eq!(
        discovery["token_endpoint"],
        env.url("/_gateway/oauth/token")
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
}

#[tokio::test]
async fn a_portal_logs_in_through_the_gateway_with_code_pkce_and_userinfo() {
    let dir = tempfile::tempdir().unwrap();
    let env = provider_env(&dir, json!({ "portal_cookies": ["session_id"] })).await;
    let browser = env.browser();

    // Bad clients and redirect URIs get a page, never a redirect.
    for bad in [
        authorize_url(&env, &[]).replace(ODOO, "someone-else"),
        authorize_url(&env, &[]).replace("odoo.example", "evil.example"),
    ] {
        let page = browser.navigate(&bad).await;
        assert_eq!(page.status(), 400, "{bad}");
    }
    let plain = authorize_url(&env, &[]).replace("S256", "plain");
    let refused = location(&browser.navigate(&plain).await);
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_request")
    );

    // No gateway session: the e-Signet login first, then back to authorize.
    let start = browser.start_login(&authorize_url(&env, &[])).await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    let back = browser.navigate(&callback).await;
    assert_eq!(back.status(), 302);
    let expired: Vec<&str> = back
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .collect();
    assert!(
        expired
            .iter()
            .any(|c| c.starts_with("session_id=;") && c.contains("Max-Age=0")),
        "the portal's session cookie is expired at every login: {expired:?}"
    );
    let again = browser.navigate(&env.url(&location(&back))).await;
    assert_eq!(again.status(), 302);
    let to_portal = location(&again);
    assert!(to_portal.starts_with(REDIRECT), "{to_portal}");
    assert_eq!(
        query_param(&to_portal, "state").as_deref(),
        Some(r#"{"d":"db","p":3,"r":"/my"}"#),
        "the portal's JSON state comes back as sent"
    );
    assert_eq!(
        query_param(&to_portal, "iss").as_deref(),
        Some(env.gateway.base_url.as_str())
    );
    let code = query_param(&to_portal, "code").unwrap();

    let form = |verifier: &str, redirect: &str, code: &str| -> Vec<(String, String)> {
        vec![
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code.into()),
            ("redirect_uri".into(), redirect.into()),
            ("code_verifier".into(), verifier.into()),
        ]
    };
    let send = |f: Vec<(String, String)>, basic: bool| {
        let env = &env;
        async move {
            let pairs: Vec<(&str, &str)> =
                f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            exchange(env, &pairs, basic).await
        }
    };
    // Refusals that leave the code unused.
    let mut wrong_secret = form(VERIFIER, REDIRECT, &code);
    wrong_secret.push(("client_id".into(), ODOO.into()));
    wrong_secret.push(("client_secret".into(), "not-the-secret-at-all".into()));
    let (status, body) = send(wrong_secret, false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = send(
        form(
            "wrong-verifier-wrong-verifier-wrong-verifier",
            REDIRECT,
            &code,
        ),
        true,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = send(form(VERIFIER, "http://odoo.example/other", &code), true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let mut tampered = code.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, _) = send(form(VERIFIER, REDIRECT, &tampered), true).await;
    assert_eq!(status, 400);

    // The exchange (client_secret_basic here; post is the FastAPI portal's).
    let (status, tokens) = send(form(VERIFIER, REDIRECT, &code), true).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert_eq!(id_token["sub"], psut.as_str());
    assert_eq!(id_token["aud"], ODOO);
    assert_eq!(id_token["iss"], env.gateway.base_url.as_str());
    assert_eq!(id_token["nonce"], "portal-nonce");
    let digest = Sha256::digest(access.as_bytes());
    assert_eq!(
        id_token["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest[..16]).as_str()
    );
    // One use only.
    let (status, body) = send(form(VERIFIER, REDIRECT, &code), true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Userinfo: Odoo's default ?access_token=, JSON, e-Signet's claim names.
    let client = reqwest::Client::new();
    let by_query = env.url(&format!("/_gateway/oauth/userinfo?access_token={access}"));
    let info = echo(&client, &by_query, &[]).await;
    assert_eq!(info["sub"], psut.as_str());
    assert_eq!(info["name"], "Siddharth K Mansour");
    assert_eq!(info["phone_number"], "+919427357934");
    assert_eq!(info["birthdate"], "1987/11/25", "as e-Signet sends it");
    // As a signed JWT, with the Bearer header.
    let signed = client
        .get(env.url("/_gateway/oauth/userinfo"))
        .bearer_auth(access)
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(signed.headers()["content-type"], "application/jwt");
    let jwt = signed.text().await.unwrap();
    assert_eq!(claims_of(&jwt)["sub"], psut.as_str());
    assert_eq!(claims_of(&jwt)["aud"], ODOO);
    let forged = client
        .get(env.url("/_gateway/oauth/userinfo"))
        .bearer_auth(format!("{access}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    // After the gateway logout, the portal's token gives nothing more.
    let bye = browser
        .client
        .post(env.url("/_gateway/logout"))
        .header("origin", env.gateway.base_url.as_str())
        .send()
        .await
        .unwrap();
    assert!(bye
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("session_id=;")));
    let after = client
        .get(env.url("/_gateway/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let metrics = env.gateway.metrics().await;
    assert!(metrics.contains("g2p_gateway_provider_events_total{event=\"token_issued\"} 1"));
}

#[tokio::test]
async fn portal_session_cookies_pass_only_with_a_gateway_session() {
    let dir = tempfile::tempdir().unwrap();
    let env = provider_env(&dir, json!({ "portal_cookies": ["session_id"] })).await;
    let browser = env.browser();
    let previous = [("cookie", "session_id=previous-citizen; lang=fr")];
    let public = echo(&browser.client, &env.url("/public/x"), &previous).await;
    assert_eq!(header(&public, "cookie"), vec!["lang=fr"]);
    let back = browser.login(&env.url("/")).await;
    let session = common::set_cookie(&back, "g2p-session").unwrap();
    let cookies = format!("{session}; session_id=odoo-session");
    let seen = echo(&browser.client, &env.url("/x"), &[("cookie", &cookies)]).await;
    assert_eq!(header(&seen, "cookie"), vec!["session_id=odoo-session"]);
    // On a public route too, while the gateway session lives (Odoo's public
    // pages must not see an anonymous visitor)...
    let public = echo(
        &browser.client,
        &env.url("/public/x"),
        &[("cookie", &cookies)],
    )
    .await;
    assert_eq!(header(&public, "cookie"), vec!["session_id=odoo-session"]);
    // ...and no longer once it has ended.
    browser
        .client
        .post(env.url("/_gateway/logout"))
        .header("origin", env.gateway.base_url.as_str())
        .header("cookie", session.as_str())
        .send()
        .await
        .unwrap();
    let public = echo(
        &browser.client,
        &env.url("/public/x"),
        &[("cookie", &cookies)],
    )
    .await;
    assert!(header(&public, "cookie").is_empty(), "{public}");
}

#[tokio::test]
async fn an_ec_signing_key_signs_es256_assertions_and_provider_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let ec = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config/keys/ec-p256.pem");
    let env = Env::start(EnvOptions {
        edit: Box::new(move |config| {
            config["identity"]["signing_keys"] = json!([{ "file": ec }]);
            config["upstreams"]["portal"]["identity"] = json!("bearer");
            config["provider"] = json!({ "clients": { ODOO: {
                "client_secret": { "file": secret },
                "redirect_uris": [REDIRECT],
            } } });
        }),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::new();
    let jwks = echo(&client, &env.url("/_gateway/jwks.json"), &[]).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"]),
        (&json!("EC"), &json!("P-256"), &json!("ES256")),
        "{jwks}"
    );
    assert!(key.get("n").is_none() && key.get("d").is_none(), "{key}");
    let discovery = echo(
        &client,
        &env.url("/_gateway/.well-known/openid-configuration"),
        &[],
    )
    .await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );

    // The upstream verifies the ES256 assertion against the gateway's JWKS.
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let seen = echo(&browser.client, &env.url("/x"), &[]).await;
    assert_eq!(seen["identity"]["verified"], true, "{seen}");
    let jwt = header(&seen, "authorization")[0]
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    let head = header_of(&jwt);
    assert_eq!(head["alg"], "ES256");
    assert_eq!(head["kid"], key["kid"]);
    let psut = env.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert_eq!(seen["identity"]["claims"]["sub"], psut.as_str());

    // The provider's tokens are ES256 too, and its userinfo accepts them.
    let to_portal = location(&browser.navigate(&authorize_url(&env, &[])).await);
    let code = query_param(&to_portal, "code").expect("a code for the live session");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (status, tokens) = exchange(&env, &form, true).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let id_head = header_of(id_token);
    assert_eq!(id_head["alg"], "ES256");
    let access = tokens["access_token"].as_str().unwrap();
    let info = client
        .get(env.url("/_gateway/oauth/userinfo"))
        .bearer_auth(access)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let mut forged = access.to_string();
    forged.push('A');
    let refused = client
        .get(env.url("/_gateway/oauth/userinfo"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}
