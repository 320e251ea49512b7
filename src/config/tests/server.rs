//! `server:` and `logging:` rules.

use super::*;

#[test]
fn listen_must_be_ip_and_port() {
    rejects(
        &[("server.listen", "localhost:8080")],
        "server.listen",
        "expected IP:PORT",
    );
}

#[test]
fn admin_listen_must_differ_from_listen() {
    rejects(
        &[
            ("server.listen", "127.0.0.1:9000"),
            ("server.admin_listen", "0.0.0.0:9000"),
        ],
        "server.admin_listen",
        "collides with server.listen",
    );
}

#[test]
fn both_listeners_may_use_port_zero() {
    let config = config_with(&[
        ("server.listen", "127.0.0.1:0"),
        ("server.admin_listen", "127.0.0.1:0"),
    ]);
    assert_eq!(config.start.server.listen.port(), 0);
}

#[test]
fn public_url_is_required() {
    rejects(
        &[("server.public_url", REMOVE)],
        "server.public_url",
        "required key is missing",
    );
}

#[test]
fn public_url_must_be_http_or_https() {
    rejects(
        &[("server.public_url", "ftp://portal.example.org")],
        "server.public_url",
        "http:// or https://",
    );
}

#[test]
fn public_url_must_be_an_origin() {
    rejects(
        &[("server.public_url", "https://portal.example.org/app")],
        "server.public_url",
        "without a path",
    );
    rejects(
        &[("server.public_url", "https://portal.example.org/?a=1")],
        "server.public_url",
        "query",
    );
    rejects(
        &[("server.public_url", "https://u:p@portal.example.org")],
        "server.public_url",
        "user name",
    );
}

#[test]
fn public_url_may_end_with_a_slash() {
    let config = config_with(&[("server.public_url", "https://portal.example.org:8443/")]);
    assert_eq!(
        config.server.public_url.as_str(),
        "https://portal.example.org:8443/"
    );
    assert_eq!(config.identity.issuer, "https://portal.example.org:8443");
}

#[test]
fn prefix_must_be_a_clean_absolute_path() {
    rejects(
        &[("server.prefix", "_gateway")],
        "server.prefix",
        "must start with",
    );
    rejects(
        &[("server.prefix", "/")],
        "server.prefix",
        "must not be \"/\"",
    );
    rejects(
        &[("server.prefix", "/_gateway/")],
        "server.prefix",
        "must not end with",
    );
    rejects(&[("server.prefix", "/a b")], "server.prefix", "segment");
    rejects(&[("server.prefix", "/a//b")], "server.prefix", "segment");
    assert_eq!(
        config_with(&[("server.prefix", "/auth/v1")]).server.prefix,
        "/auth/v1"
    );
}

#[test]
fn threads_must_be_between_1_and_256() {
    rejects(
        &[("server.threads", "0")],
        "server.threads",
        "allowed: 1 to 256",
    );
    rejects(
        &[("server.threads", "257")],
        "server.threads",
        "allowed: 1 to 256",
    );
}

#[test]
fn durations_are_humantime_strings() {
    rejects(
        &[("server.grace_period", "10 parsecs")],
        "server.grace_period",
        "\"30s\"",
    );
    let config = config_with(&[("server.grace_period", "1m 30s")]);
    assert_eq!(config.start.server.grace_period.as_secs(), 90);
}

#[test]
fn logging_format_is_text_or_json() {
    rejects(
        &[("logging.format", "jsno")],
        "logging.format",
        "did you mean \"json\"?",
    );
    assert_eq!(
        config_with(&[("logging.format", "json")])
            .start
            .logging
            .format,
        LogFormat::Json
    );
}

#[test]
fn logging_level_must_not_be_blank() {
    rejects(
        &[("logging.level", "' '")],
        "logging.level",
        "must not be empty",
    );
}

#[test]
fn booleans_must_be_booleans() {
    rejects(
        &[("server.trust_forwarded_headers", "maybe")],
        "server.trust_forwarded_headers",
        "expected a boolean",
    );
}

