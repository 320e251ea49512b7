//! A real browser: Debian's headless Chromium driven through WebDriver
//! (chromium-driver). It logs in through the gateway and the e-Signet
//! emulator's page, sees the portal's identity page, lets the session expire,
//! and checks that a `fetch()` from the page then gets a 401 while a
//! navigation gets the login redirect.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::wait::{eventually, within};
use common::*;
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_chromedriver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/test installs chromium-driver)");
    eventually("chromedriver starts", Duration::from_secs(30), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().unwrap(),
    }
}

/// Runs `fetch(path)` in the page and returns the status.
async fn fetch_status(browser: &fantoccini::Client, path: &str) -> u64 {
    let script = "return fetch(arguments[0], {headers: {'Accept': 'application/json'}}).then(r => r.status);";
    browser
        .execute(script, vec![json!(path)])
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_real_browser_logs_in_sees_its_identity_and_is_sent_back_after_expiry() {
    let env = Env::start(EnvOptions {
        edit: Box::new(|config| {
            config["session"]["idle_timeout"] = "2s".into();
            config["session"]["absolute_timeout"] = "3s".into();
        }),
        ..Default::default()
    })
    .await;
    let driver = start_chromedriver().await;
    let profile = driver._profile.path().to_string_lossy().to_string();
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", format!("--user-data-dir={profile}"),
            ]
        }
    });
    // fantoccini builds a TLS connector even for http://; pick its crypto.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("a Chromium session");

    // The gateway sends the browser to e-Signet's login page.
    browser.goto(&env.url("/portal")).await.unwrap();
    let at = browser.current_url().await.unwrap();
    assert!(at.as_str().starts_with(&env.emulator.base_url()), "at {at}");
    browser
        .find(Locator::Css("input[name=individual_id]"))
        .await
        .unwrap()
        .send_keys(INDIVIDUAL_ID)
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=otp]"))
        .await
        .unwrap()
        .send_keys("111111")
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[value=otp]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Back on the portal page, which shows the identity it verified. Wait for
    // the redirects to land there (the e-Signet page has an <h1> too).
    let back = within(Duration::from_secs(20), || async {
        let at = browser.current_url().await.unwrap();
        at.as_str().starts_with(&env.gateway.base_url)
    })
    .await;
    assert!(
        back.is_some(),
        "never came back from e-Signet: at {}",
        browser.current_url().await.unwrap()
    );
    let heading = browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("h1"))
        .await
        .unwrap();
    assert_eq!(
        heading.text().await.unwrap(),
        "Welcome, Siddharth K Mansour"
    );
    let page = browser.source().await.unwrap();
    assert!(
        page.contains("MOSIP PSUT"),
        "the registrant ID type is shown"
    );
    assert_eq!(fetch_status(&browser, "/api/me").await, 200);

    // The session expires; script calls get 401, never a redirect.
    eventually("the session expires", Duration::from_secs(20), || async {
        fetch_status(&browser, "/api/me").await == 401
    })
    .await;
    // A navigation gets the login redirect.
    browser.goto(&env.url("/portal/again")).await.unwrap();
    let at = browser.current_url().await.unwrap();
    assert!(
        at.as_str()
            .starts_with(&format!("{}/authorize", env.emulator.base_url())),
        "at {at}"
    );
    browser.close().await.unwrap();
}
