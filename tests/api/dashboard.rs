//! The owner's dashboard (SEC-22; issue 4, item 7): grants with their
//! details, revoke one or all with the CSRF token (and refused without),
//! resource-server secrets, recent activity, batched "last used".

use crate::helpers::*;
use crate::tour::{app_named, client_of};
use scraper::Selector;

fn texts(page: &Response, selector: &str) -> Vec<String> {
    let sel = Selector::parse(selector).unwrap();
    page.html()
        .select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

#[tokio::test]
async fn each_grant_shows_app_scopes_granted_last_used_and_expiry_sec_22() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "profile create").await;
    let never = app.token_with_lifetime(&client, "media", "never").await;
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, 200);
    assert_eq!(texts(&page, "title"), ["Dashboard · doorstep"]);
    assert_eq!(texts(&page, "li.grant").len(), 2, "{}", page.body);
    assert!(page.body.contains(&client.client_id));
    let scopes = texts(&page, "li.grant .scopes").join(" ");
    for s in ["profile", "create", "media"] {
        assert!(scopes.contains(s), "{scopes}");
    }
    assert!(
        texts(&page, "li.grant .granted")
            .iter()
            .all(|g| g.ends_with("UTC"))
    );
    assert!(
        texts(&page, "li.grant .last-used")
            .iter()
            .all(|u| u == "never")
    );
    let expires = texts(&page, "li.grant .expires");
    assert!(expires.iter().any(|e| e == "when revoked"), "{expires:?}");
    assert!(expires.iter().any(|e| e.ends_with("UTC")), "{expires:?}");
    // A verification shows up as "last used" at once…
    assert_eq!(
        app.verify_get(&str_of(&t, "access_token"), None).await.0,
        200
    );
    let page = browser.get("/dashboard").await;
    let used = texts(&page, "li.grant .last-used");
    assert!(used.iter().any(|u| u.ends_with("UTC")), "{used:?}");
    drop(never);
}

#[tokio::test]
async fn last_used_is_batched_not_written_per_verification() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    for _ in 0..5 {
        assert_eq!(
            app.verify_get(&str_of(&t, "access_token"), None).await.0,
            200
        );
    }
    let stored: Option<i64> = app
        .store
        .read(|c| Ok(c.query_row("SELECT last_used_at FROM grants", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(stored, None, "no database write per verification");
}

#[tokio::test]
async fn the_revoke_button_with_its_csrf_token_revokes_at_once() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    assert_eq!(app.verify_get(&access, None).await.0, 200);
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard").await;
    let resp = browser.submit(&page, "form.revoke-grant", &[], None).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(app.verify_get(&access, None).await.0, 401);
    let page = browser.get("/dashboard").await;
    assert!(texts(&page, "li.grant").is_empty());
    let events = texts(&page, "ul.events li").join("\n");
    assert!(events.contains("Revoked access"), "{events}");
    assert!(events.contains("Granted access"), "{events}");
}

#[tokio::test]
async fn revoke_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let access = str_of(&t, "access_token");
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard").await;
    let (action, fields) = form_fields(&page, "form.revoke-grant");
    let without: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    assert_eq!(browser.post(&action, &without).await.status, 403);
    let mut wrong = without.clone();
    wrong.push(("csrf".into(), "x".repeat(43)));
    assert_eq!(browser.post(&action, &wrong).await.status, 403);
    // Nor from a browser that is not signed in, even with the token.
    let stranger = app.browser();
    assert_eq!(stranger.post(&action, &fields).await.status, 403);
    let confirm = browser.get("/dashboard/grants/revoke-all").await;
    let (all_action, all_fields) = form_fields(&confirm, "form#revoke-all");
    let all_without: Vec<_> = all_fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    assert_eq!(browser.post(&all_action, &all_without).await.status, 403);
    assert_eq!(stranger.post(&all_action, &all_fields).await.status, 403);
    assert_eq!(app.verify_get(&access, None).await.0, 200, "still valid");
}

#[tokio::test]
async fn revoke_every_app_asks_for_confirmation_first_then_revokes_every_grant() {
    let app = TestApp::spawn().await;
    let one = app.client();
    let two = app.client();
    let a = str_of(&app.token_for(&one, "create").await, "access_token");
    let b = str_of(&app.token_for(&two, "media").await, "access_token");
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard").await;
    assert_eq!(texts(&page, "li.grant").len(), 2);
    // The dashboard only links to the question; no form there revokes all.
    assert!(!page.has("form#revoke-all"), "{}", page.body);
    let link = texts(&page, "a#revoke-all-link").join("");
    assert_eq!(link, "Revoke every app…");
    let confirm = browser.get("/dashboard/grants/revoke-all").await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let listed = texts(&confirm, "ul.app-list li");
    assert_eq!(listed.len(), 2, "names what it would end: {listed:?}");
    assert_eq!(
        app.verify_get(&a, None).await.0,
        200,
        "asking changes nothing"
    );
    // Posted without the confirmation (an old form, a crafted request):
    // the question again, and nothing revoked.
    let (action, fields) = form_fields(&confirm, "form#revoke-all");
    let unconfirmed: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "confirm")
        .cloned()
        .collect();
    let again = browser.post(&action, &unconfirmed).await;
    assert_eq!(again.status, 200);
    assert!(again.has("form#revoke-all"));
    assert_eq!(app.verify_get(&a, None).await.0, 200);
    let resp = browser.submit(&confirm, "form#revoke-all", &[], None).await;
    assert_eq!(resp.status, 303);
    assert_eq!(app.verify_get(&a, None).await.0, 401);
    assert_eq!(app.verify_get(&b, None).await.0, 401);
}

