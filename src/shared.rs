//! Small parts every layer may use, and which use nothing of the gateway's
//! own: the clock, error chains for the log, secrets and their
//! constant-time comparison, signing keys, the metrics registry and the
//! people-facing pages.
//!
//! The bottom layer: nothing here imports from a layer above it
//! (`docs/architecture.md`, checked by `tests/architecture.rs`).

pub mod clock;
pub mod errors;
pub mod keys;
pub mod metrics;
pub mod pages;
pub mod secret;
