//! Responses the gateway writes itself: redirects, error pages and JSON.
//!
//! Built as plain [`Reply`] values so the domain code stays free of pingora;
//! `proxy` writes them to the downstream. Browsers get a small HTML page and
//! API clients JSON, both carrying the request's correlation id.

use std::borrow::Cow;

use bytes::Bytes;
use http::StatusCode;

use crate::edge::error::GatewayError;
use crate::shared::pages::{self, Lang, PageValues, Pages};

/// Whether a request comes from a top-level browser navigation or from code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A top-level navigation: may be redirected to the login page.
    Browser,
    /// XHR/fetch, a CORS preflight, or a non-HTML client: gets 401 JSON.
    Api,
}

impl ClientKind {
    /// Classifies a request from its method and headers.
    ///
    /// Runs on every request that needs a login decision. Only a GET or HEAD
    /// that accepts HTML and does not look like script-driven traffic
    /// (`X-Requested-With`, `Sec-Fetch-Mode` other than `navigate`,
    /// `Sec-Fetch-Dest` other than `document`) is a browser navigation.
    pub fn of(method: &http::Method, headers: &http::HeaderMap) -> ClientKind {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let navigation_method = method == http::Method::GET || method == http::Method::HEAD;
        let accepts_html = header("accept").is_some_and(|a| a.contains("text/html"));
        let xhr = header("x-requested-with").is_some();
        let fetch_mode_ok = header("sec-fetch-mode").is_none_or(|m| m == "navigate");
        let fetch_dest_ok =
            header("sec-fetch-dest").is_none_or(|d| d == "document" || d == "iframe");
        if navigation_method && accepts_html && !xhr && fetch_mode_ok && fetch_dest_ok {
            ClientKind::Browser
        } else {
            ClientKind::Api
        }
    }
}

/// A complete response written by the gateway itself.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Headers, in order; names are lower-case.
    pub headers: Vec<(Cow<'static, str>, String)>,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A bare reply with a status and no body.
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: vec![("cache-control".into(), "no-store".into())],
            body: Bytes::new(),
        }
    }

    /// A `302 Found` to `location`, never cached.
    pub fn redirect(location: &str) -> Reply {
        Reply::empty(StatusCode::FOUND).with_header("location", location)
    }

    /// A JSON reply.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: Bytes::from(value.to_string()),
        }
    }

    /// A page of the gateway's own: never cached, loads and runs nothing,
    /// cannot be framed.
    pub fn html(status: StatusCode, lang: Lang, html: String) -> Reply {
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "text/html; charset=utf-8".into()),
                ("content-language".into(), lang.tag().into()),
                ("cache-control".into(), "no-store".into()),
                ("content-security-policy".into(), PAGE_CSP.into()),
            ],
            body: Bytes::from(html),
        }
    }

    /// Adds a header (several `set-cookie` headers may be added).
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The reply for `error`, as HTML for browsers and JSON for API clients.
    ///
    /// `login_url` is offered to API clients that hit a protected route, so a
    /// single-page app can navigate there itself, and is the page's button.
    pub fn error(
        error: &GatewayError,
        who: Requester,
        pages: &Pages,
        correlation_id: &str,
        login_url: Option<&str>,
    ) -> Reply {
        let status = error.status();
        let code = error.public_code();
        let text = pages::text(code, who.lang);
        let mut reply = match who.kind {
            ClientKind::Api => {
                let mut body = serde_json::json!({
                    "error": code,
                    "message": text.message,
                    "correlation_id": correlation_id,
                });
                if let Some(url) = login_url {
                    body["login_url"] = url.into();
                }
                Reply::json(status, &body)
            }
            ClientKind::Browser => {
                let (sign_in, back, _) = pages::labels(who.lang);
                let (action_url, action_label) = match login_url {
                    Some(url) => (url, sign_in),
                    None => ("/", back),
                };
                let html = pages.render(&PageValues {
                    lang: who.lang,
                    text,
                    action_url,
                    action_label,
                    correlation_id,
                });
                Reply::html(status, who.lang, html)
            }
        };
        reply = reply.with_header("x-correlation-id", correlation_id);
        match error {
            GatewayError::StepUpRequired { acr_values } => {
                // RFC 9470: the step-up challenge names the acrs that would pass.
                reply = reply.with_header(
                    "www-authenticate",
                    format!(
                        "{WWW_AUTHENTICATE}, error=\"insufficient_user_authentication\", acr_values=\"{}\"",
                        acr_values.join(" ").replace(['"', '\\'], "")
                    ),
                );
            }
            _ if status == StatusCode::TOO_MANY_REQUESTS => {
                reply = reply.with_header("retry-after", "60");
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                reply = reply.with_header("www-authenticate", WWW_AUTHENTICATE);
            }
            _ => {}
        }
        reply
    }
}

