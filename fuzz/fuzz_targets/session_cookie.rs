//! cargo-fuzz target `session_cookie`: see `g2p_gateway::fuzzing::session_cookie` for the input and the oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| g2p_gateway::fuzzing::session_cookie(data));
