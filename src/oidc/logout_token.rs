//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, §2.4–2.6).
//!
//! The provider POSTs a signed logout token when a user's provider session
//! ends; the gateway then ends that user's sessions. Verified like an ID
//! token (same JWKS, RS256/PS256 only, `iss`, `aud`, `iat`, `exp`), plus the
//! logout-specific rules: the backchannel-logout event, `sub` or `sid`, no
//! `nonce` (so an ID token can never pass as a logout token), and a `jti`
//! for replay detection.

use std::time::Duration;

use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use super::error::TokenProblem;
use super::verify::JwsHeader;
use crate::shared::clock::now_secs;

/// The event member a logout token must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What a verified logout token asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// End the sessions of this subject (when `sid` is absent).
    pub sub: Option<String>,
    /// End the sessions of this provider session.
    pub sid: Option<String>,
    /// The token id, remembered against replay.
    pub jti: String,
    /// How long to remember the `jti`.
    pub replay_window: Duration,
}

/// Verifies a logout token's signature and claims.
pub fn verify_logout_token(
    token: &str,
    header: &JwsHeader,
    typ: Option<&str>,
    keys: &[DecodingKey],
    issuers: &[String],
    client_id: &str,
    clock_skew: Duration,
) -> Result<LogoutRequest, TokenProblem> {
    if let Some(t) = typ {
        if !t.eq_ignore_ascii_case("logout+jwt") && !t.eq_ignore_ascii_case("jwt") {
            return Err(TokenProblem::Typ);
        }
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = clock_skew.as_secs();
    validation.set_issuer(issuers);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "exp"]);
    let claims = super::verify::verify_with_any_key(token, keys, &validation)?;
    logout_claims(&claims, clock_skew)
}

fn logout_claims(
    claims: &serde_json::Map<String, Value>,
    clock_skew: Duration,
) -> Result<LogoutRequest, TokenProblem> {
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(TokenProblem::Claim("iat is missing"))?;
    let now = now_secs();
    if iat > now + clock_skew.as_secs() {
        return Err(TokenProblem::Claim("iat is in the future"));
    }
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(TokenProblem::Claim(
            "the backchannel-logout event is missing",
        ));
    }
    if claims.contains_key("nonce") {
        return Err(TokenProblem::Claim("a logout token must not carry a nonce"));
    }
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (sub, sid) = (
        text("sub").map(str::to_owned),
        text("sid").map(str::to_owned),
    );
    if sub.is_none() && sid.is_none() {
        return Err(TokenProblem::Claim("neither sub nor sid is present"));
    }
    let jti = text("jti")
        .ok_or(TokenProblem::Claim("jti is missing"))?
        .to_owned();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(now);
    let replay_window = Duration::from_secs(exp.saturating_sub(now) + 2 * clock_skew.as_secs());
    Ok(LogoutRequest {
        sub,
        sid,
        jti,
        replay_window,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn good() -> Value {
        json!({
            "iat": now_secs(), "exp": now_secs() + 120, "jti": "j1", "sid": "s1", "sub": "u1",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} }
        })
    }

    #[test]
    fn a_well_formed_token_names_sid_sub_and_jti() {
        let request = logout_claims(&claims(good()), Duration::from_secs(60)).unwrap();
        assert_eq!(request.sid.as_deref(), Some("s1"));
        assert_eq!(request.sub.as_deref(), Some("u1"));
        assert_eq!(request.jti, "j1");
        assert!(request.replay_window >= Duration::from_secs(120));
    }

    #[test]
    fn logout_specific_rules_are_enforced() {
        let skew = Duration::from_secs(60);
        let mutate = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut c = claims(good());
            f(&mut c);
            logout_claims(&c, skew)
        };
        assert!(mutate(&|c| {
            c.remove("events");
        })
        .is_err());
        assert!(mutate(&|c| {
            c.insert("events".into(), json!({ "other": {} }));
        })
        .is_err());
        assert!(mutate(&|c| {
            c.insert("nonce".into(), json!("n"));
        })
        .is_err());
        assert!(mutate(&|c| {
            c.remove("sid");
            c.remove("sub");
        })
        .is_err());
        assert!(mutate(&|c| {
            c.remove("jti");
        })
        .is_err());
        assert!(mutate(&|c| {
            c.insert("iat".into(), json!(now_secs() + 3600));
        })
        .is_err());
        assert!(mutate(&|c| {
            c.remove("sid");
        })
        .is_ok());
    }
}
