//! Route policies: who may pass a protected route, decided per request.
//!
//! Pure functions of the route and the session. A failed policy is either a
//! denial, or, when a stronger `acr` alone would make it pass, a step-up:
//! the gateway then starts a new login asking for that `acr`.

use serde_json::Value;

use crate::config::{ClaimTest, Policy, Route};
use crate::session::Session;

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the request through.
    Allow,
    /// Only a stronger authentication would pass: log in again asking for these acrs.
    StepUp(Vec<String>),
    /// Refused; the reason is for the log.
    Deny(String),
}

/// Decides whether `session` may use `route`. Runs on every request to a
/// route with a policy; no allocation on the allow path.
pub fn decide(route: &Route, session: &Session) -> Decision {
    let Some(policy) = &route.policy else {
        return Decision::Allow;
    };
    if passes(policy, session, false) {
        return Decision::Allow;
    }
    if passes(policy, session, true) {
        let acrs = route
            .step_up_acr_values
            .clone()
            .unwrap_or_else(|| acr_rules(policy));
        return Decision::StepUp(acrs);
    }
    Decision::Deny(first_failure(policy, session))
}

/// The acrs a first login for `route` should ask for: the route's
/// `step_up_acr_values`, else every acr its policy names; `None` if it names none.
pub fn acrs_named(route: &Route) -> Option<Vec<String>> {
    let policy = route.policy.as_ref()?;
    let acrs = route
        .step_up_acr_values
        .clone()
        .unwrap_or_else(|| acr_rules(policy));
    (!acrs.is_empty()).then_some(acrs)
}

/// Whether the session's `acr` (a space-separated list) meets one of `wanted`.
pub fn acr_satisfies(session_acr: &str, wanted: &[String]) -> bool {
    session_acr
        .split_whitespace()
        .any(|acr| wanted.iter().any(|w| w == acr))
}

/// Evaluates `policy`; with `assume_acr`, every acr rule counts as met.
fn passes(policy: &Policy, session: &Session, assume_acr: bool) -> bool {
    match policy {
        Policy::All(rules) => rules.iter().all(|r| passes(r, session, assume_acr)),
        Policy::Any(rules) => rules.iter().any(|r| passes(r, session, assume_acr)),
        Policy::Acr(wanted) => assume_acr || acr_satisfies(&session.acr, wanted),
        Policy::Groups(groups) => groups.iter().all(|g| session.identity.groups.contains(g)),
        Policy::RegistrantIdType(t) => *session.identity.registrant_id.id_type == **t,
        Policy::Claim { name, test } => claim_passes(session, name, test),
    }
}

fn claim_passes(session: &Session, name: &str, test: &ClaimTest) -> bool {
    let value = claim_value(session, name);
    match (test, value) {
        (_, None) => false,
        (ClaimTest::Present, Some(v)) => !is_empty(&v),
        (ClaimTest::Equals(want), Some(v)) => same(&v, want),
        (ClaimTest::OneOf(wants), Some(v)) => wants.iter().any(|w| same(&v, w)),
    }
}

fn claim_value(session: &Session, name: &str) -> Option<Value> {
    let identity = &session.identity;
    match name {
        "user_id" => Some(Value::from(&*identity.user_id)),
        "login" => Some(Value::from(identity.login.as_str())),
        _ => identity.claims.get(name),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// JSON equality, with a string matching a number or boolean of the same text
/// (YAML `equals: 1` against a claim `"1"`).
fn same(claim: &Value, wanted: &Value) -> bool {
    if claim == wanted {
        return true;
    }
    match (claim, wanted) {
        (Value::String(s), other) | (other, Value::String(s)) => text_matches(s, other),
        _ => false,
    }
}

/// Whether `text` spells the number or boolean `value`.
fn text_matches(text: &str, value: &Value) -> bool {
    match value {
        Value::Bool(b) => text == if *b { "true" } else { "false" },
        Value::Number(n) => text.trim().parse::<f64>().ok() == n.as_f64(),
        _ => false,
    }
}

/// Every acr named by the policy's acr rules, in order, without repeats.
fn acr_rules(policy: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    collect_acrs(policy, &mut out);
    out
}

fn collect_acrs(policy: &Policy, out: &mut Vec<String>) {
    match policy {
        Policy::All(rules) | Policy::Any(rules) => rules.iter().for_each(|r| collect_acrs(r, out)),
        Policy::Acr(acrs) => {
            for acr in acrs {
                if !out.contains(acr) {
                    out.push(acr.clone());
                }
            }
        }
        _ => {}
    }
}

/// A log-safe description of why the policy failed (names rules, not values).
fn first_failure(policy: &Policy, session: &Session) -> String {
    match policy {
        // Prefer a rule that no acr could fix: that is the real reason.
        Policy::All(rules) => rules
            .iter()
            .find(|r| !passes(r, session, true))
            .or_else(|| rules.iter().find(|r| !passes(r, session, false)))
            .map(|r| first_failure(r, session))
            .unwrap_or_else(|| "all".into()),
        Policy::Any(_) => "none of the `any` rules passed".into(),
        Policy::Acr(wanted) => format!("acr is not one of {wanted:?}"),
        Policy::Groups(groups) => format!("not in all of the groups {groups:?}"),
        Policy::RegistrantIdType(t) => format!("registrant ID is not of type {t:?}"),
        Policy::Claim { name, .. } => format!("claim {name:?} does not satisfy the rule"),
    }
}

#[cfg(test)]
mod tests;
