//! Secret values: redacted in `Debug`, compared in constant time.
//!
//! Keys, cookie keys and any other secret the gateway holds are wrapped in
//! [`Secret`] as soon as they are read, so they cannot end up in a log line
//! by accident.

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

/// Secrets compare in constant time: a reload compares the old and new
/// start-time settings, Redis URLs and record keys among them.
impl PartialEq for Secret<String> {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl PartialEq for Secret<Vec<u8>> {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl PartialEq for Secret<Vec<String>> {
    fn eq(&self, other: &Self) -> bool {
        // Every pair is compared, whatever the outcome of the previous ones.
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).fold(true, |same, (a, b)| {
                constant_time_eq(a.as_bytes(), b.as_bytes()) & same
            })
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time_eq::constant_time_eq(a, b)
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
    fn secrets_compare_by_content() {
        let url = |u: &str| Secret::new(u.to_string());
        assert_eq!(url("redis://a"), url("redis://a"));
        assert_ne!(url("redis://a"), url("redis://b"));
        let urls = |u: &[&str]| Secret::new(u.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(urls(&["a", "b"]), urls(&["a", "b"]));
        assert_ne!(urls(&["a", "b"]), urls(&["a", "c"]));
        assert_ne!(urls(&["a"]), urls(&["a", "b"]));
        assert_ne!(Secret::new(vec![1u8, 2]), Secret::new(vec![1u8, 3]));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
