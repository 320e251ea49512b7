//! Small parts every layer may use, and which use nothing of the gateway's
//! own but the config: the clock, secrets and their constant-time
//! comparison, signing keys, the metrics registry and the people-facing
//! pages.
//!
//! The bottom layer: nothing here imports from a layer above it
//! (`docs/architecture.md`, checked by `tests/architecture.rs`).

pub mod clock;
pub mod keys;
pub mod metrics;
pub mod pages;
pub mod secret;
