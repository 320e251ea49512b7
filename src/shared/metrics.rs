//! Every metric the gateway exports, declared once.
//!
//! Labels are bounded: route names from the config, status classes, IdP
//! endpoint names and fixed failure reasons. Never a user, session or token.
//! The admin listener serves [`Metrics::render`] in Prometheus text format.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The gateway's metrics and the registry that holds them.
pub struct Metrics {
    registry: Registry,
    logins_started: IntCounter,
    logins_completed: IntCounter,
    logins_failed: IntCounterVec,
    idp_duration: HistogramVec,
    jwks_refreshes: IntCounterVec,
    sessions_active: IntGauge,
    pending_logins: IntGauge,
    requests: IntCounterVec,
    upstream_duration: HistogramVec,
    assertions_minted: IntCounter,
    refused: IntCounterVec,
    store_up: IntGauge,
    store_errors: IntCounterVec,
    config_reloads: IntCounterVec,
    provider_events: IntCounterVec,
    portal_provisioning: IntCounterVec,
    portal_provisioning_duration: HistogramVec,
}

/// Outcome label of an IdP call or JWKS refresh.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// It worked.
    Ok,
    /// It failed.
    Error,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}

/// The provider endpoints the gateway calls, as a bounded label.
#[derive(Debug, Clone, Copy)]
pub enum IdpEndpoint {
    /// The discovery document.
    Discovery,
    /// The JWKS.
    Jwks,
    /// The token endpoint.
    Token,
    /// The userinfo endpoint.
    Userinfo,
}

