//! The birthdate output format (`mapping.birthdate_format`), checked at
//! config load and applied by the claim mapping.

use std::fmt;

/// Why a `mapping.birthdate_format` pattern is refused (shown in the config
/// error list).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthdateFormatError {
    /// A directive other than `%Y`, `%m`, `%d` or `%%`.
    #[error("unsupported directive %{0} (use %Y, %m, %d and %%)")]
    Directive(char),
    /// The pattern ends with a single `%`.
    #[error("ends with a lone %")]
    LonePercent,
    /// `%Y`, `%m` or `%d` is missing or repeated.
    #[error("must hold each of %Y, %m and %d exactly once")]
    Counts,
}

/// How a mapped `birthdate` is written (`mapping.birthdate_format`): a
/// strftime-style pattern with `%Y`, `%m`, `%d` and `%%`, as the portal's
/// provider row `date_format` is written (OpenG2P's default `%Y/%m/%d`).
#[derive(Clone, PartialEq, Eq)]
pub struct BirthdateFormat(String);

impl BirthdateFormat {
    /// ISO 8601, the gateway's default.
    pub const ISO: &'static str = "%Y-%m-%d";

    /// Checks a pattern: only `%Y`, `%m`, `%d` and `%%` directives, each of
    /// `%Y`, `%m`, `%d` exactly once. Runs at config load.
    pub fn parse(pattern: &str) -> Result<BirthdateFormat, BirthdateFormatError> {
        let mut seen = [0u8; 3];
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                continue;
            }
            match chars.next() {
                Some('Y') => seen[0] += 1,
                Some('m') => seen[1] += 1,
                Some('d') => seen[2] += 1,
                Some('%') => {}
                Some(other) => return Err(BirthdateFormatError::Directive(other)),
                None => return Err(BirthdateFormatError::LonePercent),
            }
        }
        if seen != [1, 1, 1] {
            return Err(BirthdateFormatError::Counts);
        }
        Ok(BirthdateFormat(pattern.to_string()))
    }

    /// The date in this format (zero-padded, as Python's `strftime`).
    pub fn format(&self, year: u32, month: u32, day: u32) -> String {
        let mut out = String::with_capacity(self.0.len() + 4);
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(&format!("{year:04}")),
                Some('m') => out.push_str(&format!("{month:02}")),
                Some('d') => out.push_str(&format!("{day:02}")),
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }

    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for BirthdateFormat {
    fn default() -> Self {
        BirthdateFormat(Self::ISO.to_string())
    }
}

impl fmt::Debug for BirthdateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdate_formats() {
        assert_eq!(BirthdateFormat::default().format(1987, 11, 5), "1987-11-05");
        let odoo = BirthdateFormat::parse("%Y/%m/%d").unwrap();
        assert_eq!(odoo.format(1987, 11, 25), "1987/11/25");
        let dmy = BirthdateFormat::parse("%d.%m.%Y %%").unwrap();
        assert_eq!(dmy.format(2001, 2, 3), "03.02.2001 %");
        for bad in ["%Y-%m", "%Y-%m-%d-%d", "%Y-%b-%d", "%Y-%m-%d%", ""] {
            assert!(BirthdateFormat::parse(bad).is_err(), "{bad}");
        }
    }
}
