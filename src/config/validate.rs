//! Semantic validation: [`RawConfig`] → [`Config`], collecting every problem.
//!
//! Runs after parsing, once per load. Each section is checked independently
//! and every error is recorded with its YAML path, so an operator sees all the
//! problems of a file at once. Secrets are read here (files and environment).

mod esignet;
mod identity;
mod mapping;
mod policy;
mod provider;
mod routing;
mod secrets;
mod server;
mod session;
mod store;
mod upstream_identity;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use super::model::{Config, StartSettings};
use super::path::YamlPath;
use super::raw::{RawConfig, Words};

/// Looks up an environment variable; injected so tests never touch the process env.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Validates a parsed file. `None` means at least one error was recorded.
pub(crate) fn validate(raw: &RawConfig, source: &Path, cx: &mut Checker<'_>) -> Option<Config> {
    let server = server::check(cx, &raw.server);
    let esignet = esignet::check(cx, &raw.esignet);
    let mapping = mapping::check(cx, &raw.mapping);
    mapping::check_id_sources(
        cx,
        &mapping.token_map,
        &raw.esignet.user_claims.items,
        &raw.esignet.scope.items,
    );
    let public_url = server.public_url.as_ref();
    let session = session::check(cx, &raw.session, public_url);
    let identity = identity::check(cx, &raw.identity, public_url, &mapping);
    let upstreams = routing::upstreams(cx, raw.upstreams.as_ref());
    let policy_context = mapping.settings.as_ref().map(|m| policy::PolicyContext {
        claims: mapping.targets.clone(),
        groups: vec![m.default_group.clone()],
        registrant_id_type: m.registrant_id_type.to_string(),
    });
    let routes = routing::routes(
        cx,
        raw.routes.as_deref(),
        &upstreams.names,
        server.prefix.as_deref(),
        policy_context.as_ref(),
    );
    let logging = server::logging(cx, &raw.logging);
    let page_template = cx.page_template(raw.pages.template.as_deref());
    let limits = cx.limits(&raw.limits);
    let forward_auth = cx.forward_auth(raw.forward_auth.as_ref());
    let provider = provider::check(cx, &raw.provider, &upstreams.names);
    if cx.has_errors() {
        return None;
    }
    let (session, store_bounds) = session?;
    Some(Config {
        start: StartSettings {
            server: server.process?,
            session: store_bounds,
            logging,
        },
        server: server.settings?,
        esignet: esignet?,
        mapping: mapping.settings?,
        session,
        identity: identity?,
        upstreams: upstreams.upstreams?,
        routes: routes?,
        page_template: page_template?,
        limits: limits?,
        forward_auth: forward_auth?,
        provider: provider?,
        source: source.to_path_buf(),
    })
}

/// Collects errors and gives section checks access to secrets' sources.
pub(crate) struct Checker<'a> {
    errors: Vec<(YamlPath, String)>,
    base_dir: PathBuf,
    env: EnvLookup<'a>,
}

impl<'a> Checker<'a> {
    /// `pages.template`: a readable HTML file with at least `{{message}}`
    /// and `{{correlation_id}}`, relative to the config file.
    fn page_template(&mut self, file: Option<&str>) -> Option<Option<String>> {
        let Some(file) = file else {
            return Some(None);
        };
        let path = YamlPath::root().key("pages").key("template");
        let full = self.base_dir.join(file);
        let text = match std::fs::read_to_string(&full) {
            Ok(text) => text,
            Err(e) => {
                self.error(&path, format!("cannot read {}: {e}", full.display()));
                return None;
            }
        };
        for needed in ["{{message}}", "{{correlation_id}}"] {
            if !text.contains(needed) {
                self.error(&path, format!("the template must contain {needed}"));
                return None;
            }
        }
        Some(Some(text))
    }

    /// `forward_auth:`: absent turns the endpoint off; present needs its
    /// `source`, since each ingress names the original request in different
    /// headers and reading both lets a client choose what is checked.
    fn forward_auth(
        &mut self,
        raw: Option<&super::raw::RawForwardAuth>,
    ) -> Option<Option<super::model::ForwardAuthSource>> {
        use super::model::ForwardAuthSource;
        use super::raw::RawForwardAuthSource;
        let Some(raw) = raw else {
            return Some(None);
        };
        match raw.source {
            Some(RawForwardAuthSource::Nginx) => Some(Some(ForwardAuthSource::Nginx)),
            Some(RawForwardAuthSource::Traefik) => Some(Some(ForwardAuthSource::Traefik)),
            None => {
                let path = YamlPath::root().key("forward_auth").key("source");
                self.error(
                    &path,
                    "required: nginx (X-Original-URL) or traefik (X-Forwarded-Uri)",
                );
                None
            }
        }
    }

    /// `limits:`: rates must be positive or `off`; the per-client cap at least 1.
    fn limits(&mut self, raw: &super::raw::RawLimits) -> Option<super::model::LimitSettings> {
        let path = YamlPath::root().key("limits");
        let login_starts = self.rate(&path.key("login_starts"), &raw.login_starts);
        let callbacks = self.rate(&path.key("callbacks"), &raw.callbacks);
        if raw.pending_logins_per_client == 0 {
            self.error(&path.key("pending_logins_per_client"), "must be at least 1");
            return None;
        }
        Some(super::model::LimitSettings {
            login_starts: login_starts?,
            callbacks: callbacks?,
            pending_logins_per_client: raw.pending_logins_per_client,
        })
    }

