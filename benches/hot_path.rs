//! Micro-benchmarks of the per-request hot path (criterion).
//!
//! `cargo bench --bench hot_path`. What runs on every request forwarded on a
//! protected route: open the sealed session cookie, look the session up in
//! the in-memory store, fetch the cached identity assertion, render the plain
//! identity headers; plus the route match over ~50 routes, the identity
//! header check, and minting an assertion (an uncached RSA-2048 signature,
//! paid once per session and audience every half assertion lifetime).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use g2p_gateway::config::{Access, IdentitySettings, MappingSettings, Route, SessionSettings};
use g2p_gateway::decision::routing::RouteTable;
use g2p_gateway::identity::{plain_header_value, AssertionMinter, HeaderStripper};
use g2p_gateway::mapping::map_identity;
use g2p_gateway::session::cookie::CookieCodec;
use g2p_gateway::session::memory::MemoryStore;
use g2p_gateway::session::{Session, SessionId, SessionStore};
use g2p_gateway::shared::secret::Secret;
use serde_json::{json, Value};

/// The gateway binary's allocator (src/main.rs), so the figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn certs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs/demo")
}

fn session_settings() -> SessionSettings {
    SessionSettings {
        cookie_name: "g2p-session".into(),
        cookie_keys: vec![Secret::new(vec![7u8; 64])],
        insecure_cookie_without_secure: true,
        absolute_timeout: Duration::from_secs(8 * 3600),
    }
}

fn identity_settings() -> IdentitySettings {
    let pem = std::fs::read(certs().join("gateway-signing.pem")).expect("demo signing key");
    IdentitySettings {
        header: "X-G2P-Identity".into(),
        issuer: "https://portal.example.org".into(),
        audience: "g2p-portal".into(),
        lifetime: Duration::from_secs(60),
        signing_keys: vec![Secret::new(pem)],
        strip_prefix: "X-G2P-".into(),
        headers: BTreeMap::from([
            ("X-G2P-User-Id".to_string(), "user_id".to_string()),
            ("X-G2P-Reg-Id".to_string(), "registrant_id".to_string()),
            (
                "X-G2P-Reg-Id-Type".to_string(),
                "registrant_id_type".to_string(),
            ),
        ]),
    }
}

