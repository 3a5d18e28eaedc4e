//! The token endpoint's tolerance of real clients (PRODUCT "Compatibility",
//! REDT-1, REDT-7, REDT-8, ERR-12) and legacy GET verification for Micropub
//! servers (VER-L1..L5 with SPEC's decision on VER-L5).

use crate::helpers::*;

fn assert_token(resp: &Response, app: &TestApp) {
    assert_eq!(resp.status, 200, "{}", resp.body);
    let body = resp.json();
    assert!(body["access_token"].is_string(), "{body}");
    assert_eq!(body["me"], app.me());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "create");
}

#[tokio::test]
async fn legacy_me_and_state_parameters_are_ignored_redt_8() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let mut form = code_form(&client, &code);
    form.push(("me".into(), "https://someone-else.example/".into()));
    form.push(("state".into(), "whatever".into()));
    let resp = app.post_pairs("/token", &form).await;
    assert_token(&resp, &app);
    assert!(resp.json().get("state").is_none());
}

#[tokio::test]
async fn charset_on_the_content_type_is_accepted() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let body = serde_urlencoded::to_string(code_form(&client, &code)).unwrap();
    let resp = app
        .post_body(
            "/token",
            "application/x-www-form-urlencoded; charset=UTF-8",
            body,
        )
        .await;
    assert_token(&resp, &app);
}

#[tokio::test]
async fn stray_bearer_header_on_code_exchange_is_ignored() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let resp = Response::read(
        app.api
            .post(app.url("/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Authorization", "Bearer junk")
            .body(serde_urlencoded::to_string(code_form(&client, &code)).unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_token(&resp, &app);
}

#[tokio::test]
async fn missing_grant_type_with_a_code_is_an_authorization_code_exchange() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let form = with_field(code_form(&client, &code), "grant_type", None);
    let resp = app.post_pairs("/token", &form).await;
    assert_token(&resp, &app);
}

#[tokio::test]
async fn json_body_is_invalid_request_err_12() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    let body = serde_json::json!({
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_verifier": client.verifier,
    })
    .to_string();
    let resp = app
        .post_body("/token", "application/json", body.clone())
        .await;
    assert_oauth_error(&resp, "invalid_request");
    let resp = app.post_body("/auth", "application/json", body).await;
    assert_oauth_error(&resp, "invalid_request");
    assert!(resp.json().get("me").is_none());
    // A form-encoded body sent with the wrong content type is refused too.
    let form = serde_urlencoded::to_string(code_form(&client, &code)).unwrap();
    let resp = app.post_body("/token", "text/plain", form).await;
    assert_oauth_error(&resp, "invalid_request");
}

#[tokio::test]
async fn password_and_unknown_grant_types_are_unsupported_sec_21_redt_7() {
    let app = TestApp::spawn().await;
    for grant in ["password", "client_credentials", "implicit"] {
        let resp = app
            .post_pairs(
                "/token",
                &[
                    ("grant_type".into(), grant.into()),
                    ("username".into(), "owner".into()),
                    ("password".into(), PASSWORD.into()),
                ],
            )
            .await;
        assert_oauth_error(&resp, "unsupported_grant_type");
    }
}

#[tokio::test]
async fn repeated_code_or_grant_type_is_invalid_request_redt_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "create").await;
    for name in ["code", "grant_type", "code_verifier", "client_id"] {
        let mut form = code_form(&client, &code);
        let value = form.iter().find(|(k, _)| k == name).unwrap().1.clone();
        form.push((name.into(), value));
        let resp = app.post_pairs("/token", &form).await;
        assert_oauth_error(&resp, "invalid_request");
    }
    let resp = app.post_pairs("/token", &[]).await;
    assert_oauth_error(&resp, "invalid_request");
}

#[tokio::test]
async fn token_response_has_every_member_clients_need_redt_5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let body = app.token_for(&client, "profile create").await;
    for key in ["access_token", "token_type", "scope", "me"] {
        assert!(body[key].is_string(), "{key}: {body}");
    }
    assert!(!body["scope"].as_str().unwrap().is_empty());
    assert!(body["expires_in"].is_i64(), "{body}");
    assert!(body["refresh_token"].is_string(), "{body}");
    // Nested no deeper than the profile object.
    for (k, v) in body.as_object().unwrap() {
        if k != "profile" {
            assert!(!v.is_object() && !v.is_array(), "{k}");
        }
    }
    for (k, v) in body["profile"].as_object().unwrap() {
        assert!(v.is_string(), "profile.{k}");
    }
}

// --- Legacy GET verification (VER-L*) -------------------------------------

