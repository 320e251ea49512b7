//! Fuzz-target bodies, shared by the cargo-fuzz targets in `fuzz/` and by
//! `tests/fuzz_corpus.rs`, which replays the committed seed corpora on
//! stable Rust as part of `cargo test`.
//!
//! Each function takes arbitrary bytes, feeds them to one untrusted-input
//! decoder of the gateway, and panics only when an *oracle* fails: a property
//! that must hold for every input (a returned path stays on the origin, a
//! token the demo key did not sign never verifies, a plain header value is
//! visible ASCII, …). Errors from the code under test are expected and fine.
//!
//! Not part of the gateway's API; nothing here holds a private key (the
//! verification key is the *public* half of `certs/demo/esignet-signing.pem`).

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{EndpointOverrides, MappingSettings, SessionSettings};
use crate::decision::return_to::{request_target_is_safe, safe_return_path, MAX_RETURN_TARGET_LEN};
use crate::decision::routing::check_request_path;
use crate::mapping::{map_identity_with_warnings, RESERVED_KEYS};
use crate::oidc::discovery::parse_discovery;
use crate::oidc::jwks::parse_jwks;
use crate::oidc::logout_token::verify_logout_token;
use crate::oidc::tokens::parse_token_response;
use crate::oidc::verify::{
    inspect_header, unsigned_userinfo, verify_id_token, verify_userinfo, IdTokenExpectations,
    ACCEPTED_ALGS,
};
use crate::session::cookie::CookieCodec;
use crate::session::{Session, SessionId};
use crate::shared::secret::Secret;

/// A target body.
pub type Target = fn(&[u8]);

/// Every target, by name (the name of its `fuzz/fuzz_targets/<name>.rs` and
/// of its corpus directory `fuzz/corpus/<name>/`).
pub const TARGETS: [(&str, Target); 6] = [
    ("session_cookie", session_cookie),
    ("return_to", return_to),
    ("config_loader", config_loader),
    ("jws_verify", jws_verify),
    ("claim_mapper", claim_mapper),
    ("request_target", request_target),
];

