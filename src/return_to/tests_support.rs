//! Test helper shared by the return-target and routing tests: the
//! open-redirect payload list from `shared/data`.

use std::path::{Path, PathBuf};

/// File name of the payload list under `shared/data`.
const PAYLOAD_FILE: &str = "open-redirect-payloads.txt";

/// Absolute fallback for scratch builds outside the repository.
const FALLBACK_DIR: &str = "/work/shared/data";

/// Every payload in the list, in file order (the `#` header lines skipped,
/// nothing trimmed: leading tabs and spaces are part of some payloads).
///
/// Panics when the file cannot be found, so the tests cannot pass vacuously.
pub(crate) fn payloads() -> Vec<String> {
    let path = payload_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let payloads: Vec<String> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .skip_while(|line| line.starts_with('#'))
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    assert!(payloads.len() > 800, "payload list looks truncated");
    payloads
}

/// `<repo root>/../shared/data/…`, else the absolute fallback.
fn payload_file() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = workspace_root(manifest_dir)
        .map(|root| root.join("../shared/data").join(PAYLOAD_FILE))
        .into_iter()
        .chain(std::iter::once(Path::new(FALLBACK_DIR).join(PAYLOAD_FILE)));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{PAYLOAD_FILE} not found next to the repository nor in {FALLBACK_DIR}");
}

/// The nearest ancestor whose `Cargo.toml` declares `[workspace]`.
fn workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|line| line.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}
