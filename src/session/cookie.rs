//! The gateway's cookies: the sealed session id and the login binding.
//!
//! The session cookie carries only the session id, sealed (encrypted and
//! authenticated) with the `cookie` crate's private jar under the configured
//! keys: the first key seals, every key opens, so keys rotate without logging
//! anyone out. A tampered or truncated cookie simply does not open. The login
//! binding cookie holds a random value whose hash is stored with each pending
//! login, tying the callback to the browser that started it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cookie::{Cookie, CookieJar, Key, SameSite};
use sha2::{Digest, Sha256};

use super::SessionId;
use super::SetupError;
use crate::config::SessionSettings;
use crate::shared::secret::constant_time_eq;

/// Encodes and decodes the gateway's cookies.
pub struct CookieCodec {
    session_name: String,
    binding_name: String,
    keys: Vec<Key>,
    /// The keys' AES-256-GCM ciphers, expanded once: opening the session
    /// cookie runs on every request to a protected route.
    openers: Vec<Aes256Gcm>,
    /// Tells this codec's keys apart from any other codec's in a
    /// [`CookieMemo`]: a reload that drops a key must stop its cookies
    /// opening, remembered or not.
    generation: u64,
    secure: bool,
    session_max_age: i64,
    binding_max_age: i64,
}

impl CookieCodec {
    /// Builds the codec; fails if a key is shorter than 64 bytes.
    pub fn new(
        settings: &SessionSettings,
        login_timeout_secs: u64,
    ) -> Result<CookieCodec, SetupError> {
        let keys = settings
            .cookie_keys
            .iter()
            .map(|k| Key::try_from(k.expose().as_slice()).map_err(SetupError::CookieKey))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SetupError::NoCookieKey);
        }
        Ok(CookieCodec {
            binding_name: format!("{}-login", settings.cookie_name),
            session_name: settings.cookie_name.clone(),
            openers: keys
                .iter()
                .map(|k| {
                    // A cookie::Key's encryption half is always 32 bytes.
                    Aes256Gcm::new_from_slice(k.encryption())
                        .map_err(|_| SetupError::RecordKeyLength)
                })
                .collect::<Result<Vec<_>, _>>()?,
            keys,
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            secure: !settings.insecure_cookie_without_secure,
            session_max_age: settings.absolute_timeout.as_secs() as i64,
            binding_max_age: login_timeout_secs as i64,
        })
    }

    /// The session cookie's name.
    pub fn session_name(&self) -> &str {
        &self.session_name
    }

    /// Opens the session cookie among the request's `Cookie` headers.
    pub fn session_id<'a>(
        &self,
        cookie_headers: impl Iterator<Item = &'a str>,
    ) -> Option<SessionId> {
        self.session_id_remembered(cookie_headers, None)
    }

    /// Opens the session cookie among the request's `Cookie` headers, first
    /// asking `memo` whether its connection opened the very same value
    /// under this codec's keys (then no decryption runs), and telling it
    /// what opened.
    ///
    /// Runs on every request to a protected route.
    pub fn session_id_remembered<'a>(
        &self,
        cookie_headers: impl Iterator<Item = &'a str>,
        memo: Option<&CookieMemo>,
    ) -> Option<SessionId> {
        for raw in find_cookies(cookie_headers, &self.session_name) {
            if let Some(id) = memo.and_then(|m| m.recall(self.generation, raw)) {
                return Some(id);
            }
            if let Some(id) = self.open_session_id(&self.session_name, raw) {
                if let Some(memo) = memo {
                    memo.remember(self.generation, raw, id);
                }
                return Some(id);
            }
        }
        None
    }

    /// `Set-Cookie` value for a new session.
    pub fn set_session(&self, id: &SessionId) -> String {
        self.seal(&self.session_name, id.as_str(), self.session_max_age)
    }

    /// `Set-Cookie` value that deletes the session cookie.
    pub fn clear_session(&self) -> String {
        self.attributes(Cookie::new(self.session_name.clone(), ""), 0)
    }

    /// The raw login-binding value, if the browser has one.
    pub fn binding<'a>(&self, cookie_headers: impl Iterator<Item = &'a str>) -> Option<String> {
        find_cookies(cookie_headers, &self.binding_name)
            .find(|v| v.len() == 43)
            .map(str::to_owned)
    }

    /// `Set-Cookie` value for a login-binding value.
    pub fn set_binding(&self, value: &str) -> String {
        self.attributes(
            Cookie::new(self.binding_name.clone(), value.to_string()),
            self.binding_max_age,
        )
    }

    /// `Set-Cookie` value that deletes the login-binding cookie.
    pub fn clear_binding(&self) -> String {
        self.attributes(Cookie::new(self.binding_name.clone(), ""), 0)
    }

    /// The request's `Cookie` header without the gateway's own cookies, so
    /// the session id never reaches the upstream. `None` when nothing is left.
    ///
    /// Runs on every forwarded request that has cookies.
    pub fn strip_own_cookies(&self, header: &str) -> Option<String> {
        let own = |name: &str| name == self.session_name || name == self.binding_name;
        let kept = without_cookies(header, own);
        (!kept.is_empty()).then_some(kept)
    }

    fn seal(&self, name: &str, value: &str, max_age: i64) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(&self.keys[0])
            .add(Cookie::new(name.to_string(), value.to_string()));
        let sealed = jar
            .get(name)
            .map(|c| c.value().to_string())
            .unwrap_or_default();
        self.attributes(Cookie::new(name.to_string(), sealed), max_age)
    }

    /// Opens a value sealed by the `cookie` crate's private jar (what
    /// [`CookieCodec::seal`] writes): base64 of `nonce(12) | ciphertext | tag`,
    /// AES-256-GCM under the key's encryption half, the cookie name as
    /// associated data. Done here with ciphers expanded once, instead of a
    /// jar per request (allocations and an AES key schedule per key).
    ///
    /// Runs on every request to a protected route, so it works in stack
    /// buffers: no allocation between the cookie text and the session id.
    fn open_session_id(&self, name: &str, raw: &str) -> Option<SessionId> {
        const NONCE_LEN: usize = 12;
        const TAG_LEN: usize = 16;
        let mut data = [0u8; MAX_SEALED_LEN];
        if raw.len() > MAX_SEALED_LEN {
            return None;
        }
        let len = STANDARD.decode_slice(raw, &mut data).ok()?;
        if len < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, rest) = data[..len].split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = Nonce::from_slice(nonce);
        let tag = Tag::from_slice(tag);
        self.openers.iter().find_map(|cipher| {
            let mut plain = [0u8; MAX_SEALED_LEN];
            let plain = &mut plain[..sealed.len()];
            plain.copy_from_slice(sealed);
            cipher
                .decrypt_in_place_detached(nonce, name.as_bytes(), plain, tag)
                .ok()?;
            SessionId::parse(std::str::from_utf8(plain).ok()?)
        })
    }

    fn attributes(&self, mut cookie: Cookie<'static>, max_age: i64) -> String {
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_max_age(cookie::time::Duration::seconds(max_age));
        cookie.to_string()
    }
}

