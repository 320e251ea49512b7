//! `identity:` rules: the assertion and the plain headers.

use super::*;

#[test]
fn identity_header_must_be_a_header_name() {
    rejects(
        &[("identity.header", "X G2P")],
        "identity.header",
        "not a valid HTTP header name",
    );
}

#[test]
fn identity_issuer_and_audience_are_single_words() {
    rejects(
        &[("identity.issuer", "''")],
        "identity.issuer",
        "must not be empty",
    );
    rejects(
        &[("identity.audience", "g2p portal")],
        "identity.audience",
        "whitespace",
    );
    let config = config_with(&[("identity.issuer", "https://gateway.example.org")]);
    assert_eq!(config.identity.issuer, "https://gateway.example.org");
}

#[test]
fn identity_lifetime_is_between_10s_and_1h() {
    rejects(
        &[("identity.lifetime", "5s")],
        "identity.lifetime",
        "out of range",
    );
    rejects(
        &[("identity.lifetime", "2h")],
        "identity.lifetime",
        "out of range",
    );
}

#[test]
fn strip_prefix_is_a_header_name_prefix() {
    rejects(
        &[("identity.strip_prefix", "X G2P")],
        "identity.strip_prefix",
        "header-name prefix",
    );
    assert_eq!(
        config_with(&[("identity.strip_prefix", "''")])
            .identity
            .strip_prefix,
        ""
    );
}

#[test]
fn headers_map_to_known_keys() {
    rejects(
        &[("identity.headers", "{X-Name: nmae}")],
        "identity.headers.X-Name",
        "did you mean \"name\"?",
    );
    let config = config_with(&[(
        "identity.headers",
        "{X-Phone: phone, X-Acr: acr, X-Login: login}",
    )]);
    assert_eq!(config.identity.headers.len(), 3);
    assert_eq!(config.identity.headers["X-Phone"], "phone");
}

#[test]
fn headers_never_carry_pictures() {
    rejects(
        &[("identity.headers", "{X-Picture: picture}")],
        "identity.headers.X-Picture",
        "never go in a header",
    );
    rejects(
        &[
            ("mapping.userinfo_map", "'picture:photo name:name'"),
            ("identity.headers", "{X-Photo: photo}"),
        ],
        "identity.headers.X-Photo",
        "never go in a header",
    );
}

#[test]
fn header_names_are_valid_and_distinct() {
    rejects(
        &[("identity.headers", "{'X Bad': user_id}")],
        "identity.headers.X Bad",
        "not a valid HTTP header name",
    );
    rejects(
        &[("identity.headers", "{X-User: user_id, x-user: login}")],
        "identity.headers.x-user",
        "case-insensitive",
    );
    rejects(
        &[("identity.headers", "{x-g2p-identity: user_id}")],
        "identity.headers.x-g2p-identity",
        "identity.header",
    );
}
