//! Phone apps: Indigenous for iOS and Android and Sunlit, with their
//! custom-scheme and relayed redirects.

use super::*;

/// The page a native app publishes at its client_id: an h-app and its
/// custom-scheme redirect URI (IA §4.2.2, CID-20, CID-21, LEG-4).
async fn native_app_page(
    path: &'static str,
    name: &'static str,
    redirect: &'static str,
) -> Fixture {
    Fixture::start(move |_, p| {
        if p == path {
            Reply::html(&format!(
                r#"<!doctype html><html><head>
<link rel="redirect_uri" href="{redirect}">
</head><body>
<div class="h-app"><a href="{path}" class="u-url p-name">{name}</a></div>
</body></html>"#
            ))
        } else {
            Reply::Full(404, vec![], vec![])
        }
    })
    .await
}

/// Indigenous for iOS (IndiePass/indiepass-ios
/// `Indigenous/IndieAuth/IndieAuthLoginViewController.swift` and
/// `IndieAuth/IndieAuth.swift`):
/// `appClientId = "https://indigenous.abode.pub/ios/"`, `callbackUrl =
/// "indigenous://auth/callback"` (published on the client page with
/// `rel=redirect_uri`), the authorization URL from `URLComponents`
/// queryItems `me, redirect_uri, client_id, state (12 characters), scope
/// ("create", plus "read" when a microsub rel exists), response_type=code`,
/// no PKCE. `makeTokenRequest()` concatenates the body without any
/// percent-encoding (`"grant_type=authorization_code&me=" + me + "&code="
/// + code + …`), sends `Accept: application/json`, and on a 200 with a JSON
/// content type decodes `{access_token, scope, me}` as String, String, URL;
/// the scope must contain `create` or `post`.
#[tokio::test]
async fn indigenous_ios_signs_in_with_a_custom_scheme_redirect_uri() {
    let app = with_micropub().await;
    let me = app.me();
    let fx = native_app_page("/ios/", "Indigenous", "indigenous://auth/callback").await;
    let client_id = format!("http://localhost:{}/ios/", fx.port);
    let callback = "indigenous://auth/callback";
    let rels = get_rels(&app, &me).await;
    let authorization_endpoint = first(&rels, "authorization_endpoint").unwrap();
    let token_endpoint = first(&rels, "token_endpoint").unwrap();
    assert!(first(&rels, "micropub").is_some());
    let scope = if first(&rels, "microsub").is_some() {
        "create read"
    } else {
        "create"
    };
    let state = "k3J9xQ2mP7aZ";
    let mut u = Url::parse(&authorization_endpoint).unwrap();
    u.query_pairs_mut()
        .append_pair("me", &me)
        .append_pair("redirect_uri", callback)
        .append_pair("client_id", &client_id)
        .append_pair("state", state)
        .append_pair("scope", scope)
        .append_pair("response_type", "code");
    let (back, asked) = app.owner_approves(u.as_str()).await;
    assert!(asked, "no PKCE: the owner allows it once");
    assert!(fx.hits() > 0, "doorstep read the app's page");
    // SFAuthenticationSession hands back the indigenous:// URL.
    assert_eq!(back.scheme(), "indigenous");
    assert!(back.as_str().starts_with(callback), "{back}");
    let q = query_map(&back);
    assert_eq!(q["state"], state);

    let body = format!(
        "grant_type=authorization_code&me={me}&code={}&redirect_uri={callback}&client_id={client_id}&state={state}",
        q["code"]
    );
    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded",
        &[("Accept", "application/json")],
        body,
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        resp.header("content-type")
            .unwrap()
            .contains("application/json")
    );
    #[derive(serde::Deserialize)]
    struct IndieAuthTokenResponse {
        access_token: String,
        scope: String,
        me: String,
    }
    let t: IndieAuthTokenResponse = serde_json::from_str(&resp.body).expect("Codable decode");
    assert!(t.scope.to_lowercase().contains("create"));
    // `let me: URL`: Foundation's URL(string:) must accept it.
    assert_eq!(Url::parse(&t.me).unwrap().as_str(), me);
    assert!(app.is_active(&t.access_token).await);
}