/// Source of [`CookieCodec::generation`]: every codec built in this process
/// gets its own.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// The session cookie last opened on one client connection.
///
/// A browser sends the same cookie on every request of a kept-alive
/// connection; with this memo the connection's first request decrypts it
/// and the others compare it (in constant time, since a proxy in front may
/// carry several people's requests on one connection) with what opened.
/// It holds only what opened under a codec still serving
/// (`CookieCodec::generation`); a session ended since is still refused by
/// the store, which is asked on every request.
#[derive(Default)]
pub struct CookieMemo(Mutex<Option<Opened>>);

/// A sealed value that opened, and what it opened to.
struct Opened {
    generation: u64,
    sealed: [u8; MAX_SEALED_LEN],
    len: usize,
    id: SessionId,
}

impl CookieMemo {
    /// The id `raw` opened to before under codec `generation`, if it did.
    fn recall(&self, generation: u64, raw: &str) -> Option<SessionId> {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let opened = held.as_ref()?;
        (opened.generation == generation
            && constant_time_eq(&opened.sealed[..opened.len], raw.as_bytes()))
        .then_some(opened.id)
    }

    /// Notes that `raw` opened to `id` under codec `generation`.
    fn remember(&self, generation: u64, raw: &str, id: SessionId) {
        let text = raw.as_bytes();
        if text.len() > MAX_SEALED_LEN {
            return;
        }
        let mut sealed = [0u8; MAX_SEALED_LEN];
        sealed[..text.len()].copy_from_slice(text);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Opened {
            generation,
            sealed,
            len: text.len(),
            id,
        });
    }
}

