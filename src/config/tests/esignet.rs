//! `esignet:` rules: client, endpoints and authorize parameters.

use super::*;

const EXPLICIT: &[(&str, &str)] = &[
    ("esignet.discovery_url", REMOVE),
    (
        "esignet.authorize_url",
        "https://esignet.example.org/authorize",
    ),
    (
        "esignet.token_url",
        "https://esignet.example.org/v1/esignet/oauth/v2/token",
    ),
    (
        "esignet.userinfo_url",
        "https://esignet.example.org/v1/esignet/oidc/userinfo",
    ),
    (
        "esignet.jwks_url",
        "https://esignet.example.org/.well-known/jwks.json",
    ),
    ("esignet.issuer", "https://esignet.example.org"),
];

/// [`EXPLICIT`] with some edits replaced or added.
fn explicit_with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut edits: Vec<(&str, &str)> = EXPLICIT
        .iter()
        .filter(|(path, _)| !extra.iter().any(|(other, _)| other == path))
        .copied()
        .collect();
    edits.extend_from_slice(extra);
    edits
}

#[test]
fn client_id_is_required_and_a_single_word() {
    rejects(
        &[("esignet.client_id", REMOVE)],
        "esignet.client_id",
        "required key is missing",
    );
    rejects(
        &[("esignet.client_id", "my client")],
        "esignet.client_id",
        "whitespace",
    );
    rejects(
        &[("esignet.client_id", "''")],
        "esignet.client_id",
        "must not be empty",
    );
}

#[test]
fn discovery_urls_must_be_http_urls() {
    rejects(
        &[("esignet.discovery_url", "esignet.example.org")],
        "esignet.discovery_url",
        "invalid URL",
    );
    rejects(
        &[("esignet.discovery_url", "file:///etc/passwd")],
        "esignet.discovery_url",
        "http:// or https://",
    );
}

#[test]
fn discovery_with_explicit_urls_means_overrides() {
    let config = config_with(&[(
        "esignet.token_url",
        "https://esignet.example.org/v1/esignet/oauth/v2/token",
    )]);
    let ProviderEndpoints::Discovery { overrides, .. } = &config.esignet.endpoints else {
        panic!("expected discovery");
    };
    assert!(overrides.token.is_some());
    assert!(overrides.authorize.is_none());
}

#[test]
fn discovery_with_a_complete_explicit_set_is_still_discovery() {
    let mut edits = EXPLICIT.to_vec();
    edits.retain(|(p, _)| *p != "esignet.discovery_url");
    let config = config_with(&edits);
    let ProviderEndpoints::Discovery { overrides, .. } = &config.esignet.endpoints else {
        panic!("expected discovery");
    };
    assert!(overrides.authorize.is_some() && overrides.jwks.is_some());
    assert_eq!(config.esignet.issuers, ["https://esignet.example.org"]);
}

#[test]
fn explicit_endpoints_need_all_four_urls_and_the_issuer() {
    let config = config_with(EXPLICIT);
    let ProviderEndpoints::Explicit {
        issuer,
        end_session,
        ..
    } = &config.esignet.endpoints
    else {
        panic!("expected explicit endpoints");
    };
    assert_eq!(issuer, "https://esignet.example.org");
    assert!(end_session.is_none());
    let edits = explicit_with(&[("esignet.token_url", REMOVE), ("esignet.issuer", REMOVE)]);
    rejects(&edits, "esignet", "missing: token_url, issuer");
}

#[test]
fn neither_discovery_nor_explicit_urls_is_an_error_at_esignet() {
    rejects(
        &[("esignet.discovery_url", REMOVE)],
        "esignet",
        "missing: authorize_url, token_url, userinfo_url, jwks_url, issuer",
    );
}

#[test]
fn end_session_url_is_only_for_explicit_endpoints() {
    rejects(
        &[(
            "esignet.end_session_url",
            "https://esignet.example.org/logout",
        )],
        "esignet.end_session_url",
        "only used without discovery_url",
    );
    let edits = explicit_with(&[(
        "esignet.end_session_url",
        "https://esignet.example.org/logout",
    )]);
    let config = config_with(&edits);
    assert!(matches!(
        config.esignet.endpoints,
        ProviderEndpoints::Explicit {
            end_session: Some(_),
            ..
        }
    ));
}

