//! `mapping:` rules: Odoo-style `from:to` maps and the login attribute.

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn odoo_strings_yaml_maps_and_lists_give_the_same_mapping() {
    let forms = [
        "'sub:user_id individual_id:user_id7 name:name'",
        "{sub: user_id, individual_id: user_id7, name: name}",
        "['sub:user_id', 'individual_id:user_id7', 'name:name']",
    ];
    let expected = pairs(&[
        ("sub", "user_id"),
        ("individual_id", "user_id7"),
        ("name", "name"),
    ]);
    for form in forms {
        // `individual_id` is a user_id source, so it must be requested.
        let config = config_with(&[
            ("mapping.token_map", form),
            ("esignet.user_claims", "name individual_id"),
        ]);
        assert_eq!(config.mapping.token_map, expected, "form {form}");
    }
}

#[test]
fn userinfo_map_default_follows_openg2p() {
    let config = config_with(&[]);
    assert_eq!(
        config.mapping.userinfo_map,
        pairs(&[
            ("name", "name"),
            ("email", "email"),
            ("phone_number", "phone"),
            ("birthdate", "birthdate"),
            ("gender", "gender"),
            ("address", "address"),
        ])
    );
}

#[test]
fn a_malformed_pair_is_named() {
    rejects(
        &[("mapping.token_map", "'sub=user_id name:name'")],
        "mapping.token_map",
        "malformed pair \"sub=user_id\"",
    );
    rejects(
        &[("mapping.token_map", "'a:b:c'")],
        "mapping.token_map",
        "malformed pair \"a:b:c\"",
    );
    rejects(
        &[("mapping.userinfo_map", "['name:name', ':phone']")],
        "mapping.userinfo_map[1]",
        "malformed pair \":phone\"",
    );
    rejects(
        &[("mapping.token_map", "{sub: 'user id'}")],
        "mapping.token_map.sub",
        "malformed pair",
    );
}

#[test]
fn every_malformed_pair_is_reported() {
    let errors = errors_with(&[("mapping.userinfo_map", "['x', 'name:name', 'y:']")]);
    assert_error(&errors, "mapping.userinfo_map[0]", "\"x\"");
    assert_error(&errors, "mapping.userinfo_map[2]", "\"y:\"");
}

#[test]
fn login_attribute_must_be_a_mapped_key() {
    rejects(
        &[("mapping.login_attribute", "emial")],
        "mapping.login_attribute",
        "did you mean \"email\"?",
    );
    let config = config_with(&[("mapping.login_attribute", "user_id")]);
    assert_eq!(config.mapping.login_attribute, "user_id");
}

#[test]
fn ids_and_groups_must_not_be_blank() {
    rejects(
        &[("mapping.registrant_id_type", "''")],
        "mapping.registrant_id_type",
        "must not be empty",
    );
    rejects(
        &[("mapping.default_group", "' '")],
        "mapping.default_group",
        "must not be empty",
    );
}
