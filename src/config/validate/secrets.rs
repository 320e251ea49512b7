//! Secret sources (`{file: PATH}` or `{env: VAR_NAME}`), read and checked at load.
//!
//! Reading them during validation means a missing key file or an unset
//! variable stops the gateway before it listens, with the YAML path at fault.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;

use super::Checker;
use crate::config::path::YamlPath;
use crate::config::raw::SecretRef;
use crate::shared::secret::Secret;

/// Shortest accepted cookie key, in bytes after base64 decoding.
pub(super) const MIN_COOKIE_KEY_BYTES: usize = 64;
/// Smallest accepted RSA modulus, in bits.
pub(super) const MIN_RSA_BITS: usize = 2048;

const PADDING_OPTIONAL: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
/// Cookie keys may be written in standard or URL-safe base64, padded or not.
const BASE64_ENGINES: [GeneralPurpose; 2] = [
    GeneralPurpose::new(&alphabet::STANDARD, PADDING_OPTIONAL),
    GeneralPurpose::new(&alphabet::URL_SAFE, PADDING_OPTIONAL),
];

/// What is wrong with a key read from a secret source; the config error
/// list shows it after where the key came from. Never quotes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum KeyProblem {
    /// Not UTF-8, so not PEM.
    #[error("is not PEM text")]
    NotPemText,
    /// An encrypted PEM key.
    #[error("is an encrypted key; decrypt it first (openssl pkey -in KEY -out PLAIN)")]
    Encrypted,
    /// PEM, but no RSA private key.
    #[error("is not an RSA private key in PEM (PKCS#1 or PKCS#8)")]
    NotRsa,
    /// An RSA key shorter than [`MIN_RSA_BITS`].
    #[error("RSA key is {0} bits; at least {MIN_RSA_BITS} are required")]
    RsaTooShort(usize),
    /// Neither an RSA key nor an EC P-256 key (signing keys).
    #[error(
        "is neither an RSA private key in PEM (PKCS#1 or PKCS#8) nor an EC \
         P-256 private key in PKCS#8 PEM (g2p-gateway keygen --type ec makes one; \
         openssl pkcs8 -topk8 -nocrypt converts an EC PRIVATE KEY)"
    )]
    NotSigningKey,
    /// A cookie key that is not UTF-8 text.
    #[error("is not base64 text")]
    NotBase64Text,
    /// A cookie key that is not base64.
    #[error("is not base64 (standard or URL-safe)")]
    NotBase64,
    /// A cookie key shorter than [`MIN_COOKIE_KEY_BYTES`].
    #[error(
        "cookie key is {0} bytes after base64 decoding; at least {MIN_COOKIE_KEY_BYTES} are \
         required (generate one with `openssl rand -base64 64`)"
    )]
    CookieKeyTooShort(usize),
}

/// An RSA private key in PEM (PKCS#1 or PKCS#8); the PEM bytes are kept.
pub(super) fn rsa_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: &SecretRef,
) -> Option<Secret<Vec<u8>>> {
    checked_key(cx, path, source, parse_rsa)
}

/// A gateway signing key (`identity.signing_keys`): an RSA private key
/// as [`rsa_key`] wants it (RS256), or an EC P-256 private key in PKCS#8
/// PEM (ES256). The PEM bytes are kept.
pub(super) fn signing_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: &SecretRef,
) -> Option<Secret<Vec<u8>>> {
    checked_key(cx, path, source, parse_signing_key)
}

/// Reads a key and keeps its bytes if `check` accepts them; otherwise
/// records the problem at `path`, naming where the key came from.
fn checked_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: &SecretRef,
    check: fn(&[u8]) -> Result<(), KeyProblem>,
) -> Option<Secret<Vec<u8>>> {
    let (bytes, origin) = read(cx, path, source)?;
    match check(&bytes) {
        Ok(()) => Some(Secret::new(bytes)),
        Err(problem) => {
            cx.error(path, format!("{origin}: {problem}"));
            None
        }
    }
}

fn parse_signing_key(bytes: &[u8]) -> Result<(), KeyProblem> {
    parse_rsa(bytes).or_else(|rsa_problem| {
        match crate::shared::keys::SigningKey::from_pem(bytes) {
            Ok(key) if key.algorithm == jsonwebtoken::Algorithm::ES256 => Ok(()),
            // An RSA key that is too short or encrypted: say exactly that.
            _ if matches!(
                rsa_problem,
                KeyProblem::RsaTooShort(_) | KeyProblem::Encrypted
            ) =>
            {
                Err(rsa_problem)
            }
            _ => Err(KeyProblem::NotSigningKey),
        }
    })
}

