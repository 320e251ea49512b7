//! The real OpenG2P FastAPI Beneficiary Portal API on a real PostgreSQL, for
//! the end-to-end tests behind the gateway.
//!
//! * PostgreSQL: Debian's `postgresql` binaries (`/usr/lib/postgresql/*/bin`),
//!   `initdb` into a temp dir and `postgres` on a free loopback port, TCP
//!   only, no system service. As root (CI), both run as `nobody`.
//! * The portal: PyPI `openg2p-beneficiary-portal-api` 1.0.2 with the pins
//!   that work, installed by `./scripts/test` into `target/portal-venv`
//!   (`G2P_PORTAL_VENV` overrides). Started the way its repository's
//!   `main.py` does, unmodified. A missing install is a failure, not a skip.
//! * The schema: `tests/fixtures/openg2p/schema.sql` (the Odoo tables the
//!   portal touches).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::wait::{within, within_blocking};
use crate::common::{free_port, repo_root, KillOnDrop};

/// `nobody`: PostgreSQL refuses to run as root.
const NOBODY: u32 = 65534;

/// The PostgreSQL binaries of Debian's package (not /usr/local/bin).
fn pg_bin() -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; ./scripts/test installs postgresql",
                base.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("Debian's postgresql is not installed; run ./scripts/test")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { geteuid() == 0 }
}

extern "C" {
    fn geteuid() -> u32;
}

/// A command that runs as `nobody` when the test runs as root.
fn as_db_user(program: PathBuf) -> Command {
    let mut command = Command::new(program);
    if is_root() {
        use std::os::unix::process::CommandExt;
        command.uid(NOBODY).gid(NOBODY);
    }
    command
}

/// A throw-away PostgreSQL server with the OpenG2P schema in `openg2pdb`.
pub struct Postgres {
    _server: KillOnDrop,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// initdb, start, create `openg2pdb`, load the schema.
    pub fn start() -> Postgres {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let data = dir.path().join("data");
        let out = as_db_user(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        if is_root() {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(NOBODY), None).unwrap();
        }
        let server = as_db_user(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        let pg = Postgres {
            _server: KillOnDrop(server),
            port,
            dir,
        };
        let up = within_blocking(Duration::from_secs(60), || {
            pg.try_psql("postgres", "SELECT 1").is_ok()
        });
        assert!(
            up.is_some(),
            "postgres did not start: {}",
            std::fs::read_to_string(pg.dir.path().join("postgres.log")).unwrap_or_default()
        );
        pg.try_psql("postgres", "CREATE DATABASE openg2pdb")
            .expect("create database");
        let schema = repo_root().join("tests/fixtures/openg2p/schema.sql");
        let out = Command::new(bin.join("psql"))
            .args(pg.conn_args("openg2pdb"))
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-f"])
            .arg(schema)
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "schema: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    fn conn_args(&self, db: &str) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            "postgres".into(),
            "-d".into(),
            db.into(),
        ]
    }

    fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(pg_bin().join("psql"))
            .args(self.conn_args(db))
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-q", "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs SQL in `openg2pdb`; unaligned, tuples only, `|` between columns.
    pub fn sql(&self, sql: &str) -> String {
        self.try_psql("openg2pdb", sql)
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
    }

    /// The portal's SQLAlchemy URL.
    pub fn datasource(&self) -> String {
        format!(
            "postgresql+asyncpg://postgres@127.0.0.1:{}/openg2pdb",
            self.port
        )
    }
}

/// The venv `./scripts/test` installs the portal into.
pub fn portal_python() -> PathBuf {
    let venv = std::env::var_os("G2P_PORTAL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/portal-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: ./scripts/test installs openg2p-beneficiary-portal-api 1.0.2 there",
        python.display()
    );
    python
}

/// The API prefix the portal serves under.
pub const API_PREFIX: &str = "/v1/selfservice";

/// The portal process.
pub struct Portal {
    _process: KillOnDrop,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    dir: tempfile::TempDir,
}

/// How the portal trusts the gateway.
pub struct PortalAuth {
    /// `PORTAL_AUTH_DEFAULT_ISSUERS`: the gateway's issuer.
    pub issuer: String,
    /// `PORTAL_AUTH_DEFAULT_JWKS_URLS`: the gateway's JWKS.
    pub jwks_url: String,
    /// `PORTAL_AUTH_DEFAULT_AUDIENCES`: the assertion audience.
    pub audience: String,
}

impl Portal {
    /// Starts the unmodified portal (`main.py run`) on a free port.
    pub async fn start(pg: &Postgres, auth: &PortalAuth) -> Portal {
        let python = portal_python();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.py"),
            "from openg2p_beneficiary_portal_api.app import Initializer\n\
             main_init = Initializer()\n\
             main_init.main()\n",
        )
        .unwrap();
        let port = free_port();
        let list = |v: &str| serde_json::json!([v]).to_string();
        let log = std::fs::File::create(dir.path().join("portal.log")).unwrap();
        let child = Command::new(python)
            .arg("main.py")
            .arg("run")
            .current_dir(dir.path())
            .env("PORTAL_DB_DATASOURCE", pg.datasource())
            .env("PORTAL_HOST", "127.0.0.1")
            .env("PORTAL_PORT", port.to_string())
            .env("PORTAL_OPENAPI_COMMON_API_PREFIX", API_PREFIX)
            .env("PORTAL_AUTH_DEFAULT_ISSUERS", list(&auth.issuer))
            .env("PORTAL_AUTH_DEFAULT_JWKS_URLS", list(&auth.jwks_url))
            .env("PORTAL_AUTH_DEFAULT_AUDIENCES", list(&auth.audience))
            .env("PORTAL_AUTH_COOKIE_SECURE", "false")
            .env("PYTHONUNBUFFERED", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the portal starts");
        let portal = Portal {
            _process: KillOnDrop(child),
            base_url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let client = reqwest::Client::new();
        let probe = format!("{}{API_PREFIX}/auth/profile", portal.base_url);
        let up = within(Duration::from_secs(90), || async {
            client.get(&probe).send().await.is_ok()
        })
        .await;
        assert!(up.is_some(), "the portal did not start:\n{}", portal.logs());
        portal
    }

    /// What the portal logged.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("portal.log")).unwrap_or_default()
    }
}
