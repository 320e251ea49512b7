//! Records the git revision the binary is built from, for `--version`.
//!
//! `G2P_GATEWAY_GIT_REVISION` in the environment wins (a container build has
//! no `.git`: pass it as a build argument); otherwise `git rev-parse`, else
//! `unknown`. Cargo reruns this only when HEAD or the variable changes.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=G2P_GATEWAY_GIT_REVISION");
    // HEAD, the branch it points at, and packed refs (worktrees included).
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"])
            .and_then(|branch| git(&["rev-parse", "--git-path", &branch])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    // A path that does not exist would make cargo rerun this on every build.
    .filter(|path| std::path::Path::new(path).exists())
    {
        println!("cargo:rerun-if-changed={path}");
    }
    let revision = std::env::var("G2P_GATEWAY_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=G2P_GATEWAY_GIT_REVISION={revision}");
}
