//! Responses the gateway writes itself: redirects, error pages and JSON.
//!
//! Built as plain [`Reply`] values so the domain code stays free of pingora;
//! `proxy` writes them to the downstream. Browsers get a small HTML page and
//! API clients JSON, both carrying the request's correlation id.

use bytes::Bytes;
use http::StatusCode;

use crate::error::GatewayError;

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
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A bare reply with a status and no body.
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: vec![("cache-control", "no-store".into())],
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
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
            ],
            body: Bytes::from(value.to_string()),
        }
    }

    /// Adds a header (several `set-cookie` headers may be added).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The reply for `error`, as HTML for browsers and JSON for API clients.
    ///
    /// `login_url` is offered to API clients that hit a protected route, so a
    /// single-page app can navigate there itself.
    pub fn error(
        error: &GatewayError,
        kind: ClientKind,
        correlation_id: &str,
        login_url: Option<&str>,
    ) -> Reply {
        let status = error.status();
        let (title, text) = error.public_message();
        let mut reply = match kind {
            ClientKind::Api => {
                let mut body = serde_json::json!({
                    "error": error.public_code(),
                    "message": text,
                    "correlation_id": correlation_id,
                });
                if let Some(url) = login_url {
                    body["login_url"] = url.into();
                }
                Reply::json(status, &body)
            }
            ClientKind::Browser => Reply {
                status,
                headers: vec![
                    ("content-type", "text/html; charset=utf-8".into()),
                    ("cache-control", "no-store".into()),
                    ("content-security-policy", PAGE_CSP.into()),
                ],
                body: Bytes::from(error_page(title, text, correlation_id, login_url)),
            },
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
            _ if status == StatusCode::UNAUTHORIZED => {
                reply = reply.with_header("www-authenticate", WWW_AUTHENTICATE);
            }
            _ => {}
        }
        reply
    }
}

/// Challenge sent with every 401, so API clients know a login is needed.
const WWW_AUTHENTICATE: &str = "Bearer realm=\"g2p-gateway\"";

/// The gateway's pages load nothing and run nothing.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// Renders the error page. Every dynamic value is escaped.
fn error_page(title: &str, text: &str, correlation_id: &str, login_url: Option<&str>) -> String {
    let action = match login_url {
        Some(url) => format!(
            "<p><a class=\"button\" href=\"{}\">Sign in</a></p>",
            escape_html(url)
        ),
        None => "<p><a class=\"button\" href=\"/\">Back to the start page</a></p>".to_string(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>\
<h1>{title}</h1><p>{text}</p>{action}\
<p class=\"ref\">Reference: <code>{id}</code></p></main></body></html>",
        title = escape_html(title),
        text = escape_html(text),
        id = escape_html(correlation_id),
    )
}

const STYLE: &str =
    "body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2a35;margin:0}\
main{max-width:32rem;margin:12vh auto;background:#fff;padding:2rem 2.5rem;border-radius:12px;\
box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.5rem;margin-top:0}\
.button{display:inline-block;background:#0b6e4f;color:#fff;padding:.6rem 1.2rem;border-radius:6px;\
text-decoration:none}.ref{color:#66727d;font-size:.85rem}";

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
        let reply = Reply::error(
            &GatewayError::LoginRequired,
            ClientKind::Browser,
            "<id>",
            Some("/_gateway/login?return_to=\"x\""),
        );
        let body = String::from_utf8(reply.body.to_vec()).unwrap();
        assert!(body.contains("&lt;id&gt;"));
        assert!(body.contains("&quot;x&quot;"));
        assert!(!body.contains("<id>"));
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.headers.iter().any(|(k, _)| *k == "www-authenticate"));
    }

    #[test]
    fn api_error_is_json_with_code_and_login_url() {
        let reply = Reply::error(
            &GatewayError::LoginRequired,
            ClientKind::Api,
            "abc",
            Some("/login"),
        );
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(v["error"], "login_required");
        assert_eq!(v["correlation_id"], "abc");
        assert_eq!(v["login_url"], "/login");
    }
}
