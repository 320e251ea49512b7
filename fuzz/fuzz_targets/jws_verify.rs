//! cargo-fuzz target `jws_verify`: see `g2p_gateway::fuzzing::jws_verify` for the input and the oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| g2p_gateway::fuzzing::jws_verify(data));
