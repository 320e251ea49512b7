//! `g2p-gateway healthcheck`: asks the running gateway's admin listener for
//! `/healthz` (or `/readyz`) and exits 0 when it answers 200.
//!
//! Run by a container runtime's health check (`HEALTHCHECK` in the
//! Dockerfile) in a distroless image, which has no shell, curl or wget. The
//! address comes from `--url`, else from `server.admin_listen` in the config
//! file (read without resolving secrets), else the default admin listener.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The admin listener when the config names none (`server.admin_listen`'s
/// default).
const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";

/// Arguments of `healthcheck`.
#[derive(clap::Args, Debug)]
pub struct HealthcheckArgs {
    /// The URL to ask; overrides the address taken from the config file.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The configuration file whose `server.admin_listen` is asked.
    #[arg(long, short, env = "G2P_GATEWAY_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Ask `/readyz` (provider metadata loaded) instead of `/healthz`.
    #[arg(long)]
    pub ready: bool,
    /// Give up after this long.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// The URL `args` point at.
pub fn target_url(args: &HealthcheckArgs) -> String {
    if let Some(url) = &args.url {
        return url.clone();
    }
    let listen = args
        .config
        .as_deref()
        .and_then(admin_listen_of)
        .unwrap_or_else(|| DEFAULT_ADMIN_LISTEN.to_owned());
    let path = if args.ready { "/readyz" } else { "/healthz" };
    format!("http://{}{path}", loopback_for(&listen))
}

/// `server.admin_listen` of a config file, if it names one.
fn admin_listen_of(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let document: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    document["server"]["admin_listen"]
        .as_str()
        .map(str::to_owned)
}

/// A wildcard listen address is asked on loopback (same family).
fn loopback_for(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let ip: std::net::IpAddr = if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            std::net::SocketAddr::new(ip, addr.port()).to_string()
        }
        _ => listen.to_owned(),
    }
}

/// Runs the check: exit 0 on a 200 answer, 1 otherwise (the reason on stderr).
pub fn main(args: HealthcheckArgs) -> ExitCode {
    let url = target_url(&args);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(args.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::OK {
            Ok(body)
        } else {
            Err(format!("{status}: {}", body.trim()))
        }
    });
    match outcome {
        Ok(body) => {
            println!("{url}: {}", body.trim());
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("{url}: unhealthy: {reason}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>, config: Option<PathBuf>, ready: bool) -> HealthcheckArgs {
        HealthcheckArgs {
            url: url.map(str::to_owned),
            config,
            ready,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_address_comes_from_the_url_the_config_or_the_default() {
        assert_eq!(
            target_url(&args(Some("http://h:1/x"), None, false)),
            "http://h:1/x"
        );
        assert_eq!(
            target_url(&args(None, None, false)),
            format!("http://{DEFAULT_ADMIN_LISTEN}/healthz")
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, "server:\n  admin_listen: 0.0.0.0:9191\n").unwrap();
        assert_eq!(
            target_url(&args(None, Some(config.clone()), true)),
            "http://127.0.0.1:9191/readyz"
        );
        std::fs::write(&config, "server:\n  admin_listen: '[::]:9192'\n").unwrap();
        assert_eq!(
            target_url(&args(None, Some(config), false)),
            "http://[::1]:9192/healthz"
        );
        // A missing file falls back to the default listener.
        assert_eq!(
            target_url(&args(None, Some(dir.path().join("none.yaml")), false)),
            format!("http://{DEFAULT_ADMIN_LISTEN}/healthz")
        );
    }
}
