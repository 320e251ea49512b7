//! The gateway's own endpoints, under the reserved prefix (default `/_gateway`).
//!
//! `login` starts a login, `callback` finishes it, `logout` ends the session,
//! `session` tells a portal front end who is logged in, and `jwks.json`
//! publishes the keys that verify the identity assertion. Each handler turns
//! a request into a [`Reply`]; `proxy` writes it.

use std::net::IpAddr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pingora::http::RequestHeader;
use rand::RngCore;

use crate::decision::access;
use crate::decision::limits::Refusal;
use crate::decision::policy;
use crate::decision::return_to::{request_target_is_safe, safe_return_path};
use crate::edge::error::{GatewayError, LoginFailure};
use crate::edge::gateway::Gateway;
use crate::edge::respond::{ClientKind, Reply, Requester};
use crate::mapping;
use crate::session::cookie::{binding_hash, cookie_headers};
use crate::session::{PendingLogin, Session, SessionId};
use crate::shared::clock::now_secs;
use crate::shared::secret::constant_time_eq;

/// Answers a request under the reserved prefix. `rest` is the path after it.
pub async fn handle(
    gw: &Gateway,
    req: &RequestHeader,
    rest: &str,
    correlation_id: &str,
    client: Option<IpAddr>,
) -> Reply {
    let who = Requester::of(&req.method, &req.headers);
    let query = req.uri.query().unwrap_or("");
    let result = match (req.method.as_str(), rest) {
        ("GET", "/callback") => match gw.limits.allow_callback(client) {
            Ok(()) => callback(gw, req, query, client).await,
            Err(refusal) => Err(refused(gw, refusal)),
        },
        ("GET", "/login") => {
            let target = query_param(query, "return_to")
                .and_then(|t| safe_return_path(&t, &gw.config.server.public_url))
                .unwrap_or_else(|| "/".into());
            let acrs = required_acr_for_target(gw, req, &target).await;
            start_login(gw, req, target, acrs, client).await
        }
        // A GET only shows a button: a cross-site link or image must not be
        // able to end a citizen's session.
        ("GET", "/logout") => Ok(logout_confirmation(gw, req, query, correlation_id)),
        ("POST", "/logout") if same_origin(gw, req) => logout(gw, req, query).await,
        ("POST", "/logout") => Err(GatewayError::Forbidden(
            "logout without a same-origin Origin header".into(),
        )),
        ("GET", "/session") => session_info(gw, req).await,
        _ => Err(GatewayError::NoRoute),
    };
    result.unwrap_or_else(|e| gw.reject(&e, who, correlation_id, None))
}

/// What to do when a protected route is hit without a session good enough
/// for it: no session at all, or (with `required_acr`) a step-up.
///
/// Browsers navigating at top level are sent to the provider; everything else
/// (XHR, fetch, preflights, non-HTML clients) gets a 401 with a login URL.
pub async fn login_required(
    gw: &Gateway,
    req: &RequestHeader,
    correlation_id: &str,
    required_acr: Option<Vec<String>>,
    client: Option<IpAddr>,
) -> Reply {
    let who = Requester::of(&req.method, &req.headers);
    let target = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    login_required_for(gw, req, who, target, correlation_id, required_acr, client).await
}

/// [`login_required`] for an explicit target and client kind (forward-auth
/// asks about a request other than its own).
pub async fn login_required_for(
    gw: &Gateway,
    req: &RequestHeader,
    who: Requester,
    target: &str,
    correlation_id: &str,
    required_acr: Option<Vec<String>>,
    client: Option<IpAddr>,
) -> Reply {
    let target = if request_target_is_safe(target) {
        target.to_string()
    } else {
        "/".to_string()
    };
    match who.kind {
        ClientKind::Browser => match start_login(gw, req, target, required_acr, client).await {
            Ok(reply) => reply,
            Err(e) => gw.reject(&e, who, correlation_id, None),
        },
        ClientKind::Api => {
            let login_url = format!(
                "{}?return_to={}",
                gw.endpoint_path("login"),
                url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
            );
            let error = match required_acr {
                Some(acr_values) => GatewayError::StepUpRequired { acr_values },
                None => GatewayError::LoginRequired,
            };
            gw.reject(&error, who, correlation_id, Some(&login_url))
        }
    }
}

