//! `g2p-gateway register`: registers the gateway as an OIDC client.
//!
//! Builds the registration request from `gateway.yaml` (client id, redirect
//! URI `<public_url><prefix>/callback`, user claims, ACRs) and the public JWK
//! of `esignet.private_key`, then sends it to e-Signet's client-management API
//! or MOSIP PMS with an admin bearer token read from an environment variable
//! or a file (never from the command line, where `ps` would show it). These
//! APIs answer HTTP 200 even when they refuse, so `errors[]` is always checked.

pub mod bodies;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use self::bodies::{create_body, request_time_now, update_body, Registration, Target};
use crate::config::Config;
use crate::shared::keys::SigningKey;

/// Exit code for bad arguments or config (sysexits EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// Exit code when the API refused or could not be reached.
const EXIT_FAILED: u8 = 1;

/// `register` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
An update (--update) sends PUT .../{client_id} and changes the redirect URIs, user claims, \
ACRs, name and logo. The public key CANNOT be changed by an update (neither e-Signet nor PMS \
allows it): to change the client key, register a new client with the new key and switch \
esignet.client_id and esignet.private_key together.

The admin token is read from --token-env VAR or --token-file PATH, never from a flag value.
Exit codes: 0 registered, 1 refused by the API (each errorCode is printed) or unreachable, \
64 bad arguments or configuration.")]
pub struct RegisterArgs {
    /// The gateway configuration the client is derived from.
    #[arg(
        long,
        short,
        default_value = "gateway.yaml",
        env = "G2P_GATEWAY_CONFIG"
    )]
    pub config: PathBuf,
    /// Which API: e-Signet oidc-client (V1), e-Signet oauth-client (V2, OpenG2P's choice) or MOSIP PMS.
    #[arg(long, value_enum, default_value = "oauth-client")]
    pub target: Target,
    // The doc comment is clap's help text, printed as written.
    #[allow(rustdoc::bare_urls)]
    /// Base URL of the API, e.g. https://esignet.example.org or https://api-internal.example.org (PMS).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<url::Url>,
    /// Environment variable holding the admin bearer token.
    #[arg(long, value_name = "VAR", conflicts_with = "token_file")]
    pub token_env: Option<String>,
    /// File holding the admin bearer token.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Client display name (default: the client id).
    #[arg(long)]
    pub client_name: Option<String>,
    /// Language of clientNameLangMap (ISO 639-3; oauth-client only).
    #[arg(long, default_value = "eng")]
    pub lang: String,
    /// Logo URL shown on e-Signet's consent page (default: <public_url>/favicon.ico).
    #[arg(long, value_name = "URL")]
    pub logo_uri: Option<url::Url>,
    /// e-Signet relyingPartyId. The PSUT (`sub`) is derived from it: reuse the partner of an existing OpenG2P setup.
    #[arg(long, default_value = "openg2p-auth-partner")]
    pub relying_party_id: String,
    /// PMS authPartnerId (default: --relying-party-id).
    #[arg(long)]
    pub partner_id: Option<String>,
    /// PMS policyId (required with --target pms).
    #[arg(long)]
    pub policy_id: Option<String>,
    /// Client id to register or update (default: esignet.client_id).
    #[arg(long)]
    pub client_id: Option<String>,
    #[allow(rustdoc::invalid_html_tags)]
    /// More redirect URIs besides <public_url><prefix>/callback (at most 5 in all).
    #[arg(long = "redirect-uri", value_name = "URL")]
    pub extra_redirect_uris: Vec<url::Url>,
    /// Update an existing client (PUT) instead of creating one; cannot change the key.
    #[arg(long)]
    pub update: bool,
    /// Print the method, URL and exact body instead of sending them.
    #[arg(long)]
    pub dry_run: bool,
    /// Timeout of the API call.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Runs `register`.