async fn live_token(app: &TestApp) -> (TestClient, String) {
    let client = app.client();
    let body = app.token_for(&client, "profile create").await;
    (client, body["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn legacy_get_answers_json_when_asked_ver_l1() {
    let app = TestApp::spawn().await;
    let (client, token) = live_token(&app).await;
    for accept in [
        "application/json",
        "application/json, text/plain;q=0.5",
        "text/html, application/json;q=0.9, */*;q=0.8",
    ] {
        let resp = app
            .verify_raw(Some(&format!("Bearer {token}")), Some(accept), "")
            .await;
        assert_eq!(resp.status, 200, "{accept}");
        assert!(
            resp.header("content-type")
                .unwrap()
                .starts_with("application/json"),
            "{accept}"
        );
        let v = resp.json();
        assert_eq!(v["me"], app.me());
        assert_eq!(v["client_id"], client.client_id);
        assert_eq!(v["scope"], "profile create");
    }
}

#[tokio::test]
async fn legacy_get_answers_form_encoded_without_a_json_accept_ver_l5_decision() {
    let app = TestApp::spawn().await;
    let (client, token) = live_token(&app).await;
    for accept in [None, Some("text/plain")] {
        let resp = app
            .verify_raw(Some(&format!("Bearer {token}")), accept, "")
            .await;
        assert_eq!(resp.status, 200, "{accept:?}");
        assert!(
            resp.header("content-type")
                .unwrap()
                .starts_with("application/x-www-form-urlencoded"),
            "{accept:?}"
        );
        // micropub-express parses the body as a query string.
        let parsed: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(&resp.body).expect("form-encoded body");
        assert_eq!(parsed["me"], app.me(), "{accept:?}");
        assert_eq!(parsed["client_id"], client.client_id);
        assert_eq!(parsed["scope"], "profile create");
    }
}

#[tokio::test]
async fn legacy_get_refuses_bad_tokens_with_401_invalid_token_ver_l2() {
    let app = TestApp::spawn().await;
    let (_, token) = live_token(&app).await;
    for bearer in [
        "Bearer junk".to_owned(),
        format!("Bearer {token}x"),
        format!("Bearer {}", &token[..42]),
    ] {
        for accept in [Some("application/json"), None] {
            let resp = app.verify_raw(Some(&bearer), accept, "").await;
            assert_eq!(resp.status, 401, "{bearer}");
            assert_eq!(
                resp.header("www-authenticate"),
                Some("Bearer error=\"invalid_token\""),
                "{bearer}"
            );
        }
    }
}

#[tokio::test]
async fn legacy_get_without_credentials_is_401_bearer_without_error_ver_l3() {
    let app = TestApp::spawn().await;
    for accept in [Some("application/json"), Some("*/*"), None] {
        let resp = app.verify_raw(None, accept, "").await;
        assert_eq!(resp.status, 401, "{accept:?}");
        assert_eq!(
            resp.header("www-authenticate"),
            Some("Bearer"),
            "{accept:?}"
        );
    }
}

#[tokio::test]
async fn legacy_get_ignores_a_token_in_the_query_string_ver_l4() {
    let app = TestApp::spawn().await;
    let (_, token) = live_token(&app).await;
    let resp = app
        .verify_raw(
            None,
            Some("application/json"),
            &format!("?access_token={token}"),
        )
        .await;
    assert_eq!(resp.status, 401, "{}", resp.body);
    assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn legacy_get_refuses_an_expired_token_ver_l2() {
    let app = TestApp::spawn().await;
    let (_, token) = live_token(&app).await;
    let lifetime = app.settings.access_token_lifetime.as_secs() as i64;
    app.clock.advance(lifetime + 1);
    let resp = app
        .verify_raw(
            Some(&format!("Bearer {token}")),
            Some("application/json"),
            "",
        )
        .await;
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn legacy_get_does_not_accept_a_refresh_token_redt_10() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let body = app.token_for(&client, "create").await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let resp = app
        .verify_raw(
            Some(&format!("Bearer {refresh}")),
            Some("application/json"),
            "",
        )
        .await;
    assert_eq!(resp.status, 401);
}

/// REDA-7: a 2018-era client that asks for form encoding at the
/// authorization endpoint gets `me=…`; everyone else gets JSON.
#[tokio::test]
async fn authorization_endpoint_answers_form_encoded_only_when_asked_reda_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let code = app.code_for(&client, "").await;
    let resp = app
        .api
        .post(app.url("/auth"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(code_form(&client, &code)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body = resp.text().await.unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    assert_eq!(pairs, vec![("me".to_string(), app.me())]);
    // With `*/*` (and with no Accept, tested elsewhere) it stays JSON.
    let code = app.code_for(&client, "").await;
    let resp = app
        .api
        .post(app.url("/auth"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "*/*")
        .body(serde_urlencoded::to_string(code_form(&client, &code)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
}
