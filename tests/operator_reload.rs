//! Reload without downtime: SIGHUP under live traffic drops no request and no
//! session; a bad file is rejected whole and the old routes stay; a rotated
//! signing key verifies old and new assertions during the overlap; a retired
//! cookie key ends its sessions at once.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::wait::within;
use common::*;
use serde_json::{json, Value};

/// The gateway's config as it is on disk.
fn read_config(gateway: &Gateway) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(gateway.config_path()).unwrap()).unwrap()
}

fn write_config(gateway: &Gateway, config: &Value) {
    write_text(
        &gateway.config_path(),
        &serde_yaml::to_string(config).unwrap(),
    );
}

fn write_text(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `g2p_gateway_config_reloads_total{outcome}` (0 when not yet exported).
async fn reloads(gateway: &Gateway, outcome: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", gateway.admin_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("g2p_gateway_config_reloads_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Polls until `condition` holds (at most 20 s); on timeout the panic
/// carries the gateway's log.
async fn eventually<F, Fut>(what: &str, gateway: &Gateway, condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let held = within(Duration::from_secs(20), condition).await;
    assert!(
        held.is_some(),
        "timed out waiting for {what}; logs:\n{}",
        gateway.logs()
    );
}

/// Waits until the SIGHUP handler is installed (before it, SIGHUP would end the process).
async fn wait_armed(gateway: &Gateway) {
    eventually("the reload handler", gateway, || async {
        gateway.logs().contains("config reload armed")
    })
    .await;
}

/// Sends SIGHUP and waits for the reload with `outcome` to be counted.
async fn hup_and_wait(gateway: &Gateway, outcome: &str) {
    let before = reloads(gateway, outcome).await;
    gateway.signal("HUP");
    eventually(&format!("a reload {outcome}"), gateway, || async {
        reloads(gateway, outcome).await > before
    })
    .await;
}

fn header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == name)
        .and_then(|pair| pair[1].as_str())
}