/// `request_target`: the first line is a request target, the second a
/// `Host` value (absent when there is no second line). Oracles: a request
/// [`normalise_request`](crate::decision::access::target::normalise_request) accepts
/// is origin-form with exactly one canonical `Host`, and the path the
/// gateway routes on is the path that goes upstream; every canonical host
/// is lower-case, without a trailing dot, and canonical again.
pub fn request_target(data: &[u8]) {
    use crate::decision::access::target::{canonical_host, normalise_request};
    let mut lines = data.splitn(2, |&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let host = lines.next();
    if let Some(host) = host {
        if let Ok(canonical) = canonical_host(host) {
            let canonical = canonical.into_owned();
            assert!(
                !canonical.bytes().any(|b| b.is_ascii_uppercase()),
                "{canonical:?}"
            );
            assert!(!canonical.ends_with('.'), "{canonical:?}");
            assert_eq!(
                canonical_host(canonical.as_bytes()).ok().as_deref(),
                Some(canonical.as_str())
            );
        }
    }
    let Ok(mut req) = pingora::http::RequestHeader::build("GET", target, None) else {
        return;
    };
    if let Some(value) = host.and_then(|h| http::HeaderValue::from_bytes(h).ok()) {
        req.insert_header(http::header::HOST, value).ok();
    }
    if normalise_request(&mut req).is_err() {
        return;
    }
    let raw = req.raw_path().to_vec();
    assert_eq!(raw.first(), Some(&b'/'), "not origin-form: {raw:?}");
    let hosts: Vec<_> = req.headers.get_all(http::header::HOST).iter().collect();
    assert_eq!(hosts.len(), 1, "one Host after normalising");
    let host = hosts[0].as_bytes();
    assert_eq!(
        canonical_host(host).ok().as_deref().map(str::as_bytes),
        Some(host)
    );
    if req.raw_path_is_utf8() {
        let raw = String::from_utf8_lossy(&raw);
        let raw_path = raw.split('?').next().unwrap_or_default();
        assert_eq!(
            req.uri.path(),
            raw_path,
            "routed and forwarded paths differ"
        );
    }
}

/// Whether `token` verifies as an ID token of the demo e-Signet key for the
/// fuzzing client, issuer and nonce: the positive path of `jws_verify`, so
/// `tests/fuzz_corpus.rs` can check that the oracle is live.
pub fn demo_id_token_verifies(token: &str) -> bool {
    let Ok(header) = inspect_header(token) else {
        return false;
    };
    let Ok(key) = DecodingKey::from_rsa_pem(ESIGNET_DEMO_PUBLIC_KEY_PEM.as_bytes()) else {
        return false;
    };
    let issuers = vec![ISSUER.to_string()];
    let expect = IdTokenExpectations {
        issuers: &issuers,
        client_id: CLIENT_ID,
        nonce: NONCE,
        access_token: ACCESS_TOKEN,
        clock_skew: Duration::from_secs(60),
    };
    verify_id_token(token, &header, &[key], &expect).is_ok()
}

/// The `at_hash` of an access token, for the seed generator in
/// `tests/fuzz_corpus.rs` (the relying party's own computation).
pub fn at_hash_of(access_token: &str) -> String {
    crate::oidc::verify::at_hash_of(access_token)
}

/// Session cookie name used by the `session_cookie` target.
pub const COOKIE_NAME: &str = "g2p-session";
/// The cookie key of the `session_cookie` target (64 bytes; fuzzing only).
pub const COOKIE_KEY: [u8; 64] = [0x5a; 64];
/// `aud` the `jws_verify` target expects.
pub const CLIENT_ID: &str = "fuzz-client";
/// `iss` the `jws_verify` target expects.
pub const ISSUER: &str = "https://esignet.fuzz.invalid";
/// `nonce` the `jws_verify` target expects.
pub const NONCE: &str = "fuzz-nonce";
/// Access token whose `at_hash` the `jws_verify` target expects.
pub const ACCESS_TOKEN: &str = "fuzz-access-token";
/// Userinfo `sub` the `jws_verify` target expects.
pub const SUB: &str = "fuzz-psut";

/// Public half of `certs/demo/esignet-signing.pem` (demo material).
pub const ESIGNET_DEMO_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7tOdauBsilprEFau+ql6
fVftX5ZJYFN+Dn3QL8Zv7LGwkZkQ1kndSvFE6mJ3DXEmtP/xnRhEf/BUfxMSa3q1
4ggoNJoLFhzJzDt/N5wdnKk1bUn2lCMlaUPvUE0tCnhSnOjZ+s56ycJ4C65eKLGM
MNgTgy1+VF/ItLzzDwW18uMgOwJxFSp/B9v9+mywpFNystS0XUhTDH5j4YCMvg5I
KpyQoLyjiyIhY3O68/OkalzWzrnmJLYrJqyfF/VR1zoBkHSyXjirQEtaIgktrshI
kCaqJ6t4+52GlbVaW7uMDRvo8HT6Mb6D7FAhuuuyzqKFimuOkqt41s/lQKMQrHPO
+wIDAQAB
-----END PUBLIC KEY-----
";

/// The cookie codec of the `session_cookie` target.
pub fn cookie_codec() -> &'static CookieCodec {
    static CODEC: OnceLock<CookieCodec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let settings = SessionSettings {
            cookie_name: COOKIE_NAME.into(),
            cookie_keys: vec![Secret::new(COOKIE_KEY.to_vec())],
            insecure_cookie_without_secure: true,
            absolute_timeout: Duration::from_secs(8 * 3600),
        };
        CookieCodec::new(&settings, 600).expect("fuzz cookie codec")
    })
}