pub fn main(args: RegisterArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("g2p-gateway register: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Refused(message)) => {
            eprintln!("g2p-gateway register: {message}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

enum Failure {
    Usage(String),
    Refused(String),
}

/// The steps of `register`: read the config and key, build the
/// registration and its request, then (unless `--dry-run`) send it and say
/// what to put in `gateway.yaml`.
fn run(args: RegisterArgs) -> Result<(), Failure> {
    let config = load_config(&args)?;
    let key = client_key(&config)?;
    let registration = registration(&args, &config, &key)?;
    let request = ApiRequest::new(&args, &registration)?;
    if args.dry_run {
        request.print();
        return Ok(());
    }
    let token = read_token(&args)?;
    let answer = request.send_blocking(&token, args.timeout)?;
    let returned_id = check_answer(&answer)?;
    print_outcome(&args, &config, &key, &answer, &returned_id, &request.url);
    Ok(())
}

/// The gateway configuration the client is derived from; an invalid file
/// is a usage error listing every problem.
fn load_config(args: &RegisterArgs) -> Result<Config, Failure> {
    crate::config::load(&args.config).map_err(|errors| {
        Failure::Usage(format!(
            "{}: configuration is invalid:\n{errors}",
            args.config.display()
        ))
    })
}

/// The e-Signet client key (`esignet.private_key`), RSA only: its public
/// JWK is what gets registered.
fn client_key(config: &Config) -> Result<SigningKey, Failure> {
    SigningKey::from_rsa_pem(config.esignet.private_key.expose())
        .map_err(|e| Failure::Usage(format!("esignet.private_key: {e}")))
}

/// What is registered: the client, its key, redirect URIs (the gateway's
/// callback first, at most 5 in all), claims and ACRs from the config, and
/// the flags' names and partner ids.
fn registration(
    args: &RegisterArgs,
    config: &Config,
    key: &SigningKey,
) -> Result<Registration, Failure> {
    let public_url = config.server.public_url.as_str().trim_end_matches('/');
    let mut redirect_uris = vec![format!("{public_url}{}/callback", config.server.prefix)];
    redirect_uris.extend(args.extra_redirect_uris.iter().map(|u| u.to_string()));
    if redirect_uris.len() > 5 {
        return Err(Failure::Usage(
            "at most 5 redirect URIs in all (e-Signet's limit)".into(),
        ));
    }
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| config.esignet.client_id.clone());
    if args.target == Target::Pms && args.policy_id.is_none() && !args.update {
        return Err(Failure::Usage("--target pms needs --policy-id".into()));
    }
    Ok(Registration {
        client_name: args
            .client_name
            .clone()
            .unwrap_or_else(|| client_id.clone()),
        client_id,
        lang: args.lang.clone(),
        public_jwk: key.public_jwk.clone(),
        relying_party_id: args.relying_party_id.clone(),
        partner_id: args
            .partner_id
            .clone()
            .unwrap_or_else(|| args.relying_party_id.clone()),
        policy_id: args.policy_id.clone().unwrap_or_default(),
        logo_uri: args
            .logo_uri
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| format!("{public_url}/favicon.ico")),
        redirect_uris,
        user_claims: config.esignet.user_claims.clone(),
        acrs: config.esignet.acr_values.clone(),
    })
}

/// The API call: create (POST) or update (PUT), to `--api-url`.
struct ApiRequest {
    method: reqwest::Method,
    url: String,
    body: Value,
}

impl ApiRequest {
    /// The request for `registration`; `--api-url` is required unless
    /// this is a dry run.
    fn new(args: &RegisterArgs, registration: &Registration) -> Result<ApiRequest, Failure> {
        let request_time = request_time_now();
        let (method, path, body) = if args.update {
            (
                reqwest::Method::PUT,
                args.target.path(Some(&registration.client_id)),
                update_body(args.target, registration, &request_time),
            )
        } else {
            (
                reqwest::Method::POST,
                args.target.path(None),
                create_body(args.target, registration, &request_time),
            )
        };
        let url = match &args.api_url {
            Some(base) => format!("{}{path}", base.as_str().trim_end_matches('/')),
            None if args.dry_run => format!("<api-url>{path}"),
            None => return Err(Failure::Usage("--api-url is required".into())),
        };
        Ok(ApiRequest { method, url, body })
    }

    /// `--dry-run`: the method, URL and exact body.
    fn print(&self) {
        println!("{} {}", self.method, self.url);
        println!(
            "{}",
            serde_json::to_string_pretty(&self.body).unwrap_or_default()
        );
    }

    /// Sends the request on a one-off runtime and returns the API's JSON.
    fn send_blocking(&self, token: &str, timeout: Duration) -> Result<Value, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Refused(format!("cannot start the runtime: {e}")))?;
        runtime.block_on(send(
            self.method.clone(),
            &self.url,
            token,
            &self.body,
            timeout,
        ))
    }
}

