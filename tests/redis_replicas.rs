//! Several gateway replicas on one Redis: a login made on one works on the
//! others and survives restarts, a logout reaches every replica, a callback
//! state is used once, a Redis outage fails closed (503) and heals by itself,
//! and Redis never holds ids or personal data in clear.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use common::redis::RedisServer;
use common::wait::eventually;
use common::*;
use esignet_emulator::{ClientRegistration, DemoUpstream, Emulator, EmulatorConfig};
use serde_json::Value;

/// The emulator, the demo upstream, one Redis and N gateways sharing it.
struct Replicas {
    emulator: Emulator,
    upstream: DemoUpstream,
    redis: RedisServer,
    gateways: Vec<Gateway>,
    configs: Vec<Value>,
    _secrets: tempfile::TempDir,
}

/// How the replicas are set up.
struct Setup {
    count: usize,
    /// One public URL for all (like one Kubernetes Service), or one each.
    shared_public_url: bool,
    local_cache_ttl: &'static str,
}

impl Replicas {
    async fn start(setup: Setup) -> Replicas {
        let root = repo_root();
        let redis = RedisServer::start_with(Some("s3cret-redis-pw"));
        let secrets = tempfile::tempdir().unwrap();
        let url_file = secrets.path().join("redis.url");
        std::fs::write(&url_file, redis.url()).unwrap();
        let emulator = Emulator::start(EmulatorConfig::demo(&root).unwrap(), loopback())
            .await
            .unwrap();
        let ports: Vec<u16> = (0..setup.count).map(|_| free_port()).collect();
        let public = |port: u16| {
            let port = if setup.shared_public_url {
                ports[0]
            } else {
                port
            };
            format!("http://127.0.0.1:{port}")
        };
        let jwk: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("certs/demo/client.jwk.json")).unwrap(),
        )
        .unwrap();
        let callbacks = ports
            .iter()
            .map(|p| format!("{}/_gateway/callback", public(*p)))
            .collect();
        emulator.register_client(ClientRegistration::new(CLIENT_ID, jwk, callbacks));
        let jwks = format!("http://127.0.0.1:{}/_gateway/jwks.json", ports[0]);
        let upstream = DemoUpstream::start(loopback(), Some(jwks), Some("g2p-portal".into()))
            .await
            .unwrap();
        let configs: Vec<Value> = ports
            .iter()
            .map(|port| {
                let mut config = gateway_config(&root, *port, &emulator, &upstream);
                config["server"]["public_url"] = public(*port).into();
                config["session"]["store"] = redis_store(&root, &url_file, setup.local_cache_ttl);
                config
            })
            .collect();
        let mut gateways = Vec::new();
        for config in &configs {
            gateways.push(spawn_gateway(config).await);
        }
        let replicas = Replicas {
            emulator,
            upstream,
            redis,
            gateways,
            configs,
            _secrets: secrets,
        };
        replicas.wait_subscribed().await;
        replicas
    }

    fn url(&self, replica: usize, path: &str) -> String {
        format!("{}{path}", self.gateways[replica].base_url)
    }

    fn admin(&self, replica: usize, path: &str) -> String {
        format!("{}{path}", self.gateways[replica].admin_url)
    }

    /// Stops every gateway and starts them again with the same configs.
    async fn restart_gateways(&mut self) {
        self.gateways.clear();
        for config in &self.configs {
            self.gateways.push(spawn_gateway(config).await);
        }
        self.wait_subscribed().await;
    }

    /// Waits until every replica listens for invalidations.
    async fn wait_subscribed(&self) {
        let want = self.gateways.len() as u64;
        let redis = &self.redis;
        eventually(
            "every replica subscribes",
            Duration::from_secs(20),
            || async {
                let mut conn = redis.connection();
                let counts: Vec<(String, u64)> = ::redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg("g2p:invalidate")
                    .query(&mut conn)
                    .unwrap();
                counts.first().is_some_and(|(_, n)| *n >= want)
            },
        )
        .await;
    }

    async fn status(&self, browser: &Browser, replica: usize, path: &str) -> u16 {
        browser
            .fetch_json(&self.url(replica, path))
            .await
            .status()
            .as_u16()
    }
}

