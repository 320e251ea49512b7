//! [`Claims`]: a session's mapped claims, kept as compact JSON object text.
//!
//! Built once per login (by [`map_identity`](super::map_identity)) and then
//! held for the whole life of the session, in memory and in the store. A
//! `serde_json::Map` is a B-tree whose leaf node alone takes ~630 bytes (and
//! a nested object such as `address` is another one), so a typical e-Signet
//! identity spent ~1.3 KB on claims whose JSON text is ~250 bytes. Holding
//! the text in one allocation instead cuts the memory of every idle session.
//!
//! Reads parse on demand. They are rare: minting an identity assertion
//! (cached per session and audience), policy `claim` rules, plain identity
//! headers, and the `/_gateway/session` endpoint.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Mapped claims: one allocation holding the text of a JSON object.
///
/// Serializes and deserializes as that object, unchanged (so stored session
/// records and the session endpoint's JSON are the same as with a map);
/// deserializing anything but an object fails. `Debug` prints the keys only:
/// values are personal data.
#[derive(Clone)]
pub struct Claims(Box<RawValue>);

impl Claims {
    /// Claims holding `map`, as compact JSON text. Runs once per login.
    pub fn from_map(map: Map<String, Value>) -> Self {
        // Serializing a map of `Value`s can't fail (its keys are strings), so
        // the `{}` fallback is never reached in practice.
        let raw = serde_json::value::to_raw_value(&map).unwrap_or_else(|_| empty());
        Self(raw)
    }

    /// The claims as a map, parsed from the text.
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }

    /// The value of claim `key`, parsed from the text; other values are
    /// skipped without being built. With a repeated key (only possible in a
    /// hand-edited record) the last one wins, as in [`to_map`](Self::to_map).
    pub fn get(&self, key: &str) -> Option<Value> {
        let mut de = serde_json::Deserializer::from_str(self.0.get());
        de.deserialize_map(Lookup(key)).ok().flatten()
    }

    /// Whether claim `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.keys().iter().any(|k| k == key)
    }

    /// The claim names, in the order the text holds them: sorted for claims
    /// made by [`from_map`](Self::from_map), as a `Map` iterates them.
    pub fn keys(&self) -> Vec<String> {
        let mut de = serde_json::Deserializer::from_str(self.0.get());
        de.deserialize_map(Keys).unwrap_or_default()
    }

    /// Whether there are no claims.
    pub fn is_empty(&self) -> bool {
        // The text is compact JSON of an object, so `{}` means empty; also
        // accept inner whitespace (a hand-written record).
        self.0.get()[1..].trim_start().starts_with('}')
    }

    /// The JSON object text.
    pub fn as_json(&self) -> &str {
        self.0.get()
    }
}

/// The text `{}`.
fn empty() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("`{}` is JSON")
}

impl Default for Claims {
    /// No claims: `{}`.
    fn default() -> Self {
        Self(empty())
    }
}

impl From<Map<String, Value>> for Claims {
    fn from(map: Map<String, Value>) -> Self {
        Self::from_map(map)
    }
}

impl PartialEq for Claims {
    /// Equal objects: same text, or the same map once parsed (the text of a
    /// hand-written record may differ in spacing or key order).
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get() || self.to_map() == other.to_map()
    }
}

impl fmt::Debug for Claims {
    /// The claim names only, never the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.keys()).finish()
    }
}

impl Serialize for Claims {
    /// The object itself. Runs when a session is written to the store and
    /// for the session endpoint (serde_json copies the text as is).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Claims {
    /// Keeps the object's text as it is. Runs when a session is read from the
    /// store (on a local-cache miss), so it checks only that the value is an
    /// object: the surrounding record was written by a gateway.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        // The text is valid JSON without surrounding whitespace, so its first
        // byte tells an object.
        if raw.get().starts_with('{') {
            Ok(Self(raw))
        } else {
            Err(de::Error::invalid_type(
                de::Unexpected::Other("a JSON value other than an object"),
                &"a JSON object of claims",
            ))
        }
    }
}

/// Visits an object and returns the value of one key (the last if repeated).
struct Lookup<'k>(&'k str);

