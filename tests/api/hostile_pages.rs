//! Hostile and broken client pages seen from outside (issue 11; CID-10,
//! CID-12, SEC-7): a page built to make the HTML parser work for minutes
//! gets the same clear warning as any unreadable page, and a failed
//! discovery is remembered for a minute, so reloading the consent page does
//! not fetch and parse it again.

use crate::fixtures::{Fixture, Reply};
use crate::helpers::*;

fn client_at(fx: &Fixture, redirect: &str) -> TestClient {
    TestClient {
        client_id: fx.client_id(),
        redirect_uri: redirect.to_owned(),
        ..TestClient::new(0)
    }
}

fn same_origin(fx: &Fixture) -> String {
    format!("http://localhost:{}/cb", fx.port)
}

async fn consent(browser: &Browser, client: &TestClient) -> Page {
    browser
        .get(&format!(
            "/auth?{}",
            client.auth_query("profile create", "s1")
        ))
        .await
}

#[tokio::test]
async fn a_page_of_100000_nested_divs_gets_a_clear_warning_and_is_not_fetched_again_cid_10() {
    let app = TestApp::spawn().await;
    let page = format!(
        "<div class=\"h-app\"><a class=\"u-url p-name\" href=\"/\">Deep App</a></div>{}",
        "<div>".repeat(100_000)
    );
    let fx = Fixture::start(move |_, _| Reply::html(&page)).await;
    let client = client_at(&fx, &same_origin(&fx));
    let browser = app.signed_in_browser().await;
    for _ in 0..2 {
        let page = consent(&browser, &client).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("not verified"), "{}", page.body);
        assert!(page.body.contains("too complex to read"), "{}", page.body);
        assert!(!page.body.contains("Deep App"));
    }
    assert_eq!(fx.hits(), 1, "the reload used the remembered failure");
}

#[tokio::test]
async fn a_failed_discovery_is_retried_only_after_a_minute_cid_10_cid_12() {
    let app = TestApp::spawn().await;
    let fx = Fixture::start(|_, _| Reply::Full(404, vec![], b"gone".to_vec())).await;
    let browser = app.signed_in_browser().await;
    let warned = |page: &Page| page.status == 200 && page.body.contains("HTTP status 404");

    let page = consent(&browser, &client_at(&fx, &same_origin(&fx))).await;
    assert!(warned(&page), "{}", page.body);
    assert_eq!(fx.hits(), 1);

    // Within the minute: the same warning, and for a redirect on another
    // origin the same hard error (CID-12), all without a fetch. (Half a
    // minute in: the wall clock keeps running under the injected offset,
    // and a loaded machine may take seconds between these requests.)
    app.clock.advance(30);
    let page = consent(&browser, &client_at(&fx, &same_origin(&fx))).await;
    assert!(warned(&page), "{}", page.body);
    let elsewhere = consent(&browser, &client_at(&fx, "http://127.0.0.1:9/cb")).await;
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(elsewhere.location.is_none());
    assert_eq!(fx.hits(), 1);

    // After it, the page is fetched again.
    app.clock.advance(31);
    let page = consent(&browser, &client_at(&fx, &same_origin(&fx))).await;
    assert!(warned(&page), "{}", page.body);
    assert_eq!(fx.hits(), 2);
}
