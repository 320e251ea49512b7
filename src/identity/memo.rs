//! The forwarded identity last used on one client connection.
//!
//! A browser's kept-alive connection carries one person's requests, each
//! forwarded with the same identity headers. With this memo the first asks
//! the minter's cache (a hash, a lookup, an access-order update) and the
//! others compare a few integers ([`super::AssertionMinter::identity_remembered`]).
//!
//! It answers only for exactly what it was filled for: the same minter (a
//! reload builds a new one), no [`super::AssertionMinter::forget`] since
//! (logout, step-up, a failed provisioning), the same audience, session id
//! and `auth_time`, and never past the identity's `fresh_until`, when the
//! minter's cache would sign a new one. Whether the session is still live
//! is decided before, on every request, by the session store.

use std::sync::{Arc, Mutex};

use super::{ForwardedIdentity, IdentityKey};

/// What a request asks the minter for, with the minter's state when it
/// asked. The memo answers only a request equal in every field.
#[derive(PartialEq, Eq)]
pub(super) struct Asked {
    /// [`super::AssertionMinter`]'s generation.
    pub minter: u64,
    /// Its count of `forget`s, read before its cache was.
    pub forgotten: u64,
    /// The audience's cache slot.
    pub audience: usize,
    /// The session and its `auth_time`.
    pub key: IdentityKey,
}

/// One connection's last forwarded identity. Held by the connection wrapper
/// (`edge::connections`); HTTP/2 connections and forward-auth have none.
#[derive(Default)]
pub struct IdentityMemo(Mutex<Option<(Asked, Arc<ForwardedIdentity>)>>);

impl IdentityMemo {
    /// The identity remembered for exactly `asked`, while still fresh at `now`.
    pub(super) fn recall(&self, asked: &Asked, now: u64) -> Option<Arc<ForwardedIdentity>> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (remembered, identity) = held.as_ref()?;
        (remembered == asked && now < identity.fresh_until).then(|| identity.clone())
    }

    /// Remembers `identity` as the answer to `asked`.
    pub(super) fn remember(&self, asked: Asked, identity: Arc<ForwardedIdentity>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((asked, identity));
    }
}

impl std::fmt::Debug for IdentityMemo {
    /// Never shows the identity: the assertion is a bearer credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityMemo")
    }
}
