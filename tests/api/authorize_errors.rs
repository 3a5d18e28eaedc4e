//! The authorization endpoint's error matrix (SPEC §2.3, TV-7, TV-8): what is
//! shown on a page and never redirected, what goes back to the client by
//! redirect — and that nothing is redirected before the owner signs in
//! (AREQ-17).

use crate::helpers::*;
use url::Url;

type Params = Vec<(String, String)>;

fn query(params: &[(String, String)]) -> String {
    serde_urlencoded::to_string(params).expect("encode")
}

fn plus(mut params: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    params.push((name.to_owned(), value.to_owned()));
    params
}

/// ERR-3: HTTP 400, an HTML page, no `Location`.
fn assert_error_page(page: &Response, case: &str) {
    assert_eq!(page.status, 400, "{case}: {}", page.body);
    assert!(page.location.is_none(), "{case}: redirected");
    let ct = page.header("content-type").unwrap_or("");
    assert!(ct.starts_with("text/html"), "{case}: content-type {ct}");
}

/// AREQ-14, ERR-1, ISS-1/2: a 302 to the client's redirect URI carrying
/// `error`, `state` (only when given) and `iss`, and no code.
fn assert_error_redirect(
    app: &TestApp,
    page: &Response,
    redirect_uri: &str,
    error: &str,
    state: Option<&str>,
    case: &str,
) -> Url {
    assert_eq!(page.status, 302, "{case}: {}", page.body);
    let to = page.location_url();
    let q = query_map(&to);
    assert!(
        to.as_str().starts_with(redirect_uri),
        "{case}: redirected to {to}"
    );
    assert_eq!(q.get("error").map(String::as_str), Some(error), "{case}");
    assert_eq!(q.get("state").map(String::as_str), state, "{case}");
    assert_eq!(q.get("iss"), Some(&app.issuer()), "{case}");
    assert!(!q.contains_key("code"), "{case}");
    // ERR-7: no double quote or backslash in a description.
    if let Some(d) = q.get("error_description") {
        assert!(
            d.bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
            "{case}: {d}"
        );
    }
    to
}

fn tv7_cases(client: &TestClient, port: u16) -> Vec<(&'static str, Vec<(String, String)>)> {
    let base = client.auth_params("profile create", "1234567890");
    let with = |name: &str, v: Option<&str>| with_field(base.clone(), name, v);
    vec![
        ("a: client_id missing", with("client_id", None)),
        (
            "b: client_id with fragment",
            with("client_id", Some(&format!("http://127.0.0.1:{port}/#frag"))),
        ),
        (
            "c: client_id with userinfo",
            with(
                "client_id",
                Some(&format!("http://user:pass@127.0.0.1:{port}/")),
            ),
        ),
        (
            "d: client_id with ..",
            with(
                "client_id",
                Some(&format!("http://127.0.0.1:{port}/foo/../bar")),
            ),
        ),
        (
            "d: client_id with .",
            with("client_id", Some(&format!("http://127.0.0.1:{port}/./bar"))),
        ),
        (
            "d: client_id with %2e%2e",
            with(
                "client_id",
                Some(&format!("http://127.0.0.1:{port}/foo/%2e%2e/bar")),
            ),
        ),
        (
            "e: client_id ftp",
            with("client_id", Some(&format!("ftp://127.0.0.1:{port}/"))),
        ),
        (
            "e: client_id without scheme",
            with("client_id", Some("app.example.com")),
        ),
        (
            "f: client_id IPv4 host",
            with("client_id", Some("https://10.0.0.1/")),
        ),
        (
            "f: client_id IPv6 host",
            with("client_id", Some("https://[2001:db8::1]/")),
        ),
        (
            "g: client_id repeated",
            plus(base.clone(), "client_id", &client.client_id),
        ),
        ("h: redirect_uri missing", with("redirect_uri", None)),
        (
            "h: redirect_uri repeated",
            plus(base.clone(), "redirect_uri", &client.redirect_uri),
        ),
        (
            "h: redirect_uri relative",
            with("redirect_uri", Some("/callback")),
        ),
        (
            "j: redirect_uri with fragment",
            with(
                "redirect_uri",
                Some(&format!("http://127.0.0.1:{port}/callback#x")),
            ),
        ),
        (
            "k: redirect_uri javascript:",
            with("redirect_uri", Some("javascript:alert(1)")),
        ),
        (
            "k: redirect_uri data:",
            with("redirect_uri", Some("data:text/html,hi")),
        ),
        (
            "redirect_uri with userinfo that names another site first",
            with(
                "redirect_uri",
                Some(&format!("http://paypal.com@127.0.0.1:{port}/callback")),
            ),
        ),
        (
            "redirect_uri with user and password",
            with(
                "redirect_uri",
                Some(&format!("http://u:p@127.0.0.1:{port}/callback")),
            ),
        ),
    ]
}

