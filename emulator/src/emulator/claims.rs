//! User claims as the mock identity system releases them: scope → claim mapping, locale
//! handling (`claims_locales`, 2-letter codes turned into ISO-639-3), and the userinfo payload
//! (reference §2 scope mapping, §5.4 claim shapes and locale suffixes).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::config::{EsignetVersion, MockIdentity};

/// The default claims locale when none is requested.
const DEFAULT_LOCALE: &str = "eng";

/// Claims implied by a scope (`mosip.esignet.openid.scope.claims`).
pub(crate) fn scope_claims(version: EsignetVersion, scope: &str) -> &'static [&'static str] {
    match (scope, version) {
        ("profile", EsignetVersion::V1_4_1) => &[
            "name",
            "address",
            "gender",
            "birthdate",
            "picture",
            "email",
            "phone_number",
        ],
        ("profile", EsignetVersion::V1_8) => &[
            "name",
            "address",
            "gender",
            "birthdate",
            "picture",
            "email",
            "phone_number",
            "phone_number_verified",
            "registration_type",
            "updated_at",
        ],
        ("email", _) => &["email"],
        ("phone", _) => &["phone_number", "phone_number_verified"],
        ("address", _) => &["address"],
        _ => &[],
    }
}

/// A BCP 47 tag's language as ISO-639-3, as the mock plugin converts it (`en-US` → `eng`).
/// Unknown 2-letter codes and 3-letter codes pass through lower-cased.
pub(crate) fn to_iso639_3(tag: &str) -> String {
    let primary = tag
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let mapped = match primary.as_str() {
        "en" => "eng",
        "fr" => "fra",
        "ar" => "ara",
        "es" => "spa",
        "pt" => "por",
        "de" => "deu",
        "hi" => "hin",
        "kn" => "kan",
        "ta" => "tam",
        "km" => "khm",
        "sw" => "swa",
        "tl" => "tgl",
        _ => return primary,
    };
    mapped.to_string()
}

/// The userinfo claims (without `sub`, `iss`, `aud`) for `identity`: only `claims`, in that
/// order, localised the way the mock identity system of each era does:
///
/// * 1.8 (mock-identity-system 0.13.0): locales arrive as ISO-639-3 and match exactly. One
///   available: the plain name; several: `name#eng`, `name#fra`, and `address#eng` with
///   suffixed inner keys (`locality#eng`); none: the claim is `""`.
/// * 1.4.1 (mock 0.9.3): only the **first** requested locale counts, matched as a prefix of the
///   record's language (`en` finds `eng`); with one locale requested the plain name, with
///   several `name#<locale as sent>` (`name#en`); unmatched, the claim is left out.
///
/// Without `claims_locales`, English (`eng`) as the plain name.
pub(crate) fn userinfo_claims(
    version: EsignetVersion,
    identity: &MockIdentity,
    claims: &[String],
    locales: &[String],
) -> Map<String, Value> {
    let default = [DEFAULT_LOCALE.to_string()];
    let locales = if locales.is_empty() {
        &default[..]
    } else {
        locales
    };
    let style = match version {
        EsignetVersion::V1_8 => LocaleStyle::Exact,
        EsignetVersion::V1_4_1 => LocaleStyle::FirstPrefix,
    };
    let mut out = Map::new();
    for claim in claims {
        match claim.as_str() {
            "name" => localized(&mut out, style, "name", &identity.name, locales, |v| {
                Value::from(v.clone())
            }),
            "gender" => localized(&mut out, style, "gender", &identity.gender, locales, |v| {
                Value::from(v.clone())
            }),
            "address" => localized(
                &mut out,
                style,
                "address",
                &identity.address,
                locales,
                address_value,
            ),
            "birthdate" => plain(&mut out, "birthdate", &identity.birthdate),
            "email" => plain(&mut out, "email", &identity.email),
            "phone_number" => plain(&mut out, "phone_number", &identity.phone_number),
            "picture" => plain(&mut out, "picture", &identity.picture),
            "individual_id" => plain(&mut out, "individual_id", &identity.individual_id),
            // phone_number_verified, updated_at, … : not in the mock records.
            _ => {}
        }
    }
    out
}

fn plain(out: &mut Map<String, Value>, name: &str, value: &str) {
    if !value.is_empty() {
        out.insert(name.to_string(), Value::from(value));
    }
}

/// How the mock identity system picks localised values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LocaleStyle {
    /// mock 0.13.0: every requested locale, exact match, `""` when none.
    Exact,
    /// mock 0.9.3: the first requested locale, prefix match, dropped when none.
    FirstPrefix,
}

