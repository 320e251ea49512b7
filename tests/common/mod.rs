//! Test harness: the real gateway binary in front of the demo upstream, with
//! the e-Signet emulator as identity provider, all on 127.0.0.1 free ports.
//!
//! A test reads as a story: start an [`Env`], drive a [`Browser`] through a
//! login, assert on what the upstream received.

#![allow(dead_code)]

pub mod node_provider;

pub mod redis;

pub mod wait;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use esignet_emulator::{
    ClientRegistration, DemoUpstream, Emulator, EmulatorConfig, EsignetVersion,
};
use serde_json::Value;

/// The client id the tests register with the emulator.
pub const CLIENT_ID: &str = "g2p-test-portal";
/// The demo identity used for logins.
pub const INDIVIDUAL_ID: &str = "8267411571";

/// The repository root (where `gateway.yaml` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback port, reserved by binding and released for the gateway.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The gateway process; killed on drop.
pub struct Gateway {
    child: Child,
    /// Proxy base URL, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
    /// Admin base URL.
    pub admin_url: String,
    /// Captured stderr (logs), for assertions on what is logged.
    pub log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// The admin listener's Prometheus text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Everything the gateway logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The process id (to send signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The config file the gateway was started with (rewrite it, then SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self._dir.path().join("gateway.yaml")
    }

    /// Sends `signal` (e.g. `HUP`, `TERM`) to the gateway with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (bounded) for the process to exit and returns its status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait::within_blocking(limit, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }
}

/// Options for [`Env::start`].
pub struct EnvOptions {
    /// e-Signet version to emulate.
    pub version: EsignetVersion,
    /// Edits applied to the generated gateway config.
    pub edit: Box<dyn FnOnce(&mut Value) + Send>,
    /// Edits applied to the emulator's config before it starts (issuer mismatch…).
    pub emulator_edit: Box<dyn FnOnce(&mut EmulatorConfig) + Send>,
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            version: EsignetVersion::V1_8,
            edit: Box::new(|_| {}),
            emulator_edit: Box::new(|_| {}),
        }
    }
}

/// Emulator + demo upstream + gateway.
pub struct Env {
    /// The e-Signet emulator.
    pub emulator: Emulator,
    /// The demo upstream (echoes what it receives).
    pub upstream: DemoUpstream,
    /// The gateway process.
    pub gateway: Gateway,
}

impl Env {
    /// Starts everything and waits until the gateway is ready.
    pub async fn start(options: EnvOptions) -> Env {
        let root = repo_root();
        let mut emu_config = EmulatorConfig::demo(&root).expect("demo emulator config");
        emu_config.version = options.version;
        (options.emulator_edit)(&mut emu_config);
        let emulator = Emulator::start(emu_config, loopback())
            .await
            .expect("emulator starts");
        let port = free_port();
        let base_url = format!("http://127.0.0.1:{port}");
        register_gateway_client(&emulator, &base_url);
        let jwks_url = format!("{base_url}/_gateway/jwks.json");
        let upstream = DemoUpstream::start(loopback(), Some(jwks_url), Some("g2p-portal".into()))
            .await
            .expect("upstream starts");
        let mut config = gateway_config(&root, port, &emulator, &upstream);
        (options.edit)(&mut config);
        let gateway = spawn_gateway(&config).await;
        Env {
            emulator,
            upstream,
            gateway,
        }
    }

    /// A fresh browser (its own cookie jar).
    pub fn browser(&self) -> Browser {
        Browser::new()
    }

    /// A URL on the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.base_url)
    }
}

/// Registers the tests' client ([`CLIENT_ID`], the demo key) with the
/// emulator, for a gateway at `base_url`.
pub fn register_gateway_client(emulator: &Emulator, base_url: &str) {
    let public_jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("certs/demo/client.jwk.json")).unwrap(),
    )
    .unwrap();
    emulator.register_client(ClientRegistration::new(
        CLIENT_ID,
        public_jwk,
        vec![format!("{base_url}/_gateway/callback")],
    ));
}

