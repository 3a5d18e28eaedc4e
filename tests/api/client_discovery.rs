//! Client information discovery seen from outside (issue 3, issue 11):
//! fixture apps on loopback publish JSON metadata, h-app / h-x-app pages
//! and Link headers, or misbehave — never finish, never answer, loop,
//! inflate, or are built to make the HTML parser work for minutes.
//! doorstep's consent and error pages must say the truth, no code may ever
//! go to an unverified redirect, and a failed discovery is never
//! remembered: the next visit reads the app's page again (CID-7..24,
//! SEC-7).

use crate::fixtures::{Fixture, PNG, Reply};
use crate::helpers::*;
use serde_json::json;
use std::time::Duration;

/// A redirect on another origin than the fixture's `localhost` client id.
const ELSEWHERE: &str = "http://127.0.0.1:9/callback";

fn client_at(fx: &Fixture, redirect: &str) -> TestClient {
    TestClient {
        client_id: fx.client_id(),
        redirect_uri: redirect.to_owned(),
        ..TestClient::new(0)
    }
}

/// The consent page a signed-in owner gets for `client`'s request.
async fn consent(app: &TestApp, client: &TestClient) -> Response {
    consent_in(&app.signed_in_browser().await, client).await
}

async fn consent_in(browser: &Browser, client: &TestClient) -> Response {
    browser
        .get(&format!(
            "/auth?{}",
            client.auth_query("profile create", "s1")
        ))
        .await
}

/// A redirect URI on the fixture's own origin.
fn same_origin(fx: &Fixture) -> String {
    format!("http://localhost:{}/cb", fx.port)
}

async fn json_app(extra: serde_json::Value) -> Fixture {
    Fixture::start(move |port, path| {
        let id = format!("http://localhost:{port}/");
        match path {
            "/" => {
                let mut doc = json!({
                    "client_id": id,
                    "client_name": "Example App",
                    "client_uri": id,
                    "logo_uri": format!("{id}logo.png"),
                    "redirect_uris": [ELSEWHERE],
                });
                if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
                    for (k, v) in e {
                        d.insert(k.clone(), v.clone());
                    }
                }
                Reply::json(&doc).with_header("Cache-Control", "max-age=600")
            }
            "/logo.png" => Reply::Full(
                200,
                vec![("Content-Type".into(), "image/png".into())],
                PNG.to_vec(),
            ),
            _ => Reply::Full(404, vec![], vec![]),
        }
    })
    .await
}

#[tokio::test]
async fn json_metadata_names_the_app_and_verifies_a_listed_cross_origin_redirect_cid_14_cid_24() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({})).await;
    let client = client_at(&fx, ELSEWHERE);
    let page = consent(&app, &client).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Example App"));
    assert!(
        page.body
            .contains("verified by the app&#39;s metadata document"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&fx.client_id()),
        "CONS-2: the full client_id is shown"
    );
    assert!(
        page.body.contains("127.0.0.1:9"),
        "CONS-3: the redirect host is shown"
    );
    // And the whole flow completes to that verified redirect.
    let browser = app.signed_in_browser().await;
    let redirect = app
        .approve(&browser, &client.auth_query("create", "s2"))
        .await;
    assert!(redirect.as_str().starts_with(ELSEWHERE));
    let (status, token) = app
        .redeem(&client, &query_param(&redirect, "code").unwrap())
        .await;
    assert_eq!(status, 200, "{token}");
}

