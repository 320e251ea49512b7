//! Tolerant parsing: YAML text → [`RawConfig`], collecting every serde error.
//!
//! serde stops at the first error, so each failed attempt records the error
//! with its YAML path, prunes the offending node from the document and tries
//! again. Removing a list item shifts later indices; [`Pruning`] remembers the
//! removals so every reported path uses the numbering of the file as written.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

use super::path::{Seg, YamlPath};
use super::raw::RawConfig;
use super::suggest;

/// Upper bound on parse-prune-retry rounds (one error is found per round).
pub(crate) const MAX_ROUNDS: usize = 100;

/// The outcome of the syntactic pass.
pub(crate) struct Parsed {
    /// The raw config, once the pruned document deserializes; `None` when the
    /// document could not be repaired within [`MAX_ROUNDS`].
    pub raw: Option<RawConfig>,
    /// Errors found, with paths in file numbering.
    pub errors: Vec<(YamlPath, String)>,
    /// What was pruned, to renumber and filter later (semantic) errors.
    pub pruning: Pruning,
    /// Document order of every node, to sort errors as they appear in the file.
    pub order: DocOrder,
}

/// A problem with the file as a whole (the `<file>` path).
#[derive(Debug)]
pub(crate) struct FileProblem(pub String);

/// Parses YAML text; `Err` only when the text is not a YAML mapping at all.
pub(crate) fn parse(yaml: &str) -> Result<Parsed, FileProblem> {
    let mut document = document(yaml)?;
    let order = DocOrder::of(&document);
    let mut pruning = Pruning::default();
    let mut errors = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let error = match serde_path_to_error::deserialize::<_, RawConfig>(&document) {
            Ok(raw) => {
                return Ok(Parsed {
                    raw: Some(raw),
                    errors,
                    pruning,
                    order,
                })
            }
            Err(error) => error,
        };
        let (path, message) = describe(&error);
        let original = pruning.to_original(&path);
        if !pruning.covers(&original) {
            errors.push((original, message));
        }
        if !pruning.prune(&mut document, &path) {
            return Ok(Parsed {
                raw: None,
                errors,
                pruning,
                order,
            });
        }
    }
    errors.push((
        YamlPath::root(),
        format!("too many errors; gave up after {MAX_ROUNDS}"),
    ));
    Ok(Parsed {
        raw: None,
        errors,
        pruning,
        order,
    })
}

/// Reads the text into a mapping, with `<<` merge keys applied (so anchors
/// can share route settings) and scalar keys turned into strings.
fn document(yaml: &str) -> Result<Value, FileProblem> {
    let mut value: Value = serde_yaml::from_str(yaml).map_err(syntax_problem)?;
    if value.is_null() {
        value = Value::Mapping(Mapping::new());
    }
    if !value.is_mapping() {
        return Err(FileProblem(
            "the top level must be a mapping of sections (server, esignet, mapping, session, \
             identity, upstreams, routes, logging, provider)"
                .into(),
        ));
    }
    value
        .apply_merge()
        .map_err(|e| FileProblem(format!("invalid merge key (<<): {e}")))?;
    stringify_keys(&mut value);
    Ok(value)
}

fn syntax_problem(error: serde_yaml::Error) -> FileProblem {
    match error.location() {
        Some(at) => FileProblem(format!(
            "YAML syntax error at line {}, column {}: {}",
            at.line(),
            at.column(),
            strip_location(&error.to_string())
        )),
        None => FileProblem(format!("YAML syntax error: {error}")),
    }
}