#[tokio::test]
async fn tv7_bad_client_id_or_redirect_uri_shows_a_400_page_never_a_redirect_areq_4_areq_5() {
    let app = TestApp::spawn().await;
    let port = app.unused_port();
    let client = TestClient::new(port);
    let browser = app.signed_in_browser().await;
    for (case, params) in tv7_cases(&client, port) {
        let page = app.auth_page(&browser, &query(&params)).await;
        assert_error_page(&page, case);
    }
}

#[tokio::test]
async fn tv7_bad_client_id_or_redirect_uri_shows_a_400_page_to_anonymous_visitors_too_areq_4() {
    let app = TestApp::spawn().await;
    let port = app.unused_port();
    let client = TestClient::new(port);
    let browser = app.browser();
    for (case, params) in tv7_cases(&client, port) {
        let page = app.auth_page(&browser, &query(&params)).await;
        assert_error_page(&page, case);
    }
}

#[tokio::test]
async fn tv7_cross_origin_unpublished_redirect_uri_is_refused_on_a_page_cid_24_areq_5() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let base = client.auth_params("profile create", "1234567890");
    let cases = [
        ("i: another site", "https://evil.example/cb"),
        ("l: suffix trick", "http://127.0.0.1.evil.example/callback"),
        (
            "another port",
            &*format!("http://127.0.0.1:{}/callback", app.unused_port()),
        ),
    ];
    let anonymous = app.browser();
    let browser = app.signed_in_browser().await;
    for (case, redirect) in cases {
        let params = with_field(base.clone(), "redirect_uri", Some(redirect));
        let page = app.auth_page(&browser, &query(&params)).await;
        assert_error_page(&page, case);
        // AREQ-17: before login nothing is redirected either.
        let page = app.auth_page(&anonymous, &query(&params)).await;
        assert!(page.location.is_none(), "{case}: anonymous redirected");
        assert!(page.status < 300 || page.status >= 400, "{case}");
    }
}

