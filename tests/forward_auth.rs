//! Forward-auth mode through a real nginx (Debian's) configured with
//! `auth_request`, the way nginx-ingress uses `auth-url`/`auth-signin`; and
//! Traefik ForwardAuth's conventions (`X-Forwarded-Uri`, redirect answers).

mod common;

use std::process::{Child, Command, Stdio};

use common::wait::within;
use common::*;
use esignet_emulator::{ClientRegistration, DemoUpstream, Emulator, EmulatorConfig};
use serde_json::Value;

/// An nginx master process with its own prefix directory; stopped on drop.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_config(port: u16, gateway: &str, upstream: &str, dir: &std::path::Path) -> String {
    let user = if unsafe_is_root() { "user root;" } else { "" };
    let d = dir.display();
    format!(
        r#"{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /_gateway/ {{
      proxy_pass {gateway};
      proxy_set_header Host $http_host;
    }}
    location = /_auth {{
      internal;
      proxy_pass {gateway}/_gateway/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
    location / {{
      auth_request /_auth;
      auth_request_set $g2p_identity $upstream_http_x_g2p_identity;
      auth_request_set $g2p_reg_id $upstream_http_x_g2p_reg_id;
      proxy_set_header X-G2P-Identity $g2p_identity;
      proxy_set_header X-G2P-Reg-Id $g2p_reg_id;
      error_page 401 = @signin;
      proxy_pass {upstream};
    }}
    location @signin {{
      return 302 /_gateway/login?return_to=$uri;
    }}
  }}
}}
"#
    )
}

fn unsafe_is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
}

async fn start_nginx(port: u16, gateway: &str, upstream: &str) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, nginx_config(port, gateway, upstream, dir.path())).unwrap();
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("-v")
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("nginx is installed (scripts/test installs it)");
    let child = Command::new(nginx)
        .args(["-c"])
        .arg(&conf)
        .args(["-p"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until nginx accepts connections (bounded poll on the condition).
    let up = within(std::time::Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(
        up.is_some(),
        "nginx did not start: {}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    Nginx { child, dir }
}

#[tokio::test]
async fn nginx_auth_request_logs_in_and_forwards_the_identity() {
    let root = repo_root();
    let emulator = Emulator::start(
        EmulatorConfig::demo(&root).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let nginx_port = free_port();
    let site = format!("http://127.0.0.1:{nginx_port}");
    let upstream = DemoUpstream::start(
        "127.0.0.1:0".parse().unwrap(),
        Some(format!("{site}/_gateway/jwks.json")),
        Some("g2p-portal".into()),
    )
    .await
    .unwrap();
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("certs/demo/client.jwk.json")).unwrap(),
    )
    .unwrap();
    emulator.register_client(ClientRegistration::new(
        CLIENT_ID,
        jwk,
        vec![format!("{site}/_gateway/callback")],
    ));
    let gateway_port = free_port();
    let mut config = gateway_config(&root, gateway_port, &emulator, &upstream);
    // Browsers reach the gateway through nginx: that is the public URL.
    config["server"]["public_url"] = site.clone().into();
    config["routes"] = serde_json::json!([
        { "path": "/", "upstream": "portal", "auth": "login" },
        { "path": "/public", "upstream": "portal", "auth": "public" },
        { "name": "women", "path": "/women", "upstream": "portal", "auth": "login",
          "policy": { "claim": { "name": "gender", "equals": "Female" } } },
    ]);
    config["forward_auth"] = serde_json::json!({ "source": "nginx" });
    let gateway = spawn_gateway(&config).await;
    let nginx = start_nginx(nginx_port, &gateway.base_url, &upstream.base_url()).await;

    let browser = Browser::new();
    // No session: nginx turns the 401 into the sign-in redirect.
    let first = browser.navigate(&format!("{site}/benefits")).await;
    assert_eq!(
        first.status(),
        302,
        "nginx error: {}",
        std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
    );
    assert_eq!(
        location(&first),
        format!("{site}/_gateway/login?return_to=/benefits")
    );
    let start = browser.start_login(&location(&first)).await;
    let callback = browser
        .authenticate(&start.authorize_url, INDIVIDUAL_ID)
        .await;
    assert!(
        callback.starts_with(&site),
        "the callback goes through nginx"
    );
    let back = browser.navigate(&callback).await;
    assert_eq!(location(&back), "/benefits");

    // With the session, nginx forwards the identity the gateway vouched for.
    let seen: Value = browser
        .client
        .get(format!("{site}/benefits"))
        .header("accept", "application/json")
        .header("x-g2p-identity", "forged")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["identity"]["verified"], true, "{seen}");
    let psut = emulator.expected_sub(INDIVIDUAL_ID, CLIENT_ID);
    assert_eq!(seen["identity"]["claims"]["sub"], psut.as_str());

    // Public routes pass; policies apply (403 from the auth request).
    let public = browser.fetch_json(&format!("{site}/public/x")).await;
    assert_eq!(public.status(), 200);
    let denied = browser.fetch_json(&format!("{site}/women")).await;
    assert_eq!(denied.status(), 403);
}

#[tokio::test]
async fn traefik_style_requests_get_redirects_for_browsers_and_401_for_apis() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["forward_auth"] = serde_json::json!({ "source": "traefik" });
        }),
        ..Default::default()
    })
    .await;
    let auth = |accept: &'static str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(env.url("/_gateway/auth"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "127.0.0.1")
            .header("x-forwarded-uri", "/benefits?x=1")
            .header("accept", accept)
            .send()
    };
    let browser = auth("text/html").await.unwrap();
    assert_eq!(browser.status(), 302);
    assert!(location(&browser).starts_with(&env.emulator.base_url()));
    let api = auth("application/json").await.unwrap();
    assert_eq!(api.status(), 401);
    let body: Value = api.json().await.unwrap();
    assert_eq!(
        body["login_url"],
        "/_gateway/login?return_to=%2Fbenefits%3Fx%3D1"
    );

    // Without the original URL the endpoint refuses (fail closed).
    let bare = reqwest::get(env.url("/_gateway/auth")).await.unwrap();
    assert_eq!(bare.status(), 400);
}
