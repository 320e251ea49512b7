//! `GET|POST <prefix>/oauth/userinfo`: the citizen's verified claims.
//!
//! The access token comes in `Authorization: Bearer` (the FastAPI portal,
//! Odoo with `auth_oauth.authorization_header`), in `?access_token=` (Odoo's
//! default) or in a form body. The answer holds what e-Signet gave the
//! gateway, verified at login, under e-Signet's claim names (`name`,
//! `email`, `phone_number`, `gender`, `birthdate`, `address`, ...), so the
//! provider record's existing `token_map`, `date_format` and validate-response
//! mapping keep working. JSON by default; a signed JWT (`application/jwt`,
//! like e-Signet's) when the request accepts `application/jwt`.

use http::header::{ACCEPT, AUTHORIZATION};
use http::StatusCode;
use pingora::http::RequestHeader;
use serde_json::{Map, Value};

use super::clients;
use crate::config::MappingSettings;
use crate::edge::error::GatewayError;
use crate::edge::error::OAuthCode;
use crate::edge::gateway::Gateway;
use crate::edge::respond::Reply;
use crate::mapping::TOKEN_MECHANICS;
use crate::session::Session;
use crate::shared::errors::Chain;

/// Answers a userinfo request.
pub async fn userinfo(
    gw: &Gateway,
    req: &RequestHeader,
    body: Option<&[u8]>,
    correlation_id: &str,
) -> Reply {
    let Some(token) = access_token(req, body) else {
        return gw.reject_oauth(
            &GatewayError::oauth(OAuthCode::InvalidToken, "no access token"),
            correlation_id,
        );
    };
    let Some(claims) = gw.provider.verifier.verify(&token) else {
        return gw.reject_oauth(
            &GatewayError::oauth(OAuthCode::InvalidToken, "access token does not verify"),
            correlation_id,
        );
    };
    let client_id = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if clients::find(gw, client_id).is_none() {
        return gw.reject_oauth(
            &GatewayError::oauth(OAuthCode::InvalidToken, "audience is no configured client"),
            correlation_id,
        );
    }
    let id = claims
        .get("gws")
        .and_then(Value::as_str)
        .and_then(|r| gw.provider.codes.open_session(r));
    let session = match id {
        Some(id) => match gw.store.session(&id).await {
            Ok(found) => found,
            Err(e) => {
                return gw.reject_oauth(
                    &GatewayError::oauth(OAuthCode::TemporarilyUnavailable, Chain(&e).to_string()),
                    correlation_id,
                )
            }
        },
        None => None,
    };
    let Some(session) = session else {
        return gw.reject_oauth(
            &GatewayError::oauth(OAuthCode::InvalidToken, "the gateway session has ended"),
            correlation_id,
        );
    };
    let info = userinfo_claims(&session, &gw.config.mapping);
    gw.metrics.provider_event("userinfo");
    let wants_jwt = req
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/jwt"));
    if !wants_jwt {
        return Reply::json(StatusCode::OK, &Value::Object(info));
    }
    let mut signed = info;
    signed.insert("iss".into(), gw.minter.issuer().into());
    signed.insert("aud".into(), client_id.into());
    match gw.minter.sign(&signed) {
        Ok(jwt) => Reply {
            status: StatusCode::OK,
            headers: vec![
                ("content-type".into(), "application/jwt".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: jwt.into(),
        },
        Err(e) => gw.reject_oauth(
            &GatewayError::oauth(OAuthCode::ServerError, Chain(&e).to_string()),
            correlation_id,
        ),
    }
}

/// The access token from the header, the query or the form body.
fn access_token(req: &RequestHeader, body: Option<&[u8]>) -> Option<String> {
    if let Some(value) = req.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
    }
    let from = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    };
    from(req.uri.query().unwrap_or("").as_bytes()).or_else(|| body.and_then(from))
}

/// The claims a portal gets: what e-Signet gave the gateway, verified at
/// login (the merge of ID token and userinfo, `MappedIdentity::verified`,
/// locale suffixes and all), with `sub` the mapped `user_id` as in the
/// gateway's tokens. The provider record's `token_map`, `date_format` and
/// validate-response mapping then read exactly what they read from e-Signet.
///
/// A session stored before the verified claims were kept, or made while no
/// portal client was configured (it keeps only the picture of them), has the
/// mapped ones: each is then given back under its source name too (`phone`
/// from `phone_number:phone`), so a record mapping e-Signet's names still
/// finds it.
pub fn userinfo_claims(session: &Session, mapping: &MappingSettings) -> Map<String, Value> {
    let mut verified = session.identity.verified_claims();
    let mut claims = if verified.keys().all(|name| name == "picture") {
        let mut mapped = reverse_mapped(session, mapping);
        mapped.append(&mut verified);
        mapped
    } else {
        verified
    };
    // Token bookkeeping of e-Signet's ID token is not a user claim: never
    // hand e-Signet's iss/aud/nonce to a portal.
    claims.retain(|k, _| !TOKEN_MECHANICS.contains(&k.as_str()));
    if let Some(Value::String(date)) = claims.get_mut("birthdate") {
        *date = esignet_date(date);
    }
    claims.insert("sub".into(), Value::from(&*session.identity.user_id));
    claims
}