/// Indigenous for Android (IndiePass/indiepass-android
/// `users/AuthActivity.java`, `indieweb/indieauth/IndieAuthAction.java`,
/// `util/Utility.java`): discovery with jsoup — the `Link` header (jsoup
/// joins repeated headers with ", ") split on `,` then `;`, the rel
/// compared exactly after stripping `rel=` and quotes — then
/// `link[href]` elements; it needs both auth endpoints and a micropub or
/// microsub rel. The authorization URL is concatenated unencoded with
/// `code_challenge_method=S256`, `code_challenge =
/// base64url(sha256(two UUIDs without dashes))`, `state =
/// UUID.substring(0, 10)` and `scope=create+update+delete+media+read+follow+channels+mute+block`.
/// Volley posts `code, me, redirect_uri, client_id, grant_type,
/// code_verifier` with `Accept: application/json` and reads
/// `access_token` from the JSON. Signing out posts `action=revoke` and
/// `token` with the same token as `Authorization: Bearer`.
#[tokio::test]
async fn indigenous_android_signs_in_with_pkce_and_revokes_with_action_revoke() {
    let app = with_micropub().await;
    let domain_input = app.me().trim_end_matches('/').to_owned();
    let resp = app.api.get(&domain_input).send().await.unwrap();
    let joined: Vec<&str> = resp
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let joined = joined.join(", ");
    let (mut authorization_endpoint, mut token_endpoint) = (String::new(), String::new());
    let mut has_micropub_or_microsub = false;
    for link in joined.split(',') {
        let split: Vec<&str> = link.split(';').collect();
        let endpoint = split[0].replace(['<', '>'], "").trim().to_owned();
        let rel = split[1].trim().replace("rel=", "").replace('"', "");
        match rel.as_str() {
            "authorization_endpoint" => authorization_endpoint = endpoint,
            "token_endpoint" => token_endpoint = endpoint,
            "micropub" | "microsub" => has_micropub_or_microsub = true,
            _ => {}
        }
    }
    let html = resp.text().await.unwrap();
    for (rel, href) in html_rels(&html, &Url::parse(&app.me()).unwrap()) {
        if rel == "micropub" || rel == "microsub" {
            has_micropub_or_microsub = true;
        }
        if rel == "token_endpoint" && token_endpoint.is_empty() {
            token_endpoint = href;
        }
    }
    assert!(!authorization_endpoint.is_empty() && !token_endpoint.is_empty());
    assert!(has_micropub_or_microsub);

    let port = app.unused_port();
    let client_id = format!("http://127.0.0.1:{port}/");
    let redirect_uri = format!("http://127.0.0.1:{port}/android-callback");
    let state = "3f2b8c1d-9";
    let code_verifier = "3f2b8c1d9a7e4b1c8d2e6f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c";
    let url = format!(
        "{authorization_endpoint}?code_challenge_method=S256&code_challenge={}&response_type=code&redirect_uri={redirect_uri}&client_id={client_id}&me={domain_input}&scope=create+update+delete+media+read+follow+channels+mute+block&state={state}",
        s256(code_verifier)
    );
    let (back, asked) = app.owner_approves(&url).await;
    assert!(!asked);
    let q = query_map(&back);
    assert_eq!(q["state"], state);

    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded; charset=UTF-8",
        &[("Accept", "application/json")],
        form(&[
            ("code", &q["code"]),
            ("me", &domain_input),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("grant_type", "authorization_code"),
            ("code_verifier", code_verifier),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let json = resp.json();
    let access_token = str_of(&json, "access_token");
    assert_eq!(
        json["scope"],
        "create update delete media read follow channels mute block"
    );

    // IndieAuthAction.revoke().
    let resp = post_raw(
        &app,
        &token_endpoint,
        "application/x-www-form-urlencoded; charset=UTF-8",
        &[
            ("Accept", "application/json"),
            ("Authorization", &format!("Bearer {access_token}")),
        ],
        form(&[("action", "revoke"), ("token", &access_token)]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(!app.is_active(&access_token).await, "REV-L1");
}

/// Sunlit and micro.blog's own apps signing in to an external blog
/// (microdotblog/sunlit issues #124 and #130; microdotblog/issues #235):
/// the code comes back through `https://sunlit.io/micropub/redirect` to
/// `sunlit://micropub?code=…&state=…&me=…`, the app will not finish without
/// `me` there, `client_id` is `https://sunlit.io/`, `state` an upper-case
/// UUID, `scope=create`, and no PKCE (PRODUCT "Compatibility"). The token
/// request is the plain form exchange with `Accept: application/json` that
/// micro.blog documents for its own endpoint (help.micro.blog "OAuth in
/// Micro.blog").
#[tokio::test]
async fn sunlit_signs_in_without_pkce_and_reads_me_from_the_redirect() {
    let app = with_micropub().await;
    let me = app.me();
    let metadata = app.metadata().await;
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_uri = format!("{client_id}micropub/redirect");
    let state = "75769AAC-D3EE-467F-B7F0-D92638E4CA10";
    let mut u = Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    u.query_pairs_mut()
        .append_pair("me", &me)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("client_id", &client_id)
        .append_pair("state", state)
        .append_pair("scope", "create")
        .append_pair("response_type", "code");
    let (back, asked) = app.owner_approves(u.as_str()).await;
    assert!(asked);
    let q = query_map(&back);
    assert_eq!(q["state"], state);
    assert_eq!(q.get("me"), Some(&me), "me in the redirect (issue #124)");
    let resp = post_raw(
        &app,
        metadata["token_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[("Accept", "application/json")],
        form(&[
            ("code", &q["code"]),
            ("client_id", &client_id),
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect_uri),
            ("me", &q["me"]),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let json = resp.json();
    assert_eq!(json["me"], me);
    assert_eq!(json["scope"], "create");
}
