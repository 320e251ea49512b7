//! `upstreams:` and `routes:` rules.

use super::*;

#[test]
fn upstreams_are_required() {
    rejects(
        &[("upstreams", REMOVE)],
        "upstreams",
        "required key is missing",
    );
    rejects(&[("upstreams", "{}")], "upstreams", "at least one upstream");
}

#[test]
fn upstream_urls_are_scheme_host_and_port() {
    rejects(
        &[("upstreams.portal.url", "http://127.0.0.1:8000/app")],
        "upstreams.portal.url",
        "host and optional port only",
    );
    rejects(
        &[("upstreams.portal.url", "tcp://127.0.0.1:8000")],
        "upstreams.portal.url",
        "http:// or https://",
    );
    rejects(
        &[("upstreams.portal", "{}")],
        "upstreams.portal.url",
        "required key is missing",
    );
    rejects(
        &[("upstreams.portal", "{url: http://a, tls: true}")],
        "upstreams.portal.tls",
        "unknown key",
    );
}

#[test]
fn https_upstreams_use_tls_with_the_host_as_sni() {
    let config = config_with(&[("upstreams.portal.url", "https://Portal.Internal.example")]);
    let upstream = &config.upstreams["portal"];
    assert_eq!(upstream.address, "portal.internal.example:443");
    assert!(upstream.tls);
    assert_eq!(upstream.sni, "portal.internal.example");
    let plain = config_with(&[("upstreams.portal.url", "http://[::1]")]);
    assert_eq!(plain.upstreams["portal"].address, "[::1]:80");
    assert!(!plain.upstreams["portal"].tls);
}

#[test]
fn upstream_names_are_plain() {
    rejects(
        &[("upstreams", "{'my portal': {url: 'http://a'}}")],
        "upstreams.my portal",
        "not a valid upstream name",
    );
}

#[test]
fn routes_are_required() {
    rejects(&[("routes", REMOVE)], "routes", "required key is missing");
    rejects(&[("routes", "[]")], "routes", "at least one route");
}

#[test]
fn routes_name_a_known_upstream() {
    let errors = errors_with(&[
        ("upstreams.static", "{url: 'http://127.0.0.1:8001'}"),
        ("routes[0].upstream", "portl"),
    ]);
    assert_error(
        &errors,
        "routes[0].upstream",
        "unknown upstream \"portl\" (known: portal, static); did you mean \"portal\"?",
    );
    rejects(
        &[("routes[0].upstream", REMOVE)],
        "routes[0].upstream",
        "required key is missing",
    );
}

#[test]
fn route_paths_start_with_a_slash_and_lose_a_trailing_one() {
    rejects(
        &[("routes[0].path", "portal")],
        "routes[0].path",
        "must start with",
    );
    rejects(
        &[("routes[0].path", "/a?b=1")],
        "routes[0].path",
        "without query",
    );
    rejects(
        &[("routes[0].path", "/a%2Fb")],
        "routes[0].path",
        "%-escapes",
    );
    rejects(&[("routes[0].path", "/a/../b")], "routes[0].path", "dot");
    rejects(
        &[("routes[0].path", REMOVE)],
        "routes[0].path",
        "required key is missing",
    );
    let config = config_with(&[("routes[0].path", "/portal/")]);
    assert_eq!(config.routes[0].path_prefix, "/portal");
}

#[test]
fn route_paths_stay_out_of_the_reserved_prefix() {
    rejects(
        &[("routes[0].path", "/_gateway/login")],
        "routes[0].path",
        "inside server.prefix (/_gateway)",
    );
    rejects(
        &[("routes[0].path", "/_gateway")],
        "routes[0].path",
        "inside server.prefix",
    );
    let config = config_with(&[("routes[0].path", "/_gateway2")]);
    assert_eq!(config.routes[0].path_prefix, "/_gateway2");
}

#[test]
fn route_auth_is_public_or_login() {
    rejects(
        &[("routes[0].auth", "logn")],
        "routes[0].auth",
        "did you mean \"login\"?",
    );
    rejects(
        &[("routes[0].auth", REMOVE)],
        "routes[0].auth",
        "required key is missing",
    );
}

#[test]
fn route_names_are_lower_case_and_unique() {
    rejects(
        &[("routes[0].name", "Main Portal")],
        "routes[0].name",
        "not a valid route name",
    );
    let errors = errors_with(&[(
        "routes",
        "[{name: p, path: /, upstream: portal, auth: login}, {name: p, path: /x, upstream: portal, auth: login}]",
    )]);
    assert_error(&errors, "routes[1].name", "duplicate route name \"p\"");
}

#[test]
fn route_hosts_are_bare_lower_case_names() {
    rejects(
        &[("routes[0].host", "portal.example.org:443")],
        "routes[0].host",
        "must not include a port",
    );
    rejects(
        &[("routes[0].host", "https://portal.example.org")],
        "routes[0].host",
        "without a scheme",
    );
    rejects(
        &[("routes[0].host", "portal..org")],
        "routes[0].host",
        "not a valid host name",
    );
    let config = config_with(&[("routes[0].host", "Portal.Example.ORG.")]);
    assert_eq!(config.routes[0].host.as_deref(), Some("portal.example.org"));
}

#[test]
fn host_and_path_pairs_are_unique() {
    let errors = errors_with(&[(
        "routes",
        "[{host: a.example, path: /, upstream: portal, auth: login}, \
          {host: A.example, path: /, upstream: portal, auth: public}, \
          {path: /, upstream: portal, auth: public}]",
    )]);
    assert_error(&errors, "routes[1].path", "already used by routes[0]");
    assert_eq!(errors.errors.len(), 1, "got:\n{errors}");
}

#[test]
fn routes_keep_file_order_index_and_audience() {
    let config = config_with(&[(
        "routes",
        "[{path: /, upstream: portal, auth: login}, {name: sp, path: /sp, upstream: portal, auth: login, audience: g2p-sp}]",
    )]);
    assert_eq!(config.routes[1].index, 1);
    assert_eq!(config.routes[1].name, "sp");
    assert_eq!(config.routes[1].audience.as_deref(), Some("g2p-sp"));
    assert_eq!(config.routes[0].name, "route0");
    rejects(
        &[("routes[0].audience", "''")],
        "routes[0].audience",
        "must not be empty",
    );
}
