//! [`Verified`]: e-Signet's verified claims, held as what the mapped identity
//! does not already hold.
//!
//! The portal-facing provider's userinfo gives a portal e-Signet's claims as
//! e-Signet sent them ([`MappedIdentity::verified_claims`]). Most of them are
//! also in the session under their mapped name (`name`, `email`, `gender`,
//! `address`, `phone_number` as `phone`, ...) or are the user id (`sub`), so
//! keeping them twice cost every session ~300 bytes. A [`Verified`] keeps,
//! in one allocation, the claims found nowhere else with their values, and
//! for the others only a reference to where the same value is:
//!
//! ```text
//! [{"birthdate":"1987/11/25"},{"address":0,"email":0,"phone_number":"phone","sub":1}]
//! ```
//!
//! the first object the claims held here, the second the references: `0`
//! the mapped claim of the same name, `1` the user id, a string the mapped
//! claim of that name. The values the references point at are the same JSON
//! values, so [`decode`](Verified::decode) gives back exactly what
//! [`encode`](Verified::encode) was given, as long as the mapped claims and
//! the user id are those it was encoded against: the session never changes
//! them after login.
//!
//! Built once per login and when a stored record is read (on a local-cache
//! miss); decoded only by the provider's userinfo and the session endpoint
//! (the picture). Stored records carry the full object
//! ([`MappedIdentity`]'s `Serialize`), so their format is unchanged.
//!
//! [`MappedIdentity`]: super::MappedIdentity
//! [`MappedIdentity::verified_claims`]: super::MappedIdentity::verified_claims

use std::fmt;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A reference to the mapped claim of the same name.
const SAME_NAME: u8 = 0;
/// A reference to the user id.
const USER_ID: u8 = 1;

/// e-Signet's verified claims, less what the identity already holds; see the
/// module documentation. Empty (no claims kept) takes no heap memory.
#[derive(Clone, Default)]
pub struct Verified(Option<Box<RawValue>>);

impl PartialEq for Verified {
    /// The same text: encoding is deterministic, so two identities with the
    /// same claims and user id hold the same verified claims the same way.
    fn eq(&self, other: &Self) -> bool {
        self.0.as_ref().map(|r| r.get()) == other.0.as_ref().map(|r| r.get())
    }
}

impl Verified {
    /// `full` as claims held here and references into `claims` (the mapped
    /// claims) and `user_id`. Runs once per login and per stored record read.
    pub fn encode(full: Map<String, Value>, claims: &Map<String, Value>, user_id: &str) -> Self {
        if full.is_empty() {
            return Self(None);
        }
        let mut held = Map::new();
        let mut refs = Map::new();
        for (key, value) in full {
            if claims.get(&key) == Some(&value) {
                refs.insert(key, SAME_NAME.into());
            } else if value.as_str() == Some(user_id) {
                refs.insert(key, USER_ID.into());
            } else if let Some(name) = claims
                .iter()
                .find(|(name, mapped)| **mapped == value && is_worth_a_reference(name, &value))
                .map(|(name, _)| name.clone())
            {
                refs.insert(key, Value::String(name));
            } else {
                held.insert(key, value);
            }
        }
        let pair = [Value::Object(held), Value::Object(refs)];
        // A pair of objects with string keys always serializes.
        Self(serde_json::value::to_raw_value(&pair).ok())
    }

    /// The full claims, the references resolved against `claims` (the mapped
    /// claims) and `user_id`. A reference whose mapped claim is gone (a
    /// hand-edited record) is left out.
    pub fn decode(&self, claims: &Map<String, Value>, user_id: &str) -> Map<String, Value> {
        let Some((mut full, refs)) = self.parts() else {
            return Map::new();
        };
        for (key, reference) in refs {
            let value = match reference {
                Value::Number(n) if n.as_u64() == Some(SAME_NAME.into()) => {
                    claims.get(&key).cloned()
                }
                Value::Number(n) if n.as_u64() == Some(USER_ID.into()) => {
                    Some(Value::String(user_id.to_owned()))
                }
                Value::String(name) => claims.get(&name).cloned(),
                _ => None,
            };
            if let Some(value) = value {
                full.insert(key, value);
            }
        }
        full
    }

    /// Whether no claims are kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Bytes of heap this holds (the encoded text), for the bench.
    pub fn heap_len(&self) -> usize {
        self.0.as_ref().map_or(0, |raw| raw.get().len())
    }

    /// The encoded text (empty when empty), for tests.
    #[cfg(test)]
    pub(crate) fn encoded(&self) -> &str {
        self.0.as_ref().map_or("", |raw| raw.get())
    }

    /// The claims held here and the references.
    fn parts(&self) -> Option<(Map<String, Value>, Map<String, Value>)> {
        serde_json::from_str(self.0.as_ref()?.get()).ok()
    }
}

