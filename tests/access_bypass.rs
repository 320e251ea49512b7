//! The ways past the login and policy checks that an attacker would try,
//! each over a raw socket where an HTTP client library would normalise the
//! request: non-origin-form targets, absolute-form without or against
//! `Host`, `Host` values the router and the upstream read differently,
//! client-chosen forward-auth URLs, logout from another site, spoofed
//! forwarding headers, and slow or many connections. Then one table runs
//! every access outcome through proxy and forward-auth mode alike.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::redis::RedisServer;
use common::wait::within;
use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIO: &str = "mosip:idp:acr:biometrics";
const SP_HOST: &str = "sp.portal.example.org";

/// Routes: `/` needs a login, `/bank` biometrics, `/public` nothing, and the
/// whole `sp.portal.example.org` host a group nobody has.
fn routes(config: &mut Value) {
    config["routes"] = serde_json::json!([
        { "name": "portal", "path": "/", "upstream": "portal", "auth": "login" },
        { "name": "bank", "path": "/bank", "upstream": "portal", "auth": "login",
          "policy": { "acr": [BIO] } },
        { "name": "public", "path": "/public", "upstream": "portal", "auth": "public" },
        { "name": "sp", "host": SP_HOST, "path": "/", "upstream": "portal", "auth": "login",
          "policy": { "claim": { "name": "gender", "equals": "Female" } } },
    ]);
}

async fn env_with(edit: impl FnOnce(&mut Value) + Send + 'static) -> Env {
    Env::start(EnvOptions {
        edit: Box::new(move |config| {
            routes(config);
            edit(config);
        }),
        ..Default::default()
    })
    .await
}

/// Logs a citizen in with OTP and returns the `g2p-session=…` cookie.
async fn otp_session(env: &Env) -> String {
    let back = env.browser().login(&env.url("/")).await;
    set_cookie(&back, "g2p-session").expect("session cookie")
}

fn addr(env: &Env) -> String {
    env.gateway
        .base_url
        .trim_start_matches("http://")
        .to_string()
}

/// One raw request (with `Connection: close`) and its status.
async fn raw(env: &Env, head: &str) -> (u16, String) {
    raw_request(&env.gateway.base_url, head).await
}