/// The mapped claims, each also under its source name.
fn reverse_mapped(session: &Session, mapping: &MappingSettings) -> Map<String, Value> {
    let mut claims = session.identity.claims.to_map();
    for (from, to) in mapping.userinfo_map.iter().chain(&mapping.token_map) {
        if from == "sub" || claims.contains_key(from) {
            continue;
        }
        if let Some(value) = claims.get(to).cloned() {
            claims.insert(from.clone(), value);
        }
    }
    claims
}

/// A birthdate the way e-Signet (MOSIP) sends it, `YYYY/MM/DD`: the form
/// the provider record's default `date_format` (`%Y/%m/%d`) parses. The
/// session may hold it normalised to ISO `YYYY-MM-DD`.
fn esignet_date(date: &str) -> String {
    let b = date.as_bytes();
    let iso = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if iso {
        date.replace('-', "/")
    } else {
        date.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default token map and one userinfo mapping.
    fn mapping() -> MappingSettings {
        MappingSettings {
            token_map: vec![("sub".into(), "user_id".into())],
            userinfo_map: vec![("phone_number".into(), "phone".into())],
            registrant_id_type: "MOSIP PSUT".into(),
            default_group: "portal".into(),
            login_attribute: "email".into(),
            birthdate_format: Default::default(),
        }
    }

    #[test]
    fn tokens_come_from_the_header_the_query_or_the_body() {
        let mut req =
            RequestHeader::build("GET", b"/_gateway/oauth/userinfo?access_token=q", None).unwrap();
        assert_eq!(access_token(&req, None).as_deref(), Some("q"));
        req.insert_header("authorization", "Bearer h").unwrap();
        assert_eq!(access_token(&req, None).as_deref(), Some("h"));
        let post = RequestHeader::build("POST", b"/_gateway/oauth/userinfo", None).unwrap();
        assert_eq!(
            access_token(&post, Some(b"access_token=b")).as_deref(),
            Some("b")
        );
        assert_eq!(access_token(&post, None), None);
    }

    #[test]
    fn claims_come_back_under_esignet_names() {
        let session = crate::session::sample_session("mosip:idp:acr:generated-code", 1);
        let mapping = mapping();
        let mut with_phone = session.clone();
        let mut map = with_phone.identity.claims.to_map();
        map.insert("phone".into(), "+212600000000".into());
        map.insert("nonce".into(), "esignet-nonce".into());
        map.insert("aud".into(), "gateway-client".into());
        with_phone.identity.claims = crate::mapping::Claims::from_map(map);
        let claims = userinfo_claims(&with_phone, &mapping);
        assert_eq!(claims["phone_number"], "+212600000000");
        assert_eq!(claims["phone"], "+212600000000");
        assert_eq!(claims["sub"], &*session.identity.user_id);
        assert!(claims.get("nonce").is_none() && claims.get("aud").is_none());
    }

    #[test]
    fn verified_claims_are_given_as_esignet_sent_them() {
        let mut session = crate::session::sample_session("mosip:idp:acr:generated-code", 1);
        let verified = serde_json::json!({
            "sub": "PSUT-1", "name#en": "Siddharth K Mansour", "phone_number": "+91 9876543210",
            "birthdate": "1987/11/25", "individual_id": "8267411571", "nonce": "n",
        });
        session
            .identity
            .set_verified(verified.as_object().unwrap().clone());
        let mapping = mapping();
        let claims = userinfo_claims(&session, &mapping);
        assert_eq!(claims["name#en"], "Siddharth K Mansour");
        assert_eq!(claims["individual_id"], "8267411571");
        assert_eq!(claims["birthdate"], "1987/11/25");
        assert_eq!(claims["sub"], &*session.identity.user_id);
        assert!(claims.get("nonce").is_none());
        assert!(
            claims.get("phone").is_none(),
            "no mapped keys beside e-Signet's"
        );
    }

    #[test]
    fn a_session_that_kept_only_the_picture_answers_with_the_mapped_claims() {
        let mut session = crate::session::sample_session("mosip:idp:acr:generated-code", 1);
        let picture = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAA=";
        session.identity.set_verified(
            serde_json::json!({ "picture": picture })
                .as_object()
                .unwrap()
                .clone(),
        );
        let claims = userinfo_claims(&session, &mapping());
        assert_eq!(claims["picture"], picture);
        assert_eq!(claims["email"], "a@b.c");
        assert_eq!(claims["gender"], "Female");
        assert_eq!(claims["sub"], "psut-1");
    }

    #[test]
    fn birthdates_come_back_as_esignet_sends_them() {
        assert_eq!(esignet_date("1987-11-25"), "1987/11/25");
        assert_eq!(esignet_date("1987/11/25"), "1987/11/25");
        assert_eq!(esignet_date("25-11-1987"), "25-11-1987");
    }
}
