//! `esignet-emulator`: runs the e-Signet emulator for the demo.
//!
//! ```text
//! esignet-emulator --listen 127.0.0.1:8088 --version 1.8 [--issuer URL] [--repo-root DIR]
//!                  [--clients FILE] [--identities FILE] [--otp CODE] [--admin-token TOKEN]
//! ```
//! Keys come from `<repo-root>/certs/demo`; clients and identities default to
//! `<repo-root>/emulator/{clients,identities}.json`. Once listening it prints
//! `esignet-emulator listening on http://ADDR (e-Signet VERSION, issuer ISSUER)` and the demo
//! identities with their OTP, then serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use esignet_emulator::emulator::{load_clients, load_identities};
use esignet_emulator::{Emulator, EmulatorConfig, EsignetVersion};

#[derive(Parser, Debug)]
#[command(
    name = "esignet-emulator",
    about = "A MOSIP e-Signet emulator for g2p-gateway's demo and tests"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// e-Signet version to emulate: 1.4.1 or 1.8.
    #[arg(long, default_value = "1.8")]
    version: EsignetVersion,
    /// Issuer for discovery and tokens (default: the base URL).
    #[arg(long)]
    issuer: Option<String>,
    /// Reproduce stock e-Signet 1.4.x–1.7.x: tokens carry the issuer plus `/v1/esignet`, while
    /// discovery advertises the bare issuer.
    #[arg(long)]
    issuer_mismatch: bool,
    /// Repository root holding certs/demo and emulator/*.json (default: the current
    /// directory if it has certs/demo, else the repository this binary was built from).
    #[arg(long)]
    repo_root: Option<PathBuf>,
    /// Clients JSON file (default: <repo-root>/emulator/clients.json).
    #[arg(long)]
    clients: Option<PathBuf>,
    /// Identities JSON file (default: <repo-root>/emulator/identities.json).
    #[arg(long)]
    identities: Option<PathBuf>,
    /// OTP accepted for identities without their own.
    #[arg(long)]
    otp: Option<String>,
    /// Bearer token required by the client-registration APIs (client-mgmt and PMS).
    #[arg(long, default_value = esignet_emulator::emulator::DEFAULT_ADMIN_TOKEN)]
    admin_token: String,
}

fn repo_root(explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| {
        let cwd = PathBuf::from(".");
        if cwd.join("certs").join("demo").is_dir() {
            cwd
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
        }
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("esignet-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let root = repo_root(args.repo_root);
    let mut config = EmulatorConfig::demo(&root)?;
    config.version = args.version;
    config.issuer = args.issuer;
    config.issuer_mismatch = args.issuer_mismatch;
    if let Some(path) = &args.clients {
        config.clients = load_clients(path)?;
    }
    if let Some(path) = &args.identities {
        config.identities = load_identities(path)?;
    }
    if let Some(otp) = args.otp {
        config.otp = otp;
    }
    config.admin_token = args.admin_token;
    let identities = config.identities.clone();
    let clients: Vec<String> = config.clients.iter().map(|c| c.client_id.clone()).collect();
    let default_otp = config.otp.clone();
    let emulator = Emulator::start(config, args.listen).await?;
    println!(
        "esignet-emulator listening on {} (e-Signet {}, issuer {})",
        emulator.base_url(),
        emulator.version(),
        emulator.issuer()
    );
    println!("  discovery: {}", emulator.discovery_url());
    if emulator.token_issuer() != emulator.issuer() {
        println!(
            "  issuer mismatch: tokens carry iss {}",
            emulator.token_issuer()
        );
    }
    println!("  clients:   {}", clients.join(", "));
    println!("  demo identities (UIN / OTP / name):");
    for identity in &identities {
        let name = identity
            .name
            .get("eng")
            .or_else(|| identity.name.values().next())
            .map(String::as_str)
            .unwrap_or("");
        let otp = identity.otp.as_deref().unwrap_or(&default_otp);
        println!("    {}  {}  {}", identity.individual_id, otp, name);
    }
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
