//! The one access decision: which route a request falls under, and whether
//! it may pass, needs a login, or is refused.
//!
//! Runs for every request that is not one of the gateway's own endpoints, in
//! proxy mode (`proxy`), in forward-auth mode (`forward_auth`), and when a
//! login starts for a target (`endpoints`), so the three can never disagree:
//! facts in ([`Facts`]), one [`Outcome`] out. Each mode only renders the
//! outcome in its own protocol (forward the request; or `200`/`401`/`403`
//! to an ingress), and turns the refusals into errors through the edge's one
//! mapping point (`Gateway::refusal`).
//!
//! The facts must already be trustworthy: the host canonical and the path
//! checked ([`target`], [`crate::decision::routing::check_request_path`]).

pub mod target;

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::{Access, ServerSettings};
use crate::decision::policy::{self, Decision};
use crate::decision::routing::RouteTable;
use crate::session::cookie::{CookieCodec, CookieMemo};
use crate::session::{Session, SessionId, SessionStore, StoreError};

/// What is known about a request when access is decided.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The method of the request asked about.
    pub method: &'a http::Method,
    /// Canonical `Host` value ([`target::canonical_host`]).
    pub host: &'a str,
    /// Checked path, without the query.
    pub path: &'a str,
    /// A CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`): it carries no cookies, so it goes to
    /// the portal without identity and the portal's CORS policy answers it.
    pub preflight: bool,
}

/// The decision for one request.
#[derive(Debug)]
pub enum Outcome {
    /// No route covers the request.
    NoRoute,
    /// A public route (or a CORS preflight): pass, without identity.
    Public {
        /// Index of the route in `config.routes`.
        route: usize,
    },
    /// A session that the route's policy accepts: pass, with its identity.
    Allow {
        /// Index of the route in `config.routes`.
        route: usize,
        /// The session's id.
        id: SessionId,
        /// The session.
        session: Arc<Session>,
    },
    /// A login is needed: no session, or (with `acr`) a stronger one.
    Login {
        /// Index of the route in `config.routes`.
        route: usize,
        /// The acrs to ask the provider for.
        acr: Option<Vec<String>>,
    },
    /// The session exists but the route's policy refuses it.
    Deny {
        /// Index of the route in `config.routes`.
        route: usize,
        /// Why, for the log only.
        reason: String,
    },
    /// The session store could not be asked: nobody passes (fail closed).
    StoreDown {
        /// Index of the route in `config.routes`.
        route: usize,
        /// The store's error.
        error: StoreError,
    },
}

impl Outcome {
    /// The matched route's index, if a route matched.
    pub fn route(&self) -> Option<usize> {
        match self {
            Outcome::NoRoute => None,
            Outcome::Public { route }
            | Outcome::Allow { route, .. }
            | Outcome::Login { route, .. }
            | Outcome::Deny { route, .. }
            | Outcome::StoreDown { route, .. } => Some(*route),
        }
    }
}

/// Where the session named by a request's cookies is looked up.
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    /// Reads the session id from the cookies.
    pub cookies: &'a CookieCodec,
    /// Holds the sessions.
    pub store: &'a dyn SessionStore,
    /// The request's connection's memo of the session cookie it opened last,
    /// where the connection has one.
    pub memo: Option<&'a CookieMemo>,
}

/// Decides access for `facts`, with the session named by the request's
/// cookies. Runs on every routed request; on a public route it does not
/// look at cookies, on a protected one it asks the store once.
pub async fn decide<'c>(
    routes: &RouteTable,
    sessions: Sessions<'_>,
    facts: &Facts<'_>,
    cookies: impl Iterator<Item = &'c str>,
) -> Outcome {
    let Some(route) = routes.find(Some(target::host_name(facts.host)), facts.path) else {
        return Outcome::NoRoute;
    };
    let index = route.index;
    if route.access == Access::Public || facts.preflight {
        return Outcome::Public { route: index };
    }
    let found = match sessions
        .cookies
        .session_id_remembered(cookies, sessions.memo)
    {
        Some(id) => match sessions.store.session(&id).await {
            Ok(found) => found.map(|session| (id, session)),
            Err(error) => {
                return Outcome::StoreDown {
                    route: index,
                    error,
                }
            }
        },
        None => None,
    };
    match found {
        Some((id, session)) => match policy::decide(route, &session) {
            Decision::Allow => Outcome::Allow {
                route: index,
                id,
                session,
            },
            Decision::StepUp(acrs) => Outcome::Login {
                route: index,
                acr: Some(acrs),
            },
            Decision::Deny(reason) => Outcome::Deny {
                route: index,
                reason,
            },
        },
        None => Outcome::Login {
            route: index,
            acr: policy::acrs_named(route),
        },
    }
}

/// Whether a request is a CORS preflight.
pub fn is_cors_preflight(method: &http::Method, headers: &http::HeaderMap) -> bool {
    method == http::Method::OPTIONS
        && headers.contains_key(http::header::ORIGIN)
        && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The address a client is counted and logged under: the peer, or, when the
/// peer is a trusted proxy, the nearest untrusted `X-Forwarded-For` hop.
///
/// Walks `X-Forwarded-For` from the right, skipping trusted proxies, so a
/// client cannot pick its own address by prepending entries.
pub fn client_address(
    server: &ServerSettings,
    peer: Option<IpAddr>,
    headers: &http::HeaderMap,
) -> Option<IpAddr> {
    let peer = peer?;
    if !server.is_trusted_proxy(peer) {
        return Some(peer);
    }
    let mut nearest = peer;
    // Headers last to first, entries right to left: the nearest hop first.
    for header in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = header.to_str() else {
            return Some(nearest);
        };
        for hop in text.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if server.is_trusted_proxy(ip) => nearest = ip,
                Ok(ip) => return Some(ip),
                // Not an address: stop at the last trusted hop.
                Err(_) => return Some(nearest),
            }
        }
    }
    Some(nearest)
}
