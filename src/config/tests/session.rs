//! `session:` rules: cookie name and security, timeouts, bounds.

use super::*;

#[test]
fn http_public_url_needs_the_insecure_cookie_switch() {
    rejects(
        &[("server.public_url", "http://localhost:8080")],
        "session.insecure_cookie_without_secure",
        "browsers drop Secure cookies on http",
    );
    let config = config_with(&[
        ("server.public_url", "http://localhost:8080"),
        ("session.insecure_cookie_without_secure", "true"),
    ]);
    assert_eq!(config.session.cookie_name, "g2p-session");
}

#[test]
fn host_prefixed_names_need_secure_cookies() {
    rejects(
        &[
            ("session.insecure_cookie_without_secure", "true"),
            ("session.cookie_name", "__Host-portal"),
        ],
        "session.cookie_name",
        "needs the Secure attribute",
    );
}

#[test]
fn cookie_names_are_tokens() {
    rejects(
        &[("session.cookie_name", "g2p session")],
        "session.cookie_name",
        "not a valid cookie name",
    );
    rejects(
        &[("session.cookie_name", "a=b")],
        "session.cookie_name",
        "not a valid cookie name",
    );
    assert_eq!(
        config_with(&[("session.cookie_name", "__Host-x")])
            .session
            .cookie_name,
        "__Host-x"
    );
}

#[test]
fn absolute_timeout_is_at_least_idle_timeout() {
    rejects(
        &[
            ("session.idle_timeout", "2h"),
            ("session.absolute_timeout", "1h"),
        ],
        "session.absolute_timeout",
        "at least session.idle_timeout (2h)",
    );
    rejects(
        &[("session.idle_timeout", "0s")],
        "session.idle_timeout",
        "longer than 0s",
    );
}

#[test]
fn store_bounds_are_at_least_one() {
    rejects(
        &[("session.max_sessions", "0")],
        "session.max_sessions",
        "at least 1",
    );
    rejects(
        &[("session.max_pending_logins", "0")],
        "session.max_pending_logins",
        "at least 1",
    );
    rejects(
        &[("session.max_sessions", "-1")],
        "session.max_sessions",
        "invalid",
    );
}

// === session.store ===

const REDIS: &str =
    "{redis: {url: {env: REDIS_URL}, record_keys: [{file: certs/demo/record.key}]}}";

fn redis_env(name: &str) -> Option<String> {
    match name {
        "REDIS_URL" => Some("rediss://:pw@redis.example.org:6380/0".into()),
        "SENTINELS" => Some("redis://10.0.0.1:26379, redis://10.0.0.2:26379".into()),
        "BAD_URL" => Some("http://redis.example.org".into()),
        _ => None,
    }
}

fn load_store(store: &str) -> Result<Config, ConfigErrors> {
    load_yaml_env(&edited(&[("session.store", store)]), &redis_env)
}

#[test]
fn the_store_defaults_to_memory() {
    assert!(matches!(
        config_with(&[]).start.session.store,
        StoreSettings::Memory
    ));
    assert!(matches!(
        config_with(&[("session.store", "memory")])
            .start
            .session
            .store,
        StoreSettings::Memory
    ));
    rejects(
        &[("session.store", "postgres")],
        "session.store",
        "unknown store \"postgres\"",
    );
}

#[test]
fn a_redis_store_gets_its_defaults() {
    let config = load_store(REDIS).unwrap_or_else(|e| panic!("{e}"));
    let StoreSettings::Redis(redis) = config.start.session.store else {
        panic!("expected redis");
    };
    assert!(matches!(
        &redis.topology,
        RedisTopology::Standalone { url } if url.expose() == "rediss://:pw@redis.example.org:6380/0"
    ));
    assert_eq!(redis.key_prefix, "g2p:");
    assert_eq!(redis.record_keys.len(), 1);
    assert_eq!(redis.record_keys[0].expose().len(), 32);
    assert_eq!(redis.local_cache_ttl, std::time::Duration::from_secs(5));
    assert_eq!(redis.connect_timeout, std::time::Duration::from_secs(2));
    assert_eq!(redis.command_timeout, std::time::Duration::from_secs(1));
}

