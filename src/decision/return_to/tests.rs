//! Unit tests for return-target checks, including the whole open-redirect
//! payload list.

use super::tests_support::payloads;
use super::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The two public origins every payload is tried against.
fn origins() -> [Url; 2] {
    [
        Url::parse("https://portal.example.org").expect("valid"),
        Url::parse("http://localhost:8080").expect("valid"),
    ]
}

/// The production-like origin.
fn portal() -> Url {
    Url::parse("https://portal.example.org").expect("valid")
}

/// Whether `out` is a safe answer for `origin`: a path that stays on the
/// origin when joined, and neither it nor its decoded forms start with `//`
/// or `/\`.
fn assert_safe_output(out: &str, origin: &Url, payload: &str) {
    assert!(out.starts_with('/'), "{payload:?} -> {out:?}");
    assert!(!out.starts_with("//"), "{payload:?} -> {out:?}");
    assert!(!out.starts_with("/\\"), "{payload:?} -> {out:?}");
    assert!(out.len() <= MAX_RETURN_TARGET_LEN);
    assert!(out.bytes().all(|b| b.is_ascii_graphic()), "{out:?}");
    assert!(!out.contains('#'), "fragment kept: {out:?}");
    let joined = origin.join(out).expect("joins");
    assert_eq!(joined.origin(), origin.origin(), "{payload:?} -> {out:?}");
    assert!(!joined.path().starts_with("//"), "{payload:?} -> {out:?}");
    let mut layer = out.as_bytes().to_vec();
    for _ in 0..4 {
        assert!(
            !layer.starts_with(b"//") && !layer.starts_with(b"/\\"),
            "{payload:?} -> {out:?} decodes to a scheme-relative path"
        );
        layer = percent_encoding::percent_decode(&layer).collect();
    }
    let path = out.split('?').next().unwrap_or_default();
    assert_eq!(
        crate::decision::routing::check_request_path(path),
        Ok(()),
        "{out:?}"
    );
    // Stable: feeding the output back gives the same output.
    assert_eq!(safe_return_path(out, origin).as_deref(), Some(out));
}

#[test]
fn every_payload_is_refused_or_stays_on_origin() {
    let payloads = payloads();
    for origin in origins() {
        let mut accepted = Vec::new();
        for payload in &payloads {
            if let Some(out) = safe_return_path(payload, &origin) {
                assert_safe_output(&out, &origin, payload);
                accepted.push((payload.clone(), out));
            }
        }
        // The list targets foreign hosts; what survives is a harmless local
        // path such as `/https://google.com/`.
        for (payload, out) in &accepted {
            assert!(payload.starts_with('/'), "{payload:?} -> {out:?}");
        }
        println!(
            "{origin}: {} of {} accepted",
            accepted.len(),
            payloads.len()
        );
        for (payload, out) in &accepted {
            println!("  accepted {payload:?} -> {out:?}");
        }
    }
}

/// The placeholder hosts used in the payload list, longest first so that
/// `www.google.com` is replaced before `google.com`.
const PLACEHOLDER_HOSTS: [&str; 6] = [
    "www.whitelisteddomain.tld",
    "www.google.com",
    "localdomain.pw",
    "example.com",
    "google.com",
    "bing.com",
];

/// Same-host variants of a payload: each placeholder host replaced by the
/// origin's host, and by host:port.
fn same_host_variants(payload: &str, origin: &Url) -> Vec<String> {
    let host = origin.host_str().unwrap_or_default();
    let with_port = match origin.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let mut out = Vec::new();
    for replacement in [host.to_string(), with_port] {
        let mut variant = payload.to_string();
        for placeholder in PLACEHOLDER_HOSTS {
            variant = variant.replace(placeholder, &replacement);
        }
        if variant != payload {
            out.push(variant);
        }
        // Only one placeholder replaced, the others left foreign.
        for placeholder in PLACEHOLDER_HOSTS {
            if payload.contains(placeholder) {
                out.push(payload.replace(placeholder, &replacement));
            }
        }
    }
    out
}

#[test]
fn same_host_variants_are_refused_or_stay_on_origin() {
    let payloads = payloads();
    for origin in origins() {
        let mut tried = 0;
        let mut accepted = 0;
        for payload in &payloads {
            for variant in same_host_variants(payload, &origin) {
                tried += 1;
                if let Some(out) = safe_return_path(&variant, &origin) {
                    assert_safe_output(&out, &origin, &variant);
                    accepted += 1;
                }
            }
        }
        assert!(tried > 500, "placeholders not found in the payload list");
        println!("{origin}: {accepted} of {tried} same-host variants accepted");
    }
}

#[test]
fn payloads_as_request_targets() {
    for payload in payloads() {
        if request_target_is_safe(&payload) {
            let out = safe_return_path(&payload, &portal()).expect("safe target resolves");
            assert_safe_output(&out, &portal(), &payload);
        }
    }
}