impl Reply {
    /// The reply for `error` at an endpoint that answers OAuth-style JSON
    /// (RFC 6749 §5.2): `{"error": code, "correlation_id": ...}`, never
    /// cached; a 401 carries an RFC 6750 Bearer challenge. The provider's
    /// token and userinfo endpoints and the back-channel logout endpoint
    /// answer this way. Details stay in the log.
    pub fn oauth_error(error: &GatewayError, correlation_id: &str) -> Reply {
        let code = error.oauth_code();
        let status = error.status();
        let body = serde_json::json!({ "error": code, "correlation_id": correlation_id });
        let mut reply = Reply::json(status, &body)
            .with_header("pragma", "no-cache")
            .with_header("x-correlation-id", correlation_id);
        if status == StatusCode::UNAUTHORIZED {
            reply = reply.with_header("www-authenticate", format!("Bearer error=\"{code}\""));
        }
        reply
    }
}

/// Who is asking: browser or API client, and in which language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requester {
    /// Browser navigation or API call.
    pub kind: ClientKind,
    /// Preferred bundled language.
    pub lang: Lang,
}

impl Requester {
    /// Classifies a request from its method and headers.
    pub fn of(method: &http::Method, headers: &http::HeaderMap) -> Requester {
        Requester {
            kind: ClientKind::of(method, headers),
            lang: lang_of(headers),
        }
    }

    /// An API client (e.g. an ingress asking on a browser's behalf).
    pub fn api(headers: &http::HeaderMap) -> Requester {
        Requester {
            kind: ClientKind::Api,
            lang: lang_of(headers),
        }
    }
}

fn lang_of(headers: &http::HeaderMap) -> Lang {
    let header = headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::from_accept_language(header)
}

/// Challenge sent with every 401, so API clients know a login is needed.
const WWW_AUTHENTICATE: &str = "Bearer realm=\"g2p-gateway\"";

/// The gateway's pages load nothing and run nothing.
/// Forms may only post back to the gateway itself (the logout button).
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn navigation_is_browser_and_fetch_is_api() {
        let nav = headers(&[("accept", "text/html,application/xhtml+xml")]);
        assert_eq!(ClientKind::of(&Method::GET, &nav), ClientKind::Browser);
        let nav2 = headers(&[
            ("accept", "text/html"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document"),
        ]);
        assert_eq!(ClientKind::of(&Method::GET, &nav2), ClientKind::Browser);
        for h in [
            headers(&[("accept", "application/json")]),
            headers(&[("accept", "*/*")]),
            headers(&[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest"),
            ]),
            headers(&[("accept", "text/html"), ("sec-fetch-mode", "cors")]),
            headers(&[("accept", "text/html"), ("sec-fetch-dest", "empty")]),
        ] {
            assert_eq!(ClientKind::of(&Method::GET, &h), ClientKind::Api, "{h:?}");
        }
        assert_eq!(ClientKind::of(&Method::POST, &nav), ClientKind::Api);
        assert_eq!(ClientKind::of(&Method::OPTIONS, &nav), ClientKind::Api);
    }

    #[test]
    fn error_page_escapes_and_carries_correlation_id() {
        let browser = Requester {
            kind: ClientKind::Browser,
            lang: Lang::En,
        };
        let reply = Reply::error(
            &GatewayError::LoginRequired,
            browser,
            &Pages::default(),
            "<id>",
            Some("/_gateway/login?return_to=\"x\""),
        );
        let body = String::from_utf8(reply.body.to_vec()).unwrap();
        assert!(body.contains("&lt;id&gt;"));
        assert!(body.contains("&quot;x&quot;"));
        assert!(!body.contains("<id>"));
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.headers.iter().any(|(k, _)| k == "www-authenticate"));
    }

    #[test]
    fn api_error_is_json_with_code_and_login_url() {
        let api = Requester {
            kind: ClientKind::Api,
            lang: Lang::Fr,
        };
        let reply = Reply::error(
            &GatewayError::LoginRequired,
            api,
            &Pages::default(),
            "abc",
            Some("/login"),
        );
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(v["error"], "login_required");
        assert_eq!(v["correlation_id"], "abc");
        assert_eq!(v["login_url"], "/login");
    }

    #[test]
    fn oauth_errors_are_rfc6749_json_with_a_bearer_challenge_on_401() {
        use crate::edge::error::OAuthCode;
        let token = GatewayError::oauth(OAuthCode::InvalidToken, "secret detail");
        let reply = Reply::oauth_error(&token, "cid");
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(v["error"], "invalid_token");
        assert_eq!(v["correlation_id"], "cid");
        assert!(!String::from_utf8_lossy(&reply.body).contains("secret"));
        assert!(reply
            .headers
            .iter()
            .any(|(k, v)| k == "www-authenticate" && v == "Bearer error=\"invalid_token\""));
        assert!(reply
            .headers
            .iter()
            .any(|(k, v)| k == "cache-control" && v == "no-store"));

        let grant = Reply::oauth_error(&GatewayError::oauth(OAuthCode::InvalidGrant, ""), "c");
        assert_eq!(grant.status, StatusCode::BAD_REQUEST);
        assert!(!grant.headers.iter().any(|(k, _)| k == "www-authenticate"));

        // Other errors (back-channel logout) keep the generic OAuth codes.
        let store = GatewayError::from(crate::session::StoreError::Failed {
            op: "session",
            cause: std::sync::Arc::new(std::io::Error::other("down")),
        });
        let reply = Reply::oauth_error(&store, "c");
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(v["error"], "temporarily_unavailable");
    }
}
