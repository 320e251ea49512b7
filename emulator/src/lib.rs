//! `esignet-emulator`: test doubles for g2p-gateway.
//!
//! * [`emulator`] is an in-process MOSIP **e-Signet** emulator (OIDC discovery, JWKS, the
//!   `/authorize` login UI, the v2 token endpoint and the ID-system-signed userinfo), faithful
//!   to the behaviour of e-Signet 1.4.1 (the version OpenG2P deploys) and 1.8, including their
//!   quirks, with switchable faults for negative tests.
//! * [`upstream`] is a small "demo upstream" that stands in for the OpenG2P portal: it echoes
//!   every request and verifies the identity header that the gateway injects.
//!
//! Both run on the caller's tokio runtime and bind wherever they are told (tests use
//! `127.0.0.1:0`). The two binaries (`esignet-emulator`, `demo-upstream`) wrap them for the demo.

pub mod emulator;
mod serve;
pub mod upstream;

pub use emulator::{
    ClientRegistration, Emulator, EmulatorConfig, EsignetVersion, Faults, IdTokenFault,
    MockIdentity, RecordedTokenRequest, TokenEndpointFault, UserinfoFault,
};
pub use upstream::DemoUpstream;