/// serde_yaml appends " at line L column C"; the location is reported separately.
fn strip_location(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// Numbers and booleans used as keys (`8080: …`, `yes: …`) become strings,
/// so that an unknown key is reported by name rather than as a type error.
fn stringify_keys(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            let entries = std::mem::take(map);
            for (key, mut child) in entries {
                stringify_keys(&mut child);
                map.insert(key_string(key), child);
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(stringify_keys),
        Value::Tagged(tagged) => stringify_keys(&mut tagged.value),
        _ => {}
    }
}

fn key_string(key: Value) -> Value {
    match key {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other,
    }
}

// === Error messages ===

/// The path and operator-facing message for one serde error.
fn describe(error: &serde_path_to_error::Error<serde_yaml::Error>) -> (YamlPath, String) {
    let path = YamlPath::from_serde(error.path());
    let message = error.inner().to_string();
    let quoted = backticked(&message);
    if let (true, Some(field)) = (message.starts_with("missing field "), quoted.first()) {
        return (path.key(field), "required key is missing".into());
    }
    if message.starts_with("unknown field ") && !quoted.is_empty() {
        return (path, unknown("key", &quoted));
    }
    if message.starts_with("unknown variant ") && !quoted.is_empty() {
        return (path, unknown("value", &quoted));
    }
    if let Some((head, _)) = message.split_once(", expected struct ") {
        return (path, format!("{head}, expected a mapping"));
    }
    if let Some((head, _)) = message.split_once(", expected enum ") {
        return (path, format!("{head}, expected a string"));
    }
    if message.ends_with("expected a duration") {
        return (
            path,
            format!("{message} such as \"30s\", \"10m\" or \"8h\""),
        );
    }
    (path, message)
}

/// `unknown key "x"; did you mean "y"?` (or the list of known words).
fn unknown(what: &str, quoted: &[&str]) -> String {
    let (word, known) = (quoted[0], &quoted[1..]);
    let base = format!("unknown {what} \"{word}\"");
    match suggest::closest(word, known.iter().copied()) {
        Some(candidate) => format!("{base}; did you mean \"{candidate}\"?"),
        None if known.is_empty() => base,
        None => format!(
            "{base} (known: {})",
            suggest::known_list(known.iter().copied())
        ),
    }
}

/// The `` `quoted` `` words of a serde message, in order.
fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

// === Pruning ===

/// The record of nodes removed from the document while parsing.
#[derive(Debug, Default)]
pub(crate) struct Pruning {
    /// Removed sequence items, each in the numbering current at its removal.
    removed_items: Vec<YamlPath>,
    /// Every removed node, in file numbering.
    removed: Vec<YamlPath>,
}

impl Pruning {
    /// Removes the deepest existing node on `path`; false if that is the root.
    fn prune(&mut self, document: &mut Value, path: &YamlPath) -> bool {
        let target = path.truncated(existing_depth(document, path));
        if target.is_root() || !remove(document, &target) {
            return false;
        }
        self.removed.push(self.to_original(&target));
        if matches!(target.segments().last(), Some(Seg::Index(_))) {
            self.removed_items.push(target);
        }
        true
    }

    /// Renumbers a path in the pruned document to the file's numbering.
    pub(crate) fn to_original(&self, path: &YamlPath) -> YamlPath {
        let mut path = path.clone();
        for removed in self.removed_items.iter().rev() {
            shift_after_removal(&mut path, removed);
        }
        path
    }

    /// True when `original` lies inside a node that was pruned (its error was
    /// already reported, so "missing" or follow-up errors there are noise).
    pub(crate) fn covers(&self, original: &YamlPath) -> bool {
        self.removed
            .iter()
            .any(|removed| original.starts_with(removed))
    }
}

/// Undoes the index shift caused by removing the item `removed`.
fn shift_after_removal(path: &mut YamlPath, removed: &YamlPath) {
    let Some((Seg::Index(gone), parent)) = removed.segments().split_last() else {
        return;
    };
    let depth = parent.len();
    if path.segments().len() <= depth || !path.segments().starts_with(parent) {
        return;
    }
    if let Seg::Index(index) = &mut path.segments_mut()[depth] {
        if *index >= *gone {
            *index += 1;
        }
    }
}

fn child<'a>(value: &'a Value, seg: &Seg) -> Option<&'a Value> {
    match (value, seg) {
        (Value::Tagged(tagged), _) => child(&tagged.value, seg),
        (Value::Mapping(map), Seg::Key(key)) => map.get(key.as_str()),
        (Value::Sequence(items), Seg::Index(index)) => items.get(*index),
        _ => None,
    }
}

fn child_mut<'a>(value: &'a mut Value, seg: &Seg) -> Option<&'a mut Value> {
    match (value, seg) {
        (Value::Tagged(tagged), _) => child_mut(&mut tagged.value, seg),
        (Value::Mapping(map), Seg::Key(key)) => map.get_mut(key.as_str()),
        (Value::Sequence(items), Seg::Index(index)) => items.get_mut(*index),
        _ => None,
    }
}

