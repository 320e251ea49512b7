//! TLS termination at the gateway (`server.tls`), with the demo certificate
//! from certs/demo (self-signed for localhost and 127.0.0.1, demo only).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::wait::eventually;
use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_https_and_says_so_upstream() {
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
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "gateway.yaml", &config);
    let mut child = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = KillOnDrop(child);
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

    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(certs.join("tls-ca.crt")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
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
