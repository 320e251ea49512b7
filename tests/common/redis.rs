//! A throw-away `redis-server` on a free loopback port, for the Redis store
//! tests. Started with append-only persistence in a temp dir, so `stop()` and
//! `restart()` on the same port lose nothing (like a real pod restart with a
//! volume). Killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::free_port;
use super::wait::wait_until;

/// A running (or stopped) `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    /// The port it listens on (kept across restarts).
    pub port: u16,
    password: Option<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server without a password.
    pub fn start() -> RedisServer {
        RedisServer::start_with(None)
    }

    /// Starts a server requiring `password` when given.
    pub fn start_with(password: Option<&str>) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            password: password.map(str::to_owned),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        server.launch();
        server
    }

    /// `redis://[:password@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// A synchronous client connection (for tests that inspect Redis).
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("redis connection")
    }

    /// Stops the server (its append-only file stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        let mut args: Vec<String> = [
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            &self.dir.path().display().to_string(),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        if let Some(p) = &self.password {
            args.extend(["--requirepass".to_string(), p.clone()]);
        }
        self.child = Some(spawn(&args));
        self.wait_for_ping();
    }

    fn wait_for_ping(&self) {
        wait_until("redis-server answers PING", REDIS_START, || {
            query::<String>(&self.url(), &["PING"]).is_some()
        });
    }
}

/// Runs one command against `url`; `None` on any failure.
pub fn query<T: redis::FromRedisValue>(url: &str, args: &[&str]) -> Option<T> {
    let mut conn = redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
        .ok()?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut conn).ok()
}

/// Spawns `redis-server` with `args`, output discarded.
fn spawn(args: &[String]) -> Child {
    Command::new(redis_server_binary())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts (apt install redis-server)")
}

/// A master with a password, watched by one Sentinel.
pub struct RedisSentinel {
    /// The master (with `--requirepass`).
    pub master: RedisServer,
    sentinel: Child,
    /// The Sentinel's port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// Starts a master requiring `password` and a Sentinel monitoring it as `mymaster`.
    pub fn start(password: &str) -> RedisSentinel {
        let master = RedisServer::start_with(Some(password));
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {} 1\n\
                 sentinel auth-pass mymaster {password}\n",
                dir.path().display(),
                master.port
            ),
        )
        .unwrap();
        let sentinel = spawn(&[conf.display().to_string(), "--sentinel".into()]);
        let url = format!("redis://127.0.0.1:{port}");
        wait_until("the sentinel knows the master", REDIS_START, || {
            query::<Vec<String>>(&url, &["SENTINEL", "get-master-addr-by-name", "mymaster"])
                .is_some_and(|addr| addr.len() == 2)
        });
        RedisSentinel {
            master,
            sentinel,
            port,
            _dir: dir,
        }
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
    }
}

/// A three-master Redis Cluster (no replicas).
pub struct RedisCluster {
    nodes: Vec<Child>,
    /// The nodes' ports.
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts three nodes and joins them into a cluster covering every slot.
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let nodes = ports
            .iter()
            .map(|port| {
                let node_dir = dir.path().join(port.to_string());
                std::fs::create_dir(&node_dir).unwrap();
                spawn(&[
                    "--port".into(),
                    port.to_string(),
                    "--cluster-port".into(),
                    free_port().to_string(),
                    "--bind".into(),
                    "127.0.0.1".into(),
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                    "--save".into(),
                    String::new(),
                    "--appendonly".into(),
                    "no".into(),
                    "--dir".into(),
                    node_dir.display().to_string(),
                ])
            })
            .collect();
        for port in &ports {
            let url = format!("redis://127.0.0.1:{port}");
            wait_until("a cluster node answers", REDIS_START, || {
                query::<String>(&url, &["PING"]).is_some()
            });
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for port in &ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let status = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(status.success(), "redis-cli --cluster create");
        for port in &ports {
            let url = format!("redis://127.0.0.1:{port}");
            wait_until("the cluster is ok", REDIS_START, || {
                query::<String>(&url, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
        }
        RedisCluster {
            nodes,
            ports,
            _dir: dir,
        }
    }

    /// `redis://127.0.0.1:PORT` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long a Redis server, sentinel or cluster may take to come up.
const REDIS_START: Duration = Duration::from_secs(30);

fn redis_server_binary() -> PathBuf {
    std::env::var_os("REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// A `redis-server` serving only TLS, with a certificate from a throw-away CA
/// (made with the `openssl` command) and a password.
pub struct RedisTls {
    child: Child,
    /// The TLS port.
    pub port: u16,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca_pem: Vec<u8>,
    password: String,
    _dir: tempfile::TempDir,
}

impl RedisTls {
    /// Makes a CA and a certificate for 127.0.0.1, and starts the server.
    pub fn start(password: &str) -> RedisTls {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).display().to_string();
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl runs");
            assert!(status.success(), "openssl {args:?}");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let (ca_key, ca_pem) = (at("ca.key"), at("ca.pem"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", "/CN=g2p test CA"];
        args.extend(ec);
        args.extend(["-keyout", &ca_key, "-out", &ca_pem]);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(&args);
        let (key, csr, cert, ext) = (
            at("server.key"),
            at("server.csr"),
            at("server.pem"),
            at("ext.cnf"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let mut args = vec!["req", "-subj", "/CN=127.0.0.1"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr]);
        openssl(&args);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ]);
        let port = free_port();
        let child = spawn(
            &[
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca_pem,
                "--tls-auth-clients",
                "no",
                "--requirepass",
                password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &at(""),
            ]
            .map(str::to_owned),
        );
        let server = RedisTls {
            child,
            port,
            ca_pem: std::fs::read(&ca_pem).unwrap(),
            password: password.to_owned(),
            _dir: dir,
        };
        let certs = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(server.ca_pem.clone()),
        };
        wait_until("redis-server answers PING over TLS", REDIS_START, || {
            redis::Client::build_with_tls(server.url(), certs.clone())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        server
    }

    /// `rediss://:PASSWORD@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("rediss://:{}@127.0.0.1:{}", self.password, self.port)
    }
}

impl Drop for RedisTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
