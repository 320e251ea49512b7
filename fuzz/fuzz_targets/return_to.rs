//! cargo-fuzz target `return_to`: see `g2p_gateway::fuzzing::return_to` for the input and the oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| g2p_gateway::fuzzing::return_to(data));
