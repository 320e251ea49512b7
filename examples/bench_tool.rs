//! Bench-only helpers for `./scripts/bench` (an example: never part of the
//! shipped binary or its command line).
//!
//! ```text
//! bench_tool login      --url http://127.0.0.1:P/ --count 200 --concurrency 8 [--print-cookie]
//! bench_tool sessions   --repo-root . --counts 0,10000,100000
//! bench_tool jwks-flood --gateway-bin target/release/g2p-gateway --seconds 10 --interval 2s
//! ```
//!
//! * `login` drives complete logins (protected URL → provider → login form →
//!   callback) through any relying party in front of the e-Signet emulator:
//!   the gateway or Apache with mod_auth_openidc. Each login has its own
//!   cookie jar; HTTP connections are reused. Prints one JSON line; with
//!   `--print-cookie`, the `Cookie` header of the last session (for wrk).
//! * `sessions` fills the gateway's own [`MemoryStore`] with realistic
//!   sessions (identity mapped from e-Signet-shaped claims by the gateway's
//!   mapping, a PS256 ID token of e-Signet's size kept for `id_token_hint`)
//!   and reports heap bytes (a counting allocator) and RSS at each count.
//! * `jwks-flood` starts the emulator in-process with its ID tokens signed
//!   under an unknown `kid`, a gateway process whose `jwks_url` points at a
//!   counting JWKS server, drives callbacks for `--seconds`, and reports how
//!   many JWKS fetches reached the provider.

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use g2p_gateway::config::MappingSettings;
use g2p_gateway::mapping::{map_identity, Claims};
use g2p_gateway::session::memory::MemoryStore;
use g2p_gateway::session::{Session, SessionId, SessionStore};
use serde_json::{json, Map, Value};

/// Counts live heap bytes, so `sessions` can report bytes per session
/// independently of the allocator's page reuse. Allocates with mimalloc, the
/// gateway binary's allocator, so RSS figures match the gateway's.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a
// counter is updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as our caller's.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Drive complete logins through a relying party.
    Login {
        /// A protected URL on the relying party.
        #[arg(long)]
        url: String,
        /// How many logins.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Logins in flight at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// The emulator identity.
        #[arg(long, default_value = "8267411571")]
        individual_id: String,
        /// The OTP.
        #[arg(long, default_value = "111111")]
        otp: String,
        /// Print the session's `Cookie` header (of the last login).
        #[arg(long)]
        print_cookie: bool,
    },
    /// Memory per session in the in-memory store.
    Sessions {
        /// Repository root (certs/demo).
        #[arg(long, default_value = ".")]
        repo_root: PathBuf,
        /// Session counts to measure at, ascending.
        #[arg(long, value_delimiter = ',', default_value = "0,10000,100000")]
        counts: Vec<usize>,
        /// Keep the raw ID token in each session, as the gateway does when
        /// the provider has an `end_session_endpoint` (e-Signet has none).
        #[arg(long)]
        with_id_token: bool,
        /// Keep e-Signet's verified claims, as the gateway does when a portal
        /// client (`provider.clients`) could read them from its userinfo;
        /// otherwise only the picture is kept (none in the demo identity).
        #[arg(long)]
        portal_client: bool,
    },
    /// JWKS fetches under a flood of ID tokens with unknown `kid`s.
    JwksFlood {
        /// The gateway binary.
        #[arg(long)]
        gateway_bin: PathBuf,
        /// Repository root (certs/demo, emulator/*.json).
        #[arg(long, default_value = ".")]
        repo_root: PathBuf,
        /// How long to flood.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The gateway's `jwks_min_refresh_interval`, in seconds.
        #[arg(long, default_value_t = 2)]
        interval: u64,
        /// Callbacks in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// JSON object merged into the gateway config's top level (e.g. `limits`).
        #[arg(long, default_value = "{}")]
        config_extra: String,
    },
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cli = Cli::parse();
    let out = match cli.command {
        Cmd::Login {
            url,
            count,
            concurrency,
            individual_id,
            otp,
            print_cookie,
        } => runtime.block_on(logins(
            url,
            count,
            concurrency,
            individual_id,
            otp,
            print_cookie,
        )),
        Cmd::Sessions {
            repo_root,
            counts,
            with_id_token,
            portal_client,
        } => runtime.block_on(sessions(repo_root, counts, with_id_token, portal_client)),
        Cmd::JwksFlood {
            gateway_bin,
            repo_root,
            seconds,
            interval,
            concurrency,
            config_extra,
        } => runtime.block_on(jwks_flood(
            gateway_bin,
            repo_root,
            seconds,
            interval,
            concurrency,
            config_extra,
        )),
    };
    match out {
        Ok(value) => println!("{value}"),
        Err(e) => {
            eprintln!("bench_tool: {e}");
            std::process::exit(1);
        }
    }
}

