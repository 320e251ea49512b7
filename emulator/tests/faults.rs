//! Every fault produces what it says.

mod common;

use common::*;
use esignet_emulator::emulator::psut;
use esignet_emulator::{
    Emulator, EsignetVersion, Faults, IdTokenFault, TokenEndpointFault, UserinfoFault,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Logs in with `nonce` and returns the token response.
async fn tokens(emu: &Emulator, nonce: &str) -> Value {
    let http = http();
    let code = code_for(&http, emu, &[("nonce", nonce), ("scope", "openid profile")]).await;
    let (status, body) = exchange(&http, emu, &code).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn faulty_id_token(fault: IdTokenFault) -> (Emulator, String, String, String) {
    let emu = start(EsignetVersion::V1_8).await;
    emu.set_faults(Faults {
        id_token: Some(fault),
        ..Faults::default()
    });
    let nonce = random();
    let body = tokens(&emu, &nonce).await;
    let id = body["id_token"].as_str().expect("id").to_string();
    let access = body["access_token"].as_str().expect("access").to_string();
    (emu, id, access, nonce)
}

#[tokio::test]
async fn id_token_faults() {
    let http = http();
    for fault in [
        IdTokenFault::BadSignature,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::Expired,
        IdTokenFault::IssuedInFuture,
        IdTokenFault::NonceMismatch,
        IdTokenFault::MissingNonce,
        IdTokenFault::UnknownKid,
        IdTokenFault::AlgNone,
        IdTokenFault::Hs256WithPublicKey,
        IdTokenFault::WrongAtHash,
        IdTokenFault::MissingSub,
    ] {
        let (emu, id, access, nonce) = faulty_id_token(fault).await;
        let set = jwks(&http, &emu).await;
        let esignet_kid = set.keys[0].common.key_id.clone().expect("kid");
        let (header, claims) = unverified(&id);
        let verified = verify(&id, &set, CLIENT_ID);
        let now = now();
        match fault {
            IdTokenFault::BadSignature => {
                assert_eq!(header["kid"], esignet_kid.as_str());
                let err = verified.expect_err("bad signature");
                assert!(err.contains("InvalidSignature"), "{err}");
            }
            IdTokenFault::UnknownKid => {
                assert!(set.find(header["kid"].as_str().expect("kid")).is_none());
                assert_eq!(verified.expect_err("unknown kid"), "unknown kid");
            }
            IdTokenFault::WrongIssuer => {
                verified.expect("signature fine");
                assert_ne!(claims["iss"], emu.issuer());
            }
            IdTokenFault::WrongAudience => {
                assert!(verified.expect_err("aud").contains("InvalidAudience"));
                assert_ne!(claims["aud"], CLIENT_ID);
            }
            IdTokenFault::Expired => {
                assert!(verified.expect_err("expired").contains("ExpiredSignature"));
                let exp = claims["exp"].as_i64().expect("exp");
                assert!((now - 610..=now - 590).contains(&exp));
            }
            IdTokenFault::IssuedInFuture => {
                verified.expect("signature fine");
                let iat = claims["iat"].as_i64().expect("iat");
                assert!((now + 590..=now + 610).contains(&iat));
            }
            IdTokenFault::NonceMismatch => {
                verified.expect("signature fine");
                assert!(claims["nonce"].is_string());
                assert_ne!(claims["nonce"], nonce.as_str());
            }
            IdTokenFault::MissingNonce => {
                verified.expect("signature fine");
                assert!(claims.get("nonce").is_none());
            }
            IdTokenFault::AlgNone => {
                assert_eq!(header["alg"], "none");
                assert!(id.ends_with('.'));
                assert!(verified.is_err());
            }
            IdTokenFault::Hs256WithPublicKey => {
                assert_eq!(header["alg"], "HS256");
                assert_eq!(header["kid"], esignet_kid.as_str());
                // The MAC really is keyed with the public key's PEM.
                let pem = public_pem(&set.keys[0]);
                let mut validation = Validation::new(Algorithm::HS256);
                validation.set_audience(&[CLIENT_ID]);
                jsonwebtoken::decode::<Value>(
                    &id,
                    &DecodingKey::from_secret(pem.as_bytes()),
                    &validation,
                )
                .expect("HS256 keyed with the public PEM");
            }
            IdTokenFault::WrongAtHash => {
                verified.expect("signature fine");
                assert_ne!(
                    claims["at_hash"].as_str(),
                    Some(expected_at_hash(&access).as_str())
                );
            }
            IdTokenFault::MissingSub => {
                verified.expect("signature fine");
                assert!(claims.get("sub").is_none());
            }
        }
    }
}

fn expected_at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The SPKI PEM of a JWKS RSA key.
fn public_pem(jwk: &jsonwebtoken::jwk::Jwk) -> String {
    use base64::Engine;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let jsonwebtoken::jwk::AlgorithmParameters::RSA(params) = &jwk.algorithm else {
        panic!("RSA key expected");
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let n = rsa::BigUint::from_bytes_be(&b64.decode(&params.n).expect("n"));
    let e = rsa::BigUint::from_bytes_be(&b64.decode(&params.e).expect("e"));
    rsa::RsaPublicKey::new(n, e)
        .expect("key")
        .to_public_key_pem(LineEnding::LF)
        .expect("pem")
}

#[tokio::test]
async fn userinfo_faults() {
    let http = http();
    for fault in [
        UserinfoFault::SubMismatch,
        UserinfoFault::UnsignedJson,
        UserinfoFault::BadSignature,
        UserinfoFault::UnknownKid,
        UserinfoFault::SignedOnlyWhenAsked,
    ] {
        let emu = start(EsignetVersion::V1_8).await;
        emu.set_faults(Faults {
            userinfo: Some(fault),
            ..Faults::default()
        });
        let body = tokens(&emu, &random()).await;
        let response = userinfo(&http, &emu, body["access_token"].as_str().expect("access")).await;
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ct")
            .to_string();
        let text = response.text().await.expect("body");
        let set = jwks(&http, &emu).await;
        let id_system_kid = set.keys[1].common.key_id.clone().expect("kid");
        match fault {
            UserinfoFault::SubMismatch => {
                assert_eq!(content_type, "application/jwt");
                let (_, info) = verify(&text, &set, CLIENT_ID).expect("signature fine");
                assert_ne!(info["sub"], psut(SIDDHARTH, CLIENT_ID));
            }
            UserinfoFault::UnsignedJson => {
                assert_eq!(content_type, "application/json");
                let info: Value = serde_json::from_str(&text).expect("plain JSON");
                assert_eq!(info["sub"], psut(SIDDHARTH, CLIENT_ID));
            }
            UserinfoFault::BadSignature => {
                assert_eq!(unverified(&text).0["kid"], id_system_kid.as_str());
                assert!(verify(&text, &set, CLIENT_ID)
                    .expect_err("bad")
                    .contains("InvalidSignature"));
            }
            UserinfoFault::UnknownKid => {
                assert_eq!(
                    verify(&text, &set, CLIENT_ID).expect_err("kid"),
                    "unknown kid"
                );
            }
            UserinfoFault::SignedOnlyWhenAsked => {
                // Not asked: plain JSON. Asked: the signed JWT.
                assert_eq!(content_type, "application/json");
                let asked = http
                    .get(format!("{}/v1/esignet/oidc/userinfo", emu.base_url()))
                    .bearer_auth(body["access_token"].as_str().expect("access"))
                    .header("accept", "application/jwt")
                    .send()
                    .await
                    .expect("userinfo");
                assert_eq!(asked.headers()["content-type"], "application/jwt");
                let text = asked.text().await.expect("body");
                let (_, info) = verify(&text, &set, CLIENT_ID).expect("signed");
                assert_eq!(info["sub"], psut(SIDDHARTH, CLIENT_ID));
            }
        }
    }
}

#[tokio::test]
async fn token_endpoint_faults() {
    let http = http();
    let emu = start(EsignetVersion::V1_8).await;
    let code = code_for(&http, &emu, &[]).await;
    emu.set_faults(Faults {
        token_endpoint: Some(TokenEndpointFault::ServerError),
        ..Faults::default()
    });
    let (status, body) = exchange(&http, &emu, &code).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "unknown_error");

    emu.set_faults(Faults {
        token_endpoint: Some(TokenEndpointFault::Status(503)),
        ..Faults::default()
    });
    assert_eq!(exchange(&http, &emu, &code).await.0, 503);

    emu.set_faults(Faults {
        token_endpoint: Some(TokenEndpointFault::Garbage),
        ..Faults::default()
    });
    let assertion = sign_assertion(&assertion_claims(&emu), Algorithm::RS256, None);
    let response = http
        .post(emu.token_endpoint())
        .form(&token_form(&code, &assertion))
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    // Faults consume nothing: the code still works once they are cleared.
    emu.set_faults(Faults::default());
    assert_eq!(exchange(&http, &emu, &code).await.0, 200);
    let statuses: Vec<u16> = emu.token_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 503, 200, 200]);
}

