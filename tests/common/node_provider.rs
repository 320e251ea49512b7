//! panva's certified `oidc-provider` (npm) as a test peer: started on a free
//! loopback port, driven through its dev interactions without a browser.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use esignet_emulator::DemoUpstream;

use super::*;

/// panva's oidc-provider as a child process; killed on drop.
pub struct NodeProvider {
    child: Child,
    /// Its issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider for `redirect_uri` and waits for its listen line.
pub async fn start_provider(redirect_uri: &str) -> NodeProvider {
    let root = repo_root();
    let dir = root.join("tests/interop");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci --prefix tests/interop` first (the README's test command does)"
    );
    let mut child = Command::new("node")
        .current_dir(&dir)
        .arg("provider.mjs")
        .arg(CLIENT_ID)
        .arg(redirect_uri)
        .arg(root.join("certs/demo/client.jwk.json"))
        .arg(root.join("certs/demo/esignet-signing.pem"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
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
    let issuer = line
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no listen line from oidc-provider: {line:?}"))
        .to_string();
    NodeProvider { child, issuer }
}

/// Follows the provider's dev interactions (login, then consent) until it
/// redirects to the gateway's callback, and returns that URL.
pub async fn provider_login(
    browser: &Browser,
    authorize_url: &str,
    callback_prefix: &str,
) -> String {
    let mut url = authorize_url.to_string();
    for _ in 0..12 {
        if url.starts_with(callback_prefix) {
            return url;
        }
        let response = browser.navigate(&url).await;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            url = resolve(&url, &location(&response));
            continue;
        }
        assert_eq!(status, 200, "unexpected answer at {url}");
        let page = response.text().await.unwrap();
        let form: &[(&str, &str)] = if page.contains("name=\"login\"") {
            &[("prompt", "login"), ("login", "alice"), ("password", "any")]
        } else {
            &[("prompt", "consent")]
        };
        let posted = browser.client.post(&url).form(form).send().await.unwrap();
        assert!(
            posted.status().is_redirection(),
            "interaction POST at {url}"
        );
        url = resolve(&url, &location(&posted));
    }
    panic!("the provider never redirected back to the gateway");
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// oidc-provider + demo upstream + a gateway configured for that provider.
pub struct ProviderEnv {
    /// The provider.
    pub provider: NodeProvider,
    /// The demo portal.
    pub upstream: DemoUpstream,
    /// The gateway.
    pub gateway: Gateway,
    /// The gateway's base URL.
    pub base: String,
    /// The gateway's callback URL.
    pub callback: String,
}

impl ProviderEnv {
    /// Starts everything; the gateway is ready when this returns.
    pub async fn start() -> ProviderEnv {
        let root = repo_root();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let callback = format!("{base}/_gateway/callback");
        let provider = start_provider(&callback).await;
        let upstream = DemoUpstream::start(
            "127.0.0.1:0".parse().unwrap(),
            Some(format!("{base}/_gateway/jwks.json")),
            Some("g2p-portal".into()),
        )
        .await
        .unwrap();
        let certs = root.join("certs/demo");
        let file = |name: &str| serde_json::json!({ "file": certs.join(name).to_string_lossy() });
        let config = serde_json::json!({
            "server": {
                "listen": format!("127.0.0.1:{port}"),
                "admin_listen": "127.0.0.1:0",
                "public_url": base,
                "grace_period": "1s",
            },
            "esignet": {
                "client_id": CLIENT_ID,
                "discovery_url": format!("{}/.well-known/openid-configuration", provider.issuer),
                "private_key": file("client.pem"),
                "scope": "openid profile email phone address",
                "acr_values": [],
            },
            "session": { "cookie_keys": [file("cookie.key")], "insecure_cookie_without_secure": true },
            "identity": { "signing_keys": [file("gateway-signing.pem")] },
            "upstreams": { "portal": { "url": upstream.base_url() } },
            "routes": [{ "path": "/", "upstream": "portal", "auth": "login" }],
        });
        let gateway = spawn_gateway(&config).await;
        ProviderEnv {
            provider,
            upstream,
            gateway,
            base,
            callback,
        }
    }

    /// A full login of `browser` through the provider; returns the callback response.
    pub async fn login(&self, browser: &Browser, path: &str) -> reqwest::Response {
        let start = browser.start_login(&format!("{}{path}", self.base)).await;
        let back = provider_login(browser, &start.authorize_url, &self.callback).await;
        browser.navigate(&back).await
    }
}
