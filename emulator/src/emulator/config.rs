//! Configuration of an emulated e-Signet: version, issuer, registered OIDC clients, the mock
//! identity records and the key material. Built once by the caller and handed to
//! [`Emulator::start`](super::Emulator::start); clients can be added later with
//! [`Emulator::register_client`](super::Emulator::register_client).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The ACR of OTP login (`generated-code`).
pub const ACR_GENERATED_CODE: &str = "mosip:idp:acr:generated-code";
/// The ACR of biometric login.
pub const ACR_BIOMETRICS: &str = "mosip:idp:acr:biometrics";
/// The ACR of PIN login (`static-code`).
pub const ACR_STATIC_CODE: &str = "mosip:idp:acr:static-code";

/// Which e-Signet release to behave like. The differences that matter to a client are listed
/// in `shared/reference/esignet-protocol.md` (discovery contents, RS256 vs PS256 tokens, the
/// redirect's `state`/`iss`, client-assertion rules and the token error codes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EsignetVersion {
    /// e-Signet 1.4.1, the version OpenG2P's Helm chart pins.
    #[serde(rename = "1.4.1")]
    V1_4_1,
    /// e-Signet 1.8.0, the current release.
    #[default]
    #[serde(rename = "1.8")]
    V1_8,
}

impl EsignetVersion {
    /// The version as printed and as accepted on the command line (`1.4.1`, `1.8`).
    pub fn as_str(self) -> &'static str {
        match self {
            EsignetVersion::V1_4_1 => "1.4.1",
            EsignetVersion::V1_8 => "1.8",
        }
    }

    /// Whether this is 1.7 or later (PS256 tokens, collapsed OAuth error codes, jti replay check).
    pub(crate) fn is_modern(self) -> bool {
        self == EsignetVersion::V1_8
    }
}

impl fmt::Display for EsignetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EsignetVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.4.1" | "1.4" | "v1.4.1" => Ok(EsignetVersion::V1_4_1),
            "1.8" | "1.8.0" | "v1.8" | "v1.8.0" => Ok(EsignetVersion::V1_8),
            other => Err(format!(
                "unsupported e-Signet version {other:?} (use 1.4.1 or 1.8)"
            )),
        }
    }
}

/// An OIDC client as registered in e-Signet's client management (via PMS in a real deployment).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// The `client_id`.
    pub client_id: String,
    /// The client's public JWK, used to verify its `private_key_jwt` client assertions. A `kid`,
    /// `use` or `alg` in it constrains the assertion the way Nimbus' JWK matcher does.
    pub public_jwk: serde_json::Value,
    /// Registered redirect URIs, matched Ant-style (`**`, `*`, `?`), as `IdentityProviderUtil`
    /// does; an exact URI matches itself.
    pub redirect_uris: Vec<String>,
    /// The user claims the client may receive; requested claims outside this list are dropped.
    #[serde(default)]
    pub user_claims: Vec<String>,
    /// The client's authentication context references; requested `acr_values` are filtered to
    /// these, and fall back silently to all of them when none matches.
    #[serde(default)]
    pub acrs: Vec<String>,
    /// `additionalConfig.require_pkce`: authorize requests without PKCE are refused.
    #[serde(default)]
    pub require_pkce: bool,
    /// The relying-party (partner) id the client is registered under
    /// (`relyingPartyId`, PMS `authPartnerId`): the mock derives the PSUT from it, not from
    /// the client id (`esignet-mock-services` mock-identity-system
    /// `AuthenticationServiceImpl.saveKycAuthTransaction`). `None`: the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relying_party_id: Option<String>,
}

impl ClientRegistration {
    /// A client with the usual claims (the demo portal's list) and ACRs (OTP, biometrics, PIN),
    /// without mandatory PKCE.
    pub fn new(
        client_id: impl Into<String>,
        public_jwk: serde_json::Value,
        redirect_uris: Vec<String>,
    ) -> Self {
        ClientRegistration {
            client_id: client_id.into(),
            public_jwk,
            redirect_uris,
            user_claims: [
                "name",
                "email",
                "phone_number",
                "birthdate",
                "gender",
                "address",
                "picture",
                "individual_id",
            ]
            .iter()
            .map(|c| c.to_string())
            .collect(),
            acrs: vec![
                ACR_GENERATED_CODE.to_string(),
                ACR_BIOMETRICS.to_string(),
                ACR_STATIC_CODE.to_string(),
            ],
            require_pkce: false,
            relying_party_id: None,
        }
    }

    /// The relying-party id PSUTs are derived from.
    pub fn relying_party(&self) -> &str {
        self.relying_party_id.as_deref().unwrap_or(&self.client_id)
    }
}

/// One identity record of the mock identity system, in the JSON shape of
/// `emulator/identities.json`. Localised values are keyed by ISO-639-3 language code
/// (`eng`, `fra`, `ara`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MockIdentity {
    /// The UIN/VID the person types on the login page; also the `individual_id` claim.
    pub individual_id: String,
    /// This person's OTP (and PIN); `None` means the emulator-wide [`EmulatorConfig::otp`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
    /// Full name per language.
    pub name: BTreeMap<String, String>,
    /// The gender *label* per language (`Male`/`Mâle`), as the mock returns it.
    #[serde(default)]
    pub gender: BTreeMap<String, String>,
    /// Date of birth in the ID system's `YYYY/MM/DD` format.
    #[serde(default)]
    pub birthdate: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Phone number as stored.
    #[serde(default)]
    pub phone_number: String,
    /// Address per language: `street_address`, `locality`, `region`, `postal_code`, `country`.
    #[serde(default)]
    pub address: BTreeMap<String, BTreeMap<String, String>>,
    /// Photo as a `data:image/...;base64,` URI.
    #[serde(default)]
    pub picture: String,
}

