//! g2p-gateway: a reverse-proxy authentication gateway for OpenG2P portals.
//!
//! It logs citizens in through MOSIP e-Signet (OpenID Connect with PKCE and
//! `private_key_jwt`), keeps their sessions, maps their claims the way OpenG2P
//! does, and forwards requests upstream with a gateway-signed identity.
//!
//! Module map: `config` (YAML → validated types), `access` (the one access
//! decision, and `access::target`, what a request's host and target are),
//! `routing` (route table and path checks), `policy`, `oidc` (the relying
//! party), `mapping` (OpenG2P claim semantics), `session` (store and
//! cookies), `identity` (the upstream assertion), `forwarded` (forwarding
//! headers), `limits` (login abuse bounds), `connections` (connection caps
//! and the header deadline), `endpoints`, `forward_auth` and `proxy` (HTTP
//! glue), `error` and `respond` (the one error-to-HTTP mapping), `metrics`,
//! `admin`, `server`.

#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![warn(missing_docs)]

pub mod access;
pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod endpoints;
pub mod error;
pub mod forward_auth;
pub mod forwarded;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod identity;
pub mod limits;
pub mod mapping;
pub mod metrics;
pub mod oidc;
pub mod pages;
pub mod policy;
pub mod provider;
pub mod proxy;
pub mod reload;
pub mod respond;
pub mod return_to;
pub mod routing;
pub mod secret;
pub mod server;
pub mod session;
pub mod telemetry;