/// `Cookie` headers (one per input line) through the session-cookie decoder,
/// the login-binding reader and the stripping of the gateway's own cookies.
pub fn session_cookie(data: &[u8]) {
    let codec = cookie_codec();
    let text = String::from_utf8_lossy(data);
    let headers: Vec<&str> = text.split('\n').collect();
    let binding_name = format!("{COOKIE_NAME}-login");

    let opened = codec.session_id(headers.iter().copied());
    assert_eq!(
        opened.as_ref().map(|id| id.as_str().to_owned()),
        reference_session_id(&headers),
        "the session cookie opens differently from the cookie crate's private jar"
    );
    if let Some(id) = opened {
        // Only a well-formed id sealed under the key comes out, and it
        // survives a re-seal.
        assert!(SessionId::parse(id.as_str()).is_some(), "malformed id");
        let resealed = codec.set_session(&id);
        let pair = resealed.split(';').next().unwrap_or_default();
        assert_eq!(codec.session_id(std::iter::once(pair)), Some(id));
    }
    if let Some(binding) = codec.binding(headers.iter().copied()) {
        assert_eq!(binding.len(), 43, "binding values are 43 characters");
    }
    for header in &headers {
        let Some(kept) = codec.strip_own_cookies(header) else {
            continue;
        };
        assert!(!kept.is_empty(), "Some(\"\") instead of None");
        for pair in kept.split(';') {
            let name = pair.split('=').next().unwrap_or("").trim();
            assert!(
                name != COOKIE_NAME && name != binding_name,
                "the gateway's own cookie would reach the upstream"
            );
        }
        assert!(codec.session_id(std::iter::once(kept.as_str())).is_none());
        assert_eq!(
            codec.strip_own_cookies(&kept).as_deref(),
            Some(kept.as_str()),
            "stripping is idempotent"
        );
    }
}

/// The session id as the `cookie` crate's private jar opens it (the
/// reference the gateway's own AES-GCM opening must agree with): the first
/// `g2p-session` pair, in header order, that opens to a well-formed id.
fn reference_session_id(headers: &[&str]) -> Option<String> {
    static KEY: OnceLock<cookie::Key> = OnceLock::new();
    let key = KEY.get_or_init(|| cookie::Key::from(&COOKIE_KEY));
    headers
        .iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == COOKIE_NAME).then(|| v.trim())
        })
        .find_map(|raw| {
            let mut jar = cookie::CookieJar::new();
            jar.add_original(cookie::Cookie::new(COOKIE_NAME, raw.to_string()));
            let value = jar.private(key).get(COOKIE_NAME)?.value().to_string();
            SessionId::parse(&value).map(|id| id.as_str().to_owned())
        })
}

fn origins() -> &'static [Url; 2] {
    static ORIGINS: OnceLock<[Url; 2]> = OnceLock::new();
    ORIGINS.get_or_init(|| {
        [
            Url::parse("https://portal.example.org").expect("origin"),
            Url::parse("http://127.0.0.1:8080").expect("origin"),
        ]
    })
}

/// A return target (`return_to`, a recorded request URI) and a request path
/// through the open-redirect defence and the request-path check.
pub fn return_to(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let candidate = text.trim_end_matches(['\n', '\r']);
    for origin in origins() {
        if let Some(path) = safe_return_path(candidate, origin) {
            check_returned_path(candidate, &path, origin);
        }
    }
    if request_target_is_safe(candidate) {
        for origin in origins() {
            assert!(
                safe_return_path(candidate, origin).is_some(),
                "a safe request target is refused as a return path: {candidate:?}"
            );
        }
    }
    if check_request_path(candidate).is_ok() {
        let path = candidate.split('?').next().unwrap_or_default();
        assert!(path.starts_with('/'));
        assert!(
            !path
                .bytes()
                .any(|b| !(0x20..0x7f).contains(&b) || matches!(b, b'\\' | b';' | b' ' | b'#')),
            "a forbidden byte passed the path check: {path:?}"
        );
        assert!(
            !path.split('/').any(|s| s == "." || s == ".."),
            "a dot segment passed the path check: {path:?}"
        );
    }
}

