//! TLS termination at the gateway (`server.tls`), with the demo certificate
//! from certs/demo (self-signed for localhost and 127.0.0.1, demo only).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::wait::eventually;
use common::*;
use esignet_emulator::{DemoUpstream, Emulator};
use serde_json::{json, Value};

/// A gateway terminating TLS with the demo certificate, `edit`ed; ready.
struct TlsGateway {
    _process: KillOnDrop,
    port: u16,
    https: String,
    admin: String,
    certs: std::path::PathBuf,
    _upstreams: (Emulator, DemoUpstream),
    _dir: tempfile::TempDir,
}

async fn start_tls_gateway(edit: impl FnOnce(&mut Value)) -> TlsGateway {
    let root = repo_root();
    let (emulator, upstream) = demo_idp_and_upstream().await;
    let port = free_port();
    let mut config = gateway_config(&root, port, &emulator, &upstream);
    let certs = root.join("certs/demo");
    config["server"]["tls"] = json!({
        "cert": certs.join("tls.crt").to_string_lossy(),
        "key": certs.join("tls.key").to_string_lossy(),
    });
    config["server"]["public_url"] = json!(format!("https://127.0.0.1:{port}"));
    edit(&mut config);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "gateway.yaml", &config);
    let mut child = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("gateway.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let process = KillOnDrop(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line
    })
    .await
    .unwrap();
    let https = format!("https://127.0.0.1:{port}");
    assert!(line.contains(&format!("listening on {https}")), "{line}");
    let admin = line
        .split_whitespace()
        .find(|w| w.contains("http://"))
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    let plain = reqwest::Client::new();
    eventually("the gateway is ready", Duration::from_secs(60), || async {
        plain
            .get(format!("{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    TlsGateway {
        _process: process,
        port,
        https,
        admin,
        certs,
        _upstreams: (emulator, upstream),
        _dir: dir,
    }
}

impl TlsGateway {
    /// What the gateway logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// An HTTPS client trusting the demo CA.
    fn client(&self) -> reqwest::Client {
        let ca = std::fs::read(self.certs.join("tls-ca.crt")).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_https_and_says_so_upstream() {
    let gateway = start_tls_gateway(|_| {}).await;
    let (https, port) = (gateway.https.clone(), gateway.port);
    let plain = reqwest::Client::new();
    let client = gateway.client();
    let response = client
        .get(format!("{https}/public/tls"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.unwrap();
    let proto: Vec<&str> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == "x-forwarded-proto")
        .map(|p| p[1].as_str().unwrap())
        .collect();
    assert_eq!(proto, vec!["https"]);
    // The login redirect carries the https callback.
    let login = client
        .get(format!("{https}/portal"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let authorize = login.url().to_string();
    let redirect_uri = query_param(&authorize, "redirect_uri").unwrap_or_default();
    assert_eq!(
        redirect_uri,
        format!("{https}/_gateway/callback"),
        "{authorize}"
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let refused = plain
        .get(format!("http://127.0.0.1:{port}/public/tls"))
        .send()
        .await;
    assert!(refused.is_err() || refused.unwrap().status() != 200);
}

/// With TLS at the gateway, a connection counts against the connection caps
/// and the header deadline from its accept, handshake included: a client that
/// opens connections and never finishes a handshake (a TLS slowloris) is
/// capped and cut off like one that never finishes its headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_count_against_the_caps_and_the_header_deadline() {
    let gateway = start_tls_gateway(|config| {
        config["server"]["max_connections_per_client"] = json!(2);
        config["server"]["header_timeout"] = json!("1s");
    })
    .await;
    let addr = format!("127.0.0.1:{}", gateway.port);

    // Three silent connections: one (or more, if the startup check's own
    // connection is still counted) is beyond this client's share of two and
    // is closed at once, the others at the 1 s header deadline, not after
    // pingora's 60 s for a handshake.
    let mut silent = Vec::new();
    for _ in 0..3 {
        let stream = tokio::net::TcpStream::connect(&addr).await;
        silent.push(stream.unwrap_or_else(|e| panic!("connect: {e}; log:\n{}", gateway.log())));
    }
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(20)).await,
            "a connection that never finishes its handshake is closed"
        );
    }
    let metrics = reqwest::get(format!("{}/metrics", gateway.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = |reason: &str| {
        sample(
            &metrics,
            &format!("g2p_gateway_requests_refused_total{{reason=\"{reason}\"}}"),
        )
    };
    // Each silent connection is refused or cut; at least one by the cap.
    let (capped, cut) = (
        refused("max_connections_per_client"),
        refused("header_timeout"),
    );
    assert!(capped >= 1.0 && capped + cut == 3.0, "{metrics}");

    // Real clients are served as before.
    let response = gateway
        .client()
        .get(format!("{}/public/tls", gateway.https))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
