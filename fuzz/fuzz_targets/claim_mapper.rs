//! cargo-fuzz target `claim_mapper`: see `g2p_gateway::fuzzing::claim_mapper` for the input and the oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| g2p_gateway::fuzzing::claim_mapper(data));