/// CONS-3: an app-specific scheme the app publishes is named as what it
/// is (an app on the owner's device), not as a web host or "a different
/// site".
#[tokio::test]
async fn an_app_scheme_redirect_is_named_as_an_app_on_the_device_cons_3() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({"redirect_uris": ["com.example.app:/callback"]})).await;
    let client = client_at(&fx, "com.example.app:/callback");
    let page = consent(&app, &client).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("the app on your device that handles <strong>com.example.app:</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("an app on your device handles"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("different site"), "{}", page.body);
    assert!(
        !page.body.contains("(host <strong>com.example.app:"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn unlisted_cross_origin_redirect_gets_an_error_page_never_a_redirect_cid_24_tv7_i() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({})).await;
    for evil in [
        "http://127.0.0.1:9/other",
        "http://127.0.0.1:9/callback/x",
        "http://evil.example/callback",
    ] {
        let page = consent(&app, &client_at(&fx, evil)).await;
        assert_eq!(page.status, 400, "{evil}");
        assert!(page.location.is_none());
        assert!(!page.body.contains("code="));
    }
}

#[tokio::test]
async fn logo_is_fetched_by_doorstep_and_served_from_its_own_origin_cid_19() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({})).await;
    let owner = app.signed_in_browser().await;
    let page = owner
        .get(&format!(
            "/auth?{}",
            client_at(&fx, ELSEWHERE).auth_query("profile create", "s1")
        ))
        .await;
    assert_eq!(page.status, 200);
    let doc = page.html();
    let img = scraper::Selector::parse("img.logo").unwrap();
    let src = doc
        .select(&img)
        .next()
        .and_then(|i| i.value().attr("src"))
        .expect("a logo")
        .to_owned();
    assert!(src.starts_with("/auth/logo?"), "never hot-linked: {src}");
    let resp = owner.http.get(app.url(&src)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);
    // Only the owner sees it: to others it would reveal which apps the
    // owner looked at.
    let resp = app.api.get(app.url(&src)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // The logo route only serves what discovery cached: it never fetches.
    let before = fx.hits();
    let other = format!("http://localhost:{}/other.png", fx.port);
    let resp = owner
        .http
        .get(app.url("/auth/logo"))
        .query(&[("url", other.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(fx.hits(), before);
}

#[tokio::test]
async fn client_information_is_cached_between_consent_pages_cid_13() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({})).await;
    let client = client_at(&fx, ELSEWHERE);
    assert_eq!(consent(&app, &client).await.status, 200);
    assert_eq!(consent(&app, &client).await.status, 200);
    let doc_fetches = fx.paths().iter().filter(|p| *p == "/").count();
    assert_eq!(doc_fetches, 1, "{:?}", fx.paths());
}

#[tokio::test]
async fn mismatched_client_id_document_is_ignored_tv7_m_cid_14() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({ "client_id": "http://localhost:1/other" })).await;
    // Its redirect list is not trusted, so the cross-origin redirect fails…
    let page = consent(&app, &client_at(&fx, ELSEWHERE)).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    // …and a same-origin one goes ahead, with none of its data and a warning.
    let same = same_origin(&fx);
    let page = consent(&app, &client_at(&fx, &same)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("Example App"));
    assert!(page.body.contains("not verified"));
}

#[tokio::test]
async fn confidential_client_is_refused_with_an_error_page_cid_18() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://localhost:1/jwks" })).await;
    let page = consent(&app, &client_at(&fx, &same_origin(&fx))).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.location.is_none());
}

#[tokio::test]
async fn h_app_and_h_x_app_pages_name_the_app_and_publish_redirects_cid_20_cid_21() {
    for class in ["h-app", "h-x-app"] {
        let app = TestApp::spawn().await;
        let fx = Fixture::start(move |port, path| match path {
            "/" => Reply::html(&format!(
                "<!doctype html><link rel=\"redirect_uri\" href=\"{ELSEWHERE}\">\
                 <div class=\"{class}\"><img src=\"/logo.png\" class=\"u-logo\" alt=\"\">\
                 <a href=\"http://localhost:{port}/\" class=\"u-url p-name\">Example App</a></div>"
            )),
            "/logo.png" => Reply::Full(
                200,
                vec![("Content-Type".into(), "image/png".into())],
                PNG.to_vec(),
            ),
            _ => Reply::Full(404, vec![], vec![]),
        })
        .await;
        let page = consent(&app, &client_at(&fx, ELSEWHERE)).await;
        assert_eq!(page.status, 200, "{class}: {}", page.body);
        assert!(page.body.contains("Example App"), "{class}");
        assert!(
            page.body.contains("describes itself"),
            "{class}: claimed, not verified"
        );
        assert!(
            page.body.contains("/auth/logo?"),
            "{class}: logo served by doorstep"
        );
    }
}

