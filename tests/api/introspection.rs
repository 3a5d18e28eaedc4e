//! Introspection (VER-1..9, TV-12, LEG-9, SEC-16) and what the metadata
//! says about the token endpoints (DISC-5, DISC-6, UINFO-1).

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn tv12_active_token_with_a_resource_server_secret_ver_1_ver_5_ver_8() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let secret = app.resource_server_secret("micropub").await;
    let a = app
        .introspect(Some(&secret), &[("token", &str_of(&t, "access_token"))])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.header("cache-control"), Some("no-store"), "VER-8");
    let v = a.json();
    assert_eq!(v["active"], json!(true), "a JSON boolean");
    assert_eq!(v["me"], app.me());
    assert_eq!(v["client_id"], client.client_id);
    assert_eq!(v["scope"], "profile create");
    assert!(v["exp"].is_i64(), "exp is a JSON integer: {v}");
    assert!(v["iat"].is_i64(), "iat is a JSON integer: {v}");
}

#[tokio::test]
async fn no_authorization_is_401_with_a_bare_bearer_challenge_ver_3() {
    let app = TestApp::spawn().await;
    let a = app.introspect(None, &[("token", "anything")]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    assert!(a.body.is_empty(), "no details: {}", a.body);
}

#[tokio::test]
async fn an_unknown_bearer_is_401_invalid_token_ver_3() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let a = app
        .introspect(
            Some("not-a-secret"),
            &[("token", &str_of(&t, "access_token"))],
        )
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn a_revoked_resource_server_secret_is_refused_ver_3() {
    let app = TestApp::spawn().await;
    let secret = app.resource_server_secret("old").await;
    assert_eq!(
        app.introspect(Some(&secret), &[("token", "x")])
            .await
            .status,
        200
    );
    let out = app.cli(&["resource-server", "revoke", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.introspect(Some(&secret), &[("token", "x")])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn garbage_token_is_exactly_active_false_ver_6_tv_12() {
    let app = TestApp::spawn().await;
    let secret = app.resource_server_secret("micropub").await;
    let a = app.introspect(Some(&secret), &[("token", "garbage")]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, r#"{"active":false}"#);
}

#[tokio::test]
async fn missing_token_is_invalid_request_ver_1() {
    let app = TestApp::spawn().await;
    let secret = app.resource_server_secret("micropub").await;
    let a = app.introspect(Some(&secret), &[]).await;
    assert_oauth_error(&a, "invalid_request");
}

#[tokio::test]
async fn expired_token_is_inactive_when_the_clock_moves_ver_7() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_with_lifetime(&client, "create", "86400").await;
    let access = str_of(&t, "access_token");
    let secret = app.resource_server_secret("micropub").await;
    let first = app.introspect(Some(&secret), &[("token", &access)]).await;
    assert_eq!(
        first.json()["active"],
        json!(true),
        "warm in the hot-path view"
    );
    app.clock.advance(86_401);
    let a = app.introspect(Some(&secret), &[("token", &access)]).await;
    assert_eq!(a.body, r#"{"active":false}"#);
}

#[tokio::test]
async fn revoked_token_is_inactive_on_the_very_next_call_ver_7_rev_4() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    let secret = app.resource_server_secret("micropub").await;
    // Several calls, so every worker thread has the token in its view.
    for _ in 0..6 {
        let a = app.introspect(Some(&secret), &[("token", &access)]).await;
        assert_eq!(a.json()["active"], json!(true));
    }
    assert_eq!(app.revoke(&[("token", &access)]).await.status, 200);
    for _ in 0..6 {
        let a = app.introspect(Some(&secret), &[("token", &access)]).await;
        assert_eq!(a.body, r#"{"active":false}"#);
    }
}

#[tokio::test]
async fn refresh_token_is_inactive_whatever_the_hint_says_ver_2_ver_9_tv_12() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let refresh = str_of(&t, "refresh_token");
    let secret = app.resource_server_secret("micropub").await;
    let mut answers = Vec::new();
    for hint in [
        None,
        Some("access_token"),
        Some("refresh_token"),
        Some("bogus"),
    ] {
        let mut form = vec![("token", refresh.as_str())];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        let a = app.introspect(Some(&secret), &form).await;
        assert_eq!(a.status, 200);
        answers.push(a.body);
    }
    assert!(
        answers.iter().all(|b| b == r#"{"active":false}"#),
        "{answers:?}"
    );
    // And the hint does not hide an access token either (VER-2).
    let a = app
        .introspect(
            Some(&secret),
            &[
                ("token", &str_of(&t, "access_token")),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(a.json()["active"], json!(true));
}

#[tokio::test]
async fn the_token_may_authorize_its_own_introspection_indiekit_style_ver_4_leg_9() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    // Indiekit: the token in the query string, an empty body.
    let resp = app
        .api
        .post(app.url(&format!("/introspect?token={access}")))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let a = Response::read(resp).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["active"], json!(true));
    assert_eq!(v["me"], app.me());
    // And the usual form body works the same way.
    let a = app.introspect(Some(&access), &[("token", &access)]).await;
    assert_eq!(a.json()["active"], json!(true));
}

#[tokio::test]
async fn self_authorization_can_be_turned_off_ver_4() {
    let app = TestApp::spawn_with(|s| s.introspection_self_auth = false).await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    let a = app.introspect(Some(&access), &[("token", &access)]).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
}

#[tokio::test]
async fn self_authorization_is_rate_limited_per_address_sec_16() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for i in 0..40 {
        let guess = format!("guess-{i}");
        let a = app.introspect(Some(&guess), &[("token", &guess)]).await;
        statuses.push(a.status);
    }
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    let limited: Vec<_> = statuses.iter().filter(|s| **s == 429).collect();
    assert!(limited.len() >= 15, "scanning is stopped: {statuses:?}");
    let a = app
        .introspect(Some("guess-x"), &[("token", "guess-x")])
        .await;
    assert_eq!(a.status, 429);
    assert!(a.header("retry-after").is_some());
    // Resource servers with a secret are not affected.
    let secret = app.resource_server_secret("micropub").await;
    assert_eq!(
        app.introspect(Some(&secret), &[("token", "x")])
            .await
            .status,
        200
    );
    // The bucket refills with time.
    app.clock.advance(120);
    assert_eq!(
        app.introspect(Some("guess-y"), &[("token", "guess-y")])
            .await
            .status,
        200
    );
}

/// SEC-16: wrong resource-server secrets from one address are throttled,
/// as failed token requests are; the real resource server's calls still
/// succeed from that same address (a success is never refused), so a
/// stranger cannot lock it out.
#[tokio::test]
async fn wrong_resource_server_secrets_are_throttled_per_address_sec_16() {
    let app = TestApp::spawn_with(|s| s.introspection_self_auth = false).await;
    let secret = app.resource_server_secret("micropub").await;
    let client = app.client();
    let token = str_of(&app.token_for(&client, "create").await, "access_token");
    let mut statuses = Vec::new();
    for i in 0..150 {
        let guess = format!("wrong-secret-{i}");
        statuses.push(
            app.introspect(Some(&guess), &[("token", &token)])
                .await
                .status,
        );
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 100, "guessing is slowed: {statuses:?}");
    let a = app.introspect(Some("one-more"), &[("token", &token)]).await;
    assert_eq!(a.status, 429);
    assert!(a.header("retry-after").is_some());
    let real = app.introspect(Some(&secret), &[("token", &token)]).await;
    assert_eq!(real.status, 200, "{}", real.body);
    assert_eq!(real.json()["active"], true);
}

#[tokio::test]
async fn metadata_advertises_introspection_revocation_and_userinfo_disc_5_disc_6_uinfo_1() {
    let app = TestApp::spawn().await;
    let v: serde_json::Value = app
        .api
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["introspection_endpoint"],
        format!("{}introspect", app.issuer())
    );
    assert_eq!(v["revocation_endpoint"], format!("{}revoke", app.issuer()));
    assert_eq!(
        v["revocation_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(v["userinfo_endpoint"], format!("{}userinfo", app.issuer()));
    // VER-4: no registered value describes a bearer secret, so none is claimed.
    assert!(
        v.get("introspection_endpoint_auth_methods_supported")
            .is_none()
    );
    assert_eq!(
        v["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
}

/// The body is read whole however it comes: in chunks of a few bytes
/// (`Transfer-Encoding: chunked`) as well as in one piece; past 64 KiB it
/// is refused with 413, whether the length is declared or not (issue 10:
/// doorstep reads bodies itself, `http::body`).
#[tokio::test]
async fn a_body_in_pieces_is_read_whole_and_one_too_large_is_413() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let token = str_of(&t, "access_token");
    let secret = app.resource_server_secret("micropub").await;
    let head = |extra: &str| {
        format!(
            "POST /introspect HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer {secret}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n{extra}\r\n"
        )
    };

    let form = format!("token={token}");
    let mut chunked = head("Transfer-Encoding: chunked\r\n");
    for piece in form.as_bytes().chunks(5) {
        chunked.push_str(&format!("{:x}\r\n", piece.len()));
        chunked.push_str(std::str::from_utf8(piece).unwrap());
        chunked.push_str("\r\n");
    }
    chunked.push_str("0\r\n\r\n");
    let a = parse_raw(&app.raw_exchange(&[chunked.as_bytes()]).await);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("\"active\":true"), "{}", a.body);

    // The head first, the body later: the handler waits for it.
    let late = head(&format!("Content-Length: {}\r\n", form.len()));
    let a = parse_raw(&app.raw_exchange(&[late.as_bytes(), form.as_bytes()]).await);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("\"active\":true"), "{}", a.body);

    // Just under the limit, padded with a parameter that is ignored.
    let padded = format!("{form}&x={}", "a".repeat(64 * 1024 - form.len() - 3));
    assert_eq!(padded.len(), 64 * 1024);
    let one_piece = head(&format!("Content-Length: {}\r\n", padded.len())) + &padded;
    let a = parse_raw(&app.raw_exchange(&[one_piece.as_bytes()]).await);
    assert_eq!(a.status, 200, "{:.200}", a.body);
    assert!(a.body.contains("\"active\":true"), "{}", a.body);

    let declared = head("Content-Length: 65537\r\n") + &padded + "a";
    let a = parse_raw(&app.raw_exchange(&[declared.as_bytes()]).await);
    assert_eq!(a.status, 413);

    let mut undeclared = head("Transfer-Encoding: chunked\r\n");
    for _ in 0..17 {
        undeclared.push_str(&format!("1000\r\n{}\r\n", "a".repeat(0x1000)));
    }
    undeclared.push_str("0\r\n\r\n");
    let a = parse_raw(&app.raw_exchange(&[undeclared.as_bytes()]).await);
    assert_eq!(a.status, 413);
}

/// Two introspection calls pipelined in one write are both answered, in
/// order: the handler of a request with a body is called only once actix
/// has decoded what came with the head (`connection::Stage`), and a second
/// request waiting behind the first must not be left unanswered.
#[tokio::test]
async fn pipelined_introspection_calls_are_both_answered() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let form = format!("token={}", str_of(&t, "access_token"));
    let secret = app.resource_server_secret("micropub").await;
    let call = |last: bool, form: &str| {
        format!(
            "POST /introspect HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\
             Authorization: Bearer {secret}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{form}",
            if last { "Connection: close\r\n" } else { "" },
            form.len()
        )
    };
    let both = call(false, &form) + &call(true, "token=unknown");
    let a = parse_raw(&app.raw_exchange(&[both.as_bytes()]).await);
    assert_eq!(a.status, 200, "{}", a.body);
    let answer = &a.body;
    let first = answer.find("\"active\":true").expect("the first answer");
    let second = answer.find("\"active\":false").expect("the second answer");
    assert!(first < second, "in order: {answer}");
    assert!(answer.contains("HTTP/1.1 200"), "{answer}");
}
