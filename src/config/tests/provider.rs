//! `provider:` and the identity keys of `upstreams.<name>`.

use std::time::Duration;

use super::*;

const SECRET_ENV: &str = "PORTAL_SECRET";
const VERIFIER_ENV: &str = "PORTAL_VERIFIER";

fn env(name: &str) -> Option<String> {
    match name {
        SECRET_ENV => Some("a-portal-secret-of-32-characters".into()),
        VERIFIER_ENV => Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
        "SHORT" => Some("short".into()),
        _ => None,
    }
}

const CLIENT: &str = r#"{openg2p: {client_secret: {env: PORTAL_SECRET},
  redirect_uris: ["https://portal.example.org/v1/selfservice/oauth2/callback"],
  provision: {upstream: portal, callback_path: /v1/selfservice/oauth2/callback,
              provider_id: 1, code_verifier: {env: PORTAL_VERIFIER}}}}"#;

fn load_with(edits: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    load_yaml_env(&edited(edits), &env)
}

#[test]
fn a_portal_client_with_provisioning_loads() {
    let config = load_with(&[
        ("provider.clients", CLIENT),
        ("upstreams.portal.identity", "bearer"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let client = &config.provider.clients[0];
    assert_eq!(client.client_id, "openg2p");
    assert_eq!(
        client.client_secret.expose(),
        "a-portal-secret-of-32-characters"
    );
    let provision = client.provision.as_ref().unwrap();
    assert_eq!(
        (provision.upstream.as_str(), provision.provider_id),
        ("portal", 1)
    );
    let portal = &config.upstreams["portal"];
    assert_eq!(portal.identity.form, IdentityForm::Bearer);
    assert_eq!(
        portal.identity.portal_cookies,
        ["X-Access-Token", "X-ID-Token"]
    );
    assert!(!portal.identity.plain_headers, "signed only by default");
    assert_eq!(portal.base_url, "http://127.0.0.1:8000");
    assert_eq!(config.provider.code_lifetime, Duration::from_secs(60));
}

#[test]
fn upstreams_default_to_one_signed_header_and_no_portal_cookies() {
    let config = config_with(&[]);
    assert_eq!(
        config.upstreams["portal"].identity,
        UpstreamIdentity::default()
    );
    assert!(config.provider.clients.is_empty());
}

#[test]
fn every_provider_problem_is_reported_with_its_path() {
    let errors = load_with(&[
        (
            "provider.clients",
            r#"{openg2p: {client_secret: {env: SHORT}, redirect_uris: ["not a url", "https://a.example/cb#x"],
                provision: {upstream: nowhere, callback_path: "oauth2/callback", code_verifier: {env: SHORT}}},
               other: {redirect_uris: []}}"#,
        ),
        ("provider.code_lifetime", "1h"),
        ("upstreams.portal.identity", "cookie"),
        ("upstreams.portal.portal_cookies", r#"["session id"]"#),
    ])
    .expect_err("invalid");
    for (path, fragment) in [
        (
            "provider.clients.openg2p.client_secret",
            "at least 16 characters",
        ),
        ("provider.clients.openg2p.redirect_uris[0]", "invalid URL"),
        ("provider.clients.openg2p.redirect_uris[1]", "fragment"),
        (
            "provider.clients.openg2p.provision.upstream",
            "no upstream named \"nowhere\"",
        ),
        (
            "provider.clients.openg2p.provision.callback_path",
            "must be a path",
        ),
        (
            "provider.clients.openg2p.provision.provider_id",
            "required key is missing",
        ),
        (
            "provider.clients.openg2p.provision.code_verifier",
            "43 to 128",
        ),
        (
            "provider.clients.other.client_secret",
            "required key is missing",
        ),
        (
            "provider.clients.other.redirect_uris",
            "at least one redirect URI",
        ),
        ("provider.code_lifetime", "out of range"),
        ("upstreams.portal.identity", "allowed: "),
        (
            "upstreams.portal.portal_cookies[0]",
            "not a valid cookie name",
        ),
    ] {
        assert_error(&errors, path, fragment);
    }
}

#[test]
fn plain_identity_headers_are_an_insecure_opt_in() {
    let config = config_with(&[("upstreams.portal.insecure_plain_identity_headers", "true")]);
    assert!(config.upstreams["portal"].identity.plain_headers);
    assert_eq!(
        insecure_settings(&config),
        ["upstreams.portal.insecure_plain_identity_headers"]
    );
}

#[test]
fn x_real_ip_is_an_opt_in_per_upstream() {
    let config = config_with(&[]);
    assert!(!config.upstreams["portal"].real_ip_header, "off by default");
    let config = config_with(&[("upstreams.portal.real_ip_header", "true")]);
    assert!(config.upstreams["portal"].real_ip_header);
    assert!(insecure_settings(&config).is_empty(), "not a weakening");
}

#[test]
fn the_openg2p_demo_config_loads() {
    let path = repo_root().join("gateway-openg2p.yaml");
    let lookup = |name: &str| match name {
        "G2P_DEMO_PORTAL_SECRET" => env(SECRET_ENV),
        "G2P_DEMO_PORTAL_VERIFIER" => env(VERIFIER_ENV),
        _ => None,
    };
    let config = load_with_env(&path, &lookup).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.upstreams["openg2p"].identity.form,
        IdentityForm::Bearer
    );
    assert!(config.provider.clients[0].provision.is_some());
}
