//! `server.watch_config` picks up key files, not only `gateway.yaml`: a
//! signing key replaced the way the kubelet updates a mounted Secret (a new
//! file renamed over the old one) is published without a signal, which a
//! distroless image could not send. And `g2p-gateway healthcheck` asks the
//! running gateway's admin listener, as a container health check does.

mod common;

use std::process::Command;
use std::time::Duration;

use common::wait::eventually;
use common::*;
use serde_json::Value;

async fn jwks_kids(gateway: &Gateway) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{}/_gateway/jwks.json", gateway.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// `g2p-gateway keygen`: a new key and the `kid` of its JWK.
fn keygen(path: &std::path::Path) -> String {
    let status = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .args(["keygen", "--key"])
        .arg(path)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let jwk: Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("jwk.json")).unwrap())
            .unwrap();
    jwk["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_replaced_signing_key_file_is_published_without_a_signal() {
    let (emulator, upstream) = demo_idp_and_upstream().await;
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("signing.pem");
    let first = keygen(&key);
    let mut config = gateway_config(&repo_root(), free_port(), &emulator, &upstream);
    config["server"]["watch_config"] = true.into();
    config["identity"]["signing_keys"] = serde_json::json!([{ "file": key.to_str().unwrap() }]);
    let gateway = spawn_gateway(&config).await;
    assert_eq!(jwks_kids(&gateway).await, std::slice::from_ref(&first));

    // The kubelet's way: the new content appears under a new inode.
    let staged = keys.path().join("staged.pem");
    let second = keygen(&staged);
    assert_ne!(first, second);
    std::fs::rename(&staged, &key).unwrap();

    let watched = &gateway;
    eventually("the new key is published", Duration::from_secs(20), || {
        let second = second.clone();
        async move { jwks_kids(watched).await == [second] }
    })
    .await;
    assert!(gateway.logs().contains("config or key file changed"));
    let metrics = gateway.metrics().await;
    assert!(
        sample(
            &metrics,
            "g2p_gateway_config_reloads_total{outcome=\"success\"}"
        ) >= 1.0
    );

    // A key file replaced by garbage is rejected whole: the last good key stays.
    let broken = keys.path().join("broken.pem");
    std::fs::write(&broken, "not a key").unwrap();
    std::fs::rename(&broken, &key).unwrap();
    eventually(
        "the broken key is rejected",
        Duration::from_secs(20),
        || async move {
            let metrics = watched.metrics().await;
            sample(
                &metrics,
                "g2p_gateway_config_reloads_total{outcome=\"failure\"}",
            ) >= 1.0
        },
    )
    .await;
    assert!(gateway.logs().contains("configuration reload rejected"));
    assert_eq!(jwks_kids(&gateway).await, [second]);
}

fn healthcheck(args: &[&str], config_env: Option<&std::path::Path>) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"));
    command.arg("healthcheck").args(args);
    match config_env {
        Some(path) => command.env("G2P_GATEWAY_CONFIG", path),
        None => command.env_remove("G2P_GATEWAY_CONFIG"),
    };
    let output = command.output().unwrap();
    exit_code_and_text(&output)
}

#[tokio::test]
async fn healthcheck_asks_the_running_gateway() {
    let (emulator, upstream) = demo_idp_and_upstream().await;
    let config = gateway_config(&repo_root(), free_port(), &emulator, &upstream);
    let gateway = spawn_gateway(&config).await;

    let healthz = format!("{}/healthz", gateway.admin_url);
    let (code, output) = healthcheck(&["--url", &healthz], None);
    assert_eq!(code, 0, "{output}");

    // The address from server.admin_listen of the config named by the
    // environment, as in the container image.
    let admin = gateway.admin_url.trim_start_matches("http://").to_owned();
    let mut named = config.clone();
    named["server"]["admin_listen"] = admin.clone().into();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "gateway.yaml", &named);
    let (code, output) = healthcheck(&["--ready"], Some(&path));
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains(&format!("http://{admin}/readyz")),
        "{output}"
    );

    // Nothing listening, or not 200: exit 1 with the reason.
    let closed = format!("http://127.0.0.1:{}/healthz", free_port());
    let (code, output) = healthcheck(&["--url", &closed, "--timeout", "2s"], None);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("unhealthy"), "{output}");
    let missing = format!("{}/no-such-endpoint", gateway.admin_url);
    let (code, output) = healthcheck(&["--url", &missing], None);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("404"), "{output}");
}
