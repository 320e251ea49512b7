//! Redirect URIs: Ant-style matching against the registered ones (at `/authorize`), and the
//! URLs of the redirect back to the relying party, success or error, in each version's way
//! (reference §2.4).

use url::Url;

use super::config::EsignetVersion;

/// Whether `requested` matches one of the `registered` redirect URIs, the way
/// `IdentityProviderUtil.validateRedirectURI` does with Spring's `AntPathMatcher`: the whole
/// URI is split on `/`; `**` matches any number of segments, `*` any run of characters within
/// a segment, `?` one character. The requested URI must also be a valid absolute URL.
pub(crate) fn redirect_uri_allowed(registered: &[String], requested: &str) -> bool {
    Url::parse(requested).is_ok() && registered.iter().any(|p| ant_match(p, requested))
}

/// Spring `AntPathMatcher.match(pattern, path)` with `/` as separator (empty segments are
/// ignored, as Spring's tokenizer does).
pub(crate) fn ant_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_segments(&pattern, &path)
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                glob(first.as_bytes(), segment.as_bytes()) && match_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// The success redirect.
///
/// * 1.8 (`URLSearchParams`): `state`, `code`, `iss`, properly encoded and appended to any
///   existing query.
/// * 1.4.1 (string concatenation in `Consent.js`): `?state=<RAW>&code=<code>`, the state not
///   encoded at all (`&` instead of `?` when the URI already has a query). A browser would
///   still percent-encode spaces, controls and non-ASCII characters when following the
///   redirect; those are encoded here too (they cannot go in a `Location` header), everything
///   else (`&`, `#`, `"`, `{`, `+`, `%`) stays raw.
pub(crate) fn success_url(
    version: EsignetVersion,
    redirect_uri: &str,
    state: Option<&str>,
    code: &str,
    issuer: &str,
) -> String {
    match version {
        EsignetVersion::V1_8 => {
            let mut params = Vec::new();
            if let Some(state) = state {
                params.push(("state", state));
            }
            params.push(("code", code));
            params.push(("iss", issuer));
            with_params(redirect_uri, &params)
        }
        EsignetVersion::V1_4_1 => {
            // With no state, the concatenation prints JavaScript's `null`.
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            format!(
                "{redirect_uri}{sep}state={}&code={code}",
                browser_escape(state.unwrap_or("null"))
            )
        }
    }
}

/// The error redirect of `redirectOnError.js`: `?error_description=…&state=…&error=…`; in
/// 1.4.1 a missing state is sent as `state=null`.
pub(crate) fn error_url(
    version: EsignetVersion,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> String {
    let mut params = vec![("error_description", description)];
    match (state, version) {
        (Some(state), _) => params.push(("state", state)),
        (None, EsignetVersion::V1_4_1) => params.push(("state", "null")),
        (None, EsignetVersion::V1_8) => {}
    }
    params.push(("error", error));
    with_params(redirect_uri, &params)
}

fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        // Only validated redirect URIs get here, which parse; keep a sane fallback anyway.
        Err(_) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            format!("{redirect_uri}{sep}{query}")
        }
    }
}

/// Percent-encodes what a browser would when navigating: controls, space, DEL, non-ASCII.
fn browser_escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte <= b' ' || byte >= 0x7f {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(byte as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ant_patterns() {
        let exact = "http://localhost:8080/_gateway/callback";
        assert!(ant_match(exact, exact));
        assert!(!ant_match(
            exact,
            "http://localhost:8080/_gateway/callback2"
        ));
        assert!(!ant_match(exact, "http://localhost:8081/_gateway/callback"));
        assert!(ant_match("http://localhost:8080/**", exact));
        assert!(ant_match(
            "http://localhost:8080/_gateway/**",
            "http://localhost:8080/_gateway"
        ));
        assert!(ant_match(
            "http://127.0.0.1:*/**",
            "http://127.0.0.1:41234/a/b/callback"
        ));
        assert!(!ant_match(
            "http://127.0.0.1:*/**",
            "http://127.0.0.2:41234/cb"
        ));
        assert!(ant_match(
            "http://localhost:8080/cb*",
            "http://localhost:8080/cb?x=1"
        ));
        assert!(ant_match("http://h/c?", "http://h/cb"));
        assert!(!ant_match("http://h/c?", "http://h/c"));
    }

    #[test]
    fn requested_uri_must_be_a_url() {
        let registered = vec!["**".to_string()];
        assert!(redirect_uri_allowed(&registered, "https://rp.example/cb"));
        assert!(!redirect_uri_allowed(&registered, "not a url"));
    }

    #[test]
    fn v18_success_is_encoded_with_iss() {
        let url = success_url(
            EsignetVersion::V1_8,
            "http://rp/cb?x=1",
            Some("a b&c"),
            "CODE",
            "http://idp",
        );
        assert_eq!(
            url,
            "http://rp/cb?x=1&state=a+b%26c&code=CODE&iss=http%3A%2F%2Fidp"
        );
    }

    #[test]
    fn v141_success_appends_raw_state() {
        let url = success_url(
            EsignetVersion::V1_4_1,
            "http://rp/cb",
            Some(r#"{"p":1,"r":"/a&b"}"#),
            "CODE",
            "http://idp",
        );
        assert_eq!(url, r#"http://rp/cb?state={"p":1,"r":"/a&b"}&code=CODE"#);
        let url = success_url(
            EsignetVersion::V1_4_1,
            "http://rp/cb?x=1",
            Some("s é"),
            "C",
            "i",
        );
        assert_eq!(url, "http://rp/cb?x=1&state=s%20%C3%A9&code=C");
    }

    #[test]
    fn error_redirect_order() {
        let url = error_url(
            EsignetVersion::V1_8,
            "http://rp/cb",
            Some("st"),
            "access_denied",
            "User cancelled",
        );
        assert_eq!(
            url,
            "http://rp/cb?error_description=User+cancelled&state=st&error=access_denied"
        );
    }

    #[test]
    fn v1_4_1_prints_a_missing_state_as_null() {
        // 1.4.1 `Consent.js`: "?state=" + state + "&code=" with an absent state.
        let url = success_url(EsignetVersion::V1_4_1, "http://rp/cb", None, "C", "i");
        assert_eq!(url, "http://rp/cb?state=null&code=C");
        let url = error_url(
            EsignetVersion::V1_4_1,
            "http://rp/cb",
            None,
            "consent_request_rejected",
            "x",
        );
        assert_eq!(
            url,
            "http://rp/cb?error_description=x&state=null&error=consent_request_rejected"
        );
        let url = success_url(EsignetVersion::V1_8, "http://rp/cb", None, "C", "i");
        assert_eq!(url, "http://rp/cb?code=C&iss=i");
    }
}
