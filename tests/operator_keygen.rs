//! `g2p-gateway keygen`: the files, their modes, and a JWK that an independent
//! JOSE library (Python PyJWT + cryptography) accepts for the key.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn keygen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_g2p-gateway"))
        .arg("keygen")
        .args(args)
        .output()
        .expect("g2p-gateway runs")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `script` with python3; the tests need PyJWT and cryptography (scripts/test installs them).
fn python(script: &str, args: &[&str]) -> Output {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs (scripts/test installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "PyJWT/cryptography missing: python3 -m pip install pyjwt cryptography\n{stderr}"
    );
    output
}

const VERIFY: &str = r#"
import json, sys, jwt
from cryptography.hazmat.primitives import serialization
jwk = json.load(open(sys.argv[1]))
token = sys.argv[2]
key = jwt.PyJWK(jwk).key
claims = jwt.decode(token, key, algorithms=["RS256"], audience="esignet")
assert claims["sub"] == "keygen-test", claims
assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
# The JWK is the public half of the PEM, checked by another library.
private = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), password=None)
numbers = private.public_key().public_numbers()
assert numbers.n == key.public_numbers().n and numbers.e == key.public_numbers().e
# A token signed by another key must not verify.
try:
    jwt.decode(sys.argv[4], key, algorithms=["RS256"], audience="esignet")
    raise SystemExit("foreign signature accepted")
except jwt.InvalidSignatureError:
    pass
print("verified")
"#;

fn sign(pem: &[u8], kid: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let claims =
        serde_json::json!({"sub": "keygen-test", "aud": "esignet", "exp": 4_000_000_000u64});
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(pem).unwrap(),
    )
    .unwrap()
}

/// Runs keygen with `args` for a key at `key`, checks it succeeded and the
/// files' modes (the key private from creation, the JWK public), and
/// returns the PEM, the JWK's text, the JWK's path and what keygen printed.
fn generated(key: &Path, args: &[&str]) -> (Vec<u8>, String, std::path::PathBuf, String) {
    let mut all = vec!["--key", key.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = keygen(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwk_path = key.with_extension("jwk.json");
    assert_eq!(mode(key), 0o600);
    assert_eq!(mode(&jwk_path), 0o644);
    let pem = std::fs::read(key).unwrap();
    assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN PRIVATE KEY-----"));
    let jwk_text = std::fs::read_to_string(&jwk_path).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (pem, jwk_text, jwk_path, stdout)
}

#[test]
fn keygen_writes_a_private_key_and_its_jwk() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("client.pem");
    let (pem, jwk_text, jwk_path, stdout) = generated(&key, &["--bits", "2048"]);
    let jwk: Value = serde_json::from_str(&jwk_text).unwrap();
    assert!(jwk_text.trim().len() <= 1024, "fits e-Signet's column");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["e"], "AQAB");
    assert!(jwk.get("d").is_none(), "no private member in the JWK");
    let kid = jwk["kid"].as_str().unwrap();
    assert_eq!(
        kid,
        g2p_gateway::shared::keys::thumbprint(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap()
        ),
        "kid is the RFC 7638 thumbprint"
    );
    // The gateway reads the key back to the same JWK.
    let reread = g2p_gateway::shared::keys::SigningKey::from_pem(&pem).unwrap();
    assert_eq!(reread.public_jwk, jwk);
    assert_eq!(stdout.matches(kid).count(), 2);

    // An independent library verifies a JWT signed with the key against the JWK.
    let token = sign(&pem, kid);
    let foreign = sign(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/demo/client.pem"))
            .unwrap(),
        kid,
    );
    let verified = python(
        VERIFY,
        &[
            jwk_path.to_str().unwrap(),
            &token,
            key.to_str().unwrap(),
            &foreign,
        ],
    );
    assert!(
        verified.status.success() && String::from_utf8_lossy(&verified.stdout).contains("verified"),
        "python: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // Never overwrites: neither the key nor the JWK, and both stay as they were.
    let again = keygen(&["--key", key.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&key).unwrap(), pem);
    let other_key = dir.path().join("other.pem");
    let jwk_taken = keygen(&[
        "--key",
        other_key.to_str().unwrap(),
        "--jwk",
        jwk_path.to_str().unwrap(),
    ]);
    assert!(!jwk_taken.status.success());
    assert!(
        !other_key.exists(),
        "no key written when the JWK path is taken"
    );
    assert_eq!(std::fs::read_to_string(&jwk_path).unwrap(), jwk_text);
}

#[test]
fn keygen_refuses_weak_or_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    for bits in ["1024", "2000"] {
        let out = keygen(&["--key", key.to_str().unwrap(), "--bits", bits]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not supported"));
        assert!(!key.exists());
    }
}

const VERIFY_ES256: &str = r#"
import json, sys, jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
jwk = json.load(open(sys.argv[1]))
assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig"), jwk
key = jwt.PyJWK(jwk).key
token = sys.argv[2]
claims = jwt.decode(token, key, algorithms=["ES256"], audience="g2p-portal")
assert claims["sub"] == "keygen-test", claims
assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": jwk["kid"], "typ": "JWT"}
# The JWK is the public half of the PEM, on P-256, checked by another library.
private = serialization.load_pem_private_key(open(sys.argv[3], "rb").read(), password=None)
assert isinstance(private.curve, ec.SECP256R1), private.curve
assert private.public_key().public_numbers() == key.public_numbers()
# RS256 with the same kid is refused (no algorithm confusion).
try:
    jwt.decode(sys.argv[4], key, algorithms=["ES256"], audience="g2p-portal")
    raise SystemExit("foreign token accepted")
except jwt.InvalidTokenError:
    pass
print("verified")
"#;

#[test]
fn keygen_type_ec_writes_a_p256_key_that_signs_es256() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.pem");
    let (pem, jwk_text, jwk_path, _) = generated(&key, &["--type", "ec"]);
    let jwk: Value = serde_json::from_str(&jwk_text).unwrap();
    assert!(jwk.get("d").is_none(), "no private member in the JWK");

    // The gateway reads it back as an ES256 key with the same JWK, and
    // the assertion it signs verifies with PyJWT against that JWK.
    let reread = g2p_gateway::shared::keys::SigningKey::from_pem(&pem).unwrap();
    assert_eq!(reread.public_jwk, jwk);
    assert_eq!(reread.algorithm, jsonwebtoken::Algorithm::ES256);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(reread.kid.clone());
    let claims =
        serde_json::json!({"sub": "keygen-test", "aud": "g2p-portal", "exp": 4_000_000_000u64});
    let token = jsonwebtoken::encode(&header, &claims, &reread.encoding).unwrap();
    let rsa = sign(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/demo/client.pem"))
            .unwrap(),
        &reread.kid,
    );
    let verified = python(
        VERIFY_ES256,
        &[
            jwk_path.to_str().unwrap(),
            &token,
            key.to_str().unwrap(),
            &rsa,
        ],
    );
    assert!(
        verified.status.success() && String::from_utf8_lossy(&verified.stdout).contains("verified"),
        "python: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // e-Signet's client key must stay RSA.
    assert!(g2p_gateway::shared::keys::SigningKey::from_rsa_pem(&pem).is_err());
    let unknown = keygen(&[
        "--key",
        dir.path().join("x.pem").to_str().unwrap(),
        "--type",
        "dsa",
    ]);
    assert!(!unknown.status.success());
}
