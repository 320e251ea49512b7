//! The HTML the emulator shows a person: the login page (standing in for e-Signet's React
//! oidc-ui) and the error page for requests that cannot be redirected back. Plain inline CSS,
//! no scripts, and a form that is easy to drive from tests: the hidden input is exactly
//! `<input type="hidden" name="transaction_id" value="...">`.

use html_escape::encode_quoted_attribute as escape;

use super::config::{ACR_BIOMETRICS, ACR_GENERATED_CODE, ACR_STATIC_CODE};

const STYLE: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#eef2f7;\
color:#1d2733;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}\
.card{background:#fff;border-radius:12px;box-shadow:0 6px 24px rgba(20,40,80,.12);padding:32px;\
width:100%;max-width:420px}h1{font-size:1.4em;margin:0 0 4px}.sub{color:#5a6b7d;margin:0 0 20px}\
label{display:block;font-weight:600;margin:14px 0 6px}input[type=text],input[type=password]{\
width:100%;box-sizing:border-box;padding:10px 12px;border:1px solid #c3cfdc;border-radius:8px;\
font-size:1em}button{width:100%;padding:11px;border:0;border-radius:8px;font-size:1em;\
margin-top:12px;cursor:pointer;background:#1f6feb;color:#fff}button.alt{background:#2d9d78}\
button.secondary{background:#e4e9f0;color:#1d2733}.error{background:#fde8e8;color:#9b1c1c;\
border-radius:8px;padding:10px 12px;margin-bottom:12px}.claims{font-size:.9em;color:#3b4a5a}\
.hint{font-size:.85em;color:#5a6b7d;border-top:1px solid #e4e9f0;margin-top:20px;padding-top:12px}\
code{background:#eef2f7;padding:1px 4px;border-radius:4px}";

/// What the login page shows.
pub(crate) struct LoginPage<'a> {
    /// The authorize transaction the form completes.
    pub transaction_id: &'a str,
    /// The relying party asking.
    pub client_id: &'a str,
    /// The claims that will be shared.
    pub claims: &'a [String],
    /// The resolved ACRs: which login buttons to offer.
    pub acrs: &'a [String],
    /// Pre-filled individual id (after a failed attempt).
    pub individual_id: &'a str,
    /// A message from the previous attempt.
    pub error: Option<&'a str>,
    /// Demo identities `(individual_id, name)` offered as suggestions.
    pub suggestions: &'a [(String, String)],
    /// The OTP that works for identities without their own.
    pub otp_hint: &'a str,
}

/// Renders the login page.
pub(crate) fn login_page(page: &LoginPage<'_>) -> String {
    let offers = |acr: &str| page.acrs.iter().any(|a| a == acr);
    let mut body = String::new();
    body.push_str("<h1>Log in with e-Signet</h1>");
    body.push_str(&format!(
        "<p class=\"sub\"><strong>{}</strong> wants to verify who you are.</p>",
        escape(page.client_id)
    ));
    if let Some(error) = page.error {
        body.push_str(&format!(
            "<div class=\"error\" role=\"alert\">{}</div>",
            escape(error)
        ));
    }
    body.push_str("<form method=\"post\" action=\"/authorize\">");
    body.push_str(&format!(
        "<input type=\"hidden\" name=\"transaction_id\" value=\"{}\">",
        escape(page.transaction_id)
    ));
    body.push_str(&format!(
        "<label for=\"individual_id\">UIN / VID</label><input type=\"text\" id=\"individual_id\" \
         name=\"individual_id\" value=\"{}\" list=\"known-ids\" autocomplete=\"username\" \
         required>",
        escape(page.individual_id)
    ));
    body.push_str("<datalist id=\"known-ids\">");
    for (id, name) in page.suggestions {
        body.push_str(&format!(
            "<option value=\"{}\">{}</option>",
            escape(id),
            escape(name)
        ));
    }
    body.push_str("</datalist>");
    let secret = offers(ACR_GENERATED_CODE) || offers(ACR_STATIC_CODE);
    if secret {
        body.push_str(
            "<label for=\"otp\">OTP / PIN</label><input type=\"password\" id=\"otp\" name=\"otp\" \
             inputmode=\"numeric\" autocomplete=\"one-time-code\">",
        );
    }
    if offers(ACR_GENERATED_CODE) {
        body.push_str(
            "<button type=\"submit\" name=\"method\" value=\"otp\">Log in with OTP</button>",
        );
    }
    if offers(ACR_STATIC_CODE) {
        body.push_str(
            "<button type=\"submit\" name=\"method\" value=\"pin\">Log in with PIN</button>",
        );
    }
    if offers(ACR_BIOMETRICS) {
        body.push_str(
            "<button type=\"submit\" name=\"method\" value=\"biometrics\" class=\"alt\" \
             formnovalidate>Log in with biometrics</button>",
        );
    }
    if !secret && !offers(ACR_BIOMETRICS) {
        body.push_str(
            "<div class=\"error\">No login method of this client is supported here.</div>",
        );
    }
    body.push_str(
        "<button type=\"submit\" name=\"method\" value=\"cancel\" class=\"secondary\" \
         formnovalidate>Cancel</button></form>",
    );
    if !page.claims.is_empty() {
        let claims: Vec<String> = page.claims.iter().map(|c| escape(c).into_owned()).collect();
        body.push_str(&format!(
            "<p class=\"claims\">On success, these details are shared: {}.</p>",
            claims.join(", ")
        ));
    }
    let demo_ids: Vec<String> = page
        .suggestions
        .iter()
        .map(|(id, name)| format!("<code>{}</code> {}", escape(id), escape(name)))
        .collect();
    body.push_str(&format!(
        "<p class=\"hint\">e-Signet emulator: OTP/PIN <code>{}</code>; biometrics needs none. \
         Demo UINs: {}.</p>",
        escape(page.otp_hint),
        demo_ids.join(", ")
    ));
    document("e-Signet login", &body)
}

/// The page for errors e-Signet shows itself instead of redirecting (unknown client, redirect
/// URI not registered, unknown transaction).
pub(crate) fn error_page(code: &str, description: &str) -> String {
    let body = format!(
        "<h1>Something went wrong</h1><div class=\"error\" role=\"alert\"><strong>{}</strong>: {}</div>\
         <p class=\"sub\">The request cannot be returned to the application.</p>",
        escape(code),
        escape(description)
    );
    document("e-Signet error", &body)
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main class=\"card\">{body}</main>\
         </body></html>",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page<'a>(acrs: &'a [String], error: Option<&'a str>) -> LoginPage<'a> {
        LoginPage {
            transaction_id: "tx123",
            client_id: "<client>",
            claims: &[],
            acrs,
            individual_id: "",
            error,
            suggestions: &[],
            otp_hint: "111111",
        }
    }

    #[test]
    fn login_page_offers_only_resolved_methods() {
        let acrs = vec![ACR_BIOMETRICS.to_string()];
        let html = login_page(&page(&acrs, Some("Wrong <OTP>")));
        assert!(html.contains(r#"<input type="hidden" name="transaction_id" value="tx123">"#));
        assert!(html.contains("value=\"biometrics\""));
        assert!(!html.contains("value=\"otp\""));
        assert!(html.contains("value=\"cancel\""));
        assert!(html.contains("&lt;client&gt;"));
        assert!(html.contains("Wrong &lt;OTP&gt;"));
    }

    #[test]
    fn error_page_escapes() {
        let html = error_page("invalid_client_id", "<script>");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }
}