fn redis_store(root: &Path, url_file: &Path, cache_ttl: &str) -> Value {
    serde_json::json!({
        "redis": {
            "url": { "file": url_file.to_string_lossy() },
            "record_keys": [{ "file": root.join("certs/demo/record.key").to_string_lossy() }],
            "local_cache_ttl": cache_ttl,
            "connect_timeout": "500ms",
            "command_timeout": "500ms",
        }
    })
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Logs in through replica `replica` (the callback goes to that replica).
async fn login_on(replicas: &Replicas, browser: &Browser, replica: usize) {
    let back = browser.login(&replicas.url(replica, "/home")).await;
    assert_eq!(back.status(), 302, "login through replica {replica}");
    assert_eq!(location(&back), "/home");
}

#[tokio::test]
async fn a_login_works_on_every_replica_and_survives_their_restart() {
    let mut replicas = Replicas::start(Setup {
        count: 2,
        shared_public_url: false,
        local_cache_ttl: "5s",
    })
    .await;
    let browser = Browser::new();
    login_on(&replicas, &browser, 0).await;
    // The cookie set by A is sent to B (same host; cookies ignore ports).
    for replica in [0, 1] {
        let seen: Value = browser
            .fetch_json(&replicas.url(replica, "/x"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["identity"]["verified"], true, "replica {replica}");
    }

    // Both replicas restart: the session lives in Redis.
    replicas.restart_gateways().await;
    assert_eq!(replicas.status(&browser, 1, "/x").await, 200);
    assert_eq!(replicas.status(&browser, 0, "/x").await, 200, "A caches it");

    let _ = (&replicas.upstream, &replicas.emulator);
}

/// A browser that sends a fixed `Cookie` header (a copied session cookie).
async fn with_cookie(url: &str, cookie: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .header("accept", "application/json")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Logs in on `replica` and returns the session cookie as a `Cookie` header value.
async fn login_cookie(replicas: &Replicas, replica: usize) -> String {
    let browser = Browser::new();
    let start = browser.start_login(&replicas.url(replica, "/home")).await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    let back = browser.navigate(&callback).await;
    assert_eq!(back.status(), 302);
    back.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("g2p-session=") && !v.contains("Max-Age=0"))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[tokio::test]
async fn a_logout_on_b_is_refused_on_a_within_the_promised_time() {
    let replicas = Replicas::start(Setup {
        count: 2,
        shared_public_url: false,
        local_cache_ttl: "30s",
    })
    .await;
    let cookie = login_cookie(&replicas, 0).await;
    assert_eq!(with_cookie(&replicas.url(1, "/x"), &cookie).await, 200);
    assert_eq!(with_cookie(&replicas.url(0, "/x"), &cookie).await, 200);
    let gets = || redis_gets(&replicas.redis);
    let before = gets();
    assert_eq!(with_cookie(&replicas.url(0, "/x"), &cookie).await, 200);
    assert_eq!(gets(), before, "A serves the session from its cache");
    let logout = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(replicas.url(1, "/_gateway/logout"))
        .header("origin", origin_of(&replicas.url(1, "/")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 302);
    let a = replicas.url(0, "/x");
    let took = eventually(
        "A refuses the logged-out session",
        Duration::from_secs(2),
        || {
            let (a, cookie) = (a.clone(), cookie.clone());
            async move { with_cookie(&a, &cookie).await == 401 }
        },
    )
    .await;
    println!("logout on B refused on A after {took:?}");
    assert_eq!(with_cookie(&replicas.url(1, "/x"), &cookie).await, 401);
}

/// How many GETs Redis has served (`INFO commandstats`).
fn redis_gets(redis: &RedisServer) -> u64 {
    let mut conn = redis.connection();
    let info: String = ::redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut conn)
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_callback_state_is_used_once_across_replicas() {
    let replicas = Replicas::start(Setup {
        count: 2,
        shared_public_url: true,
        local_cache_ttl: "5s",
    })
    .await;
    let browser = Browser::new();
    let start = browser.start_login(&replicas.url(0, "/home")).await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    let query = callback.split_once('?').unwrap().1.to_string();
    let on = |replica: usize| replicas.url(replica, &format!("/_gateway/callback?{query}"));
    let (on_a, on_b) = (on(0), on(1));
    let (a, b) = tokio::join!(browser.navigate(&on_a), browser.navigate(&on_b));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [302, 400],
        "exactly one replica completes the login"
    );
    let completed = [a, b].into_iter().filter(|r| r.status() == 302).count();
    assert_eq!(completed, 1);
}

#[tokio::test]
async fn a_redis_outage_fails_closed_and_heals_by_itself() {
    let mut replicas = Replicas::start(Setup {
        count: 2,
        shared_public_url: false,
        local_cache_ttl: "5s",
    })
    .await;
    let cached = login_cookie(&replicas, 0).await;
    let uncached = login_cookie(&replicas, 1).await;
    let cached_at = Instant::now();
    assert_eq!(with_cookie(&replicas.url(0, "/x"), &cached).await, 200);

    replicas.redis.stop();
    // A session in A's cache keeps working for the cache lifetime...
    assert_eq!(with_cookie(&replicas.url(0, "/x"), &cached).await, 200);
    assert!(
        cached_at.elapsed() < Duration::from_secs(5),
        "the machine is too slow for this check"
    );
    // ...an unknown one is refused with 503 JSON for API clients...
    let response = reqwest::Client::new()
        .get(replicas.url(0, "/x"))
        .header("accept", "application/json")
        .header("cookie", &uncached)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "session_store_unavailable");
    // ...and a new login gets a 503 page.
    let page = Browser::new().navigate(&replicas.url(0, "/home")).await;
    assert_eq!(page.status(), 503);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // The replica stays ready (every replica shares this Redis: taking them
    // all out of the Service would only hide the gateway's own 503 answers
    // and the cached sessions), and says it is degraded.
    let readyz = reqwest::get(replicas.admin(0, "/readyz")).await.unwrap();
    assert_eq!(readyz.status(), 200);
    assert!(readyz
        .text()
        .await
        .unwrap()
        .contains("degraded: session store unreachable"));
    let metrics = reqwest::get(replicas.admin(0, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("g2p_gateway_session_store_up 0"),
        "{metrics}"
    );
    assert!(metrics.contains("g2p_gateway_session_store_errors_total{op="));
    // After the cache lifetime the cached session is refused too (fail closed).
    let a = replicas.url(0, "/x");
    eventually("the cached copy expires", Duration::from_secs(15), || {
        let (a, cookie) = (a.clone(), cached.clone());
        async move { with_cookie(&a, &cookie).await == 503 }
    })
    .await;
    assert!(replicas.gateways[0]
        .logs()
        .contains("session store unreachable"));

    replicas.redis.restart();
    for replica in [0, 1] {
        let ready = replicas.admin(replica, "/readyz");
        eventually(
            "the replica reaches the store again",
            Duration::from_secs(20),
            || {
                let ready = ready.clone();
                async move {
                    match reqwest::get(&ready).await {
                        Ok(r) if r.status() == 200 => r.text().await.is_ok_and(|t| t == "ready\n"),
                        _ => false,
                    }
                }
            },
        )
        .await;
    }
    for replica in [0, 1] {
        for cookie in [&cached, &uncached] {
            assert_eq!(
                with_cookie(&replicas.url(replica, "/x"), cookie).await,
                200,
                "no session lost"
            );
        }
    }
    let metrics = reqwest::get(replicas.admin(0, "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("g2p_gateway_session_store_up 1"));
    login_cookie(&replicas, 0).await;
}

#[tokio::test]
async fn redis_holds_no_session_id_or_personal_data_in_clear() {
    let replicas = Replicas::start(Setup {
        count: 1,
        shared_public_url: false,
        local_cache_ttl: "5s",
    })
    .await;
    let cookie = login_cookie(&replicas, 0).await;
    let info: Value = reqwest::Client::new()
        .get(replicas.url(0, "/_gateway/session"))
        .header("accept", "application/json")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let email = info["claims"]["email"].as_str().expect("email").to_string();
    let name = info["claims"]["name"].as_str().expect("name").to_string();
    let psut = replicas.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    let session_id = open_session_cookie(&cookie);
    // A login in progress too (its state and PKCE verifier).
    let pending = Browser::new().start_login(&replicas.url(0, "/")).await;
    let state = query_param(&pending.authorize_url, "state").unwrap();

    let mut conn = replicas.redis.connection();
    let keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(keys.iter().any(|k| k.starts_with("g2p:s:")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("g2p:p:")), "{keys:?}");
    for key in &keys {
        let kind: String = ::redis::cmd("TYPE").arg(key).query(&mut conn).unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![::redis::cmd("GET").arg(key).query(&mut conn).unwrap()],
            "set" => ::redis::cmd("SMEMBERS").arg(key).query(&mut conn).unwrap(),
            "zset" => ::redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query(&mut conn)
                .unwrap(),
            other => panic!("unexpected {other} at {key}"),
        };
        for secret in [
            psut.as_str(),
            name.as_str(),
            "Siddharth",
            email.as_str(),
            session_id.as_str(),
            state.as_str(),
            INDIVIDUAL_ID,
            "eyJ",
        ] {
            assert!(!key.contains(secret), "key {key} reveals a secret");
            for value in &values {
                let found = value.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "value of {key} reveals a secret");
            }
        }
    }
}

/// The session id inside a sealed cookie, opened with the demo cookie key.
fn open_session_cookie(cookie: &str) -> String {
    use g2p_gateway::config::SessionSettings;
    use g2p_gateway::session::cookie::CookieCodec;
    use g2p_gateway::shared::secret::Secret;
    let key_text = std::fs::read_to_string(repo_root().join("certs/demo/cookie.key")).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_text.trim())
        .unwrap();
    let settings = SessionSettings {
        cookie_name: "g2p-session".into(),
        cookie_keys: vec![Secret::new(key)],
        insecure_cookie_without_secure: true,
        absolute_timeout: Duration::from_secs(3600),
    };
    let codec = CookieCodec::new(&settings, 600).unwrap();
    let id = codec
        .session_id([cookie].into_iter())
        .expect("the demo cookie key opens the cookie");
    id.as_str().to_string()
}

#[tokio::test]
async fn a_back_channel_logout_on_b_ends_the_session_cached_on_a() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let replicas = Replicas::start(Setup {
        count: 2,
        shared_public_url: false,
        local_cache_ttl: "30s",
    })
    .await;
    let cookie = login_cookie(&replicas, 0).await;
    assert_eq!(with_cookie(&replicas.url(0, "/x"), &cookie).await, 200);
    let before = redis_gets(&replicas.redis);
    assert_eq!(with_cookie(&replicas.url(0, "/x"), &cookie).await, 200);
    assert_eq!(redis_gets(&replicas.redis), before, "cached on A");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": replicas.emulator.issuer(), "aud": CLIENT_ID, "iat": now, "exp": now + 120,
        "jti": "bc-jti-1", "sub": replicas.emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID),
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let pem = std::fs::read(repo_root().join("certs/demo/esignet-signing.pem")).unwrap();
    let key = EncodingKey::from_rsa_pem(&pem).unwrap();
    let jwks: Value = reqwest::get(replicas.emulator.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The provider's JWKS also holds the ID system's key: use the kid that verifies.
    let mut accepted = false;
    for jwk in jwks["keys"].as_array().unwrap() {
        let mut header = Header::new(match jwk["alg"].as_str() {
            Some("PS256") => Algorithm::PS256,
            _ => Algorithm::RS256,
        });
        header.kid = jwk["kid"].as_str().map(str::to_owned);
        header.typ = Some("logout+jwt".into());
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        let response = reqwest::Client::new()
            .post(replicas.url(1, "/_gateway/backchannel-logout"))
            .form(&[("logout_token", token.as_str())])
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            accepted = true;
            break;
        }
    }
    assert!(
        accepted,
        "B accepts the logout token; logs:\n{}",
        replicas.gateways[1].logs()
    );
    let a = replicas.url(0, "/x");
    let took = eventually("A refuses the session", Duration::from_secs(2), || {
        let (a, cookie) = (a.clone(), cookie.clone());
        async move { with_cookie(&a, &cookie).await == 401 }
    })
    .await;
    println!("back-channel logout on B refused on A after {took:?}");
}
