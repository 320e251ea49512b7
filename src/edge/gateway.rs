//! The gateway's runtime state, built once from a validated config.
//!
//! Everything a request needs (route table, OIDC client, session store,
//! cookie codec, assertion minter) hangs off one [`Gateway`] snapshot. The
//! proxy holds it behind an `ArcSwap`, so a config reload swaps the whole
//! snapshot atomically while in-flight requests finish on the old one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, Route, Upstream};
use crate::decision::access;
use crate::decision::limits::Limits;
use crate::decision::routing::RouteTable;
use crate::edge::error::GatewayError;
use crate::edge::error::StartupError;
use crate::edge::respond::{Reply, Requester};
use crate::identity::memo::IdentityMemo;
use crate::identity::{AssertionMinter, ForwardedIdentity, HeaderStripper};
use crate::oidc::OidcClient;
use crate::session::cookie::{CookieCodec, CookieMemo};
use crate::session::{Session, SessionId, SessionStore};
use crate::shared::errors::Chain;
use crate::shared::metrics::{Metrics, RouteMetrics};
use crate::shared::pages::Pages;

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
    pub upstreams: HashMap<String, Arc<Upstream>>,
    /// Each route's upstream, by index in `config.routes`: resolved once
    /// here, so a request never looks an upstream up by name.
    pub route_upstreams: Vec<Arc<Upstream>>,
    /// The callback URL registered with the provider.
    pub redirect_uri: String,
    /// Error and denial pages.
    pub pages: Pages,
    /// Per-client bounds on logins and callbacks.
    pub limits: Limits,
    /// The OpenID provider offered to portals (codes, token verification, JWKS).
    pub provider: crate::identity::portal::PortalIssuer,
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
            config.start.session.max_sessions,
        )?;
        let provider = crate::identity::portal::PortalIssuer::new(
            &config.session.cookie_keys,
            &minter.jwks(),
            minter.issuer(),
        )?;
        let upstreams: HashMap<String, Arc<Upstream>> = config
            .upstreams
            .iter()
            .map(|(name, upstream)| (name.clone(), Arc::new(upstream.clone())))
            .collect();
        let route_upstreams = config
            .routes
            .iter()
            .map(|route| {
                let unknown = || StartupError::UnknownUpstream {
                    route: route.name.clone(),
                    upstream: route.upstream.clone(),
                };
                upstreams.get(&route.upstream).cloned().ok_or_else(unknown)
            })
            .collect::<Result<Vec<_>, StartupError>>()?;
        Ok(Gateway {
            provider,
            route_upstreams,
            routes: RouteTable::new(&config.routes),
            stripper: HeaderStripper::new(&config.identity),
            upstreams,
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

    /// The access decision for `facts` ([`access::decide`]) with this
    /// gateway's routes and sessions. Runs for every routed request, in both
    /// modes, and when a login starts for a target. `memo` is the client
    /// connection's, where it has one ([`crate::edge::connections::memos`]).
    pub async fn decide<'c>(
        &self,
        facts: &access::Facts<'_>,
        cookies: impl Iterator<Item = &'c str>,
        memo: Option<&CookieMemo>,
    ) -> access::Outcome {
        let sessions = access::Sessions {
            cookies: &self.cookies,
            store: self.store.as_ref(),
            memo,
        };
        access::decide(&self.routes, sessions, facts, cookies).await
    }

    /// The refusal as the error clients see, for the outcomes that refuse
    /// (`None` for public, allow and login, which each mode renders itself).
    pub fn refusal(&self, outcome: &access::Outcome) -> Option<GatewayError> {
        match outcome {
            access::Outcome::NoRoute => Some(GatewayError::NoRoute),
            access::Outcome::Deny { route, reason } => Some(GatewayError::Forbidden(format!(
                "route {}: {reason}",
                self.config.routes[*route].name
            ))),
            access::Outcome::StoreDown { error, .. } => Some(GatewayError::from(error.clone())),
            _ => None,
        }
    }

    /// The identity to send for an allowed session on `route`: the signed
    /// assertion and the configured plain headers, cached per session and
    /// audience, and in the request's connection's `memo` where it has one.
    /// Runs on every allowed request, in both modes.
    pub fn forwarded_identity(
        &self,
        route: &Route,
        id: &SessionId,
        session: &Session,
        memo: Option<&IdentityMemo>,
    ) -> Result<Arc<ForwardedIdentity>, GatewayError> {
        let audience = route
            .audience
            .as_deref()
            .unwrap_or(&self.config.identity.audience);
        let (identity, minted) = self
            .minter
            .identity_remembered(id, session, audience, memo)?;
        if minted {
            self.metrics.assertion_minted();
        }
        Ok(identity)
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
            self.metrics.login_failed(reason.label());
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
