//! Test helper shared by the return-target and routing tests: the
//! open-redirect payload list vendored under `tests/fixtures/open-redirect/`
//! (mod_auth_openidc's list, Apache-2.0; see the README beside it).
//!
//! The list is embedded at compile time, so the unit tests read nothing
//! outside the repository and cannot pass vacuously on a missing file.

/// The vendored list, header lines included.
const PAYLOAD_LIST: &str = include_str!("../../../tests/fixtures/open-redirect/payloads.txt");

/// Every payload in the list, in file order (the `#` header lines skipped,
/// nothing trimmed: leading tabs and spaces are part of some payloads).
pub(crate) fn payloads() -> Vec<String> {
    let payloads: Vec<String> = PAYLOAD_LIST
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .skip_while(|line| line.starts_with('#'))
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    assert!(payloads.len() > 800, "payload list looks truncated");
    payloads
}
