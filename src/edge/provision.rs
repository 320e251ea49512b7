//! Gateway-driven first login for the FastAPI portal, and the portal-cookie
//! hygiene at login and logout.
//!
//! The FastAPI portal creates a registrant only inside its own
//! `/oauth2/callback`. After each e-Signet login (not a step-up of the same
//! person), the gateway mints a one-time code for every client with
//! `provision:` and calls that callback itself, server to server, with the
//! state `{"p": <provider row id>, "r": "/"}`. The portal exchanges the code
//! at the gateway's token endpoint, fetches userinfo and creates the
//! registrant with its own code, exactly as after an e-Signet login. The
//! portal's `Set-Cookie` answers are discarded: the browser never holds
//! portal tokens, every request carries the gateway's assertion instead.
//!
//! A failure ends the login (the caller removes the new session, so nothing
//! the gateway made outlives it), shows the citizen a page, counts
//! `g2p_gateway_portal_provisioning_total{outcome="failed"}`, and the next
//! login tries again. The portal itself creates partner, reg ID and phone in
//! one transaction.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::config::ProviderClient;
use crate::edge::error::ProvisionError;
use crate::edge::gateway::Gateway;
use crate::identity::codes::{s256, Grant};
use crate::session::SessionId;
use crate::shared::clock::now_secs;

/// The HTTP client for portal callbacks: no redirects followed, no cookies
/// kept. Built once per process.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client builds")
    })
}

/// What a finished e-Signet login does for the portals, called by the login
/// callback once the session is stored: for a new session (not a step-up of
/// the same person, `upgraded`), provision every configured portal and
/// answer the `Set-Cookie` values expiring every portal cookie.
///
/// On a provisioning failure the new session is removed again (nothing of
/// this login outlives it; the next login retries) and the error is the
/// citizen's page.
pub async fn after_login(
    gw: &Gateway,
    id: &SessionId,
    upgraded: bool,
) -> Result<Vec<String>, ProvisionError> {
    if upgraded {
        return Ok(Vec::new());
    }
    if let Err(e) = provision_all(gw, id).await {
        gw.store.remove_session(id).await?;
        gw.minter.forget(id);
        return Err(e);
    }
    Ok(expire_portal_cookies(gw))
}

/// Runs every configured provisioning for a new gateway session.
async fn provision_all(gw: &Gateway, id: &SessionId) -> Result<(), ProvisionError> {
    for portal in gw
        .config
        .provider
        .clients
        .iter()
        .filter(|c| c.provision.is_some())
    {
        let started = Instant::now();
        let result = provision(gw, id, portal).await;
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        gw.metrics.portal_provisioning(outcome, started.elapsed());
        result?;
    }
    Ok(())
}

async fn provision(
    gw: &Gateway,
    id: &SessionId,
    portal: &ProviderClient,
) -> Result<(), ProvisionError> {
    let Some(setup) = &portal.provision else {
        return Ok(());
    };
    let client_id = || portal.client_id.clone();
    let upstream = gw
        .upstreams
        .get(&setup.upstream)
        .ok_or_else(|| ProvisionError::NoUpstream {
            client_id: client_id(),
        })?;
    // The redirect URI the portal will repeat at the token endpoint: its
    // provider row's `g2p_portal_oauth_callback_url`, the first registered.
    let redirect_uri = portal.redirect_uris.first().cloned().unwrap_or_default();
    let grant = Grant {
        sid: id.as_str().to_owned(),
        client_id: portal.client_id.clone(),
        redirect_uri,
        code_challenge: setup.code_verifier.as_ref().map(|v| s256(v.expose())),
        nonce: None,
        exp: now_secs() + gw.config.provider.code_lifetime.as_secs(),
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    let code = gw.provider.codes.seal(&grant);
    let state = serde_json::json!({ "p": setup.provider_id, "r": "/" }).to_string();
    let url = format!("{}{}", upstream.base_url, setup.callback_path);
    // The portal calls back into the gateway (token, userinfo, JWKS) while
    // this request waits: allow for those round trips.
    let timeout =
        gw.config.esignet.http_timeout + upstream.read_timeout.min(Duration::from_secs(30));
    let response = client()
        .get(&url)
        .query(&[("code", code.as_str()), ("state", state.as_str())])
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| ProvisionError::Unreachable {
            client_id: client_id(),
            source: e.without_url(),
        })?;
    let status = response.status();
    if status.is_redirection() {
        tracing::info!(client_id = %portal.client_id, "portal provisioned the registrant");
        return Ok(());
    }
    // The portal's error text names no personal data (e.g. "Partner Not
    // Found in Registry"); keep a bounded prefix for the log.
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    Err(ProvisionError::Refused {
        client_id: client_id(),
        status,
        text,
    })
}

/// `Set-Cookie` values expiring every portal cookie of every upstream.
pub fn expire_portal_cookies(gw: &Gateway) -> Vec<String> {
    crate::edge::upstream::expire_portal_cookies(gw.upstreams.values().map(|u| &u.identity))
}