#[test]
fn redis_needs_exactly_one_topology_and_record_keys() {
    let errors = load_store("{redis: {}}").expect_err("invalid");
    assert_error(&errors, "session.store.redis", "exactly one of url");
    assert_error(
        &errors,
        "session.store.redis.record_keys",
        "required key is missing",
    );
    let errors = load_store(
        "{redis: {url: {env: REDIS_URL}, cluster: {urls: {env: SENTINELS}}, record_keys: [{file: certs/demo/record.key}]}}",
    )
    .expect_err("invalid");
    assert_error(&errors, "session.store.redis", "exactly one of url");
    let errors = load_store(
        "{redis: {url: {env: REDIS_URL}, record_keys: [{file: certs/demo/cookie.key}]}}",
    )
    .expect_err("a 64-byte key");
    assert_error(
        &errors,
        "session.store.redis.record_keys[0]",
        "exactly 32 are required",
    );
    let errors =
        load_store("{redis: {url: {env: REDIS_URL}, record_keys: []}}").expect_err("empty");
    assert_error(
        &errors,
        "session.store.redis.record_keys",
        "at least one key",
    );
}

#[test]
fn redis_urls_are_checked_without_echoing_them() {
    let errors =
        load_store("{redis: {url: {env: BAD_URL}, record_keys: [{file: certs/demo/record.key}]}}")
            .expect_err("not redis");
    assert_error(
        &errors,
        "session.store.redis.url",
        "is not a redis:// or rediss:// URL",
    );
    assert!(
        !errors.to_string().contains("redis.example.org"),
        "{errors}"
    );
    let errors =
        load_store("{redis: {url: {env: NOPE}, record_keys: [{file: certs/demo/record.key}]}}")
            .expect_err("unset");
    assert_error(&errors, "session.store.redis.url.env", "NOPE is not set");
    rejects(
        &[("session.store", "{redis: {url: 'redis://localhost'}}")],
        "session.store.redis.url",
        "never written inline",
    );
    rejects(
        &[("session.store", "{redis: {urll: {env: X}}}")],
        "session.store.redis.urll",
        "did you mean \"url\"?",
    );
}

#[test]
fn sentinel_and_cluster_topologies() {
    let config = load_store(
        "{redis: {sentinel: {master: mymaster, urls: {env: SENTINELS}, tls: true}, record_keys: [{file: certs/demo/record.key}]}}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let StoreSettings::Redis(redis) = config.start.session.store else {
        panic!("expected redis");
    };
    assert!(matches!(
        &redis.topology,
        RedisTopology::Sentinel { master, urls, tls: true, password: None }
            if master == "mymaster" && urls.expose().len() == 2
    ));
    let errors = load_store(
        "{redis: {sentinel: {urls: {env: SENTINELS}}, record_keys: [{file: certs/demo/record.key}]}}",
    )
    .expect_err("no master");
    assert_error(
        &errors,
        "session.store.redis.sentinel.master",
        "required key is missing",
    );
    let errors = load_store(
        "{redis: {cluster: {urls: {env: SENTINELS}}, record_keys: [{file: certs/demo/record.key}]}}",
    )
    .expect_err("no hash tag");
    assert_error(&errors, "session.store.redis.key_prefix", "hash tag");
    load_store(
        "{redis: {cluster: {urls: {env: SENTINELS}}, key_prefix: '{g2p}:', record_keys: [{file: certs/demo/record.key}]}}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn redis_timeouts_and_cache_lifetime_are_bounded() {
    let errors = load_store(
        "{redis: {url: {env: REDIS_URL}, record_keys: [{file: certs/demo/record.key}], local_cache_ttl: 2m, connect_timeout: 0s, command_timeout: 2h, key_prefix: 'a b'}}",
    )
    .expect_err("out of range");
    assert_error(
        &errors,
        "session.store.redis.local_cache_ttl",
        "out of range",
    );
    assert_error(
        &errors,
        "session.store.redis.connect_timeout",
        "out of range",
    );
    assert_error(
        &errors,
        "session.store.redis.command_timeout",
        "out of range",
    );
    assert_error(&errors, "session.store.redis.key_prefix", "whitespace");
}

#[test]
fn a_private_ca_for_rediss_must_be_a_pem_certificate() {
    let config = load_store(
        "{redis: {url: {env: REDIS_URL}, record_keys: [{file: certs/demo/record.key}], tls_ca: {file: certs/demo/tls-ca.crt}}}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let StoreSettings::Redis(redis) = config.start.session.store else {
        panic!("expected redis");
    };
    assert!(redis
        .tls_ca
        .is_some_and(|pem| pem.starts_with(b"-----BEGIN CERTIFICATE-----")));
    let errors = load_store(
        "{redis: {url: {env: REDIS_URL}, record_keys: [{file: certs/demo/record.key}], tls_ca: {file: certs/demo/record.key}}}",
    )
    .expect_err("not a certificate");
    assert_error(
        &errors,
        "session.store.redis.tls_ca",
        "is not a PEM certificate",
    );
}
