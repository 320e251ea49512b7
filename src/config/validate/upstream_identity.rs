//! `upstreams.<name>` identity keys: the form of the signed identity, the
//! weaker plain headers, and the portal's own session cookies.

use super::{is_token, Checker};
use crate::config::model::{IdentityForm, UpstreamIdentity};
use crate::config::path::YamlPath;
use crate::config::raw::{RawUpstream, DEFAULT_BEARER_PORTAL_COOKIES};

/// Checks the identity keys of one upstream (`path` is the upstream's).
pub(super) fn check(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawUpstream,
) -> Option<UpstreamIdentity> {
    let form = match raw.identity.as_deref() {
        None => Some(IdentityForm::Header),
        Some(word) => cx
            .one_of(&path.key("identity"), word, &["header", "bearer"])
            .map(|w| match w.as_str() {
                "bearer" => IdentityForm::Bearer,
                _ => IdentityForm::Header,
            }),
    };
    let cookies_path = path.key("portal_cookies");
    let portal_cookies = match &raw.portal_cookies {
        Some(names) => {
            let mut ok = true;
            for (index, name) in names.iter().enumerate() {
                if !is_token(name) || name.contains('=') {
                    cx.error(
                        &cookies_path.index(index),
                        format!("{name:?} is not a valid cookie name"),
                    );
                    ok = false;
                }
            }
            ok.then(|| names.clone())
        }
        None if form == Some(IdentityForm::Bearer) => Some(
            DEFAULT_BEARER_PORTAL_COOKIES
                .iter()
                .map(|c| c.to_string())
                .collect(),
        ),
        None => Some(Vec::new()),
    };
    Some(UpstreamIdentity {
        form: form?,
        plain_headers: raw.insecure_plain_identity_headers,
        portal_cookies: portal_cookies?,
    })
}