#[tokio::test]
async fn redirect_uri_published_only_in_a_link_header_is_accepted_cid_21() {
    let app = TestApp::spawn().await;
    let fx = Fixture::start(|port, _| {
        Reply::html(&format!(
            "<div class=\"h-app\"><a class=\"u-url p-name\" href=\"http://localhost:{port}/\">Linked App</a></div>"
        ))
        .with_header("Link", &format!("<{ELSEWHERE}>; rel=\"redirect_uri\""))
    })
    .await;
    let page = consent(&app, &client_at(&fx, ELSEWHERE)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Linked App"));
}

#[tokio::test]
async fn hostile_names_and_logos_are_neutralised_cons_12() {
    let app = TestApp::spawn().await;
    let fx = Fixture::start(|port, _| {
        Reply::html(&format!(
            "<div class=\"h-app\"><img class=\"u-logo\" src=\"javascript:alert(1)\">\
             <a class=\"u-url p-name\" href=\"http://localhost:{port}/\">&lt;script&gt;alert(1)&lt;/script&gt;Evil</a></div>"
        ))
    })
    .await;
    let same = same_origin(&fx);
    let page = consent(&app, &client_at(&fx, &same)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);
    assert!(
        page.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("javascript:"), "{}", page.body);
}

/// Fixtures that never finish: with discovery's deadline shortened to a
/// second, the consent page comes anyway, saying why the app is not
/// verified. (Without the deadline the first two would never end: the
/// bound on the test only turns that hang into a failure.)
#[tokio::test]
async fn slow_endless_and_looping_clients_get_a_consent_page_with_the_reason_cid_10() {
    let app =
        TestApp::spawn_with_fetch(|_| {}, |fetch| fetch.total_timeout = Duration::from_secs(1))
            .await;
    let endless = Fixture::start(|_, _| Reply::Endless).await;
    let silent = Fixture::start(|_, _| Reply::Silent).await;
    let looping =
        Fixture::start(|_, path| Reply::redirect(302, if path == "/" { "/a" } else { "/" })).await;
    for (fx, why) in [
        (&endless, "took too long to answer"),
        (&silent, "took too long to answer"),
        (&looping, "redirects too many times"),
    ] {
        let client = client_at(fx, &same_origin(fx));
        let page = tokio::time::timeout(PROCESS_PATIENCE, consent(&app, &client))
            .await
            .expect("the consent page came");
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("not verified"), "{}", page.body);
        assert!(page.body.contains(why), "{why}: {}", page.body);
    }
}

/// While a discovery is stuck (a fixture that never answers, and a
/// deadline long enough that it stays stuck), doorstep serves others.
#[tokio::test]
async fn a_stuck_discovery_does_not_hold_up_other_requests_cid_10() {
    let app = TestApp::spawn_with_fetch(
        |_| {},
        |fetch| fetch.total_timeout = Duration::from_secs(3600),
    )
    .await;
    let silent = Fixture::start(|_, _| Reply::Silent).await;
    let client = client_at(&silent, &same_origin(&silent));
    let browser = app.signed_in_browser().await;
    let query = client.auth_query("create", "s");
    let pending = tokio::spawn(async move { browser.get(&format!("/auth?{query}")).await });
    let asked = async {
        while silent.hits() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PROCESS_PATIENCE, asked)
        .await
        .expect("doorstep fetched the app's page");
    let health = app.api.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let dashboard = app.signed_in_browser().await.get("/dashboard").await;
    assert_eq!(dashboard.status, 200);
    assert!(!pending.is_finished(), "the discovery was still stuck");
    pending.abort();
}

#[tokio::test]
async fn gzip_bomb_is_cut_off_at_the_size_cap_cid_10() {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..50 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let app = TestApp::spawn().await;
    let fx = Fixture::start(move |_, _| {
        Reply::Full(
            200,
            vec![
                ("Content-Type".into(), "text/html".into()),
                ("Content-Encoding".into(), "gzip".into()),
            ],
            bomb.clone(),
        )
    })
    .await;
    let page = consent(&app, &client_at(&fx, &same_origin(&fx))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("not verified"), "{}", page.body);
    // The cap stopped it, not the deadline.
    assert!(page.body.contains("too large"), "{}", page.body);
}

