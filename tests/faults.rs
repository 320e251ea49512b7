//! Fault injection: the identity provider down, slow, failing or rotating its
//! keys, its JWKS endpoint down, and the upstream down, resetting or slow.
//!
//! Each fault must give a clear page or JSON with a correlation id, a metric
//! and a log line, never a panic; the gateway must recover by itself once the
//! fault ends; no existing session is lost, and no failed login leaves a
//! session behind. (Redis down or restarted: `tests/redis_replicas.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::wait::within;
use common::*;
use esignet_emulator::{
    Emulator, EmulatorConfig, EsignetVersion, Faults, IdTokenFault, TokenEndpointFault,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A failed callback: the status, a page with the correlation id (also in
/// the header and in the log, with the public code), no session cookie.
async fn assert_clean_failure(
    gateway: &Gateway,
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> String {
    assert_eq!(response.status(), status);
    let correlation_id = response
        .headers()
        .get("x-correlation-id")
        .expect("x-correlation-id")
        .to_str()
        .unwrap()
        .to_string();
    let set_cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        !set_cookies
            .iter()
            .any(|c| c.starts_with("g2p-session=") && !c.contains("Max-Age=0")),
        "no session on failure: {set_cookies:?}"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains(&correlation_id),
        "the page names the correlation id"
    );
    assert!(!body.contains("eyJ"), "no token echoed");
    wait_for_log(gateway, &[&correlation_id, code]).await;
    correlation_id
}

/// Waits (bounded) until one log line contains every needle.
async fn wait_for_log(gateway: &Gateway, needles: &[&str]) {
    let found = within(Duration::from_secs(10), || async {
        gateway
            .logs()
            .lines()
            .any(|line| needles.iter().all(|n| line.contains(n)))
    })
    .await;
    assert!(
        found.is_some(),
        "no log line with {needles:?}:\n{}",
        gateway.logs()
    );
}

fn assert_no_panic(gateway: &Gateway) {
    let logs = gateway.logs();
    assert!(!logs.contains("panicked"), "the gateway panicked:\n{logs}");
}

async fn logged_in_browser(base_url: &str) -> Browser {
    login_with(Browser::new(), base_url).await
}

/// A browser that opens a new connection for every request: the gateway
/// closes the client connection after a failed proxy (and says so, see
/// `a_502_says_connection_close`), so every request here starts clean.
async fn unpooled_logged_in_browser(base_url: &str) -> Browser {
    let browser = Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
    };
    login_with(browser, base_url).await
}

async fn login_with(browser: Browser, base_url: &str) -> Browser {
    let callback = browser.login(&format!("{base_url}/account")).await;
    assert_eq!(callback.status(), 302, "login completes");
    browser
}

/// Runs a login up to the callback URL (not yet followed).
async fn callback_url(browser: &Browser, base_url: &str) -> String {
    let start = browser.start_login(&format!("{base_url}/account")).await;
    browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await
}

async fn has_session(browser: &Browser, base_url: &str) -> bool {
    let response = browser.fetch_json(&format!("{base_url}/account")).await;
    match response.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("unexpected {other} for /account"),
    }
}

fn edit(f: impl FnOnce(&mut Value) + Send + 'static) -> EnvOptions {
    EnvOptions {
        edit: Box::new(f),
        ..Default::default()
    }
}

#[tokio::test]
async fn idp_down_gives_502_and_logins_work_again_when_it_returns() {
    let env = Env::start(EnvOptions::default()).await;
    let base = env.gateway.base_url.clone();
    let before = logged_in_browser(&base).await;
    let browser = Browser::new();
    let callback = callback_url(&browser, &base).await;

    let addr = env.emulator.addr();
    env.emulator.shutdown().await;
    let failed = browser.navigate(&callback).await;
    assert_clean_failure(&env.gateway, failed, 502, "identity_provider_unavailable").await;
    assert!(!has_session(&browser, &base).await, "no session after 502");
    assert!(
        has_session(&before, &base).await,
        "existing sessions survive an IdP outage"
    );
    let text = env.gateway.metrics().await;
    assert!(
        sample(
            &text,
            "g2p_gateway_idp_request_duration_seconds_count{endpoint=\"token\",outcome=\"error\"}"
        ) >= 1.0,
        "{text}"
    );

    // The provider comes back on the same address: the next login works.
    let emulator = restart_emulator(addr, &base).await;
    let again = browser.login(&format!("{base}/account")).await;
    assert_eq!(again.status(), 302, "login works once the IdP is back");
    assert!(has_session(&browser, &base).await);
    assert!(has_session(&before, &base).await);
    assert_no_panic(&env.gateway);
    drop(emulator);
}

