//! Log setup: tracing-subscriber as text or JSON, with pingora's `log` lines bridged in.
//!
//! Runs once at startup. Nothing the gateway logs contains tokens, cookies,
//! keys or claims; see `Gateway::reject` for the one place failures are logged.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingSettings};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the config.
pub fn init(settings: &LoggingSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
