//! The portals registered with the provider and their authentication.
//!
//! `client_secret_basic` (RFC 6749 §2.3.1: the id and secret are
//! form-urlencoded, then base64 in `Authorization: Basic`) and
//! `client_secret_post` (`client_id` and `client_secret` in the body). The
//! FastAPI portal sends the secret in the body for both methods; Odoo's
//! `client_secret_basic` sends the header. Secrets compare in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::AUTHORIZATION;
use pingora::http::RequestHeader;

use crate::config::ProviderClient;
use crate::edge::gateway::Gateway;
use crate::shared::secret::constant_time_eq;

/// The configured client with this id.
pub fn find<'a>(gw: &'a Gateway, client_id: &str) -> Option<&'a ProviderClient> {
    gw.config
        .provider
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
}

/// Why a client could not be authenticated (for the log; the client sees
/// `invalid_client`).
#[derive(Debug, PartialEq, Eq)]
pub enum ClientError {
    /// No credentials, or malformed ones.
    Missing,
    /// Two different client ids (header and body).
    Conflicting,
    /// No such client, or a wrong secret (not told apart).
    Unknown,
}

/// Authenticates the client of a token request from the `Authorization:
/// Basic` header or the form's `client_id` and `client_secret`.
pub fn authenticate<'a>(
    gw: &'a Gateway,
    req: &RequestHeader,
    form: &[(String, String)],
) -> Result<&'a ProviderClient, ClientError> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = basic_credentials(req)?;
    let (id, secret) = match (basic, field("client_id"), field("client_secret")) {
        (Some((id, _)), Some(body_id), _) if body_id != id => return Err(ClientError::Conflicting),
        (Some((id, secret)), _, _) => (id, secret),
        (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        _ => return Err(ClientError::Missing),
    };
    let client = find(gw, &id);
    // Compare even for an unknown id, so timing does not tell ids apart.
    let expected = client
        .map(|c| c.client_secret.expose().as_bytes())
        .unwrap_or(b"-");
    let matches = constant_time_eq(secret.as_bytes(), expected);
    match client {
        Some(client) if matches => Ok(client),
        _ => Err(ClientError::Unknown),
    }
}

/// The `Authorization: Basic` credentials, form-decoded, if present.
fn basic_credentials(req: &RequestHeader) -> Result<Option<(String, String)>, ClientError> {
    let Some(value) = req.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ClientError::Missing)?;
    let Some(encoded) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(ClientError::Missing);
    };
    let decoded = STANDARD.decode(encoded).map_err(|_| ClientError::Missing)?;
    let text = String::from_utf8(decoded).map_err(|_| ClientError::Missing)?;
    let (id, secret) = text.split_once(':').ok_or(ClientError::Missing)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>) -> RequestHeader {
        let mut req = RequestHeader::build("POST", b"/_gateway/oauth/token", None).unwrap();
        if let Some(value) = authorization {
            req.insert_header("authorization", value).unwrap();
        }
        req
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20portal:s%3Acret+x"));
        let got = basic_credentials(&request(Some(&header))).unwrap();
        assert_eq!(got, Some(("my portal".into(), "s:cret x".into())));
        assert_eq!(basic_credentials(&request(None)).unwrap(), None);
        for bad in ["Bearer abc", "Basic !!!", "Basic"] {
            assert_eq!(
                basic_credentials(&request(Some(bad))),
                Err(ClientError::Missing),
                "{bad}"
            );
        }
    }
}
