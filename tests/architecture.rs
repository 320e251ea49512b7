//! The layer rule of `docs/architecture.md`, read off the `crate::` paths in
//! `src/`: a module imports only from its own layer or the layers below it,
//! and no two parts import each other, directly or around a loop.
//!
//! A part is a top-level module (`config`, `session`, `oidc`, …), or one
//! module of the grouped layers (`shared::clock`, `decision::access`,
//! `edge::proxy`, …). Test code (`#[cfg(test)]` modules, `tests.rs` files)
//! may reach anywhere and is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the bottom up. A part may use its own layer and those before it.
const LAYERS: &[&str] = &[
    "shared", "config", "mapping", "session", "oidc", "identity", "decision", "edge", "cli",
    "fuzzing",
];

/// Layers whose modules are parts of their own (a directory of small parts
/// rather than one subsystem).
const GROUPED: &[&str] = &["shared", "decision", "edge"];

type Graph = BTreeMap<String, BTreeMap<String, PathBuf>>;

#[test]
fn every_import_points_down_the_layers() {
    let graph = import_graph();
    let mut upward = Vec::new();
    for (from, uses) in &graph {
        for (to, file) in uses {
            if layer(to) > layer(from) {
                upward.push(format!("{from} -> {to} ({})", file.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer (see docs/architecture.md):\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_parts_import_each_other_around_a_loop() {
    let graph = import_graph();
    let cycles = find_cycles(&graph);
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(modules.len() >= 9, "lib.rs declares {modules:?}");
    for module in modules {
        assert!(LAYERS.contains(&module), "`{module}` is in no layer");
        assert!(
            lib.contains(&format!("`{module}`")),
            "lib.rs's module map misses `{module}`"
        );
    }
}

/// The checks themselves can fail: a planted upward import and a planted
/// loop are found.
#[test]
fn the_checks_see_a_planted_upward_import_and_loop() {
    let mut graph = Graph::new();
    let file = PathBuf::from("planted.rs");
    graph
        .entry("shared::clock".into())
        .or_default()
        .insert("edge::proxy".into(), file.clone());
    graph
        .entry("edge::proxy".into())
        .or_default()
        .insert("session".into(), file.clone());
    graph
        .entry("session".into())
        .or_default()
        .insert("shared::clock".into(), file);
    assert!(layer("edge::proxy") > layer("shared::clock"));
    assert_eq!(find_cycles(&graph).len(), 1);
    let parsed =
        imports("use crate::edge::{gateway::Gateway, respond};\nlet x = crate::config::load;");
    assert_eq!(parsed, vec!["edge::gateway", "edge::respond", "config"]);
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer(part: &str) -> usize {
    let top = part.split("::").next().unwrap();
    LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or_else(|| panic!("`{top}` is in no layer"))
}

/// The part a module path (`["edge", "provider", "token"]`) belongs to.
fn part(path: &[&str]) -> String {
    match path {
        [group, module, ..] if GROUPED.contains(group) => format!("{group}::{module}"),
        [top, ..] => (*top).to_string(),
        [] => String::new(),
    }
}

/// Which parts import which, and one file that shows it.
fn import_graph() -> Graph {
    let mut graph = Graph::new();
    let mut files = Vec::new();
    collect_rs(&src(), &mut files);
    for file in files {
        let relative = file.strip_prefix(src()).unwrap().with_extension("");
        let path: Vec<&str> = relative.iter().map(|c| c.to_str().unwrap()).collect();
        if matches!(path.as_slice(), ["lib"] | ["main"])
            || path.iter().any(|c| *c == "tests" || *c == "tests_support")
        {
            continue;
        }
        let from = part(&path);
        let text = std::fs::read_to_string(&file).unwrap();
        for to in imports(&code_only(&text)) {
            if to != from && !GROUPED.contains(&to.as_str()) {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(file.clone());
            }
        }
    }
    graph
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without comments and without the test module, which clippy's
/// `items_after_test_module` keeps last in its file.
fn code_only(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" {
            let next = lines.peek().map(|l| l.trim()).unwrap_or("");
            if next.starts_with("mod ") && next.ends_with('{') {
                break;
            }
            // A test-only item: skip the line after the attribute too when it
            // is a `mod x;` declaration.
            if next.ends_with(';') {
                lines.next();
            }
            continue;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The parts named by `crate::` paths in `code`, braces expanded.
fn imports(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path = path_segments(rest);
        if let [group] = path.as_slice() {
            if let Some(inner) = rest[group.len()..].strip_prefix("::{") {
                let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                for item in inner.split(',') {
                    let module = item.trim().split("::").next().unwrap_or("");
                    if !module.is_empty() {
                        found.push(part(&[group, module]));
                    }
                }
                continue;
            }
        }
        found.push(part(&path));
    }
    found
}

/// The leading `a::b::c` identifiers of `text`.
fn path_segments(text: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(&rest[..end]);
        match rest[end..].strip_prefix("::") {
            Some(next) if next.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                rest = next
            }
            _ => break,
        }
    }
    segments
}

/// Every loop in the graph, each as `a -> b -> … -> a`.
fn find_cycles(graph: &Graph) -> Vec<String> {
    fn visit(
        node: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
        cycles: &mut BTreeSet<String>,
    ) {
        state.insert(node.to_string(), true);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            match state.get(next) {
                Some(true) => {
                    let start = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    cycles.insert(cycle.join(" -> "));
                }
                Some(false) => {}
                None => visit(next, graph, state, stack, cycles),
            }
        }
        stack.pop();
        state.insert(node.to_string(), false);
    }
    let mut state = BTreeMap::new();
    let mut cycles = BTreeSet::new();
    for node in graph.keys() {
        if !state.contains_key(node) {
            visit(node, graph, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    cycles.into_iter().collect()
}