#[tokio::test]
async fn each_revoke_button_says_which_app_it_revokes_and_activity_names_apps_by_name() {
    let app = TestApp::spawn().await;
    let quill = app_named("Quill", false).await;
    let named = client_of(&quill);
    let unnamed_port = app.unused_port();
    let unnamed = TestClient::new(unnamed_port);
    app.token_for(&named, "create").await;
    app.token_for(&unnamed, "media").await;
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard").await;
    // The accessible name of a button is its text, hidden parts included.
    let mut names = texts(&page, "form.revoke-grant button");
    names.sort();
    assert_eq!(
        names,
        [
            format!("Revoke 127.0.0.1:{unnamed_port}"),
            format!("Revoke Quill (localhost:{})", quill.port),
        ]
    );
    let resp = browser
        .submit(&page, "form#revoke-grant-1", &[], None)
        .await;
    assert_eq!(resp.status, 303);
    let events = texts(&browser.get("/dashboard").await, "ul.events li").join("\n");
    assert!(events.contains("Revoked access · Quill"), "{events}");
    assert!(events.contains("Granted access · Quill"), "{events}");
    assert!(
        !events.contains(&format!("localhost:{}", quill.port)),
        "by name, not host and port: {events}"
    );
}

#[tokio::test]
async fn a_resource_server_secret_made_on_the_dashboard_introspects_until_revoked() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let t = app.token_for(&client, "create").await;
    let browser = app.signed_in_browser().await;
    let page = browser.get("/dashboard").await;
    let created = browser
        .submit(
            &page,
            "form#add-resource-server",
            &[("name", "my micropub")],
            None,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret = texts(&created, "#secret").join("");
    assert_eq!(secret.len(), 43, "{secret}");
    let a = app
        .introspect(Some(&secret), &[("token", &str_of(&t, "access_token"))])
        .await;
    assert_eq!(a.json()["active"], serde_json::json!(true));
    let page = browser.get("/dashboard").await;
    assert!(page.body.contains("my micropub"));
    assert!(!page.body.contains(&secret), "shown once only");
    // Creating needs the CSRF token too.
    let (action, _) = form_fields(&page, "form#add-resource-server");
    let no_csrf = vec![("name".to_string(), "sneaky".to_string())];
    assert_eq!(browser.post(&action, &no_csrf).await.status, 403);
    let resp = browser
        .submit(&page, "form.revoke-resource-server", &[], None)
        .await;
    assert_eq!(resp.status, 303);
    let a = app.introspect(Some(&secret), &[("token", "x")]).await;
    assert_eq!(a.status, 401);
}

/// A page of apps, not every grant ever made (issue 10: on a database of
/// 100,000 grants one dashboard view was tens of MB). The rest are counted,
/// one link away, and "revoke every app" still revokes every one.
#[tokio::test]
async fn the_dashboard_lists_the_newest_hundred_apps_and_counts_the_rest() {
    use doorstep::domain::{ClientId, ScopeSet, Secret};
    use doorstep::store::tokens;
    let app = TestApp::spawn().await;
    let now = app.clock.now();
    let tokens: Vec<String> = app
        .store
        .write_now(move |tx| {
            let mut made = Vec::new();
            for i in 0..103 {
                let client = ClientId::parse(&format!("https://app{i}.example/")).unwrap();
                let grant = tokens::Grant {
                    client_id: client.clone(),
                    client_name: Some(format!("App {i}")),
                    client_logo: None,
                    redirect_uri: format!("{client}callback"),
                    scope: ScopeSet::parse("create").unwrap(),
                    me: "https://owner.example/".into(),
                    access_lifetime: None,
                };
                let token = Secret::generate();
                // One second apart, so that "newest" is well defined.
                tokens::create_grant_with_token(tx, &grant, &token.hash(), now - 200 + i, None)?;
                made.push(token.expose().to_owned());
            }
            Ok(made)
        })
        .expect("grants");
    let browser = app.signed_in_browser().await;

    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, 200);
    let names = texts(&page, "li.grant .app-name");
    assert_eq!(names.len(), 100, "a page of apps");
    assert_eq!(
        names.first().map(String::as_str),
        Some("App 102"),
        "newest first"
    );
    assert_eq!(names.last().map(String::as_str), Some("App 3"));
    let more = texts(&page, "#more-apps").join("");
    assert!(more.contains("100 newest of your 103 apps"), "{more}");
    assert!(
        page.has("#more-apps a[href='/dashboard?apps=all#apps']"),
        "{more}"
    );

    let all = browser.get("/dashboard?apps=all").await;
    assert_eq!(texts(&all, "li.grant").len(), 103);
    assert!(!all.has("#more-apps"));

    let confirm = browser.get("/dashboard/grants/revoke-all").await;
    let listed = texts(&confirm, "ul.app-list li");
    assert_eq!(listed.len(), 101, "{listed:?}");
    assert_eq!(listed.last().map(String::as_str), Some("and 3 more"));
    assert_eq!(
        texts(&confirm, "form#revoke-all button").join(""),
        "Revoke all 103 apps"
    );
    let resp = browser.submit(&confirm, "form#revoke-all", &[], None).await;
    assert_eq!(resp.status, 303);
    for t in [&tokens[0], &tokens[102]] {
        assert_eq!(app.verify_get(t, None).await.0, 401, "every app revoked");
    }
    let page = browser.get("/dashboard").await;
    assert!(texts(&page, "li.grant").is_empty());
}