#[test]
fn issuer_accepts_a_list_of_single_words() {
    let config = config_with(&[(
        "esignet.issuer",
        "[https://esignet.example.org, https://esignet.example.org/v1/esignet]",
    )]);
    assert_eq!(config.esignet.issuers.len(), 2);
    rejects(
        &[(
            "esignet.issuer",
            "[https://a.example, 'https://b .example']",
        )],
        "esignet.issuer[1]",
        "whitespace",
    );
}

#[test]
fn assertion_aud_and_kid_must_not_be_blank() {
    rejects(
        &[("esignet.assertion_aud", "''")],
        "esignet.assertion_aud",
        "must not be empty",
    );
    rejects(
        &[("esignet.private_key_kid", "a kid")],
        "esignet.private_key_kid",
        "whitespace",
    );
}

#[test]
fn word_lists_accept_a_string_or_a_list() {
    let config = config_with(&[
        ("esignet.acr_values", "[mosip:idp:acr:static-code]"),
        ("esignet.user_claims", "name email"),
        ("esignet.ui_locales", "en fr-FR"),
    ]);
    assert_eq!(config.esignet.acr_values, ["mosip:idp:acr:static-code"]);
    assert_eq!(config.esignet.user_claims, ["name", "email"]);
    assert_eq!(config.esignet.ui_locales, ["en", "fr-FR"]);
}

#[test]
fn list_items_must_be_single_distinct_words() {
    rejects(
        &[("esignet.acr_values", "['a b']")],
        "esignet.acr_values[0]",
        "whitespace",
    );
    rejects(
        &[("esignet.user_claims", "[name, name]")],
        "esignet.user_claims[1]",
        "duplicate",
    );
    rejects(
        &[("esignet.user_claims", "{name: 1}")],
        "esignet.user_claims",
        "expected a space-separated string or a list",
    );
}

#[test]
fn essential_claims_must_be_requested() {
    rejects(
        &[("esignet.essential_claims", "[name, individual_id]")],
        "esignet.essential_claims[1]",
        "not in esignet.user_claims",
    );
    let config = config_with(&[("esignet.essential_claims", "name")]);
    assert_eq!(config.esignet.essential_claims, ["name"]);
}

#[test]
fn scope_must_contain_openid() {
    rejects(
        &[("esignet.scope", "profile email")],
        "esignet.scope",
        "must contain \"openid\"",
    );
}

#[test]
fn locales_must_be_language_tags() {
    rejects(
        &[("esignet.claims_locales", "[en, 'en_US!']")],
        "esignet.claims_locales[1]",
        "language tag",
    );
}

#[test]
fn prompt_is_exactly_one_known_value() {
    rejects(
        &[("esignet.prompt", "login consent")],
        "esignet.prompt",
        "exactly one prompt value",
    );
    rejects(
        &[("esignet.prompt", "consnt")],
        "esignet.prompt",
        "did you mean \"consent\"?",
    );
    assert_eq!(
        config_with(&[("esignet.prompt", "consent")])
            .esignet
            .prompt
            .as_deref(),
        Some("consent")
    );
}

#[test]
fn display_is_a_known_value() {
    rejects(
        &[("esignet.display", "fullscreen")],
        "esignet.display",
        "allowed: page, popup, touch, wap",
    );
}

#[test]
fn clock_skew_is_at_most_ten_minutes() {
    rejects(
        &[("esignet.clock_skew", "11m")],
        "esignet.clock_skew",
        "out of range",
    );
}

#[test]
fn assertion_lifetime_is_between_10s_and_10m() {
    rejects(
        &[("esignet.assertion_lifetime", "5s")],
        "esignet.assertion_lifetime",
        "out of range",
    );
    rejects(
        &[("esignet.assertion_lifetime", "1h")],
        "esignet.assertion_lifetime",
        "out of range",
    );
}

#[test]
fn timeouts_must_be_positive() {
    rejects(
        &[("esignet.http_timeout", "0s")],
        "esignet.http_timeout",
        "longer than 0s",
    );
    rejects(
        &[("esignet.login_timeout", "0s")],
        "esignet.login_timeout",
        "longer than 0s",
    );
    rejects(
        &[("esignet.jwks_cache_ttl", "0s")],
        "esignet.jwks_cache_ttl",
        "longer than 0s",
    );
}