impl std::fmt::Debug for CookieMemo {
    /// Never shows the sealed value: it is a bearer credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieMemo")
    }
}

/// Longest sealed value worth opening (its base64 text, and so a bound on
/// the decoded bytes): a session id seals to 96 characters.
const MAX_SEALED_LEN: usize = 128;

/// Hash of a binding value, as stored with the pending login.
pub fn binding_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest)
}

/// Every value of cookie `name` in the `Cookie` headers, in order.
fn find_cookies<'a: 'n, 'n>(
    headers: impl Iterator<Item = &'a str> + 'n,
    name: &'n str,
) -> impl Iterator<Item = &'a str> + 'n {
    headers
        .flat_map(cookie_pairs)
        .filter(move |pair| pair.name == name)
        .filter_map(|pair| pair.value)
}

/// One `name=value` pair of a `Cookie` header, trimmed.
pub struct CookiePair<'a> {
    /// The whole pair.
    pub text: &'a str,
    /// Before the `=`; the whole pair when it has none.
    pub name: &'a str,
    /// After the `=`, if there is one.
    pub value: Option<&'a str>,
}

/// The pairs of one `Cookie` header value. Runs twice on every request with
/// cookies (to find the session, to strip the gateway's cookies), so it
/// looks for `;` and `=` with `memchr`. The value is visible ASCII
/// ([`cookie_headers`]): spaces and tabs are the only blanks.
pub fn cookie_pairs(header: &str) -> impl Iterator<Item = CookiePair<'_>> {
    let mut start = 0;
    memchr::memchr_iter(b';', header.as_bytes())
        .chain(std::iter::once(header.len()))
        .map(move |end| {
            let text = header[start..end].trim_ascii();
            start = end + 1;
            match memchr::memchr(b'=', text.as_bytes()) {
                Some(eq) => CookiePair {
                    text,
                    name: text[..eq].trim_ascii(),
                    value: Some(text[eq + 1..].trim_ascii()),
                },
                None => CookiePair {
                    text,
                    name: text,
                    value: None,
                },
            }
        })
}

/// A `Cookie` header value without the pairs whose name is `doomed` (nor
/// nameless ones). Names compare exactly: cookie names are case-sensitive.
/// One string built, no intermediate list.
pub fn without_cookies(header: &str, doomed: impl Fn(&str) -> bool) -> String {
    let mut kept = String::new();
    for pair in cookie_pairs(header) {
        if pair.name.is_empty() || doomed(pair.name) {
            continue;
        }
        if !kept.is_empty() {
            kept.push_str("; ");
        }
        kept.push_str(pair.text);
    }
    kept
}

