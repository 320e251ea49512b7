//! `g2p-gateway register` against the e-Signet emulator's client-registration
//! APIs: the three targets, updates, `--dry-run`, every refusal (HTTP 200 with
//! `errors[]`), and a freshly generated and registered client that logs in.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use esignet_emulator::emulator::DEFAULT_ADMIN_TOKEN as DEFAULT_ADMIN_TOKEN_FOR_TESTS;
use esignet_emulator::{DemoUpstream, Emulator};
use g2p_gateway::cli::register::bodies::{create_body, request_time_now, Registration, Target};
use serde_json::{json, Value};

const TOKEN_VAR: &str = "G2P_TEST_ADMIN_TOKEN";

struct Setup {
    emulator: Emulator,
    upstream: DemoUpstream,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (emulator, upstream) = demo_idp_and_upstream().await;
    Setup {
        emulator,
        upstream,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// Writes a gateway config for `client_id` with `key` as the client key; returns its path
    /// and the config.
    fn config(
        &self,
        name: &str,
        client_id: &str,
        key: &Path,
        edit: impl FnOnce(&mut Value),
    ) -> (PathBuf, Value) {
        let port = free_port();
        let mut config = gateway_config(&repo_root(), port, &self.emulator, &self.upstream);
        config["esignet"]["client_id"] = json!(client_id);
        config["esignet"]["private_key"] = json!({ "file": key.to_string_lossy() });
        edit(&mut config);
        let path = write_config(self.dir.path(), &format!("{name}.yaml"), &config);
        (path, config)
    }

    fn register(&self, config: &Path, args: &[&str]) -> Output {
        self.register_with_token(config, args, Some(DEFAULT_ADMIN_TOKEN_FOR_TESTS))
    }

    fn register_with_token(&self, config: &Path, args: &[&str], token: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"));
        command
            .arg("register")
            .arg("--config")
            .arg(config)
            .args(["--api-url", &self.emulator.base_url()])
            .args(args)
            .env_remove(TOKEN_VAR);
        if let Some(token) = token {
            command
                .env(TOKEN_VAR, token)
                .args(["--token-env", TOKEN_VAR]);
        }
        command.output().expect("g2p-gateway runs")
    }
}

fn demo_key(name: &str) -> PathBuf {
    repo_root().join("certs/demo").join(name)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "register failed:\n{}{}",
        stdout(o),
        stderr(o)
    );
}