/// Starts a login and redirects the browser to the provider.
async fn start_login(
    gw: &Gateway,
    req: &RequestHeader,
    return_to: String,
    required_acr: Option<Vec<String>>,
    client: Option<IpAddr>,
) -> Result<Reply, GatewayError> {
    gw.limits
        .allow_login_start(client)
        .map_err(|refusal| refused(gw, refusal))?;
    let existing = gw.cookies.binding(cookie_headers(&req.headers));
    let binding = existing.unwrap_or_else(random_token);
    let start = gw
        .oidc
        .start_login(return_to, binding_hash(&binding), required_acr)
        .await?;
    store_pending(gw, &start.state, start.pending).await?;
    gw.limits.login_started(client, &start.state);
    gw.metrics.login_started();
    Ok(Reply::redirect(&start.authorize_url)
        .with_header("set-cookie", gw.cookies.set_binding(&binding)))
}

/// Stores a started login. When the store is full, the oldest pending
/// login of the busiest client is given up for it (a few times at most: with
/// several replicas, another may fill the room first), so that a flood from
/// many addresses cannot lock every other citizen out; only when this
/// gateway knows of none to give up is the login refused as overloaded.
async fn store_pending(
    gw: &Gateway,
    state: &str,
    pending: crate::session::PendingLogin,
) -> Result<(), GatewayError> {
    const ATTEMPTS: usize = 4;
    let mut given_up = 0;
    loop {
        if gw.store.insert_pending(state, pending.clone()).await? {
            return Ok(());
        }
        if given_up == ATTEMPTS {
            break;
        }
        let Some(victim) = gw.limits.evict_busiest() else {
            break;
        };
        // A login already finished or expired frees nothing: try the next.
        if gw.store.take_pending(&victim).await?.is_some() {
            given_up += 1;
            gw.metrics.refused("pending_login_evicted");
        }
    }
    Err(GatewayError::Overloaded)
}

/// Finishes a login on the provider's redirect back: the callback is
/// checked and its pending login taken, the provider's tokens verified, the
/// session built from them, then installed.
async fn callback(
    gw: &Gateway,
    req: &RequestHeader,
    query: &str,
    client: Option<IpAddr>,
) -> Result<Reply, GatewayError> {
    let (pending, code) = take_pending_login(gw, req, query, client).await?;
    let iss = query_param(query, "iss");
    let login = gw
        .oidc
        .finish_login(&pending, &code, iss.as_deref())
        .await?;
    let session = new_session(gw, &pending, login).await?;
    install_session(gw, req, &pending, session).await
}

/// The pending login a callback finishes, and its code: the provider's
/// `error` ends it, and the callback must come from the browser that
/// started it. The pending login is consumed either way (no retry).
async fn take_pending_login(
    gw: &Gateway,
    req: &RequestHeader,
    query: &str,
    client: Option<IpAddr>,
) -> Result<(PendingLogin, String), GatewayError> {
    let state = query_param(query, "state");
    if let Some(error) = query_param(query, "error") {
        if let Some(state) = &state {
            // Consume the state: the same callback cannot be retried.
            if let Ok(Some(_)) = gw.store.take_pending(state).await {
                gw.limits.login_finished(client, state);
            }
        }
        return Err(GatewayError::login(
            LoginFailure::ProviderRefused,
            format!("provider returned error {:?}", sanitize(&error)),
        ));
    }
    let (Some(state), Some(code)) = (state, query_param(query, "code")) else {
        return Err(GatewayError::login(
            LoginFailure::MalformedCallback,
            "callback without state or code",
        ));
    };
    let pending =
        gw.store.take_pending(&state).await?.ok_or_else(|| {
            GatewayError::login(LoginFailure::UnknownState, "unknown or used state")
        })?;
    // The login is no longer pending, whatever happens next.
    gw.limits.login_finished(client, &state);
    let binding = gw
        .cookies
        .binding(cookie_headers(&req.headers))
        .map(|b| binding_hash(&b));
    let same_browser =
        binding.is_some_and(|b| constant_time_eq(b.as_bytes(), pending.browser_binding.as_bytes()));
    if !same_browser {
        return Err(GatewayError::login(
            LoginFailure::BrowserMismatch,
            "login-binding cookie missing or different",
        ));
    }
    Ok((pending, code))
}

