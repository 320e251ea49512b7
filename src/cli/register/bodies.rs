//! The request bodies of the client-registration APIs (reference §6).
//!
//! Pure functions of a [`Registration`] and the request time, so `--dry-run`
//! prints exactly what would be sent and tests can compare bodies.

use serde_json::{json, Value};

/// Which registration API to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// e-Signet `POST /v1/esignet/client-mgmt/oidc-client` (V1).
    OidcClient,
    /// e-Signet `POST /v1/esignet/client-mgmt/oauth-client` (V2, with `clientNameLangMap`);
    /// the call OpenG2P's documentation uses.
    OauthClient,
    /// MOSIP PMS `POST /v1/partnermanager/oidc/client`; PMS generates the client id and
    /// takes claims and ACRs from the partner's policy.
    Pms,
}

impl Target {
    /// The API path; `update` names the client being updated (PUT).
    pub fn path(self, update: Option<&str>) -> String {
        let base = match self {
            Target::OidcClient => "/v1/esignet/client-mgmt/oidc-client",
            Target::OauthClient => "/v1/esignet/client-mgmt/oauth-client",
            Target::Pms => "/v1/partnermanager/oidc/client",
        };
        match update {
            Some(id) => format!("{base}/{}", encode_segment(id)),
            None => base.to_string(),
        }
    }
}

/// Characters escaped in a path segment: everything but RFC 3986 unreserved ones.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode_segment(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Everything the registration APIs ask for.
#[derive(Debug, Clone)]
pub struct Registration {
    /// `clientId` (e-Signet); ignored by PMS on create.
    pub client_id: String,
    /// `clientName` / PMS `name`.
    pub client_name: String,
    /// ISO-639-3 language of `clientNameLangMap` (oauth-client).
    pub lang: String,
    /// The public JWK.
    pub public_jwk: Value,
    /// `relyingPartyId` (e-Signet). The PSUT is derived from it: reuse the partner of an
    /// existing OpenG2P setup.
    pub relying_party_id: String,
    /// PMS `authPartnerId`.
    pub partner_id: String,
    /// PMS `policyId`.
    pub policy_id: String,
    /// `logoUri`.
    pub logo_uri: String,
    /// `redirectUris`.
    pub redirect_uris: Vec<String>,
    /// `userClaims`.
    pub user_claims: Vec<String>,
    /// `authContextRefs`.
    pub acrs: Vec<String>,
}

/// The body of a create (POST).
pub fn create_body(target: Target, r: &Registration, request_time: &str) -> Value {
    match target {
        Target::OidcClient | Target::OauthClient => {
            let mut request = json!({
                "clientId": r.client_id,
                "clientName": r.client_name,
                "publicKey": r.public_jwk,
                "relyingPartyId": r.relying_party_id,
                "userClaims": r.user_claims,
                "authContextRefs": r.acrs,
                "logoUri": r.logo_uri,
                "redirectUris": r.redirect_uris,
                "grantTypes": ["authorization_code"],
                "clientAuthMethods": ["private_key_jwt"],
            });
            if target == Target::OauthClient {
                request["clientNameLangMap"] = json!({ r.lang.clone(): r.client_name });
            }
            json!({ "requestTime": request_time, "request": request })
        }
        Target::Pms => pms_envelope(
            "mosip.pms.oidc.client.create",
            request_time,
            json!({
                "name": r.client_name,
                "policyId": r.policy_id,
                "publicKey": r.public_jwk,
                "authPartnerId": r.partner_id,
                "logoUri": r.logo_uri,
                "redirectUris": r.redirect_uris,
                "grantTypes": ["authorization_code"],
                "clientAuthMethods": ["private_key_jwt"],
            }),
        ),
    }
}

/// The body of an update (PUT). The public key is not part of it: neither
/// e-Signet nor PMS lets an update change the key.
pub fn update_body(target: Target, r: &Registration, request_time: &str) -> Value {
    match target {
        Target::OidcClient | Target::OauthClient => {
            let mut request = json!({
                "clientName": r.client_name,
                "logoUri": r.logo_uri,
                "redirectUris": r.redirect_uris,
                "userClaims": r.user_claims,
                "authContextRefs": r.acrs,
                "status": "ACTIVE",
                "grantTypes": ["authorization_code"],
                "clientAuthMethods": ["private_key_jwt"],
            });
            if target == Target::OauthClient {
                request["clientNameLangMap"] = json!({ r.lang.clone(): r.client_name });
            }
            json!({ "requestTime": request_time, "request": request })
        }
        Target::Pms => pms_envelope(
            "mosip.pms.oidc.client.update",
            request_time,
            json!({
                "clientName": r.client_name,
                "logoUri": r.logo_uri,
                "redirectUris": r.redirect_uris,
                "status": "ACTIVE",
                "grantTypes": ["authorization_code"],
                "clientAuthMethods": ["private_key_jwt"],
            }),
        ),
    }
}

fn pms_envelope(id: &str, request_time: &str, request: Value) -> Value {
    json!({
        "id": id,
        "version": "1.0",
        "requesttime": request_time,
        "metadata": {},
        "request": request,
    })
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` (UTC, milliseconds), the MOSIP request-time format.
pub fn request_time_now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> Registration {
        Registration {
            client_id: "portal".into(),
            client_name: "Portal".into(),
            lang: "eng".into(),
            public_jwk: json!({"kty": "RSA", "n": "abc", "e": "AQAB"}),
            relying_party_id: "openg2p-auth-partner".into(),
            partner_id: "openg2p-auth-partner".into(),
            policy_id: "policy-1".into(),
            logo_uri: "https://portal.example.org/logo.png".into(),
            redirect_uris: vec!["https://portal.example.org/_gateway/callback".into()],
            user_claims: vec!["name".into()],
            acrs: vec!["mosip:idp:acr:generated-code".into()],
        }
    }

    #[test]
    fn request_time_has_milliseconds_and_z() {
        let t = request_time_now();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    }

    #[test]
    fn oauth_client_adds_the_language_map() {
        let r = registration();
        let oidc = create_body(Target::OidcClient, &r, "T");
        assert!(oidc["request"].get("clientNameLangMap").is_none());
        let oauth = create_body(Target::OauthClient, &r, "T");
        assert_eq!(
            oauth["request"]["clientNameLangMap"],
            json!({"eng": "Portal"})
        );
        assert_eq!(oauth["requestTime"], "T");
    }

    #[test]
    fn pms_uses_its_envelope_and_no_client_id() {
        let body = create_body(Target::Pms, &registration(), "T");
        assert_eq!(body["requesttime"], "T");
        assert_eq!(body["request"]["authPartnerId"], "openg2p-auth-partner");
        assert!(body["request"].get("clientId").is_none());
    }

    #[test]
    fn updates_never_carry_the_key() {
        for target in [Target::OidcClient, Target::OauthClient, Target::Pms] {
            let body = update_body(target, &registration(), "T");
            assert!(body["request"].get("publicKey").is_none());
            assert_eq!(body["request"]["status"], "ACTIVE");
        }
        assert_eq!(
            Target::OauthClient.path(Some("a b")),
            "/v1/esignet/client-mgmt/oauth-client/a%20b"
        );
    }
}