fn check_returned_path(candidate: &str, path: &str, origin: &Url) {
    let ctx = || format!("{candidate:?} → {path:?} on {origin}");
    assert!(path.starts_with('/'), "not rooted: {}", ctx());
    assert!(
        !path.starts_with("//") && !path.starts_with("/\\"),
        "scheme-relative: {}",
        ctx()
    );
    assert!(path.len() <= MAX_RETURN_TARGET_LEN, "too long: {}", ctx());
    assert!(
        path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
        "unsafe character: {}",
        ctx()
    );
    let joined = origin.join(path).expect("a returned path joins the origin");
    assert_eq!(
        joined.origin(),
        origin.origin(),
        "leaves the origin: {}",
        ctx()
    );
    assert!(joined.username().is_empty() && joined.password().is_none());
    let path_only = path.split('?').next().unwrap_or_default();
    assert!(
        check_request_path(path_only).is_ok(),
        "the gateway would refuse it as a request: {}",
        ctx()
    );
    let mut layer = path_only.as_bytes().to_vec();
    for _ in 0..3 {
        assert!(
            !layer.starts_with(b"//") && !layer.starts_with(b"/\\"),
            "decodes to a scheme-relative target: {}",
            ctx()
        );
        layer = percent_encoding::percent_decode(&layer).collect();
    }
    assert_eq!(
        safe_return_path(path, origin).as_deref(),
        Some(path),
        "not a fixed point: {}",
        ctx()
    );
}

/// Arbitrary YAML through the configuration loader: errors are fine, a panic
/// is not. Secrets resolve against a directory that does not exist and an
/// environment without variables.
pub fn config_loader(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if names_an_absolute_path(&text) {
        // `{file: /dev/stdin}` or a FIFO would block the fuzzer: the loader
        // reads whatever file the operator names, which is its job.
        return;
    }
    let source = Path::new("/nonexistent/g2p-gateway-fuzz/gateway.yaml");
    match crate::config::load_str_with_env(&text, source, &|_| None) {
        Ok(config) => {
            assert!(!config.routes.is_empty(), "a config without routes loaded");
        }
        Err(errors) => {
            assert!(errors.iter().next().is_some(), "an error without a message");
            let _ = errors.to_string();
        }
    }
}

/// Whether `text` names an absolute path under a key the loader reads a file
/// for (`file`, `cert`, `key`, `template`). Relative paths resolve under the
/// nonexistent base directory, so they cannot reach a real file.
fn names_an_absolute_path(text: &str) -> bool {
    fn walk(value: &serde_yaml::Value) -> bool {
        match value {
            serde_yaml::Value::Sequence(items) => items.iter().any(walk),
            serde_yaml::Value::Mapping(map) => map.iter().any(|(k, v)| {
                let reads_file = matches!(k.as_str(), Some("file" | "cert" | "key" | "template"));
                (reads_file && absolute(v)) || walk(k) || walk(v)
            }),
            serde_yaml::Value::Tagged(tagged) => walk(&tagged.value),
            _ => false,
        }
    }
    fn absolute(value: &serde_yaml::Value) -> bool {
        match value {
            serde_yaml::Value::String(s) => s.trim_start().starts_with('/'),
            serde_yaml::Value::Tagged(tagged) => absolute(&tagged.value),
            _ => false,
        }
    }
    // Text that does not parse as one YAML document is refused by the
    // loader before any file is read.
    serde_yaml::from_str::<serde_yaml::Value>(text).is_ok_and(|value| walk(&value))
}

fn demo_keys() -> &'static (Vec<DecodingKey>, rsa::RsaPublicKey) {
    static KEYS: OnceLock<(Vec<DecodingKey>, rsa::RsaPublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        use rsa::pkcs8::DecodePublicKey;
        let key = DecodingKey::from_rsa_pem(ESIGNET_DEMO_PUBLIC_KEY_PEM.as_bytes())
            .expect("demo public key");
        let independent = rsa::RsaPublicKey::from_public_key_pem(ESIGNET_DEMO_PUBLIC_KEY_PEM)
            .expect("demo public key");
        (vec![key], independent)
    })
}