/// The session a verified login makes: the claims mapped the way OpenG2P
/// does, and the `acr` reached checked against a step-up's.
async fn new_session(
    gw: &Gateway,
    pending: &PendingLogin,
    login: crate::oidc::VerifiedLogin,
) -> Result<Session, GatewayError> {
    let mapped = mapping::map_identity_with_warnings(
        &gw.config.mapping,
        &login.id_token,
        &login.userinfo,
        &gw.config.esignet.claims_locales,
    )
    .map_err(|e| GatewayError::login(LoginFailure::Mapping, e.to_string()))?;
    for warning in &mapped.warnings {
        // Warnings name claims, never their values.
        tracing::warn!(%warning, "claim mapping");
    }
    let claim_str = |k: &str| {
        login
            .id_token
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let acr = claim_str("acr").unwrap_or_default();
    if let Some(required) = &pending.required_acr {
        // e-Signet silently falls back to other acrs: check what was reached.
        if !policy::acr_satisfies(&acr, required) {
            return Err(GatewayError::login(
                LoginFailure::InsufficientAcr,
                format!("authenticated with acr {acr:?}, route needs one of {required:?}"),
            ));
        }
    }
    // The raw ID token serves only as `id_token_hint` at RP-initiated logout:
    // keep it only when the provider has an `end_session_endpoint` (e-Signet
    // has none), which saves about 1 kB per session.
    let keep_id_token = gw
        .oidc
        .provider()
        .metadata()
        .await
        .is_ok_and(|m| m.end_session_endpoint.is_some());
    let mut identity = mapped.identity;
    // e-Signet's verified claims serve the portal-facing provider's userinfo:
    // without a portal client nothing reads them but the session endpoint,
    // which reads the picture. Keep no more personal data than is read.
    if gw.config.provider.clients.is_empty() {
        identity.keep_verified(|name| name == "picture");
    }
    let now = now_secs();
    let sub = claim_str("sub").unwrap_or_default();
    Ok(Session {
        sub: identity.shared_user_id(sub),
        acr: acr.into(),
        auth_time: login
            .id_token
            .get("auth_time")
            .and_then(|v| v.as_u64())
            .unwrap_or(now),
        sid: claim_str("sid").map(String::into_boxed_str),
        created_at: now,
        expires_at: now + gw.config.session.absolute_timeout.as_secs(),
        id_token: keep_id_token.then(|| login.raw_id_token.into_boxed_str()),
        identity,
    })
}

/// Stores the new session and answers the browser with its cookie.
///
/// A step-up of the same person upgrades the browser's session in place (it
/// keeps its id and absolute end); otherwise the session gets a fresh id (no
/// fixation) and an older session of this browser ends. A portal the gateway
/// provisions is driven through its callback before the browser returns.
async fn install_session(
    gw: &Gateway,
    req: &RequestHeader,
    pending: &PendingLogin,
    mut session: Session,
) -> Result<Reply, GatewayError> {
    let mut upgraded = false;
    let id = match previous_session(gw, req).await {
        Some((id, previous)) if previous.sub == session.sub && pending.required_acr.is_some() => {
            session.created_at = previous.created_at;
            session.expires_at = previous.expires_at;
            gw.minter.forget(&id);
            upgraded = true;
            id
        }
        Some((old, _)) => {
            gw.store.remove_session(&old).await?;
            gw.minter.forget(&old);
            SessionId::random()
        }
        None => SessionId::random(),
    };
    gw.store.insert_session(&id, session).await?;
    let portal_cookies = crate::edge::provision::after_login(gw, &id, upgraded).await?;
    gw.metrics.login_completed();
    tracing::info!(step_up = pending.required_acr.is_some(), "login completed");
    let mut reply = Reply::redirect(&pending.return_to)
        .with_header("set-cookie", gw.cookies.set_session(&id))
        .with_header("set-cookie", gw.cookies.clear_binding());
    for expired in portal_cookies {
        reply = reply.with_header("set-cookie", expired);
    }
    Ok(reply)
}

/// Ends the session and sends the browser back (through the provider's
/// end-session endpoint when it has one; e-Signet does not).
async fn logout(gw: &Gateway, req: &RequestHeader, query: &str) -> Result<Reply, GatewayError> {
    let target = query_param(query, "return_to")
        .and_then(|t| safe_return_path(&t, &gw.config.server.public_url))
        .unwrap_or_else(|| "/".into());
    let mut id_token = None;
    if let Some(id) = gw.cookies.session_id(cookie_headers(&req.headers)) {
        if let Ok(Some(session)) = gw.store.session(&id).await {
            id_token = session.id_token.clone();
        }
        gw.store.remove_session(&id).await?;
        gw.minter.forget(&id);
        tracing::info!("logout");
    }
    let end_session = match gw.oidc.provider().metadata().await {
        Ok(m) => m.end_session_endpoint.clone(),
        Err(_) => None,
    };
    let location = match end_session {
        Some(mut url) => {
            let post_logout = format!(
                "{}{}",
                gw.config.server.public_url.as_str().trim_end_matches('/'),
                target
            );
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("client_id", &gw.config.esignet.client_id);
                q.append_pair("post_logout_redirect_uri", &post_logout);
                if let Some(hint) = &id_token {
                    q.append_pair("id_token_hint", hint);
                }
            }
            url.to_string()
        }
        None => target,
    };
    let mut reply =
        Reply::redirect(&location).with_header("set-cookie", gw.cookies.clear_session());
    for expired in crate::edge::provision::expire_portal_cookies(gw) {
        reply = reply.with_header("set-cookie", expired);
    }
    Ok(reply)
}