impl<'de> Visitor<'de> for Lookup<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key_seed(KeyIs(self.0))? {
            if key {
                found = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Deserializes a map key into whether it equals the wanted one, without
/// allocating for plain (unescaped) keys.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Visits an object and returns its keys, skipping the values.
struct Keys;

impl<'de> Visitor<'de> for Keys {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Claims {
        let Value::Object(map) = json!({
            "name": "Siddharth K Mansour",
            "email": "s@example.org",
            "address": {"locality": "Cmattey", "country": "Morocco"},
            "n": 3,
        }) else {
            unreachable!()
        };
        Claims::from_map(map)
    }

    /// A struct holding claims, as a stored session does.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        before: u32,
        claims: Claims,
        after: String,
    }

    /// The same record holding a map, as sessions were stored before.
    #[derive(Serialize)]
    struct MapRecord {
        before: u32,
        claims: Map<String, Value>,
        after: String,
    }

    #[test]
    fn text_is_the_compact_map_json() {
        let claims = sample();
        assert_eq!(
            claims.as_json(),
            serde_json::to_string(&claims.to_map()).unwrap()
        );
        assert_eq!(
            Value::Object(claims.to_map()),
            json!({
                "name": "Siddharth K Mansour",
                "email": "s@example.org",
                "address": {"locality": "Cmattey", "country": "Morocco"},
                "n": 3,
            })
        );
    }

    #[test]
    fn round_trips_inside_a_struct_as_the_store_does() {
        let record = Record {
            before: 1,
            claims: sample(),
            after: "x".into(),
        };
        let text = serde_json::to_string(&record).unwrap();
        // Same bytes as a record holding the map itself.
        let as_map = MapRecord {
            before: 1,
            claims: sample().to_map(),
            after: "x".into(),
        };
        assert_eq!(text, serde_json::to_string(&as_map).unwrap());
        let back: Record = serde_json::from_slice(text.as_bytes()).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.claims.as_json(), record.claims.as_json());
        // Also through a `Value` (json! and from_value).
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(value, serde_json::to_value(&as_map).unwrap());
        let back: Record = serde_json::from_value(value).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn anything_but_an_object_is_refused() {
        for claims in ["[]", "null", "\"{}\"", "1", "true", "[{\"a\":1}]"] {
            let text = format!(r#"{{"before":1,"claims":{claims},"after":"x"}}"#);
            assert!(
                serde_json::from_str::<Record>(&text).is_err(),
                "{claims} accepted"
            );
            assert!(serde_json::from_str::<Claims>(claims).is_err(), "{claims}");
        }
        assert!(serde_json::from_value::<Claims>(json!([1])).is_err());
        assert!(serde_json::from_str::<Claims>("{").is_err());
    }

    #[test]
    fn get_and_contains_key() {
        let claims = sample();
        assert_eq!(claims.get("name"), Some(json!("Siddharth K Mansour")));
        assert_eq!(claims.get("n"), Some(json!(3)));
        assert_eq!(
            claims.get("address"),
            Some(json!({"locality": "Cmattey", "country": "Morocco"}))
        );
        // Inner keys are not claims.
        assert_eq!(claims.get("locality"), None);
        assert!(!claims.contains_key("locality"));
        assert_eq!(claims.get("absent"), None);
        assert!(claims.contains_key("email"));
        assert!(!claims.contains_key("absent"));
        assert_eq!(claims.keys(), ["address", "email", "n", "name"]);
        assert!(!claims.is_empty());
    }

    #[test]
    fn escaped_keys_and_repeats_read_like_a_map() {
        let claims: Claims =
            serde_json::from_str(r#"{ "na\u006de" : "A", "x": [1, {"name": 2}], "name": "B" }"#)
                .unwrap();
        assert_eq!(claims.get("name"), Some(json!("B")));
        assert_eq!(claims.to_map()["name"], "B");
        assert_eq!(claims.keys(), ["name", "x"]);
        assert_eq!(claims, Claims::from_map(claims.to_map()));
    }

    #[test]
    fn default_is_empty() {
        let claims = Claims::default();
        assert!(claims.is_empty());
        assert_eq!(claims.as_json(), "{}");
        assert_eq!(claims, Claims::from_map(Map::new()));
        assert!(serde_json::from_str::<Claims>(" { } ").unwrap().is_empty());
        assert_eq!(claims.get("a"), None);
        assert!(claims.keys().is_empty());
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let shown = format!("{:?}", sample());
        assert_eq!(shown, r#"{"address", "email", "n", "name"}"#);
        for value in ["Siddharth", "example.org", "Cmattey", "Morocco", "3"] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
    }
}
