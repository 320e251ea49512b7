//! The gateway in front of the real, unmodified OpenG2P FastAPI portal
//! (PyPI `openg2p-beneficiary-portal-api` 1.0.2) on a real PostgreSQL, with
//! the e-Signet emulator: the portal's own code creates registrants and
//! resolves citizens; the gateway does the login, policies, step-up and
//! sessions in front.
//!
//! One test, in phases, so the portal and PostgreSQL start once (~10 s).

mod common;
mod portal_support;

use common::{sample, Browser, CLIENT_ID};
use esignet_emulator::emulator::psut;
use portal_support::{Portal, PortalAuth, Postgres, API_PREFIX};
use serde_json::{json, Value};

/// The portal's client at the gateway's provider.
const PORTAL_CLIENT: &str = "openg2p-self-service";
const PORTAL_SECRET: &str = "portal-secret-7f3a9c1e5b2d4f60";
/// The provider row's static `code_verifier` (enable_pkce).
const ROW_VERIFIER: &str = "4xkM0qv3Zr9Yb2WcT7nLpH5sJd8fGa1eQu6iKo0tRy2";
/// Already a registrant (seeded with the PSUT of the gateway's client).
const AICHA: &str = "5678901234";
/// New to the registry: the portal creates the registrant at first login.
const SIDDHARTH: &str = "8267411571";
/// Another newcomer, whose first provisioning fails once.
const JEAN: &str = "1234567890";
const BIOMETRICS: &str = "mosip:idp:acr:biometrics";
/// The Odoo default token map, as on the provider row.
const TOKEN_MAP: &str = "sub:user_id name:name email:email phone_number:phone \
                         birthdate:birthdate gender:gender address:address";

struct Setup {
    base: String,
    gateway: common::Gateway,
    portal: Portal,
    pg: Postgres,
    _emulator: esignet_emulator::Emulator,
    _upstream: esignet_emulator::DemoUpstream,
    _secrets: tempfile::TempDir,
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn profile_url(&self) -> String {
        self.url(&format!("{API_PREFIX}/auth/profile"))
    }

    /// A whole e-Signet login through the gateway, starting at the profile
    /// URL: returns the callback's response (the redirect back).
    async fn login(&self, browser: &Browser, individual_id: &str) -> reqwest::Response {
        let start = browser.start_login(&self.profile_url()).await;
        let callback = browser
            .authenticate(&start.authorize_url, individual_id)
            .await;
        browser.navigate(&callback).await
    }

