//! The echo: what the upstream received, as JSON for programs or as an HTML page for people
//! (chosen by `Accept: text/html`).

use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};

use super::identity::IdentityCheck;
use html_escape::encode_quoted_attribute as escape;

/// One received request, body read.
pub(crate) struct Received<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Received<'_> {
    /// All headers, names lower-cased (as `http` stores them), duplicates kept.
    pub(crate) fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    fn wants_html(&self) -> bool {
        self.headers
            .get_all(header::ACCEPT)
            .iter()
            .any(|v| String::from_utf8_lossy(v.as_bytes()).contains("text/html"))
    }
}

/// The JSON echo document.
pub(crate) fn echo_json(received: &Received<'_>, identity: &IdentityCheck) -> Value {
    let headers: Vec<Value> = received
        .header_pairs()
        .into_iter()
        .map(|(k, v)| json!([k, v]))
        .collect();
    json!({
        "method": received.method.as_str(),
        "path": received.uri.path(),
        "query": received.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(received.body),
        "body_len": received.body.len(),
        "identity": identity,
    })
}

/// HTML or JSON, per `Accept`.
pub(crate) fn respond(received: &Received<'_>, identity: &IdentityCheck) -> Response {
    if received.wants_html() {
        Html(page(received, identity)).into_response()
    } else {
        (StatusCode::OK, axum::Json(echo_json(received, identity))).into_response()
    }
}

fn page(received: &Received<'_>, identity: &IdentityCheck) -> String {
    let mut body = String::new();
    match (&identity.claims, &identity.error) {
        (Some(claims), _) if identity.verified => {
            body.push_str(&format!(
                "<h1>Welcome, {}</h1>",
                escape(&display_name(claims))
            ));
            body.push_str("<p class=\"ok\">Verified identity from the gateway:</p><table>");
            if let Some(map) = claims.as_object() {
                for (name, value) in map {
                    body.push_str(&format!(
                        "<tr><th>{}</th><td>{}</td></tr>",
                        escape(name),
                        claim_cell(value)
                    ));
                }
            }
            body.push_str("</table>");
        }
        (_, Some(error)) => {
            body.push_str("<h1>Demo portal</h1>");
            body.push_str(&format!(
                "<p class=\"bad\">INVALID identity: {}</p>",
                escape(error)
            ));
        }
        _ => {
            body.push_str("<h1>Demo portal</h1><p class=\"bad\">no identity header</p>");
        }
    }
    body.push_str(&format!(
        "<h2>Request</h2><p><code>{} {}</code></p><table>",
        escape(received.method.as_str()),
        escape(&received.uri.to_string())
    ));
    for (name, value) in received.header_pairs() {
        body.push_str(&format!(
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            escape(&name),
            escape(&value)
        ));
    }
    body.push_str("</table>");
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo upstream</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#1d2733}}\
         table{{border-collapse:collapse;width:100%}}th,td{{border-bottom:1px solid #dde3ea;padding:6px;\
         text-align:left;vertical-align:top;word-break:break-all}}th{{width:30%}}.ok{{color:#1a7f37}}\
         .bad{{color:#b42318;font-weight:600}}</style></head><body>{body}</body></html>"
    )
}

/// The person's name: `name`, else any `name#<lang>`, else `sub`.
fn display_name(claims: &Value) -> String {
    let map = claims.as_object();
    let by_key = |key: &str| {
        map.and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    by_key("name")
        .or_else(|| {
            map.and_then(|m| {
                m.iter()
                    .find(|(k, v)| k.starts_with("name#") && v.is_string())
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            })
        })
        .or_else(|| by_key("sub"))
        .unwrap_or_else(|| "unknown person".to_string())
}

fn claim_cell(value: &Value) -> String {
    match value {
        Value::String(s) if s.starts_with("data:image/") && !s.contains('"') => {
            format!(
                "<img src=\"{}\" alt=\"picture\" width=\"64\" height=\"64\">",
                escape(s)
            )
        }
        Value::String(s) => escape(s).into_owned(),
        other => format!("<code>{}</code>", escape(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Received<'a> {
        Received {
            method,
            uri,
            headers,
            body: b"hi",
        }
    }

    #[test]
    fn html_page_escapes_and_welcomes() {
        let (method, uri) = (Method::GET, Uri::from_static("/x?a=%3Cb%3E&c=1"));
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, "text/html".parse().expect("header"));
        let identity = IdentityCheck {
            verified: true,
            error: None,
            claims: Some(json!({"name": "<Aïcha>", "sub": "s", "note": "\"'&"})),
        };
        let html = page(&received(&method, &uri, &headers), &identity);
        assert!(html.contains("Welcome, &lt;Aïcha&gt;"));
        assert!(!html.contains("<Aïcha>"));
        assert!(html.contains("&quot;&#x27;&amp;"), "quotes escaped too");
        let invalid = IdentityCheck {
            error: Some("bad <sig>".into()),
            ..Default::default()
        };
        assert!(page(&received(&method, &uri, &headers), &invalid)
            .contains("INVALID identity: bad &lt;sig&gt;"));
        assert!(page(
            &received(&method, &uri, &headers),
            &IdentityCheck::default()
        )
        .contains("no identity header"));
    }

    #[test]
    fn json_echo_shape() {
        let (method, uri) = (Method::POST, Uri::from_static("/p?q=1"));
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().expect("header"));
        headers.append("x-a", "2".parse().expect("header"));
        let doc = echo_json(
            &received(&method, &uri, &headers),
            &IdentityCheck::default(),
        );
        assert_eq!(doc["method"], "POST");
        assert_eq!(doc["path"], "/p");
        assert_eq!(doc["query"], "q=1");
        assert_eq!(doc["headers"], json!([["x-a", "1"], ["x-a", "2"]]));
        assert_eq!(doc["body"], "hi");
        assert_eq!(doc["body_len"], 2);
        assert_eq!(
            doc["identity"],
            json!({"verified": false, "error": null, "claims": null})
        );
    }
}
