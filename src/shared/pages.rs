//! The pages the gateway shows people: language choice, bundled English and
//! French texts, and the operator's own template.
//!
//! Runs whenever the gateway answers a browser itself (errors, denials). The
//! language comes from `Accept-Language`; the texts are keyed by the error's
//! public code, so a page never contains details of the failure.

/// A language with bundled texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// French.
    Fr,
}

impl Lang {
    /// The best bundled language for an `Accept-Language` header (q-values
    /// honoured; English when nothing matches).
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "fr" => Lang::Fr,
                "en" => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// Texts of one page: title, explanation and the action button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageText {
    /// The heading.
    pub title: &'static str,
    /// What happened and what to do.
    pub message: &'static str,
}

/// The text for a public error code in `lang`.
pub fn text(code: &str, lang: Lang) -> PageText {
    let (title, message) = match lang {
        Lang::En => english(code),
        Lang::Fr => french(code),
    };
    PageText { title, message }
}

/// The labels around the message, in `lang`: (sign in, back, reference).
pub fn labels(lang: Lang) -> (&'static str, &'static str, &'static str) {
    match lang {
        Lang::En => ("Sign in", "Back to the start page", "Reference"),
        Lang::Fr => ("Se connecter", "Retour à l'accueil", "Référence"),
    }
}

fn english(code: &str) -> (&'static str, &'static str) {
    match code {
        "bad_request" => ("Bad request", "The request could not be understood. Please go back and try again."),
        "not_found" => ("Page not found", "There is nothing at this address."),
        "login_required" => ("Sign-in required", "Please sign in to continue."),
        "insufficient_user_authentication" | "insufficient_authentication" => (
            "Stronger sign-in needed",
            "This page needs a stronger way of signing in than the one used. Please sign in again with it.",
        ),
        "forbidden" => ("Access denied", "Your account is not allowed to open this page."),
        "login_expired" => (
            "Sign-in expired",
            "This sign-in link has expired or was already used. Please start again.",
        ),
        "login_browser_mismatch" => (
            "Sign-in not completed",
            "The sign-in was started in another browser or window. Please start again here.",
        ),
        "login_cancelled" => (
            "Sign-in cancelled",
            "The sign-in was cancelled or refused by the identity service.",
        ),
        "login_failed" => ("Sign-in failed", "Your sign-in could not be verified. Please try again later."),
        "identity_provider_unavailable" => (
            "Sign-in unavailable",
            "The identity service cannot be reached right now. Please try again later.",
        ),
        "session_store_unavailable" => (
            "Sign-in unavailable",
            "Sessions cannot be checked right now. Please try again in a minute.",
        ),
        "overloaded" => ("Busy", "Too many people are signing in right now. Please try again in a minute."),
        "request_too_large" => ("Request too large", "The request is larger than this service accepts."),
        "rate_limited" => ("Too many attempts", "Too many sign-in attempts came from your network. Please wait a minute and try again."),
        "upstream_unavailable" | "upstream_timeout" => (
            "Service unavailable",
            "The portal is not answering right now. Please try again later.",
        ),
        "portal_setup_failed" => (
            "Account not ready",
            "You are signed in, but the portal could not prepare your account. Please sign in again in a few minutes.",
        ),
        _ => ("Something went wrong", "An unexpected error happened. Please try again later."),
    }
}

fn french(code: &str) -> (&'static str, &'static str) {
    match code {
        "bad_request" => ("Requête invalide", "La requête n'a pas pu être comprise. Revenez en arrière et réessayez."),
        "not_found" => ("Page introuvable", "Il n'y a rien à cette adresse."),
        "login_required" => ("Connexion requise", "Veuillez vous connecter pour continuer."),
        "insufficient_user_authentication" | "insufficient_authentication" => (
            "Connexion renforcée requise",
            "Cette page demande un moyen de connexion plus fort que celui utilisé. Veuillez vous reconnecter avec celui-ci.",
        ),
        "forbidden" => ("Accès refusé", "Votre compte n'est pas autorisé à ouvrir cette page."),
        "login_expired" => (
            "Connexion expirée",
            "Ce lien de connexion a expiré ou a déjà servi. Veuillez recommencer.",
        ),
        "login_browser_mismatch" => (
            "Connexion non terminée",
            "La connexion a commencé dans un autre navigateur ou une autre fenêtre. Veuillez recommencer ici.",
        ),
        "login_cancelled" => (
            "Connexion annulée",
            "La connexion a été annulée ou refusée par le service d'identité.",
        ),
        "login_failed" => ("Échec de la connexion", "Votre connexion n'a pas pu être vérifiée. Réessayez plus tard."),
        "identity_provider_unavailable" => (
            "Connexion indisponible",
            "Le service d'identité est injoignable pour le moment. Réessayez plus tard.",
        ),
        "session_store_unavailable" => (
            "Connexion indisponible",
            "Les sessions ne peuvent pas être vérifiées pour le moment. Réessayez dans une minute.",
        ),
        "overloaded" => ("Service occupé", "Trop de personnes se connectent en ce moment. Réessayez dans une minute."),
        "request_too_large" => ("Requête trop volumineuse", "La requête dépasse la taille acceptée par ce service."),
        "rate_limited" => ("Trop de tentatives", "Trop de tentatives de connexion viennent de votre réseau. Patientez une minute et réessayez."),
        "upstream_unavailable" | "upstream_timeout" => (
            "Service indisponible",
            "Le portail ne répond pas pour le moment. Réessayez plus tard.",
        ),
        "portal_setup_failed" => (
            "Compte pas encore prêt",
            "Votre identité est vérifiée, mais le portail n'a pas pu préparer votre compte. Reconnectez-vous dans quelques minutes.",
        ),
        _ => ("Une erreur est survenue", "Une erreur inattendue s'est produite. Réessayez plus tard."),
    }
}

