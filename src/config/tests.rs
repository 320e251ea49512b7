//! Loader tests: the shipped `gateway.yaml`, the error report, and one test
//! per validation rule (in the sibling files, by section).

mod esignet;
mod identity;
mod mapping;
mod policy;
mod provider;
mod routing;
mod secrets;
mod server;
mod session;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::*;

/// The repository root (the directory holding `gateway.yaml` and `certs/`).
///
/// Resolved through `src/config.rs`, so it works both in the gateway crate
/// and in a scratch crate that symlinks the config sources.
fn repo_root() -> PathBuf {
    let config_rs = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config.rs");
    let real = std::fs::canonicalize(&config_rs).expect("src/config.rs exists");
    real.parent()
        .and_then(Path::parent)
        .expect("src/config.rs has a grandparent")
        .to_path_buf()
}

/// A small valid file; secret paths are relative to the repository root.
const MINIMAL: &str = r#"
server:
  public_url: https://portal.example.org
esignet:
  client_id: test-client
  discovery_url: https://esignet.example.org/.well-known/openid-configuration
  private_key: {file: certs/demo/client.pem}
session:
  cookie_keys: [{file: certs/demo/cookie.key}]
identity:
  signing_keys: [{file: certs/demo/gateway-signing.pem}]
upstreams:
  portal: {url: "http://127.0.0.1:8000"}
routes:
  - {path: /, upstream: portal, auth: login}
"#;

/// Marks an edit that removes the key instead of setting it.
const REMOVE: &str = "\u{0}remove";

fn no_env(_: &str) -> Option<String> {
    None
}

/// Loads YAML as if it were `<repo>/test.yaml`, with an empty environment.
fn load_yaml(yaml: &str) -> Result<Config, ConfigErrors> {
    load_yaml_env(yaml, &no_env)
}

fn load_yaml_env(yaml: &str, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    load_str_with_env(yaml, &repo_root().join("test.yaml"), env)
}

/// [`MINIMAL`] with values set (YAML text) or removed at dotted paths.
fn edited(edits: &[(&str, &str)]) -> String {
    let mut doc: Value = serde_yaml::from_str(MINIMAL).expect("MINIMAL is YAML");
    for (path, value) in edits {
        let (parents, last) = steps(path);
        let parent = parents.iter().fold(&mut doc, descend);
        match (last, *value) {
            (Step::Key(key), REMOVE) => {
                parent
                    .as_mapping_mut()
                    .expect("a mapping")
                    .shift_remove(key.as_str());
            }
            (Step::Key(key), text) => {
                let value = serde_yaml::from_str(text).expect("edit is YAML");
                parent
                    .as_mapping_mut()
                    .expect("a mapping")
                    .insert(key.into(), value);
            }
            (Step::Index(i), text) => parent[i] = serde_yaml::from_str(text).expect("edit is YAML"),
        }
    }
    serde_yaml::to_string(&doc).expect("serializable")
}

enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[0].c` → steps; the last one is returned separately.
fn steps(path: &str) -> (Vec<Step>, Step) {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let mut pieces = part.split('[');
        let key = pieces.next().unwrap_or_default();
        if !key.is_empty() {
            steps.push(Step::Key(key.to_owned()));
        }
        for index in pieces {
            let index = index.trim_end_matches(']').parse().expect("an index");
            steps.push(Step::Index(index));
        }
    }
    let last = steps.pop().expect("a non-empty path");
    (steps, last)
}

/// Steps into a child, creating a mapping for a missing key.
fn descend<'a>(node: &'a mut Value, step: &Step) -> &'a mut Value {
    match step {
        Step::Key(key) => {
            if node.get(key.as_str()).is_none() {
                node.as_mapping_mut()
                    .expect("a mapping")
                    .insert(key.as_str().into(), Value::Mapping(Mapping::new()));
            }
            node.get_mut(key.as_str()).expect("just inserted")
        }
        Step::Index(i) => node.get_mut(*i).expect("index exists"),
    }
}

/// Loads [`MINIMAL`] with edits; it must succeed.
fn config_with(edits: &[(&str, &str)]) -> Config {
    match load_yaml(&edited(edits)) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

/// Loads [`MINIMAL`] with edits; it must fail.
fn errors_with(edits: &[(&str, &str)]) -> ConfigErrors {
    load_yaml(&edited(edits)).expect_err("expected errors")
}

/// Asserts an error at exactly `path` whose message contains `fragment`.
fn assert_error(errors: &ConfigErrors, path: &str, fragment: &str) {
    let found = errors
        .iter()
        .any(|e| e.path == path && e.message.contains(fragment));
    assert!(
        found,
        "no error at {path} containing {fragment:?}; got:\n{errors}"
    );
}

/// Shorthand: [`MINIMAL`] with edits fails at `path` with `fragment`.
fn rejects(edits: &[(&str, &str)], path: &str, fragment: &str) {
    assert_error(&errors_with(edits), path, fragment);
}

// === The shipped example and fixtures ===

#[test]
fn shipped_gateway_yaml_loads_cleanly() {
    let path = repo_root().join("gateway.yaml");
    let config = match load_with_env(&path, &no_env) {
        Ok(config) => config,
        Err(errors) => panic!("gateway.yaml is invalid:\n{errors}"),
    };
    assert_eq!(config.source, path);
    assert_eq!(config.server.public_url.as_str(), "http://localhost:8080/");
    assert_eq!(config.start.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        config.start.server.admin_listen.to_string(),
        "127.0.0.1:9090"
    );
    assert_eq!(config.esignet.client_id, "g2p-demo-portal");
    assert!(matches!(
        &config.esignet.endpoints,
        ProviderEndpoints::Discovery { url, .. }
            if url.as_str() == "http://127.0.0.1:8088/.well-known/openid-configuration"
    ));
    assert_eq!(config.session.cookie_name, "g2p-session");
    assert_eq!(config.identity.issuer, "http://localhost:8080");
    assert_eq!(config.upstreams["portal"].address, "127.0.0.1:8000");
    let paths: Vec<&str> = config
        .routes
        .iter()
        .map(|r| r.path_prefix.as_str())
        .collect();
    assert_eq!(paths, ["/", "/public", "/bank"]);
    assert_eq!(config.routes[1].access, Access::Public);
    assert!(config.routes[2].policy.is_some(), "the step-up example");
    assert_eq!(
        insecure_settings(&config),
        ["session.insecure_cookie_without_secure"]
    );
}

/// Each fixture lists its expected error paths as `# expect: PATH` lines.
#[test]
fn fixtures_report_every_expected_path() {
    let dir = repo_root().join("tests/fixtures/config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures directory") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("fixture readable");
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::trim)
            .collect();
        assert!(
            !expected.is_empty(),
            "{} lists no `# expect:` paths",
            path.display()
        );
        let errors = load_with_env(&path, &no_env).expect_err("fixtures are invalid");
        for want in &expected {
            assert!(
                errors.has_path(want),
                "{}: no error at {want}; got:\n{errors}",
                path.display()
            );
        }
        assert_eq!(
            errors.errors.len(),
            expected.len(),
            "{}: got:\n{errors}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected at least 3 fixtures, found {checked}"
    );
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let config = config_with(&[]);
    assert_eq!(config.server.prefix, "/_gateway");
    assert_eq!(config.start.server.threads, 2);
    assert!(
        config.start.server.work_stealing,
        "pingora's default runtime"
    );
    assert_eq!(config.esignet.scope, ["openid", "profile"]);
    assert_eq!(
        config.esignet.acr_values,
        ["mosip:idp:acr:generated-code", "mosip:idp:acr:biometrics"]
    );
    assert_eq!(config.esignet.user_claims.len(), 7);
    assert_eq!(config.esignet.claims_locales, ["en"]);
    assert!(config.esignet.issuers.is_empty());
    assert_eq!(
        config.mapping.token_map,
        [("sub".to_string(), "user_id".to_string())]
    );
    assert_eq!(config.mapping.userinfo_map.len(), 6);
    assert_eq!(&*config.mapping.registrant_id_type, "MOSIP PSUT");
    assert_eq!(config.session.cookie_name, "__Host-g2p-session");
    assert_eq!(config.session.cookie_keys[0].expose().len(), 64);
    assert_eq!(config.identity.header, "X-G2P-Identity");
    assert_eq!(config.identity.issuer, "https://portal.example.org");
    assert_eq!(
        config.identity.headers["X-G2P-Reg-Id-Type"],
        "registrant_id_type"
    );
    assert_eq!(config.routes[0].name, "route0");
    assert_eq!(config.start.logging.format, LogFormat::Text);
    assert_eq!(config.start.logging.filter, "info");
    assert!(insecure_settings(&config).is_empty());
}

#[test]
fn work_stealing_is_a_boolean() {
    assert!(
        !config_with(&[("server.work_stealing", "false")])
            .start
            .server
            .work_stealing
    );
    rejects(
        &[("server.work_stealing", "sometimes")],
        "server.work_stealing",
        "",
    );
}

#[test]
fn debug_output_redacts_secrets() {
    let config = config_with(&[]);
    let debug = format!("{config:?}");
    assert!(debug.contains("Secret([redacted])"));
    assert!(!debug.contains("PRIVATE KEY"));
}

// === The error report ===

