//! Micropublish (barryf/micropublish), in Ruby, signing in without PKCE.

use super::*;

/// Micropublish (barryf/micropublish `lib/micropublish/server.rb`,
/// `auth.rb`, `endpoints_finder.rb`): no PKCE, scope `post`, a client_id
/// without a trailing slash (`request.base_url`), the authorization URL
/// built as `"#{endpoint}?#{query}"`, and a callback that refuses to go on
/// without `me` in the redirect. Discovery is a GET (no HEAD) reading the
/// `Link` header then `<link>`s, and it needs `micropub`,
/// `authorization_endpoint` and `token_endpoint`. The code is exchanged
/// with `HTTParty.post(token_endpoint, body: {me:, code:, redirect_uri:,
/// client_id:, state:, scope:, grant_type:})` — form-encoded, no verifier.
#[tokio::test]
async fn micropublish_signs_in_without_pkce_and_reads_me_from_the_redirect() {
    let app = with_micropub().await;
    let me = app.me();
    let base = Url::parse(&me).unwrap();

    // EndpointsFinder#find_links: one GET; header links win, then <link>s.
    let page = app.api.get(&me).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut rels = header_rels(page.headers(), &base);
    rels.extend(html_rels(&page.text().await.unwrap(), &base));
    let endpoints: HashMap<&str, String> = ["micropub", "authorization_endpoint", "token_endpoint"]
        .into_iter()
        .map(|rel| {
            (
                rel,
                first(&rels, rel).unwrap_or_else(|| panic!("validate!: {rel}")),
            )
        })
        .collect();

    // get '/auth': URI.encode_www_form in this order, appended with "?".
    let base_url = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{base_url}/auth/callback");
    let state = "264013871948526375913852073984105293847";
    let query = form(&[
        ("me", me.as_str()),
        ("client_id", &base_url),
        ("state", state),
        ("scope", "post"),
        ("redirect_uri", &redirect_uri),
        ("response_type", "code"),
    ]);
    let auth_url = format!("{}?{query}", endpoints["authorization_endpoint"]);
    let (back, _) = app.owner_approves(&auth_url).await;

    // get '/auth/callback': Auth.new(params[:me], params[:code], …) and
    // `raise AuthError … unless Auth.valid_uri?(@me)`.
    let q = query_map(&back);
    let returned_me = q.get("me").expect("me in the redirect");
    assert!(Url::parse(returned_me).is_ok_and(|u| u.scheme().starts_with("http")));
    assert_eq!(returned_me, &me);
    assert_eq!(q["state"], state);

    // Auth#get_token_and_me: form-encoded, Net::HTTP's default Accept.
    let resp = app
        .api
        .post(&endpoints["token_endpoint"])
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "*/*")
        .body(form(&[
            ("me", returned_me.as_str()),
            ("code", &q["code"]),
            ("redirect_uri", &redirect_uri),
            ("client_id", &base_url),
            ("state", state),
            ("scope", "post"),
            ("grant_type", "authorization_code"),
        ]))
        .send()
        .await
        .unwrap();
    // `unless (200...300).include?(response.code)`, then JSON.parse first.
    assert!(resp.status().is_success(), "{}", resp.status());
    let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(json["access_token"].is_string(), "{json}");
    assert_eq!(json["me"], me);
    // LEG-7: granted verbatim, so resource servers still see `post`.
    assert_eq!(json["scope"], "post");
}
