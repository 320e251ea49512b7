//! The gateway's runtime state, built once from a validated config.
//!
//! Everything a request needs (route table, OIDC client, session store,
//! cookie codec, assertion minter) hangs off one [`Gateway`] snapshot. The
//! proxy holds it behind an `ArcSwap`, so a config reload swaps the whole
//! snapshot atomically while in-flight requests finish on the old one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, Upstream};
use crate::error::Chain;
use crate::error::GatewayError;
use crate::error::StartupError;
use crate::identity::{AssertionMinter, HeaderStripper};
use crate::limits::Limits;
use crate::metrics::{Metrics, RouteMetrics};
use crate::oidc::OidcClient;
use crate::pages::Pages;
use crate::respond::{Reply, Requester};
use crate::routing::RouteTable;
use crate::session::cookie::CookieCodec;
use crate::session::SessionStore;

/// One consistent view of the gateway for the requests that start under it.
pub struct Gateway {
    /// The validated config.
    pub config: Arc<Config>,
    /// Route matching.
    pub routes: RouteTable,
    /// The OpenID Connect relying party.
    pub oidc: OidcClient,
    /// Sessions and pending logins.
    pub store: Arc<dyn SessionStore>,
    /// Cookie sealing and parsing.
    pub cookies: CookieCodec,
    /// Identity assertions for the upstream.
    pub minter: AssertionMinter,
    /// Which client headers to strip.
    pub stripper: HeaderStripper,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Request metrics per route, by index in `config.routes`.
    pub route_metrics: Vec<RouteMetrics>,
    /// Request metrics of requests no route took (the gateway's endpoints,
    /// refusals before routing), under the route name "gateway".
    pub unrouted_metrics: RouteMetrics,
    /// Upstreams by name.
    pub upstreams: HashMap<String, Upstream>,
    /// The callback URL registered with the provider.
    pub redirect_uri: String,
    /// Error and denial pages.
    pub pages: Pages,
    /// Per-client bounds on logins and callbacks.
    pub limits: Limits,
    /// The OpenID provider offered to portals (codes, token verification, JWKS).
    pub provider: crate::provider::Provider,
}

impl Gateway {
    /// Builds the runtime state. `store` is shared across reloads.
    pub fn build(
        config: Arc<Config>,
        store: Arc<dyn SessionStore>,
        metrics: Arc<Metrics>,
    ) -> Result<Gateway, StartupError> {
        let redirect_uri = format!(
            "{}{}/callback",
            config.server.public_url.as_str().trim_end_matches('/'),
            config.server.prefix
        );
        let oidc = OidcClient::new(
            Arc::new(config.esignet.clone()),
            redirect_uri.clone(),
            metrics.clone(),
        )?;
        let cookies = CookieCodec::new(&config.session, config.esignet.login_timeout.as_secs())?;
        let minter = AssertionMinter::new(
            &config.identity,
            config.routes.iter().filter_map(|r| r.audience.as_deref()),
            config.session.max_sessions,
        )?;
        let provider = crate::provider::Provider::new(
            &config.session.cookie_keys,
            &minter.jwks(),
            minter.issuer(),
        )?;
        Ok(Gateway {
            provider,
            routes: RouteTable::new(&config.routes),
            stripper: HeaderStripper::new(&config.identity),
            upstreams: config
                .upstreams
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            oidc,
            store,
            cookies,
            minter,
            route_metrics: config
                .routes
                .iter()
                .map(|r| metrics.route(&r.name))
                .collect(),
            unrouted_metrics: metrics.route("gateway"),
            metrics,
            redirect_uri,
            limits: Limits::new(&config.limits, config.esignet.login_timeout),
            pages: config
                .page_template
                .clone()
                .map(Pages::with_template)
                .unwrap_or_default(),
            config,
        })
    }

    /// The gateway's own path for `endpoint` (e.g. `login`), under the prefix.
    pub fn endpoint_path(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.config.server.prefix)
    }

    /// The error reply for `error`, logged once with its details.
    ///
    /// The single place where failures are logged and counted, so every
    /// refusal leaves the same trace: correlation id, public code, detail.
    pub fn reject(
        &self,
        error: &GatewayError,
        who: Requester,
        correlation_id: &str,
        login_url: Option<&str>,
    ) -> Reply {
        self.record(error, correlation_id);
        Reply::error(error, who, &self.pages, correlation_id, login_url)
    }

    /// [`Self::reject`] for endpoints that answer OAuth-style JSON
    /// (back-channel logout): the same log line and metrics, an RFC 6749
    /// error body.
    pub fn reject_oauth(&self, error: &GatewayError, correlation_id: &str) -> Reply {
        self.record(error, correlation_id);
        Reply::oauth_error(error, correlation_id)
    }

    /// Logs and counts a refusal, with its causes.
    fn record(&self, error: &GatewayError, correlation_id: &str) {
        if let Some(reason) = error.login_failure() {
            self.metrics.login_failed(reason);
        }
        let status = error.status().as_u16();
        match status {
            500.. => {
                tracing::error!(correlation_id, code = error.public_code(), error = %Chain(error), "request failed")
            }
            401 if matches!(error, GatewayError::LoginRequired) => {
                tracing::debug!(correlation_id, "login required")
            }
            _ => {
                tracing::warn!(correlation_id, code = error.public_code(), error = %Chain(error), "request refused")
            }
        }
    }
}
