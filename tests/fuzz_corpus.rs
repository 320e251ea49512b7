//! Replays every committed fuzz seed (`fuzz/corpus/<target>/*`) through the
//! same target body the cargo-fuzz binaries run (`g2p_gateway::fuzzing`), on
//! stable Rust, plus a few deterministic mutations of each seed. A longer,
//! coverage-guided run is `scripts/fuzz` (libFuzzer); see the README.
//!
//! The signed tokens and sealed cookies among the seeds come from
//! `write_generated_seeds` below (`cargo test --test fuzz_corpus --
//! --ignored`), which signs with the demo e-Signet key in `certs/demo`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use g2p_gateway::fuzzing::{self, TARGETS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Small deterministic mutations: truncations, a flipped bit, a duplicated
/// slice, an inserted CR LF / NUL / `%`.
fn mutations(seed: &[u8], salt: u64) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(salt);
    let mut next = move |bound: usize| rng.gen_range(0..bound.max(1));
    let len = seed.len();
    let mut out = vec![
        seed[..len / 2].to_vec(),
        seed[..len.saturating_sub(1)].to_vec(),
    ];
    for insert in [&b"\r\n"[..], b"\0", b"%", b"%2f", b"\xff"] {
        let at = next(len + 1);
        let mut m = seed.to_vec();
        m.splice(at..at, insert.iter().copied());
        out.push(m);
    }
    if len > 0 {
        let mut flipped = seed.to_vec();
        let at = next(len);
        flipped[at] ^= 1 << next(8);
        out.push(flipped);
        let (a, b) = (next(len), next(len));
        let (from, to) = (a.min(b), a.max(b));
        let mut doubled = seed[..to].to_vec();
        doubled.extend_from_slice(&seed[from..]);
        out.push(doubled);
    }
    out
}

#[test]
fn every_target_has_a_cargo_fuzz_binary_and_seeds() {
    for (name, _) in TARGETS {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let source = std::fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        assert!(
            source.contains(&format!("g2p_gateway::fuzzing::{name}(data)")),
            "{name}.rs must call the shared body"
        );
        assert!(seeds(name).len() >= 5, "{name}: too few seeds");
    }
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\n[workspace]\n"),
        "fuzz/ stays out of the main workspace"
    );
}

#[test]
fn the_seed_corpora_replay_without_a_finding() {
    let mut failures = Vec::new();
    let mut runs = 0;
    for (name, body) in TARGETS {
        for (i, (path, seed)) in seeds(name).into_iter().enumerate() {
            let mut inputs = vec![seed.clone()];
            inputs.extend(mutations(&seed, i as u64 + 1));
            for (m, input) in inputs.iter().enumerate() {
                runs += 1;
                if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
                    failures.push(format!("{name}: {} (mutation {m})", rel(&path)));
                }
            }
        }
    }
    assert!(runs > 500, "only {runs} runs");
    assert!(failures.is_empty(), "findings:\n{}", failures.join("\n"));
}

#[test]
fn the_oracles_are_live() {
    // A seed that must reach each positive path, so a broken oracle or key
    // cannot silently turn the jws target into a no-op.
    let valid = std::fs::read(fuzz_dir().join("corpus/jws_verify/gen-id-token-rs256")).unwrap();
    let token = String::from_utf8(valid).unwrap();
    assert!(
        fuzzing::demo_id_token_verifies(&token),
        "the generated ID token seed must verify (regenerate the seeds?)"
    );
    let cookie =
        std::fs::read_to_string(fuzz_dir().join("corpus/session_cookie/gen-sealed")).unwrap();
    assert!(fuzzing::cookie_codec()
        .session_id(std::iter::once(cookie.as_str()))
        .is_some());
}

