//! Unit tests for the route table and the request-path checks.

use super::*;
use crate::config::Access;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A route with only the match-relevant fields set.
fn route(index: usize, host: Option<&str>, prefix: &str) -> Route {
    Route {
        index,
        name: format!("route{index}"),
        host: host.map(str::to_string),
        path_prefix: prefix.to_string(),
        upstream: "portal".to_string(),
        access: Access::Login,
        audience: None,
        policy: None,
        step_up_acr_values: None,
    }
}

/// The name of the route `find` picked, for compact assertions.
fn found<'a>(table: &'a RouteTable, host: Option<&str>, path: &str) -> Option<&'a str> {
    table.find(host, path).map(|r| r.name.as_str())
}

#[test]
fn prefix_matches_whole_segments_only() {
    let table = RouteTable::new(&[route(0, None, "/api")]);
    assert_eq!(found(&table, None, "/api"), Some("route0"));
    assert_eq!(found(&table, None, "/api/"), Some("route0"));
    assert_eq!(found(&table, None, "/api/x/y"), Some("route0"));
    assert_eq!(found(&table, None, "/apix"), None);
    assert_eq!(found(&table, None, "/ap"), None);
    assert_eq!(found(&table, None, "/"), None);
    assert_eq!(
        found(&table, None, "/API"),
        None,
        "paths are case-sensitive"
    );
}

#[test]
fn trailing_slash_in_prefix_is_ignored() {
    let table = RouteTable::new(&[route(0, None, "/api/")]);
    assert_eq!(found(&table, None, "/api"), Some("route0"));
    assert_eq!(found(&table, None, "/api/x"), Some("route0"));
    assert_eq!(found(&table, None, "/apix"), None);
}

#[test]
fn root_matches_everything() {
    let table = RouteTable::new(&[route(0, None, "/")]);
    for path in ["/", "/a", "/a/b/", "/anything/at/all"] {
        assert_eq!(found(&table, None, path), Some("route0"), "{path}");
    }
}

#[test]
fn longest_prefix_wins_regardless_of_file_order() {
    let table = RouteTable::new(&[
        route(0, None, "/"),
        route(1, None, "/api"),
        route(2, None, "/api/admin"),
    ]);
    assert_eq!(found(&table, None, "/"), Some("route0"));
    assert_eq!(found(&table, None, "/apix"), Some("route0"));
    assert_eq!(found(&table, None, "/api/users"), Some("route1"));
    assert_eq!(found(&table, None, "/api/admin"), Some("route2"));
    assert_eq!(found(&table, None, "/api/admin/x"), Some("route2"));
    assert_eq!(found(&table, None, "/api/administrator"), Some("route1"));
}

#[test]
fn host_route_beats_hostless_route() {
    let table = RouteTable::new(&[
        route(0, None, "/api/admin"),
        route(1, Some("portal.example.org"), "/"),
    ]);
    assert_eq!(
        found(&table, Some("portal.example.org"), "/api/admin"),
        Some("route1")
    );
    assert_eq!(
        found(&table, Some("other.example.org"), "/api/admin"),
        Some("route0")
    );
    assert_eq!(found(&table, Some("other.example.org"), "/x"), None);
    assert_eq!(
        found(&table, None, "/x"),
        None,
        "no Host: host routes skipped"
    );
    assert_eq!(found(&table, None, "/api/admin"), Some("route0"));
}

#[test]
fn longest_prefix_among_host_routes() {
    let table = RouteTable::new(&[
        route(0, Some("a.example"), "/"),
        route(1, Some("a.example"), "/x"),
        route(2, Some("b.example"), "/x/y"),
    ]);
    assert_eq!(found(&table, Some("a.example"), "/x/y"), Some("route1"));
    assert_eq!(found(&table, Some("a.example"), "/z"), Some("route0"));
    assert_eq!(found(&table, Some("b.example"), "/x/y/z"), Some("route2"));
    assert_eq!(found(&table, Some("b.example"), "/x"), None);
}

#[test]
fn host_compare_ignores_case_port_and_trailing_dot() {
    let table = RouteTable::new(&[route(0, Some("portal.example.org"), "/")]);
    for host in [
        "portal.example.org",
        "Portal.Example.ORG",
        "portal.example.org:8443",
        "PORTAL.EXAMPLE.ORG:80",
        "portal.example.org.",
        "portal.example.org.:8080",
        " portal.example.org ",
    ] {
        assert_eq!(found(&table, Some(host), "/"), Some("route0"), "{host}");
    }
    for host in [
        "",
        ":8080",
        "portal.example.org.evil",
        "evil.portal.example.org",
        "portal.example.org..",
        "xportal.example.org",
    ] {
        assert_eq!(found(&table, Some(host), "/"), None, "{host}");
    }
}