/// Says what was registered and the `esignet:` lines to put in the config.
fn print_outcome(
    args: &RegisterArgs,
    config: &Config,
    key: &SigningKey,
    answer: &Value,
    returned_id: &str,
    url: &str,
) {
    let status = answer["response"]["status"].as_str().unwrap_or("ACTIVE");
    let verb = if args.update { "updated" } else { "registered" };
    println!("{verb} OIDC client {returned_id} (status {status}) at {url}");
    println!();
    println!(
        "Put these lines in {} (section esignet):",
        args.config.display()
    );
    println!();
    println!("esignet:");
    println!("  client_id: {returned_id}");
    println!("  # The registered JWK carries this kid; setting it is optional:");
    println!("  # private_key_kid: {}", key.kid);
    if returned_id != config.esignet.client_id {
        println!();
        println!(
            "(gateway.yaml still says client_id: {}; change it and reload the gateway)",
            config.esignet.client_id
        );
    }
}

/// The admin token, from the environment or a file; never from a flag value.
fn read_token(args: &RegisterArgs) -> Result<String, Failure> {
    let token = match (&args.token_env, &args.token_file) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            Failure::Usage(format!(
                "environment variable {var} (--token-env) is not set"
            ))
        })?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!("cannot read --token-file {}: {e}", path.display()))
        })?,
        (None, None) => {
            return Err(Failure::Usage(
                "an admin token is required: --token-env VAR or --token-file PATH".into(),
            ))
        }
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(Failure::Usage("the admin token is empty".into()));
    }
    Ok(token)
}

async fn send(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: &Value,
    timeout: Duration,
) -> Result<Value, Failure> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Failure::Refused(format!("cannot build the HTTP client: {e}")))?;
    let response = client
        .request(method, url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .map_err(|e| Failure::Refused(format!("cannot reach {url}: {e}")))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Failure::Refused(format!("cannot read the answer of {url}: {e}")))?;
    let json: Option<Value> = serde_json::from_str(&text).ok();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(Failure::Refused(format!(
            "{url} refused the admin token (HTTP {status}); it needs the add_oidc_client \
             (or update_oidc_client) scope"
        )));
    }
    match json {
        Some(json) if status.is_success() => Ok(json),
        Some(json) if json.get("errors").is_some() => Ok(json),
        _ => {
            let excerpt: String = text.chars().take(500).collect();
            Err(Failure::Refused(format!(
                "{url} answered HTTP {status}: {excerpt}"
            )))
        }
    }
}

/// The client id of a successful answer, or every `errorCode: errorMessage`.
fn check_answer(answer: &Value) -> Result<String, Failure> {
    let errors = answer
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !errors.is_empty() {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                format!(
                    "  {}: {}",
                    e["errorCode"].as_str().unwrap_or("?"),
                    e["errorMessage"].as_str().unwrap_or("")
                )
            })
            .collect();
        return Err(Failure::Refused(format!(
            "the API refused the request:\n{}",
            lines.join("\n")
        )));
    }
    answer["response"]["clientId"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Failure::Refused(format!("no response.clientId in the answer: {answer}")))
}
