//! Records sealed at rest: AES-256-GCM under rotating keys, bound to their key.
//!
//! Every value the Redis store writes goes through [`Sealer`], so whoever
//! reads Redis (a backup, a replica, an operator) sees neither personal data
//! nor tokens. The associated data is the Redis key, so a record copied under
//! another key (another session's) does not open.
//!
//! Layout: `version (1) | key id (1) | nonce (12) | ciphertext+tag`. The key
//! id is the first byte of a hash of the key, so a rotated list opens old
//! records without trial decryption (two keys sharing an id are both tried).
//! Nonces are random: AES-GCM stays safe for well over 2^32 records per key,
//! and keys are meant to be rotated long before that.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::SetupError;
use crate::shared::secret::Secret;

/// Format version of sealed records.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 2 + NONCE_LEN;

/// Seals and opens records with the configured keys (newest first).
pub struct Sealer {
    keys: Vec<(u8, Aes256Gcm)>,
}

/// Why a record did not open. Carries no record content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Too short or an unknown format version.
    #[error("malformed record")]
    Malformed,
    /// No configured key has the record's key id (it was rotated out).
    #[error("record sealed with a key that is no longer configured")]
    UnknownKey,
    /// Authentication failed: tampered, moved to another key, or a wrong key.
    #[error("record does not authenticate")]
    Forged,
}

impl Sealer {
    /// Builds the sealer; every key must be 32 bytes (checked by config too).
    pub fn new(keys: &[Secret<Vec<u8>>]) -> Result<Sealer, SetupError> {
        if keys.is_empty() {
            return Err(SetupError::NoRecordKey);
        }
        let keys = keys
            .iter()
            .map(|k| {
                let cipher = Aes256Gcm::new_from_slice(k.expose())
                    .map_err(|_| SetupError::RecordKeyLength)?;
                Ok((key_id(k.expose()), cipher))
            })
            .collect::<Result<Vec<_>, SetupError>>()?;
        Ok(Sealer { keys })
    }

    /// Encrypts `plaintext` under the newest key, bound to `aad` (the Redis key).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(VERSION);
        out.push(*id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a record sealed by [`Sealer::seal`] under any configured key.
    pub fn open(&self, aad: &[u8], record: &[u8]) -> Result<Vec<u8>, OpenError> {
        if record.len() < HEADER_LEN + 16 || record[0] != VERSION {
            return Err(OpenError::Malformed);
        }
        let id = record[1];
        let nonce = Nonce::from_slice(&record[2..HEADER_LEN]);
        let payload = || Payload {
            msg: &record[HEADER_LEN..],
            aad,
        };
        let mut candidates = self.keys.iter().filter(|(k, _)| *k == id).peekable();
        if candidates.peek().is_none() {
            return Err(OpenError::UnknownKey);
        }
        candidates
            .find_map(|(_, cipher)| cipher.decrypt(nonce, payload()).ok())
            .ok_or(OpenError::Forged)
    }
}

/// One byte naming a key in record headers (not secret: 8 bits of a hash).
fn key_id(key: &[u8]) -> u8 {
    let mut hasher = Sha256::new();
    hasher.update(b"g2p-gateway record key id\0");
    hasher.update(key);
    hasher.finalize()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(keys: &[[u8; 32]]) -> Sealer {
        let keys: Vec<_> = keys.iter().map(|k| Secret::new(k.to_vec())).collect();
        Sealer::new(&keys).unwrap()
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let s = sealer(&[[1; 32]]);
        let record = s.seal(b"g2p:s:abc", b"Siddharth K Mansour");
        assert!(!record.windows(9).any(|w| w == b"Siddharth"));
        assert_eq!(
            s.open(b"g2p:s:abc", &record).unwrap(),
            b"Siddharth K Mansour"
        );
        assert_ne!(
            record,
            s.seal(b"g2p:s:abc", b"Siddharth K Mansour"),
            "fresh nonce"
        );
    }

    #[test]
    fn a_record_is_bound_to_its_key() {
        let s = sealer(&[[1; 32]]);
        let record = s.seal(b"g2p:s:abc", b"x");
        assert_eq!(s.open(b"g2p:s:abd", &record), Err(OpenError::Forged));
    }

    #[test]
    fn tampered_truncated_and_foreign_records_do_not_open() {
        let s = sealer(&[[1; 32]]);
        let mut record = s.seal(b"k", b"payload");
        let last = record.len() - 1;
        record[last] ^= 1;
        assert_eq!(s.open(b"k", &record), Err(OpenError::Forged));
        assert_eq!(s.open(b"k", &record[..10]), Err(OpenError::Malformed));
        let mut future = s.seal(b"k", b"payload");
        future[0] = 2;
        assert_eq!(s.open(b"k", &future), Err(OpenError::Malformed));
        let other = sealer(&[[2; 32]]);
        assert_eq!(
            other.open(b"k", &s.seal(b"k", b"payload")),
            Err(OpenError::UnknownKey)
        );
    }

    #[test]
    fn rotated_keys_open_old_records_and_seal_with_the_newest() {
        let old = sealer(&[[1; 32]]);
        let rotated = sealer(&[[2; 32], [1; 32]]);
        let record = old.seal(b"k", b"payload");
        assert_eq!(rotated.open(b"k", &record).unwrap(), b"payload");
        let fresh = rotated.seal(b"k", b"payload");
        assert_eq!(fresh[1], key_id(&[2; 32]));
        assert!(old.open(b"k", &fresh).is_err());
    }
}