// ---------------------------------------------------------------- logins

/// One browser: its own cookies (by `host:port`), a shared HTTP client.
struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, Vec<(String, String)>>,
}

fn origin_key(url: &reqwest::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Browser {
    fn new(client: reqwest::Client) -> Browser {
        Browser {
            client,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self, url: &reqwest::Url) -> Option<String> {
        let jar = self.cookies.get(&origin_key(url))?;
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn remember(&mut self, url: &reqwest::Url, response: &reqwest::Response) {
        let jar = self.cookies.entry(origin_key(url)).or_default();
        for set in response.headers().get_all("set-cookie") {
            let Ok(set) = set.to_str() else { continue };
            let first = set.split(';').next().unwrap_or("");
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            let expired = value.is_empty()
                || set.to_ascii_lowercase().contains("max-age=0")
                || set.contains("1970");
            jar.retain(|(k, _)| *k != name);
            if !expired {
                jar.push((name, value));
            }
        }
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<(u16, String, String), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let mut request = self
            .client
            .request(method, parsed.clone())
            .header("accept", "text/html,application/xhtml+xml");
        if let Some(cookie) = self.cookie_header(&parsed) {
            request = request.header("cookie", cookie);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        self.remember(&parsed, &response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| parsed.join(l).map(|u| u.to_string()).unwrap_or_default())
            .unwrap_or_default();
        let body = response.text().await.unwrap_or_default();
        Ok((status, location, body))
    }

    /// Protected URL → provider → form → callback. Returns the callback's
    /// status and where it redirects.
    async fn login(&mut self, url: &str, id: &str, otp: &str) -> Result<(u16, String), String> {
        let (status, authorize, _) = self.send(reqwest::Method::GET, url, None).await?;
        if status != 302 || authorize.is_empty() {
            return Err(format!("{url}: expected a login redirect, got {status}"));
        }
        let (status, _, page) = self.send(reqwest::Method::GET, &authorize, None).await?;
        if status != 200 {
            return Err(format!("authorize page answered {status}: {page:.200}"));
        }
        let transaction = hidden_input(&page, "transaction_id")
            .ok_or_else(|| "no transaction_id in the login page".to_string())?;
        let action = authorize.split('?').next().unwrap_or_default().to_string();
        let form = [
            ("transaction_id", transaction.as_str()),
            ("individual_id", id),
            ("otp", otp),
            ("method", "otp"),
        ];
        let (status, callback, body) = self
            .send(reqwest::Method::POST, &action, Some(&form))
            .await?;
        if status != 302 {
            return Err(format!("login form answered {status}: {body:.200}"));
        }
        let (status, back, _) = self.send(reqwest::Method::GET, &callback, None).await?;
        Ok((status, back))
    }
}

fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

async fn logins(
    url: String,
    count: usize,
    concurrency: usize,
    id: String,
    otp: String,
    print_cookie: bool,
) -> Result<Value, String> {
    let client = http_client();
    let next = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, next, completed) = (client.clone(), next.clone(), completed.clone());
        let (url, id, otp) = (url.clone(), id.clone(), otp.clone());
        tasks.push(tokio::spawn(async move {
            let mut last: Option<String> = None;
            let mut first_error: Option<String> = None;
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let mut browser = Browser::new(client.clone());
                match browser.login(&url, &id, &otp).await {
                    Ok((302 | 303, _)) => {
                        completed.fetch_add(1, Ordering::Relaxed);
                        let parsed = reqwest::Url::parse(&url).expect("valid url");
                        last = browser.cookie_header(&parsed);
                    }
                    Ok((status, _)) => {
                        first_error.get_or_insert(format!("callback answered {status}"));
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            (last, first_error)
        }));
    }
    let mut cookie = None;
    let mut error = None;
    for task in tasks {
        let (last, first_error) = task.await.map_err(|e| e.to_string())?;
        cookie = cookie.or(last);
        error = error.or(first_error);
    }
    let seconds = started.elapsed().as_secs_f64();
    let completed = completed.load(Ordering::Relaxed);
    if completed == 0 {
        return Err(error.unwrap_or_else(|| "no login completed".into()));
    }
    let mut out = json!({
        "completed": completed,
        "failed": count - completed,
        "seconds": seconds,
        "logins_per_second": completed as f64 / seconds,
        "first_error": error,
    });
    if print_cookie {
        out["cookie"] = json!(cookie);
    }
    Ok(out)
}

// ---------------------------------------------------------------- sessions

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn mapping_settings() -> MappingSettings {
    let pairs = |s: &[(&str, &str)]| {
        s.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    MappingSettings {
        token_map: pairs(&[("sub", "user_id")]),
        userinfo_map: pairs(&[
            ("name", "name"),
            ("email", "email"),
            ("phone_number", "phone"),
            ("birthdate", "birthdate"),
            ("gender", "gender"),
            ("address", "address"),
        ]),
        registrant_id_type: "MOSIP PSUT".into(),
        default_group: "portal".into(),
        login_attribute: "email".into(),
        birthdate_format: Default::default(),
    }
}

/// A session as a real e-Signet login leaves it (the demo identity's claims,
/// a PS256 ID token of e-Signet's shape), unique per `n`.
fn realistic_session(n: usize, key: &jsonwebtoken::EncodingKey) -> Result<Session, String> {
    let sub = esignet_emulator::emulator::psut(&format!("{}", 8_267_411_571u64 + n as u64), "rp");
    let now = g2p_gateway::shared::clock::now_secs();
    let id_claims = json!({
        "iss": "https://esignet.example.org/v1/esignet",
        "sub": sub,
        "aud": "g2p-portal",
        "exp": now + 3600,
        "iat": now,
        "auth_time": now,
        "nonce": "3Yk1X0b2Vq9x8n7m6l5k4j3h2g1f0e9d8c7b6a5Z4Y3",
        "acr": "mosip:idp:acr:generated-code",
        "at_hash": "q2b9ZbDxX1Xo3Vj7qz4hRw",
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some("mLmwuxkYH8Lq1e2QxWAsXUpbcjHnK1LrO6hRAJz8aQs".into());
    let id_token = jsonwebtoken::encode(&header, &id_claims, key).map_err(|e| e.to_string())?;
    let userinfo = json!({
        "sub": sub,
        "name": "Siddharth K Mansour",
        "email": format!("user{n}@example.org"),
        "phone_number": "+919427357934",
        "birthdate": "1987/11/25",
        "gender": "Male",
        "address": {
            "street_address": "#991, 5th Main", "locality": "Cmattey",
            "region": "Kénitra", "postal_code": "45009", "country": "Morocco"
        },
    });
    let as_map = |v: &Value| v.as_object().cloned().unwrap_or_else(Map::new);
    let identity = map_identity(
        &mapping_settings(),
        &as_map(&id_claims),
        &as_map(&userinfo),
        &["en".to_string()],
    )
    .map_err(|e| e.to_string())?;
    // As `endpoints::new_session` keeps it: one allocation with the user id.
    let sub = identity.shared_user_id(sub);
    Ok(Session {
        identity,
        sub,
        acr: "mosip:idp:acr:generated-code".into(),
        auth_time: now,
        sid: None,
        created_at: now,
        expires_at: now + 8 * 3600,
        id_token: Some(id_token.into()),
    })
}

async fn sessions(
    repo_root: PathBuf,
    counts: Vec<usize>,
    with_id_token: bool,
    portal_client: bool,
) -> Result<Value, String> {
    let pem = std::fs::read(repo_root.join("certs/demo/esignet-signing.pem"))
        .map_err(|e| format!("certs/demo/esignet-signing.pem: {e}"))?;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).map_err(|e| e.to_string())?;
    let mut template = realistic_session(0, &key)?;
    let id_token_bytes = template.id_token.as_ref().map_or(0, |t| t.len());
    if !with_id_token {
        template.id_token = None;
    }
    if !portal_client {
        // As `endpoints::new_session` does without a portal client.
        template.identity.keep_verified(|name| name == "picture");
    }
    let template_verified = template.identity.verified_claims();
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let one = template.clone();
    let session_heap_bytes = LIVE_BYTES.load(Ordering::Relaxed) - before;
    drop(one);
    let max = counts.iter().copied().max().unwrap_or(0) as u64;
    let store = MemoryStore::new(
        max.max(1) * 2,
        Duration::from_secs(1800),
        10_000,
        Duration::from_secs(600),
    );
    let mut rows = Vec::new();
    let mut inserted = 0usize;
    let mut ids = Vec::new();
    for target in counts {
        while inserted < target {
            // Sign once, vary the strings: RSA signing 100k tokens would take minutes.
            let mut session = template.clone();
            session.sub = esignet_emulator::emulator::psut(&inserted.to_string(), "rp").into();
            session.identity.user_id = session.sub.clone();
            session.identity.registrant_id.value = session.sub.clone();
            session.identity.login = format!("user{inserted}@example.org");
            let mut claims = session.identity.claims.to_map();
            claims.insert("email".into(), json!(session.identity.login));
            session.identity.claims = Claims::from_map(claims);
            if !template_verified.is_empty() {
                let mut verified = template_verified.clone();
                verified.insert("sub".into(), json!(session.sub));
                verified.insert("email".into(), json!(session.identity.login));
                session.identity.set_verified(verified);
            }
            let id = SessionId::random();
            store
                .insert_session(&id, session)
                .await
                .map_err(|e| e.to_string())?;
            if ids.len() < 16 {
                ids.push(id);
            }
            inserted += 1;
        }
        let (held, _) = store.sizes().await;
        rows.push(json!({
            "sessions": held,
            "heap_bytes": LIVE_BYTES.load(Ordering::Relaxed),
            "rss_bytes": rss_bytes(),
        }));
    }
    for id in &ids {
        let found = store.session(id).await.map_err(|e| e.to_string())?;
        if found.is_none() {
            return Err("a stored session was not found again".into());
        }
    }
    let serialized = serde_json::to_vec(&template).map_or(0, |v| v.len());
    Ok(json!({
        "rows": rows,
        "id_token_bytes": id_token_bytes,
        "id_token_kept": with_id_token,
        "session_heap_bytes": session_heap_bytes,
        "portal_client": portal_client,
        "verified_heap_bytes": template.identity.verified.heap_len(),
        "verified_json_bytes": serde_json::to_vec(&template_verified).map_or(0, |v| v.len()),
        "session_json_bytes": serialized,
    }))
}

// ---------------------------------------------------------------- JWKS flood

/// Serves one fixed JWKS and counts requests.
async fn counting_jwks(body: String, count: Arc<AtomicU64>) -> Result<SocketAddr, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let (body, count) = (body.clone(), count.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(addr)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn metric(client: &reqwest::Client, admin: &str, name: &str) -> f64 {
    let text = match client.get(format!("{admin}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn jwks_flood(
    gateway_bin: PathBuf,
    root: PathBuf,
    seconds: u64,
    interval: u64,
    concurrency: usize,
    config_extra: String,
) -> Result<Value, String> {
    use esignet_emulator::{ClientRegistration, Emulator, EmulatorConfig, Faults, IdTokenFault};
    let root = std::fs::canonicalize(&root).map_err(|e| e.to_string())?;
    let config = EmulatorConfig::demo(&root).map_err(|e| e.to_string())?;
    let emulator = Emulator::start(config, "127.0.0.1:0".parse().expect("addr"))
        .await
        .map_err(|e| e.to_string())?;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("certs/demo/client.jwk.json"))
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    emulator.register_client(ClientRegistration::new(
        "g2p-bench",
        jwk,
        vec![format!("{base}/_gateway/callback")],
    ));
    let client = http_client();
    let jwks_body = client
        .get(emulator.jwks_url())
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let fetches = Arc::new(AtomicU64::new(0));
    let jwks_addr = counting_jwks(jwks_body, fetches.clone()).await?;
    let dir = std::env::temp_dir().join(format!("g2p-bench-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let certs = root.join("certs/demo");
    let file = |name: &str| json!({ "file": certs.join(name).to_string_lossy() });
    let config = json!({
        "server": {"listen": format!("127.0.0.1:{port}"), "admin_listen": "127.0.0.1:0",
                   "public_url": base, "threads": 2, "grace_period": "1s"},
        "esignet": {"client_id": "g2p-bench", "discovery_url": emulator.discovery_url(),
                    "jwks_url": format!("http://{jwks_addr}/jwks.json"),
                    "private_key": file("client.pem"), "claims_locales": "en",
                    "jwks_min_refresh_interval": format!("{interval}s")},
        "session": {"cookie_keys": [file("cookie.key")], "insecure_cookie_without_secure": true},
        "identity": {"signing_keys": [file("gateway-signing.pem")]},
        "upstreams": {"portal": {"url": "http://127.0.0.1:9"}},
        "routes": [{"name": "portal", "path": "/", "upstream": "portal", "auth": "login"}],
        "logging": {"format": "text", "level": "error"},
    });
    let mut config = config;
    let extra: Value = serde_json::from_str(&config_extra).map_err(|e| e.to_string())?;
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k.as_str()] = v;
    }
    let path = dir.join("gateway.yaml");
    std::fs::write(
        &path,
        serde_yaml::to_string(&config).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(&gateway_bin)
        .args(["run", "--config"])
        .arg(&path)
        .arg("--upgrade-sock")
        .arg(dir.join("upgrade.sock"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", gateway_bin.display()))?;
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line
    })
    .await
    .map_err(|e| e.to_string())?;
    let admin = line
        .split_whitespace()
        .filter(|w| w.contains("http://"))
        .nth(1)
        .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_string())
        .ok_or_else(|| format!("no listen line from the gateway: {line:?}"))?;
    let result = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{admin}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                return Err("gateway not ready".to_string());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        emulator.set_faults(Faults {
            id_token: Some(IdTokenFault::UnknownKid),
            ..Faults::default()
        });
        let before = fetches.load(Ordering::SeqCst);
        let metric_before = metric(&client, &admin, "g2p_gateway_jwks_refreshes_total").await;
        let callbacks = Arc::new(AtomicU64::new(0));
        let sessions = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let end = started + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..concurrency.max(1) {
            let (client, callbacks, sessions) =
                (client.clone(), callbacks.clone(), sessions.clone());
            let url = format!("{base}/");
            tasks.push(tokio::spawn(async move {
                while Instant::now() < end {
                    let mut browser = Browser::new(client.clone());
                    if let Ok((status, _)) = browser.login(&url, "8267411571", "111111").await {
                        callbacks.fetch_add(1, Ordering::Relaxed);
                        if status == 302 || status == 303 {
                            sessions.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let during = fetches.load(Ordering::SeqCst) - before;
        let metric_after = metric(&client, &admin, "g2p_gateway_jwks_refreshes_total").await;
        let allowed = (elapsed / interval as f64).floor() as u64 + 1;
        Ok(json!({
            "seconds": elapsed,
            "interval_seconds": interval,
            "callbacks": callbacks.load(Ordering::Relaxed),
            "sessions_created": sessions.load(Ordering::Relaxed),
            "jwks_fetches": during,
            "jwks_refreshes_metric": metric_after - metric_before,
            "allowed": allowed,
        }))
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