/// The logged-in user's mapped identity, for portal front ends.
async fn session_info(gw: &Gateway, req: &RequestHeader) -> Result<Reply, GatewayError> {
    let id = gw
        .cookies
        .session_id(cookie_headers(&req.headers))
        .ok_or(GatewayError::LoginRequired)?;
    let session = gw
        .store
        .session(&id)
        .await?
        .ok_or(GatewayError::LoginRequired)?;
    let identity = &session.identity;
    let body = serde_json::json!({
        "user_id": identity.user_id,
        "registrant_id": { "id_type": identity.registrant_id.id_type, "value": identity.registrant_id.value },
        "login": identity.login,
        "groups": identity.groups,
        "claims": identity.claims,
        "partner": mapping::partner_fields(identity, true),
        "acr": session.acr,
        "auth_time": session.auth_time,
        "expires_at": session.expires_at,
    });
    Ok(Reply::json(http::StatusCode::OK, &body))
}

/// OpenID Connect Back-Channel Logout: the provider POSTs a logout token and
/// every session of that provider session (`sid`) or subject (`sub`) ends.
///
/// `body` is the form body, already read (bounded) by the proxy.
pub async fn backchannel_logout(gw: &Gateway, body: Option<&[u8]>, correlation_id: &str) -> Reply {
    match end_sessions_for_logout_token(gw, body).await {
        Ok(ended) => {
            tracing::info!(correlation_id, ended, "back-channel logout");
            Reply::empty(http::StatusCode::OK)
        }
        Err(e) => gw.reject_oauth(&e, correlation_id),
    }
}

