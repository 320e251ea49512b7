//! `g2p-gateway keygen`: a private key (PKCS#8 PEM) and its public JWK.
//!
//! RSA by default (`--type rsa`): the JWK (`kty`, `n`, `e`, `kid` = RFC 7638
//! thumbprint, `alg` RS256, `use` sig) is exactly the `publicKey` e-Signet's
//! client registration wants, and fits its `varchar(1024)` column.
//! `--type ec` makes an EC P-256 key (`kty` EC, `crv`, `x`, `y`, `alg`
//! ES256): a gateway signing key (`identity.signing_keys`) whose assertions
//! are a third of the RS256 size and sign faster; e-Signet's client key
//! stays RSA. Existing files are never overwritten; the
//! private key is created with mode 0600 (never readable by others, not even
//! for an instant), the JWK with 0644.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rsa::pkcs8::{EncodePrivateKey, LineEnding, SecretDocument};
use rsa::RsaPrivateKey;
use serde_json::Value;

use crate::shared::keys::{ec_public_jwk, public_jwk};

/// e-Signet's `client_detail.public_key` column is `varchar(1024)`.
pub const MAX_JWK_CHARS: usize = 1024;
/// Key sizes offered (2048 is e-Signet's and the postman collection's default).
pub const ALLOWED_BITS: &[usize] = &[2048, 3072, 4096];

/// Why `keygen` wrote nothing (or removed what it had begun to write).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--bits` is not one of [`ALLOWED_BITS`].
    #[error("--bits {0} is not supported; use one of {ALLOWED_BITS:?}")]
    UnsupportedBits(usize),
    /// `--jwk` names the key file itself.
    #[error("the key and the JWK must go to different files")]
    SamePath,
    /// A target file exists; keygen never overwrites.
    #[error("{} already exists; refusing to overwrite it (move it away first)", .0.display())]
    Exists(PathBuf),
    /// The random key could not be generated.
    #[error("key generation failed")]
    Generate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The key could not be encoded as PKCS#8 PEM.
    #[error("cannot encode the key")]
    Encode(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The public JWK could not be made.
    #[error("cannot make the public JWK")]
    Jwk(#[from] crate::shared::keys::KeyError),
    /// The JWK does not fit e-Signet's column.
    #[error("the JWK is {0} characters; e-Signet stores at most {MAX_JWK_CHARS}")]
    JwkTooLong(usize),
    /// A file could not be created.
    #[error("cannot create {}", .path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

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

/// The kind of key `keygen` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    /// RSA (RS256): e-Signet client keys, and the default signing key.
    Rsa,
    /// EC P-256 (ES256): a compact, faster gateway signing key.
    Ec,
}

/// Generates a key of `key_type` (`bits` for RSA) and writes both files;
/// refuses to overwrite.
pub fn generate(
    key_path: &Path,
    jwk_path: &Path,
    key_type: KeyType,
    bits: usize,
) -> Result<Generated, Error> {
    if key_type == KeyType::Rsa && !ALLOWED_BITS.contains(&bits) {
        return Err(Error::UnsupportedBits(bits));
    }
    if key_path == jwk_path {
        return Err(Error::SamePath);
    }
    for path in [key_path, jwk_path] {
        if path.exists() || path.symlink_metadata().is_ok() {
            return Err(Error::Exists(path.to_path_buf()));
        }
    }
    let (pem, jwk) = match key_type {
        KeyType::Rsa => rsa_key(bits)?,
        KeyType::Ec => ec_key()?,
    };
    let jwk_text = jwk.to_string();
    if jwk_text.len() > MAX_JWK_CHARS {
        return Err(Error::JwkTooLong(jwk_text.len()));
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

/// A new RSA key of `bits`: PKCS#8 PEM and public JWK.
fn rsa_key(bits: usize) -> Result<(String, Value), Error> {
    let private =
        RsaPrivateKey::new(&mut rand::thread_rng(), bits).map_err(|e| Error::Generate(e.into()))?;
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::Encode(e.into()))?;
    Ok((pem.to_string(), public_jwk(&private)))
}

/// A new EC P-256 key: PKCS#8 PEM and public JWK.
fn ec_key() -> Result<(String, Value), Error> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|e| Error::Generate(e.into()))?;
    let der = pair.to_pkcs8v1().map_err(|e| Error::Encode(e.into()))?;
    let pem = SecretDocument::try_from(der.as_ref())
        .and_then(|doc| doc.to_pem("PRIVATE KEY", LineEnding::LF))
        .map_err(|e| Error::Encode(e.into()))?;
    Ok((pem.to_string(), ec_public_jwk(pair.public_key().as_ref())?))
}

/// Creates `path` (failing if it exists) with `mode` from the start and writes `bytes`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| Error::Create {
            path: path.to_path_buf(),
            source,
        })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// `keygen` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes a private key (PKCS#8 PEM, mode 0600) and its public JWK (mode 0644). \
--type rsa (the default): kty, n, e, kid (RFC 7638 thumbprint), alg RS256, use sig; the \
JWK is the publicKey to register with e-Signet (g2p-gateway register does it) and fits \
e-Signet's 1024-character column. --type ec: an EC P-256 key (kty EC, crv, x, y, alg \
ES256), for gateway signing keys only (identity.signing_keys): the assertions it signs are \
smaller and cheaper to sign; portals must accept ES256. Existing files are never \
overwritten. Gateway signing keys' JWKs are published by the gateway itself.")]
pub struct KeygenArgs {
    /// Where to write the private key.
    #[arg(long, value_name = "PATH")]
    pub key: PathBuf,
    /// Where to write the public JWK (default: the key path with .jwk.json).
    #[arg(long, value_name = "PATH")]
    pub jwk: Option<PathBuf>,
    /// Key type: rsa (RS256) or ec (P-256, ES256; gateway signing keys only).
    #[arg(long = "type", value_enum, default_value_t = KeyType::Rsa)]
    pub key_type: KeyType,
    /// RSA modulus size: 2048, 3072 or 4096 (RSA only).
    #[arg(long, default_value_t = 2048)]
    pub bits: usize,
}

/// Runs `keygen`.
pub fn main(args: KeygenArgs) -> std::process::ExitCode {
    let jwk_path = args.jwk.unwrap_or_else(|| default_jwk_path(&args.key));
    match generate(&args.key, &jwk_path, args.key_type, args.bits) {
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
            eprintln!("g2p-gateway keygen: {}", crate::shared::errors::Chain(&e));
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
        let err = generate(
            &dir.join("x.pem"),
            &dir.join("x.jwk.json"),
            KeyType::Rsa,
            1024,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    #[test]
    fn default_jwk_path_sits_next_to_the_key() {
        assert_eq!(
            default_jwk_path(Path::new("certs/client.pem")),
            PathBuf::from("certs/client.jwk.json")
        );
    }
}