/// Panics unless an independent RSA implementation (the `rsa` crate, not the
/// `jsonwebtoken`/aws-lc path the gateway uses) confirms that the demo key
/// signed `token`.
fn assert_signed_by_demo_key(token: &str, alg: Algorithm) {
    const SHA256_DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    // Lenient base64 (padding, trailing bits) so that only a forgery, not a
    // re-encoding of a genuine signature, trips the oracle.
    let lenient = GeneralPurpose::new(
        &URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let (signing_input, signature) = token.rsplit_once('.').expect("a verified token has dots");
    let signature = lenient
        .decode(signature)
        .expect("a verified token has a base64url signature");
    let hashed = Sha256::digest(signing_input.as_bytes());
    let key = &demo_keys().1;
    let verified = match alg {
        Algorithm::RS256 => key.verify(
            rsa::Pkcs1v15Sign {
                hash_len: Some(32),
                prefix: Box::new(SHA256_DIGEST_INFO),
            },
            &hashed,
            &signature,
        ),
        Algorithm::PS256 => key.verify(rsa::Pss::new::<Sha256>(), &hashed, &signature),
        other => panic!("accepted a token with algorithm {other:?}"),
    };
    assert!(
        verified.is_ok(),
        "the gateway accepted a token the demo key did not sign"
    );
}

/// A compact JWS as ID token, userinfo and logout token against the demo
/// e-Signet key; and the same bytes as a JWKS, a discovery document, a token
/// response and an unsigned userinfo.
pub fn jws_verify(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let token = text.trim();
    let keys = &demo_keys().0;
    let issuers = vec![ISSUER.to_string()];
    let skew = Duration::from_secs(60);

    if let Ok(header) = inspect_header(token) {
        assert!(ACCEPTED_ALGS.contains(&header.alg), "{:?}", header.alg);
        let expect = IdTokenExpectations {
            issuers: &issuers,
            client_id: CLIENT_ID,
            nonce: NONCE,
            access_token: ACCESS_TOKEN,
            clock_skew: skew,
        };
        if let Ok(claims) = verify_id_token(token, &header, keys, &expect) {
            assert_signed_by_demo_key(token, header.alg);
            assert_eq!(claims.get("iss").and_then(Value::as_str), Some(ISSUER));
            assert_eq!(claims.get("nonce").and_then(Value::as_str), Some(NONCE));
            assert!(claims
                .get("sub")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()));
        }
        assert!(
            verify_id_token(token, &header, &[], &expect).is_err(),
            "verified without a key"
        );
        if let Ok(claims) = verify_userinfo(token, &header, keys, CLIENT_ID, SUB, skew) {
            assert_signed_by_demo_key(token, header.alg);
            assert_eq!(claims.get("sub").and_then(Value::as_str), Some(SUB));
        }
        let typ = Some("logout+jwt");
        if let Ok(request) =
            verify_logout_token(token, &header, typ, keys, &issuers, CLIENT_ID, skew)
        {
            assert_signed_by_demo_key(token, header.alg);
            assert!(!request.jti.is_empty());
            assert!(request.sub.is_some() || request.sid.is_some());
        }
    }
    if let Ok(claims) = unsigned_userinfo(data, SUB) {
        assert_eq!(claims.get("sub").and_then(Value::as_str), Some(SUB));
    }
    if let Ok(set) = parse_jwks(data) {
        for alg in ACCEPTED_ALGS {
            assert!(set.matching(None, alg).len() <= set.len());
            let _ = set.matching(Some("k"), alg);
        }
    }
    if let Ok(metadata) = parse_discovery(data, &EndpointOverrides::default()) {
        assert!(!metadata.issuer.trim().is_empty());
        for url in [
            &metadata.authorization_endpoint,
            &metadata.token_endpoint,
            &metadata.userinfo_endpoint,
            &metadata.jwks_uri,
        ] {
            assert!(matches!(url.scheme(), "http" | "https") && url.has_host());
        }
    }
    for status in [200, 400, 401, 500, 503] {
        match parse_token_response(status, data) {
            Ok(tokens) => {
                assert_eq!(status, 200);
                let _ = (tokens.id_token, tokens.access_token);
            }
            Err(error) => {
                let message = error.to_string();
                assert!(
                    !message.contains(['\n', '\r']),
                    "a provider answer can split a log line: {message:?}"
                );
            }
        }
    }
}

