//! Secret values: redacted in `Debug`, compared in constant time.
//!
//! Keys, cookie keys and any other secret the gateway holds are wrapped in
//! [`Secret`] as soon as they are read, so they cannot end up in a log line
//! by accident.

use subtle::ConstantTimeEq;

/// A secret value. `Debug` prints `Secret([redacted])`; there is no `Display`.
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value read from a secret source.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself.
    ///
    /// # Security
    /// Never log or echo what this returns.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