/// A reference by name only when it is shorter than the value itself (a
/// `true` or a one-letter string is kept as it is).
fn is_worth_a_reference(name: &str, value: &Value) -> bool {
    let value_len = match value {
        Value::String(s) => s.len() + 2,
        Value::Object(_) | Value::Array(_) => usize::MAX,
        other => other.to_string().len(),
    };
    name.len() + 2 < value_len
}

impl fmt::Debug for Verified {
    /// The claim names only, never the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self
            .parts()
            .map(|(held, refs)| held.into_iter().chain(refs).map(|(k, _)| k).collect())
            .unwrap_or_default();
        keys.sort();
        f.debug_set().entries(keys).finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    /// What a login with the demo identity leaves (e-Signet's claims and
    /// their mapping).
    fn demo() -> (Map<String, Value>, Map<String, Value>, &'static str) {
        let psut = "kZ1v2c3b4n5m6l7k8j9h0g1f2d3s4a5q6w7e8r9t0y1";
        let address = json!({"street_address": "#991, 5th Main", "locality": "Cmattey",
            "region": "Kénitra", "postal_code": "45009", "country": "Morocco"});
        let full = object(json!({
            "sub": psut, "name": "Siddharth K Mansour", "email": "user0@example.org",
            "phone_number": "+919427357934", "birthdate": "1987/11/25", "gender": "Male",
            "address": address,
        }));
        let mapped = object(json!({
            "name": "Siddharth K Mansour", "email": "user0@example.org",
            "phone": "+919427357934", "birthdate": "1987-11-25", "gender": "Male",
            "address": address,
        }));
        (full, mapped, psut)
    }

    #[test]
    fn decodes_to_exactly_what_was_encoded() {
        let (full, mapped, psut) = demo();
        let verified = Verified::encode(full.clone(), &mapped, psut);
        assert_eq!(verified.decode(&mapped, psut), full);
        assert_eq!(
            verified.0.as_ref().unwrap().get(),
            r#"[{"birthdate":"1987/11/25"},{"address":0,"email":0,"gender":0,"name":0,"phone_number":"phone","sub":1}]"#
        );
        let full_len = serde_json::to_string(&full).unwrap().len();
        assert!(
            verified.heap_len() * 5 < full_len * 2,
            "{} of {full_len}",
            verified.heap_len()
        );
    }

    #[test]
    fn values_found_nowhere_else_are_held() {
        let (mut full, mapped, psut) = demo();
        full.insert("name#fra".into(), json!("Siddharth K Mansour (fr)"));
        full.insert(
            "picture".into(),
            json!("data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAA="),
        );
        full.insert("individual_id".into(), json!(8_267_411_571u64));
        full.insert("phone_number_verified".into(), json!(true));
        full.insert("gender".into(), json!("male"));
        full.insert("empty".into(), json!(""));
        full.insert("none".into(), Value::Null);
        full.insert("list".into(), json!([1, {"a": "b"}]));
        let verified = Verified::encode(full.clone(), &mapped, psut);
        assert_eq!(verified.decode(&mapped, psut), full);
        let (held, refs) = verified.parts().unwrap();
        for key in [
            "name#fra",
            "picture",
            "individual_id",
            "gender",
            "empty",
            "none",
            "list",
        ] {
            assert!(held.contains_key(key), "{key}");
        }
        assert_eq!(refs["sub"], 1);
        assert_eq!(refs["name"], 0);
    }

    #[test]
    fn a_short_value_is_held_rather_than_named() {
        let full = object(json!({"a": "x", "flag": true, "code": "ABCDEFGHIJ"}));
        let mapped = object(json!({"long_name_b": "x", "other_flag": true, "c": "ABCDEFGHIJ"}));
        let verified = Verified::encode(full.clone(), &mapped, "u");
        let (held, refs) = verified.parts().unwrap();
        assert_eq!(held, object(json!({"a": "x", "flag": true})));
        assert_eq!(refs, object(json!({"code": "c"})));
        assert_eq!(verified.decode(&mapped, "u"), full);
    }

    #[test]
    fn empty_takes_no_heap() {
        let verified = Verified::encode(Map::new(), &demo().1, "u");
        assert!(verified.is_empty());
        assert_eq!(verified, Verified::default());
        assert_eq!(verified.heap_len(), 0);
        assert!(verified.decode(&demo().1, "u").is_empty());
        assert_eq!(format!("{verified:?}"), "{}");
    }

    #[test]
    fn a_reference_to_a_missing_claim_is_left_out() {
        let (full, mapped, psut) = demo();
        let verified = Verified::encode(full, &mapped, psut);
        let decoded = verified.decode(&Map::new(), psut);
        assert_eq!(
            decoded,
            object(json!({"birthdate": "1987/11/25", "sub": psut}))
        );
    }

    #[test]
    fn debug_shows_names_not_values() {
        let (full, mapped, psut) = demo();
        let shown = format!("{:?}", Verified::encode(full, &mapped, psut));
        assert_eq!(
            shown,
            r#"{"address", "birthdate", "email", "gender", "name", "phone_number", "sub"}"#
        );
        for value in ["Siddharth", "example.org", "Cmattey", "1987", psut] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
    }
}