/// A new emulator on `addr` (the same demo keys), with the gateway at
/// `base_url` registered as the test client.
async fn restart_emulator(addr: SocketAddr, base_url: &str) -> Emulator {
    let root = repo_root();
    let mut config = EmulatorConfig::demo(&root).unwrap();
    config.version = EsignetVersion::V1_8; // as Env::start
    let emulator = Emulator::start(config, addr)
        .await
        .expect("the emulator rebinds its port");
    let public_jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("certs/demo/client.jwk.json")).unwrap(),
    )
    .unwrap();
    emulator.register_client(esignet_emulator::ClientRegistration::new(
        CLIENT_ID,
        public_jwk,
        vec![format!("{base_url}/_gateway/callback")],
    ));
    emulator
}

#[tokio::test]
async fn a_slow_failing_or_garbled_token_endpoint_gives_502_then_recovers() {
    let env = Env::start(edit(|c| c["esignet"]["http_timeout"] = "1s".into())).await;
    let base = env.gateway.base_url.clone();
    let before = logged_in_browser(&base).await;
    for fault in [
        TokenEndpointFault::Delay(Duration::from_secs(4)),
        TokenEndpointFault::ServerError,
        TokenEndpointFault::Garbage,
    ] {
        let browser = Browser::new();
        let callback = callback_url(&browser, &base).await;
        env.emulator.set_faults(Faults {
            token_endpoint: Some(fault),
            ..Default::default()
        });
        let started = Instant::now();
        let failed = browser.navigate(&callback).await;
        let elapsed = started.elapsed();
        assert_clean_failure(&env.gateway, failed, 502, "identity_provider_unavailable").await;
        if let TokenEndpointFault::Delay(_) = fault {
            assert!(
                elapsed < Duration::from_millis(3500),
                "the 1 s http_timeout bounds a slow provider (took {elapsed:?})"
            );
        }
        assert!(
            !has_session(&browser, &base).await,
            "no session after {fault:?}"
        );
        env.emulator.set_faults(Faults::default());
        let again = browser.login(&format!("{base}/account")).await;
        assert_eq!(again.status(), 302, "the next login works after {fault:?}");
    }
    assert!(has_session(&before, &base).await);
    let text = env.gateway.metrics().await;
    assert!(
        sample(
            &text,
            "g2p_gateway_idp_request_duration_seconds_count{endpoint=\"token\",outcome=\"error\"}"
        ) >= 2.0,
        "the timeout and the 500 count as errors:\n{text}"
    );
    wait_for_log(
        &env.gateway,
        &["identity_provider_unavailable", "timed out"],
    )
    .await;
    assert_no_panic(&env.gateway);
}

