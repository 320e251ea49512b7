//! Configuration loading: `gateway.yaml` → validated [`Config`].
//!
//! Runs once at startup (and by `check-config`). The file is parsed, then
//! validated, and every problem is reported at once with its YAML path, so a
//! typo in an auth policy fails closed before the gateway listens.

mod birthdate;
pub mod model;
mod parse;
mod path;
mod raw;
mod suggest;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use birthdate::{BirthdateFormat, BirthdateFormatError};
pub use model::*;

use self::parse::Parsed;
use self::path::YamlPath;
use self::validate::Checker;

/// The path used for problems with the file as a whole: unreadable file,
/// YAML syntax error, or a top level that is not a mapping.
pub const FILE_PATH: &str = "<file>";

/// Looks up an environment variable by name, for `{env: VAR_NAME}` secrets.
///
/// Injected so that tests (and embedders) never change the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One problem in the configuration, at a YAML path such as `routes[0].path`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Dotted keys and `[index]`s from the document root, or [`FILE_PATH`].
    pub path: String,
    /// What is wrong, for an operator (never contains a secret's value).
    pub message: String,
}

/// Every problem found in one configuration file, in file order.
///
/// `Display` prints one `<path>: <message>` line per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, sorted by their position in the file where known.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// A single file-level problem (path [`FILE_PATH`]).
    fn file(message: String) -> Self {
        ConfigErrors {
            errors: vec![ConfigError {
                path: FILE_PATH.to_owned(),
                message,
            }],
        }
    }

    /// Iterates over the problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// True if some problem is reported at exactly `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.errors.iter().any(|e| e.path == path)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Loads and validates the file at `path`, reading `{env: …}` secrets from the
/// process environment. Relative secret files are resolved against the
/// file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with_env(path, &process_env)
}

/// Like [`load`], with an injected environment lookup.
pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    let yaml = std::fs::read_to_string(path)
        .map_err(|e| ConfigErrors::file(format!("cannot read {}: {e}", path.display())))?;
    load_str_with_env(&yaml, path, env)
}

/// Validates YAML text that came from `source` (used for messages, for
/// [`Config::source`] and as the base directory of relative secret files).
pub fn load_str(yaml: &str, source: &Path) -> Result<Config, ConfigErrors> {
    load_str_with_env(yaml, source, &process_env)
}

/// Like [`load_str`], with an injected environment lookup.
pub fn load_str_with_env(
    yaml: &str,
    source: &Path,
    env: EnvLookup<'_>,
) -> Result<Config, ConfigErrors> {
    let parsed = parse::parse(yaml).map_err(|problem| ConfigErrors::file(problem.0))?;
    let mut checker = Checker::new(&base_dir(source), env);
    let config = parsed
        .raw
        .as_ref()
        .and_then(|raw| validate::validate(raw, source, &mut checker));
    let errors = report(&parsed, checker.into_errors());
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ if errors.is_empty() => Err(ConfigErrors::file("invalid configuration".into())),
        _ => Err(ConfigErrors { errors }),
    }
}

/// Names of the `insecure_*` switches that are on, for a startup warning each.
pub fn insecure_settings(config: &Config) -> Vec<String> {
    let switches = [
        (
            "esignet.insecure_allow_unsigned_userinfo",
            config.esignet.insecure_allow_unsigned_userinfo,
        ),
        (
            "session.insecure_cookie_without_secure",
            config.session.insecure_cookie_without_secure,
        ),
    ];
    let mut on: Vec<String> = switches
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_owned())
        .collect();
    on.extend(
        config
            .upstreams
            .iter()
            .filter(|(_, u)| u.identity.plain_headers)
            .map(|(name, _)| format!("upstreams.{name}.insecure_plain_identity_headers")),
    );
    on
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The directory relative secret paths are resolved against.
fn base_dir(source: &Path) -> PathBuf {
    match source.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Merges parse and validation errors: file numbering, no follow-up errors
/// inside pruned nodes, file order, no duplicates.
fn report(parsed: &Parsed, semantic: Vec<(YamlPath, String)>) -> Vec<ConfigError> {
    let semantic = semantic
        .into_iter()
        .map(|(path, message)| (parsed.pruning.to_original(&path), message))
        .filter(|(path, _)| !parsed.pruning.covers(path));
    let mut all: Vec<(YamlPath, String)> = parsed.errors.iter().cloned().chain(semantic).collect();
    all.sort_by_key(|(path, _)| parsed.order.rank(path));
    let mut errors: Vec<ConfigError> = Vec::with_capacity(all.len());
    for (path, message) in all {
        let path = if path.is_root() {
            FILE_PATH.to_owned()
        } else {
            path.to_string()
        };
        let error = ConfigError { path, message };
        if !errors.contains(&error) {
            errors.push(error);
        }
    }
    errors
}
