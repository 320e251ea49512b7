//! `GET <prefix>/oauth/authorize`: the portal's login button lands here.
//!
//! The client and its exact redirect URI are checked first; a bad one gets
//! an error page, never a redirect. With a gateway session good enough for
//! the request's `acr_values`, a one-time code bound to that session is sent
//! to the portal's callback with the portal's own `state`. Without one, the
//! browser goes through the gateway's e-Signet login (step-up included) and
//! comes back here.

use std::net::IpAddr;

use pingora::http::RequestHeader;
use url::Url;

use crate::decision::policy::acr_satisfies;
use crate::edge::endpoints::login_required_for;
use crate::edge::error::GatewayError;
use crate::edge::gateway::Gateway;
use crate::edge::respond::{ClientKind, Reply, Requester};
use crate::identity::codes::Grant;
use crate::session::cookie::cookie_headers;
use crate::shared::clock::now_secs;

/// Longest `state` and `nonce` accepted (the portals send a few dozen bytes).
const MAX_PARAM_CHARS: usize = 2048;

/// Answers an authorization request.
pub async fn authorize(
    gw: &Gateway,
    req: &RequestHeader,
    correlation_id: &str,
    client: Option<IpAddr>,
) -> Reply {
    let who = Requester::of(&req.method, &req.headers);
    let query = req.uri.query().unwrap_or("");
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // 1. Client and redirect URI: errors here are shown, not redirected.
    let Some(portal) = param("client_id").and_then(|id| super::clients::find(gw, id)) else {
        let e = GatewayError::BadRequest("authorize: unknown client_id".into());
        return gw.reject(&e, who, correlation_id, None);
    };
    let Some(redirect_uri) =
        param("redirect_uri").filter(|r| portal.redirect_uris.iter().any(|u| u == r))
    else {
        let e = GatewayError::BadRequest("authorize: redirect_uri not registered".into());
        return gw.reject(&e, who, correlation_id, None);
    };
    let state = param("state");
    let back = |error: &str| error_redirect(gw, redirect_uri, error, state);
    // 2. The request itself: errors go back to the portal.
    if param("response_type") != Some("code") {
        return back("unsupported_response_type");
    }
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) if is_s256_challenge(c) => Some(c.to_owned()),
        _ => return back("invalid_request"),
    };
    let too_long = |v: Option<&str>| v.is_some_and(|v| v.len() > MAX_PARAM_CHARS);
    if too_long(state) || too_long(param("nonce")) {
        return back("invalid_request");
    }
    let acrs: Option<Vec<String>> = param("acr_values")
        .map(|a| a.split_whitespace().map(str::to_owned).collect())
        .filter(|a: &Vec<String>| !a.is_empty());
    // 3. The gateway session.
    let session = match gw.cookies.session_id(cookie_headers(&req.headers)) {
        Some(id) => match gw.store.session(&id).await {
            Ok(found) => found.map(|s| (id, s)),
            Err(e) => return gw.reject(&GatewayError::from(e), who, correlation_id, None),
        },
        None => None,
    };
    let good_enough = session.as_ref().filter(|(_, s)| {
        acrs.as_ref()
            .is_none_or(|wanted| acr_satisfies(&s.acr, wanted))
    });
    let Some((id, _)) = good_enough else {
        if param("prompt") == Some("none") {
            return back("login_required");
        }
        // Log in (or step up) at e-Signet, then come back to this URL.
        let target = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let browser = Requester {
            kind: ClientKind::Browser,
            ..who
        };
        return login_required_for(gw, req, browser, target, correlation_id, acrs, client).await;
    };
    // 4. A code for this session, client, redirect URI and challenge.
    let grant = Grant {
        sid: id.as_str().to_owned(),
        client_id: portal.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        code_challenge: challenge,
        nonce: param("nonce").map(str::to_owned),
        exp: now_secs() + gw.config.provider.code_lifetime.as_secs(),
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    let code = gw.provider.codes.seal(&grant);
    gw.metrics.provider_event("code_issued");
    tracing::info!(correlation_id, client_id = %portal.client_id, "portal authorization code issued");
    Reply::redirect(&callback_url(
        redirect_uri,
        &[("code", &code)],
        state,
        gw.minter.issuer(),
    ))
}

/// A redirect to the portal's callback with an OAuth error (RFC 6749 §4.1.2.1).
fn error_redirect(gw: &Gateway, redirect_uri: &str, error: &str, state: Option<&str>) -> Reply {
    gw.metrics.provider_event("authorize_refused");
    tracing::warn!(error, "portal authorization request refused");
    Reply::redirect(&callback_url(
        redirect_uri,
        &[("error", error)],
        state,
        gw.minter.issuer(),
    ))
}

/// `redirect_uri` with the response parameters, the portal's `state` as sent
/// (OpenG2P puts JSON there) and `iss` (RFC 9207).
fn callback_url(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    iss: &str,
) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", iss);
    }
    url.to_string()
}

/// 43 base64url characters: the only shape an S256 challenge has.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_keeps_the_portals_json_state() {
        let url = callback_url(
            "http://portal.example/v1/selfservice/oauth2/callback",
            &[("code", "abc")],
            Some(r#"{"p":1,"r":"/"}"#),
            "https://gw.example",
        );
        let parsed = Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("code".into(), "abc".into()));
        assert_eq!(pairs[1], ("state".into(), r#"{"p":1,"r":"/"}"#.into()));
        assert_eq!(pairs[2], ("iss".into(), "https://gw.example".into()));
    }

    #[test]
    fn only_s256_shaped_challenges_pass() {
        assert!(is_s256_challenge(&crate::identity::codes::s256("v")));
        assert!(!is_s256_challenge("plain-verifier"));
        assert!(!is_s256_challenge(&"a".repeat(44)));
    }
}
