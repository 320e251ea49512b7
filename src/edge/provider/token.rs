//! `POST <prefix>/oauth/token`: a portal exchanges its one-time code.
//!
//! Checks, in order: the client (secret), the grant type, the code (opens,
//! not expired, issued to this client, same redirect URI), PKCE (the
//! verifier matches the bound challenge; a verifier without a bound
//! challenge is refused, RFC 9700 §2.1.1), one use only, and that the
//! gateway session still lives. Answers a gateway-signed access token and
//! ID token (`iss` = the gateway, `aud` = the portal, `sub` = the mapped
//! `user_id`, the portal's `nonce`, `at_hash`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::StatusCode;
use pingora::http::RequestHeader;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::clients;
use crate::edge::error::GatewayError;
use crate::edge::error::OAuthCode;
use crate::edge::gateway::Gateway;
use crate::edge::respond::Reply;
use crate::identity::codes::s256;
use crate::session::{Session, SessionId, StoreError};
use crate::shared::clock::now_secs;
use crate::shared::errors::Chain;
use crate::shared::secret::constant_time_eq;

/// Answers a token request.
pub async fn token(
    gw: &Gateway,
    req: &RequestHeader,
    body: Option<&[u8]>,
    correlation_id: &str,
) -> Reply {
    let result = exchange(gw, req, body).await;
    let outcome = if result.is_ok() {
        "token_issued"
    } else {
        "token_refused"
    };
    gw.metrics.provider_event(outcome);
    match result {
        Ok(reply) => reply,
        Err(refusal) => gw.reject_oauth(&refusal, correlation_id),
    }
}

fn invalid_grant(detail: &str) -> GatewayError {
    GatewayError::oauth(OAuthCode::InvalidGrant, detail)
}

fn store_down(e: StoreError) -> GatewayError {
    GatewayError::oauth(OAuthCode::TemporarilyUnavailable, Chain(&e).to_string())
}

async fn exchange(
    gw: &Gateway,
    req: &RequestHeader,
    body: Option<&[u8]>,
) -> Result<Reply, GatewayError> {
    let body = body.ok_or_else(|| {
        GatewayError::oauth(OAuthCode::InvalidRequest, "body missing or too large")
    })?;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let client = clients::authenticate(gw, req, &form).map_err(|e| {
        GatewayError::oauth(
            OAuthCode::InvalidClient,
            format!("client authentication failed: {e:?}"),
        )
    })?;
    if field("grant_type") != Some("authorization_code") {
        return Err(GatewayError::oauth(
            OAuthCode::UnsupportedGrantType,
            "only authorization_code",
        ));
    }
    let grant = field("code")
        .and_then(|c| gw.provider.codes.open(c))
        .ok_or_else(|| invalid_grant("code does not open"))?;
    if grant.exp < now_secs() {
        return Err(invalid_grant("code expired"));
    }
    if grant.client_id != client.client_id {
        return Err(invalid_grant("code issued to another client"));
    }
    if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&grant.code_challenge, field("code_verifier")) {
        (Some(challenge), Some(verifier))
            if constant_time_eq(s256(verifier).as_bytes(), challenge.as_bytes()) => {}
        (None, None) => {}
        (Some(_), _) => return Err(invalid_grant("PKCE verifier missing or wrong")),
        (None, Some(_)) => return Err(invalid_grant("code_verifier without a code_challenge")),
    }
    let replay_window = gw.config.provider.code_lifetime + std::time::Duration::from_secs(60);
    let fresh = gw
        .store
        .remember_logout_jti(&format!("provider-code:{}", grant.jti), replay_window)
        .await
        .map_err(store_down)?;
    if !fresh {
        return Err(invalid_grant("code replayed"));
    }
    let id = SessionId::parse(&grant.sid).ok_or_else(|| invalid_grant("bad session"))?;
    let session = gw
        .store
        .session(&id)
        .await
        .map_err(store_down)?
        .ok_or_else(|| invalid_grant("the gateway session has ended"))?;
    let issued = issue_tokens(gw, &id, &session, &client.client_id, grant.nonce.as_deref())
        .map_err(|e| GatewayError::oauth(OAuthCode::ServerError, Chain(&e).to_string()))?;
    tracing::info!(client_id = %client.client_id, "portal tokens issued");
    Ok(Reply::json(StatusCode::OK, &issued).with_header("pragma", "no-cache"))
}

/// Mints the access token and ID token for a portal, as the token response.
pub fn issue_tokens(
    gw: &Gateway,
    id: &SessionId,
    session: &Session,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<Value, crate::identity::Error> {
    let now = now_secs();
    let lifetime = gw.config.provider.token_lifetime.as_secs();
    let exp = now + lifetime;
    let user_id = &session.identity.user_id;
    let issuer = gw.minter.issuer();
    let access = claims(json!({
        "iss": issuer,
        "aud": client_id,
        "sub": user_id,
        "client_id": client_id,
        "scope": "openid profile",
        "iat": now,
        "exp": exp,
        "jti": uuid::Uuid::new_v4().to_string(),
        "gws": gw.provider.codes.seal_session(id),
    }));
    let access_token = gw.minter.sign(&access)?;
    let mut id_claims = claims(json!({
        "iss": issuer,
        "aud": client_id,
        "azp": client_id,
        "sub": user_id,
        "iat": now,
        "exp": exp,
        "auth_time": session.auth_time,
        "acr": session.acr,
        "at_hash": at_hash(&access_token),
    }));
    if let Some(nonce) = nonce {
        id_claims.insert("nonce".into(), nonce.into());
    }
    let id_token = gw.minter.sign(&id_claims)?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "id_token": id_token,
        "scope": "openid profile",
    }))
}

fn claims(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256 (RS256 and
/// ES256 both hash with SHA-256).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OpenID Connect Core 1.0, Appendix A.3 (RS256 at_hash).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