/// Every `Cookie` header value of a request, for [`CookieCodec::session_id`]
/// and [`CookieCodec::binding`]. Values that are not visible ASCII are skipped.
pub fn cookie_headers(headers: &http::HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::shared::secret::Secret;

    fn settings(keys: &[[u8; 64]]) -> SessionSettings {
        SessionSettings {
            cookie_name: "__Host-g2p-session".into(),
            cookie_keys: keys.iter().map(|k| Secret::new(k.to_vec())).collect(),
            insecure_cookie_without_secure: false,
            absolute_timeout: Duration::from_secs(8 * 3600),
        }
    }

    fn cookie_value(set_cookie: &str) -> &str {
        set_cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
    }

    #[test]
    fn a_short_cookie_key_is_refused_with_its_cause() {
        let mut short = settings(&[[7; 64]]);
        short.cookie_keys = vec![Secret::new(vec![7; 16])];
        let err = CookieCodec::new(&short, 600).err().expect("refused");
        assert!(matches!(err, SetupError::CookieKey(_)), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(!err.to_string().contains("7, 7"), "never quotes the key");
        short.cookie_keys.clear();
        let err = CookieCodec::new(&short, 600).err().expect("refused");
        assert!(matches!(err, SetupError::NoCookieKey), "{err:?}");
    }

    #[test]
    fn session_cookie_round_trips_and_has_safe_attributes() {
        let codec = CookieCodec::new(&settings(&[[7; 64]]), 600).unwrap();
        let id = SessionId::random();
        let set = codec.set_session(&id);
        assert!(set.starts_with("__Host-g2p-session="));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(!set.contains(id.as_str()), "the id must be sealed");
        let header = format!("a=b; __Host-g2p-session={}", cookie_value(&set));
        assert_eq!(codec.session_id([header.as_str()].into_iter()), Some(id));
    }

    #[test]
    fn tampered_truncated_or_foreign_cookies_do_not_open() {
        let codec = CookieCodec::new(&settings(&[[7; 64]]), 600).unwrap();
        let other = CookieCodec::new(&settings(&[[8; 64]]), 600).unwrap();
        let set = codec.set_session(&SessionId::random());
        let value = cookie_value(&set).to_string();
        let mut tampered = value.clone().into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        let candidates = [
            String::from_utf8(tampered).unwrap(),
            value[..value.len() - 4].to_string(),
            String::new(),
            "x".repeat(5000),
        ];
        for bad in candidates {
            let header = format!("__Host-g2p-session={bad}");
            assert!(codec.session_id([header.as_str()].into_iter()).is_none());
        }
        let header = format!("__Host-g2p-session={value}");
        assert!(other.session_id([header.as_str()].into_iter()).is_none());
    }

    #[test]
    fn rotated_keys_still_open_old_cookies() {
        let old = CookieCodec::new(&settings(&[[1; 64]]), 600).unwrap();
        let rotated = CookieCodec::new(&settings(&[[2; 64], [1; 64]]), 600).unwrap();
        let id = SessionId::random();
        let header = format!("__Host-g2p-session={}", cookie_value(&old.set_session(&id)));
        assert_eq!(rotated.session_id([header.as_str()].into_iter()), Some(id));
    }

    #[test]
    fn a_connection_memo_never_opens_what_the_keys_would_not() {
        let codec = CookieCodec::new(&settings(&[[7; 64]]), 600).unwrap();
        let memo = CookieMemo::default();
        let (id, other) = (SessionId::random(), SessionId::random());
        let value = cookie_value(&codec.set_session(&id)).to_string();
        let header = format!("__Host-g2p-session={value}");
        let open = |codec: &CookieCodec, header: &str| {
            codec.session_id_remembered([header].into_iter(), Some(&memo))
        };
        assert_eq!(open(&codec, &header), Some(id));
        assert_eq!(open(&codec, &header), Some(id), "remembered");
        // Another person's cookie on the same connection opens as theirs.
        let second = format!(
            "__Host-g2p-session={}",
            cookie_value(&codec.set_session(&other))
        );
        assert_eq!(open(&codec, &second), Some(other));
        assert_eq!(open(&codec, &header), Some(id));
        // A changed byte is not the remembered value, and does not open.
        let mut tampered = value.clone().into_bytes();
        tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
        let tampered = format!(
            "__Host-g2p-session={}",
            String::from_utf8(tampered).unwrap()
        );
        assert_eq!(open(&codec, &tampered), None);
        // A reload that drops the key: the remembered value no longer opens.
        let reloaded = CookieCodec::new(&settings(&[[8; 64]]), 600).unwrap();
        assert_eq!(open(&codec, &header), Some(id));
        assert_eq!(open(&reloaded, &header), None);
        assert_eq!(format!("{memo:?}"), "CookieMemo", "never shows the value");
    }

    #[test]
    fn cookie_pairs_are_split_at_semicolons_and_trimmed() {
        let headers = [
            "a=1;\t__Host-g2p-session = first ;flag; =x;",
            "__Host-g2p-session=second",
        ];
        let found: Vec<&str> = find_cookies(headers.into_iter(), "__Host-g2p-session").collect();
        assert_eq!(found, ["first", "second"]);
        assert_eq!(
            find_cookies(headers.into_iter(), "flag").count(),
            0,
            "no value"
        );
        let codec = CookieCodec::new(&settings(&[[7; 64]]), 600).unwrap();
        assert_eq!(
            codec.strip_own_cookies(headers[0]).as_deref(),
            Some("a=1; flag")
        );
    }

    #[test]
    fn own_cookies_are_stripped_before_forwarding() {
        let codec = CookieCodec::new(&settings(&[[7; 64]]), 600).unwrap();
        let header = "a=1; __Host-g2p-session=xyz; __Host-g2p-session-login=q; b=2";
        assert_eq!(codec.strip_own_cookies(header).as_deref(), Some("a=1; b=2"));
        assert_eq!(codec.strip_own_cookies("__Host-g2p-session=xyz"), None);
    }
}
