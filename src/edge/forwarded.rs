//! The forwarding headers the upstream receives, and the client-sent ones it
//! never does.
//!
//! Runs on every proxied request. A portal behind the gateway may trust
//! proxy headers to learn the client's address, scheme, host, port, prefix
//! or even the URL and method (`Forwarded`, `X-Real-IP`, `X-Forwarded-Prefix`,
//! `X-Original-URL`, `X-HTTP-Method-Override`, …). A client that could set
//! them would choose what the portal believes, so every such header is
//! removed from the client's request ([`is_client_forwarding_header`]), and
//! the gateway sets `X-Forwarded-For`, `-Proto`, `-Host` itself, and
//! `X-Real-IP` for an upstream that asks for it (`real_ip_header`). Values
//! from a peer in `server.trusted_proxies` are kept (the ingress in front set
//! them); from anyone else they are replaced.

use std::net::IpAddr;
use std::sync::OnceLock;

use http::HeaderValue;
use pingora::http::RequestHeader;
use pingora::{Error, ErrorType, Result};

use crate::edge::gateway::Gateway;

/// Whether a client-sent header with this (lower-case) name is a proxy or
/// rewrite header that must not reach the upstream as the client wrote it.
///
/// `X-Forwarded-For`, `-Proto` and `-Host` are not in the list: the gateway
/// sets them itself in [`set_forwarding_headers`], keeping a trusted
/// proxy's values.
pub fn is_client_forwarding_header(name: &str) -> bool {
    matches!(
        name,
        "forwarded"
            | "x-real-ip"
            | "x-forwarded-port"
            | "x-forwarded-prefix"
            | "x-forwarded-server"
            | "x-forwarded-uri"
            | "x-forwarded-method"
            | "x-forwarded-ssl"
            | "x-forwarded-scheme"
            | "x-forwarded-path"
            | "x-original-url"
            | "x-original-uri"
            | "x-original-method"
            | "x-original-host"
            | "x-original-forwarded-for"
            | "x-rewrite-url"
            | "x-host"
            | "x-scheme"
            | "x-url-scheme"
            | "front-end-https"
            | "x-client-ip"
            | "client-ip"
            | "true-client-ip"
            | "cf-connecting-ip"
            | "fastly-client-ip"
            | "x-cluster-client-ip"
            | "x-proxyuser-ip"
            | "x-envoy-external-address"
            | "x-envoy-original-path"
            | "x-http-method-override"
            | "x-http-method"
            | "x-method-override"
    )
}

/// Sets `X-Forwarded-For`, `-Proto`, `-Host` and `X-Real-IP` on the
/// upstream request. `peer` is the connection's address, `real_ip` the
/// client address the gateway decided on ([`crate::decision::access::client_address`])
/// when the upstream asks for `X-Real-IP` (`None`: no `X-Real-IP` at all; a
/// client's own was removed with the other client forwarding headers).
///
/// A trusted peer's `X-Forwarded-For` is appended to and its `-Proto` and
/// `-Host` kept; anyone else's are replaced. `written` keeps the peer's
/// address as text for the connection's next requests.
pub fn set_forwarding_headers(
    gw: &Gateway,
    peer: Option<IpAddr>,
    real_ip: Option<IpAddr>,
    written: &AddressValue,
    upstream: &mut RequestHeader,
) -> Result<()> {
    let server = &gw.config.server;
    remove_client_forwarding_headers(upstream);
    let trusted_peer = peer.is_some_and(|p| server.is_trusted_proxy(p));
    let trusted = |name: &str| {
        trusted_peer
            .then(|| upstream.headers.get(name))
            .flatten()
            .filter(|v| v.to_str().is_ok())
            .cloned()
    };
    let forwarded_for: HeaderValue = match (trusted("x-forwarded-for"), peer) {
        (Some(prior), Some(ip)) => {
            let prior = prior.to_str().unwrap_or_default();
            HeaderValue::from_str(&format!("{prior}, {ip}")).map_err(bad_forwarded)?
        }
        (_, Some(ip)) => written.of(ip),
        (_, None) => HeaderValue::from_static("unknown"),
    };
    let proto = match trusted("x-forwarded-proto") {
        Some(p) => p,
        // TLS terminated here (server.tls): the client spoke https to us.
        None if gw.config.start.server.tls.is_some() => HeaderValue::from_static("https"),
        None => HeaderValue::from_static("http"),
    };
    let host =
        trusted("x-forwarded-host").or_else(|| upstream.headers.get(http::header::HOST).cloned());
    upstream.insert_header("x-forwarded-for", forwarded_for)?;
    upstream.insert_header("x-forwarded-proto", proto)?;
    match host {
        Some(h) => upstream.insert_header("x-forwarded-host", h)?,
        None => {
            upstream.remove_header("x-forwarded-host");
        }
    }
    if let Some(ip) = real_ip {
        upstream.insert_header("x-real-ip", written.of(ip))?;
    }
    Ok(())
}

/// Removes [`is_client_forwarding_header`]s.
fn remove_client_forwarding_headers(upstream: &mut RequestHeader) {
    remove_headers(upstream, is_client_forwarding_header);
}

/// Removes every header whose (lower-case) name `doomed` picks. Runs on
/// every request: one pass, allocating only when something is removed.
pub fn remove_headers(req: &mut RequestHeader, doomed: impl Fn(&str) -> bool) {
    let names: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|name| doomed(name.as_str()))
        .cloned()
        .collect();
    for name in names {
        req.remove_header(&name);
    }
}

/// An address as a header value, written once per client connection: the
/// connection's requests all come from the same peer, and writing an
/// address out costs more than the rest of the forwarding headers together.
/// Kept in [`crate::edge::connections::Memos`]; a request without them
/// (HTTP/2) uses a fresh one.
#[derive(Debug, Default)]
pub struct AddressValue(OnceLock<(IpAddr, HeaderValue)>);

impl AddressValue {
    /// `ip` as a header value: the one written before when it is the same
    /// address, else written now (and kept, the first time).
    pub fn of(&self, ip: IpAddr) -> HeaderValue {
        let (written, value) = self.0.get_or_init(|| (ip, address_value(ip)));
        if *written == ip {
            value.clone()
        } else {
            address_value(ip)
        }
    }
}

fn address_value(ip: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&ip.to_string()).expect("an address is a header value")
}

fn bad_forwarded(e: http::header::InvalidHeaderValue) -> Box<Error> {
    Error::explain(ErrorType::InvalidHTTPHeader, e.to_string())
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn an_address_is_written_once_and_only_for_itself() {
        let written = AddressValue::default();
        let (first, second) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        );
        assert_eq!(written.of(first), "10.0.0.7");
        assert_eq!(written.of(second), "::1");
        assert_eq!(written.of(first), "10.0.0.7");
    }

    #[test]
    fn proxy_and_rewrite_headers_are_client_forwarding_headers() {
        for name in [
            "forwarded",
            "x-real-ip",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "x-original-url",
            "x-original-method",
            "x-http-method-override",
        ] {
            assert!(is_client_forwarding_header(name), "{name}");
        }
        for name in ["x-forwarded-for", "x-forwarded-proto", "cookie", "accept"] {
            assert!(!is_client_forwarding_header(name), "{name}");
        }
    }
}