/// The sign-out confirmation (`GET <prefix>/logout`): one button that POSTs
/// to `action`, so only the gateway's own page can end a session.
pub fn logout_page(lang: Lang, action: &str, correlation_id: &str) -> String {
    let (title, message, button) = match lang {
        Lang::En => ("Sign out", "Do you want to sign out?", "Sign out"),
        Lang::Fr => (
            "Déconnexion",
            "Voulez-vous vous déconnecter ?",
            "Se déconnecter",
        ),
    };
    let (_, _, reference) = labels(lang);
    let page = DEFAULT_TEMPLATE.replace(
        r#"<a class="button" href="{{action_url}}">{{action_label}}</a>"#,
        r#"<form method="post" action="{{action_url}}"><button class="button" type="submit">{{action_label}}</button></form>"#,
    );
    fill(
        &page,
        &[
            ("lang", lang.tag()),
            ("title", title),
            ("message", message),
            ("action_url", action),
            ("action_label", button),
            ("reference_label", reference),
            ("correlation_id", correlation_id),
        ],
    )
}

/// Replaces each `{{name}}` by its HTML-escaped value.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(
            &format!("{{{{{name}}}}}"),
            &html_escape::encode_quoted_attribute(value),
        );
    }
    out
}

/// The page template: the bundled one, or the operator's.
///
/// An operator template is HTML with the placeholders `{{lang}}`, `{{title}}`,
/// `{{message}}`, `{{action_url}}`, `{{action_label}}`, `{{reference_label}}`
/// and `{{correlation_id}}`; every value is HTML-escaped before insertion.
#[derive(Debug, Clone)]
pub struct Pages {
    template: String,
}

impl Default for Pages {
    fn default() -> Self {
        Pages {
            template: DEFAULT_TEMPLATE.to_string(),
        }
    }
}

/// What goes into one page.
pub struct PageValues<'a> {
    /// Language.
    pub lang: Lang,
    /// Texts.
    pub text: PageText,
    /// Where the button goes.
    pub action_url: &'a str,
    /// What the button says.
    pub action_label: &'a str,
    /// The correlation id.
    pub correlation_id: &'a str,
}

impl Pages {
    /// Uses the operator's template.
    pub fn with_template(template: String) -> Pages {
        Pages { template }
    }

    /// Renders a page.
    pub fn render(&self, v: &PageValues<'_>) -> String {
        let (_, _, reference) = labels(v.lang);
        fill(
            &self.template,
            &[
                ("lang", v.lang.tag()),
                ("title", v.text.title),
                ("message", v.text.message),
                ("action_url", v.action_url),
                ("action_label", v.action_label),
                ("reference_label", reference),
                ("correlation_id", v.correlation_id),
            ],
        )
    }
}

/// The bundled page: small, no scripts, no external resources.
pub const DEFAULT_TEMPLATE: &str = r#"<!doctype html><html lang="{{lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{title}}</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2a35;margin:0}
main{max-width:32rem;margin:12vh auto;background:#fff;padding:2rem 2.5rem;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.5rem;margin-top:0}.button{display:inline-block;background:#0b6e4f;color:#fff;padding:.6rem 1.2rem;border-radius:6px;text-decoration:none}
.ref{color:#66727d;font-size:.85rem}</style></head><body><main>
<h1>{{title}}</h1><p>{{message}}</p><p><a class="button" href="{{action_url}}">{{action_label}}</a></p>
<p class="ref">{{reference_label}}: <code>{{correlation_id}}</code></p></main></body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_bundled_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("fr-FR,fr;q=0.9,en;q=0.8")),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.5, fr;q=0.9")),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language(Some("de, ar")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr;q=0, en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some(";;;,,q=abc")), Lang::En);
    }

    #[test]
    fn every_code_has_both_languages_and_unknown_codes_fall_back() {
        for code in [
            "bad_request",
            "not_found",
            "login_required",
            "insufficient_user_authentication",
            "forbidden",
            "login_expired",
            "login_browser_mismatch",
            "login_cancelled",
            "login_failed",
            "identity_provider_unavailable",
            "session_store_unavailable",
            "overloaded",
            "upstream_unavailable",
            "portal_setup_failed",
            "internal_error",
        ] {
            assert_ne!(text(code, Lang::En), text(code, Lang::Fr), "{code}");
        }
    }

    #[test]
    fn templates_escape_every_value() {
        let pages = Pages::with_template("<p>{{message}}</p><i>{{correlation_id}}</i>".into());
        let html = pages.render(&PageValues {
            lang: Lang::En,
            text: PageText {
                title: "t",
                message: "<b>",
            },
            action_url: "/",
            action_label: "x",
            correlation_id: "\"><script>",
        });
        assert_eq!(html, "<p>&lt;b&gt;</p><i>&quot;&gt;&lt;script&gt;</i>");
    }
}
