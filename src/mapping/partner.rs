//! Partner fields as OpenG2P forms them from a login.
//!
//! OpenG2P 17 creates the registrant (`res.partner`) from the mapped claims
//! (`OpenG2P/openg2p-registry @ 17.0 :
//! g2p_auth_id_oidc/models/g2p_auth_id_oidc_provider.py`,
//! `oidc_signin_process_name`, `oidc_signin_process_reg_ids`, and
//! `g2p_auth_oidc/models/auth_oauth_provider.py`,
//! `oidc_signin_process_birthdate`/`_picture`). The gateway forms the same
//! fields once, so a portal behind it reads them ready-made: in the identity
//! assertion (without the picture, which never goes in a header) and at the
//! session endpoint (with `image_1920`).

use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::MappedIdentity;

/// `oidc_signin_process_name`: `name.split(" ")`; the first word is the
/// given name, the last the family name, the words between the additional
/// name; the partner name is `"FAMILY, GIVEN ADDL"` upper-cased. Returns
/// (given, family, addl, partner name). Python's `split(" ")` keeps empty
/// words between double spaces, and so does this.
pub fn split_name(name: &str) -> (String, String, String, String) {
    let words: Vec<&str> = name.split(' ').collect();
    let given = words.first().copied().unwrap_or_default().to_string();
    let family = words.last().copied().unwrap_or_default().to_string();
    let addl = if words.len() > 2 {
        words[1..words.len() - 1].join(" ")
    } else {
        String::new()
    };
    let mut full = family.clone();
    if !given.is_empty() {
        full.push_str(", ");
        full.push_str(&given);
    }
    if !addl.is_empty() {
        full.push(' ');
        full.push_str(&addl);
    }
    (given, family, addl, full.to_uppercase())
}

/// The partner fields OpenG2P would set for this identity.
///
/// Runs when an identity assertion is minted (`with_image: false`) and at
/// the session endpoint (`with_image: true`). Keys: `name`, `given_name`,
/// `family_name`, `addl_name` (when a `name` claim is mapped), `gender`,
/// `birthdate` (already in `birthdate_format`), `email`, `phone`,
/// `reg_ids` (`[{id_type, value}]`: the registrant ID, then the
/// `user_id<N>` ones), and with `with_image` `image_1920`: the picture's
/// bytes in base64, as Odoo stores them after reading the data URI
/// (`http(s)` pictures are never fetched).
pub fn partner_fields(identity: &MappedIdentity, with_image: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let claims = identity.claims.to_map();
    if let Some(Value::String(name)) = claims.get("name") {
        let (given, family, addl, full) = split_name(name);
        out.insert("name".into(), Value::String(full));
        out.insert("given_name".into(), Value::String(given));
        out.insert("family_name".into(), Value::String(family));
        out.insert("addl_name".into(), Value::String(addl));
    }
    for key in ["gender", "birthdate", "email", "phone"] {
        if let Some(value) = claims.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    let reg_ids: Vec<Value> = std::iter::once(&identity.registrant_id)
        .chain(&identity.extra_registrant_ids)
        .map(|id| json!({ "id_type": id.id_type, "value": id.value }))
        .collect();
    out.insert("reg_ids".into(), Value::Array(reg_ids));
    if with_image {
        let picture = claims
            .get("picture")
            .cloned()
            .or_else(|| identity.verified_claims().remove("picture"));
        if let Some(image) = picture
            .as_ref()
            .and_then(Value::as_str)
            .and_then(data_uri_base64)
        {
            out.insert("image_1920".into(), Value::String(image));
        }
    }
    out
}

/// The bytes of a base64 `data:` URI, re-encoded as standard base64
/// (what Odoo's `base64.b64encode(urlopen(picture).read())` yields).
fn data_uri_base64(uri: &str) -> Option<String> {
    let rest = uri
        .get(..5)?
        .eq_ignore_ascii_case("data:")
        .then(|| &uri[5..])?;
    let (meta, payload) = rest.split_once(',')?;
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return None;
    }
    // Python's b64decode (behind urlopen's data: handler) is lenient about
    // padding; so is this.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let cleaned: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = LENIENT.decode(cleaned).ok()?;
    Some(STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_like_openg2p() {
        assert_eq!(
            split_name("Siddharth K Mansour"),
            (
                "Siddharth".into(),
                "Mansour".into(),
                "K".into(),
                "MANSOUR, SIDDHARTH K".into()
            )
        );
        assert_eq!(
            split_name("Bakary Moussa Keita Traore"),
            (
                "Bakary".into(),
                "Traore".into(),
                "Moussa Keita".into(),
                "TRAORE, BAKARY MOUSSA KEITA".into()
            )
        );
        // One word: OpenG2P uses it as both given and family name.
        assert_eq!(split_name("Madonna").3, "MADONNA, MADONNA");
        assert_eq!(split_name("Jean  Doe").2, "");
    }

    #[test]
    fn data_uris_only() {
        assert_eq!(
            data_uri_base64("data:image/png;base64,AAEC").as_deref(),
            Some("AAEC")
        );
        assert_eq!(
            data_uri_base64("DATA:image/jpeg;base64,AA==").as_deref(),
            Some("AA==")
        );
        assert_eq!(data_uri_base64("https://x/p.png"), None);
        assert_eq!(data_uri_base64("data:text/plain,hi"), None);
        assert_eq!(data_uri_base64("data:image/png;base64,@@@"), None);
    }
}