#[tokio::test]
async fn with_private_fetch_off_loopback_clients_are_never_fetched_cid_7_cid_8() {
    let app = TestApp::spawn_with(|s| s.allow_private_client_fetch = false).await;
    let fx = json_app(json!({})).await;
    for id in [
        format!("http://127.0.0.1:{}/", fx.port),
        format!("http://localhost:{}/", fx.port),
    ] {
        let client = TestClient {
            client_id: id.clone(),
            redirect_uri: format!("{id}cb"),
            ..TestClient::new(0)
        };
        let page = consent(&app, &client).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("local app"), "{}", page.body);
    }
    assert_eq!(fx.hits(), 0, "doorstep must not contact a loopback client");
    // A cross-origin redirect cannot be verified without fetching: refused.
    let page = consent(&app, &client_at(&fx, ELSEWHERE)).await;
    assert_eq!(page.status, 400);
    assert_eq!(fx.hits(), 0);
}

#[tokio::test]
async fn anonymous_visitors_cannot_make_doorstep_fetch_anything_areq_17() {
    let app = TestApp::spawn().await;
    let fx = json_app(json!({})).await;
    let client = client_at(&fx, ELSEWHERE);
    let page = app
        .browser()
        .get(&format!("/auth?{}", client.auth_query("create", "s")))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("form") && page.body.contains("password"));
    assert_eq!(fx.hits(), 0);
}

#[tokio::test]
async fn a_page_of_100000_nested_divs_gets_a_clear_warning_every_time_cid_10() {
    let app = TestApp::spawn().await;
    let page = format!(
        "<div class=\"h-app\"><a class=\"u-url p-name\" href=\"/\">Deep App</a></div>{}",
        "<div>".repeat(100_000)
    );
    let fx = Fixture::start(move |_, _| Reply::html(&page)).await;
    let client = client_at(&fx, &same_origin(&fx));
    let browser = app.signed_in_browser().await;
    for _ in 0..2 {
        let page = consent_in(&browser, &client).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("not verified"), "{}", page.body);
        assert!(page.body.contains("too complex to read"), "{}", page.body);
        assert!(!page.body.contains("Deep App"));
    }
    // CID-13: the refusal is not cached; each visit reads the page again.
    assert_eq!(fx.hits(), 2);
}

/// CID-13: neither a failed fetch nor an invalid document is cached. An app
/// whose developer fixes its page (or whose server failed once) is read
/// again on the owner's next visit, and the consent page shows it at once.
#[tokio::test]
async fn a_failed_or_invalid_discovery_is_never_remembered_cid_13() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // First a 404, then a document naming another client_id, then a valid
    // one.
    let visit = Arc::new(AtomicUsize::new(0));
    let v = visit.clone();
    let fx = Fixture::start(move |port, path| {
        let id = format!("http://localhost:{port}/");
        match (path, v.load(Ordering::SeqCst)) {
            ("/", 0) => Reply::Full(404, vec![], b"gone".to_vec()),
            ("/", 1) => Reply::json(&json!({
                "client_id": "http://localhost:1/other",
                "client_name": "Wrong App",
            })),
            ("/", _) => Reply::json(&json!({
                "client_id": id,
                "client_name": "Fixed App",
                "redirect_uris": [ELSEWHERE],
            })),
            _ => Reply::Full(404, vec![], Vec::new()),
        }
    })
    .await;
    let app = TestApp::spawn().await;
    let browser = app.signed_in_browser().await;

    let page = consent_in(&browser, &client_at(&fx, &same_origin(&fx))).await;
    assert!(
        page.status == 200 && page.body.contains("HTTP status 404"),
        "{}",
        page.body
    );
    // A redirect on another origin is refused while the page says nothing.
    let elsewhere = consent_in(&browser, &client_at(&fx, ELSEWHERE)).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(elsewhere.location.is_none());
    assert_eq!(fx.hits(), 2, "each visit fetched the page");

    visit.store(1, Ordering::SeqCst);
    let page = consent_in(&browser, &client_at(&fx, &same_origin(&fx))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("Wrong App"), "{}", page.body);
    assert_eq!(fx.hits(), 3);

    // Fixed: read at once, with no clock moved, and its redirect on
    // another origin is now verified.
    visit.store(2, Ordering::SeqCst);
    let page = consent_in(&browser, &client_at(&fx, ELSEWHERE)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Fixed App"), "{}", page.body);
    assert_eq!(fx.hits(), 4);
}
