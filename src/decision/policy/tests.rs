use serde_json::json;

use super::*;
use crate::config::Access;

fn session(acr: &str) -> Session {
    crate::session::sample_session(acr, 0)
}

fn route(policy: Option<Policy>) -> Route {
    Route {
        index: 0,
        name: "r".into(),
        host: None,
        path_prefix: "/".into(),
        upstream: "u".into(),
        access: Access::Login,
        audience: None,
        policy,
        step_up_acr_values: None,
    }
}

const OTP: &str = "mosip:idp:acr:generated-code";
const BIO: &str = "mosip:idp:acr:biometrics";

fn acr(list: &[&str]) -> Policy {
    Policy::Acr(list.iter().map(|s| s.to_string()).collect())
}

fn claim(name: &str, test: ClaimTest) -> Policy {
    Policy::Claim {
        name: name.into(),
        test,
    }
}

#[test]
fn no_policy_means_any_logged_in_user() {
    assert_eq!(decide(&route(None), &session(OTP)), Decision::Allow);
}

#[test]
fn acr_rule_allows_any_of_its_values_and_steps_up_otherwise() {
    let r = route(Some(acr(&[BIO, "mosip:idp:acr:linked-wallet"])));
    assert_eq!(decide(&r, &session(BIO)), Decision::Allow);
    assert_eq!(
        decide(&r, &session(&format!("{OTP} {BIO}"))),
        Decision::Allow
    );
    assert_eq!(
        decide(&r, &session(OTP)),
        Decision::StepUp(vec![
            BIO.to_string(),
            "mosip:idp:acr:linked-wallet".to_string()
        ])
    );
    assert_eq!(
        decide(&r, &session("")),
        Decision::StepUp(vec![
            BIO.to_string(),
            "mosip:idp:acr:linked-wallet".to_string()
        ])
    );
}

#[test]
fn step_up_uses_the_routes_acr_values_when_set() {
    let mut r = route(Some(acr(&[BIO])));
    r.step_up_acr_values = Some(vec!["custom".into()]);
    assert_eq!(
        decide(&r, &session(OTP)),
        Decision::StepUp(vec!["custom".into()])
    );
}

#[test]
fn groups_rule_needs_every_group() {
    assert_eq!(
        decide(
            &route(Some(Policy::Groups(vec!["portal".into()]))),
            &session(OTP)
        ),
        Decision::Allow
    );
    let both = Policy::Groups(vec!["portal".into(), "sp".into()]);
    assert!(matches!(
        decide(&route(Some(both)), &session(OTP)),
        Decision::Deny(_)
    ));
}

#[test]
fn registrant_id_type_rule() {
    let ok = Policy::RegistrantIdType("MOSIP PSUT".into());
    let bad = Policy::RegistrantIdType("NATIONAL ID".into());
    assert_eq!(decide(&route(Some(ok)), &session(OTP)), Decision::Allow);
    assert!(matches!(
        decide(&route(Some(bad)), &session(OTP)),
        Decision::Deny(_)
    ));
}

#[test]
fn claim_rules_equals_one_of_present() {
    let s = session(OTP);
    let cases = [
        (claim("gender", ClaimTest::Equals(json!("Female"))), true),
        (claim("gender", ClaimTest::Equals(json!("female"))), false),
        (claim("age", ClaimTest::Equals(json!(42))), true),
        (claim("age", ClaimTest::Equals(json!("42"))), true),
        (
            claim(
                "region",
                ClaimTest::OneOf(vec![json!("Rabat"), json!("Fes")]),
            ),
            true,
        ),
        (claim("region", ClaimTest::OneOf(vec![json!("Fes")])), false),
        (claim("email", ClaimTest::Present), true),
        (claim("empty", ClaimTest::Present), false),
        (claim("missing", ClaimTest::Present), false),
        (claim("missing", ClaimTest::Equals(json!(null))), false),
        (claim("user_id", ClaimTest::Equals(json!("psut-1"))), true),
        (claim("login", ClaimTest::Equals(json!("a@b.c"))), true),
    ];
    for (policy, allowed) in cases {
        let decision = decide(&route(Some(policy.clone())), &s);
        assert_eq!(decision == Decision::Allow, allowed, "{policy:?}");
    }
}

#[test]
fn all_and_any_combine() {
    let s = session(OTP);
    let yes = claim("gender", ClaimTest::Present);
    let no = claim("missing", ClaimTest::Present);
    let all_yes = Policy::All(vec![yes.clone(), yes.clone()]);
    let all_mixed = Policy::All(vec![yes.clone(), no.clone()]);
    let any_mixed = Policy::Any(vec![no.clone(), yes.clone()]);
    let any_no = Policy::Any(vec![no.clone(), no.clone()]);
    let nested = Policy::All(vec![
        any_mixed.clone(),
        Policy::Any(vec![all_yes.clone(), no.clone()]),
    ]);
    assert_eq!(decide(&route(Some(all_yes)), &s), Decision::Allow);
    assert!(matches!(
        decide(&route(Some(all_mixed)), &s),
        Decision::Deny(_)
    ));
    assert_eq!(decide(&route(Some(any_mixed)), &s), Decision::Allow);
    assert!(matches!(
        decide(&route(Some(any_no)), &s),
        Decision::Deny(_)
    ));
    assert_eq!(decide(&route(Some(nested)), &s), Decision::Allow);
}

#[test]
fn step_up_only_when_acr_alone_would_fix_it() {
    let s = session(OTP);
    let fixable = Policy::All(vec![acr(&[BIO]), claim("gender", ClaimTest::Present)]);
    assert_eq!(
        decide(&route(Some(fixable)), &s),
        Decision::StepUp(vec![BIO.into()])
    );
    let hopeless = Policy::All(vec![acr(&[BIO]), claim("missing", ClaimTest::Present)]);
    match decide(&route(Some(hopeless)), &s) {
        Decision::Deny(reason) => assert!(reason.contains("missing"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let either = Policy::Any(vec![acr(&[BIO]), claim("missing", ClaimTest::Present)]);
    assert_eq!(
        decide(&route(Some(either)), &s),
        Decision::StepUp(vec![BIO.into()])
    );
}

#[test]
fn denial_reasons_name_rules_not_values() {
    let s = session(OTP);
    let policy = claim("region", ClaimTest::Equals(json!("Casablanca")));
    match decide(&route(Some(policy)), &s) {
        Decision::Deny(reason) => {
            assert!(reason.contains("region"));
            assert!(!reason.contains("Rabat"), "no personal data in reasons");
        }
        other => panic!("{other:?}"),
    }
}
