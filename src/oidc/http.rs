//! The HTTP client the gateway uses to call the identity provider.
//!
//! One place sets the timeouts, refuses redirects (following them would let a
//! provider response steer the gateway elsewhere: SSRF), caps response sizes,
//! trusts the operator's CA bundle (`esignet.ca_file`, for an e-Signet behind
//! a private CA) on top of the bundled web roots, and records latency metrics
//! per endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::Error;
use crate::shared::metrics::{IdpEndpoint, Metrics, Outcome};

/// Largest provider response read; a userinfo with a photo fits easily.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A provider response: status, content type and body.
#[derive(Debug)]
pub struct IdpResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` without parameters, lower-case.
    pub content_type: String,
    /// The body, at most [`MAX_RESPONSE_BYTES`].
    pub body: Bytes,
}

/// Client for provider calls.
#[derive(Clone)]
pub struct IdpHttp {
    client: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl IdpHttp {
    /// Builds the client with `timeout` per call. `ca_pem`: extra trusted
    /// root certificates (a PEM bundle), added to the bundled web roots.
    pub fn new(
        timeout: Duration,
        metrics: Arc<Metrics>,
        ca_pem: Option<&[u8]>,
    ) -> Result<IdpHttp, Error> {
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(Error::CaBundle)?;
            if certs.is_empty() {
                return Err(Error::EmptyCaBundle);
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("g2p-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Client)?;
        Ok(IdpHttp { client, metrics })
    }

    /// GET `url`, with an optional bearer token.
    pub async fn get(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<IdpResponse, Error> {
        self.send(endpoint, self.get_request(url, bearer)).await
    }

    /// GET `url` with an `Accept` header: userinfo asks for
    /// `application/jwt`, as OpenID providers that sign userinfo only when
    /// asked require (e-Signet signs either way).
    pub async fn get_accepting(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
        bearer: Option<&str>,
        accept: &str,
    ) -> Result<IdpResponse, Error> {
        let request = self.get_request(url, bearer).header("accept", accept);
        self.send(endpoint, request).await
    }

    fn get_request(&self, url: &str, bearer: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.get(url);
        match bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// POST `form` as `application/x-www-form-urlencoded` to `url`.
    pub async fn post_form(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<IdpResponse, Error> {
        let request = self
            .client
            .post(url)
            .header("accept", "application/json")
            .form(form);
        self.send(endpoint, request).await
    }

    async fn send(
        &self,
        endpoint: IdpEndpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<IdpResponse, Error> {
        let started = Instant::now();
        let result = Self::read(endpoint, request).await;
        let outcome = match &result {
            Ok(r) if r.status < 500 => Outcome::Ok,
            _ => Outcome::Error,
        };
        self.metrics.idp_call(endpoint, outcome, started.elapsed());
        result
    }

    async fn read(
        endpoint: IdpEndpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<IdpResponse, Error> {
        // reqwest errors print the URL, which may carry a query: drop it.
        let transport = |e: reqwest::Error| Error::Transport {
            endpoint,
            source: e.without_url(),
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(Error::TooLarge { endpoint });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Error::TooLarge { endpoint });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(IdpResponse {
            status,
            content_type,
            body: Bytes::from(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn demo(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("certs/demo")
            .join(name)
    }

    /// A provider endpoint behind the demo private CA (`certs/demo/tls.crt`,
    /// issued by `tls-ca.crt`): answers every request with `{}`.
    async fn private_ca_server() -> u16 {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(demo("tls.crt"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(demo("tls.key")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                              content-length: 2\r\nconnection: close\r\n\r\n{}",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    /// Issue 13 item 7: e-Signet behind a private CA is reachable with
    /// `esignet.ca_file`, and only then.
    #[tokio::test]
    async fn a_private_ca_is_trusted_only_when_configured() {
        let port = private_ca_server().await;
        let url = format!("https://127.0.0.1:{port}/.well-known/openid-configuration");
        let metrics = Arc::new(Metrics::new());
        let timeout = Duration::from_secs(10);

        let web_roots_only = IdpHttp::new(timeout, metrics.clone(), None).unwrap();
        let refused = web_roots_only
            .get(IdpEndpoint::Discovery, &url, None)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("failed"), "{refused}");
        // The cause is kept, without the URL.
        let cause = std::error::Error::source(&refused).expect("a source");
        assert!(!cause.to_string().contains("127.0.0.1"), "{cause}");

        let ca = std::fs::read(demo("tls-ca.crt")).unwrap();
        let with_ca = IdpHttp::new(timeout, metrics, Some(&ca)).unwrap();
        let response = with_ca
            .get(IdpEndpoint::Discovery, &url, None)
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(&response.body[..], b"{}");
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let metrics = Arc::new(Metrics::new());
        let err = IdpHttp::new(Duration::from_secs(1), metrics, Some(b"not a pem"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("ca_file"), "{err}");
    }
}
