//! `routes[i].policy` rules: well formed, known claims, and able to pass.

use super::*;

fn policy_yaml(policy: &str) -> String {
    edited(&[(
        "routes",
        &format!("[{{path: /, upstream: portal, auth: login, policy: {policy}}}]"),
    )])
}

#[test]
fn a_policy_with_every_rule_kind_loads() {
    let yaml = policy_yaml(
        "{all: [{acr: mosip:idp:acr:biometrics}, {groups: [portal]}, {registrant_id_type: MOSIP PSUT}, \
         {any: [{claim: {name: gender, equals: Female}}, {claim: {name: email, present: true}}, \
         {claim: {name: phone, one_of: ['+1', '+2']}}]}]}",
    );
    let config = load_yaml(&yaml).unwrap();
    let policy = config.routes[0].policy.as_ref().unwrap();
    assert!(matches!(policy, Policy::All(rules) if rules.len() == 4));
}

#[test]
fn unknown_claims_are_reported_with_their_path() {
    let errors = load_yaml(&policy_yaml("{claim: {name: gendre, equals: Female}}")).unwrap_err();
    assert!(errors.has_path("routes[0].policy.claim.name"), "{errors}");
    assert!(errors.to_string().contains("unknown claim"));
}

#[test]
fn policies_that_can_never_pass_are_reported() {
    for (policy, why) in [
        ("{groups: [admins]}", "never in"),
        ("{registrant_id_type: NATIONAL ID}", "always of type"),
        ("{all: [{claim: {name: gender, equals: Male}}, {claim: {name: gender, equals: Female}}]}", "cannot equal both"),
        ("{any: [{groups: [x]}, {groups: [y]}]}", "never in"),
    ] {
        let errors = load_yaml(&policy_yaml(policy)).unwrap_err();
        assert!(errors.has_path("routes[0].policy"), "{policy}: {errors}");
        assert!(errors.to_string().contains(why), "{policy}: {errors}");
    }
}

#[test]
fn malformed_rules_are_reported() {
    for (policy, path) in [
        ("{all: []}", "routes[0].policy.all"),
        ("{acr: []}", "routes[0].policy.acr"),
        ("{claim: {name: gender}}", "routes[0].policy.claim"),
        (
            "{claim: {name: gender, equals: a, present: true}}",
            "routes[0].policy.claim",
        ),
        (
            "{claim: {name: gender, one_of: []}}",
            "routes[0].policy.claim.one_of",
        ),
        ("{nope: 1}", "routes[0].policy"),
    ] {
        let errors = load_yaml(&policy_yaml(policy)).unwrap_err();
        assert!(
            errors.has_path(path),
            "{policy}: expected {path} in {errors}"
        );
    }
}

#[test]
fn public_routes_cannot_have_policies() {
    let yaml = edited(&[(
        "routes",
        "[{path: /, upstream: portal, auth: public, policy: {groups: [portal]}}]",
    )]);
    let errors = load_yaml(&yaml).unwrap_err();
    assert!(errors.has_path("routes[0].policy"), "{errors}");
}
