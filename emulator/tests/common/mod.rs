//! Helpers shared by the integration tests: start an emulator with a test client, script the
//! login page, build client assertions with `certs/demo/client.pem`, verify tokens via JWKS.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use esignet_emulator::{ClientRegistration, Emulator, EmulatorConfig, EsignetVersion};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use url::Url;

pub const CLIENT_ID: &str = "test-client";
pub const REDIRECT_URI: &str = "http://rp.test/cb";
pub const SIDDHARTH: &str = "8267411571";
pub const OTP: &str = "111111";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn client_jwk() -> Value {
    let text = std::fs::read_to_string(repo_root().join("certs/demo/client.jwk.json"))
        .expect("client.jwk.json");
    serde_json::from_str(&text).expect("client jwk json")
}

pub fn client_pem() -> Vec<u8> {
    std::fs::read(repo_root().join("certs/demo/client.pem")).expect("client.pem")
}

pub fn test_client() -> ClientRegistration {
    ClientRegistration::new(
        CLIENT_ID,
        client_jwk(),
        vec![
            REDIRECT_URI.to_string(),
            "http://rp.test/app/**".to_string(),
        ],
    )
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn start(version: EsignetVersion) -> Emulator {
    start_with(version, |_| {}).await
}

pub async fn start_with(
    version: EsignetVersion,
    tweak: impl FnOnce(&mut EmulatorConfig),
) -> Emulator {
    let mut config = EmulatorConfig::demo(&repo_root()).expect("demo config");
    config.version = version;
    config.clients.push(test_client());
    tweak(&mut config);
    Emulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The authorize URL with sensible defaults, overridden/extended by `params`
/// (a value of "" removes the default).
pub fn authorize_url(emu: &Emulator, params: &[(&str, &str)]) -> String {
    let nonce = random();
    let defaults = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid profile"),
        ("state", "state-123"),
        ("nonce", nonce.as_str()),
    ];
    let mut url = Url::parse(&format!("{}/authorize", emu.base_url())).expect("url");
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in defaults {
            match params.iter().find(|(pk, _)| *pk == k) {
                Some((_, "")) => {}
                Some((_, pv)) => {
                    query.append_pair(k, pv);
                }
                None => {
                    query.append_pair(k, v);
                }
            }
        }
        for (k, v) in params {
            if !defaults.iter().any(|(dk, _)| dk == k) {
                query.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

pub fn transaction_id(html: &str) -> String {
    let marker = r#"<input type="hidden" name="transaction_id" value=""#;
    let start = html.find(marker).expect("transaction_id input") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

pub fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "expected a redirect");
    response
        .headers()
        .get("location")
        .expect("location")
        .to_str()
        .expect("ascii")
        .to_string()
}

/// An authorize error shown on e-Signet's own page (never redirected): asserts a 400 without
/// `Location` and returns the error code shown.
pub async fn shown_error(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400, "expected the error page");
    assert!(
        response.headers().get("location").is_none(),
        "not redirected"
    );
    let html = response.text().await.expect("page");
    let start = html.find("<strong>").expect("error code") + "<strong>".len();
    let end = html[start..].find("</strong>").expect("end") + start;
    html[start..end].to_string()
}

pub fn query_param(location: &str, name: &str) -> Option<String> {
    Url::parse(location)
        .expect("location url")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// GET authorize and return the transaction id (panics if no login page).
pub async fn open_login(http: &reqwest::Client, url: &str) -> String {
    let response = http.get(url).send().await.expect("authorize");
    assert_eq!(response.status(), 200, "login page expected for {url}");
    transaction_id(&response.text().await.expect("body"))
}

pub async fn submit(
    http: &reqwest::Client,
    emu: &Emulator,
    tx: &str,
    individual_id: &str,
    otp: &str,
    method: &str,
) -> reqwest::Response {
    http.post(format!("{}/authorize", emu.base_url()))
        .form(&[
            ("transaction_id", tx),
            ("individual_id", individual_id),
            ("otp", otp),
            ("method", method),
        ])
        .send()
        .await
        .expect("submit")
}

/// Full browser part: authorize with `params`, log in Siddharth with OTP, return the callback URL.
pub async fn login(http: &reqwest::Client, emu: &Emulator, params: &[(&str, &str)]) -> String {
    let tx = open_login(http, &authorize_url(emu, params)).await;
    location(&submit(http, emu, &tx, SIDDHARTH, OTP, "otp").await)
}

pub async fn code_for(http: &reqwest::Client, emu: &Emulator, params: &[(&str, &str)]) -> String {
    let callback = login(http, emu, params).await;
    query_param(&callback, "code").expect("code in callback")
}

pub fn assertion_claims(emu: &Emulator) -> Value {
    let now = now();
    json!({
        "iss": CLIENT_ID, "sub": CLIENT_ID, "aud": emu.token_endpoint(),
        "iat": now - 1, "exp": now + 60, "jti": random(),
    })
}

pub fn sign_assertion(claims: &Value, alg: Algorithm, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let key = EncodingKey::from_rsa_pem(&client_pem()).expect("client key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

pub fn token_form(code: &str, assertion: &str) -> Vec<(String, String)> {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", CLIENT_ID),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn set(form: &mut Vec<(String, String)>, name: &str, value: &str) {
    form.retain(|(k, _)| k != name);
    form.push((name.to_string(), value.to_string()));
}

pub async fn post_token(
    http: &reqwest::Client,
    emu: &Emulator,
    form: &[(String, String)],
) -> (u16, Value) {
    let response = http
        .post(emu.token_endpoint())
        .form(form)
        .send()
        .await
        .expect("token");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Exchanges `code` with a fresh, valid RS256 assertion.
pub async fn exchange(http: &reqwest::Client, emu: &Emulator, code: &str) -> (u16, Value) {
    let assertion = sign_assertion(&assertion_claims(emu), Algorithm::RS256, None);
    post_token(http, emu, &token_form(code, &assertion)).await
}

pub async fn jwks(http: &reqwest::Client, emu: &Emulator) -> JwkSet {
    http.get(emu.jwks_url())
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json")
}

/// Verifies a JWS against the JWKS by kid, with alg in {RS256, PS256}; returns header and claims.
pub fn verify(
    token: &str,
    set: &JwkSet,
    audience: &str,
) -> Result<(jsonwebtoken::Header, Value), String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.clone().ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("unknown kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![Algorithm::RS256, Algorithm::PS256];
    validation.set_audience(&[audience]);
    validation.leeway = 5;
    // Userinfo has no exp; exp is still checked when present.
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    Ok((data.header, data.claims))
}

pub fn unverified(token: &str) -> (Value, Value) {
    use base64::Engine;
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |p: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .expect("b64");
        serde_json::from_slice(&bytes).expect("json")
    };
    (decode(parts[0]), decode(parts[1]))
}

pub async fn userinfo(
    http: &reqwest::Client,
    emu: &Emulator,
    access_token: &str,
) -> reqwest::Response {
    http.get(format!("{}/v1/esignet/oidc/userinfo", emu.base_url()))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
}
