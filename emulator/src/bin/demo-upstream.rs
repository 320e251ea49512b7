//! `demo-upstream`: the stand-in OpenG2P portal for the demo.
//!
//! ```text
//! demo-upstream --listen 127.0.0.1:8000 --gateway-jwks http://localhost:8080/_gateway/jwks.json [--audience g2p-portal]
//! ```
//! Prints `demo-upstream listening on http://ADDR` once bound, then serves until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use esignet_emulator::DemoUpstream;

#[derive(Parser, Debug)]
#[command(
    name = "demo-upstream",
    about = "Echoing demo upstream that verifies the gateway's identity header"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// The gateway's JWKS URL, to verify X-G2P-Identity.
    #[arg(long)]
    gateway_jwks: Option<String>,
    /// Required `aud` of the identity JWT.
    #[arg(long)]
    audience: Option<String>,
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
    let upstream = match DemoUpstream::start(args.listen, args.gateway_jwks, args.audience).await {
        Ok(upstream) => upstream,
        Err(e) => {
            eprintln!("demo-upstream: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("demo-upstream listening on {}", upstream.base_url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("demo-upstream: {e}");
    }
    upstream.shutdown().await;
    ExitCode::SUCCESS
}