/// A fresh PKCS#8 RSA key from openssl (fast, unlike RSA keygen in a debug build).
fn new_rsa_pem() -> String {
    let output = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn logins_continue_across_an_idp_key_rotation() {
    let env = Env::start(EnvOptions::default()).await;
    let base = env.gateway.base_url.clone();
    let refreshes = |text: &str| sample(text, "g2p_gateway_jwks_refreshes_total{outcome=\"ok\"}");
    let first = logged_in_browser(&base).await;
    let at_start = refreshes(&env.gateway.metrics().await);
    assert!(at_start >= 1.0);

    let old_kids = env.emulator.published_kids();
    let new_kid = env.emulator.rotate_signing_key(&new_rsa_pem()).unwrap();
    let published = env.emulator.published_kids();
    assert_eq!(published[0], new_kid, "the new key is published first");
    assert!(
        published.contains(&old_kids[0]),
        "the old key stays published"
    );

    // The first ID token with the new kid makes the gateway refetch once.
    let second = logged_in_browser(&base).await;
    let third = logged_in_browser(&base).await;
    assert_eq!(
        refreshes(&env.gateway.metrics().await),
        at_start + 1.0,
        "exactly one refetch for the new kid"
    );

    env.emulator.retire_old_keys();
    assert!(!env.emulator.published_kids().contains(&old_kids[0]));
    let fourth = logged_in_browser(&base).await;

    // A made-up kid right after cannot make the gateway refetch again
    // within jwks_min_refresh_interval (30 s here), and is refused.
    let browser = Browser::new();
    let callback = callback_url(&browser, &base).await;
    env.emulator.set_faults(Faults {
        id_token: Some(IdTokenFault::UnknownKid),
        ..Default::default()
    });
    let refused = browser.navigate(&callback).await;
    assert_clean_failure(&env.gateway, refused, 401, "login_failed").await;
    env.emulator.set_faults(Faults::default());
    assert_eq!(refreshes(&env.gateway.metrics().await), at_start + 1.0);

    for browser in [&first, &second, &third, &fourth] {
        assert!(has_session(browser, &base).await, "no session lost");
    }
    assert!(!has_session(&browser, &base).await);
    assert_no_panic(&env.gateway);
}

#[tokio::test]
async fn logins_keep_working_on_cached_keys_while_the_jwks_endpoint_is_down() {
    let env = Env::start(EnvOptions::default()).await;
    let base = env.gateway.base_url.clone();
    let first = logged_in_browser(&base).await;
    let failed_before = sample(
        &env.gateway.metrics().await,
        "g2p_gateway_jwks_refreshes_total{outcome=\"error\"}",
    );
    env.emulator.set_faults(Faults {
        jwks_unavailable: true,
        ..Default::default()
    });
    let during = logged_in_browser(&base).await;
    let during_too = logged_in_browser(&base).await;

    // An unknown kid now forces a refetch, which fails: refused, counted,
    // logged, and the cached keys are kept.
    let browser = Browser::new();
    let callback = callback_url(&browser, &base).await;
    env.emulator.set_faults(Faults {
        jwks_unavailable: true,
        id_token: Some(IdTokenFault::UnknownKid),
        ..Default::default()
    });
    let refused = browser.navigate(&callback).await;
    assert_clean_failure(&env.gateway, refused, 401, "login_failed").await;
    let text = env.gateway.metrics().await;
    assert_eq!(
        sample(&text, "g2p_gateway_jwks_refreshes_total{outcome=\"error\"}"),
        failed_before + 1.0,
        "{text}"
    );
    wait_for_log(&env.gateway, &["JWKS refresh failed"]).await;
    env.emulator.set_faults(Faults {
        jwks_unavailable: true,
        ..Default::default()
    });
    let after = logged_in_browser(&base).await;
    env.emulator.set_faults(Faults::default());
    for browser in [&first, &during, &during_too, &after] {
        assert!(has_session(browser, &base).await);
    }
    assert!(!has_session(&browser, &base).await);
    assert_no_panic(&env.gateway);
}

/// What a fake upstream on the reserved port does.
#[derive(Clone, Copy, Debug)]
enum UpstreamMode {
    /// Accept and reset (RST) at once.
    Reset,
    /// Read the request, then close without answering.
    CloseAfterRequest,
    /// Answer 200 "ok".
    Healthy,
    /// Read the request and never answer.
    Hang,
}

/// Serves `mode` on `addr` until the returned task is aborted.
async fn fake_upstream(addr: SocketAddr, mode: UpstreamMode) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.expect("rebind upstream port");
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            match mode {
                UpstreamMode::Reset => {
                    let _ = stream.set_zero_linger();
                    drop(stream);
                }
                UpstreamMode::CloseAfterRequest => {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    drop(stream);
                }
                UpstreamMode::Healthy => {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 8192];
                        let _ = stream.read(&mut buf).await;
                        let _ = stream
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                            )
                            .await;
                        let _ = stream.shutdown().await;
                    });
                }
                UpstreamMode::Hang => {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    held.push(stream);
                }
            }
        }
    })
}

/// Stops a fake upstream and waits until its port is free again.
async fn stop(task: tokio::task::JoinHandle<()>) {
    task.abort();
    let _ = task.await;
}

/// An upstream failure as the API client sees it: 502 JSON with the code
/// and the correlation id (also in the header and the log).
async fn assert_upstream_502(env_gateway: &Gateway, browser: &Browser) {
    let response = browser
        .fetch_json(&format!("{}/account", env_gateway.base_url))
        .await;
    assert_eq!(response.status(), 502);
    let header_id = response
        .headers()
        .get("x-correlation-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "upstream_unavailable");
    assert_eq!(body["correlation_id"], header_id.as_str());
    wait_for_log(env_gateway, &[&header_id, "upstream_unavailable"]).await;
}

#[tokio::test]
async fn upstream_down_or_resetting_gives_502_and_the_next_request_works() {
    let upstream_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let env = Env::start(edit(move |c| {
        c["upstreams"]["portal"]["url"] = format!("http://{upstream_addr}").into();
    }))
    .await;
    let base = env.gateway.base_url.clone();
    let browser = unpooled_logged_in_browser(&base).await;

    // Down: nothing listens.
    assert_upstream_502(&env.gateway, &browser).await;
    let page = browser.navigate(&format!("{base}/account")).await;
    assert_eq!(page.status(), 502);
    let id = page.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        page.text().await.unwrap().contains(&id),
        "a page for browsers"
    );

    // Resetting, or closing without an answer.
    for mode in [UpstreamMode::Reset, UpstreamMode::CloseAfterRequest] {
        let server = fake_upstream(upstream_addr, mode).await;
        assert_upstream_502(&env.gateway, &browser).await;
        stop(server).await;
    }
    // Counted in the logging phase, after the answer is sent: poll (bounded).
    let series = "g2p_gateway_requests_total{route=\"portal\",status_class=\"5xx\"}";
    let counted = within(Duration::from_secs(10), || async {
        sample(&env.gateway.metrics().await, series) >= 4.0
    })
    .await;
    assert!(counted.is_some(), "{}", env.gateway.metrics().await);

    // The upstream returns: the next request works, on the same session.
    let server = fake_upstream(upstream_addr, UpstreamMode::Healthy).await;
    let ok = browser.fetch_json(&format!("{base}/account")).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "ok");
    stop(server).await;
    assert_no_panic(&env.gateway);
}

