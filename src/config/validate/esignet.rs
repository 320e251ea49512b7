//! `esignet:` checks: client identity, provider endpoints, authorize parameters.

use std::time::Duration;

use url::Url;

use super::{item_path, secrets, Checker};
use crate::config::model::{EndpointOverrides, EsignetSettings, ProviderEndpoints};
use crate::config::path::YamlPath;
use crate::config::raw::{RawEsignet, Words};

/// `prompt` values e-Signet accepts (exactly one at a time).
const PROMPTS: &[&str] = &["none", "login", "consent", "select_account"];
/// `display` values e-Signet accepts.
const DISPLAYS: &[&str] = &["page", "popup", "touch", "wap"];
/// Largest accepted clock skew.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(600);
/// Client-assertion lifetime bounds: long enough for a slow token call,
/// short enough that a leaked assertion is soon useless.
const ASSERTION_LIFETIME: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(600));

/// Checks `esignet:`.
pub(super) fn check(cx: &mut Checker<'_>, raw: &RawEsignet) -> Option<EsignetSettings> {
    let path = YamlPath::root().key("esignet");
    let client_id_path = path.key("client_id");
    let client_id = cx
        .required(&client_id_path, raw.client_id.as_ref())
        .and_then(|id| cx.word(&client_id_path, id));
    let issuers = match &raw.issuer {
        Some(issuer) => cx.list(&path.key("issuer"), &issuer.items, issuer.listed),
        None => Vec::new(),
    };
    let endpoints = endpoints(cx, &path, raw, &issuers);
    let assertion_aud = cx.opt_word(&path.key("assertion_aud"), raw.assertion_aud.as_ref());
    check_token_url(cx, &path, raw);
    let ca_bundle = match raw.ca_file.as_deref() {
        None => Some(None),
        Some(file) => ca_bundle(cx, &path.key("ca_file"), file).map(Some),
    };
    let key_path = path.key("private_key");
    let private_key = cx
        .required(&key_path, raw.private_key.as_ref())
        .and_then(|source| secrets::rsa_key(cx, &key_path, source));
    let private_key_kid = cx.opt_word(&path.key("private_key_kid"), raw.private_key_kid.as_ref());
    let acr_values = cx.words(&path.key("acr_values"), &raw.acr_values);
    let user_claims = cx.words(&path.key("user_claims"), &raw.user_claims);
    let essential_claims = essential_claims(cx, &path, &raw.essential_claims, &user_claims);
    let scope = scope(cx, &path.key("scope"), &raw.scope);
    let claims_locales = locales(cx, &path.key("claims_locales"), &raw.claims_locales);
    let ui_locales = locales(cx, &path.key("ui_locales"), &raw.ui_locales);
    let prompt = prompt(cx, &path.key("prompt"), raw.prompt.as_deref());
    let display = match raw.display.as_deref() {
        None => Some(None),
        Some(display) => cx
            .one_of(&path.key("display"), display.trim(), DISPLAYS)
            .map(Some),
    };
    let clock_skew = cx.duration_in(
        &path.key("clock_skew"),
        raw.clock_skew,
        Duration::ZERO,
        MAX_CLOCK_SKEW,
    );
    let (min, max) = ASSERTION_LIFETIME;
    let assertion_lifetime = cx.duration_in(
        &path.key("assertion_lifetime"),
        raw.assertion_lifetime,
        min,
        max,
    );
    let jwks_cache_ttl = cx.positive(&path.key("jwks_cache_ttl"), raw.jwks_cache_ttl);
    let http_timeout = cx.positive(&path.key("http_timeout"), raw.http_timeout);
    let login_timeout = cx.positive(&path.key("login_timeout"), raw.login_timeout);
    Some(EsignetSettings {
        client_id: client_id?,
        endpoints: endpoints?,
        issuers,
        assertion_aud: assertion_aud?,
        ca_bundle: ca_bundle?,
        private_key: private_key?,
        private_key_kid: private_key_kid?,
        acr_values,
        user_claims,
        essential_claims,
        scope,
        claims_locales,
        ui_locales,
        prompt: prompt?,
        display: display?,
        insecure_allow_unsigned_userinfo: raw.insecure_allow_unsigned_userinfo,
        clock_skew: clock_skew?,
        assertion_lifetime: assertion_lifetime?,
        jwks_cache_ttl: jwks_cache_ttl?,
        jwks_min_refresh_interval: raw.jwks_min_refresh_interval,
        http_timeout: http_timeout?,
        login_timeout: login_timeout?,
    })
}