fn localized<T>(
    out: &mut Map<String, Value>,
    style: LocaleStyle,
    name: &str,
    values: &BTreeMap<String, T>,
    locales: &[String],
    to_value: impl Fn(&T) -> Value,
) {
    let available: Vec<(&String, &T)> = match style {
        LocaleStyle::Exact => locales
            .iter()
            .filter_map(|l| values.get(l).map(|v| (l, v)))
            .collect(),
        LocaleStyle::FirstPrefix => locales
            .first()
            .and_then(|first| {
                values
                    .iter()
                    .find(|(lang, _)| lang.starts_with(first.as_str()))
                    .map(|(_, v)| (first, v))
            })
            .into_iter()
            .collect(),
    };
    let suffixed = match style {
        LocaleStyle::Exact => available.len() > 1,
        LocaleStyle::FirstPrefix => locales.len() > 1,
    };
    match available.as_slice() {
        [] => {
            if style == LocaleStyle::Exact {
                out.insert(name.to_string(), Value::from(""));
            }
        }
        [(_, value)] if !suffixed => {
            out.insert(name.to_string(), to_value(value));
        }
        several => {
            for (locale, value) in several {
                let value = match to_value(value) {
                    Value::Object(inner) => Value::Object(
                        inner
                            .into_iter()
                            .map(|(k, v)| (format!("{k}#{locale}"), v))
                            .collect(),
                    ),
                    other => other,
                };
                out.insert(format!("{name}#{locale}"), value);
            }
        }
    }
}

fn address_value(address: &BTreeMap<String, String>) -> Value {
    Value::Object(
        address
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity() -> MockIdentity {
        serde_json::from_value(json!({
            "individual_id": "1",
            "name": {"eng": "Jean", "fra": "Jean F"},
            "gender": {"eng": "Male", "fra": "Mâle"},
            "birthdate": "1987/11/25",
            "email": "j@example.org",
            "phone_number": "+1",
            "address": {"eng": {"locality": "Town"}, "fra": {"locality": "Ville"}},
            "picture": "data:image/png;base64,AA=="
        }))
        .expect("identity")
    }

    const V18: EsignetVersion = EsignetVersion::V1_8;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn single_locale_uses_plain_names() {
        let claims = userinfo_claims(
            V18,
            &identity(),
            &names(&["name", "gender", "address", "birthdate"]),
            &[],
        );
        assert_eq!(claims["name"], "Jean");
        assert_eq!(claims["gender"], "Male");
        assert_eq!(claims["address"], json!({"locality": "Town"}));
        assert_eq!(claims["birthdate"], "1987/11/25");
        let fr = userinfo_claims(
            V18,
            &identity(),
            &names(&["name", "gender"]),
            &names(&["fra"]),
        );
        assert_eq!(fr["name"], "Jean F");
        assert_eq!(fr["gender"], "Mâle");
    }

    #[test]
    fn several_locales_suffix_keys() {
        let locales: Vec<String> = ["en", "fr"].iter().map(|l| to_iso639_3(l)).collect();
        let claims = userinfo_claims(
            V18,
            &identity(),
            &names(&["name", "address", "email"]),
            &locales,
        );
        assert_eq!(claims["name#eng"], "Jean");
        assert_eq!(claims["name#fra"], "Jean F");
        assert_eq!(claims["address#fra"], json!({"locality#fra": "Ville"}));
        assert_eq!(claims["email"], "j@example.org");
        assert!(claims.get("name").is_none());
    }

    #[test]
    fn unavailable_locale_gives_an_empty_value_in_mock_0_13() {
        let claims = userinfo_claims(V18, &identity(), &names(&["name"]), &names(&["ara"]));
        assert_eq!(claims["name"], "");
    }

    #[test]
    fn mock_0_9_3_takes_the_first_locale_by_prefix_and_suffixes_as_sent() {
        let v141 = EsignetVersion::V1_4_1;
        let one = userinfo_claims(v141, &identity(), &names(&["name"]), &names(&["en"]));
        assert_eq!(one["name"], "Jean");
        let two = userinfo_claims(
            v141,
            &identity(),
            &names(&["name", "address"]),
            &names(&["fr", "en"]),
        );
        assert_eq!(two["name#fr"], "Jean F");
        assert_eq!(two["address#fr"], json!({"locality#fr": "Ville"}));
        assert!(two.get("name#en").is_none(), "only the first locale");
        let none = userinfo_claims(v141, &identity(), &names(&["name"]), &names(&["ar", "en"]));
        assert!(none.is_empty(), "unmatched: dropped");
    }

    #[test]
    fn locale_codes() {
        assert_eq!(to_iso639_3("en"), "eng");
        assert_eq!(to_iso639_3("fr-FR"), "fra");
        assert_eq!(to_iso639_3("eng"), "eng");
        assert_eq!(to_iso639_3("xx"), "xx");
    }
}