#[tokio::test]
async fn targets_that_are_not_origin_form_never_reach_a_route() {
    let env = env_with(|_| {}).await;
    let cookie = otp_session(&env).await;
    let host = addr(&env);
    // With an OTP session, `/bank/update` needs a step-up; pingora would
    // route these as `/` while the portal serves them as `/bank/update`.
    for target in [
        "bank/update",
        "x:/bank/update",
        "*",
        "ftp://h/bank/update",
        "foo:bar://h/bank",
    ] {
        let (status, text) = raw(
            &env,
            &format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 400, "{target}: {text}");
        assert!(
            !text.contains("\"identity\""),
            "{target} reached the upstream"
        );
    }
    // The same session on the real path is sent to the step-up.
    let (status, _) = raw(
        &env,
        &format!("GET /bank/update HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 401);
    let metrics = env.gateway.metrics().await;
    assert!(
        sample(
            &metrics,
            "g2p_gateway_requests_refused_total{reason=\"bad_target\"}"
        ) >= 3.0
    );
}

#[tokio::test]
async fn absolute_form_is_routed_on_its_own_host_and_must_agree_with_host() {
    let env = env_with(|_| {}).await;
    let cookie = otp_session(&env).await;
    let host = addr(&env);
    let get = |target: String, host_header: Option<String>| {
        let host_line = host_header
            .map(|h| format!("Host: {h}\r\n"))
            .unwrap_or_default();
        format!("GET {target} HTTP/1.1\r\n{host_line}Cookie: {cookie}\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
    };
    // No Host: the target's host decides, and its route refuses this citizen.
    let (status, text) = raw(&env, &get(format!("http://{SP_HOST}/x"), None)).await;
    assert_eq!(status, 403, "{text}");
    // Same host in both: the same answer.
    let (status, _) = raw(
        &env,
        &get(format!("http://{SP_HOST}/x"), Some(SP_HOST.into())),
    )
    .await;
    assert_eq!(status, 403);
    // The same host in other spelling is refused: two spellings of one
    // request are one reading too many.
    let (status, _) = raw(
        &env,
        &get(
            format!("http://{SP_HOST}/x"),
            Some("SP.Portal.Example.ORG.".into()),
        ),
    )
    .await;
    assert_eq!(status, 400);
    // A Host naming another host than the target: refused before routing.
    let (status, _) = raw(
        &env,
        &get(format!("http://{SP_HOST}/x"), Some(host.clone())),
    )
    .await;
    assert_eq!(status, 400);
    // Absolute-form for the gateway's own host works like origin-form.
    let (status, text) = raw(&env, &get(format!("http://{host}/public/x"), None)).await;
    assert_eq!(status, 200, "{text}");
    let echo: Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap_or_default();
    assert_eq!(echo["path"], "/public/x");
}

#[tokio::test]
async fn host_values_the_router_cannot_read_are_refused() {
    let env = env_with(|_| {}).await;
    let cookie = otp_session(&env).await;
    for host in [
        format!("{SP_HOST}:1:1"),
        format!("{SP_HOST}:８０"),
        format!("{SP_HOST}:"),
        format!("{SP_HOST}:99999"),
        format!("{SP_HOST} x"),
        String::new(),
    ] {
        let (status, text) = raw(
            &env,
            &format!("GET /x HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 400, "Host {host:?}: {text}");
    }
    // Missing and duplicate Host headers.
    let (status, _) = raw(
        &env,
        &format!("GET /x HTTP/1.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = raw(
        &env,
        &format!("GET /x HTTP/1.1\r\nHost: {SP_HOST}\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n", addr(&env)),
    )
    .await;
    assert_eq!(status, 400);
    // A strict, case-different Host still meets its route (and its policy).
    let (status, _) = raw(
        &env,
        &format!("GET /x HTTP/1.1\r\nHost: SP.PORTAL.EXAMPLE.ORG.:443\r\nCookie: {cookie}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn forward_auth_reads_only_the_configured_ingress_headers() {
    let env = env_with(|config| {
        config["forward_auth"] = serde_json::json!({ "source": "traefik" });
    })
    .await;
    let cookie = otp_session(&env).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let host = addr(&env);
    let ask = |uri: &'static str, original_url: Option<String>| {
        let mut request = client
            .get(env.url("/_gateway/auth"))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-host", &host)
            .header("x-forwarded-uri", uri);
        if let Some(url) = original_url {
            request = request.header("x-original-url", url);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Traefik copies client headers: an X-Original-URL naming a public page
    // must not stand in for the biometrics page Traefik asks about.
    let spoofed = ask("/bank/update", Some(format!("http://{host}/public/x"))).await;
    assert_eq!(spoofed, 401, "the step-up is still required");
    assert_eq!(ask("/public/x", None).await, 200);
    assert_eq!(ask("/home", None).await, 200, "the OTP session passes on /");
    // A target Traefik would never send, and a host the router cannot read.
    assert_eq!(ask("bank/update", None).await, 400);
    let bad_host = client
        .get(env.url("/_gateway/auth"))
        .header("cookie", &cookie)
        .header("x-forwarded-host", format!("{SP_HOST}:1:1"))
        .header("x-forwarded-uri", "/x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_host.status(), 400);
}

#[tokio::test]
async fn forward_auth_is_off_unless_configured_and_nginx_needs_an_absolute_url() {
    let env = env_with(|_| {}).await;
    let off = reqwest::Client::new()
        .get(env.url("/_gateway/auth"))
        .header(
            "x-original-url",
            format!("{}/public/x", env.gateway.base_url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 404);

    let env = env_with(|config| {
        config["forward_auth"] = serde_json::json!({ "source": "nginx" });
    })
    .await;
    let ask = |url: &'static str| {
        let request = reqwest::Client::new()
            .get(env.url("/_gateway/auth"))
            .header("x-original-url", url.replace("BASE", &env.gateway.base_url))
            .header("x-forwarded-uri", "/public/x");
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ask("BASE/public/x").await, 200);
    assert_eq!(ask("/public/x").await, 400, "a bare path names no host");
    assert_eq!(ask("BASE/home").await, 401, "X-Forwarded-Uri is not read");
}

#[tokio::test]
async fn logout_needs_a_post_from_the_gateways_own_pages() {
    let env = env_with(|_| {}).await;
    let browser = env.browser();
    browser.login(&env.url("/")).await;
    let still_in = || async { browser.fetch_json(&env.url("/home")).await.status() };

    // A cross-site link or image: a page with a button, the session lives.
    let page = browser
        .navigate(&env.url("/_gateway/logout?return_to=/public/bye"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("method=\"post\""), "{html}");
    assert!(
        html.contains("/_gateway/logout?return_to=%2Fpublic%2Fbye"),
        "{html}"
    );
    assert_eq!(still_in().await, 200);

    // A cross-site form POST, and a POST with no evidence of its origin.
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut request = browser.client.post(env.url("/_gateway/logout"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 403, "{origin:?}");
        assert_eq!(still_in().await, 200, "{origin:?} ended the session");
    }

    // The gateway's own button.
    let out = browser
        .logout(&env.url("/_gateway/logout?return_to=/public/bye"))
        .await;
    assert_eq!(out.status(), 302);
    assert_eq!(location(&out), "/public/bye");
    assert_eq!(still_in().await, 401);
}

#[tokio::test]
async fn client_forwarding_headers_never_reach_the_portal() {
    let env = env_with(|_| {}).await;
    let spoofed = [
        ("forwarded", "for=6.6.6.6;proto=https;host=evil.example"),
        ("x-real-ip", "6.6.6.6"),
        ("x-forwarded-port", "1"),
        ("x-forwarded-prefix", "/evil"),
        ("x-original-url", "/admin"),
        ("x-original-method", "DELETE"),
        ("x-http-method-override", "DELETE"),
        ("true-client-ip", "6.6.6.6"),
    ];
    let seen = public_echo(&env, &spoofed).await;
    for (name, value) in spoofed {
        assert!(
            !echoed_header(&seen, name).contains(&value),
            "{name} reached the portal as the client wrote it"
        );
    }
    // No X-Real-IP unless the upstream asks for it (`real_ip_header`).
    assert!(echoed_header(&seen, "x-real-ip").is_empty(), "{seen}");
}

#[tokio::test]
async fn an_upstream_that_asks_gets_the_decided_client_in_x_real_ip() {
    let env = env_with(|config| {
        config["upstreams"]["portal"]["real_ip_header"] = serde_json::json!(true);
    })
    .await;
    let seen = public_echo(&env, &[("x-real-ip", "6.6.6.6")]).await;
    assert_eq!(echoed_header(&seen, "x-real-ip"), vec!["127.0.0.1"]);
}

/// What the portal saw of a public request sent with `headers`.
async fn public_echo(env: &Env, headers: &[(&str, &str)]) -> Value {
    let mut request = reqwest::Client::new()
        .get(env.url("/public/x"))
        .header("accept", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn trusted_proxies_decide_the_client_address() {
    let env = env_with(|config| {
        config["server"]["trusted_proxies"] = serde_json::json!(["127.0.0.0/8"]);
        config["upstreams"]["portal"]["real_ip_header"] = serde_json::json!(true);
    })
    .await;
    let seen = public_echo(
        &env,
        &[
            // A client-chosen entry, then the one the trusted ingress appended.
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    let get = |name: &str| echoed_header(&seen, name);
    assert_eq!(get("x-real-ip"), vec!["203.0.113.9"]);
    assert_eq!(
        get("x-forwarded-for"),
        vec!["6.6.6.6, 203.0.113.9, 127.0.0.1"]
    );
    assert_eq!(get("x-forwarded-proto"), vec!["https"]);
}

/// A browser whose connections come from `ip` (any 127.0.0.0/8 address).
fn browser_from(ip: &str) -> Browser {
    let ip: IpAddr = ip.parse().unwrap();
    Browser {
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip)
            .build()
            .unwrap(),
    }
}

#[tokio::test]
async fn a_flood_of_pending_logins_from_many_addresses_does_not_lock_citizens_out() {
    let env = env_with(|config| {
        config["limits"] = serde_json::json!({
            "login_starts": "off", "callbacks": "off", "pending_logins_per_client": 20,
        });
        config["session"]["max_pending_logins"] = serde_json::json!(40);
    })
    .await;
    // 10 addresses × 20 logins: five times what the store holds.
    for host in 2..12 {
        let flooder = browser_from(&format!("127.0.0.{host}"));
        for _ in 0..20 {
            let status = flooder.navigate(&env.url("/_gateway/login")).await.status();
            assert_eq!(
                status,
                302,
                "every flooder login still starts: {host}\n{}",
                env.gateway.logs()
            );
        }
        if host == 2 {
            // Before the store fills, nothing is given up: the cap holds.
            let refused = flooder.navigate(&env.url("/_gateway/login")).await.status();
            assert_eq!(refused, 429, "the per-client cap holds");
        }
    }
    // A new citizen, from another address, logs in all the way.
    let citizen = browser_from("127.0.0.99");
    let back = citizen.login(&env.url("/home")).await;
    assert_eq!(back.status(), 302, "the citizen's login completes");
    assert_eq!(location(&back), "/home");
    assert_eq!(citizen.fetch_json(&env.url("/home")).await.status(), 200);
    let metrics = env.gateway.metrics().await;
    assert!(
        sample(
            &metrics,
            "g2p_gateway_requests_refused_total{reason=\"pending_login_evicted\"}"
        ) > 0.0
    );
}

#[tokio::test]
async fn slow_headers_are_cut_off_at_the_deadline() {
    let env = env_with(|config| {
        config["server"]["header_timeout"] = serde_json::json!("1s");
    })
    .await;
    let addr = addr(&env);
    // Half a request, then silence.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    silent
        .write_all(b"GET /public/x HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(20)).await);

    // One byte at a time, each well inside pingora's per-read timeout: the
    // deadline is for the whole header, so the drip is cut off too.
    let mut drip = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = b"GET /public/x HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for byte in request {
        if drip.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), drip.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            Ok(Ok(_)) => panic!("the dripped request was answered"),
            Err(_) => {}
        }
    }
    assert!(cut, "a 10 s drip outlived a 1 s header deadline");

    // A prompt request on a kept-alive connection is served, twice.
    let mut prompt = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for _ in 0..2 {
        prompt
            .write_all(format!("GET /public/x HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = prompt.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    let metrics = env.gateway.metrics().await;
    assert!(
        sample(
            &metrics,
            "g2p_gateway_requests_refused_total{reason=\"header_timeout\"}"
        ) >= 2.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn one_client_cannot_hold_every_connection() {
    let env = env_with(|config| {
        config["server"]["max_connections_per_client"] = serde_json::json!(3);
    })
    .await;
    let addr = addr(&env);
    let request = format!("GET /public/x HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut fourth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut answer = String::new();
    let _ = fourth.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    // Another client is not affected.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = other.connect(addr.parse().unwrap()).await.unwrap();
    other.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = other.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // A closed connection frees its slot.
    drop(held.pop());
    let freed = eventually_status(&addr, &request).await;
    assert!(freed, "a slot came free");
}

/// Whether a new connection is served within a few seconds (the server
/// notices a closed connection asynchronously).
async fn eventually_status(addr: &str, request: &str) -> bool {
    within(Duration::from_secs(10), || async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        match stream.read(&mut buf).await {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            Err(_) => false,
        }
    })
    .await
    .is_some()
}

/// What a mode answered: the status and, for refusals, the public code.
async fn answer(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn proxy_and_forward_auth_give_the_same_answer_for_the_same_facts() {
    let mut redis = RedisServer::start();
    let secrets = tempfile::tempdir().unwrap();
    let url_file = secrets.path().join("redis-url");
    std::fs::write(&url_file, redis.url()).unwrap();
    let env = env_with(move |config| {
        config["forward_auth"] = serde_json::json!({ "source": "nginx" });
        config["session"]["store"] = serde_json::json!({ "redis": {
            "url": { "file": url_file.to_string_lossy() },
            "record_keys": [{ "file": repo_root().join("certs/demo/record.key").to_string_lossy() }],
            "local_cache_ttl": "0s",
            "connect_timeout": "300ms",
            "command_timeout": "300ms",
        }});
    })
    .await;
    let cookie = otp_session(&env).await;
    let base = env.gateway.base_url.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let proxy = |path: &str, host: &str, cookie: Option<&str>| {
        let mut request = client
            .get(format!("{base}{path}"))
            .header("host", host)
            .header("accept", "application/json");
        if let Some(c) = cookie {
            request = request.header("cookie", c);
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let forward = |path: &str, host: &str, cookie: Option<&str>| {
        let mut request = client
            .get(format!("{base}/_gateway/auth"))
            .header("accept", "application/json")
            .header("x-original-url", format!("http://{host}{path}"))
            .header("x-original-method", "GET");
        if let Some(c) = cookie {
            request = request.header("cookie", c);
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let own = addr(&env);
    let table: &[(&str, &str, &str, bool, u16, &str)] = &[
        // (case, path, host, with session, status, code)
        ("public", "/public/x", &own, false, 200, ""),
        ("allowed", "/home", &own, true, 200, ""),
        ("login needed", "/home", &own, false, 401, "login_required"),
        (
            "step-up",
            "/bank/x",
            &own,
            true,
            401,
            "insufficient_user_authentication",
        ),
        ("denied", "/x", SP_HOST, true, 403, "forbidden"),
    ];
    for (case, path, host, with_session, status, code) in table {
        let cookie = with_session.then_some(cookie.as_str());
        let expected = (*status, code.to_string());
        assert_eq!(proxy(path, host, cookie).await, expected, "proxy: {case}");
        assert_eq!(
            forward(path, host, cookie).await,
            expected,
            "forward-auth: {case}"
        );
    }
    // No route: 404 to a browser, 403 to an ingress (nginx turns anything
    // but 401 and 403 into a 500); both refuse.
    let env_no_route = env_with(|config| {
        config["forward_auth"] = serde_json::json!({ "source": "nginx" });
        config["routes"] = serde_json::json!([
            { "name": "only", "host": SP_HOST, "path": "/", "upstream": "portal", "auth": "public" },
        ]);
    })
    .await;
    let elsewhere = addr(&env_no_route);
    let no_route = client
        .get(env_no_route.url("/x"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer(no_route).await, (404, "not_found".into()));
    let no_route = client
        .get(env_no_route.url("/_gateway/auth"))
        .header("accept", "application/json")
        .header("x-original-url", format!("http://{elsewhere}/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(no_route).await, (403, "forbidden".into()));

    // The store goes down: both refuse with 503, nobody passes.
    redis.stop();
    let down = (503, "session_store_unavailable".to_string());
    assert_eq!(
        proxy("/home", &own, Some(&cookie)).await,
        down,
        "proxy: store down"
    );
    assert_eq!(
        forward("/home", &own, Some(&cookie)).await,
        down,
        "forward-auth: store down"
    );
}