/// The explicit endpoint URLs: outer `None` when written but invalid, inner
/// `None` when not written.
struct ExplicitUrls {
    authorize: Option<Option<Url>>,
    token: Option<Option<Url>>,
    userinfo: Option<Option<Url>>,
    jwks: Option<Option<Url>>,
    end_session: Option<Option<Url>>,
}

/// Discovery (with overrides) when `discovery_url` is set, else the explicit set.
fn endpoints(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawEsignet,
    issuers: &[String],
) -> Option<ProviderEndpoints> {
    let urls = ExplicitUrls {
        authorize: cx.opt_http_url(&path.key("authorize_url"), raw.authorize_url.as_ref()),
        token: cx.opt_http_url(&path.key("token_url"), raw.token_url.as_ref()),
        userinfo: cx.opt_http_url(&path.key("userinfo_url"), raw.userinfo_url.as_ref()),
        jwks: cx.opt_http_url(&path.key("jwks_url"), raw.jwks_url.as_ref()),
        end_session: cx.opt_http_url(&path.key("end_session_url"), raw.end_session_url.as_ref()),
    };
    match &raw.discovery_url {
        Some(url) => discovery(cx, path, url, raw, urls),
        None => explicit(cx, path, raw, issuers, urls),
    }
}

fn discovery(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    url: &str,
    raw: &RawEsignet,
    urls: ExplicitUrls,
) -> Option<ProviderEndpoints> {
    let url = cx.http_url(&path.key("discovery_url"), url);
    if raw.end_session_url.is_some() {
        cx.error(
            &path.key("end_session_url"),
            "only used without discovery_url (with discovery, the provider's document decides; \
             e-Signet publishes no end_session_endpoint)",
        );
    }
    Some(ProviderEndpoints::Discovery {
        url: url?,
        overrides: EndpointOverrides {
            authorize: urls.authorize?,
            token: urls.token?,
            userinfo: urls.userinfo?,
            jwks: urls.jwks?,
        },
    })
}

fn explicit(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawEsignet,
    issuers: &[String],
    urls: ExplicitUrls,
) -> Option<ProviderEndpoints> {
    let no_issuer = raw.issuer.as_ref().is_none_or(|i| i.items.is_empty());
    let missing: Vec<&str> = [
        ("authorize_url", raw.authorize_url.is_none()),
        ("token_url", raw.token_url.is_none()),
        ("userinfo_url", raw.userinfo_url.is_none()),
        ("jwks_url", raw.jwks_url.is_none()),
        ("issuer", no_issuer),
    ]
    .into_iter()
    .filter_map(|(key, absent)| absent.then_some(key))
    .collect();
    if !missing.is_empty() {
        cx.error(
            path,
            format!(
                "set discovery_url, or all of authorize_url, token_url, userinfo_url, jwks_url \
                 and issuer; missing: {}",
                missing.join(", ")
            ),
        );
        return None;
    }
    Some(ProviderEndpoints::Explicit {
        authorize: urls.authorize??,
        token: urls.token??,
        userinfo: urls.userinfo??,
        jwks: urls.jwks??,
        end_session: urls.end_session?,
        issuer: issuers.first()?.clone(),
    })
}