#[test]
fn explicit_cases() {
    let origin = portal();
    let cases: &[(&str, Option<&str>)] = &[
        ("/ok?x=1", Some("/ok?x=1")),
        ("/", Some("/")),
        ("/a/b/../c", Some("/a/c")),
        ("/a?", Some("/a?")),
        ("/a#frag", Some("/a")),
        (
            "/search?q=a%2Fb&r=%2F%2Fx",
            Some("/search?q=a%2Fb&r=%2F%2Fx"),
        ),
        ("/caf%C3%A9", Some("/caf%C3%A9")),
        ("https://portal.example.org/x?y=1#z", Some("/x?y=1")),
        ("https://portal.example.org", Some("/")),
        ("HTTPS://PORTAL.EXAMPLE.ORG/x", Some("/x")),
        ("https://portal.example.org:443/x", Some("/x")),
        ("https://portal.example.org./x", None),
        ("https://portal.example.org:8443/x", None),
        ("http://portal.example.org/x", None),
        ("https://user@portal.example.org/x", None),
        ("//evil.com", None),
        ("///evil.com", None),
        ("/\\evil.com", None),
        ("\\/evil.com", None),
        ("https:evil.com", None),
        ("https:/evil.com", None),
        ("https:portal.example.org/x", None),
        ("https://evil.com", None),
        ("https://portal.example.org.evil.com/", None),
        ("https://portal.example.org@evil.com/", None),
        ("https://evil.com\\@portal.example.org/", None),
        ("https://evil.com#@portal.example.org/", None),
        ("https://evil.com?@portal.example.org/", None),
        ("https://portal.example.org//evil.com", None),
        ("/%2F%2Fevil.com", None),
        ("/%2f%2fevil.com", None),
        ("/%2F/evil.com", None),
        ("/%252F%252Fevil.com", None),
        ("/%5cevil.com", None),
        ("/%5Cevil.com", None),
        ("/%255cevil.com", None),
        ("/%09/evil.com", None),
        ("/a/..//evil.com", None),
        ("/a/%2e%2e//evil.com", None),
        ("/.//evil.com", None),
        ("\t//evil", None),
        ("/\t/evil", None),
        (" /ok", None),
        ("/ok\n", None),
        ("/ok\r\nSet-Cookie: x=1", None),
        ("/ok%0d%0aSet-Cookie:%20x=1", None),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("data:text/html;base64,PHNjcmlwdD4=", None),
        ("\u{ff0f}\u{ff0f}evil.com", None),
        ("/\u{ff0f}evil.com", None),
        ("/%EF%BC%8Fevil.com", None),
        ("/\u{e9}", None),
        ("ok", None),
        ("./ok", None),
        ("../ok", None),
        ("?x=1", None),
        ("#x", None),
        ("", None),
        ("ftp://portal.example.org/x", None),
        ("wss://portal.example.org/x", None),
        ("/https://evil.com/", None),
        ("/a//b", None),
        ("/a;b", None),
        ("/%2e%2e%2f", None),
        ("/%61dmin", None),
        ("/a%2fb", None),
        ("https://portal.example.org/%2e%2e%2f", None),
    ];
    for (candidate, want) in cases {
        assert_eq!(
            safe_return_path(candidate, &origin).as_deref(),
            *want,
            "{candidate:?}"
        );
    }
}

#[test]
fn non_default_port_origin() {
    let origin = Url::parse("http://localhost:8080").expect("valid");
    assert_eq!(
        safe_return_path("http://localhost:8080/x", &origin).as_deref(),
        Some("/x")
    );
    assert_eq!(safe_return_path("http://localhost/x", &origin), None);
    assert_eq!(safe_return_path("http://localhost:8081/x", &origin), None);
    assert_eq!(safe_return_path("https://localhost:8080/x", &origin), None);
}

#[test]
fn length_cap() {
    let origin = portal();
    let long = format!("/{}", "a".repeat(MAX_RETURN_TARGET_LEN - 1));
    assert_eq!(
        safe_return_path(&long, &origin).as_deref(),
        Some(long.as_str())
    );
    let too_long = format!("/{}", "a".repeat(MAX_RETURN_TARGET_LEN));
    assert_eq!(safe_return_path(&too_long, &origin), None);
    // Growth by normalisation (`"` is percent-encoded by the parser) is capped too.
    let grows = format!("/{}", "\"".repeat(1000));
    assert_eq!(safe_return_path(&grows, &origin), None);
}

#[test]
fn request_targets() {
    for ok in ["/", "/api/x?y=1", "/a/b/"] {
        assert!(request_target_is_safe(ok), "{ok}");
    }
    for bad in [
        "",
        "//evil.com",
        "/\\evil.com",
        "https://portal.example.org/x",
        "http://gateway.invalid/x",
        "*",
        "x",
        "/a/..//evil.com",
        "/%2F%2Fevil.com",
        "/a\tb",
    ] {
        assert!(!request_target_is_safe(bad), "{bad:?}");
    }
}

#[test]
fn odd_inputs_never_panic() {
    let origin = portal();
    let pieces = [
        "/", "\\", "%", "%2", "%2f", "%5c", "%25", ":", "@", "?", "#", "..", ".", "\u{ff0f}",
        "https:", "//", "a", "[", "]", "%00", "%e0", "\u{0}",
    ];
    let mut rng = StdRng::seed_from_u64(0x2545_f491_4f6c_dd1d);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..9);
        let mut s = String::new();
        for _ in 0..len {
            s.push_str(pieces.choose(&mut rng).unwrap());
        }
        if let Some(out) = safe_return_path(&s, &origin) {
            assert_safe_output(&out, &origin, &s);
        }
        let _ = request_target_is_safe(&s);
    }
}