/// Default OpenG2P mapping settings, with maps overridable from the input.
fn mapping_settings(spec: &Map<String, Value>) -> MappingSettings {
    let pairs = |key: &str, default: &str| -> Vec<(String, String)> {
        spec.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .split_whitespace()
            .filter_map(|p| p.split_once(':'))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let text = |key: &str, default: &str| {
        spec.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    MappingSettings {
        token_map: pairs("token_map", "sub:user_id"),
        userinfo_map: pairs(
            "userinfo_map",
            "name:name email:email phone_number:phone birthdate:birthdate gender:gender address:address",
        ),
        registrant_id_type: text("registrant_id_type", "MOSIP PSUT").into(),
        default_group: text("default_group", "portal"),
        login_attribute: text("login_attribute", "email"),
        birthdate_format: crate::config::BirthdateFormat::default(),
    }
}

/// A JSON document through the OpenG2P claim mapping, then every plain
/// identity header of the result.
///
/// Input: `{"id_token": {…}, "userinfo": {…}, "locales": [..], "token_map":
/// "a:b …", "userinfo_map": "…", "acr": "…"}`; any other JSON object is used
/// as both the ID token and userinfo claims.
pub fn claim_mapper(data: &[u8]) {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let structured = doc.contains_key("id_token") || doc.contains_key("userinfo");
    let object = |key: &str| match doc.get(key) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let (id_token, userinfo) = if structured {
        (object("id_token"), object("userinfo"))
    } else {
        (doc.clone(), doc.clone())
    };
    let locales: Vec<String> = match doc.get("locales") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec!["en".into()],
    };
    let settings = if structured {
        mapping_settings(&doc)
    } else {
        mapping_settings(&Map::new())
    };
    let Ok(outcome) = map_identity_with_warnings(&settings, &id_token, &userinfo, &locales) else {
        return;
    };
    for warning in &outcome.warnings {
        let _ = warning.to_string();
    }
    let identity = outcome.identity;
    assert!(!identity.user_id.is_empty() && identity.user_id.len() <= 1024);
    assert!(
        !identity.user_id.chars().any(char::is_control),
        "control character in user_id"
    );
    assert_eq!(identity.registrant_id.value, identity.user_id);
    assert!(!identity.login.is_empty(), "empty login");
    for (key, value) in &identity.claims.to_map() {
        assert!(!RESERVED_KEYS.contains(&key.as_str()), "reserved key {key}");
        assert!(
            !matches!(value, Value::Null) && value.as_str() != Some(""),
            "claim {key} present but empty"
        );
    }
    assert!(identity.value_for("picture").is_none());
    let acr = doc
        .get("acr")
        .and_then(Value::as_str)
        .unwrap_or("mosip:idp:acr:generated-code\r\nX-Injected: 1")
        .to_string();
    let keys: Vec<String> = identity
        .claims
        .keys()
        .into_iter()
        .chain(RESERVED_KEYS.iter().map(|k| k.to_string()))
        .chain(["acr", "auth_time", "picture", "absent"].map(String::from))
        .collect();
    let session = Session {
        identity,
        sub: SUB.into(),
        acr: acr.into(),
        auth_time: 0,
        sid: None,
        created_at: 0,
        expires_at: 0,
        id_token: None,
    };
    for key in keys {
        if let Some(value) = session.identity.value_for(&key) {
            if let Some(Value::String(s)) = session.identity.claims.get(&key) {
                assert!(
                    !s.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("data:")),
                    "a data: URI would go in a header"
                );
            }
            let _ = value;
        }
        if let Some(value) = crate::identity::plain_header_value(&session, &key) {
            assert!(
                value.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "header value for {key} is not visible ASCII: {value:?}"
            );
            assert!(http::HeaderValue::from_str(&value).is_ok());
        }
    }
}