/// A failing KYC exchange: 1.4.1 answers 500 `data_exchange_failed`, 1.8 400 `invalid_request`
/// (`ExceptionHandlerAdvice`, v1.4.1 and v1.8.0).
#[tokio::test]
async fn kyc_exchange_failure_per_version() {
    let http = http();
    for (version, status, error) in [
        (EsignetVersion::V1_4_1, 500, "data_exchange_failed"),
        (EsignetVersion::V1_8, 400, "invalid_request"),
    ] {
        let emu = start(version).await;
        let code = code_for(&http, &emu, &[]).await;
        emu.set_faults(Faults {
            token_endpoint: Some(TokenEndpointFault::KycExchangeFailed),
            ..Faults::default()
        });
        let (got, body) = exchange(&http, &emu, &code).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{version}"
        );
    }
}

/// mock 0.9.3 (1.4.1 era) signs only `sub` and the claims; mock 0.13.0 adds `iss` and `aud`.
#[tokio::test]
async fn userinfo_iss_and_aud_only_in_the_1_8_mode() {
    let http = http();
    for (version, has_iss) in [
        (EsignetVersion::V1_4_1, false),
        (EsignetVersion::V1_8, true),
    ] {
        let emu = start(version).await;
        let body = tokens(&emu, &random()).await;
        let response = userinfo(&http, &emu, body["access_token"].as_str().expect("access")).await;
        let text = response.text().await.expect("body");
        let (_, info) = unverified(&text);
        assert_eq!(info.get("iss").is_some(), has_iss, "{version}: {info}");
        assert_eq!(info.get("aud").is_some(), has_iss, "{version}: {info}");
        assert!(info["sub"].is_string());
    }
}

/// The mock derives the PSUT from the relying-party id the client is registered under, not
/// from the client id (`saveKycAuthTransaction`).
#[tokio::test]
async fn psut_comes_from_the_relying_party_id() {
    let emu = start(EsignetVersion::V1_8).await;
    let mut client = test_client();
    client.relying_party_id = Some("openg2p-auth-partner".into());
    emu.register_client(client);
    let body = tokens(&emu, &random()).await;
    let (_, id_token) = unverified(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id_token["sub"], psut(SIDDHARTH, "openg2p-auth-partner"));
    assert_ne!(id_token["sub"], psut(SIDDHARTH, CLIENT_ID));
    assert_eq!(
        emu.expected_sub(SIDDHARTH, CLIENT_ID),
        psut(SIDDHARTH, "openg2p-auth-partner")
    );
}