/// Reloads in the live-traffic test.
const RELOADS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_under_live_traffic_drops_no_request_and_no_session() {
    let env = Env::start(EnvOptions::default()).await;
    let gateway = &env.gateway;
    wait_armed(gateway).await;
    let browser = env.browser();
    assert_eq!(browser.login(&env.url("/portal/start")).await.status(), 302);

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let client = browser.client.clone();
        let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
        let protected = env.url(&format!("/portal/w{worker}"));
        let public = env.url(&format!("/public/w{worker}"));
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let url = if i % 2 == 0 { &protected } else { &public };
                i += 1;
                match client
                    .get(url)
                    .header("accept", "application/json")
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(format!("{url}: body {e}")),
                    },
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{url}: HTTP {}", r.status())),
                    Err(e) => failures.lock().unwrap().push(format!("{url}: {e}")),
                }
            }
        }));
    }
    // Let traffic flow, then reload again and again, each time adding a public route.
    eventually("traffic", gateway, || async {
        ok.load(Ordering::Relaxed) > 50
    })
    .await;
    let before = ok.load(Ordering::Relaxed);
    let started = Instant::now();
    for n in 1..=RELOADS {
        let mut config = read_config(gateway);
        config["routes"].as_array_mut().unwrap().push(json!({
            "name": format!("extra{n}"), "path": format!("/extra{n}"),
            "upstream": "portal", "auth": "public",
        }));
        write_config(gateway, &config);
        hup_and_wait(gateway, "success").await;
        // Requests keep completing between one reload and the next.
        let mark = ok.load(Ordering::Relaxed);
        eventually("traffic between reloads", gateway, || async {
            ok.load(Ordering::Relaxed) >= mark + 20
        })
        .await;
    }
    let reload_time = started.elapsed();
    eventually("traffic after the reloads", gateway, || async {
        ok.load(Ordering::Relaxed) > before + 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    let total = ok.load(Ordering::Relaxed);
    eprintln!(
        "reload under traffic: {total} requests ok, {} failed, {RELOADS} reloads in {reload_time:?} \
         ({} requests during the reloads)",
        failures.len(),
        total - before
    );
    assert!(failures.is_empty(), "requests failed: {failures:?}");
    assert_eq!(reloads(gateway, "success").await, RELOADS);
    assert_eq!(reloads(gateway, "failure").await, 0);

    // The new routes are live; the session survived every reload.
    let anonymous = Browser::new();
    let last = format!("/extra{RELOADS}/x");
    assert_eq!(anonymous.fetch_json(&env.url(&last)).await.status(), 200);
    assert_eq!(
        anonymous.fetch_json(&env.url("/portal/x")).await.status(),
        401
    );
    assert_eq!(
        browser.fetch_json(&env.url("/portal/x")).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_rejected_and_the_old_routes_stay() {
    let env = Env::start(EnvOptions::default()).await;
    let gateway = &env.gateway;
    wait_armed(gateway).await;
    let anonymous = Browser::new();
    let good = read_config(gateway);

    // Semantic errors: the public route is made protected in the same file
    // that names an unknown upstream and a bad prefix. Nothing of it applies.
    let mut bad = good.clone();
    bad["routes"][1]["auth"] = json!("login");
    bad["routes"][0]["upstream"] = json!("nowhere");
    bad["server"]["prefix"] = json!("no-slash");
    write_config(gateway, &bad);
    hup_and_wait(gateway, "failure").await;
    let logs = gateway.logs();
    assert!(logs.contains("routes[0].upstream"), "{logs}");
    assert!(logs.contains("server.prefix"), "{logs}");
    assert!(logs.contains("previous configuration stays in force"));
    assert_eq!(
        anonymous.fetch_json(&env.url("/public/x")).await.status(),
        200
    );
    assert_eq!(reloads(gateway, "success").await, 0);

    // YAML that does not parse, and a file that is gone.
    write_text(&gateway.config_path(), "routes: [\n  - {path: /, upstream");
    hup_and_wait(gateway, "failure").await;
    std::fs::remove_file(gateway.config_path()).unwrap();
    hup_and_wait(gateway, "failure").await;
    assert_eq!(reloads(gateway, "failure").await, 3);
    assert_eq!(
        anonymous.fetch_json(&env.url("/public/x")).await.status(),
        200
    );
    assert_eq!(
        anonymous.fetch_json(&env.url("/portal/x")).await.status(),
        401
    );

    // A valid file with a new listener: applied, with a warning for the listener.
    let mut moved = good.clone();
    moved["server"]["listen"] = json!(format!("127.0.0.1:{}", free_port()));
    moved["routes"][0]["auth"] = json!("public");
    write_config(gateway, &moved);
    hup_and_wait(gateway, "success").await;
    assert!(gateway.logs().contains("server.listen"));
    assert_eq!(
        anonymous.fetch_json(&env.url("/portal/x")).await.status(),
        200
    );
}

async fn identity_of(browser: &Browser, url: &str) -> String {
    let echo: Value = browser.fetch_json(url).await.json().await.unwrap();
    header(&echo, "x-g2p-identity")
        .expect("an identity assertion")
        .to_string()
}

/// Verifies `token` against `jwks` the way a portal does (kid lookup, RS256, aud).
fn verify(jwks: &Value, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or_else(|| format!("kid {kid} is not published"))?;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["g2p-portal"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_signing_key_verifies_old_and_new_assertions() {
    let dir = tempfile::tempdir().unwrap();
    let new_key = dir.path().join("gateway-signing-2.pem");
    let keygen = std::process::Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["keygen", "--key"])
        .arg(&new_key)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let new_kid =
        g2p_gateway::shared::keys::SigningKey::from_pem(&std::fs::read(&new_key).unwrap())
            .unwrap()
            .kid;

    let env = Env::start(EnvOptions::default()).await;
    let gateway = &env.gateway;
    wait_armed(gateway).await;
    let browser = env.browser();
    browser.login(&env.url("/portal/a")).await;
    let old_assertion = identity_of(&browser, &env.url("/portal/a")).await;
    let jwks_url = env.url("/_gateway/jwks.json");
    let jwks: Value = reqwest::get(&jwks_url).await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    verify(&jwks, &old_assertion).unwrap();

    // Step 1: prepend the new key. It signs from now on; the old one stays published.
    let mut config = read_config(gateway);
    let old_key = config["identity"]["signing_keys"][0].clone();
    config["identity"]["signing_keys"] = json!([{ "file": new_key.to_string_lossy() }, old_key]);
    write_config(gateway, &config);
    hup_and_wait(gateway, "success").await;
    let new_assertion = identity_of(&browser, &env.url("/portal/b")).await;
    let overlap: Value = reqwest::get(&jwks_url).await.unwrap().json().await.unwrap();
    assert_eq!(overlap["keys"].as_array().unwrap().len(), 2);
    assert_eq!(overlap["keys"][0]["kid"], new_kid.as_str(), "newest first");
    let new_claims = verify(&overlap, &new_assertion).expect("new assertion verifies");
    verify(&overlap, &old_assertion).expect("old assertion still verifies during the overlap");
    assert_eq!(
        jsonwebtoken::decode_header(&new_assertion)
            .unwrap()
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    assert_eq!(new_claims["aud"], "g2p-portal");

    // Step 2 (after identity.lifetime): drop the old key. Old assertions stop verifying.
    config["identity"]["signing_keys"] = json!([{ "file": new_key.to_string_lossy() }]);
    write_config(gateway, &config);
    hup_and_wait(gateway, "success").await;
    let after: Value = reqwest::get(&jwks_url).await.unwrap().json().await.unwrap();
    assert_eq!(after["keys"].as_array().unwrap().len(), 1);
    assert!(verify(&after, &old_assertion)
        .unwrap_err()
        .contains("not published"));
    verify(&after, &identity_of(&browser, &env.url("/portal/c")).await).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_config_reloads_a_changed_file_without_a_signal() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| config["server"]["watch_config"] = json!(true)),
        ..Default::default()
    })
    .await;
    let gateway = &env.gateway;
    wait_armed(gateway).await;
    let anonymous = Browser::new();
    assert_eq!(
        anonymous.fetch_json(&env.url("/watched/x")).await.status(),
        401
    );
    let mut config = read_config(gateway);
    config["routes"].as_array_mut().unwrap().push(json!({
        "name": "watched", "path": "/watched", "upstream": "portal", "auth": "public",
    }));
    write_config(gateway, &config);
    eventually("the file watch to reload", gateway, || async {
        reloads(gateway, "success").await == 1
    })
    .await;
    assert_eq!(
        anonymous.fetch_json(&env.url("/watched/x")).await.status(),
        200
    );
    // A broken edit is rejected by the watch as well, and the route stays.
    write_text(&gateway.config_path(), "server: [");
    eventually("the file watch to reject", gateway, || async {
        reloads(gateway, "failure").await == 1
    })
    .await;
    assert_eq!(
        anonymous.fetch_json(&env.url("/watched/x")).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_does_not_wait_for_an_unreachable_provider() {
    let env = Env::start(EnvOptions::default()).await;
    let gateway = &env.gateway;
    wait_armed(gateway).await;
    // e-Signet's JWKS answers 503 while the reload warms the new snapshot up.
    env.emulator.set_faults(esignet_emulator::Faults {
        jwks_unavailable: true,
        ..Default::default()
    });
    let mut config = read_config(gateway);
    config["routes"].as_array_mut().unwrap().push(json!({
        "name": "late", "path": "/late", "upstream": "portal", "auth": "public",
    }));
    write_config(gateway, &config);
    hup_and_wait(gateway, "success").await;
    let anonymous = Browser::new();
    assert_eq!(
        anonymous.fetch_json(&env.url("/late/x")).await.status(),
        200
    );
    assert!(gateway.logs().contains("retrying in the background"));
    // Once the provider is back, the new snapshot loads its keys by itself.
    env.emulator.set_faults(esignet_emulator::Faults::default());
    let readyz = format!("{}/readyz", gateway.admin_url);
    eventually("readiness after the provider recovers", gateway, || async {
        reqwest::get(&readyz).await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    let browser = env.browser();
    assert_eq!(browser.login(&env.url("/portal/after")).await.status(), 302);
}

/// A reload that retires the cookie key ends the sessions sealed with it at
/// once, also on a kept-alive connection whose requests opened the cookie
/// before (the gateway remembers an opened cookie per connection, and only
/// under the keys that opened it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_retires_the_cookie_key_ends_its_sessions_on_open_connections() {
    use base64::Engine;
    let env = Env::start(EnvOptions::default()).await;
    let gateway = &env.gateway;
    wait_armed(gateway).await;
    let browser = env.browser();
    assert_eq!(browser.login(&env.url("/portal/start")).await.status(), 302);
    for _ in 0..3 {
        let answer = browser.fetch_json(&env.url("/portal/x")).await;
        assert_eq!(answer.status(), 200);
    }

    let key = gateway.config_path().with_file_name("new-cookie.key");
    write_text(
        &key,
        &base64::engine::general_purpose::STANDARD.encode([9u8; 64]),
    );
    let mut config = read_config(gateway);
    config["session"]["cookie_keys"] = json!([{ "file": key.to_string_lossy() }]);
    write_config(gateway, &config);
    hup_and_wait(gateway, "success").await;
    assert_eq!(
        browser.fetch_json(&env.url("/portal/x")).await.status(),
        401,
        "a cookie sealed with a retired key must not open"
    );
}
