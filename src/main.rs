//! `g2p-gateway`: the command line.
//!
//! `run` starts the gateway; `check-config` validates a config file and lists
//! every problem with its YAML path; `keygen` writes a key pair and its JWK;
//! `register` registers the OIDC client with e-Signet or PMS; `healthcheck`
//! asks a running gateway's admin listener. Exit codes: see [`EXIT_CODES`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The version with the git revision it was built from (see `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("G2P_GATEWAY_GIT_REVISION"),
    ")"
);

/// Printed at the end of `--help`.
const EXIT_CODES: &str = "\
Exit codes:
  0   success (healthcheck: the gateway answered 200)
  1   failure at run time: could not start, a registration was refused, unhealthy
  2   bad command-line arguments
  64  invalid configuration (every problem is printed with its YAML path), or an
      insecure_* setting with --strict

The configuration file defaults to $G2P_GATEWAY_CONFIG, else gateway.yaml.";

/// Authentication gateway for OpenG2P portals, logging people in through MOSIP e-Signet.
#[derive(Parser)]
#[command(version = VERSION, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// The configuration file.
        #[arg(
            long,
            short,
            default_value = "gateway.yaml",
            env = "G2P_GATEWAY_CONFIG"
        )]
        config: PathBuf,
        /// Refuse to start when an insecure_* setting is on (for production).
        #[arg(long)]
        strict: bool,
        /// Take over the listening sockets of the running gateway (zero-downtime binary
        /// upgrade): start the new binary with --upgrade, then send SIGQUIT to the old one.
        #[arg(long)]
        upgrade: bool,
        /// Unix socket the listening sockets are handed over on; old and new process must
        /// use the same one.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "/tmp/g2p-gateway-upgrade.sock"
        )]
        upgrade_sock: PathBuf,
    },
    /// Validate a configuration file and print every problem.
    CheckConfig {
        /// The configuration file.
        #[arg(
            long,
            short,
            default_value = "gateway.yaml",
            env = "G2P_GATEWAY_CONFIG"
        )]
        config: PathBuf,
        /// Also fail (exit 64) when an insecure_* setting is on.
        #[arg(long)]
        strict: bool,
    },
    /// Generate an RSA key pair: private key (PEM, 0600) and public JWK for e-Signet.
    Keygen(g2p_gateway::cli::keygen::KeygenArgs),
    /// Register (or update) the gateway's OIDC client with e-Signet or MOSIP PMS.
    Register(Box<g2p_gateway::cli::register::RegisterArgs>),
    /// Ask a running gateway's admin listener for /healthz (or /readyz); exit 0 when healthy.
    Healthcheck(g2p_gateway::cli::healthcheck::HealthcheckArgs),
}

/// mimalloc instead of glibc malloc: pingora allocates and frees per request
/// from several worker threads, and glibc's arenas cost ~6 µs of CPU per
/// proxied request more (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for an invalid configuration (sysexits EX_USAGE).
const EXIT_BAD_CONFIG: u8 = 64;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (pingora, reqwest, Redis),
    // whatever features the dependency graph happens to unify.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Keygen(args) => g2p_gateway::cli::keygen::main(args),
        Command::Register(args) => g2p_gateway::cli::register::main(*args),
        Command::Healthcheck(args) => g2p_gateway::cli::healthcheck::main(args),
        Command::CheckConfig { config, strict } => match g2p_gateway::config::load(&config) {
            Ok(loaded) => {
                let insecure = g2p_gateway::config::insecure_settings(&loaded);
                if strict && !insecure.is_empty() {
                    eprintln!("{}: refused by --strict:", config.display());
                    for switch in insecure {
                        eprintln!(
                            "  {switch}: is on (weakens security; turn it off in production)"
                        );
                    }
                    return ExitCode::from(EXIT_BAD_CONFIG);
                }
                for switch in insecure {
                    println!("warning: {switch} is on (weakens security)");
                }
                println!("{}: configuration is valid", config.display());
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{}: configuration is invalid:\n{errors}", config.display());
                ExitCode::from(EXIT_BAD_CONFIG)
            }
        },
        Command::Run {
            config,
            strict,
            upgrade,
            upgrade_sock,
        } => {
            // Before anything slow: an early SIGHUP must not end the process.
            g2p_gateway::edge::reload::guard_sighup();
            let loaded = match g2p_gateway::config::load(&config) {
                Ok(c) => c,
                Err(errors) => {
                    eprintln!("{}: configuration is invalid:\n{errors}", config.display());
                    return ExitCode::from(EXIT_BAD_CONFIG);
                }
            };
            let insecure = g2p_gateway::config::insecure_settings(&loaded);
            if strict && !insecure.is_empty() {
                eprintln!(
                    "{}: refused by --strict: {} is on",
                    config.display(),
                    insecure.join(", ")
                );
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
            g2p_gateway::edge::telemetry::init(&loaded.start.logging);
            for switch in insecure {
                tracing::warn!(
                    setting = %switch,
                    "insecure setting is on; do not use in production"
                );
            }
            let options = g2p_gateway::edge::server::RunOptions {
                upgrade,
                upgrade_sock: Some(upgrade_sock),
            };
            match g2p_gateway::edge::server::run_with(loaded, options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let e = g2p_gateway::shared::errors::Chain(&e);
                    tracing::error!(error = %e, "gateway failed to start");
                    eprintln!("g2p-gateway: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