/// Also AREQ-2 (repeats), AREQ-3, AREQ-7 and AREQ-8 (missing or malformed
/// challenge), AREQ-9, AREQ-11, ERR-1, ERR-2 (only RFC 6749 §4.1.2.1 codes).
#[tokio::test]
async fn tv8_errors_after_validation_redirect_with_error_state_and_iss_areq_14_iss_1() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let base = client.auth_params("profile create", "1234567890");
    let with = |name: &str, v: Option<&str>| with_field(base.clone(), name, v);
    let cases: Vec<(&str, Params, &str)> = vec![
        (
            "a: response_type=token",
            with("response_type", Some("token")),
            "unsupported_response_type",
        ),
        (
            "b: response_type missing",
            with("response_type", None),
            "invalid_request",
        ),
        (
            "d: malformed scope",
            with("scope", Some("create\"")),
            "invalid_scope",
        ),
        (
            "scope with a backslash",
            with("scope", Some("profile cre\\ate")),
            "invalid_scope",
        ),
        (
            "TV-3: challenge with padding",
            with("code_challenge", Some(&format!("{RFC_CHALLENGE}="))),
            "invalid_request",
        ),
        (
            "TV-3: challenge of 42 chars",
            with("code_challenge", Some(&RFC_CHALLENGE[..42])),
            "invalid_request",
        ),
        (
            "TV-3: challenge of 129 chars",
            with("code_challenge", Some(&"a".repeat(129))),
            "invalid_request",
        ),
        (
            "TV-3: method plain under s256 (PKCE-3)",
            with("code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            "TV-3: method omitted means plain (PKCE-4)",
            with("code_challenge_method", None),
            "invalid_request",
        ),
        (
            "TV-3: method s256 in lower case",
            with("code_challenge_method", Some("s256")),
            "invalid_request",
        ),
        (
            "AREQ-9: unknown method",
            with("code_challenge_method", Some("S512")),
            "invalid_request",
        ),
        (
            "method without challenge",
            with("code_challenge", None),
            "invalid_request",
        ),
        (
            "AREQ-2: scope repeated",
            plus(base.clone(), "scope", "profile"),
            "invalid_request",
        ),
        (
            "AREQ-2: response_type repeated",
            plus(base.clone(), "response_type", "code"),
            "invalid_request",
        ),
        (
            "AREQ-2: code_challenge repeated",
            plus(base.clone(), "code_challenge", RFC_CHALLENGE),
            "invalid_request",
        ),
    ];
    for (case, params, error) in cases {
        let page = app.auth_page(&browser, &query(&params)).await;
        assert_error_redirect(
            &app,
            &page,
            &client.redirect_uri,
            error,
            Some("1234567890"),
            case,
        );
    }
}

#[tokio::test]
async fn tv8f_missing_or_non_vschar_state_redirects_invalid_request_without_state_areq_6() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let base = client.auth_params("profile create", "1234567890");
    let cases = [
        ("f: state missing", with_field(base.clone(), "state", None)),
        ("state empty", with_field(base.clone(), "state", Some(""))),
        (
            "state with a tab",
            with_field(base.clone(), "state", Some("a\tb")),
        ),
        (
            "state with non-ASCII",
            with_field(base.clone(), "state", Some("caf\u{e9}")),
        ),
        ("state repeated", plus(base.clone(), "state", "1234567890")),
    ];
    for (case, params) in cases {
        let page = app.auth_page(&browser, &query(&params)).await;
        assert_error_redirect(
            &app,
            &page,
            &client.redirect_uri,
            "invalid_request",
            None,
            case,
        );
    }
}

#[tokio::test]
async fn anonymous_visitor_with_a_redirectable_error_gets_the_login_page_not_a_redirect_areq_17() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let params = with_field(
        client.auth_params("profile create", "1234567890"),
        "response_type",
        Some("token"),
    );
    let browser = app.browser();
    let page = app.auth_page(&browser, &query(&params)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location.is_none());
    assert!(page.has("form#login"), "{}", page.body);

    // After signing in through that very page, the browser is sent back to
    // the request, and only now does the error go to the client.
    let resp = browser
        .submit(&page, "form#login", &[("password", PASSWORD)], None)
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let back = resp.location.clone().expect("continue location");
    assert!(back.starts_with("/auth?"), "{back}");
    let page = browser.get(&back).await;
    assert_error_redirect(
        &app,
        &page,
        &client.redirect_uri,
        "unsupported_response_type",
        Some("1234567890"),
        "after login",
    );
}

