//! The wall clock, in the seconds every token and session time is written in.
//!
//! One small shared part: the relying party checks `iat`/`exp` with it, the
//! session stores stamp and expire sessions with it, and the identity
//! minter and the portal provider date their tokens with it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
