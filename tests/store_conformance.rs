//! One conformance suite for every `SessionStore`: the in-memory store and
//! the Redis store (against a real `redis-server`) run the same cases through
//! the trait. Plus what only the Redis store has: sealing, rotation, sharing
//! between two stores (replicas), and outages.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis::{RedisCluster, RedisSentinel, RedisServer, RedisTls};
use common::wait::eventually;
use g2p_gateway::config::{RedisSettings, RedisTopology, StoreBounds, StoreSettings};
use g2p_gateway::mapping::{Claims, MappedIdentity, RegistrantId};
use g2p_gateway::session::memory::MemoryStore;
use g2p_gateway::session::redis::RedisStore;
use g2p_gateway::session::{PendingLogin, Session, SessionId, SessionStore};
use g2p_gateway::shared::clock::now_secs;
use g2p_gateway::shared::metrics::Metrics;
use g2p_gateway::shared::secret::Secret;

/// Timeouts and bounds of a store under test.
#[derive(Clone, Copy)]
struct Limits {
    idle: Duration,
    max_pending: u64,
    login_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle: Duration::from_secs(30),
            max_pending: 100,
            login_timeout: Duration::from_secs(30),
        }
    }
}

fn store_bounds(limits: Limits) -> StoreBounds {
    StoreBounds {
        store: StoreSettings::Memory,
        max_sessions: 1000,
        max_pending_logins: limits.max_pending,
        idle_timeout: limits.idle,
    }
}

fn redis_settings(server: &RedisServer, prefix: &str, keys: &[[u8; 32]]) -> RedisSettings {
    RedisSettings {
        topology: RedisTopology::Standalone {
            url: Secret::new(server.url()),
        },
        key_prefix: prefix.into(),
        record_keys: keys.iter().map(|k| Secret::new(k.to_vec())).collect(),
        local_cache_ttl: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(500),
        tls_ca: None,
    }
}

/// A Redis store with its invalidation listener running (stopped on drop of the sender).
struct Listening {
    store: Arc<RedisStore>,
    _stop: tokio::sync::watch::Sender<bool>,
}

fn redis_store_with(settings: &RedisSettings, limits: Limits) -> Listening {
    let store = Arc::new(
        RedisStore::new(
            settings,
            &store_bounds(limits),
            limits.login_timeout,
            Arc::new(Metrics::new()),
        )
        .expect("redis store"),
    );
    let (stop, mut shutdown) = tokio::sync::watch::channel(false);
    let listener = store.clone();
    tokio::spawn(async move { listener.listen(&mut shutdown).await });
    Listening { store, _stop: stop }
}

/// A store under test and whatever must live as long as it.
struct Subject {
    store: Arc<dyn SessionStore>,
    _redis: Option<(RedisServer, Listening)>,
}

fn memory(limits: Limits) -> Subject {
    Subject {
        store: Arc::new(MemoryStore::new(
            1000,
            limits.idle,
            limits.max_pending,
            limits.login_timeout,
        )),
        _redis: None,
    }
}

fn redis(limits: Limits) -> Subject {
    let server = RedisServer::start();
    let listening = redis_store_with(&redis_settings(&server, "t:", &[[3; 32]]), limits);
    Subject {
        store: listening.store.clone(),
        _redis: Some((server, listening)),
    }
}

fn session(sub: &str, sid: Option<&str>, lifetime: Duration) -> Session {
    let now = now_secs();
    Session {
        identity: MappedIdentity {
            user_id: sub.into(),
            registrant_id: RegistrantId {
                id_type: "MOSIP PSUT".into(),
                value: sub.into(),
            },
            login: format!("{sub}@example.org"),
            groups: vec!["portal".into()],
            claims: Claims::from_map(serde_json::Map::from_iter([(
                "name".to_string(),
                serde_json::Value::String("Siddharth K Mansour".into()),
            )])),
            extra_registrant_ids: Vec::new(),
            verified: Default::default(),
        },
        sub: sub.into(),
        acr: "mosip:idp:acr:generated-code".into(),
        auth_time: now,
        sid: sid.map(Into::into),
        created_at: now,
        expires_at: now + lifetime.as_secs(),
        id_token: Some("eyJ.id.token".into()),
    }
}