#[test]
fn config_host_is_normalised_too() {
    let table = RouteTable::new(&[route(0, Some("Portal.Example.org."), "/")]);
    assert_eq!(
        found(&table, Some("portal.example.org"), "/"),
        Some("route0")
    );
}

#[test]
fn empty_config_host_never_matches() {
    let table = RouteTable::new(&[route(0, Some(""), "/"), route(1, Some(":80"), "/")]);
    assert_eq!(found(&table, Some("any.example"), "/"), None);
    assert_eq!(found(&table, None, "/"), None);
}

#[test]
fn ipv6_hosts() {
    let table = RouteTable::new(&[route(0, Some("::1"), "/v6"), route(1, Some("[::2]"), "/")]);
    assert_eq!(found(&table, Some("[::1]:8080"), "/v6/x"), Some("route0"));
    assert_eq!(found(&table, Some("[::1]"), "/v6"), Some("route0"));
    assert_eq!(found(&table, Some("[::1]"), "/other"), None);
    assert_eq!(found(&table, Some("[::2]:443"), "/other"), Some("route1"));
    assert_eq!(found(&table, Some("[::1"), "/v6"), Some("route0"));
    assert_eq!(found(&table, Some("[::3]"), "/"), None);
}

#[test]
fn ties_keep_file_order() {
    // Validation forbids exact duplicates; prefixes that differ only in a
    // trailing slash normalise to the same key and keep file order.
    let table = RouteTable::new(&[route(0, None, "/api/"), route(1, None, "/api")]);
    assert_eq!(found(&table, None, "/api/x"), Some("route0"));
    let table = RouteTable::new(&[route(0, None, "/api"), route(1, None, "/api/")]);
    assert_eq!(found(&table, None, "/api/x"), Some("route0"));
}

#[test]
fn no_routes_no_match() {
    let table = RouteTable::new(&[]);
    assert_eq!(found(&table, Some("a"), "/"), None);
    assert_eq!(table.routes().count(), 0);
}

#[test]
fn routes_are_listed_in_lookup_order() {
    let table = RouteTable::new(&[
        route(0, None, "/"),
        route(1, None, "/a/b"),
        route(2, Some("h"), "/"),
        route(3, None, "/a"),
    ]);
    let order: Vec<usize> = table.routes().map(|r| r.index).collect();
    assert_eq!(order, vec![2, 1, 3, 0]);
}

#[test]
fn accepted_paths() {
    for path in [
        "/",
        "/api",
        "/api/",
        "/api/users/42",
        "/a.b/c..d/...",
        "/.well-known/openid-configuration",
        "/..foo/bar..",
        "/%20space",
        "/caf%C3%A9",
        "/q?x=%2f..%2f&y=;#",
        "/x?/../admin",
        "/100%25",
        "/tags/c%23",
        "/a%3fb",
        "/~user/-_.",
    ] {
        assert_eq!(check_request_path(path), Ok(()), "{path}");
    }
}

