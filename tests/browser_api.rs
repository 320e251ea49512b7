//! Browser versus API behaviour and the pages people see: localised error
//! pages (English, French), the operator's own template, and CORS preflights
//! that are never redirected.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn pages_follow_accept_language() {
    let env = Env::start(EnvOptions::default()).await;
    let client = reqwest::Client::new();
    let page = |lang: &'static str| {
        client
            .get(env.url("/_gateway/callback?state=unknown&code=x"))
            .header("accept", "text/html")
            .header("accept-language", lang)
            .send()
    };
    let fr = page("fr-FR,fr;q=0.9,en;q=0.5").await.unwrap();
    assert_eq!(fr.status(), 400);
    assert_eq!(fr.headers()["content-language"], "fr");
    let body = fr.text().await.unwrap();
    assert!(body.contains("Connexion expirée"), "{body}");
    assert!(body.contains("Référence"));
    let en = page("de, en;q=0.8").await.unwrap().text().await.unwrap();
    assert!(en.contains("Sign-in expired"));
    // API clients get the same code, with the message in their language.
    let json: Value = client
        .get(env.url("/anything"))
        .header("accept", "application/json")
        .header("accept-language", "fr")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["error"], "login_required");
    assert_eq!(json["message"], "Veuillez vous connecter pour continuer.");
}

#[tokio::test]
async fn the_operator_template_is_used_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("page.html");
    std::fs::write(
        &template,
        "<html lang=\"{{lang}}\"><h1 class=\"mine\">{{title}}</h1><p>{{message}}</p><a href=\"{{action_url}}\">{{action_label}}</a><small>{{correlation_id}}</small></html>",
    )
    .unwrap();
    let path = template.to_string_lossy().to_string();
    let env = Env::start(EnvOptions {
        edit: Box::new(move |config| {
            config["pages"] = serde_json::json!({ "template": path });
        }),
        ..Default::default()
    })
    .await;
    let response = reqwest::Client::new()
        .get(env.url("/_gateway/nothing-here"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let cid = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("<html lang=\"en\"><h1 class=\"mine\">Page not found</h1>"),
        "{body}"
    );
    assert!(body.contains(&format!("<small>{cid}</small>")));
}

#[tokio::test]
async fn cors_preflights_are_never_redirected_and_carry_no_identity() {
    let env = Env::start(EnvOptions::default()).await;
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, env.url("/api/items"))
        .header("origin", "https://portal.example.org")
        .header("access-control-request-method", "POST")
        .header("accept", "*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the portal answers the preflight");
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "OPTIONS");
    assert_eq!(seen["identity"]["verified"], false);
    // A plain OPTIONS (not a preflight) still needs a session.
    let plain = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, env.url("/api/items"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);
}