#[tokio::test]
async fn a_hung_upstream_does_not_stall_other_requests() {
    let hung_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let env = Env::start(edit(move |c| {
        c["upstreams"]["hung"] = serde_json::json!({ "url": format!("http://{hung_addr}") });
        c["routes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({ "path": "/hung", "upstream": "hung", "auth": "public" }));
    }))
    .await;
    let base = env.gateway.base_url.clone();
    let server = fake_upstream(hung_addr, UpstreamMode::Hang).await;
    let hung: Vec<_> = (0..8)
        .map(|_| {
            let url = format!("{base}/hung");
            tokio::spawn(async move {
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(2))
                    .build()
                    .unwrap()
                    .get(url)
                    .send()
                    .await
            })
        })
        .collect();
    // Meanwhile a login and proxied requests to the healthy upstream work.
    let browser = logged_in_browser(&base).await;
    assert!(has_session(&browser, &base).await);
    for request in hung {
        let outcome = request.await.unwrap();
        // The default upstream read timeout (60 s) is longer than the
        // client's 2 s: the client gives up first.
        assert!(outcome.is_err() || outcome.unwrap().status() == 504);
    }
    stop(server).await;
    assert_no_panic(&env.gateway);
}

#[tokio::test]
async fn a_slow_upstream_times_out_with_504_and_the_next_request_works() {
    let upstream_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let env = Env::start(edit(move |c| {
        c["upstreams"]["portal"] = serde_json::json!({
            "url": format!("http://{upstream_addr}"),
            "read_timeout": "1s",
        });
    }))
    .await;
    let base = env.gateway.base_url.clone();
    let browser = unpooled_logged_in_browser(&base).await;
    let server = fake_upstream(upstream_addr, UpstreamMode::Hang).await;
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(30),
        browser.fetch_json(&format!("{base}/account")),
    )
    .await
    .expect("the gateway answers a hung upstream within its read timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), 504);
    let id = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "upstream_timeout");
    assert_eq!(body["correlation_id"], id.as_str());
    wait_for_log(&env.gateway, &[&id, "upstream_timeout"]).await;
    stop(server).await;
    let server = fake_upstream(upstream_addr, UpstreamMode::Healthy).await;
    let ok = browser.fetch_json(&format!("{base}/account")).await;
    assert_eq!(
        ok.status(),
        200,
        "the same session works once the upstream answers"
    );
    stop(server).await;
    assert_no_panic(&env.gateway);
}

#[tokio::test]
async fn a_502_says_connection_close() {
    let upstream_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let env = Env::start(edit(move |c| {
        c["upstreams"]["portal"]["url"] = format!("http://{upstream_addr}").into();
    }))
    .await;
    let response = reqwest::get(format!("{}/public", env.gateway.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        response
            .headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close"),
        "the connection is closed after this answer"
    );
}

/// The proxy port already in use: the gateway refuses to start, exit 1,
/// naming the address. (pingora alone retries for 30 s, then leaves a
/// process serving only its admin port.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_address_in_use_stops_the_start_with_exit_1() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (emulator, upstream) = demo_idp_and_upstream().await;
    let config = gateway_config(&repo_root(), port, &emulator, &upstream);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "gateway.yaml", &config);
    let log = dir.path().join("gateway.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["run", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let exited = tokio::task::block_in_place(|| {
        common::wait::within_blocking(Duration::from_secs(20), || {
            matches!(child.0.try_wait(), Ok(Some(_)))
        })
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        exited.is_some(),
        "the gateway exits at once, not after pingora's 30 s of retries:\n{text}"
    );
    assert_eq!(child.0.wait().unwrap().code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("cannot bind 127.0.0.1:{port}")),
        "{text}"
    );
    drop(busy);
}