fn pending(n: u32) -> PendingLogin {
    PendingLogin {
        code_verifier: format!("verifier-{n}"),
        nonce: format!("nonce-{n}"),
        return_to: format!("/page/{n}"),
        browser_binding: "binding".into(),
        acr_values: vec!["mosip:idp:acr:generated-code".into()],
        created_at: now_secs(),
        ..pending_defaults()
    }
}

/// Fields other issues add to `PendingLogin`, at their defaults.
fn pending_defaults() -> PendingLogin {
    serde_json::from_value(serde_json::json!({
        "code_verifier": "", "nonce": "", "return_to": "/", "browser_binding": "",
        "acr_values": [], "created_at": 0
    }))
    .expect("PendingLogin deserializes with defaults")
}

const LIMIT: Duration = Duration::from_secs(10);

// === The cases, run against every store ===

async fn insert_get_remove(s: Subject) {
    let store = &s.store;
    let id = SessionId::random();
    assert!(store.session(&id).await.unwrap().is_none());
    store
        .insert_session(&id, session("psut-1", None, Duration::from_secs(60)))
        .await
        .unwrap();
    let got = store.session(&id).await.unwrap().expect("stored");
    assert_eq!(&*got.sub, "psut-1");
    assert_eq!(
        got.identity.claims.get("name").unwrap(),
        "Siddharth K Mansour"
    );
    assert!(store.session(&SessionId::random()).await.unwrap().is_none());
    store.remove_session(&id).await.unwrap();
    assert!(store.session(&id).await.unwrap().is_none());
    store.remove_session(&id).await.unwrap();
    assert!(store.health().await.is_ok());
}

