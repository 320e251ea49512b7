//! `provider:` checks: the portals that log in through the gateway.

use std::collections::HashSet;
use std::time::Duration;

use super::{secrets, Checker};
use crate::config::model::{ProviderClient, ProviderSettings, Provision};
use crate::config::path::YamlPath;
use crate::config::raw::{RawProvider, RawProviderClient, RawProvision};

/// Code lifetime bounds: long enough for a portal's server-side exchange,
/// short enough that a leaked code is useless soon (RFC 6749 says ≤ 10 min).
const CODE_LIFETIME: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(600));
/// Token lifetime bounds.
const TOKEN_LIFETIME: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(3600));
/// Shortest accepted client secret.
const MIN_SECRET_CHARS: usize = 16;

/// Checks `provider:`; `upstreams` are the names written under `upstreams:`.
pub(super) fn check(
    cx: &mut Checker<'_>,
    raw: &RawProvider,
    upstreams: &[String],
) -> Option<ProviderSettings> {
    let path = YamlPath::root().key("provider");
    let (min, max) = CODE_LIFETIME;
    let code_lifetime = cx.duration_in(&path.key("code_lifetime"), raw.code_lifetime, min, max);
    let (min, max) = TOKEN_LIFETIME;
    let token_lifetime = cx.duration_in(&path.key("token_lifetime"), raw.token_lifetime, min, max);
    let mut clients = Some(Vec::new());
    for (client_id, client) in &raw.clients.0 {
        let checked = client_entry(
            cx,
            &path.key("clients").key(client_id),
            client_id,
            client,
            upstreams,
        );
        match (checked, clients.as_mut()) {
            (Some(c), Some(list)) => list.push(c),
            _ => clients = None,
        }
    }
    Some(ProviderSettings {
        clients: clients?,
        code_lifetime: code_lifetime?,
        token_lifetime: token_lifetime?,
    })
}

fn client_entry(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    client_id: &str,
    raw: &RawProviderClient,
    upstreams: &[String],
) -> Option<ProviderClient> {
    let id = cx.word(path, client_id);
    let secret_path = path.key("client_secret");
    let secret = cx
        .required(&secret_path, raw.client_secret.as_ref())
        .and_then(|source| secrets::text(cx, &secret_path, source))
        .and_then(|(secret, origin)| {
            if secret.chars().count() < MIN_SECRET_CHARS {
                cx.error(
                    &secret_path,
                    format!("{origin}: at least {MIN_SECRET_CHARS} characters"),
                );
                return None;
            }
            Some(secret)
        });
    let uris_path = path.key("redirect_uris");
    let mut uris_ok = true;
    if raw.redirect_uris.is_empty() {
        cx.error(&uris_path, "at least one redirect URI is required");
        uris_ok = false;
    }
    let mut seen = HashSet::new();
    for (index, uri) in raw.redirect_uris.iter().enumerate() {
        let item = uris_path.index(index);
        match cx.http_url(&item, uri) {
            Some(url) if url.fragment().is_some() => {
                cx.error(&item, "must not have a fragment");
                uris_ok = false;
            }
            Some(_) if !seen.insert(uri.as_str()) => {
                cx.error(&item, format!("duplicate value {uri:?}"));
                uris_ok = false;
            }
            Some(_) => {}
            None => uris_ok = false,
        }
    }
    let provision = match &raw.provision {
        None => Some(None),
        Some(p) => provision(cx, &path.key("provision"), p, upstreams).map(Some),
    };
    Some(ProviderClient {
        client_id: id?,
        client_secret: crate::shared::secret::Secret::new(secret?),
        redirect_uris: uris_ok.then(|| raw.redirect_uris.clone())?,
        provision: provision?,
    })
}

fn provision(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawProvision,
    upstreams: &[String],
) -> Option<Provision> {
    let upstream_path = path.key("upstream");
    let upstream = cx
        .required(&upstream_path, raw.upstream.as_ref())
        .and_then(|name| {
            if upstreams.contains(name) {
                Some(name.clone())
            } else {
                cx.error(&upstream_path, format!("no upstream named {name:?}"));
                None
            }
        });
    let callback_path = path.key("callback_path");
    let callback = cx
        .required(&callback_path, raw.callback_path.as_ref())
        .and_then(|p| {
            if p.starts_with('/') && !p.contains(['?', '#', ' ']) {
                Some(p.clone())
            } else {
                cx.error(
                    &callback_path,
                    format!("must be a path such as /v1/selfservice/oauth2/callback, got {p:?}"),
                );
                None
            }
        });
    let provider_id = cx
        .required(&path.key("provider_id"), raw.provider_id.as_ref())
        .copied();
    let verifier_path = path.key("code_verifier");
    let code_verifier = match &raw.code_verifier {
        None => Some(None),
        Some(source) => secrets::text(cx, &verifier_path, source).and_then(|(v, origin)| {
            // RFC 7636 §4.1: 43 to 128 unreserved characters.
            let unreserved = v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if (43..=128).contains(&v.len()) && unreserved {
                Some(Some(crate::shared::secret::Secret::new(v)))
            } else {
                cx.error(
                    &verifier_path,
                    format!(
                        "{origin}: a PKCE verifier is 43 to 128 characters of A-Z a-z 0-9 - . _ ~"
                    ),
                );
                None
            }
        }),
    };
    Some(Provision {
        upstream: upstream?,
        callback_path: callback?,
        provider_id: provider_id?,
        code_verifier: code_verifier?,
    })
}