#[test]
fn tls_needs_a_readable_certificate_and_key() {
    rejects(
        &[("server.tls", "{cert: certs/demo/tls.crt}")],
        "server.tls.key",
        "required key is missing",
    );
    rejects(
        &[(
            "server.tls",
            "{cert: certs/demo/missing.crt, key: certs/demo/tls.key}",
        )],
        "server.tls.cert",
        "cannot read",
    );
    rejects(
        &[(
            "server.tls",
            "{cert: certs/demo/client.pem, key: certs/demo/tls.key}",
        )],
        "server.tls.cert",
        "is not a PEM certificate",
    );
    rejects(
        &[(
            "server.tls",
            "{cert: certs/demo/tls.crt, key: certs/demo/tls.crt}",
        )],
        "server.tls.key",
        "is not a PEM private key",
    );
    rejects(
        &[(
            "server.tls",
            "{cert: certs/demo/tls.crt, key: certs/demo/tls.key, ca: x}",
        )],
        "server.tls.ca",
        "unknown",
    );
}

#[test]
fn tls_files_resolve_against_the_config_directory() {
    let config = config_with(&[(
        "server.tls",
        "{cert: certs/demo/tls.crt, key: certs/demo/tls.key}",
    )]);
    let tls = config.start.server.tls.expect("tls is on");
    assert!(tls.cert.is_absolute() && tls.cert.ends_with("certs/demo/tls.crt"));
    assert!(tls.key.ends_with("certs/demo/tls.key"));
    assert!(config_with(&[]).start.server.tls.is_none());
}

#[test]
fn watch_config_is_off_by_default() {
    assert!(!config_with(&[]).start.server.watch_config);
    assert!(
        config_with(&[("server.watch_config", "true")])
            .start
            .server
            .watch_config
    );
    rejects(
        &[("server.watch_config", "sometimes")],
        "server.watch_config",
        "expected a boolean",
    );
}

#[test]
fn trust_forwarded_headers_true_points_to_trusted_proxies() {
    rejects(
        &[("server.trust_forwarded_headers", "true")],
        "server.trust_forwarded_headers",
        "replaced by server.trusted_proxies",
    );
    let config = config_with(&[("server.trust_forwarded_headers", "false")]);
    assert!(config.server.trusted_proxies.is_empty());
}

#[test]
fn trusted_proxies_are_networks_and_never_everyone() {
    let config = config_with(&[(
        "server.trusted_proxies",
        "[10.42.0.0/16, 192.0.2.7, 'fd00::/8']",
    )]);
    let trusted = |ip: &str| config.server.is_trusted_proxy(ip.parse().unwrap());
    assert!(trusted("10.42.3.4") && trusted("192.0.2.7") && trusted("fd00::1"));
    assert!(!trusted("10.43.0.1") && !trusted("192.0.2.8"));
    rejects(
        &[("server.trusted_proxies", "[0.0.0.0/0]")],
        "server.trusted_proxies[0]",
        "trusts every address",
    );
    rejects(
        &[("server.trusted_proxies", "[10.0.0.0/8, ingress]")],
        "server.trusted_proxies[1]",
        "is not an IP network",
    );
}

#[test]
fn slow_client_bounds_must_be_positive() {
    let config = config_with(&[]);
    assert_eq!(
        config.server.header_timeout,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(config.server.max_connections, 10_000);
    assert_eq!(config.server.max_connections_per_client, 1024);
    rejects(
        &[("server.header_timeout", "0s")],
        "server.header_timeout",
        "must be positive",
    );
    rejects(
        &[("server.max_connections", "0")],
        "server.max_connections",
        "at least 1",
    );
}

#[test]
fn forward_auth_is_off_by_default_and_needs_its_source() {
    assert_eq!(config_with(&[]).forward_auth, None);
    let config = config_with(&[("forward_auth", "{source: traefik}")]);
    assert_eq!(config.forward_auth, Some(ForwardAuthSource::Traefik));
    rejects(
        &[("forward_auth", "{}")],
        "forward_auth.source",
        "required: nginx",
    );
    rejects(
        &[("forward_auth", "{source: envoy}")],
        "forward_auth.source",
        "unknown value \"envoy\" (known: nginx, traefik)",
    );
}
