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
