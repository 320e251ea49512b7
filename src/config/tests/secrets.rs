//! Secret sources: `{file: …}` / `{env: …}`, RSA keys and cookie keys.

use super::*;

fn fixture_key(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/config/keys")
        .join(name)
        .display()
        .to_string()
}

fn demo_file(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("certs/demo").join(name)).expect("demo file")
}

/// An environment holding exactly `vars`.
fn env_of(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[test]
fn secrets_are_never_inline() {
    rejects(
        &[("esignet.private_key", "'-----BEGIN PRIVATE KEY-----'")],
        "esignet.private_key",
        "never written inline",
    );
}

#[test]
fn a_secret_needs_exactly_one_source() {
    rejects(
        &[("esignet.private_key", "{}")],
        "esignet.private_key",
        "set {file: PATH} or {env: VAR_NAME}",
    );
    rejects(
        &[("esignet.private_key", "{file: a.pem, env: KEY}")],
        "esignet.private_key",
        "not both",
    );
    rejects(
        &[("esignet.private_key", "{fil: a.pem}")],
        "esignet.private_key.fil",
        "did you mean \"file\"?",
    );
}

#[test]
fn a_missing_secret_file_is_named_in_the_error() {
    let errors = errors_with(&[("esignet.private_key", "{file: certs/demo/nope.pem}")]);
    let expected = repo_root()
        .join("certs/demo/nope.pem")
        .display()
        .to_string();
    assert_error(
        &errors,
        "esignet.private_key.file",
        &format!("cannot read {expected}"),
    );
}

#[test]
fn secrets_come_from_the_injected_environment() {
    let env = env_of(&[
        ("CLIENT_KEY", demo_file("client.pem")),
        ("COOKIE_KEY", demo_file("cookie.key")),
        ("SIGNING_KEY", demo_file("gateway-signing.pem")),
    ]);
    let yaml = edited(&[
        ("esignet.private_key", "{env: CLIENT_KEY}"),
        ("session.cookie_keys", "[{env: COOKIE_KEY}]"),
        ("identity.signing_keys", "[{env: SIGNING_KEY}]"),
    ]);
    let config = match load_yaml_env(&yaml, &env) {
        Ok(config) => config,
        Err(errors) => panic!("env secrets rejected:\n{errors}"),
    };
    assert_eq!(
        config.esignet.private_key.expose(),
        demo_file("client.pem").as_bytes()
    );
    assert_eq!(config.session.cookie_keys[0].expose().len(), 64);
}

#[test]
fn an_unset_environment_variable_is_an_error() {
    rejects(
        &[("esignet.private_key", "{env: G2P_TEST_SURELY_UNSET}")],
        "esignet.private_key.env",
        "environment variable G2P_TEST_SURELY_UNSET is not set",
    );
}

#[test]
fn private_keys_may_be_pkcs1() {
    let key = fixture_key("rsa2048-pkcs1.pem");
    config_with(&[("esignet.private_key", &format!("{{file: {key}}}"))]);
}

#[test]
fn private_keys_must_be_rsa_pem_of_2048_bits_or_more() {
    let short = fixture_key("rsa1024-pkcs1.pem");
    rejects(
        &[("esignet.private_key", &format!("{{file: {short}}}"))],
        "esignet.private_key",
        "1024 bits",
    );
    let ec = fixture_key("ec-p256.pem");
    rejects(
        &[("esignet.private_key", &format!("{{file: {ec}}}"))],
        "esignet.private_key",
        "not an RSA private key",
    );
    rejects(
        &[("esignet.private_key", "{file: certs/demo/cookie.key}")],
        "esignet.private_key",
        "not an RSA private key",
    );
}

#[test]
fn encrypted_private_keys_are_explained() {
    let env = env_of(&[(
        "KEY",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n".to_string(),
    )]);
    let yaml = edited(&[("esignet.private_key", "{env: KEY}")]);
    let errors = load_yaml_env(&yaml, &env).expect_err("encrypted");
    assert_error(&errors, "esignet.private_key", "encrypted key");
}

#[test]
fn key_errors_never_echo_the_secret() {
    let env = env_of(&[("KEY", "hunter2-not-a-key".to_string())]);
    let yaml = edited(&[("esignet.private_key", "{env: KEY}")]);
    let errors = load_yaml_env(&yaml, &env).expect_err("not a key");
    assert!(!errors.to_string().contains("hunter2"), "{errors}");
}

#[test]
fn cookie_keys_accept_url_safe_base64_without_padding() {
    // 67 bytes whose base64 uses '-' and '_' and would need "==" padding.
    let key = "-_8".repeat(29) + "AAA";
    let env = env_of(&[("COOKIE", format!("  {key}\n"))]);
    let yaml = edited(&[("session.cookie_keys", "[{env: COOKIE}]")]);
    let config = match load_yaml_env(&yaml, &env) {
        Ok(config) => config,
        Err(errors) => panic!("URL-safe key rejected:\n{errors}"),
    };
    assert_eq!(config.session.cookie_keys[0].expose().len(), 67);
}

#[test]
fn cookie_keys_must_be_base64_of_64_bytes_or_more() {
    let env = env_of(&[("SHORT", "c2hvcnQ=".into()), ("JUNK", "not base64!".into())]);
    let yaml = edited(&[("session.cookie_keys", "[{env: SHORT}, {env: JUNK}]")]);
    let errors = load_yaml_env(&yaml, &env).expect_err("bad keys");
    assert_error(
        &errors,
        "session.cookie_keys[0]",
        "5 bytes after base64 decoding; at least 64",
    );
    assert_error(&errors, "session.cookie_keys[1]", "is not base64");
}

#[test]
fn cookie_keys_are_required() {
    rejects(
        &[("session.cookie_keys", REMOVE)],
        "session.cookie_keys",
        "required key is missing",
    );
    rejects(
        &[("session.cookie_keys", "[]")],
        "session.cookie_keys",
        "at least one key",
    );
}

#[test]
fn signing_keys_may_be_rsa_or_ec_p256() {
    let ec = fixture_key("ec-p256.pem");
    config_with(&[("identity.signing_keys", &format!("[{{file: {ec}}}]"))]);
    let short = fixture_key("rsa1024-pkcs1.pem");
    rejects(
        &[("identity.signing_keys", &format!("[{{file: {short}}}]"))],
        "identity.signing_keys[0]",
        "1024 bits",
    );
    rejects(
        &[(
            "identity.signing_keys",
            "[{file: certs/demo/gateway-signing.pem}, {file: certs/demo/cookie.key}]",
        )],
        "identity.signing_keys[1]",
        "nor an EC P-256 private key",
    );
}

#[test]
fn signing_keys_are_required() {
    rejects(
        &[("identity.signing_keys", REMOVE)],
        "identity.signing_keys",
        "required key is missing",
    );
    rejects(
        &[("identity.signing_keys", "[]")],
        "identity.signing_keys",
        "at least one key",
    );
    rejects(
        &[(
            "identity.signing_keys",
            "[{file: certs/demo/gateway-signing.pem}, {file: missing.pem}]",
        )],
        "identity.signing_keys[1].file",
        "missing.pem",
    );
}
