//! SIGTERM drains: a request in flight when the signal arrives still gets its
//! whole response (within `server.grace_period`), then the process exits.

mod common;

use std::time::{Duration, Instant};

use common::wait::eventually;
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long the upstream takes to answer (like the demo upstream's `/slow?ms=1500`).
const SLOW: Duration = Duration::from_millis(1500);
const BODY: &str = "slow response, complete";

/// A one-request upstream that says when the request has arrived, then answers after [`SLOW`].
async fn slow_upstream() -> (String, oneshot::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (arrived, arrived_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "request headers");
            request.extend_from_slice(&buf[..n]);
        }
        let _ = arrived.send(());
        tokio::time::sleep(SLOW).await;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
    });
    (url, arrived_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_response_complete() {
    let (slow_url, arrived) = slow_upstream().await;
    let mut env = Env::start(EnvOptions {
        edit: Box::new(move |config| {
            config["server"]["grace_period"] = json!("5s");
            config["upstreams"]["slow"] = json!({ "url": slow_url });
            config["routes"].as_array_mut().unwrap().push(
                json!({"name": "slow", "path": "/slow", "upstream": "slow", "auth": "public"}),
            );
        }),
        ..Default::default()
    })
    .await;
    let url = env.url("/slow?ms=1500");
    let started = Instant::now();
    let request = tokio::spawn(async move {
        let response = reqwest::get(&url).await.expect("response despite SIGTERM");
        let status = response.status();
        (status, response.text().await.expect("the whole body"))
    });
    arrived.await.expect("the request reached the upstream");
    env.gateway.signal("TERM");
    let signalled = started.elapsed();

    let (status, body) = request.await.unwrap();
    let took = started.elapsed();
    eprintln!("SIGTERM at {signalled:?}; in-flight response completed after {took:?}");
    assert_eq!(status, 200);
    assert_eq!(body, BODY);
    assert!(took >= SLOW, "the upstream's answer, not an error");

    // Then the process ends by itself, well within grace_period plus the drain timeout.
    let exit = tokio::task::block_in_place(|| env.gateway.wait_exit(Duration::from_secs(15)));
    let exit = exit.expect("the gateway exits after draining");
    eprintln!(
        "gateway exited {:?} after SIGTERM",
        started.elapsed() - signalled
    );
    assert!(exit.success() || exit.code().is_none(), "{exit:?}");
}

/// Reads one HTTP/1.1 response with a `Content-Length` body from `stream`;
/// `None` if the connection ends first.
async fn read_response(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a Content-Length");
            if response.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&response).into_owned());
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
}

/// Connections open when SIGTERM arrives get their next request answered,
/// with `Connection: close`, so their clients see a clean end and never a
/// connection closed under a request:
/// - one accepted that had not yet sent its first request (a client between
///   `connect` and `write`, a browser's preconnect);
/// - one kept alive after a first request (a browser's, an ingress's).
///
/// pingora's shutdown drops every connection waiting for a request; the
/// gateway reads first requests ahead of it, and delays that drop by half the
/// grace period, while pingora answers with keep-alive off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_open_at_sigterm_get_their_next_request_answered() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| config["server"]["grace_period"] = json!("10s")),
        ..Default::default()
    })
    .await;
    let addr = env
        .gateway
        .base_url
        .trim_start_matches("http://")
        .to_owned();
    let request = format!("GET /public/drain HTTP/1.1\r\nHost: {addr}\r\n\r\n");

    // `quiet` connects first; `kept` connects after it and completes a
    // request, so the listener has accepted `quiet` (accepts are in order).
    let mut quiet = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    kept.write_all(request.as_bytes()).await.unwrap();
    let first = read_response(&mut kept)
        .await
        .expect("an answer before SIGTERM");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(!first
        .to_ascii_lowercase()
        .contains("\r\nconnection: close\r\n"));

    env.gateway.signal("TERM");
    // New connections are refused once the gateway has stopped listening.
    // pingora would drop the connections waiting for a request right then;
    // the gateway lets half the grace period pass first.
    eventually("the listener closes", Duration::from_secs(20), || {
        let addr = addr.clone();
        async move { tokio::net::TcpStream::connect(&addr).await.is_err() }
    })
    .await;

    for (name, stream) in [("quiet", &mut quiet), ("kept alive", &mut kept)] {
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(20), read_response(stream))
            .await
            .unwrap_or_else(|_| panic!("{name}: an answer within the grace period"))
            .unwrap_or_else(|| panic!("{name}: an answer, not a closed connection"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{name}: the last answer on this connection says so: {answer}"
        );
    }
}