/// The values of header `name` as the demo upstream echoed them.
pub fn echoed_header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The gateway config the tests start from, as YAML.
pub fn gateway_config(
    root: &Path,
    port: u16,
    emulator: &Emulator,
    upstream: &DemoUpstream,
) -> Value {
    let certs = root.join("certs/demo");
    let file = |name: &str| serde_json::json!({ "file": certs.join(name).to_string_lossy() });
    serde_json::json!({
        "server": {
            "listen": format!("127.0.0.1:{port}"),
            "admin_listen": "127.0.0.1:0",
            "public_url": format!("http://127.0.0.1:{port}"),
            "threads": 2,
            "grace_period": "1s",
        },
        "esignet": {
            "client_id": CLIENT_ID,
            "discovery_url": emulator.discovery_url(),
            "private_key": file("client.pem"),
            "claims_locales": "en",
            "jwks_min_refresh_interval": "30s",
        },
        "session": {
            "cookie_keys": [file("cookie.key")],
            "insecure_cookie_without_secure": true,
        },
        "identity": {
            "signing_keys": [file("gateway-signing.pem")],
        },
        "upstreams": { "portal": { "url": upstream.base_url() } },
        "routes": [
            { "name": "portal", "path": "/", "upstream": "portal", "auth": "login" },
            { "name": "public", "path": "/public", "upstream": "portal", "auth": "public" },
        ],
        "logging": { "format": "json", "level": "info" },
    })
}

/// The demo e-Signet emulator and a demo upstream that checks no identity,
/// both on free loopback ports: the parts of a gateway test that start the
/// gateway binary themselves.
pub async fn demo_idp_and_upstream() -> (Emulator, DemoUpstream) {
    let config = EmulatorConfig::demo(&repo_root()).expect("demo emulator config");
    let emulator = Emulator::start(config, loopback())
        .await
        .expect("emulator starts");
    let upstream = DemoUpstream::start(loopback(), None, None)
        .await
        .expect("upstream starts");
    (emulator, upstream)
}

/// Writes `config` as YAML to `dir/name`; returns the path.
pub fn write_config(dir: &Path, name: &str, config: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml::to_string(config).unwrap()).unwrap();
    path
}

/// A child process killed (and reaped) when the test ends, pass or panic.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `config` to a temp dir, starts the gateway binary and waits for `/readyz`.
pub async fn spawn_gateway(config: &Value) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "gateway.yaml", config);
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("gateway starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let read = reader.read_line(&mut line).map(|_| line);
        // Keep draining: a closed pipe would kill the child at its next print.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        read
    })
    .await
    .unwrap()
    .unwrap();
    // "g2p-gateway listening on http://ADDR (admin http://ADDR)"
    let mut urls = line
        .split_whitespace()
        .filter(|w| w.contains("http://"))
        .map(|w| w.trim_start_matches('(').trim_end_matches(')').to_string());
    let gateway = Gateway {
        base_url: urls.next().unwrap_or_else(|| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("no listen line: {line:?}; gateway log:\n{log}")
        }),
        admin_url: urls.next().expect("admin url"),
        child,
        log_path,
        _dir: dir,
    };
    wait_ready(&gateway).await;
    gateway
}

/// Polls `/readyz` until it answers 200 (the gateway has loaded discovery and JWKS).
async fn wait_ready(gateway: &Gateway) {
    let client = reqwest::Client::new();
    let ready = wait::within(Duration::from_secs(60), || async {
        let ready = client
            .get(format!("{}/readyz", gateway.admin_url))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        // The admin and proxy services start on their own threads: under
        // load /readyz can answer before the proxy port accepts.
        let proxy_up = tokio::net::TcpStream::connect(
            gateway
                .base_url
                .trim_start_matches("http://")
                .trim_start_matches("https://"),
        )
        .await
        .is_ok();
        ready && proxy_up
    })
    .await;
    assert!(
        ready.is_some(),
        "gateway not ready; logs:\n{}",
        gateway.logs()
    );
}

