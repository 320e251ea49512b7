//! The HTTP edge: everything that reads a request or writes a response.
//!
//! - [`server`] builds the pingora server, its listeners and the admin
//!   service; [`connections`] bounds connections and header time before
//!   pingora parses a request; [`reload`] swaps the runtime state on SIGHUP.
//! - [`gateway`] is the runtime state of one config (the composition root
//!   the handlers share).
//! - [`proxy`] forwards requests; [`endpoints`] answers the gateway's own
//!   login, callback and logout; [`forward_auth`] answers an ingress's auth
//!   subrequests; [`provider`] is the OpenID provider the portal logs in
//!   with, and [`provision`] logs the portal in after a gateway login;
//!   [`admin`] serves metrics and health.
//! - [`forwarded`] and [`upstream`] shape what the upstream receives: the
//!   forwarding headers and the identity in the form the upstream reads.
//! - [`error`] and [`respond`] are the one place failures become HTTP
//!   answers; [`telemetry`] sets up logging.

pub mod admin;
pub mod connections;
pub mod endpoints;
pub mod error;
pub mod forward_auth;
pub mod forwarded;
pub mod gateway;
pub mod provider;
pub mod provision;
pub mod proxy;
pub mod reload;
pub mod respond;
pub mod server;
pub mod telemetry;
pub mod upstream;