impl IdpEndpoint {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            IdpEndpoint::Discovery => "discovery",
            IdpEndpoint::Jwks => "jwks",
            IdpEndpoint::Token => "token",
            IdpEndpoint::Userinfo => "userinfo",
        }
    }
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Creates and registers every metric. Runs once at startup.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique");
            c
        };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique");
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("unique");
            g
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let h = HistogramVec::new(opts, labels).expect("valid metric");
            registry.register(Box::new(h.clone())).expect("unique");
            h
        };
        Metrics {
            logins_started: counter(
                "g2p_gateway_logins_started_total",
                "Logins started (redirects to the identity provider).",
            ),
            logins_completed: counter(
                "g2p_gateway_logins_completed_total",
                "Logins completed with a new session.",
            ),
            logins_failed: counter_vec(
                "g2p_gateway_logins_failed_total",
                "Logins that failed, by reason.",
                &["reason"],
            ),
            idp_duration: histogram(
                "g2p_gateway_idp_request_duration_seconds",
                "Latency of calls to the identity provider, by endpoint and outcome.",
                &["endpoint", "outcome"],
            ),
            jwks_refreshes: counter_vec(
                "g2p_gateway_jwks_refreshes_total",
                "JWKS fetches, by outcome.",
                &["outcome"],
            ),
            sessions_active: gauge(
                "g2p_gateway_sessions_active",
                "Sessions currently held (approximate).",
            ),
            pending_logins: gauge(
                "g2p_gateway_pending_logins",
                "Logins started and not yet finished (approximate).",
            ),
            requests: counter_vec(
                "g2p_gateway_requests_total",
                "Requests handled, by route and status class.",
                &["route", "status_class"],
            ),
            upstream_duration: histogram(
                "g2p_gateway_upstream_duration_seconds",
                "Time from the request to the end of the upstream response, by route.",
                &["route"],
            ),
            assertions_minted: counter(
                "g2p_gateway_identity_assertions_minted_total",
                "Identity assertions signed (reused ones are not counted).",
            ),
            refused: counter_vec(
                "g2p_gateway_requests_refused_total",
                "Requests refused before routing, by reason.",
                &["reason"],
            ),
            store_up: gauge(
                "g2p_gateway_session_store_up",
                "1 when the session store answered its last command, 0 when it failed.",
            ),
            store_errors: counter_vec(
                "g2p_gateway_session_store_errors_total",
                "Failed session store operations, by operation.",
                &["op"],
            ),
            config_reloads: counter_vec(
                "g2p_gateway_config_reloads_total",
                "Configuration reloads (SIGHUP or file watch), by outcome (success, failure).",
                &["outcome"],
            ),
            provider_events: counter_vec(
                "g2p_gateway_provider_events_total",
                "Events of the OpenID provider offered to portals (code_issued, \
                 authorize_refused, token_issued, token_refused, userinfo).",
                &["event"],
            ),
            portal_provisioning: counter_vec(
                "g2p_gateway_portal_provisioning_total",
                "Gateway-driven portal callbacks after a login, by outcome (ok, failed).",
                &["outcome"],
            ),
            portal_provisioning_duration: histogram(
                "g2p_gateway_portal_provisioning_duration_seconds",
                "Time of a gateway-driven portal callback (the portal's token and \
                 userinfo calls back into the gateway included).",
                &["outcome"],
            ),
            registry,
        }
    }

    /// An event of the portal-facing provider (a bounded label).
    pub fn provider_event(&self, event: &'static str) {
        self.provider_events.with_label_values(&[event]).inc();
    }

    /// A gateway-driven portal callback finished.
    pub fn portal_provisioning(&self, outcome: &'static str, elapsed: Duration) {
        self.portal_provisioning.with_label_values(&[outcome]).inc();
        self.portal_provisioning_duration
            .with_label_values(&[outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// A login was started.
    pub fn login_started(&self) {
        self.logins_started.inc();
    }

    /// A login finished with a session.
    pub fn login_completed(&self) {
        self.logins_completed.inc();
    }

    /// A login failed, for the bounded `reason` label
    /// (`LoginFailure::label`, decided with the rest of the error mapping).
    pub fn login_failed(&self, reason: &'static str) {
        self.logins_failed.with_label_values(&[reason]).inc();
    }

    /// An IdP call finished.
    pub fn idp_call(&self, endpoint: IdpEndpoint, outcome: Outcome, elapsed: Duration) {
        self.idp_duration
            .with_label_values(&[endpoint.label(), outcome.label()])
            .observe(elapsed.as_secs_f64());
    }

    /// A JWKS fetch finished.
    pub fn jwks_refresh(&self, outcome: Outcome) {
        self.jwks_refreshes
            .with_label_values(&[outcome.label()])
            .inc();
    }

    /// Updates the session and pending-login gauges.
    pub fn set_store_sizes(&self, sessions: u64, pending: u64) {
        self.sessions_active.set(sessions as i64);
        self.pending_logins.set(pending as i64);
    }

    /// The request metrics of one route (or of the gateway's own endpoints,
    /// under the route name "gateway"). Built with each config snapshot.
    pub fn route(&self, route: &str) -> RouteMetrics {
        RouteMetrics {
            route: route.to_string(),
            requests: self.requests.clone(),
            upstream_duration: self.upstream_duration.clone(),
            by_class: Default::default(),
            upstream: OnceLock::new(),
        }
    }

    /// An identity assertion was signed.
    pub fn assertion_minted(&self) {
        self.assertions_minted.inc();
    }

    /// A request was refused before routing (bad path, oversized, …).
    pub fn refused(&self, reason: &'static str) {
        self.refused.with_label_values(&[reason]).inc();
    }

    /// Whether the session store answered its last command.
    pub fn set_store_up(&self, up: bool) {
        self.store_up.set(i64::from(up));
    }

    /// A session store operation failed (`op` is a fixed operation name).
    pub fn store_error(&self, op: &'static str) {
        self.store_errors.with_label_values(&[op]).inc();
    }

    /// A configuration reload finished: applied (`true`) or rejected.
    pub fn config_reload(&self, applied: bool) {
        let outcome = if applied { "success" } else { "failure" };
        self.config_reloads.with_label_values(&[outcome]).inc();
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// One route's request counters and upstream-latency histogram.
///
/// Each labelled child is looked up on its first use and kept: resolving it
/// by label values on every request would hash the labels and take the
/// vector's lock on the hot path. Series appear only once used.
pub struct RouteMetrics {
    route: String,
    requests: IntCounterVec,
    upstream_duration: HistogramVec,
    by_class: [OnceLock<IntCounter>; STATUS_CLASSES.len()],
    upstream: OnceLock<Histogram>,
}

/// The `status_class` label values; the last one is for "no response".
const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

impl RouteMetrics {
    /// A request finished (proxied or answered by the gateway).
    pub fn request(&self, status: u16) {
        let class = match status {
            100..=599 => usize::from(status / 100 - 1),
            _ => STATUS_CLASSES.len() - 1,
        };
        self.by_class[class]
            .get_or_init(|| {
                self.requests
                    .with_label_values(&[self.route.as_str(), STATUS_CLASSES[class]])
            })
            .inc();
    }

    /// A proxied request's upstream time.
    pub fn upstream(&self, elapsed: Duration) {
        self.upstream
            .get_or_init(|| {
                self.upstream_duration
                    .with_label_values(&[self.route.as_str()])
            })
            .observe(elapsed.as_secs_f64());
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let m = Metrics::new();
        m.login_started();
        m.login_failed("invalid_id_token");
        m.idp_call(IdpEndpoint::Token, Outcome::Ok, Duration::from_millis(3));
        let portal = m.route("portal");
        portal.request(204);
        portal.request(204);
        portal.request(599);
        portal.request(0);
        portal.upstream(Duration::from_millis(2));
        let text = m.render();
        assert!(text.contains("g2p_gateway_logins_started_total 1"));
        assert!(text.contains("g2p_gateway_logins_failed_total{reason=\"invalid_id_token\"} 1"));
        assert!(text.contains("g2p_gateway_idp_request_duration_seconds_bucket"));
        assert!(
            text.contains("g2p_gateway_requests_total{route=\"portal\",status_class=\"2xx\"} 2")
        );
        assert!(
            text.contains("g2p_gateway_requests_total{route=\"portal\",status_class=\"5xx\"} 1")
        );
        assert!(
            text.contains("g2p_gateway_requests_total{route=\"portal\",status_class=\"none\"} 1")
        );
        assert!(
            !text.contains("status_class=\"3xx\""),
            "unused classes stay absent"
        );
        assert!(text.contains("g2p_gateway_upstream_duration_seconds_count{route=\"portal\"} 1"));
    }
}
