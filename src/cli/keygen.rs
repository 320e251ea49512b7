//! `g2p-gateway keygen`: an RSA private key (PKCS#8 PEM) and its public JWK.
//!
//! The JWK (`kty`, `n`, `e`, `kid` = RFC 7638 thumbprint, `alg` RS256, `use`
//! sig) is exactly the `publicKey` e-Signet's client registration wants, and
//! fits its `varchar(1024)` column. Existing files are never overwritten; the
//! private key is created with mode 0600 (never readable by others, not even
//! for an instant), the JWK with 0644.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;
use serde_json::Value;

use crate::identity::keys::public_jwk;

/// e-Signet's `client_detail.public_key` column is `varchar(1024)`.
pub const MAX_JWK_CHARS: usize = 1024;
/// Key sizes offered (2048 is e-Signet's and the postman collection's default).
pub const ALLOWED_BITS: &[usize] = &[2048, 3072, 4096];

/// What `keygen` wrote.
#[derive(Debug)]
pub struct Generated {
    /// The private key file (mode 0600).
    pub key_path: PathBuf,
    /// The public JWK file (mode 0644).
    pub jwk_path: PathBuf,
    /// The public JWK.
    pub jwk: Value,
}

/// The default JWK path for a key path: `client.pem` → `client.jwk.json`.
pub fn default_jwk_path(key: &Path) -> PathBuf {
    key.with_extension("jwk.json")
}

/// Generates a key of `bits` and writes both files; refuses to overwrite.
pub fn generate(key_path: &Path, jwk_path: &Path, bits: usize) -> Result<Generated, String> {
    if !ALLOWED_BITS.contains(&bits) {
        return Err(format!(
            "--bits {bits} is not supported; use one of {ALLOWED_BITS:?}"
        ));
    }
    if key_path == jwk_path {
        return Err("the key and the JWK must go to different files".into());
    }
    for path in [key_path, jwk_path] {
        if path.exists() || path.symlink_metadata().is_ok() {
            return Err(format!(
                "{} already exists; refusing to overwrite it (move it away first)",
                path.display()
            ));
        }
    }
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), bits)
        .map_err(|e| format!("key generation failed: {e}"))?;
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("cannot encode the key: {e}"))?;
    let jwk = public_jwk(&private);
    let jwk_text = jwk.to_string();
    if jwk_text.len() > MAX_JWK_CHARS {
        return Err(format!(
            "the JWK is {} characters; e-Signet stores at most {MAX_JWK_CHARS}",
            jwk_text.len()
        ));
    }
    write_new(key_path, pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(jwk_path, format!("{jwk_text}\n").as_bytes(), 0o644) {
        let _ = std::fs::remove_file(key_path);
        return Err(e);
    }
    Ok(Generated {
        key_path: key_path.to_path_buf(),
        jwk_path: jwk_path.to_path_buf(),
        jwk,
    })
}

/// Creates `path` (failing if it exists) with `mode` from the start and writes `bytes`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `keygen` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes an RSA private key (PKCS#8 PEM, mode 0600) and its public JWK (mode 0644): \
kty, n, e, kid (RFC 7638 thumbprint), alg RS256, use sig. The JWK is the publicKey to \
register with e-Signet (g2p-gateway register does it) and fits e-Signet's 1024-character \
column. Existing files are never overwritten. The same command makes gateway signing keys \
(identity.signing_keys); their JWK is published by the gateway itself.")]
pub struct KeygenArgs {
    /// Where to write the private key.
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// Where to write the public JWK (default: the key path with .jwk.json).
    #[arg(long, value_name = "PATH")]
    pub jwk: Option<PathBuf>,
    /// RSA modulus size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048)]
    pub bits: usize,
}

/// Runs `keygen`.
pub fn main(args: KeygenArgs) -> std::process::ExitCode {
    let jwk_path = args.jwk.unwrap_or_else(|| default_jwk_path(&args.key));
    match generate(&args.key, &jwk_path, args.bits) {
        Ok(generated) => {
            println!(
                "wrote {} (private key, mode 0600) and {} (public JWK, mode 0644)",
                generated.key_path.display(),
                generated.jwk_path.display()
            );
            println!("kid: {}", generated.jwk["kid"].as_str().unwrap_or_default());
            println!("{}", generated.jwk);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("g2p-gateway keygen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_sizes_are_refused_before_any_work() {
        let dir = std::env::temp_dir();
        let err = generate(&dir.join("x.pem"), &dir.join("x.jwk.json"), 1024).unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn default_jwk_path_sits_next_to_the_key() {
        assert_eq!(
            default_jwk_path(Path::new("certs/client.pem")),
            PathBuf::from("certs/client.jwk.json")
        );
    }
}
