//! g2p-gateway: a reverse-proxy authentication gateway for OpenG2P portals.
//!
//! It logs citizens in through MOSIP e-Signet (OpenID Connect with PKCE and
//! `private_key_jwt`), keeps their sessions, maps their claims the way OpenG2P
//! does, and forwards requests upstream with a gateway-signed identity.
//!
//! # Module map, by layer
//!
//! From the bottom up; a module imports only from its own layer or the ones
//! below (`docs/architecture.md`, held by `tests/architecture.rs`):
//!
//! 1. `shared`: the clock, error chains, secrets, signing keys, the metrics registry and
//!    the people-facing pages.
//! 2. `config`: `gateway.yaml` to validated settings, every problem at once.
//! 3. `mapping`: OpenG2P's claim semantics (token map, claim mapping,
//!    registrant ids, partner fields).
//! 4. `session`: sessions and pending logins, in memory or Redis, and the
//!    sealed cookies that name them.
//! 5. `oidc`: the relying party towards e-Signet (discovery, JWKS, the
//!    authorization-code flow with PKCE and `private_key_jwt`, ID token and
//!    userinfo checks, back-channel logout tokens).
//! 6. `identity`: what the gateway asserts to upstreams and portals (the
//!    signed identity, the provider's codes and access tokens).
//! 7. `decision`: routing, policies, the one access decision, safe return
//!    targets and login-abuse bounds, as functions of facts.
//! 8. `edge`: everything that speaks HTTP: the pingora server and proxy, the
//!    login endpoints, forward-auth, the portal-facing provider, the admin
//!    listener, and the one mapping from errors to HTTP answers.
//! 9. `cli`: the `keygen`, `register` and `healthcheck` subcommands.
//!
//! `fuzzing` (behind the `fuzzing` feature) holds the fuzz-target bodies.

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod decision;
pub mod edge;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod mapping;
pub mod oidc;
pub mod session;
pub mod shared;
