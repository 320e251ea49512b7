//! Unit tests for the OpenG2P claim mapping.

use serde_json::json;

use super::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Parses `from:to from:to` pairs like the config does.
fn pairs(spec: &str) -> Vec<(String, String)> {
    spec.split_whitespace()
        .filter_map(|p| p.split_once(':'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// OpenG2P's defaults.
fn defaults() -> MappingSettings {
    MappingSettings {
        token_map: pairs("sub:user_id"),
        userinfo_map: pairs(
            "name:name email:email phone_number:phone birthdate:birthdate gender:gender address:address",
        ),
        registrant_id_type: "MOSIP PSUT".into(),
        default_group: "portal".to_string(),
        login_attribute: "email".to_string(),
        birthdate_format: BirthdateFormat::default(),
    }
}

/// A JSON object literal as a claim map.
fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("test input must be an object"),
    }
}

/// Locale list from string literals.
fn locales(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The §8.4 ID token, shaped as e-Signet builds it (v1.4.1
/// `TokenServiceImpl.getIDToken`, v1.8.0 `buildIDToken`): no user claims at
/// all, not even `individual_id`, which only userinfo carries.
fn sample_id_token() -> Map<String, Value> {
    obj(json!({
        "iss": "https://esignet.example.org",
        "sub": "mH3x0Yw2pQ-PSUT",
        "aud": "openg2p-portal-1",
        "iat": 1718000005, "exp": 1718003605, "auth_time": 1718000001,
        "nonce": "Qe8t1o2Vv0cJb7xZ",
        "acr": "mosip:idp:acr:generated-code",
        "at_hash": "3fQ9wq2Zx1V7kYc0L8mN4A"
    }))
}

/// The §8.6 userinfo payload.
fn sample_userinfo() -> Map<String, Value> {
    obj(json!({
        "sub": "mH3x0Yw2pQ-PSUT",
        "iss": "https://esignet.example.org/v1/esignet",
        "aud": "openg2p-portal-1",
        "name": "Siddharth K Mansour",
        "gender": "Male",
        "birthdate": "1987/11/25",
        "email": "siddharth@example.org",
        "phone_number": "+919427357934",
        "individual_id": "8267411571",
        "address": {
            "street_address": "#991, 5th Main",
            "locality": "Cmattey",
            "region": "Kénitra",
            "postal_code": "45009",
            "country": "Morocco"
        },
        "picture": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD"
    }))
}

/// Maps with defaults and the given userinfo, no locale preference.
fn map_userinfo(userinfo: Value, prefs: &[&str]) -> MappingOutcome {
    map_identity_with_warnings(
        &defaults(),
        &sample_id_token(),
        &obj(userinfo),
        &locales(prefs),
    )
    .expect("maps")
}

#[test]
fn default_maps_on_the_sample() {
    let outcome = map_identity_with_warnings(
        &defaults(),
        &sample_id_token(),
        &sample_userinfo(),
        &locales(&["en"]),
    )
    .expect("maps");
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let id = outcome.identity;
    assert_eq!(&*id.user_id, "mH3x0Yw2pQ-PSUT");
    assert_eq!(
        id.registrant_id,
        RegistrantId {
            id_type: "MOSIP PSUT".into(),
            value: "mH3x0Yw2pQ-PSUT".into()
        }
    );
    assert_eq!(id.login, "siddharth@example.org");
    assert_eq!(id.groups, vec!["portal".to_string()]);
    assert_eq!(
        Value::Object(id.claims.to_map()),
        json!({
            "name": "Siddharth K Mansour",
            "email": "siddharth@example.org",
            "phone": "+919427357934",
            "birthdate": "1987-11-25",
            "gender": "Male",
            "address": {
                "street_address": "#991, 5th Main",
                "locality": "Cmattey",
                "region": "Kénitra",
                "postal_code": "45009",
                "country": "Morocco"
            }
        })
    );
}

#[test]
fn map_identity_equals_the_identity_of_the_outcome() {
    let plain = map_identity(
        &defaults(),
        &sample_id_token(),
        &sample_userinfo(),
        &locales(&["en"]),
    )
    .expect("maps");
    let full = map_identity_with_warnings(
        &defaults(),
        &sample_id_token(),
        &sample_userinfo(),
        &locales(&["en"]),
    )
    .expect("maps");
    assert_eq!(plain, full.identity);
}

#[test]
fn missing_claims_are_absent_not_empty() {
    let id = map_userinfo(json!({"name": "A", "email": "", "gender": null}), &[]).identity;
    assert_eq!(Value::Object(id.claims.to_map()), json!({"name": "A"}));
}

#[test]
fn two_letter_suffixes_follow_preference_order() {
    let userinfo = json!({"name#en": "John Doe", "name#fr": "Jean Doe"});
    let fr_first = map_userinfo(userinfo.clone(), &["fr", "en"]).identity;
    assert_eq!(fr_first.claims.to_map()["name"], "Jean Doe");
    let en_first = map_userinfo(userinfo, &["en", "fr"]).identity;
    assert_eq!(en_first.claims.to_map()["name"], "John Doe");
}

#[test]
fn three_letter_suffixes_mock_style() {
    let userinfo = json!({
        "name#eng": "John Doe", "name#fra": "Jean Doe",
        "gender#eng": "male", "gender#fra": "mâle"
    });
    let id = map_userinfo(userinfo.clone(), &["fr", "en"]).identity;
    assert_eq!(id.claims.to_map()["name"], "Jean Doe");
    assert_eq!(id.claims.to_map()["gender"], "Mâle");
    let id = map_userinfo(userinfo.clone(), &["eng"]).identity;
    assert_eq!(id.claims.to_map()["name"], "John Doe");
    let id = map_userinfo(userinfo, &["fr-FR"]).identity;
    assert_eq!(id.claims.to_map()["name"], "Jean Doe");
}

#[test]
fn two_letter_preferred_over_three_letter_of_same_locale_then_next_locale() {
    let userinfo = json!({"name#fra": "Jean", "name#fr": "Jean2", "name#en": "John"});
    assert_eq!(
        map_userinfo(userinfo, &["fr", "en"])
            .identity
            .claims
            .to_map()["name"],
        "Jean2"
    );
    // Preference order beats code length: `fra` (first locale) beats `en`.
    let userinfo = json!({"name#fra": "Jean", "name#en": "John"});
    assert_eq!(
        map_userinfo(userinfo, &["fr", "en"])
            .identity
            .claims
            .to_map()["name"],
        "Jean"
    );
}

#[test]
fn plain_key_beats_suffixed_keys() {
    let userinfo = json!({"name": "Plain", "name#fr": "Jean"});
    assert_eq!(
        map_userinfo(userinfo, &["fr"]).identity.claims.to_map()["name"],
        "Plain"
    );
}

#[test]
fn suffix_match_ignores_case() {
    let userinfo = json!({"name#FR": "Jean", "name#en": "John"});
    assert_eq!(
        map_userinfo(userinfo, &["FR"]).identity.claims.to_map()["name"],
        "Jean"
    );
}

#[test]
fn no_preference_match_takes_first_sorted() {
    let userinfo = json!({"name#km": "K", "name#ara": "A", "name#fr": "F"});
    assert_eq!(
        map_userinfo(userinfo.clone(), &["en"])
            .identity
            .claims
            .to_map()["name"],
        "A"
    );
    assert_eq!(
        map_userinfo(userinfo, &[]).identity.claims.to_map()["name"],
        "A"
    );
}

#[test]
fn suffixed_null_or_empty_values_are_skipped() {
    let userinfo = json!({"name#fr": "", "name#en": null, "name#km": "K"});
    assert_eq!(
        map_userinfo(userinfo, &["fr", "en"])
            .identity
            .claims
            .to_map()["name"],
        "K"
    );
}

#[test]
fn address_outer_and_inner_suffixes() {
    let userinfo = json!({
        "address#en": {"formatted#en": "1 Main St", "formatted#fr": "1 rue Principale"},
        "address#fr": {"formatted#fr": "1 rue Principale"}
    });
    let id = map_userinfo(userinfo, &["en", "fr"]).identity;
    assert_eq!(
        id.claims.to_map()["address"],
        json!({"formatted": "1 Main St"})
    );

    let userinfo = json!({"address": {
        "locality#eng": "Rabat", "locality#ara": "الرباط",
        "country": "Morocco", "postal_code#eng": "10000",
        "region#fra": "Rabat-Salé", "#eng": "no base", "zoneinfo": null
    }});
    let id = map_userinfo(userinfo, &["ar", "en"]).identity;
    assert_eq!(
        id.claims.to_map()["address"],
        json!({
            "locality": "الرباط",
            "country": "Morocco",
            "postal_code": "10000",
            "region": "Rabat-Salé"
        })
    );
}

#[test]
fn string_address_stays_a_string_and_picture_is_kept() {
    let mut settings = defaults();
    settings
        .userinfo_map
        .push(("picture".into(), "picture".into()));
    let id = map_identity(
        &settings,
        &sample_id_token(),
        &obj(json!({"address": "1 Main St", "picture": "data:image/png;base64,AAAA"})),
        &[],
    )
    .expect("maps");
    assert_eq!(id.claims.to_map()["address"], "1 Main St");
    assert_eq!(id.claims.to_map()["picture"], "data:image/png;base64,AAAA");
}

#[test]
fn birthdate_conversions() {
    for (input, want) in [
        ("1987/11/25", "1987-11-25"),
        ("1987-11-25", "1987-11-25"),
        ("1987/1/5", "1987-01-05"),
        ("1987-1-05", "1987-01-05"),
        (" 2000/02/29 ", "2000-02-29"),
        ("2024/02/29", "2024-02-29"),
        ("0001/01/01", "0001-01-01"),
    ] {
        let id = map_userinfo(json!({ "birthdate": input }), &[]).identity;
        assert_eq!(id.claims.to_map()["birthdate"], want, "{input}");
    }
}

#[test]
fn invalid_birthdates_are_dropped_with_a_warning() {
    for input in [
        "1987/13/01",
        "1987/02/29",
        "1900/02/29",
        "1987/04/31",
        "1987/00/10",
        "1987/10/00",
        "0000/01/01",
        "87/11/25",
        "1987/11-25",
        "1987/11/25/1",
        "1987/11",
        "25/11/1987",
        "1987/११/25",
        "+1987/11/25",
        "1987/011/25",
        "1987-11-25T00:00:00Z",
        "1987/ 1/25",
        "garbage",
    ] {
        let outcome = map_userinfo(json!({ "birthdate": input }), &[]);
        assert!(
            !outcome.identity.claims.contains_key("birthdate"),
            "{input}"
        );
        assert_eq!(
            outcome.warnings,
            vec![MappingWarning::InvalidDate {
                claim: "birthdate".into()
            }],
            "{input}"
        );
        assert!(!outcome.warnings[0].to_string().contains(input));
    }
    let outcome = map_userinfo(json!({ "birthdate": 19871125 }), &[]);
    assert!(!outcome.identity.claims.contains_key("birthdate"));
    assert_eq!(
        outcome.warnings,
        vec![MappingWarning::UnexpectedShape {
            claim: "birthdate".into(),
            expected: "a string",
            found: "a number"
        }]
    );
}

#[test]
fn gender_is_capitalised_like_python() {
    for (input, want) in [
        ("male", "Male"),
        ("MALE", "Male"),
        ("Male", "Male"),
        ("mâle", "Mâle"),
        ("FÉMININ", "Féminin"),
        ("non-binary", "Non-binary"),
        ("x", "X"),
        ("ßa", "Ssa"),
        ("ǆX", "ǅx"),
        ("ΑΣ", "Ας"),
        ("İSTANBUL", "İstanbul"),
        (" male", " male"),
        ("1ST", "1st"),
    ] {
        let id = map_userinfo(json!({ "gender": input }), &[]).identity;
        assert_eq!(id.claims.to_map()["gender"], want, "{input}");
    }
    let outcome = map_userinfo(json!({ "gender": ["male"] }), &[]);
    assert!(!outcome.identity.claims.contains_key("gender"));
    assert_eq!(outcome.warnings.len(), 1);
}

#[test]
fn missing_sub_fails() {
    for token in [
        json!({}),
        json!({"sub": null}),
        json!({"sub": ""}),
        json!({"sub": "   "}),
    ] {
        // `sub:user_id` is configured, so a missing `sub` is a missing
        // source (blank text is found, then refused as no id).
        let err = map_identity(&defaults(), &obj(token.clone()), &Map::new(), &[]).unwrap_err();
        let sub_source = MappingError::MissingUserIdSource {
            claim: "sub".into(),
            target: "user_id".into(),
        };
        assert!(
            err == sub_source || err == MappingError::MissingUserId,
            "{err:?}"
        );
        let mut settings = defaults();
        settings.token_map.clear();
        assert_eq!(
            map_identity(&settings, &obj(token), &Map::new(), &[]),
            Err(MappingError::MissingUserId)
        );
    }
}

#[test]
fn unusable_sub_fails() {
    for token in [
        json!({"sub": true}),
        json!({"sub": [1]}),
        json!({"sub": {"a": 1}}),
        json!({"sub": 1.5}),
        json!({"sub": 1e40}),
        json!({"sub": "a\nb"}),
        json!({"sub": "x".repeat(1025)}),
    ] {
        assert!(matches!(
            map_identity(&defaults(), &obj(token), &Map::new(), &[]),
            Err(MappingError::InvalidUserId { .. })
        ));
    }
}

#[test]
fn userinfo_for_another_subject_fails() {
    let err = map_identity(
        &defaults(),
        &sample_id_token(),
        &obj(json!({"sub": "someone-else", "name": "X"})),
        &[],
    );
    assert_eq!(err, Err(MappingError::SubjectMismatch));
    // No `sub` in userinfo: left to the OIDC layer.
    assert!(map_identity(
        &defaults(),
        &sample_id_token(),
        &obj(json!({"name": "X"})),
        &[]
    )
    .is_ok());
}

#[test]
fn numeric_sub_is_converted() {
    let id =
        map_identity(&defaults(), &obj(json!({"sub": 12345})), &Map::new(), &[]).expect("maps");
    assert_eq!(&*id.user_id, "12345");
    assert_eq!(&*id.registrant_id.value, "12345");
    let id = map_identity(&defaults(), &obj(json!({"sub": -7})), &Map::new(), &[]).expect("maps");
    assert_eq!(&*id.user_id, "-7");
}

/// Issue 13 item 1: `individual_id:user_id` on a real-shaped token pair
/// keys the registrant on the national ID from userinfo, never on the PSUT.
#[test]
fn individual_id_user_id_comes_from_userinfo_of_a_real_token_pair() {
    let mut settings = defaults();
    settings.token_map = pairs("individual_id:user_id");
    settings.registrant_id_type = "NATIONAL ID".into();
    let id_token = sample_id_token();
    assert!(
        !id_token.contains_key("individual_id"),
        "real ID tokens carry no user claims"
    );
    let id = map_identity(&settings, &id_token, &sample_userinfo(), &[]).expect("maps");
    assert_eq!(&*id.user_id, "8267411571");
    assert_eq!(&*id.registrant_id.id_type, "NATIONAL ID");
    assert_eq!(&*id.registrant_id.value, "8267411571");
}

#[test]
fn a_missing_user_id_source_refuses_instead_of_falling_back_to_sub() {
    let mut settings = defaults();
    settings.token_map = pairs("individual_id:user_id");
    let mut userinfo = sample_userinfo();
    userinfo.remove("individual_id");
    let err = map_identity(&settings, &sample_id_token(), &userinfo, &[]).unwrap_err();
    assert_eq!(
        err,
        MappingError::MissingUserIdSource {
            claim: "individual_id".into(),
            target: "user_id".into()
        }
    );
    assert!(err.to_string().contains("individual_id"), "{err}");
    assert!(
        !err.to_string().contains("mH3x0Yw2pQ"),
        "no values in errors"
    );
}

#[test]
fn repeated_targets_take_the_last_entry_as_openg2p_17() {
    let mut settings = defaults();
    // OpenG2P 17 `map_validation_values` assigns in order: the last wins,
    // even when its source is missing (no fallback to an earlier entry).
    settings.token_map = pairs("sub:user_id individual_id:user_id");
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(&*id.user_id, "8267411571");
    settings.token_map = pairs("individual_id:user_id sub:user_id");
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(&*id.user_id, "mH3x0Yw2pQ-PSUT");
    settings.token_map = pairs("sub:user_id email:contact name:contact nope:nick email:nick");
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(id.claims.get("contact"), Some(json!("Siddharth K Mansour")));
    assert_eq!(id.claims.get("nick"), Some(json!("siddharth@example.org")));
    settings.token_map = pairs("sub:user_id email:nick nope:nick");
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(id.claims.get("nick"), None);
}

#[test]
fn user_id_n_targets_become_extra_registrant_ids() {
    let mut settings = defaults();
    settings.token_map = pairs("sub:user_id individual_id:user_id4 phone_number:user_id7");
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(&*id.user_id, "mH3x0Yw2pQ-PSUT");
    assert_eq!(
        id.extra_registrant_ids,
        vec![
            RegistrantId {
                id_type: "4".into(),
                value: "8267411571".into()
            },
            RegistrantId {
                id_type: "7".into(),
                value: "+919427357934".into()
            },
        ]
    );
    assert!(id.claims.get("user_id4").is_none());
    let partner = partner_fields(&id, false);
    assert_eq!(
        partner["reg_ids"],
        json!([
            {"id_type": "MOSIP PSUT", "value": "mH3x0Yw2pQ-PSUT"},
            {"id_type": "4", "value": "8267411571"},
            {"id_type": "7", "value": "+919427357934"},
        ])
    );
    // Missing source: refused, like user_id itself.
    settings.token_map = pairs("sub:user_id nope:user_id2");
    assert_eq!(
        map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]),
        Err(MappingError::MissingUserIdSource {
            claim: "nope".into(),
            target: "user_id2".into()
        })
    );
}

#[test]
fn dotted_sources_read_into_objects() {
    let mut settings = defaults();
    settings.token_map = pairs("sub:user_id address.locality:town address.nope:x");
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(id.claims.get("town"), Some(json!("Cmattey")));
    assert_eq!(id.claims.get("x"), None);
}

#[test]
fn partner_fields_as_openg2p_forms_them() {
    let mut settings = defaults();
    settings.birthdate_format = BirthdateFormat::parse("%Y/%m/%d").unwrap();
    settings.userinfo_map.extend(pairs("picture:picture"));
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let partner = partner_fields(&id, true);
    assert_eq!(partner["name"], "MANSOUR, SIDDHARTH K");
    assert_eq!(partner["given_name"], "Siddharth");
    assert_eq!(partner["family_name"], "Mansour");
    assert_eq!(partner["addl_name"], "K");
    assert_eq!(partner["birthdate"], "1987/11/25");
    assert_eq!(partner["gender"], "Male");
    assert_eq!(partner["phone"], "+919427357934");
    // The JPEG bytes of the data URI, canonical base64 (Odoo's b64encode).
    assert_eq!(partner["image_1920"], "/9j/4AAQSkZJRgABAQAAAQABAAA=");
    assert!(partner.get("picture").is_none());
    assert!(partner_fields(&id, false).get("image_1920").is_none());
}

#[test]
fn verified_claims_are_the_merge_without_token_mechanics() {
    let id = map_identity(&defaults(), &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let verified = Value::Object(id.verified_claims());
    let mut expected = sample_userinfo();
    expected.remove("iss");
    expected.remove("aud");
    assert_eq!(verified, Value::Object(expected));
    // The picture is kept for the portal, but never rendered for a header.
    assert!(id.verified_claims().contains_key("picture"));
    assert_eq!(id.value_for("picture"), None);
}

#[test]
fn token_map_other_targets_become_claims() {
    let mut settings = defaults();
    settings.token_map = pairs("sub:user_id individual_id:national_id acr:acr_used missing:x");
    let userinfo = obj(json!({"sub": "mH3x0Yw2pQ-PSUT", "individual_id": "8267411571"}));
    let id = map_identity(&settings, &sample_id_token(), &userinfo, &[]).expect("maps");
    assert_eq!(
        Value::Object(id.claims.to_map()),
        json!({"national_id": "8267411571", "acr_used": "mosip:idp:acr:generated-code"})
    );
}

#[test]
fn userinfo_overrides_token_map_but_absence_does_not() {
    let mut settings = defaults();
    settings.token_map = pairs("sub:user_id acr:nid acr:name");
    settings.userinfo_map = pairs("individual_id:nid name:name");
    let id = map_identity(
        &settings,
        &sample_id_token(),
        &obj(json!({"individual_id": "from-userinfo"})),
        &[],
    )
    .expect("maps");
    assert_eq!(id.claims.to_map()["nid"], "from-userinfo");
    assert_eq!(
        id.claims.to_map()["name"],
        "mosip:idp:acr:generated-code",
        "absent userinfo name kept token value"
    );
}

#[test]
fn reserved_targets_are_ignored_with_warnings() {
    let mut settings = defaults();
    settings.token_map = pairs("sub:user_id acr:groups");
    settings.userinfo_map = pairs("individual_id:user_id name:login email:email");
    let outcome = map_identity_with_warnings(
        &settings,
        &sample_id_token(),
        &obj(json!({"sub": "mH3x0Yw2pQ-PSUT", "individual_id": "attacker", "name": "N", "email": "e@x"})),
        &[],
    )
    .expect("maps");
    let id = outcome.identity;
    assert_eq!(&*id.user_id, "mH3x0Yw2pQ-PSUT");
    assert_eq!(id.login, "e@x");
    assert_eq!(id.groups, vec!["portal".to_string()]);
    assert_eq!(Value::Object(id.claims.to_map()), json!({"email": "e@x"}));
    assert_eq!(
        outcome.warnings,
        vec![
            MappingWarning::ReservedTarget {
                target: "groups".into()
            },
            MappingWarning::ReservedTarget {
                target: "user_id".into()
            },
            MappingWarning::ReservedTarget {
                target: "login".into()
            },
        ]
    );
}

#[test]
fn login_falls_back_to_user_id() {
    for userinfo in [
        json!({}),
        json!({"email": ""}),
        json!({"email": "  "}),
        json!({"email": 5}),
        json!({"email": null}),
    ] {
        let id = map_userinfo(userinfo, &[]).identity;
        assert_eq!(id.login, "mH3x0Yw2pQ-PSUT");
    }
    let mut settings = defaults();
    settings.login_attribute = "phone".into();
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert_eq!(id.login, "+919427357934");
}

#[test]
fn empty_default_group_gives_no_groups() {
    let mut settings = defaults();
    settings.default_group = String::new();
    let id = map_identity(&settings, &sample_id_token(), &Map::new(), &[]).expect("maps");
    assert!(id.groups.is_empty());
    assert_eq!(id.value_for("groups"), None);
}

#[test]
fn value_for_each_key() {
    let mut settings = defaults();
    settings.userinfo_map.extend(pairs(
        "picture:picture picture:photo individual_id:nid phone_number_verified:pv updated_at:ua verified_claims:vc",
    ));
    let mut userinfo = sample_userinfo();
    userinfo.insert("phone_number_verified".into(), json!(true));
    userinfo.insert("updated_at".into(), json!(1718000000));
    userinfo.insert("verified_claims".into(), json!([{"a": 1}]));
    let id = map_identity(&settings, &sample_id_token(), &userinfo, &["en".into()]).expect("maps");
    assert_eq!(id.value_for("user_id").as_deref(), Some("mH3x0Yw2pQ-PSUT"));
    assert_eq!(
        id.value_for("registrant_id").as_deref(),
        Some("mH3x0Yw2pQ-PSUT")
    );
    assert_eq!(
        id.value_for("registrant_id_type").as_deref(),
        Some("MOSIP PSUT")
    );
    assert_eq!(
        id.value_for("login").as_deref(),
        Some("siddharth@example.org")
    );
    assert_eq!(id.value_for("groups").as_deref(), Some("portal"));
    assert_eq!(id.value_for("name").as_deref(), Some("Siddharth K Mansour"));
    assert_eq!(id.value_for("birthdate").as_deref(), Some("1987-11-25"));
    assert_eq!(id.value_for("nid").as_deref(), Some("8267411571"));
    assert_eq!(id.value_for("pv").as_deref(), Some("true"));
    assert_eq!(id.value_for("ua").as_deref(), Some("1718000000"));
    assert_eq!(id.value_for("vc").as_deref(), Some(r#"[{"a":1}]"#));
    let address = id.value_for("address").expect("address");
    assert!(
        address.starts_with('{') && !address.contains('\n'),
        "{address}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&address).expect("json"),
        id.claims.to_map()["address"]
    );
    assert!(id.claims.contains_key("picture"));
    assert_eq!(id.value_for("picture"), None);
    assert_eq!(
        id.value_for("photo"),
        None,
        "data URIs never go into headers"
    );
    assert_eq!(id.value_for("nope"), None);
    assert_eq!(id.value_for(""), None);

    let mut groups = id.clone();
    groups.groups = vec!["portal".into(), "agents".into()];
    assert_eq!(groups.value_for("groups").as_deref(), Some("portal,agents"));
}

#[test]
fn debug_does_not_leak_values() {
    let mut settings = defaults();
    settings
        .userinfo_map
        .push(("picture".into(), "picture".into()));
    let id = map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let debug = format!("{id:?}");
    for secret in [
        "mH3x0Yw2pQ",
        "Siddharth",
        "siddharth@example.org",
        "919427357934",
        "1987",
        "Cmattey",
        "Morocco",
        "data:image",
        "Male",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    for key in [
        "name",
        "email",
        "address",
        "picture",
        "MOSIP PSUT",
        "portal",
    ] {
        assert!(debug.contains(key), "{key} missing: {debug}");
    }
    let alternate = format!("{id:#?}");
    assert!(!alternate.contains("Siddharth"));
}

#[test]
fn errors_and_warnings_carry_no_values() {
    let err = map_identity(
        &defaults(),
        &obj(json!({"sub": [ "secret" ]})),
        &Map::new(),
        &[],
    )
    .unwrap_err();
    assert!(!err.to_string().contains("secret"));
    assert!(!format!("{err:?}").contains("secret"));
}

#[test]
fn identity_round_trips_through_serde() {
    let id = map_identity(&defaults(), &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let text = serde_json::to_string(&id).expect("serialises");
    let back: MappedIdentity = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, id);
}

#[test]
fn locale_code_derivation() {
    assert_eq!(
        locale_codes(&locales(&["fr", "en"])),
        ["fr", "fra", "en", "eng"]
    );
    assert_eq!(locale_codes(&locales(&["fra"])), ["fr", "fra"]);
    assert_eq!(locale_codes(&locales(&["fre"])), ["fr", "fra", "fre"]);
    assert_eq!(
        locale_codes(&locales(&["en-US", "en_GB", "EN"])),
        ["en", "eng"]
    );
    assert_eq!(locale_codes(&locales(&["xx", "xyz"])), ["xx", "xyz"]);
    assert!(locale_codes(&locales(&["", "e", "engl", "1a", "-", "é"])).is_empty());
}

/// An arbitrary JSON value from a small pool of odd shapes.
fn odd_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1.5e300),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!("ä".repeat(100_000)),
        7 => json!("1987/02/29"),
        8 => json!("ǅ\u{0}\n"),
        9 => json!("data:x"),
        10 if depth < 3 => Value::Array((0..3).map(|_| odd_value(rng, depth + 1)).collect()),
        11 if depth < 3 => Value::Object(odd_object(rng, depth + 1)),
        _ => json!("1999-12-31"),
    }
}

/// An object with odd keys (several `#`, empty parts, suffixes) and values.
fn odd_object(rng: &mut StdRng, depth: u32) -> Map<String, Value> {
    let keys = [
        "sub",
        "name",
        "name#",
        "name#en",
        "name#en#fr",
        "#",
        "##",
        "name##",
        "email",
        "birthdate",
        "birthdate#eng",
        "gender",
        "gender#fr",
        "address",
        "address#en",
        "locality#eng",
        "picture",
        "",
        "user_id",
        "phone_number#ara",
    ];
    let mut map = Map::new();
    for _ in 0..rng.gen_range(0..8) {
        let key = *keys.choose(rng).unwrap();
        map.insert(key.to_string(), odd_value(rng, depth));
    }
    map
}

#[test]
fn property_odd_shapes_never_panic() {
    let mut settings = defaults();
    settings.token_map = pairs("birthdate:user_id name#en:n2 address:a2 :x y: sub:user_id");
    settings
        .userinfo_map
        .extend(pairs("picture:picture #:hash name##:nn"));
    let prefs = locales(&["fr", "en", "", "zz-ZZ", "ара"]);
    let mut rng = StdRng::seed_from_u64(0xdead_beef_cafe_f00d);
    let mut err_count = 0;
    for _ in 0..3_000 {
        let mut id_token = odd_object(&mut rng, 0);
        if rng.gen_range(0..3) != 0 {
            id_token.insert("sub".into(), json!("psut-1"));
        }
        let mut userinfo = odd_object(&mut rng, 0);
        if rng.gen_range(0..4) != 0 {
            // Mostly the same subject, so the mapping itself gets exercised.
            match id_token.get("sub") {
                Some(sub) => userinfo.insert("sub".into(), sub.clone()),
                None => userinfo.remove("sub"),
            };
        }
        match map_identity_with_warnings(&settings, &id_token, &userinfo, &prefs) {
            Ok(outcome) => {
                let id = outcome.identity;
                assert!(!id.user_id.trim().is_empty());
                assert_eq!(id.registrant_id.value, id.user_id);
                for key in ["user_id", "login", "groups", "name", "address", "a2", "n2"] {
                    let _ = id.value_for(key);
                }
                for value in id.claims.to_map().values() {
                    assert!(is_present(value), "absent values are never inserted");
                }
                let _ = format!("{id:?}");
            }
            Err(err) => {
                let _ = err.to_string();
                err_count += 1;
            }
        }
    }
    println!("odd shapes: {err_count} of 3000 refused");
    assert!(
        err_count < 1_500,
        "too few successful mappings exercised: {err_count}"
    );
}

/// `MappedIdentity` as it was derived before `Verified`: the record format
/// sessions are stored in.
#[derive(Serialize, Deserialize)]
struct RecordBefore {
    user_id: String,
    registrant_id: RegistrantId,
    login: String,
    groups: Vec<String>,
    claims: Claims,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extra_registrant_ids: Vec<RegistrantId>,
    #[serde(default)]
    verified: Claims,
}

#[test]
fn stored_records_keep_their_format() {
    let mut settings = defaults();
    settings
        .token_map
        .push(("individual_id".into(), "user_id7".into()));
    for settings in [defaults(), settings] {
        let id =
            map_identity(&settings, &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
        let text = serde_json::to_string(&id).unwrap();
        let before = RecordBefore {
            user_id: id.user_id.to_string(),
            registrant_id: id.registrant_id.clone(),
            login: id.login.clone(),
            groups: id.groups.clone(),
            claims: id.claims.clone(),
            extra_registrant_ids: id.extra_registrant_ids.clone(),
            verified: Claims::from_map(id.verified_claims()),
        };
        // Byte for byte what the previous version wrote, so a record written
        // by either version reads in the other (a rolling upgrade).
        assert_eq!(text, serde_json::to_string(&before).unwrap());
        let stored: Value = serde_json::from_str(&text).unwrap();
        let mut expected = sample_userinfo();
        expected.remove("iss");
        expected.remove("aud");
        assert_eq!(stored["verified"], Value::Object(expected));
        let back: MappedIdentity = serde_json::from_str(&text).unwrap();
        assert_eq!(back, id);
        assert_eq!(back.verified_claims(), id.verified_claims());
        let old: RecordBefore = serde_json::from_str(&text).unwrap();
        assert_eq!(old.verified.to_map(), id.verified_claims());
    }
}

#[test]
fn records_without_verified_claims_read_as_empty() {
    let id = map_identity(&defaults(), &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let mut stored = serde_json::to_value(&id).unwrap();
    stored.as_object_mut().unwrap().remove("verified");
    let back: MappedIdentity = serde_json::from_value(stored).unwrap();
    assert!(back.verified.is_empty());
    assert!(back.verified_claims().is_empty());
    assert_eq!(back.claims, id.claims);
    let bad = json!({"user_id": "u", "registrant_id": {"id_type": "t", "value": "u"},
        "login": "u", "groups": [], "claims": {}, "verified": ["not", "an", "object"]});
    assert!(serde_json::from_value::<MappedIdentity>(bad).is_err());
}

#[test]
fn verified_claims_are_held_once() {
    let id = map_identity(&defaults(), &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let full = serde_json::to_string(&id.verified_claims()).unwrap();
    // The picture, the birthdate as sent and the individual id are held;
    // name, email, gender, address, phone_number and sub are references.
    let held = id.verified.encoded();
    for value in [
        "Siddharth",
        "siddharth@",
        "Cmattey",
        "+919427357934",
        "mH3x0Yw2pQ-PSUT",
        "Male",
    ] {
        assert!(!held.contains(value), "{value} in {held}");
    }
    for value in ["1987/11/25", "8267411571", "data:image/jpeg"] {
        assert!(held.contains(value), "{value} not in {held}");
    }
    assert!(
        held.len() * 2 < full.len() + 20,
        "{} of {}",
        held.len(),
        full.len()
    );
}

#[test]
fn only_the_verified_claims_kept_remain() {
    let mut id =
        map_identity(&defaults(), &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    let claims = id.claims.clone();
    id.keep_verified(|name| name == "picture");
    assert_eq!(
        Value::Object(id.verified_claims()),
        json!({"picture": sample_userinfo()["picture"]})
    );
    assert_eq!(id.claims, claims);
    id.keep_verified(|_| false);
    assert!(id.verified.is_empty());
    assert_eq!(id.verified.heap_len(), 0);
}

#[test]
fn the_user_id_is_held_once_however_the_identity_was_made() {
    let id = map_identity(&defaults(), &sample_id_token(), &sample_userinfo(), &[]).expect("maps");
    assert!(std::sync::Arc::ptr_eq(&id.user_id, &id.registrant_id.value));
    let sub = id.shared_user_id(id.user_id.to_string());
    assert!(std::sync::Arc::ptr_eq(&id.user_id, &sub), "sub:user_id");
    let other = id.shared_user_id("another-sub".into());
    assert_eq!(&*other, "another-sub");
    // Read back from a stored record (the Redis store), still once.
    let read: MappedIdentity = serde_json::from_str(&serde_json::to_string(&id).unwrap()).unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &read.user_id,
        &read.registrant_id.value
    ));
    assert_eq!(read, id);
}