    fn rate(
        &mut self,
        path: &YamlPath,
        raw: &super::raw::RawRate,
    ) -> Option<Option<super::model::RateLimit>> {
        match raw {
            super::raw::RawRate::Off(word) if word == "off" => Some(None),
            super::raw::RawRate::Off(word) => {
                self.error(
                    path,
                    format!("expected {{per_minute, burst}} or `off`, got {word:?}"),
                );
                None
            }
            super::raw::RawRate::Limit(l) if l.per_minute == 0 || l.burst == 0 => {
                self.error(
                    path,
                    "per_minute and burst must be at least 1 (or write `off`)",
                );
                None
            }
            super::raw::RawRate::Limit(l) => Some(Some(super::model::RateLimit {
                per_minute: l.per_minute,
                burst: l.burst,
            })),
        }
    }

    /// A checker resolving relative secret files against `base_dir`.
    pub(crate) fn new(base_dir: &Path, env: EnvLookup<'a>) -> Self {
        Checker {
            errors: Vec::new(),
            base_dir: base_dir.to_path_buf(),
            env,
        }
    }

    /// The errors recorded, in the order found.
    pub(crate) fn into_errors(self) -> Vec<(YamlPath, String)> {
        self.errors
    }

    /// Records a problem at `path`.
    pub(crate) fn error(&mut self, path: &YamlPath, message: impl Into<String>) {
        self.errors.push((path.clone(), message.into()));
    }

    fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The value of a required key, or an error saying it is missing.
    fn required<'v, T: ?Sized>(&mut self, path: &YamlPath, value: Option<&'v T>) -> Option<&'v T> {
        if value.is_none() {
            self.error(path, "required key is missing");
        }
        value
    }

    /// A single word: not empty, no whitespace (ids, audiences, kids).
    fn word(&mut self, path: &YamlPath, value: &str) -> Option<String> {
        if value.trim().is_empty() {
            self.error(path, "must not be empty");
            return None;
        }
        if value.chars().any(char::is_whitespace) {
            self.error(path, format!("must not contain whitespace: {value:?}"));
            return None;
        }
        Some(value.to_owned())
    }

    /// Free text that must not be blank (group names, ID types).
    fn text(&mut self, path: &YamlPath, value: &str) -> Option<String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.error(path, "must not be empty");
            return None;
        }
        Some(trimmed.to_owned())
    }

    /// Like [`Checker::word`] for an optional key.
    fn opt_word(&mut self, path: &YamlPath, value: Option<&String>) -> Option<Option<String>> {
        match value {
            None => Some(None),
            Some(value) => self.word(path, value).map(Some),
        }
    }

    /// Checks the items of a space-separated list: single words, no duplicates.
    fn words(&mut self, path: &YamlPath, words: &Words) -> Vec<String> {
        self.list(path, &words.items, words.listed)
    }

    /// Checks list items (YAML list when `listed`): single words, no duplicates.
    fn list(&mut self, path: &YamlPath, list: &[String], listed: bool) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        for (index, item) in list.iter().enumerate() {
            let item_path = item_path(path, listed, index);
            let Some(item) = self.word(&item_path, item) else {
                continue;
            };
            if !seen.insert(item.clone()) {
                self.error(&item_path, format!("duplicate value {item:?}"));
                continue;
            }
            items.push(item);
        }
        items
    }

    /// A duration within `min..=max`.
    fn duration_in(
        &mut self,
        path: &YamlPath,
        value: Duration,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        if value < min || value > max {
            let (value, min, max) = (human(value), human(min), human(max));
            self.error(
                path,
                format!("{value} is out of range; allowed: {min} to {max}"),
            );
            return None;
        }
        Some(value)
    }

    /// A duration that is not zero.
    fn positive(&mut self, path: &YamlPath, value: Duration) -> Option<Duration> {
        if value.is_zero() {
            self.error(path, "must be longer than 0s");
            return None;
        }
        Some(value)
    }

    /// An absolute `http`/`https` URL with a host.
    fn http_url(&mut self, path: &YamlPath, value: &str) -> Option<Url> {
        let url = match Url::parse(value.trim()) {
            Ok(url) => url,
            Err(e) => {
                self.error(path, format!("invalid URL {value:?}: {e}"));
                return None;
            }
        };
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            self.error(
                path,
                format!("must be an http:// or https:// URL, got {value:?}"),
            );
            return None;
        }
        Some(url)
    }

    /// Like [`Checker::http_url`] for an optional key.
    fn opt_http_url(&mut self, path: &YamlPath, value: Option<&String>) -> Option<Option<Url>> {
        match value {
            None => Some(None),
            Some(value) => self.http_url(path, value).map(Some),
        }
    }

    /// One of a fixed set of values, with a "did you mean" hint.
    fn one_of(&mut self, path: &YamlPath, value: &str, allowed: &[&str]) -> Option<String> {
        if allowed.contains(&value) {
            return Some(value.to_owned());
        }
        let message = format!(
            "unknown value {value:?} (allowed: {})",
            super::suggest::known_list(allowed.iter().copied())
        );
        let message = super::suggest::with_hint(message, value, allowed.iter().copied());
        self.error(path, message);
        None
    }
}

/// The path of item `index` of a list written as a YAML list or as one string.
fn item_path(path: &YamlPath, listed: bool, index: usize) -> YamlPath {
    if listed {
        path.index(index)
    } else {
        path.clone()
    }
}

/// A duration as an operator writes it (`10m`, `1h`).
fn human(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

/// True for an HTTP token (RFC 9110 `tchar`), used for header names.
fn is_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(is_tchar)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