async fn end_sessions_for_logout_token(
    gw: &Gateway,
    body: Option<&[u8]>,
) -> Result<u64, GatewayError> {
    let token = body
        .and_then(|b| {
            url::form_urlencoded::parse(b)
                .find(|(k, _)| k == "logout_token")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or_else(|| GatewayError::BadRequest("no logout_token in the form body".into()))?;
    let request = gw.oidc.verify_logout_token(&token).await?;
    let fresh = gw
        .store
        .remember_logout_jti(&request.jti, request.replay_window)
        .await?;
    if !fresh {
        return Err(GatewayError::BadRequest(
            "logout token replayed (jti seen before)".into(),
        ));
    }
    let ended = match (&request.sid, &request.sub) {
        (Some(sid), _) => gw.store.remove_sessions_of_sid(sid).await,
        (None, Some(sub)) => gw.store.remove_sessions_of_subject(sub).await,
        (None, None) => Ok(0),
    }?;
    Ok(ended)
}

/// The browser's current session, if its cookie opens and the session lives.
async fn previous_session(gw: &Gateway, req: &RequestHeader) -> Option<(SessionId, Arc<Session>)> {
    let id = gw.cookies.session_id(cookie_headers(&req.headers))?;
    let session = gw.store.session(&id).await.ok().flatten()?;
    Some((id, session))
}

/// The acrs a login for `target` should ask for: a step-up when the current
/// session fails the route's policy only for its acr, or the acrs the route's
/// policy names when there is no session yet (saves a second login). The
/// same decision as for the request itself ([`access::decide`]).
async fn required_acr_for_target(
    gw: &Gateway,
    req: &RequestHeader,
    target: &str,
) -> Option<Vec<String>> {
    let path = target.split('?').next().unwrap_or("/");
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())?;
    let facts = access::Facts {
        method: &http::Method::GET,
        host,
        path,
        preflight: false,
    };
    match gw.decide(&facts, cookie_headers(&req.headers), None).await {
        access::Outcome::Login { acr, .. } => acr,
        _ => None,
    }
}

/// Whether a state-changing request comes from the gateway's own pages: its
/// `Origin` is the public URL's or the request's own origin, or, without
/// `Origin`, the browser says `Sec-Fetch-Site: same-origin`. Anything else
/// (another site, `Origin: null`, no evidence at all) is refused.
fn same_origin(gw: &Gateway, req: &RequestHeader) -> bool {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(origin) = header("origin") else {
        return header("sec-fetch-site") == Some("same-origin");
    };
    if origin == gw.config.server.public_url.origin().ascii_serialization() {
        return true;
    }
    let own = header("host");
    match (origin.split_once("://"), own) {
        (Some(("http" | "https", authority)), Some(host)) => {
            crate::decision::access::target::canonical_host(authority.as_bytes())
                .is_ok_and(|a| a == host)
        }
        _ => false,
    }
}

/// The page a `GET <prefix>/logout` shows: one button that POSTs the logout.
fn logout_confirmation(
    gw: &Gateway,
    req: &RequestHeader,
    query: &str,
    correlation_id: &str,
) -> Reply {
    let who = Requester::of(&req.method, &req.headers);
    let mut action = gw.endpoint_path("logout");
    if let Some(target) = query_param(query, "return_to")
        .and_then(|t| safe_return_path(&t, &gw.config.server.public_url))
    {
        action.push_str("?return_to=");
        action.extend(url::form_urlencoded::byte_serialize(target.as_bytes()));
    }
    Reply::html(
        http::StatusCode::OK,
        who.lang,
        crate::shared::pages::logout_page(who.lang, &action, correlation_id),
    )
}

/// Counts a refusal and turns it into the error the client sees.
fn refused(gw: &Gateway, refusal: Refusal) -> GatewayError {
    gw.metrics.refused(refusal.label());
    GatewayError::RateLimited(refusal.label())
}

/// The first value of a query parameter, decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A short, log-safe version of a value echoed by the provider.
fn sanitize(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// 256 random bits, base64url (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