/// SEC-10: never 307 after a credential POST.
#[tokio::test]
async fn deny_redirects_access_denied_with_state_and_iss_by_303_areq_15_tv8e_cons_11() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = app
        .auth_page(&browser, &client.auth_query("profile create", "xyz-state"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let resp = browser
        .submit(&page, "form#consent", &[], Some(("action", "deny")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let to = resp.location_url();
    assert!(to.as_str().starts_with(&client.redirect_uri), "{to}");
    let q = query_map(&to);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz-state");
    assert_eq!(q["iss"], app.issuer());
    assert!(!q.contains_key("code"));
    assert_eq!(app.count("SELECT count(*) FROM codes").await, 0);
}

#[tokio::test]
async fn tv8g_existing_redirect_query_is_kept_on_success_and_error_areq_14() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    client.redirect_uri = format!("{}?foo=bar", client.redirect_uri);
    let browser = app.signed_in_browser().await;

    let redirect = app
        .approve(&browser, &client.auth_query("create", "s1"))
        .await;
    let prefix = format!("{}&", client.redirect_uri);
    assert!(redirect.as_str().starts_with(&prefix), "{redirect}");
    let q = query_map(&redirect);
    assert_eq!(q["foo"], "bar");
    assert_eq!(q["state"], "s1");
    let (status, body) = app.redeem(&client, &q["code"]).await;
    assert_eq!(status, 200, "{body}");

    let params = with_field(
        client.auth_params("create", "s2"),
        "response_type",
        Some("token"),
    );
    let page = app.auth_page(&browser, &query(&params)).await;
    let to = assert_error_redirect(
        &app,
        &page,
        &prefix,
        "unsupported_response_type",
        Some("s2"),
        "g: error",
    );
    assert_eq!(query_map(&to)["foo"], "bar");
}

async fn state_round_trip(state: &str) {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let redirect = app
        .approve(&browser, &client.auth_query("create", state))
        .await;
    let states: Vec<String> = redirect
        .query_pairs()
        .filter(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(states, vec![state.to_owned()], "{redirect}");
    // And on an error redirect.
    let params = with_field(
        client.auth_params("create", state),
        "response_type",
        Some("token"),
    );
    let page = app.auth_page(&browser, &query(&params)).await;
    assert_error_redirect(
        &app,
        &page,
        &client.redirect_uri,
        "unsupported_response_type",
        Some(state),
        state,
    );
}

#[tokio::test]
async fn tv8h_state_with_space_plus_ampersand_and_equals_comes_back_exactly_areq_6() {
    // The request carries state=a%20b%2Bc%26d%3De.
    state_round_trip("a b+c&d=e").await;
}

#[tokio::test]
async fn state_with_plus_slash_and_equals_survives_the_redirect_areq_6() {
    state_round_trip("ab+/cd==").await;
}

#[tokio::test]
async fn short_and_reused_state_is_accepted_areq_6() {
    let app = TestApp::spawn().await;
    let client = app.client().with_verifier(&"v".repeat(50));
    let browser = app.signed_in_browser().await;
    for _ in 0..2 {
        let redirect = app
            .approve(&browser, &client.auth_query("create", "1"))
            .await;
        assert_eq!(query_map(&redirect)["state"], "1");
    }
}

/// AREQ-16: a request already validated (the owner is answering its
/// consent page) whose answer cannot be saved goes back to the client, with
/// `state` and `iss`, rather than a page the client never hears of. Here
/// another process holds the database's write lock for longer than
/// doorstep waits for it: an overload, `temporarily_unavailable`.
#[tokio::test]
async fn an_answer_that_cannot_be_saved_goes_back_to_the_client_areq_16() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let browser = app.signed_in_browser().await;
    let page = browser
        .get(&format!("/auth?{}", client.auth_query("create", "st-16")))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);

    let lock = app.hold_write_lock();
    let answer = browser
        .submit(&page, "form#consent", &[], Some(("action", "approve")))
        .await;
    drop(lock);
    assert_error_redirect(
        &app,
        &answer,
        &client.redirect_uri,
        "temporarily_unavailable",
        Some("st-16"),
        "write lock held",
    );
}
