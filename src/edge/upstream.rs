//! What an upstream must not receive from the client, by identity form.
//!
//! A `bearer` upstream (OpenG2P's FastAPI portal) resolves the citizen from
//! `Authorization`, else the `X-Access-Token` cookie, and merges the claims
//! of an `X-ID-Token` cookie over them: a client-sent value in any of these
//! would decide who the portal sees. They are removed on every request to
//! such an upstream, public routes included, and the gateway's own
//! assertion is the only identity that arrives.
//!
//! The portal's own session cookies (`portal_cookies`: Odoo's `session_id`,
//! the FastAPI portal's token cookies) pass only alongside a live gateway
//! session, so a portal session can never outlive the gateway's (after a
//! back-channel logout, say) or reach the portal on a public route.

use http::header::{AUTHORIZATION, COOKIE};
use pingora::http::RequestHeader;

use crate::config::{IdentityForm, UpstreamIdentity};
use crate::edge::gateway::Gateway;
use crate::session::cookie::{cookie_headers, cookie_pairs, without_cookies};

/// Headers a `bearer` upstream reads an identity from.
const BEARER_IDENTITY_HEADERS: &[&str] = &["x-access-token", "x-id-token"];
/// Cookies a `bearer` upstream reads an identity from (`JwtBearerAuth`).
const BEARER_IDENTITY_COOKIES: &[&str] = &["X-Access-Token", "X-ID-Token"];

/// Removes the client's identity-bearing headers and cookies for this
/// upstream. `live_session`: the request carries a valid gateway session
/// (the portal's own session cookies may pass; see
/// [`portal_cookies_allowed`]).
///
/// Runs in `upstream_request_filter` for every forwarded request, after the
/// gateway's own cookies are removed and before its identity is added. A
/// request without cookies and without these headers costs a few lookups.
pub fn strip_client_identity(
    upstream: &UpstreamIdentity,
    live_session: bool,
    req: &mut RequestHeader,
) -> pingora::Result<()> {
    let bearer = upstream.form == IdentityForm::Bearer;
    if bearer {
        req.remove_header(&AUTHORIZATION);
        for name in BEARER_IDENTITY_HEADERS {
            req.remove_header(*name);
        }
    }
    let portal_cookies: &[String] = if live_session {
        &[]
    } else {
        &upstream.portal_cookies
    };
    if !bearer && portal_cookies.is_empty() {
        return Ok(());
    }
    let doomed = |name: &str| {
        (bearer && BEARER_IDENTITY_COOKIES.contains(&name))
            || portal_cookies.iter().any(|c| c == name)
    };
    let Some(cookie) = req.headers.get(COOKIE).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let kept = without_cookies(cookie, doomed);
    if kept.len() != cookie.len() {
        req.remove_header(&COOKIE);
        if !kept.is_empty() {
            req.insert_header(COOKIE, kept)?;
        }
    }
    Ok(())
}

/// Whether the portal's own session cookies may pass on this request: on a
/// protected route the proxy already knows (`known`: the session it
/// checked); on a public route, only a request that carries one of them
/// costs a session lookup (an Odoo `session_id` must keep working on Odoo's
/// public pages while the gateway session lives).
///
/// Runs in `upstream_request_filter`; `downstream` is the client's request
/// (the gateway's own cookies are still on it).
pub async fn portal_cookies_allowed(
    gw: &Gateway,
    upstream: &UpstreamIdentity,
    downstream: &RequestHeader,
    known: bool,
) -> bool {
    if known || upstream.portal_cookies.is_empty() {
        return known;
    }
    let carries_one = cookie_headers(&downstream.headers)
        .flat_map(cookie_pairs)
        .any(|pair| upstream.portal_cookies.iter().any(|c| c == pair.name));
    if !carries_one {
        return false;
    }
    let cookies = cookie_headers(&downstream.headers);
    match gw.cookies.session_id(cookies) {
        Some(id) => matches!(gw.store.session(&id).await, Ok(Some(_))),
        None => false,
    }
}

/// `Set-Cookie` values that expire every configured portal cookie, on the
/// root path (where the portals set them). Sent at every gateway login and
/// logout, so a browser never carries one citizen's portal session into
/// another's gateway session.
pub fn expire_portal_cookies<'a>(
    upstreams: impl Iterator<Item = &'a UpstreamIdentity>,
) -> Vec<String> {
    let mut names: Vec<&str> = upstreams
        .flat_map(|u| u.portal_cookies.iter().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            format!("{name}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/v1/selfservice/auth/profile", None).unwrap();
        for (k, v) in headers {
            req.append_header(k.to_string(), *v).unwrap();
        }
        req
    }

    fn bearer() -> UpstreamIdentity {
        UpstreamIdentity {
            form: IdentityForm::Bearer,
            plain_headers: false,
            portal_cookies: vec!["X-Access-Token".into(), "X-ID-Token".into()],
        }
    }

    #[test]
    fn a_bearer_upstream_never_sees_client_tokens() {
        let mut req = request(&[
            ("authorization", "Bearer forged"),
            ("x-access-token", "forged"),
            ("X-ID-Token", "forged"),
            (
                "cookie",
                "a=1; X-ID-Token=other; X-Access-Token=other; x-id-token=kept",
            ),
        ]);
        strip_client_identity(&bearer(), true, &mut req).unwrap();
        assert!(req.headers.get("authorization").is_none());
        assert!(req.headers.get("x-access-token").is_none());
        assert!(req.headers.get("x-id-token").is_none());
        assert_eq!(req.headers.get("cookie").unwrap(), "a=1; x-id-token=kept");
    }

    #[test]
    fn portal_session_cookies_pass_only_with_a_live_gateway_session() {
        let odoo = UpstreamIdentity {
            portal_cookies: vec!["session_id".into()],
            ..Default::default()
        };
        let mut req = request(&[("cookie", "session_id=abc; lang=en")]);
        strip_client_identity(&odoo, true, &mut req).unwrap();
        assert_eq!(
            req.headers.get("cookie").unwrap(),
            "session_id=abc; lang=en"
        );
        strip_client_identity(&odoo, false, &mut req).unwrap();
        assert_eq!(req.headers.get("cookie").unwrap(), "lang=en");
        let mut only = request(&[("cookie", "session_id=abc"), ("authorization", "Basic x")]);
        strip_client_identity(&odoo, false, &mut only).unwrap();
        assert!(only.headers.get("cookie").is_none());
        assert!(
            only.headers.get("authorization").is_some(),
            "header form keeps it"
        );
    }

    #[test]
    fn expiry_covers_every_configured_cookie_once() {
        let odoo = UpstreamIdentity {
            portal_cookies: vec!["session_id".into()],
            ..Default::default()
        };
        let set = expire_portal_cookies([bearer(), odoo, bearer()].iter());
        assert_eq!(set.len(), 3);
        assert!(set
            .iter()
            .all(|c| c.contains("Max-Age=0") && c.contains("Path=/")));
        assert!(set[0].starts_with("X-Access-Token=;"));
    }
}
