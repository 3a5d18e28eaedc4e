//! A walk through every page a person sees, with realistic content: two
//! apps with names (one with a logo) signed in, one without PKCE allowed,
//! one revoked, a resource-server secret, activity. `plain_words` reads
//! the pages; `screenshots` photographs them.

use crate::fixtures::{Fixture, Reply};
use crate::helpers::*;
use doorstep::store::owner;
use serde_json::json;

/// One page as the server sent it.
#[allow(dead_code)]
pub struct Shown {
    /// A file-name-safe name: `consent`, `dashboard`…
    pub name: &'static str,
    pub status: u16,
    pub html: String,
}

#[allow(dead_code)]
pub struct Tour {
    pub app: TestApp,
    /// Signed in as the owner; its cookie reaches the owner's pages.
    pub browser: Browser,
    pub pages: Vec<Shown>,
    _apps: Vec<Fixture>,
}

/// A 1×1 orange GIF: a logo that shows in the screenshots.
const ORANGE_DOT: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xe8, 0x59, 0x0c,
    0xff, 0xff, 0xff, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44,
    0x01, 0x00, 0x3b,
];

/// An app that describes itself with a JSON client metadata document.
pub async fn app_named(name: &'static str, with_logo: bool) -> Fixture {
    Fixture::start(move |port, path| {
        let id = format!("http://localhost:{port}/");
        match path {
            "/" => {
                let mut doc = json!({
                    "client_id": id,
                    "client_name": name,
                    "client_uri": id,
                    "redirect_uris": [format!("{id}callback")],
                });
                if with_logo {
                    doc["logo_uri"] = json!(format!("{id}logo.gif"));
                }
                Reply::json(&doc)
            }
            "/logo.gif" => Reply::Full(
                200,
                vec![("Content-Type".into(), "image/gif".into())],
                ORANGE_DOT.to_vec(),
            ),
            _ => Reply::Full(404, vec![], vec![]),
        }
    })
    .await
}

pub fn client_of(fx: &Fixture) -> TestClient {
    let mut c = TestClient::new(fx.port);
    c.client_id = fx.client_id();
    c.redirect_uri = format!("{}callback", fx.client_id());
    c
}

fn shown(name: &'static str, page: Response) -> Shown {
    Shown {
        name,
        status: page.status,
        html: page.body,
    }
}

/// Approves the consent `page` shows and redeems the code.
async fn approve_and_redeem(
    app: &TestApp,
    browser: &Browser,
    page: &Response,
    client: &TestClient,
) {
    let resp = browser
        .submit(page, "form#consent", &[], Some(("action", "approve")))
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let code = query_param(&resp.location_url(), "code").expect("code");
    let answer = app.post_pairs("/token", &code_form(client, &code)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Used once, so the dashboard has a "last used" time to show.
    let token = str_of(&answer.json(), "access_token");
    assert_eq!(app.verify_get(&token, None).await.0, 200);
}

pub async fn visit_every_page() -> Tour {
    let app = TestApp::spawn().await;
    let mut pages = Vec::new();
    let visitor = app.browser();
    pages.push(shown("homepage", visitor.get("/").await));
    pages.push(shown("login", visitor.get("/login").await));
    pages.push(shown("not-found", visitor.get("/no/such/page").await));
    pages.push(shown(
        "authorization-error",
        visitor
            .get("/auth?client_id=https%3A%2F%2Fapp.example%2F")
            .await,
    ));
    let now = app.clock.now();
    let link = app
        .store
        .write(move |tx| owner::issue_setup_link(tx, now))
        .await
        .expect("setup link");
    pages.push(shown(
        "setup",
        visitor
            .get(&format!("/setup?token={}", link.expose()))
            .await,
    ));
    pages.push(shown(
        "setup-link-used",
        visitor.get("/setup?token=no-longer-valid").await,
    ));

    let browser = app.signed_in_browser().await;
    let quill = app_named("Quill", true).await;
    let writer = app_named("iA Writer", false).await;
    let sunlit = app_named("Sunlit", false).await;
    let removed = app_named("Micropublish", false).await;

    let client = client_of(&quill);
    let consent = browser
        .get(&format!(
            "/auth?{}",
            client.auth_query("profile create update media", "s1")
        ))
        .await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    approve_and_redeem(&app, &browser, &consent, &client).await;
    pages.push(shown("consent", consent));

    let client = client_of(&writer);
    let page = browser
        .get(&format!("/auth?{}", client.auth_query("create", "s2")))
        .await;
    approve_and_redeem(&app, &browser, &page, &client).await;

    let client = client_of(&sunlit).without_pkce();
    let no_pkce = browser
        .get(&format!(
            "/auth?{}",
            client.auth_query("create media", "s3")
        ))
        .await;
    assert_eq!(no_pkce.status, 200, "{}", no_pkce.body);
    let page = browser
        .submit(&no_pkce, "form#pkce", &[], Some(("action", "allow")))
        .await;
    let page = if page.status == 303 {
        browser
            .get(page.location.as_deref().expect("location"))
            .await
    } else {
        page
    };
    approve_and_redeem(&app, &browser, &page, &client).await;
    pages.push(shown("no-pkce", no_pkce));

    let client = client_of(&removed);
    let page = browser
        .get(&format!("/auth?{}", client.auth_query("create", "s4")))
        .await;
    approve_and_redeem(&app, &browser, &page, &client).await;
    let dashboard = browser.get("/dashboard").await;
    let revoke = format!(
        "form#revoke-grant-{}",
        grant_of(&app, &client.client_id).await
    );
    let resp = browser.submit(&dashboard, &revoke, &[], None).await;
    assert_eq!(resp.status, 303, "{}", resp.body);

    let dashboard = browser.get("/dashboard").await;
    let created = browser
        .submit(
            &dashboard,
            "form#add-resource-server",
            &[("name", "micropub")],
            None,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    pages.push(shown("resource-server-created", created));
    pages.push(shown("dashboard", browser.get("/dashboard").await));
    pages.push(shown(
        "revoke-all",
        browser.get("/dashboard/grants/revoke-all").await,
    ));
    let dashboard = browser.get("/dashboard").await;
    let totp = browser.submit(&dashboard, "form#add-totp", &[], None).await;
    pages.push(shown("authenticator-app", totp));

    Tour {
        app,
        browser,
        pages,
        _apps: vec![quill, writer, sunlit, removed],
    }
}

/// The live grant of `client_id`.
async fn grant_of(app: &TestApp, client_id: &str) -> i64 {
    let client_id = client_id.to_owned();
    app.store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT id FROM grants WHERE client_id = ?1 AND revoked_at IS NULL",
                [client_id],
                |r| r.get(0),
            )?)
        })
        .await
        .expect("grant")
}
