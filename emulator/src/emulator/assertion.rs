//! `private_key_jwt` client-assertion verification, per version, as in e-Signet's
//! `TokenServiceImpl.verifyClientAssertionToken` (reference §3.2). Runs on every token request
//! after the code and redirect URI have been checked.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::config::{ClientRegistration, EsignetVersion};

/// The token endpoint's expectations for one request.
pub(crate) struct Expectations<'a> {
    pub version: EsignetVersion,
    /// Accepted `aud` values: the token endpoint URL, and on 1.8 also the issuer.
    pub audiences: &'a [String],
    pub now: i64,
}

impl Expectations<'_> {
    fn algorithms(&self) -> &'static [Algorithm] {
        match self.version {
            EsignetVersion::V1_4_1 => &[Algorithm::RS256],
            EsignetVersion::V1_8 => &[Algorithm::RS256, Algorithm::PS256, Algorithm::ES256],
        }
    }

    /// Clock leeway on `exp`, `nbf` and `iat`: 0 s through v1.5.0 (`setMaxClockSkew(0)`), 5 s
    /// from v1.5.1 (`mosip.esignet.client-assertion-jwt.leeway-seconds`, `TokenServiceImpl`).
    fn leeway(&self) -> i64 {
        match self.version {
            EsignetVersion::V1_4_1 => 0,
            EsignetVersion::V1_8 => 5,
        }
    }
}

/// Verifies `assertion` for `client`; returns its claims, or why it was refused. The `jti`
/// replay check is left to the caller, which owns the replay cache.
pub(crate) fn verify(
    assertion: &str,
    client: &ClientRegistration,
    expect: &Expectations<'_>,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| format!("client assertion is not a supported JWS: {e}"))?;
    if !expect.algorithms().contains(&header.alg) {
        return Err(format!(
            "client assertion alg {:?} is not accepted",
            header.alg
        ));
    }
    // Nimbus' JWKMatcher.forJWSHeader: kid, use and alg of the registered JWK must agree.
    let registered = &client.public_jwk;
    if let Some(kid) = &header.kid {
        if registered.get("kid").and_then(Value::as_str) != Some(kid.as_str()) {
            return Err("client assertion kid does not match the registered key".to_string());
        }
    }
    if let Some(key_use) = registered.get("use") {
        if key_use != "sig" {
            return Err("the registered key is not a signing key".to_string());
        }
    }
    if let Some(alg) = registered.get("alg") {
        let header_alg = serde_json::to_value(header.alg).unwrap_or(Value::Null);
        if *alg != header_alg {
            return Err(format!(
                "client assertion alg {:?} differs from the registered key's {alg}",
                header.alg
            ));
        }
    }
    let jwk: Jwk = serde_json::from_value(registered.clone())
        .map_err(|e| format!("the registered client key is not a usable JWK: {e}"))?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| format!("the registered client key is not usable: {e}"))?;
    // Only the signature here; claims are checked below with e-Signet's rules and leeway.
    let mut validation = Validation::new(header.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| format!("client assertion signature is invalid: {e}"))?
        .claims;
    check_claims(&claims, &client.client_id, expect)?;
    Ok(claims)
}

fn check_claims(claims: &Value, client_id: &str, expect: &Expectations<'_>) -> Result<(), String> {
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if string("iss") != Some(client_id) {
        return Err("client assertion iss must be the client_id".to_string());
    }
    if string("sub") != Some(client_id) {
        return Err("client assertion sub must be the client_id".to_string());
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => return Err("client assertion has no aud".to_string()),
    };
    if !audiences
        .iter()
        .any(|a| expect.audiences.iter().any(|e| e == a))
    {
        return Err(format!(
            "client assertion aud {audiences:?} is not the token endpoint ({})",
            expect.audiences.join(" or ")
        ));
    }
    let leeway = expect.leeway();
    let exp = number("exp").ok_or("client assertion has no exp")?;
    if expect.now > exp + leeway {
        return Err("client assertion has expired".to_string());
    }
    let iat = number("iat").ok_or("client assertion has no iat")?;
    if iat > expect.now + leeway {
        return Err("client assertion iat is in the future".to_string());
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_i64().ok_or("client assertion nbf is not a number")?;
        if nbf > expect.now + leeway {
            return Err("client assertion is not valid yet (nbf)".to_string());
        }
    }
    if expect.version.is_modern() && string("jti").is_none_or(str::is_empty) {
        return Err("client assertion has no jti".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(version: EsignetVersion, audiences: &[String]) -> Expectations<'_> {
        Expectations {
            version,
            audiences,
            now: 1_000_000,
        }
    }

    #[test]
    fn claim_rules_per_version() {
        let aud = vec!["http://idp/v1/esignet/oauth/v2/token".to_string()];
        let good = json!({"iss": "c", "sub": "c", "aud": aud[0], "iat": 1_000_000, "exp": 1_000_060, "jti": "j"});
        assert!(check_claims(&good, "c", &expect(EsignetVersion::V1_8, &aud)).is_ok());
        assert!(check_claims(&good, "d", &expect(EsignetVersion::V1_8, &aud)).is_err());

        let mut no_jti = good.clone();
        no_jti.as_object_mut().map(|o| o.remove("jti"));
        assert!(check_claims(&no_jti, "c", &expect(EsignetVersion::V1_4_1, &aud)).is_ok());
        assert!(check_claims(&no_jti, "c", &expect(EsignetVersion::V1_8, &aud)).is_err());

        // iat 3 s ahead: fine with 1.8's 5 s leeway, refused with 1.4.1's 0 s.
        let mut ahead = good.clone();
        ahead["iat"] = json!(1_000_003);
        assert!(check_claims(&ahead, "c", &expect(EsignetVersion::V1_8, &aud)).is_ok());
        assert!(check_claims(&ahead, "c", &expect(EsignetVersion::V1_4_1, &aud)).is_err());

        let mut expired = good.clone();
        expired["exp"] = json!(999_997);
        assert!(check_claims(&expired, "c", &expect(EsignetVersion::V1_8, &aud)).is_ok());
        assert!(check_claims(&expired, "c", &expect(EsignetVersion::V1_4_1, &aud)).is_err());

        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!(["http://idp/v1/esignet/oauth/token"]);
        assert!(check_claims(&wrong_aud, "c", &expect(EsignetVersion::V1_8, &aud)).is_err());
    }
}