/// The command failed with exit code `code` and printed `needle`.
fn assert_refused(o: &Output, code: i32, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\n{}{}",
        stdout(o),
        stderr(o)
    );
    assert!(
        stderr(o).contains(needle),
        "expected {needle:?} in:\n{}",
        stderr(o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_and_registered_client_logs_in() {
    let setup = setup().await;
    let key = setup.dir.path().join("client.pem");
    let keygen = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["keygen", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert_ok(&keygen);
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(setup.dir.path().join("client.jwk.json")).unwrap(),
    )
    .unwrap();
    let (path, config) = setup.config("e2e", "operator-e2e", &key, |_| {});
    let out = setup.register(
        &path,
        &["--target", "oauth-client", "--client-name", "Operator E2E"],
    );
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("registered OIDC client operator-e2e (status ACTIVE)"),
        "{text}"
    );
    assert!(
        text.contains("\nesignet:\n  client_id: operator-e2e\n"),
        "{text}"
    );
    assert!(text.contains(jwk["kid"].as_str().unwrap()), "{text}");

    let gateway = spawn_gateway(&config).await;
    let browser = Browser::new();
    let home = format!("{}/home", gateway.base_url);
    let back = browser.login(&home).await;
    assert_eq!(back.status(), 302, "callback redirects back");
    assert_eq!(location(&back), "/home");
    let page = browser.fetch_json(&home).await;
    assert_eq!(page.status(), 200);
    let seen: Value = page.json().await.unwrap();
    let psut = setup.emulator.expected_sub(INDIVIDUAL_ID, "operator-e2e");
    // The signed identity's subject (the upstream here checks no signature).
    let subjects: Vec<String> = seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == "x-g2p-identity")
        .map(|pair| {
            use base64::Engine;
            let payload = pair[1].as_str().unwrap().split('.').nth(1).unwrap();
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap();
            let claims: Value = serde_json::from_slice(&json).unwrap();
            claims["sub"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(subjects, vec![psut], "logged in as the new client");
    // The token request was authenticated with the new key.
    let request = setup.emulator.token_requests().pop().unwrap();
    assert_eq!(request.status, 200);
    assert_eq!(
        request.assertion_claims.as_ref().unwrap()["iss"],
        "operator-e2e"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_registers_and_updates() {
    let setup = setup().await;
    // oidc-client (V1).
    let (v1, _) = setup.config(
        "v1",
        "operator-v1",
        &demo_key("gateway-signing.pem"),
        |_| {},
    );
    let out = setup.register(
        &v1,
        &[
            "--target",
            "oidc-client",
            "--logo-uri",
            "https://portal.example.org/logo.png",
        ],
    );
    assert_ok(&out);
    assert!(stdout(&out).contains("client_id: operator-v1"));
    let update = setup.register(
        &v1,
        &[
            "--target",
            "oidc-client",
            "--update",
            "--redirect-uri",
            "https://portal.example.org/_gateway/callback",
        ],
    );
    assert_ok(&update);
    assert!(stdout(&update).contains("updated OIDC client operator-v1"));

    // oauth-client (V2) and its update.
    let (v2, _) = setup.config(
        "v2",
        "operator-v2",
        &demo_key("id-system-signing.pem"),
        |_| {},
    );
    assert_ok(&setup.register(&v2, &["--target", "oauth-client", "--lang", "fra"]));
    assert_ok(&setup.register(&v2, &["--target", "oauth-client", "--update"]));

    // PMS generates the client id; the gateway.yaml lines carry it.
    let (pms, _) = setup.config(
        "pms",
        "placeholder",
        &demo_key("esignet-signing.pem"),
        |_| {},
    );
    let out = setup.register(
        &pms,
        &[
            "--target",
            "pms",
            "--policy-id",
            "mpolicy-default-openg2p",
            "--partner-id",
            "openg2p-auth-partner",
        ],
    );
    assert_ok(&out);
    let text = stdout(&out);
    let generated = text
        .lines()
        .find_map(|l| l.strip_prefix("  client_id: "))
        .expect("client_id line")
        .to_string();
    assert_ne!(generated, "placeholder");
    assert!(text.contains("still says client_id: placeholder"), "{text}");
    let out = setup.register(
        &pms,
        &[
            "--target",
            "pms",
            "--update",
            &format!("--client-id={generated}"),
        ],
    );
    assert_ok(&out);
    assert!(stdout(&out).contains(&format!("updated OIDC client {generated}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_reported_with_their_error_codes() {
    let setup = setup().await;
    let key = demo_key("gateway-signing.pem");
    let (path, _) = setup.config("dup", "operator-dup", &key, |_| {});
    assert_ok(&setup.register(&path, &["--target", "oidc-client"]));
    // Same client id again (HTTP 200 with errors[]).
    let (again, _) = setup.config(
        "dup2",
        "operator-dup",
        &demo_key("id-system-signing.pem"),
        |_| {},
    );
    assert_refused(
        &setup.register(&again, &["--target", "oidc-client"]),
        1,
        "duplicate_client_id:",
    );
    // Same key under another id: the demo client already uses client.pem.
    let (dup_key, _) = setup.config("dupkey", "operator-other", &demo_key("client.pem"), |_| {});
    assert_refused(
        &setup.register(&dup_key, &["--target", "oauth-client"]),
        1,
        "duplicate_public_key:",
    );
    // Claims and ACRs outside discovery; both reported at once.
    let (bad, _) = setup.config(
        "bad",
        "operator-bad",
        &demo_key("id-system-signing.pem"),
        |c| {
            c["esignet"]["user_claims"] = json!(["name", "favourite_colour"]);
            c["esignet"]["acr_values"] = json!("mosip:idp:acr:retina-scan");
        },
    );
    let out = setup.register(&bad, &["--target", "oidc-client"]);
    assert_refused(&out, 1, "invalid_claim:");
    assert!(stderr(&out).contains("favourite_colour"));
    assert!(stderr(&out).contains("invalid_acr:"));
    // Updating an unknown client.
    assert_refused(
        &setup.register(
            &path,
            &[
                "--target",
                "oidc-client",
                "--update",
                "--client-id",
                "nobody",
            ],
        ),
        1,
        "invalid_client_id:",
    );
    // Wrong token: 401.
    assert_refused(
        &setup.register_with_token(&path, &["--target", "oidc-client"], Some("wrong")),
        1,
        "refused the admin token",
    );
    // No token at all, or from a file that is missing: a usage error before anything is sent.
    assert_refused(
        &setup.register_with_token(&path, &["--target", "oidc-client"], None),
        64,
        "--token-env VAR or --token-file PATH",
    );
    assert_refused(
        &setup.register_with_token(
            &path,
            &[
                "--target",
                "oidc-client",
                "--token-file",
                "/nonexistent/token",
            ],
            None,
        ),
        64,
        "cannot read --token-file",
    );
    // A token file works.
    let token_file = setup.dir.path().join("token");
    std::fs::write(&token_file, format!("{DEFAULT_ADMIN_TOKEN_FOR_TESTS}\n")).unwrap();
    let (fresh, _) = setup.config(
        "fresh",
        "operator-fresh",
        &demo_key("esignet-signing.pem"),
        |_| {},
    );
    assert_ok(&setup.register_with_token(
        &fresh,
        &[
            "--target",
            "oidc-client",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        None,
    ));
    // PMS without a policy.
    assert_refused(
        &setup.register(&path, &["--target", "pms"]),
        64,
        "--policy-id",
    );
    // The token is never printed.
    let out = setup.register(&again, &["--target", "oidc-client"]);
    assert!(!stdout(&out).contains(DEFAULT_ADMIN_TOKEN_FOR_TESTS));
    assert!(!stderr(&out).contains(DEFAULT_ADMIN_TOKEN_FOR_TESTS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_exact_body_and_sends_nothing() {
    let setup = setup().await;
    let key = demo_key("gateway-signing.pem");
    let (path, config) = setup.config("dry", "operator-dry", &key, |_| {});
    let out = setup.register_with_token(&path, &["--target", "oauth-client", "--dry-run"], None);
    assert_ok(&out);
    let text = stdout(&out);
    let (first, body) = text.split_once('\n').unwrap();
    assert_eq!(
        first,
        format!(
            "POST {}/v1/esignet/client-mgmt/oauth-client",
            setup.emulator.base_url()
        )
    );
    let body: Value = serde_json::from_str(body).expect("the body is JSON");
    let request = &body["request"];
    assert_eq!(request["clientId"], "operator-dry");
    assert_eq!(
        request["redirectUris"],
        json!([format!(
            "{}/_gateway/callback",
            config["server"]["public_url"].as_str().unwrap()
        )])
    );
    assert_eq!(request["grantTypes"], json!(["authorization_code"]));
    assert_eq!(request["clientAuthMethods"], json!(["private_key_jwt"]));
    assert_eq!(request["clientNameLangMap"], json!({"eng": "operator-dry"}));
    assert_eq!(request["relyingPartyId"], "openg2p-auth-partner");
    let pem = std::fs::read(&key).unwrap();
    let jwk = g2p_gateway::shared::keys::SigningKey::from_pem(&pem)
        .unwrap()
        .public_jwk;
    assert_eq!(request["publicKey"], jwk);
    assert_eq!(body["requestTime"].as_str().unwrap().len(), 24);
    // Nothing was registered: the real call succeeds afterwards.
    assert_ok(&setup.register(&path, &["--target", "oauth-client"]));
    // Update dry-run: PUT to the client's path, without the key.
    let out = setup.register_with_token(&path, &["--target", "pms", "--update", "--dry-run"], None);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "PUT {}/v1/partnermanager/oidc/client/operator-dry\n",
            setup.emulator.base_url()
        )),
        "{text}"
    );
    assert!(!text.contains("publicKey"));
}

/// An edit of a request body.
type Edit = Box<dyn Fn(&mut Value)>;

/// Raw requests for the refusals the CLI never produces (it validates first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_refuses_malformed_registrations_with_http_200() {
    let setup = setup().await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/v1/esignet/client-mgmt/oidc-client",
        setup.emulator.base_url()
    );
    let pem = std::fs::read(demo_key("gateway-signing.pem")).unwrap();
    let jwk = g2p_gateway::shared::keys::SigningKey::from_pem(&pem)
        .unwrap()
        .public_jwk;
    let registration = Registration {
        client_id: "raw-client".into(),
        client_name: "Raw".into(),
        lang: "eng".into(),
        public_jwk: jwk.clone(),
        relying_party_id: "openg2p-auth-partner".into(),
        partner_id: String::new(),
        policy_id: String::new(),
        logo_uri: "https://portal.example.org/logo.png".into(),
        redirect_uris: vec!["https://portal.example.org/_gateway/callback".into()],
        user_claims: vec!["name".into()],
        acrs: vec!["mosip:idp:acr:generated-code".into()],
    };
    let good = create_body(Target::OidcClient, &registration, &request_time_now());
    let send = |body: Value| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let response = client
                .post(&url)
                .bearer_auth(DEFAULT_ADMIN_TOKEN_FOR_TESTS)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "errors come with HTTP 200");
            response.json::<Value>().await.unwrap()
        }
    };
    let codes = |answer: &Value| -> Vec<String> {
        answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["errorCode"].as_str().unwrap().to_string())
            .collect()
    };
    let cases: Vec<(&str, Edit)> = vec![
        (
            "invalid_request_time",
            Box::new(|b| b["requestTime"] = json!("2020-01-01T00:00:00.000Z")),
        ),
        (
            "invalid_request_time",
            Box::new(|b| b["requestTime"] = json!("2026-01-01 00:00:00")),
        ),
        (
            "invalid_redirect_uri",
            Box::new(|b| b["request"]["redirectUris"] = json!([])),
        ),
        (
            "invalid_redirect_uri",
            Box::new(|b| b["request"]["redirectUris"] = json!(["not a url"])),
        ),
        (
            "invalid_redirect_uri",
            Box::new(|b| {
                b["request"]["redirectUris"] = json!((0..6)
                    .map(|i| format!("https://p{i}.example.org/cb"))
                    .collect::<Vec<_>>())
            }),
        ),
        (
            "invalid_public_key",
            Box::new(|b| b["request"]["publicKey"]["kty"] = json!("EC")),
        ),
        (
            "invalid_public_key",
            Box::new(|b| b["request"]["publicKey"]["d"] = json!("private")),
        ),
        (
            "invalid_public_key",
            Box::new(|b| b["request"]["publicKey"]["x5c"] = json!(["A".repeat(1024)])),
        ),
        (
            "invalid_client_id",
            Box::new(|b| b["request"]["clientId"] = json!("has space")),
        ),
        (
            "invalid_claim",
            Box::new(|b| b["request"]["userClaims"] = json!(["shoe_size"])),
        ),
        (
            "invalid_acr",
            Box::new(|b| b["request"]["authContextRefs"] = json!([])),
        ),
        (
            "invalid_grant_type",
            Box::new(|b| b["request"]["grantTypes"] = json!(["implicit"])),
        ),
        (
            "invalid_client_auth",
            Box::new(|b| b["request"]["clientAuthMethods"] = json!(["client_secret_basic"])),
        ),
    ];
    for (expected, edit) in &cases {
        let mut body = good.clone();
        edit(&mut body);
        let answer = send(body.clone()).await;
        assert!(
            codes(&answer).iter().any(|c| c == expected),
            "{expected} for {body}: {answer}"
        );
        assert!(answer["response"].is_null());
    }
    // Missing bearer token: 401 before any validation.
    let response = client.post(&url).json(&good).send().await.unwrap();
    assert_eq!(response.status(), 401);
    // The unmodified body is accepted, once.
    let answer = send(good.clone()).await;
    assert_eq!(
        answer["response"],
        json!({"clientId": "raw-client", "status": "ACTIVE"}),
        "{answer}"
    );
    assert_eq!(answer["errors"], json!([]));
    assert_eq!(codes(&send(good).await), vec!["duplicate_client_id"]);
}