fn rel(path: &Path) -> String {
    path.strip_prefix(fuzz_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Writes the `gen-*` seeds (signed tokens, sealed cookies, the demo JWKS).
#[test]
#[ignore = "regenerates committed seeds; run by hand"]
fn write_generated_seeds() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let write = |target: &str, name: &str, content: &str| {
        let path = fuzz_dir().join("corpus").join(target).join(name);
        std::fs::write(path, content).unwrap();
    };
    let pem = |name: &str| std::fs::read(root.join("certs/demo").join(name)).unwrap();
    let esignet = EncodingKey::from_rsa_pem(&pem("esignet-signing.pem")).unwrap();
    let other = EncodingKey::from_rsa_pem(&pem("id-system-signing.pem")).unwrap();
    let now = g2p_gateway::shared::clock::now_secs();
    let far = 4_102_444_800u64; // 2100-01-01
    let header = |alg: Algorithm, typ: &str| {
        let mut h = Header::new(alg);
        h.kid = Some("esignet-demo".into());
        h.typ = Some(typ.into());
        h
    };
    let id_claims = json!({
        "iss": fuzzing::ISSUER, "aud": fuzzing::CLIENT_ID, "sub": fuzzing::SUB,
        "iat": now - 10, "exp": far, "auth_time": now - 20, "nonce": fuzzing::NONCE,
        "acr": "mosip:idp:acr:generated-code",
        "at_hash": fuzzing::at_hash_of(fuzzing::ACCESS_TOKEN),
    });
    let sign = |alg, typ: &str, claims: &serde_json::Value, key: &EncodingKey| {
        encode(&header(alg, typ), claims, key).unwrap()
    };
    let rs = sign(Algorithm::RS256, "JWT", &id_claims, &esignet);
    write("jws_verify", "gen-id-token-rs256", &rs);
    write(
        "jws_verify",
        "gen-id-token-ps256",
        &sign(Algorithm::PS256, "JWT", &id_claims, &esignet),
    );
    let mut expired = id_claims.clone();
    expired["exp"] = json!(1_000_000_000u64);
    write(
        "jws_verify",
        "gen-id-token-expired",
        &sign(Algorithm::RS256, "JWT", &expired, &esignet),
    );
    let mut two_aud = id_claims.clone();
    two_aud["aud"] = json!([fuzzing::CLIENT_ID, "someone-else"]);
    write(
        "jws_verify",
        "gen-id-token-two-audiences",
        &sign(Algorithm::RS256, "JWT", &two_aud, &esignet),
    );
    let mut not_yet = id_claims.clone();
    not_yet["nbf"] = json!(far);
    write(
        "jws_verify",
        "gen-id-token-nbf-future",
        &sign(Algorithm::PS256, "JWT", &not_yet, &esignet),
    );
    write(
        "jws_verify",
        "gen-id-token-other-key",
        &sign(Algorithm::RS256, "JWT", &id_claims, &other),
    );
    let userinfo = json!({
        "sub": fuzzing::SUB, "aud": fuzzing::CLIENT_ID, "name#eng": "Siddharth K Mansour",
        "birthdate": "1987/11/25", "address": {"locality#eng": "Cmattey"},
    });
    write(
        "jws_verify",
        "gen-userinfo-rs256",
        &sign(Algorithm::RS256, "JWT", &userinfo, &esignet),
    );
    let logout = json!({
        "iss": fuzzing::ISSUER, "aud": fuzzing::CLIENT_ID, "iat": now - 10, "exp": far,
        "jti": "fuzz-jti", "sid": "fuzz-sid", "sub": fuzzing::SUB,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    write(
        "jws_verify",
        "gen-logout-token",
        &sign(Algorithm::RS256, "logout+jwt", &logout, &esignet),
    );
    let mut with_nonce = logout.clone();
    with_nonce["nonce"] = json!(fuzzing::NONCE);
    write(
        "jws_verify",
        "gen-logout-token-with-nonce",
        &sign(Algorithm::PS256, "logout+jwt", &with_nonce, &esignet),
    );
    write(
        "jws_verify",
        "gen-token-response",
        &json!({"id_token": rs, "access_token": fuzzing::ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600})
            .to_string(),
    );
    let public =
        rsa::RsaPublicKey::from_public_key_pem(fuzzing::ESIGNET_DEMO_PUBLIC_KEY_PEM).unwrap();
    let jwks = json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "esignet-demo",
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }]});
    write("jws_verify", "gen-jwks", &jwks.to_string());

    let codec = fuzzing::cookie_codec();
    let sealed = codec.set_session(&g2p_gateway::session::SessionId::random());
    let pair = sealed.split(';').next().unwrap().to_string();
    let value = pair.split_once('=').unwrap().1.to_string();
    write("session_cookie", "gen-sealed", &pair);
    write(
        "session_cookie",
        "gen-sealed-among-others",
        &format!(
            "theme=dark; {pair}; {}-login=0123456789012345678901234567890123456789012",
            fuzzing::COOKIE_NAME
        ),
    );
    write(
        "session_cookie",
        "gen-sealed-under-binding-name",
        &format!("{}-login={value}", fuzzing::COOKIE_NAME),
    );
    write(
        "session_cookie",
        "gen-sealed-truncated",
        &pair[..pair.len() - 3],
    );
}

#[test]
fn release_builds_leave_the_fuzzing_bodies_out() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\nfuzzing = []\n"), "the feature exists");
    assert!(
        !manifest
            .lines()
            .any(|l| l.trim_start().starts_with("default") && l.contains("fuzzing")),
        "fuzzing must not be a default feature"
    );
    for file in ["deploy/Dockerfile", "scripts/demo", "scripts/bench"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            !text.contains("fuzzing") && !text.contains("--all-features"),
            "{file} builds the gateway with the fuzzing bodies"
        );
    }
}