    async fn profile(&self, browser: &Browser) -> (u16, Value) {
        let response = browser.fetch_json(&self.profile_url()).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn logout(&self, browser: &Browser) -> reqwest::Response {
        browser
            .client
            .post(self.url("/_gateway/logout"))
            .header("origin", &self.base)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }
}

async fn setup() -> Setup {
    let root = common::repo_root();
    let (emulator, upstream) = common::demo_idp_and_upstream().await;
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    common::register_gateway_client(&emulator, &base);

    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let callback_url = format!("{base}{API_PREFIX}/oauth2/callback");
    // The provider row, repointed from e-Signet to the gateway (docs/openg2p.md).
    pg.sql(&format!(
        "INSERT INTO auth_oauth_provider (id, name, flow, client_id, client_authentication_method, \
         client_secret, auth_endpoint, validation_endpoint, token_endpoint, jwks_uri, scope, \
         enable_pkce, code_verifier, date_format, company_id, token_map, enabled, \
         g2p_self_service_allowed, g2p_portal_oauth_callback_url, g2p_id_type) VALUES \
         (1, 'National ID', 'oidc_auth_code', '{PORTAL_CLIENT}', 'client_secret_post', \
         '{PORTAL_SECRET}', '{base}/_gateway/oauth/authorize', '{base}/_gateway/oauth/userinfo', \
         '{base}/_gateway/oauth/token', '{base}/_gateway/jwks.json', 'openid profile', true, \
         '{ROW_VERIFIER}', '%Y/%m/%d', 1, '{TOKEN_MAP}', true, true, '{callback_url}', 1)"
    ));
    // Aïcha is already a registrant, under the PSUT e-Signet gives the
    // gateway's client (the same partner as before the switch).
    pg.sql(&format!(
        "INSERT INTO res_partner (id, name, given_name, family_name, email, gender, \
         birthdate, phone, is_registrant, is_group, active, company_id) VALUES \
         (100, 'BENALI, AÏCHA ', 'Aïcha', 'Benali', 'aicha.benali@example.org', 'Female', \
         '1992-03-08', '+212612345678', true, false, true, 1); \
         INSERT INTO g2p_reg_id (partner_id, id_type, value) VALUES (100, 1, '{}')",
        psut(AICHA, CLIENT_ID)
    ));

    let portal = Portal::start(
        &pg,
        &PortalAuth {
            issuer: base.clone(),
            jwks_url: format!("{base}/_gateway/jwks.json"),
            audience: "g2p-portal".into(),
        },
    )
    .await;

    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("client-secret"), PORTAL_SECRET).unwrap();
    std::fs::write(secrets.path().join("verifier"), ROW_VERIFIER).unwrap();
    let secret_file = |name: &str| json!({ "file": secrets.path().join(name) });
    let mut config = common::gateway_config(&root, port, &emulator, &upstream);
    config["upstreams"]["openg2p"] = json!({ "url": portal.base_url, "identity": "bearer" });
    config["routes"] = json!([
        { "name": "portal", "path": API_PREFIX, "upstream": "openg2p", "auth": "login" },
        { "name": "providers", "path": format!("{API_PREFIX}/auth/getLoginProviders"),
          "upstream": "openg2p", "auth": "login", "policy": { "acr": [BIOMETRICS] } },
        { "name": "demo", "path": "/demo", "upstream": "portal", "auth": "login" },
    ]);
    config["provider"] = json!({ "clients": { PORTAL_CLIENT: {
        "client_secret": secret_file("client-secret"),
        "redirect_uris": [callback_url],
        "provision": {
            "upstream": "openg2p",
            "callback_path": format!("{API_PREFIX}/oauth2/callback"),
            "provider_id": 1,
            "code_verifier": secret_file("verifier"),
        },
    } } });
    let gateway = common::spawn_gateway(&config).await;
    Setup {
        base,
        gateway,
        portal,
        pg,
        _emulator: emulator,
        _upstream: upstream,
        _secrets: secrets,
    }
}