#[test]
fn rejected_paths() {
    use PathRejection::*;
    let cases: &[(&str, PathRejection)] = &[
        ("", NotAbsolute),
        ("api", NotAbsolute),
        ("*", NotAbsolute),
        ("http://evil/x", NotAbsolute),
        ("?x", NotAbsolute),
        ("/.", DotSegment),
        ("/..", DotSegment),
        ("/./x", DotSegment),
        ("/public/../admin", DotSegment),
        ("/public/..", DotSegment),
        ("/public/.", DotSegment),
        ("/public/./admin", DotSegment),
        ("/public/%2e%2e/admin", EncodedUnreserved),
        ("/public/%2E%2e/admin", EncodedUnreserved),
        ("/public/.%2e/admin", EncodedUnreserved),
        ("/public/%2e/admin", EncodedUnreserved),
        ("/%61dmin", EncodedUnreserved),
        ("/admi%6E", EncodedUnreserved),
        ("/public/%252e%252e/admin", EncodedUnreserved),
        ("/public/%25252e%25252e/admin", EncodedUnreserved),
        ("/public/%2525252e", MalformedEncoding),
        ("//admin", EmptySegment),
        ("/public//admin", EmptySegment),
        ("/public%2fadmin", EncodedDelimiter),
        ("/public%2F..%2Fadmin", EncodedDelimiter),
        ("/public%5cadmin", EncodedDelimiter),
        ("/public%5Cadmin", EncodedDelimiter),
        ("/public%252fadmin", EncodedDelimiter),
        ("/public%3b/admin", EncodedDelimiter),
        ("/public\\..\\admin", Backslash),
        ("/public\\admin", Backslash),
        ("/public;/../admin", PathParameter),
        ("/admin;jsessionid=1", PathParameter),
        ("/..;/admin", PathParameter),
        ("/public/..;/admin", PathParameter),
        ("/a\0b", ControlCharacter),
        ("/a%00b", ControlCharacter),
        ("/a%0d%0aSet-Cookie:x", ControlCharacter),
        ("/a\tb", ControlCharacter),
        ("/a\x7fb", ControlCharacter),
        ("/a%7f", ControlCharacter),
        ("/a%2500", ControlCharacter),
        ("/a b", ForbiddenCharacter),
        ("/a#b", ForbiddenCharacter),
        ("/caf\u{e9}", ForbiddenCharacter),
        ("/\u{ff0f}\u{ff0f}evil", ForbiddenCharacter),
        ("/a%", MalformedEncoding),
        ("/a%2", MalformedEncoding),
        ("/a%zz", MalformedEncoding),
        ("/a%c0%ae%c0%ae/admin", MalformedEncoding),
        ("/a%c0%af", MalformedEncoding),
        ("/a%e0%80%ae", MalformedEncoding),
        ("/a%f0%80%80%ae", MalformedEncoding),
    ];
    for (path, want) in cases {
        assert_eq!(check_request_path(path), Err(*want), "{path:?}");
    }
}

#[test]
fn rejection_messages_do_not_echo_the_path() {
    let err = check_request_path("/secret-token/../x").unwrap_err();
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn payload_file_paths_never_panic() {
    // Every line of the open-redirect list used as a request path: the
    // check must answer, never panic, and never accept a `//` start.
    for payload in crate::decision::return_to::tests_support::payloads() {
        if check_request_path(&payload).is_ok() {
            assert!(!payload.starts_with("//"), "{payload:?}");
            assert!(!payload.contains('\\'), "{payload:?}");
        }
    }
}

#[test]
fn property_find_respects_segment_boundaries() {
    let prefixes = [
        "/",
        "/a",
        "/a/b",
        "/ab",
        "/a/bc",
        "/b",
        "/api/admin",
        "/api",
    ];
    let routes: Vec<Route> = prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| route(i, if i % 3 == 1 { Some("h.example") } else { None }, p))
        .collect();
    let table = RouteTable::new(&routes);
    let pieces = [
        "a", "b", "ab", "bc", "api", "admin", "apix", "", ".", "x", "%2f", "a.b",
    ];
    let host_inputs = [
        None,
        Some("h.example"),
        Some("H.Example:99"),
        Some("other.example"),
    ];
    let mut rng = StdRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let depth = rng.gen_range(0..5);
        let mut path = String::new();
        for _ in 0..=depth {
            path.push('/');
            path.push_str(pieces.choose(&mut rng).unwrap());
        }
        let host = *host_inputs.choose(&mut rng).unwrap();
        let Some(hit) = table.find(host, &path) else {
            continue;
        };
        let p = hit.path_prefix.as_str();
        assert!(
            p == "/" || path == p || path.starts_with(&format!("{p}/")),
            "{path} matched {p}"
        );
        // Nothing more specific was skipped.
        for other in &routes {
            let q = other.path_prefix.as_str();
            let under = q == "/" || path == q || path.starts_with(&format!("{q}/"));
            let host_ok = other.host.is_none()
                || host.is_some_and(|h| {
                    h.split(':')
                        .next()
                        .unwrap_or("")
                        .eq_ignore_ascii_case("h.example")
                });
            if under && host_ok {
                let better = (other.host.is_some(), q.len()) > (hit.host.is_some(), p.len());
                assert!(!better, "{path}: {q} should beat {p}");
            }
        }
    }
}

#[test]
fn property_odd_inputs_never_panic() {
    let pieces = [
        "%", "%2", "%25", "%2f", "%c0", "%ae", ".", "..", ";", "\\", "\u{e9}", "\0", "/", "?", "#",
        "a", "%%", "%e0", "%80",
    ];
    let table = RouteTable::new(&[route(0, None, "/a"), route(1, Some("[::1]"), "/")]);
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..8);
        let mut s = String::new();
        for _ in 0..len {
            s.push_str(pieces.choose(&mut rng).unwrap());
        }
        let _ = check_request_path(&s);
        let _ = table.find(Some(&s), &s);
    }
}