async fn idle_expiry(s: Subject) {
    let store = &s.store;
    let id = SessionId::random();
    store
        .insert_session(&id, session("psut-1", None, Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(store.session(&id).await.unwrap().is_some());
    // Reading refreshes the idle timer, so wait on the size (which does not).
    let took = eventually("the idle session expires", LIMIT, || async {
        store.sizes().await.0 == 0
    })
    .await;
    assert!(
        took >= Duration::from_millis(400),
        "expired too early: {took:?}"
    );
    assert!(store.session(&id).await.unwrap().is_none());
}

async fn absolute_expiry(s: Subject) {
    let store = &s.store;
    let id = SessionId::random();
    store
        .insert_session(&id, session("psut-1", None, Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(store.session(&id).await.unwrap().is_some());
    // Activity does not extend a session past its absolute end.
    eventually("the session reaches its absolute end", LIMIT, || async {
        store.session(&id).await.unwrap().is_none()
    })
    .await;
}

async fn pending_is_taken_once(s: Subject) {
    let store = &s.store;
    assert!(store.insert_pending("state-a", pending(1)).await.unwrap());
    assert!(store.take_pending("state-b").await.unwrap().is_none());
    let taken = store.take_pending("state-a").await.unwrap().expect("once");
    assert_eq!(taken.return_to, "/page/1");
    assert_eq!(taken.code_verifier, "verifier-1");
    assert!(store.take_pending("state-a").await.unwrap().is_none());

    assert!(store
        .insert_pending("state-race", pending(2))
        .await
        .unwrap());
    let racers: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_pending("state-race").await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap().is_some());
    }
    assert_eq!(winners, 1, "exactly one of 20 concurrent takes wins");
}

async fn pending_is_bounded(s: Subject) {
    let store = &s.store;
    for n in 0..3 {
        assert!(store
            .insert_pending(&format!("s{n}"), pending(n))
            .await
            .unwrap());
    }
    // The memory store counts lazily (moka); a scrape (`sizes`) syncs it.
    store.sizes().await;
    assert!(
        !store.insert_pending("s3", pending(3)).await.unwrap(),
        "full"
    );
    store.take_pending("s0").await.unwrap().expect("taken");
    assert!(store.insert_pending("s3", pending(3)).await.unwrap());
}

async fn pending_expires(s: Subject) {
    let store = &s.store;
    assert!(store.insert_pending("soon", pending(1)).await.unwrap());
    eventually("the pending login expires", LIMIT, || async {
        store.sizes().await.1 == 0
    })
    .await;
    assert!(store.take_pending("soon").await.unwrap().is_none());
}

async fn subject_and_sid_removal(s: Subject) {
    let store = &s.store;
    let life = Duration::from_secs(60);
    let (a1, a2, b) = (
        SessionId::random(),
        SessionId::random(),
        SessionId::random(),
    );
    store
        .insert_session(&a1, session("alice", Some("sid-x"), life))
        .await
        .unwrap();
    store
        .insert_session(&a2, session("alice", None, life))
        .await
        .unwrap();
    store
        .insert_session(&b, session("bob", Some("sid-y"), life))
        .await
        .unwrap();
    for id in [&a1, &a2, &b] {
        assert!(store.session(id).await.unwrap().is_some());
    }
    assert_eq!(store.remove_sessions_of_sid("sid-x").await.unwrap(), 1);
    assert!(store.session(&a1).await.unwrap().is_none());
    assert!(store.session(&a2).await.unwrap().is_some());
    assert_eq!(store.remove_sessions_of_subject("alice").await.unwrap(), 1);
    assert!(store.session(&a2).await.unwrap().is_none());
    assert!(
        store.session(&b).await.unwrap().is_some(),
        "bob is untouched"
    );
    assert_eq!(store.remove_sessions_of_subject("nobody").await.unwrap(), 0);
    assert_eq!(store.remove_sessions_of_sid("sid-none").await.unwrap(), 0);
}

/// A later, shorter-lived session of the same person does not shorten the
/// logout indexes under earlier, longer ones: back-channel logout still
/// finds those after the short one has ended.
async fn logout_indexes_outlive_every_session(s: Subject) {
    let store = &s.store;
    let long = Duration::from_secs(60);
    let (by_sid, by_sub, short) = (
        SessionId::random(),
        SessionId::random(),
        SessionId::random(),
    );
    for (id, sid, life) in [
        (&by_sid, Some("sid-c"), long),
        (&by_sub, None, long),
        (&short, Some("sid-c"), Duration::from_secs(2)),
    ] {
        store
            .insert_session(id, session("carol", sid, life))
            .await
            .unwrap();
    }
    // Someone else's session, a second longer than the short one: once it
    // has ended, anything that lived only as long as the short one has too.
    let later = SessionId::random();
    store
        .insert_session(&later, session("dave", None, Duration::from_secs(3)))
        .await
        .unwrap();
    eventually("a session outliving the short one ends", LIMIT, || async {
        store.session(&later).await.unwrap().is_none()
    })
    .await;
    assert!(store.session(&short).await.unwrap().is_none());
    // The counts may include the ended session still listed; what matters
    // is that the live ones are found and ended.
    assert!(store.remove_sessions_of_sid("sid-c").await.unwrap() >= 1);
    assert!(store.session(&by_sid).await.unwrap().is_none());
    assert!(store.session(&by_sub).await.unwrap().is_some());
    assert!(store.remove_sessions_of_subject("carol").await.unwrap() >= 1);
    assert!(store.session(&by_sub).await.unwrap().is_none());
}

async fn logout_jti_replay(s: Subject) {
    let store = &s.store;
    let ttl = Duration::from_millis(800);
    assert!(store.remember_logout_jti("jti-1", ttl).await.unwrap());
    assert!(
        !store.remember_logout_jti("jti-1", ttl).await.unwrap(),
        "replay"
    );
    assert!(store.remember_logout_jti("jti-2", ttl).await.unwrap());
    eventually("the jti is forgotten after its lifetime", LIMIT, || async {
        // Only a forgotten jti is accepted again, so this insert is the probe.
        store.remember_logout_jti("jti-1", ttl).await.unwrap()
    })
    .await;
}

async fn sizes(s: Subject) {
    let store = &s.store;
    assert_eq!(store.sizes().await, (0, 0));
    let life = Duration::from_secs(60);
    store
        .insert_session(&SessionId::random(), session("a", None, life))
        .await
        .unwrap();
    let b = SessionId::random();
    store
        .insert_session(&b, session("b", None, life))
        .await
        .unwrap();
    store.insert_pending("p", pending(1)).await.unwrap();
    assert_eq!(store.sizes().await, (2, 1));
    store.remove_session(&b).await.unwrap();
    store.take_pending("p").await.unwrap();
    assert_eq!(store.sizes().await, (1, 0));
}

macro_rules! conformance {
    ($kind:ident) => {
        mod $kind {
            use super::*;

            #[tokio::test]
            async fn insert_get_remove() {
                super::insert_get_remove(super::$kind(Limits::default())).await;
            }

            #[tokio::test]
            async fn idle_expiry() {
                let limits = Limits {
                    idle: Duration::from_secs(1),
                    ..Limits::default()
                };
                super::idle_expiry(super::$kind(limits)).await;
            }

            #[tokio::test]
            async fn absolute_expiry() {
                super::absolute_expiry(super::$kind(Limits::default())).await;
            }

            #[tokio::test]
            async fn pending_is_taken_once_even_concurrently() {
                super::pending_is_taken_once(super::$kind(Limits::default())).await;
            }

            #[tokio::test]
            async fn pending_is_bounded() {
                let limits = Limits {
                    max_pending: 3,
                    ..Limits::default()
                };
                super::pending_is_bounded(super::$kind(limits)).await;
            }

            #[tokio::test]
            async fn pending_expires() {
                let limits = Limits {
                    login_timeout: Duration::from_secs(1),
                    ..Limits::default()
                };
                super::pending_expires(super::$kind(limits)).await;
            }

            #[tokio::test]
            async fn subject_and_sid_removal() {
                super::subject_and_sid_removal(super::$kind(Limits::default())).await;
            }

            #[tokio::test]
            async fn logout_indexes_outlive_every_session() {
                super::logout_indexes_outlive_every_session(super::$kind(Limits::default())).await;
            }

            #[tokio::test]
            async fn logout_jti_replay() {
                super::logout_jti_replay(super::$kind(Limits::default())).await;
            }

            #[tokio::test]
            async fn sizes() {
                super::sizes(super::$kind(Limits::default())).await;
            }
        }
    };
}

conformance!(memory);
conformance!(redis);

// === Redis only ===

/// Every key and value in Redis, as raw bytes.
fn dump(server: &RedisServer) -> Vec<(String, Vec<u8>)> {
    let mut conn = server.connection();
    let keys: Vec<String> = ::redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.into_iter()
        .map(|key| {
            let kind: String = ::redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
            let value: Vec<u8> = match kind.as_str() {
                "string" => ::redis::cmd("GET").arg(&key).query(&mut conn).unwrap(),
                "set" => {
                    let members: Vec<Vec<u8>> =
                        ::redis::cmd("SMEMBERS").arg(&key).query(&mut conn).unwrap();
                    members.concat()
                }
                "zset" => {
                    let members: Vec<Vec<u8>> = ::redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query(&mut conn)
                        .unwrap();
                    members.concat()
                }
                other => panic!("unexpected type {other} at {key}"),
            };
            (key, value)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn redis_holds_neither_ids_nor_personal_data_in_clear() {
    let server = RedisServer::start();
    let replica = redis_store_with(
        &redis_settings(&server, "g2p:", &[[3; 32]]),
        Limits::default(),
    );
    let id = SessionId::random();
    replica
        .store
        .insert_session(
            &id,
            session(
                "psut-secret-4711",
                Some("sid-secret"),
                Duration::from_secs(60),
            ),
        )
        .await
        .unwrap();
    replica
        .store
        .insert_pending("state-secret-0815", pending(1))
        .await
        .unwrap();
    replica
        .store
        .remember_logout_jti("jti-secret", Duration::from_secs(60))
        .await
        .unwrap();
    let everything = dump(&server);
    assert!(
        everything.len() >= 6,
        "{:?}",
        everything.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for (key, value) in &everything {
        assert!(key.starts_with("g2p:"), "{key}");
        for secret in [
            id.as_str(),
            "psut-secret-4711",
            "sid-secret",
            "state-secret-0815",
            "jti-secret",
            "Siddharth",
            "@example.org",
            "eyJ",
            "verifier-1",
        ] {
            assert!(!key.contains(secret), "key {key} reveals {secret}");
            assert!(!contains(value, secret), "value of {key} reveals {secret}");
        }
    }
}

#[tokio::test]
async fn records_open_after_key_rotation_and_not_without_the_key() {
    let server = RedisServer::start();
    let old = redis_store_with(
        &redis_settings(&server, "g2p:", &[[1; 32]]),
        Limits::default(),
    );
    let id = SessionId::random();
    old.store
        .insert_session(&id, session("psut", None, Duration::from_secs(60)))
        .await
        .unwrap();
    let rotated = redis_store_with(
        &redis_settings(&server, "g2p:", &[[2; 32], [1; 32]]),
        Limits::default(),
    );
    assert!(
        rotated.store.session(&id).await.unwrap().is_some(),
        "old key still opens"
    );
    let stranger = redis_store_with(
        &redis_settings(&server, "g2p:", &[[9; 32]]),
        Limits::default(),
    );
    assert!(
        stranger.store.session(&id).await.unwrap().is_none(),
        "a record sealed under an unknown key reads as no session"
    );
    // A record moved under another session's key does not open either.
    let other = SessionId::random();
    old.store
        .insert_session(&other, session("mallory", None, Duration::from_secs(60)))
        .await
        .unwrap();
    let mut conn = server.connection();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("g2p:s:*")
        .query(&mut conn)
        .unwrap();
    let record: Vec<u8> = ::redis::cmd("GET").arg(&keys[0]).query(&mut conn).unwrap();
    let _: () = ::redis::cmd("SET")
        .arg(&keys[1])
        .arg(record)
        .query(&mut conn)
        .unwrap();
    let fresh = redis_store_with(
        &redis_settings(&server, "g2p:", &[[1; 32]]),
        Limits::default(),
    );
    let opened = [
        fresh.store.session(&id).await.unwrap().is_some(),
        fresh.store.session(&other).await.unwrap().is_some(),
    ];
    assert_eq!(
        opened.iter().filter(|o| **o).count(),
        1,
        "the moved record does not open"
    );
}

#[tokio::test]
async fn a_logout_on_one_replica_reaches_the_others_cache() {
    let server = RedisServer::start();
    let mut settings = redis_settings(&server, "g2p:", &[[3; 32]]);
    settings.local_cache_ttl = Duration::from_secs(20);
    let limits = Limits::default();
    let a = redis_store_with(&settings, limits);
    let b = redis_store_with(&settings, limits);
    let id = SessionId::random();
    // Wait until both listeners are subscribed (two subscribers on the channel).
    eventually("both replicas subscribe", LIMIT, || async {
        let mut conn = server.connection();
        let counts: Vec<(String, u64)> = ::redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("g2p:invalidate")
            .query(&mut conn)
            .unwrap();
        counts.first().is_some_and(|(_, n)| *n >= 2)
    })
    .await;
    a.store
        .insert_session(&id, session("psut", None, Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(b.store.session(&id).await.unwrap().is_some(), "B caches it");
    a.store.remove_session(&id).await.unwrap();
    let took = eventually(
        "B drops its cached copy",
        Duration::from_secs(2),
        || async { b.store.session(&id).await.unwrap().is_none() },
    )
    .await;
    println!("logout propagated to the other replica's cache in {took:?}");
}

#[tokio::test]
async fn an_outage_fails_closed_and_recovers_without_losing_sessions() {
    let mut server = RedisServer::start();
    let store = redis_store_with(
        &redis_settings(&server, "g2p:", &[[3; 32]]),
        Limits::default(),
    )
    .store;
    let id = SessionId::random();
    store
        .insert_session(&id, session("psut", None, Duration::from_secs(60)))
        .await
        .unwrap();
    server.stop();
    assert!(store.health().await.is_err());
    assert!(
        store.session(&SessionId::random()).await.is_err(),
        "unknown sessions fail"
    );
    assert!(store.insert_pending("s", pending(1)).await.is_err());
    assert!(store.take_pending("s").await.is_err());
    server.restart();
    eventually("the store reconnects by itself", LIMIT, || async {
        store.health().await.is_ok()
    })
    .await;
    assert!(store.session(&id).await.unwrap().is_some(), "nothing lost");
}

// === Sentinel and Cluster ===

/// Two replicas sharing one topology: what a login, a race and a logout need.
async fn two_replicas_share_sessions(settings: RedisSettings) {
    let limits = Limits::default();
    let mut settings = settings;
    settings.local_cache_ttl = Duration::from_secs(20);
    let a = redis_store_with(&settings, limits);
    let b = redis_store_with(&settings, limits);
    eventually("both replicas listen", LIMIT, || async {
        a.store.is_listening() && b.store.is_listening()
    })
    .await;
    assert!(a.store.health().await.is_ok());

    let id = SessionId::random();
    let life = Duration::from_secs(60);
    a.store
        .insert_session(&id, session("psut", Some("sid-1"), life))
        .await
        .unwrap();
    assert!(
        b.store.session(&id).await.unwrap().is_some(),
        "B reads A's session"
    );
    a.store.remove_sessions_of_sid("sid-1").await.unwrap();
    eventually(
        "B drops its cached copy",
        Duration::from_secs(2),
        || async { b.store.session(&id).await.unwrap().is_none() },
    )
    .await;

    assert!(a.store.insert_pending("race", pending(1)).await.unwrap());
    let (x, y) = tokio::join!(a.store.take_pending("race"), b.store.take_pending("race"));
    assert_eq!(
        usize::from(x.unwrap().is_some()) + usize::from(y.unwrap().is_some()),
        1
    );
    assert!(b.store.remember_logout_jti("j", life).await.unwrap());
    assert!(!a.store.remember_logout_jti("j", life).await.unwrap());
    let other = SessionId::random();
    b.store
        .insert_session(&other, session("someone", None, life))
        .await
        .unwrap();
    assert_eq!(a.store.sizes().await, (1, 0));
}

#[tokio::test]
async fn a_sentinel_managed_master_with_a_password() {
    let sentinel = RedisSentinel::start("sentinel-master-pw");
    let settings = RedisSettings {
        topology: RedisTopology::Sentinel {
            master: "mymaster".into(),
            urls: Secret::new(vec![format!("redis://127.0.0.1:{}", sentinel.port)]),
            password: Some(Secret::new("sentinel-master-pw".into())),
            tls: false,
        },
        ..redis_settings(&sentinel.master, "g2p:", &[[3; 32]])
    };
    two_replicas_share_sessions(settings).await;
}

#[tokio::test]
async fn a_redis_cluster() {
    let cluster = RedisCluster::start();
    let settings = RedisSettings {
        topology: RedisTopology::Cluster {
            urls: Secret::new(cluster.urls()),
        },
        key_prefix: "{g2p}:".into(),
        record_keys: vec![Secret::new(vec![3; 32])],
        local_cache_ttl: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(500),
        tls_ca: None,
    };
    two_replicas_share_sessions(settings).await;
}

#[tokio::test]
async fn tls_with_a_password_and_a_private_ca() {
    // The gateway's `main` picks the process's TLS provider; a test does it here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = RedisTls::start("tls-redis-pw");
    let settings = RedisSettings {
        topology: RedisTopology::Standalone {
            url: Secret::new(server.url()),
        },
        key_prefix: "g2p:".into(),
        record_keys: vec![Secret::new(vec![3; 32])],
        local_cache_ttl: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(500),
        tls_ca: Some(server.ca_pem.clone()),
    };
    // Without the CA, the server's certificate is not trusted: nothing works.
    let untrusted = redis_store_with(
        &RedisSettings {
            tls_ca: None,
            ..settings.clone()
        },
        Limits::default(),
    );
    assert!(untrusted.store.health().await.is_err());
    assert!(untrusted.store.session(&SessionId::random()).await.is_err());
    // Nor without the password.
    let anonymous = redis_store_with(
        &RedisSettings {
            topology: RedisTopology::Standalone {
                url: Secret::new(format!("rediss://127.0.0.1:{}", server.port)),
            },
            ..settings.clone()
        },
        Limits::default(),
    );
    assert!(anonymous
        .store
        .insert_pending("s", pending(1))
        .await
        .is_err());
    two_replicas_share_sessions(settings).await;
}
