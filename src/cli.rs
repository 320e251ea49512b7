//! Operator subcommands besides `run` and `check-config`.
//!
//! `keygen` creates the e-Signet client key pair (or a gateway signing key);
//! `register` registers the gateway as an OIDC client with e-Signet or MOSIP
//! PMS. Both are run by hand, once per deployment or key rotation.
//! `healthcheck` asks a running gateway's admin listener whether it is
//! healthy, for container health checks in images without a shell.

pub mod healthcheck;
pub mod keygen;
pub mod register;
