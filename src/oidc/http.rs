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

use crate::metrics::{IdpEndpoint, Metrics, Outcome};

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
    ) -> Result<IdpHttp, String> {
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("esignet.ca_file: not a PEM certificate bundle ({e})"))?;
            if certs.is_empty() {
                return Err("esignet.ca_file: holds no certificate".into());
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
            .map_err(|e| e.to_string())?;
        Ok(IdpHttp { client, metrics })
    }

    /// GET `url`, with an optional bearer token.
    pub async fn get(
        &self,
        endpoint: IdpEndpoint,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<IdpResponse, String> {
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
    ) -> Result<IdpResponse, String> {
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
    ) -> Result<IdpResponse, String> {
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
    ) -> Result<IdpResponse, String> {
        let started = Instant::now();
        let result = Self::read(request).await;
        let outcome = match &result {
            Ok(r) if r.status < 500 => Outcome::Ok,
            _ => Outcome::Error,
        };
        self.metrics.idp_call(endpoint, outcome, started.elapsed());
        result.map_err(|e| format!("{} call failed: {e}", endpoint.label()))
    }

    async fn read(request: reqwest::RequestBuilder) -> Result<IdpResponse, String> {
        let mut response = request.send().await.map_err(|e| without_url(&e))?;
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
            return Err("response too large".into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err("response too large".into());
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

/// reqwest errors print the URL, which may carry a query; keep just the cause.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "bad response body"
    } else {
        "request failed"
    };
    kind.to_string()
}