fn parse_rsa(bytes: &[u8]) -> Result<(), KeyProblem> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeyProblem::NotPemText)?;
    if text.contains("ENCRYPTED") {
        return Err(KeyProblem::Encrypted);
    }
    let key = RsaPrivateKey::from_pkcs8_pem(text)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
        .map_err(|_| KeyProblem::NotRsa)?;
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(KeyProblem::RsaTooShort(bits));
    }
    Ok(())
}

/// A cookie key: base64 text (surrounding whitespace ignored), ≥ 64 bytes decoded.
pub(super) fn cookie_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: &SecretRef,
) -> Option<Secret<Vec<u8>>> {
    let (bytes, origin) = read(cx, path, source)?;
    match decode_cookie_key(&bytes) {
        Ok(key) => Some(Secret::new(key)),
        Err(problem) => {
            cx.error(path, format!("{origin}: {problem}"));
            None
        }
    }
}

fn decode_cookie_key(bytes: &[u8]) -> Result<Vec<u8>, KeyProblem> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeyProblem::NotBase64Text)?;
    let text = text.trim();
    let key = BASE64_ENGINES
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or(KeyProblem::NotBase64)?;
    if key.len() < MIN_COOKIE_KEY_BYTES {
        return Err(KeyProblem::CookieKeyTooShort(key.len()));
    }
    Ok(key)
}

/// Length of a record key (AES-256-GCM), in bytes after base64 decoding.
pub(super) const RECORD_KEY_BYTES: usize = 32;

/// A Redis record key: base64 text, exactly 32 bytes decoded.
pub(super) fn record_key(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: &SecretRef,
) -> Option<Secret<Vec<u8>>> {
    let (bytes, origin) = read(cx, path, source)?;
    let decoded = std::str::from_utf8(&bytes).ok().and_then(|text| {
        BASE64_ENGINES
            .iter()
            .find_map(|engine| engine.decode(text.trim()).ok())
    });
    match decoded {
        Some(key) if key.len() == RECORD_KEY_BYTES => Some(Secret::new(key)),
        Some(key) => {
            cx.error(
                path,
                format!(
                    "{origin}: record key is {} bytes after base64 decoding; exactly \
                     {RECORD_KEY_BYTES} are required (generate one with `openssl rand -base64 32`)",
                    key.len()
                ),
            );
            None
        }
        None => {
            cx.error(
                path,
                format!("{origin}: is not base64 (standard or URL-safe)"),
            );
            None
        }
    }
}

/// A secret holding text (a URL that may carry a password), trimmed.
pub(super) fn text(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    source: &SecretRef,
) -> Option<(String, String)> {
    let (bytes, origin) = read(cx, path, source)?;
    match String::from_utf8(bytes) {
        Ok(text) if !text.trim().is_empty() => Some((text.trim().to_owned(), origin)),
        Ok(_) => {
            cx.error(path, format!("{origin}: is empty"));
            None
        }
        Err(_) => {
            cx.error(path, format!("{origin}: is not UTF-8 text"));
            None
        }
    }
}

/// The secret's bytes and a description of where they came from (never the value).
fn read(cx: &mut Checker<'_>, path: &YamlPath, source: &SecretRef) -> Option<(Vec<u8>, String)> {
    match (&source.0.file, &source.0.env) {
        (Some(file), None) => {
            let resolved = cx.base_dir.join(file);
            match std::fs::read(&resolved) {
                Ok(bytes) => Some((bytes, format!("file {}", resolved.display()))),
                Err(e) => {
                    cx.error(
                        &path.key("file"),
                        format!("cannot read {}: {e}", resolved.display()),
                    );
                    None
                }
            }
        }
        (None, Some(name)) => {
            let name = cx.word(&path.key("env"), name)?;
            match (cx.env)(&name) {
                Some(value) => Some((value.into_bytes(), format!("environment variable {name}"))),
                None => {
                    cx.error(
                        &path.key("env"),
                        format!("environment variable {name} is not set"),
                    );
                    None
                }
            }
        }
        (Some(_), Some(_)) => {
            cx.error(path, "set either file or env, not both");
            None
        }
        (None, None) => {
            cx.error(path, "set {file: PATH} or {env: VAR_NAME}");
            None
        }
    }
}

/// A secret key read from its source, or `None` after recording why not.
pub(super) type KeyReader = fn(&mut Checker<'_>, &YamlPath, &SecretRef) -> Option<Secret<Vec<u8>>>;

/// Reads a newest-first key list; at least one key is required.
pub(super) fn key_list(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: Option<&Vec<SecretRef>>,
    read_key: KeyReader,
) -> Option<Vec<Secret<Vec<u8>>>> {
    let sources = cx.required(path, raw)?;
    if sources.is_empty() {
        cx.error(path, "at least one key is required (newest first)");
        return None;
    }
    let keys: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(index, source)| read_key(cx, &path.index(index), source))
        .collect();
    keys.into_iter().collect()
}