/// A scripted browser: a cookie jar, no automatic redirects.
pub struct Browser {
    /// The HTTP client.
    pub client: reqwest::Client,
}

/// One hop of a login, for tests that tamper with the flow.
pub struct LoginRedirect {
    /// The authorize URL the gateway sent the browser to.
    pub authorize_url: String,
}

impl Browser {
    /// A new browser with an empty cookie jar.
    pub fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// A top-level navigation (GET, Accept: text/html).
    pub async fn navigate(&self, url: &str) -> reqwest::Response {
        self.client
            .get(url)
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap()
    }

    /// A `fetch()`-like JSON request.
    pub async fn fetch_json(&self, url: &str) -> reqwest::Response {
        self.client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
    }

    /// Signs out the way the gateway's logout page does: a form POST to
    /// `url` (`<prefix>/logout[?return_to=…]`) from the gateway's own origin.
    pub async fn logout(&self, url: &str) -> reqwest::Response {
        self.client
            .post(url)
            .header("accept", "text/html")
            .header("origin", origin_of(url))
            .send()
            .await
            .unwrap()
    }

    /// Navigates to `url` on a protected route and returns the provider redirect.
    pub async fn start_login(&self, url: &str) -> LoginRedirect {
        let response = self.navigate(url).await;
        assert_eq!(
            response.status(),
            302,
            "expected a login redirect for {url}"
        );
        LoginRedirect {
            authorize_url: location(&response),
        }
    }

    /// Logs in at the emulator and returns the callback URL it redirects to
    /// (not yet followed).
    pub async fn authenticate(&self, authorize_url: &str, individual_id: &str) -> String {
        self.authenticate_with(authorize_url, individual_id, "otp")
            .await
    }

    /// Like [`Browser::authenticate`] with a chosen method (`otp`, `biometrics`, `pin`).
    pub async fn authenticate_with(
        &self,
        authorize_url: &str,
        individual_id: &str,
        method: &str,
    ) -> String {
        let page = self.navigate(authorize_url).await;
        assert_eq!(page.status(), 200, "authorize page");
        let html = page.text().await.unwrap();
        let transaction = extract_hidden(&html, "transaction_id").expect("transaction_id in page");
        let action = authorize_url.split('?').next().unwrap();
        let response = self
            .client
            .post(action)
            .form(&[
                ("transaction_id", transaction.as_str()),
                ("individual_id", individual_id),
                ("otp", "111111"),
                ("method", method),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "login form should redirect");
        location(&response)
    }

    /// The whole login: protected URL → provider → callback → back to the URL.
    /// Returns the callback's response (the redirect back).
    pub async fn login(&self, url: &str) -> reqwest::Response {
        let start = self.start_login(url).await;
        let callback = self.authenticate(&start.authorize_url, INDIVIDUAL_ID).await;
        self.navigate(&callback).await
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

/// A finished command's exit code (-1 for a signal) and its stdout and
/// stderr together, for the CLI tests.
pub fn exit_code_and_text(output: &std::process::Output) -> (i32, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// `scheme://host:port` of a URL.
pub fn origin_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    parsed.origin().ascii_serialization()
}

/// The value of one Prometheus sample (`name{labels}`), 0 when absent.
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The `name=value` part of the `Set-Cookie` header for cookie `name`, if
/// the response sets it to a non-empty value.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .find(|c| c.len() > name.len() + 1 && c.starts_with(&format!("{name}=")))
}

/// The `Location` header.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The value of `<input type="hidden" name="NAME" value="...">`.
pub fn extract_hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// Replaces a query parameter's value in a URL.
pub fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            if k == name {
                (k.into_owned(), value.to_string())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

/// A query parameter's value.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Sends `request` verbatim over a new TCP connection and returns the status
/// code of the answer (for paths and headers an HTTP client would normalise).
pub async fn raw_request(base_url: &str, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Reads until the server closes the connection; `true` if it did within `limit`.
pub async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}
