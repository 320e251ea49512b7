//! YAML paths (`routes[0].path`) naming where in `gateway.yaml` a problem is.
//!
//! Built while parsing and validating, rendered only when reporting errors.

use std::fmt;

/// One step into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the document root, e.g. `esignet.acr_values[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct YamlPath(Vec<Seg>);

impl YamlPath {
    /// The document root.
    pub(crate) fn root() -> Self {
        YamlPath(Vec::new())
    }

    /// This path extended by a mapping key.
    pub(crate) fn key(&self, key: &str) -> Self {
        self.with(Seg::Key(key.to_owned()))
    }

    /// This path extended by a sequence index.
    pub(crate) fn index(&self, index: usize) -> Self {
        self.with(Seg::Index(index))
    }

    fn with(&self, seg: Seg) -> Self {
        let mut segs = self.0.clone();
        segs.push(seg);
        YamlPath(segs)
    }

    /// The steps, from the root.
    pub(crate) fn segments(&self) -> &[Seg] {
        &self.0
    }

    /// Mutable access to the steps (used to renumber indices).
    pub(crate) fn segments_mut(&mut self) -> &mut [Seg] {
        &mut self.0
    }

    /// True for the document root.
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `prefix` is this path or one of its ancestors.
    pub(crate) fn starts_with(&self, prefix: &YamlPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The first `len` steps of this path (all of it if shorter).
    pub(crate) fn truncated(&self, len: usize) -> Self {
        YamlPath(self.0[..len.min(self.0.len())].to_vec())
    }

    /// Converts a `serde_path_to_error` path; an unknown step ends the path
    /// there, so the result names the deepest known node.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        let mut segs = Vec::new();
        for segment in path.iter() {
            match segment {
                Segment::Seq { index } => segs.push(Seg::Index(*index)),
                Segment::Map { key } | Segment::Enum { variant: key } => {
                    segs.push(Seg::Key(key.clone()))
                }
                Segment::Unknown => break,
            }
        }
        YamlPath(segs)
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) if i == 0 => f.write_str(key)?,
                Seg::Key(key) => write!(f, ".{key}")?,
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_dotted_keys_and_indices() {
        let path = YamlPath::root().key("routes").index(2).key("upstream");
        assert_eq!(path.to_string(), "routes[2].upstream");
        assert!(path.starts_with(&YamlPath::root().key("routes")));
        assert!(!path.starts_with(&YamlPath::root().key("route")));
        assert_eq!(path.truncated(2).to_string(), "routes[2]");
    }
}
