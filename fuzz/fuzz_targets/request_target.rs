//! cargo-fuzz target `request_target`: see `g2p_gateway::fuzzing::request_target` for the input and the oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| g2p_gateway::fuzzing::request_target(data));
