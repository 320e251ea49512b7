//! cargo-fuzz target `config_loader`: see `g2p_gateway::fuzzing::config_loader` for the input and the oracles.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| g2p_gateway::fuzzing::config_loader(data));