/// Everything an [`Emulator`](super::Emulator) needs to start.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// The issuer put in discovery and tokens; `None` means the base URL
    /// (`http://127.0.0.1:PORT`), like e-Signet 1.8 and OpenG2P's 1.4.1 config.
    pub issuer: Option<String>,
    /// The release to emulate.
    pub version: EsignetVersion,
    /// Reproduce the issuer mismatch of stock e-Signet 1.4.x–1.7.x configs: discovery says
    /// `issuer` while tokens (and the v1 assertion audience) use `issuer + "/v1/esignet"`
    /// (`mosip.esignet.discovery.issuer-id = ${domain.url}${server.servlet.path}`,
    /// `mosip/esignet @ v1.5.0..v1.7.1 : esignet-service/src/main/resources/application-default.properties`).
    pub issuer_mismatch: bool,
    /// Registered OIDC clients.
    pub clients: Vec<ClientRegistration>,
    /// The people who can log in.
    pub identities: Vec<MockIdentity>,
    /// e-Signet's token-signing key (PKCS#8 RSA PEM); signs ID and access tokens.
    pub esignet_key_pem: String,
    /// The ID system's KYC-signing key (PKCS#8 RSA PEM); signs userinfo.
    pub id_system_key_pem: String,
    /// The OTP (and PIN) accepted for identities that have none of their own.
    pub otp: String,
    /// The bearer token the client-registration APIs (`client-mgmt`, PMS) require; stands in
    /// for the Keycloak token with `add_oidc_client`/`update_oidc_client` scope.
    pub admin_token: String,
}

/// The default admin bearer token of the client-registration APIs.
pub const DEFAULT_ADMIN_TOKEN: &str = "emulator-admin-token";

/// The OTP accepted by default.
pub const DEFAULT_OTP: &str = "111111";

impl EmulatorConfig {
    /// A config with the given keys, version 1.8, no clients, no identities, OTP `111111` and
    /// admin token [`DEFAULT_ADMIN_TOKEN`].
    pub fn new(esignet_key_pem: String, id_system_key_pem: String) -> Self {
        EmulatorConfig {
            issuer: None,
            version: EsignetVersion::default(),
            issuer_mismatch: false,
            clients: Vec::new(),
            identities: Vec::new(),
            esignet_key_pem,
            id_system_key_pem,
            otp: DEFAULT_OTP.to_string(),
            admin_token: DEFAULT_ADMIN_TOKEN.to_string(),
        }
    }

    /// The demo setup, read from the repository at `repo_root`: keys from `certs/demo/`,
    /// identities from `emulator/identities.json`, the `g2p-demo-portal` client from
    /// `emulator/clients.json`; version 1.8, issuer = base URL, OTP `111111`.
    pub fn demo(repo_root: &Path) -> io::Result<Self> {
        let certs = repo_root.join("certs").join("demo");
        let mut config = EmulatorConfig::new(
            read(&certs.join("esignet-signing.pem"))?,
            read(&certs.join("id-system-signing.pem"))?,
        );
        config.identities = load_identities(&repo_root.join("emulator").join("identities.json"))?;
        config.clients = load_clients(&repo_root.join("emulator").join("clients.json"))?;
        Ok(config)
    }
}

/// Reads a JSON array of [`MockIdentity`] records.
pub fn load_identities(path: &Path) -> io::Result<Vec<MockIdentity>> {
    parse_json(path)
}

/// Reads a JSON array of [`ClientRegistration`]s.
pub fn load_clients(path: &Path) -> io::Result<Vec<ClientRegistration>> {
    parse_json(path)
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<T> {
    let text = read(path)?;
    serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn read(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn demo_config_loads_shipped_files() {
        let config = EmulatorConfig::demo(&repo_root()).expect("demo config");
        assert!(config.identities.len() >= 3);
        let client = &config.clients[0];
        assert_eq!(client.client_id, "g2p-demo-portal");
        assert!(client.user_claims.iter().any(|c| c == "individual_id"));
        assert_eq!(config.otp, "111111");
        let ids: Vec<_> = config
            .identities
            .iter()
            .map(|i| i.individual_id.as_str())
            .collect();
        assert!(ids.contains(&"8267411571"));
        for identity in &config.identities {
            assert!(identity.picture.starts_with("data:image/png;base64,"));
            assert!(identity.name.contains_key("eng"));
        }
    }

    #[test]
    fn versions_parse_and_print() {
        assert_eq!(
            "1.4.1".parse::<EsignetVersion>(),
            Ok(EsignetVersion::V1_4_1)
        );
        assert_eq!("1.8".parse::<EsignetVersion>(), Ok(EsignetVersion::V1_8));
        assert!("2.0".parse::<EsignetVersion>().is_err());
        assert_eq!(EsignetVersion::V1_4_1.to_string(), "1.4.1");
    }
}