#[test]
fn independent_errors_are_reported_together() {
    let errors = errors_with(&[
        ("servr", "{}"),
        (
            "routes",
            "[{path: /, upstrem: portal, auth: login}, {path: /x, upstream: ghost, auth: public}]",
        ),
        ("esignet.discovery_url", "not a url"),
    ]);
    assert_error(
        &errors,
        "servr",
        "unknown key \"servr\"; did you mean \"server\"?",
    );
    assert_error(&errors, "routes[0].upstrem", "did you mean \"upstream\"?");
    assert_error(&errors, "routes[0].upstream", "required key is missing");
    assert_error(&errors, "esignet.discovery_url", "invalid URL");
    assert_error(
        &errors,
        "routes[1].upstream",
        "unknown upstream \"ghost\" (known: portal)",
    );
    assert_eq!(errors.errors.len(), 5, "got:\n{errors}");
}

#[test]
fn unknown_keys_without_a_close_match_list_the_known_keys() {
    rejects(
        &[("logging.colour_scheme", "dark")],
        "logging.colour_scheme",
        "(known: format, level)",
    );
}

#[test]
fn display_prints_one_line_per_error_in_file_order() {
    let yaml = "routes: [{path: /, upstream: portl, auth: login}, {path: x, upstream: portal, auth: login}]\n\
                server: {threads: 0}\n\
                upstreams: {portal: {url: 'http://127.0.0.1:8000'}}\n";
    let errors = load_yaml(yaml).expect_err("invalid");
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), errors.errors.len());
    let position = |path: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("{path}: ")))
            .unwrap_or_else(|| panic!("{path} missing in:\n{text}"))
    };
    assert!(position("routes[0].upstream") < position("routes[1].path"));
    assert!(position("routes[1].path") < position("server.threads"));
    assert!(text.contains("routes[0].upstream: unknown upstream \"portl\" (known: portal)"));
}

#[test]
fn a_pruned_value_gets_no_follow_up_missing_error() {
    let errors = errors_with(&[("server.public_url", "[1, 2]")]);
    let at: Vec<_> = errors
        .iter()
        .filter(|e| e.path == "server.public_url")
        .collect();
    assert_eq!(at.len(), 1, "got:\n{errors}");
    assert!(
        at[0].message.contains("expected a string"),
        "got:\n{errors}"
    );
}

#[test]
fn a_removed_list_item_keeps_later_items_numbered_as_in_the_file() {
    let errors = errors_with(&[("routes", "[/oops, {path: /b, upstream: nope, auth: login}]")]);
    assert_error(&errors, "routes[0]", "expected a mapping");
    assert_error(&errors, "routes[1].upstream", "unknown upstream \"nope\"");
}

#[test]
fn yaml_syntax_errors_use_the_file_path_with_line_and_column() {
    let errors = load_yaml("server:\n  listen: [127.0.0.1\n").expect_err("syntax");
    assert_eq!(errors.errors.len(), 1);
    assert_eq!(errors.errors[0].path, FILE_PATH);
    assert!(errors.errors[0].message.contains("line "), "{errors}");
    assert!(errors.errors[0].message.contains("column "), "{errors}");
}

#[test]
fn a_top_level_list_is_a_file_error() {
    let errors = load_yaml("- server\n").expect_err("not a mapping");
    assert_error(&errors, FILE_PATH, "must be a mapping");
}

#[test]
fn an_empty_file_reports_each_required_key() {
    let errors = load_yaml("").expect_err("empty");
    for path in [
        "server.public_url",
        "esignet.client_id",
        "esignet.private_key",
        "session.cookie_keys",
        "identity.signing_keys",
        "upstreams",
        "routes",
    ] {
        assert_error(&errors, path, "required key is missing");
    }
}

#[test]
fn a_missing_file_is_a_file_error_naming_it() {
    let path = repo_root().join("does-not-exist.yaml");
    let errors = load(&path).expect_err("missing");
    assert_error(&errors, FILE_PATH, "does-not-exist.yaml");
}

#[test]
fn insecure_settings_lists_every_switch_that_is_on() {
    let config = config_with(&[
        ("esignet.insecure_allow_unsigned_userinfo", "true"),
        ("session.insecure_cookie_without_secure", "true"),
    ]);
    assert_eq!(
        insecure_settings(&config),
        [
            "esignet.insecure_allow_unsigned_userinfo",
            "session.insecure_cookie_without_secure"
        ]
    );
}

#[test]
fn relative_secret_files_resolve_against_the_config_directory() {
    let source = repo_root().join("certs/demo/gateway.yaml");
    let yaml = edited(&[("esignet.private_key", "{file: client.pem}")]);
    let yaml = yaml.replace("certs/demo/", "");
    let env = HashMap::<String, String>::new();
    let lookup = |name: &str| env.get(name).cloned();
    if let Err(errors) = load_str_with_env(&yaml, &source, &lookup) {
        panic!("relative paths did not resolve:\n{errors}");
    }
}

#[test]
fn yaml_anchors_and_merge_keys_share_route_settings() {
    let config = config_with(&[(
        "routes",
        "[&login {path: /, upstream: portal, auth: login}, {<<: *login, path: /apply}]",
    )]);
    assert_eq!(config.routes[1].path_prefix, "/apply");
    assert_eq!(config.routes[1].access, Access::Login);
}