/// How many leading steps of `path` exist in `document`.
fn existing_depth(document: &Value, path: &YamlPath) -> usize {
    let mut node = document;
    for (depth, seg) in path.segments().iter().enumerate() {
        match child(node, seg) {
            Some(next) => node = next,
            None => return depth,
        }
    }
    path.segments().len()
}

/// Removes the node at `path` (keeping the order of its siblings).
fn remove(document: &mut Value, path: &YamlPath) -> bool {
    let Some((last, parents)) = path.segments().split_last() else {
        return false;
    };
    let mut node = document;
    for seg in parents {
        match child_mut(node, seg) {
            Some(next) => node = next,
            None => return false,
        }
    }
    if let Value::Tagged(tagged) = node {
        node = &mut tagged.value;
    }
    match (node, last) {
        (Value::Mapping(map), Seg::Key(key)) => map.shift_remove(key.as_str()).is_some(),
        (Value::Sequence(items), Seg::Index(index)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

// === Document order ===

/// Position of every node in the file, to sort errors in reading order.
#[derive(Debug, Default)]
pub(crate) struct DocOrder(HashMap<YamlPath, usize>);

impl DocOrder {
    /// Numbers every node of `document` in pre-order (file order).
    fn of(document: &Value) -> Self {
        let mut order = DocOrder::default();
        order.visit(document, YamlPath::root());
        order
    }

    fn visit(&mut self, value: &Value, path: YamlPath) {
        let next = self.0.len();
        self.0.insert(path.clone(), next);
        match value {
            Value::Mapping(map) => {
                for (key, child) in map {
                    if let Some(key) = key.as_str() {
                        self.visit(child, path.key(key));
                    }
                }
            }
            Value::Sequence(items) => {
                for (index, child) in items.iter().enumerate() {
                    self.visit(child, path.index(index));
                }
            }
            Value::Tagged(tagged) => self.visit(&tagged.value, path),
            _ => {}
        }
    }

    /// The position of `path`, or of its deepest ancestor present in the file;
    /// paths in sections absent from the file sort last.
    pub(crate) fn rank(&self, path: &YamlPath) -> usize {
        if path.is_root() {
            return 0;
        }
        (1..=path.segments().len())
            .rev()
            .find_map(|len| self.0.get(&path.truncated(len)).copied())
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(yaml: &str) -> Parsed {
        parse(yaml).expect("a mapping")
    }

    fn rendered(parsed: &Parsed) -> Vec<String> {
        parsed
            .errors
            .iter()
            .map(|(p, m)| format!("{p}: {m}"))
            .collect()
    }

    #[test]
    fn collects_several_unknown_keys() {
        let parsed = parse_ok("servr: {}\nlogging: {levl: info, fromat: json}\n");
        assert_eq!(
            rendered(&parsed),
            [
                "servr: unknown key \"servr\"; did you mean \"server\"?",
                "logging.levl: unknown key \"levl\"; did you mean \"level\"?",
                "logging.fromat: unknown key \"fromat\"; did you mean \"format\"?",
            ]
        );
        assert!(parsed.raw.is_some());
    }

    #[test]
    fn removed_items_keep_file_numbering() {
        let yaml = "routes:\n  - /a\n  - {path: /b, upstrem: x}\n  - 5\n  - {pth: /c}\n";
        let parsed = parse_ok(yaml);
        let paths: Vec<String> = parsed.errors.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            paths,
            [
                "routes[0]",
                "routes[1].upstrem",
                "routes[2]",
                "routes[3].pth"
            ]
        );
        let raw = parsed.raw.expect("repaired");
        assert_eq!(raw.routes.map(|r| r.len()), Some(2));
        let later = YamlPath::root().key("routes").index(1).key("path");
        assert_eq!(
            parsed.pruning.to_original(&later).to_string(),
            "routes[3].path"
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let problem = parse("server:\n  listen: [1\n")
            .err()
            .expect("syntax error");
        assert!(
            problem.0.starts_with("YAML syntax error at line "),
            "{}",
            problem.0
        );
    }

    #[test]
    fn top_level_must_be_a_mapping() {
        assert!(parse("- a\n- b\n").is_err());
        assert!(parse("").expect("empty is fine").errors.is_empty());
    }

    #[test]
    fn durations_get_a_format_hint() {
        let parsed = parse_ok("server: {grace_period: 10}\n");
        let message = &parsed.errors[0].1;
        assert!(message.contains("\"30s\""), "{message}");
    }
}
