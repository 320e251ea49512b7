//! Raw value types that accept more than one written form: secret
//! references, word lists, Odoo `from:to` maps and order-keeping maps.
//!
//! Each keeps enough of the written form (list or string) for validation to
//! point at the exact item in error.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

// === Secret references ===

/// Where a secret comes from: `{file: path}` or `{env: VAR_NAME}`, never inline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretFields {
    pub file: Option<PathBuf>,
    pub env: Option<String>,
}

/// A secret reference; a plain string is refused so that keys never sit in the YAML.
#[derive(Debug, Clone)]
pub struct SecretRef(pub SecretFields);

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{file: PATH} or {env: VAR_NAME}")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(E::custom(
            "secrets are never written inline; use {file: PATH} or {env: VAR_NAME}",
        ))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretRef, A::Error> {
        SecretFields::deserialize(de::value::MapAccessDeserializer::new(map)).map(SecretRef)
    }
}

// === Flexible lists ===

/// A list written as one space-separated string or as a YAML list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words {
    /// The items, in order.
    pub items: Vec<String>,
    /// True when written as a YAML list (items then have `[i]` paths).
    pub listed: bool,
}

impl Words {
    /// Words from a space-separated string.
    pub fn text(s: &str) -> Self {
        Words {
            items: s.split_whitespace().map(str::to_owned).collect(),
            listed: false,
        }
    }
}

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor {
            expecting: "a space-separated string or a list of strings",
            split: true,
        })
    }
}

/// A list written as one string (one item) or as a YAML list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany {
    /// The items, in order.
    pub items: Vec<String>,
    /// True when written as a YAML list.
    pub listed: bool,
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let words = deserializer.deserialize_any(ListVisitor {
            expecting: "a string or a list of strings",
            split: false,
        })?;
        Ok(OneOrMany {
            items: words.items,
            listed: words.listed,
        })
    }
}

struct ListVisitor {
    expecting: &'static str,
    split: bool,
}

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Words;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Words, E> {
        if self.split {
            return Ok(Words::text(v));
        }
        Ok(Words {
            items: vec![v.to_owned()],
            listed: false,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Words, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(Words {
            items,
            listed: true,
        })
    }
}

/// An Odoo-style `from:to` mapping as written: a string, a YAML map or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairList {
    /// `"sub:user_id name:name"` (the Odoo provider form).
    Text(String),
    /// `{sub: user_id}`, in file order.
    Map(Vec<(String, String)>),
    /// `["sub:user_id", "name:name"]`.
    List(Vec<String>),
}

impl Default for PairList {
    fn default() -> Self {
        PairList::Text(String::new())
    }
}

impl<'de> Deserialize<'de> for PairList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PairListVisitor)
    }
}

struct PairListVisitor;

impl<'de> Visitor<'de> for PairListVisitor {
    type Value = PairList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("space-separated \"from:to\" pairs, a map {from: to} or a list of \"from:to\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PairList, E> {
        Ok(PairList::Text(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PairList, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<String, String>()? {
            pairs.push(pair);
        }
        Ok(PairList::Map(pairs))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PairList, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(PairList::List(items))
    }
}

/// A YAML map kept in file order (names of upstreams, header names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: DeserializeOwned> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OrderedMapVisitor(PhantomData))
    }
}

struct OrderedMapVisitor<V>(PhantomData<V>);

impl<'de, V: DeserializeOwned> Visitor<'de> for OrderedMapVisitor<V> {
    type Value = OrderedMap<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap<V>, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, V>()? {
            entries.push(entry);
        }
        Ok(OrderedMap(entries))
    }
}