/// The demo identity as a real e-Signet login maps it.
fn session() -> Session {
    let pairs = |s: &[(&str, &str)]| {
        s.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let mapping = MappingSettings {
        token_map: pairs(&[("sub", "user_id")]),
        userinfo_map: pairs(&[
            ("name", "name"),
            ("email", "email"),
            ("phone_number", "phone"),
            ("birthdate", "birthdate"),
            ("gender", "gender"),
            ("address", "address"),
        ]),
        registrant_id_type: "MOSIP PSUT".into(),
        default_group: "portal".into(),
        login_attribute: "email".into(),
        birthdate_format: Default::default(),
    };
    let sub = "kZ1v2c3b4n5m6l7k8j9h0g1f2d3s4a5q6w7e8r9t0y1";
    let id_token = json!({"sub": sub, "acr": "mosip:idp:acr:generated-code"});
    let userinfo = json!({
        "sub": sub, "name": "Siddharth K Mansour", "email": "siddharth@example.org",
        "phone_number": "+919427357934", "birthdate": "1987/11/25", "gender": "Male",
        "address": {"street_address": "#991, 5th Main", "locality": "Cmattey",
                    "region": "Kénitra", "postal_code": "45009", "country": "Morocco"},
    });
    let map = |v: Value| v.as_object().cloned().unwrap_or_default();
    let identity = map_identity(&mapping, &map(id_token), &map(userinfo), &["en".into()])
        .expect("identity maps");
    let now = g2p_gateway::shared::clock::now_secs();
    Session {
        identity,
        sub: sub.into(),
        acr: "mosip:idp:acr:generated-code".into(),
        auth_time: now,
        sid: None,
        created_at: now,
        expires_at: now + 8 * 3600,
        id_token: None,
    }
}

fn routes(n: usize) -> Vec<Route> {
    let route = |index: usize, path: String, access: Access| Route {
        index,
        name: format!("route{index}"),
        host: None,
        path_prefix: path,
        upstream: "portal".into(),
        access,
        audience: None,
        policy: None,
        step_up_acr_values: None,
    };
    let mut all: Vec<Route> = (0..n - 1)
        .map(|i| {
            let access = if i % 3 == 0 {
                Access::Public
            } else {
                Access::Login
            };
            route(i, format!("/api/v{}/service{i}", i % 4), access)
        })
        .collect();
    all.push(route(n - 1, "/".into(), Access::Login));
    all
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let codec = CookieCodec::new(&session_settings(), 600).expect("codec");
    let store = MemoryStore::new(
        100_000,
        Duration::from_secs(1800),
        10_000,
        Duration::from_secs(600),
    );
    let minter = AssertionMinter::new(&identity_settings(), [], 100_000).expect("minter");
    let user = session();
    let id = SessionId::random();
    rt.block_on(store.insert_session(&id, user.clone()))
        .expect("insert");
    // Other sessions around it, as on a busy gateway.
    for _ in 0..10_000 {
        rt.block_on(store.insert_session(&SessionId::random(), user.clone()))
            .expect("insert");
    }
    let set_cookie = codec.set_session(&id);
    let sealed = set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("cookie value");
    let cookie_header = format!("_ga=GA1.2.3.4; lang=en; g2p-session={sealed}");
    let header_keys = ["user_id", "registrant_id", "registrant_id_type"];

    c.bench_function("cookie_open (CookieCodec::session_id)", |b| {
        b.iter(|| codec.session_id(std::iter::once(black_box(cookie_header.as_str()))))
    });
    c.bench_function("store_lookup (MemoryStore::session, 10k sessions)", |b| {
        b.to_async(&rt)
            .iter(|| async { store.session(black_box(&id)).await.expect("lookup") })
    });
    let arc_user = rt
        .block_on(store.session(&id))
        .expect("lookup")
        .expect("found");
    minter
        .identity(&id, &arc_user, "g2p-portal")
        .expect("first mint");
    c.bench_function("identity_cached (AssertionMinter::identity)", |b| {
        b.iter(|| minter.identity(black_box(&id), &arc_user, black_box("g2p-portal")))
    });
    c.bench_function(
        "plain_headers (3 x plain_header_value, at mint time)",
        |b| {
            b.iter(|| {
                header_keys
                    .iter()
                    .filter_map(|k| plain_header_value(&arc_user, k))
                    .map(|v| v.len())
                    .sum::<usize>()
            })
        },
    );
    c.bench_function(
        "cookie_to_identity_headers (cookie, session, cached identity headers)",
        |b| {
            b.to_async(&rt).iter(|| async {
                let id = codec
                    .session_id(std::iter::once(black_box(cookie_header.as_str())))
                    .expect("opens");
                let user = store.session(&id).await.expect("lookup").expect("found");
                let (identity, _) = minter.identity(&id, &user, "g2p-portal").expect("token");
                identity.headers.to_vec()
            })
        },
    );

    let table = RouteTable::new(&routes(50));
    c.bench_function("route_find (50 routes, catch-all hit)", |b| {
        b.iter(|| {
            table
                .find(
                    black_box(Some("portal.example.org")),
                    black_box("/portal/home"),
                )
                .map(|r| r.index)
        })
    });
    c.bench_function("route_find (50 routes, specific hit)", |b| {
        b.iter(|| {
            table
                .find(
                    black_box(Some("portal.example.org")),
                    black_box("/api/v1/service37/items/42"),
                )
                .map(|r| r.index)
        })
    });

    let stripper = HeaderStripper::new(&identity_settings());
    let names = [
        "host",
        "user-agent",
        "accept",
        "accept-language",
        "accept-encoding",
        "cookie",
        "referer",
        "sec-fetch-mode",
        "x-requested-with",
        "x-g2p-reg-id",
    ];
    c.bench_function("identity_header_check (10 request headers)", |b| {
        b.iter(|| {
            names
                .iter()
                .filter(|n| stripper.is_identity_header(black_box(n)))
                .count()
        })
    });

    c.bench_function("assertion_mint (uncached RS256 sign)", |b| {
        b.iter(|| {
            minter
                .mint(black_box(&arc_user), "g2p-portal")
                .expect("mint")
        })
    });

    let mut es256 = identity_settings();
    let ec = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/keys/ec-p256.pem"),
    )
    .expect("EC P-256 test key");
    es256.signing_keys = vec![Secret::new(ec)];
    let es256 = AssertionMinter::new(&es256, [], 100_000).expect("ES256 minter");
    c.bench_function("assertion_mint_es256 (uncached ES256 sign)", |b| {
        b.iter(|| {
            es256
                .mint(black_box(&arc_user), "g2p-portal")
                .expect("mint")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = hot_path
}
criterion_main!(benches);
