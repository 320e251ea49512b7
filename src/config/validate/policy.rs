//! `routes[i].policy` checks: the rule tree is well formed, names only claims
//! the mapping produces, and can pass for at least some user.
//!
//! "Can pass" is judged against what the gateway knows at config time: every
//! user gets exactly `mapping.default_group`, registrant IDs have type
//! `mapping.registrant_id_type`, and a claim must be one the maps produce. A
//! policy that no user could ever satisfy is almost always a typo, and an
//! auth policy with a typo must fail loudly, not lock everyone out silently.

use std::collections::HashMap;

use super::Checker;
use crate::config::model::{ClaimTest, Policy};
use crate::config::path::YamlPath;
use crate::config::raw::{RawClaimRule, RawPolicy, Words};

/// What the mapping guarantees about every identity.
pub(super) struct PolicyContext {
    /// Keys a claim rule may name.
    pub claims: Vec<String>,
    /// Groups every user has.
    pub groups: Vec<String>,
    /// The registrant ID type of every user.
    pub registrant_id_type: String,
}

/// Checks one policy tree and, if well formed, that it can pass.
pub(super) fn check(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawPolicy,
    context: Option<&PolicyContext>,
) -> Option<Policy> {
    let policy = rule(cx, path, raw, context)?;
    if let Some(context) = context {
        if let Err(why) = can_pass(&policy, context) {
            cx.error(path, format!("this policy can never pass: {why}"));
            return None;
        }
    }
    Some(policy)
}

fn rule(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawPolicy,
    context: Option<&PolicyContext>,
) -> Option<Policy> {
    let kinds = [
        raw.all.is_some(),
        raw.any.is_some(),
        raw.acr.is_some(),
        raw.groups.is_some(),
        raw.claim.is_some(),
        raw.registrant_id_type.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        cx.error(
            path,
            "a rule needs exactly one of all, any, acr, groups, claim, registrant_id_type",
        );
        return None;
    }
    if let Some(rules) = &raw.all {
        return combined(cx, &path.key("all"), rules, context).map(Policy::All);
    }
    if let Some(rules) = &raw.any {
        return combined(cx, &path.key("any"), rules, context).map(Policy::Any);
    }
    if let Some(words) = &raw.acr {
        return non_empty(cx, &path.key("acr"), words, "acr value").map(Policy::Acr);
    }
    if let Some(words) = &raw.groups {
        return non_empty(cx, &path.key("groups"), words, "group").map(Policy::Groups);
    }
    if let Some(claim) = &raw.claim {
        return claim_rule(cx, &path.key("claim"), claim, context);
    }
    let id_type = raw.registrant_id_type.as_ref()?;
    cx.text(&path.key("registrant_id_type"), id_type)
        .map(Policy::RegistrantIdType)
}

/// The rules of an `all`/`any`, each checked.
fn combined(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    rules: &[RawPolicy],
    context: Option<&PolicyContext>,
) -> Option<Vec<Policy>> {
    if rules.is_empty() {
        cx.error(path, "needs at least one rule");
        return None;
    }
    let checked: Vec<Option<Policy>> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| rule(cx, &path.index(i), r, context))
        .collect();
    checked.into_iter().collect()
}

fn non_empty(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    words: &Words,
    what: &str,
) -> Option<Vec<String>> {
    let items = cx.words(path, words);
    if items.is_empty() {
        cx.error(path, format!("needs at least one {what}"));
        return None;
    }
    Some(items)
}

fn claim_rule(
    cx: &mut Checker<'_>,
    path: &YamlPath,
    raw: &RawClaimRule,
    context: Option<&PolicyContext>,
) -> Option<Policy> {
    let name = cx.word(&path.key("name"), &raw.name)?;
    if let Some(context) = context {
        if !context.claims.contains(&name) {
            cx.error(
                &path.key("name"),
                format!(
                    "unknown claim {name:?}: the mapping produces {}",
                    context.claims.join(", ")
                ),
            );
            return None;
        }
    }
    let test = match (&raw.equals, &raw.one_of, raw.present) {
        (Some(value), None, None) => ClaimTest::Equals(value.clone()),
        (None, Some(values), None) if !values.is_empty() => ClaimTest::OneOf(values.clone()),
        (None, Some(_), None) => {
            cx.error(&path.key("one_of"), "needs at least one value");
            return None;
        }
        (None, None, Some(true)) => ClaimTest::Present,
        (None, None, Some(false)) => {
            cx.error(&path.key("present"), "only `present: true` is supported");
            return None;
        }
        _ => {
            cx.error(path, "needs exactly one of `equals`, `one_of` or `present`");
            return None;
        }
    };
    Some(Policy::Claim { name, test })
}

/// Why no user can ever satisfy a policy; shown in the config error list.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum NeverPasses {
    /// A group rule names a group no user is in.
    #[error("every user is only in {in_groups:?}, never in {missing:?}")]
    Group {
        /// The groups every user has.
        in_groups: Vec<String>,
        /// The group asked for.
        missing: String,
    },
    /// A registrant-id-type rule names another type than every user has.
    #[error("registrant IDs are always of type {always:?}, not {wanted:?}")]
    RegistrantIdType {
        /// The type every user has.
        always: String,
        /// The type asked for.
        wanted: String,
    },
    /// An `all` asks one claim to equal two different values.
    #[error("claim {name:?} cannot equal both {first} and {second}")]
    ConflictingEquals {
        /// The claim.
        name: String,
        /// One value.
        first: serde_json::Value,
        /// The other.
        second: serde_json::Value,
    },
    /// No alternative of an `any` can pass.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NoAlternative(Vec<NeverPasses>),
}

/// Whether some user could satisfy `policy`, or why none can.
pub(crate) fn can_pass(policy: &Policy, context: &PolicyContext) -> Result<(), NeverPasses> {
    match policy {
        Policy::Acr(_) | Policy::Claim { .. } => Ok(()),
        Policy::Groups(groups) => match groups.iter().find(|g| !context.groups.contains(g)) {
            Some(g) => Err(NeverPasses::Group {
                in_groups: context.groups.clone(),
                missing: g.clone(),
            }),
            None => Ok(()),
        },
        Policy::RegistrantIdType(t) if *t != context.registrant_id_type => {
            Err(NeverPasses::RegistrantIdType {
                always: context.registrant_id_type.clone(),
                wanted: t.clone(),
            })
        }
        Policy::RegistrantIdType(_) => Ok(()),
        Policy::Any(rules) => {
            let reasons: Vec<NeverPasses> = rules
                .iter()
                .filter_map(|r| can_pass(r, context).err())
                .collect();
            if reasons.len() == rules.len() {
                Err(NeverPasses::NoAlternative(reasons))
            } else {
                Ok(())
            }
        }
        Policy::All(rules) => {
            rules.iter().try_for_each(|r| can_pass(r, context))?;
            conflicting_equals(rules)
        }
    }
}

/// Two `equals` on the same claim with different values under one `all`.
fn conflicting_equals(rules: &[Policy]) -> Result<(), NeverPasses> {
    let mut wanted: HashMap<&str, &serde_json::Value> = HashMap::new();
    for rule in rules {
        if let Policy::Claim {
            name,
            test: ClaimTest::Equals(value),
        } = rule
        {
            if let Some(previous) = wanted.insert(name, value) {
                if previous != value {
                    return Err(NeverPasses::ConflictingEquals {
                        name: name.clone(),
                        first: previous.clone(),
                        second: value.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}
