//! Zero-downtime binary upgrade: a second process started with `--upgrade`
//! takes over the listening socket when the first gets SIGQUIT, while
//! clients keep connecting and sending on kept-alive connections; no
//! request fails.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait::{eventually, within_blocking};
use common::*;

/// Starts `g2p-gateway run` and returns it with its printed admin URL (once listening).
async fn start(config: &Path, sock: &Path, upgrade: bool, log: &Path) -> (KillOnDrop, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_g2p-gateway"));
    command
        .args(["run", "--config"])
        .arg(config)
        .arg("--upgrade-sock")
        .arg(sock)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    if upgrade {
        command.arg("--upgrade");
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let proc = KillOnDrop(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line
    })
    .await
    .unwrap();
    let admin = line
        .split_whitespace()
        .filter(|w| w.contains("http://"))
        .nth(1)
        .unwrap_or_else(|| panic!("no admin URL in {line:?}"))
        .trim_end_matches(')')
        .to_string();
    (proc, admin)
}

/// How long each step of the hand-over may take.
const STEP: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigquit_hands_the_listener_to_the_new_process() {
    let root = repo_root();
    let (emulator, upstream) = demo_idp_and_upstream().await;
    let port = free_port();
    let mut config = gateway_config(&root, port, &emulator, &upstream);
    config["server"]["grace_period"] = serde_json::json!("2s");
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), "gateway.yaml", &config);
    let sock = dir.path().join("upgrade.sock");

    let (mut old, old_admin) = start(&config_path, &sock, false, &dir.path().join("old.log")).await;
    let http = reqwest::Client::new();
    eventually("the old process", STEP, || async {
        http.get(format!("{old_admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;

    // Clients keep sending the whole time: two open a new connection for
    // every request, two keep their connections alive (as browsers and
    // ingresses do) and reconnect when the gateway closes one.
    let url = format!("http://127.0.0.1:{port}/public/upgrade");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (stop, ok, failures, url) = (stop.clone(), ok.clone(), failures.clone(), url.clone());
        let keep_alive = worker % 2 == 1;
        workers.push(tokio::spawn(async move {
            let mut client = reqwest::Client::builder();
            if !keep_alive {
                client = client.pool_max_idle_per_host(0);
            }
            let client = client.build().unwrap();
            while !stop.load(Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(format!("body: {e}")),
                    },
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("HTTP {}", r.status())),
                    Err(e) => failures.lock().unwrap().push(format!("{e:?}")),
                }
            }
        }));
    }
    eventually("traffic", STEP, || async {
        ok.load(Ordering::Relaxed) > 20
    })
    .await;

    // The new binary waits on the socket; SIGQUIT makes the old one hand over.
    let new_log = dir.path().join("new.log");
    let new_start = {
        let (config_path, sock, new_log) = (config_path.clone(), sock.clone(), new_log.clone());
        tokio::spawn(async move { start(&config_path, &sock, true, &new_log).await })
    };
    eventually("the upgrade socket", STEP, || {
        let exists = sock.exists();
        async move { exists }
    })
    .await;
    let before = ok.load(Ordering::Relaxed);
    let quit = Command::new("kill")
        .args(["-QUIT", &old.0.id().to_string()])
        .status()
        .unwrap();
    assert!(quit.success());
    let (_new, new_admin) = new_start.await.unwrap();
    eventually("the new process", STEP, || async {
        http.get(format!("{new_admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let exited = tokio::task::block_in_place(|| {
        within_blocking(Duration::from_secs(20), || {
            matches!(old.0.try_wait(), Ok(Some(_)))
        })
    });
    assert!(exited.is_some(), "the old process drains and exits");
    eventually("traffic on the new process", STEP, || async {
        ok.load(Ordering::Relaxed) > before + 50
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    eprintln!(
        "binary upgrade: {} requests ok ({} after SIGQUIT), {} failed",
        ok.load(Ordering::Relaxed),
        ok.load(Ordering::Relaxed) - before,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "requests failed during the upgrade: {failures:?}"
    );
}