/// `token_url` traps (issue 13 items 4 and 5):
///
/// * e-Signet's v1 `/oauth/token` drops `code_verifier` in every tag
///   (`OAuthController.buildTokenRequest`, v1.2.0–v1.8.0) and the gateway
///   always sends PKCE, so every login would fail (on 1.4.1 as HTTP 500).
/// * Without discovery, the client assertion's `aud` defaults to
///   `token_url`; e-Signet compares it with its own public token endpoint,
///   so a `token_url` on another origin than `authorize_url` (an internal
///   host) needs `assertion_aud`. With discovery the published endpoint is
///   the `aud`, whatever `token_url` says.
fn check_token_url(cx: &mut Checker<'_>, path: &YamlPath, raw: &RawEsignet) {
    let Some(token) = raw.token_url.as_deref().and_then(|t| Url::parse(t).ok()) else {
        return;
    };
    if crate::config::is_v1_token_endpoint(&token) {
        cx.error(
            &path.key("token_url"),
            "e-Signet's v1 /oauth/token drops PKCE's code_verifier (every tag), and the gateway \
             always uses PKCE: use the v2 endpoint, …/oauth/v2/token",
        );
    }
    let authorize = raw
        .authorize_url
        .as_deref()
        .and_then(|a| Url::parse(a).ok());
    let explicit = raw.discovery_url.is_none();
    if explicit && raw.assertion_aud.is_none() {
        if let Some(authorize) = authorize {
            if authorize.origin() != token.origin() {
                cx.error(
                    &path.key("assertion_aud"),
                    "needed: token_url is on another origin than authorize_url, and e-Signet \
                     checks the client assertion's aud against its own public token endpoint \
                     (set it to that URL, e.g. https://<esignet-host>/v1/esignet/oauth/v2/token)",
                );
            }
        }
    }
}

/// `ca_file`: a readable PEM bundle with at least one certificate (path
/// relative to the config file); its bytes, for the provider's HTTP client.
fn ca_bundle(cx: &mut Checker<'_>, path: &YamlPath, file: &str) -> Option<Vec<u8>> {
    let resolved = cx.base_dir.join(file);
    let bytes = match std::fs::read(&resolved) {
        Ok(bytes) => bytes,
        Err(e) => {
            cx.error(path, format!("cannot read {}: {e}", resolved.display()));
            return None;
        }
    };
    match reqwest::Certificate::from_pem_bundle(&bytes) {
        Ok(certs) if !certs.is_empty() => Some(bytes),
        _ => {
            cx.error(
                path,
                format!("{} holds no PEM certificate", resolved.display()),
            );
            None
        }
    }
}

/// Essential claims must also be requested.
fn essential_claims(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &Words,
    user_claims: &[String],
) -> Vec<String> {
    let essential_path = path.key("essential_claims");
    let essential = cx.words(&essential_path, raw);
    for (index, claim) in raw.items.iter().enumerate() {
        if essential.contains(claim) && !user_claims.contains(claim) {
            cx.error(
                &item_path(&essential_path, raw.listed, index),
                format!(
                    "{claim:?} is not in esignet.user_claims; essential claims must be requested"
                ),
            );
        }
    }
    essential
}

/// `scope` must contain `openid`: e-Signet refuses user claims without it.
fn scope(cx: &mut Checker<'_>, path: &YamlPath, raw: &Words) -> Vec<String> {
    let scope = cx.words(path, raw);
    if !raw.items.iter().any(|s| s == "openid") {
        cx.error(
            path,
            "must contain \"openid\" (e-Signet requires it to release user claims)",
        );
    }
    scope
}

/// Locale lists: language tags such as `en`, `eng` or `fr-FR`.
fn locales(cx: &mut Checker<'_>, path: &YamlPath, raw: &Words) -> Vec<String> {
    let locales = cx.words(path, raw);
    for (index, locale) in raw.items.iter().enumerate() {
        let tag_like = locale.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if locales.contains(locale) && !tag_like {
            cx.error(
                &item_path(path, raw.listed, index),
                format!("{locale:?} is not a language tag such as \"en\" or \"fr-FR\""),
            );
        }
    }
    locales
}

/// `prompt`: one value only (e-Signet's validator rejects a list).
fn prompt(cx: &mut Checker<'_>, path: &YamlPath, raw: Option<&str>) -> Option<Option<String>> {
    let Some(prompt) = raw else {
        return Some(None);
    };
    if prompt.split_whitespace().count() > 1 {
        cx.error(
            path,
            format!("e-Signet accepts exactly one prompt value (none, login, consent or select_account), got {prompt:?}"),
        );
        return None;
    }
    cx.one_of(path, prompt.trim(), PROMPTS).map(Some)
}