/// A JWT signed with the gateway's own key, as another citizen's portal
/// token would be (the portal sets such tokens as cookies at its callback).
fn gateway_signed_token(issuer: &str, sub: &str) -> String {
    let pem = std::fs::read(common::repo_root().join("certs/demo/gateway-signing.pem")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({ "iss": issuer, "aud": "g2p-portal", "sub": sub,
                         "iat": now, "exp": now + 300 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

fn given_name(profile: &Value) -> &str {
    profile["given_name"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unmodified_portal_behind_the_gateway() {
    let s = setup().await;
    let partners = || s.pg.sql("SELECT count(*) FROM res_partner");

    // 1. An existing registrant logs in; the portal resolves her from the
    //    gateway's Bearer assertion alone.
    let aicha = Browser::new();
    let back = s.login(&aicha, AICHA).await;
    assert_eq!(back.status(), 302, "logs: {}", s.gateway.logs());
    // reqwest sends no jar cookies with an explicit Cookie header: keep the
    // session cookie to add it to the forged requests below.
    let aicha_session = common::set_cookie(&back, "g2p-session").expect("session cookie");
    let (status, profile) = s.profile(&aicha).await;
    assert_eq!(status, 200, "{profile}\nportal: {}", s.portal.logs());
    assert_eq!(given_name(&profile), "Aïcha");
    assert_eq!(profile["email"], "aicha.benali@example.org");
    assert_eq!(
        partners(),
        "1",
        "an existing registrant is not created twice"
    );

    // 2. A newcomer's first login: the gateway drives the portal's own
    //    callback, whose code creates the registrant the OpenG2P way.
    let siddharth = Browser::new();
    let back = s.login(&siddharth, SIDDHARTH).await;
    assert_eq!(back.status(), 302, "portal: {}", s.portal.logs());
    assert!(
        back.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("X-Access-Token=e")),
        "the portal's own token cookies never reach the browser"
    );
    let (status, profile) = s.profile(&siddharth).await;
    assert_eq!(status, 200, "{profile}\nportal: {}", s.portal.logs());
    assert_eq!(given_name(&profile), "Siddharth");
    let psut_siddharth = psut(SIDDHARTH, CLIENT_ID);
    let row = s.pg.sql(&format!(
        "SELECT p.name, p.complete_name, p.given_name, p.addl_name, p.family_name, p.gender, \
         p.birthdate, p.phone, p.email, p.is_registrant, p.company_id, r.id_type, ph.phone_no \
         FROM res_partner p JOIN g2p_reg_id r ON r.partner_id = p.id \
         JOIN g2p_phone_number ph ON ph.partner_id = p.id WHERE r.value = '{psut_siddharth}'"
    ));
    assert_eq!(
        row,
        "MANSOUR, SIDDHARTH K |MANSOUR, SIDDHARTH K |Siddharth|K|Mansour|Male|1987-11-25|\
         +919427357934|siddharth@example.org|t|1|1|+919427357934"
    );
    let address = s.pg.sql(&format!(
        "SELECT p.address FROM res_partner p JOIN g2p_reg_id r ON r.partner_id = p.id \
         WHERE r.value = '{psut_siddharth}'"
    ));
    assert!(
        address.contains("Kénitra"),
        "address as JSON text: {address}"
    );
    assert_eq!(partners(), "2");

    // 2b. The portal's own login button (browser-driven, as with Odoo):
    //     portal → gateway authorize (session: no new login) → portal
    //     callback with a one-time code → the portal's token and userinfo
    //     calls → its redirect. No new registrant: she exists.
    let button = siddharth
        .navigate(&s.url(&format!(
            "{API_PREFIX}/auth/getLoginProviderRedirect/1?redirect_uri=/home"
        )))
        .await;
    assert_eq!(
        button.status(),
        307,
        "the portal's redirect to its provider"
    );
    let authorize = common::location(&button);
    assert!(
        authorize.starts_with(&s.url("/_gateway/oauth/authorize")),
        "{authorize}"
    );
    let with_code = siddharth.navigate(&authorize).await;
    assert_eq!(with_code.status(), 302);
    let portal_callback = common::location(&with_code);
    assert!(portal_callback.starts_with(&format!("{}{API_PREFIX}/oauth2/callback?code=", s.base)));
    let done = siddharth.navigate(&portal_callback).await;
    assert_eq!(done.status(), 307, "portal: {}", s.portal.logs());
    assert_eq!(common::location(&done), "/home");
    assert_eq!(partners(), "2");

    // 3. Client-sent tokens never decide who the portal sees. Directly, the
    //    portal would take Siddharth's token from the X-ID-Token cookie...
    let aicha_token = gateway_signed_token(&s.base, &psut(AICHA, CLIENT_ID));
    let siddharth_token = gateway_signed_token(&s.base, &psut_siddharth);
    let direct = reqwest::Client::new()
        .get(format!("{}{API_PREFIX}/auth/profile", s.portal.base_url))
        .bearer_auth(&aicha_token)
        .header("cookie", format!("X-ID-Token={siddharth_token}"))
        .send()
        .await
        .unwrap();
    let direct: Value = direct.json().await.unwrap();
    assert_eq!(
        given_name(&direct),
        "Siddharth",
        "the portal's own behaviour"
    );
    // ...through the gateway, Aïcha's session stays Aïcha's.
    let forged = aicha
        .client
        .get(s.profile_url())
        .header("accept", "application/json")
        .bearer_auth(&siddharth_token)
        .header("x-access-token", &siddharth_token)
        .header(
            "cookie",
            format!(
                "{aicha_session}; X-ID-Token={siddharth_token}; X-Access-Token={siddharth_token}"
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    let forged: Value = forged.json().await.unwrap();
    assert_eq!(given_name(&forged), "Aïcha");
    // Without a gateway session, a valid token gets no further than the gateway.
    let stranger = Browser::new();
    let refused = stranger
        .client
        .get(s.profile_url())
        .header("accept", "application/json")
        .bearer_auth(&siddharth_token)
        .header("cookie", format!("X-ID-Token={siddharth_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // 4. A route policy and step-up still apply in front of the portal.
    let providers = s.url(&format!("{API_PREFIX}/auth/getLoginProviders"));
    let challenge = siddharth.fetch_json(&providers).await;
    assert_eq!(challenge.status(), 401);
    let body: Value = challenge.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_user_authentication");
    let step_up = siddharth.start_login(&providers).await;
    assert!(step_up.authorize_url.contains("biometrics"));
    let callback = siddharth
        .authenticate_with(&step_up.authorize_url, SIDDHARTH, "biometrics")
        .await;
    assert_eq!(siddharth.navigate(&callback).await.status(), 302);
    let listed = siddharth.fetch_json(&providers).await;
    assert_eq!(listed.status(), 200, "after the step-up");
    let (status, profile) = s.profile(&siddharth).await;
    assert_eq!((status, given_name(&profile)), (200, "Siddharth"));

    // 5. Logout ends access to the portal and expires the portal's cookies;
    //    the next citizen on the same browser sees only their own registrant.
    let bye = s.logout(&siddharth).await;
    assert!(bye.status().is_redirection() || bye.status().is_success());
    let expired: Vec<String> = bye
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    for name in ["X-Access-Token", "X-ID-Token"] {
        assert!(
            expired
                .iter()
                .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
            "{name} expired at logout: {expired:?}"
        );
    }
    let (status, _) = s.profile(&siddharth).await;
    assert_eq!(status, 401, "no access after logout");
    let back = s.login(&siddharth, AICHA).await;
    assert_eq!(back.status(), 302);
    let (status, profile) = s.profile(&siddharth).await;
    assert_eq!((status, given_name(&profile)), (200, "Aïcha"));

    // 6. A failed provisioning: a clear page, counted, nothing left behind
    //    by the gateway, retried at the next login.
    s.pg.sql(
        "ALTER TABLE res_partner ADD CONSTRAINT portal_refuses_jean \
         CHECK (family_name IS DISTINCT FROM 'Dupont')",
    );
    let jean = Browser::new();
    let failed = s.login(&jean, JEAN).await;
    assert_eq!(failed.status(), 502);
    let page = failed.text().await.unwrap();
    assert!(page.contains("could not prepare your account"), "{page}");
    assert_eq!(partners(), "2", "the portal created nothing");
    let (status, _) = s.profile(&jean).await;
    assert_eq!(
        status, 401,
        "no gateway session after a failed provisioning"
    );
    let metrics = s.gateway.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "g2p_gateway_portal_provisioning_total{outcome=\"failed\"}"
        ),
        1.0
    );
    s.pg.sql("ALTER TABLE res_partner DROP CONSTRAINT portal_refuses_jean");
    let back = s.login(&jean, JEAN).await;
    assert_eq!(back.status(), 302, "retried at the next login");
    let (status, profile) = s.profile(&jean).await;
    assert_eq!((status, given_name(&profile)), (200, "Jean"));
    let metrics = s.gateway.metrics().await;
    assert!(
        sample(
            &metrics,
            "g2p_gateway_portal_provisioning_total{outcome=\"ok\"}"
        ) >= 4.0,
        "{metrics}"
    );
    assert!(
        !s.gateway.logs().contains(&psut_siddharth),
        "the gateway never logs a PSUT"
    );
}
