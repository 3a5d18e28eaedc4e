//! Go's go.hacdias.com/indielib on golang.org/x/oauth2.

use super::*;

/// Go's go.hacdias.com/indielib (hacdias/indielib `indieauth/client.go`,
/// `indieauth/discovery.go`) on golang.org/x/oauth2: `DiscoverMetadata()`
/// tries a HEAD, then a GET, for the `indieauth-metadata` rel (`Link`
/// header first), and GETs the metadata with `Accept: application/json`;
/// `Authenticate()` builds `AuthCodeURL(state, scope, S256 challenge)`
/// (x/oauth2 sorts the query; state is 64 random bytes, base64url);
/// `ValidateCallback()` wants `iss == metadata.issuer`. `GetToken()` is
/// `oauth2.Config.Exchange` with `client_id` and `code_verifier` added:
/// x/oauth2 first tries `AuthStyleInHeader`, so the request carries
/// `Authorization: Basic base64(client_id + ":")` (retrying with the
/// params only if that fails — after which the code would be gone). The
/// answer must be JSON with `access_token` and a numeric `expires_in`;
/// `ProfileFromToken` reads `me`. `FetchProfile()` redeems a profile-only
/// code at the authorization endpoint with `Accept: application/json`.
#[tokio::test]
async fn indielib_go_client_exchanges_with_basic_auth_and_checks_iss() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let base = Url::parse(&me).unwrap();
    let head = app.api.head(&me).send().await.unwrap();
    let metadata_url = first(
        &split_header_rels(head.headers(), &base),
        "indieauth-metadata",
    )
    .expect("indieauth-metadata in the HEAD Link headers");
    let metadata: serde_json::Value = app
        .api
        .get(&metadata_url)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = format!("http://127.0.0.1:{}/", app.unused_port());
    let redirect_url = format!("{client_id}callback");
    let state = URL_SAFE_NO_PAD.encode([42u8; 64]);
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let authorize = |scope: &str| {
        let mut pairs = [
            ("client_id", client_id.clone()),
            ("code_challenge", s256(&verifier)),
            ("code_challenge_method", "S256".to_owned()),
            ("redirect_uri", redirect_url.clone()),
            ("response_type", "code".to_owned()),
            ("scope", scope.to_owned()),
            ("state", state.clone()),
        ];
        pairs.sort();
        let endpoint = metadata["authorization_endpoint"].as_str().unwrap();
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        format!(
            "{endpoint}{sep}{}",
            serde_urlencoded::to_string(pairs).unwrap()
        )
    };
    let (back, _) = app.owner_approves(&authorize("create media")).await;
    let q = query_map(&back);
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], metadata["issuer"].as_str().unwrap());

    let basic = STANDARD.encode(format!(
        "{}:",
        url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect::<String>()
    ));
    let resp = post_raw(
        &app,
        metadata["token_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[("Authorization", &format!("Basic {basic}"))],
        form(&[
            ("client_id", &client_id),
            ("code", &q["code"]),
            ("code_verifier", &verifier),
            ("grant_type", "authorization_code"),
            ("redirect_uri", &redirect_url),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let tok = resp.json();
    assert!(tok["access_token"].is_string());
    assert_eq!(tok["token_type"], "Bearer");
    assert!(tok["expires_in"].is_u64(), "{tok}");
    assert_eq!(tok["me"], me, "ProfileFromToken");

    // FetchProfile(): identity only, at the authorization endpoint.
    let (back, _) = app.owner_approves(&authorize("profile")).await;
    let code = query_map(&back)["code"].clone();
    let resp = post_raw(
        &app,
        metadata["authorization_endpoint"].as_str().unwrap(),
        "application/x-www-form-urlencoded",
        &[("Accept", "application/json")],
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_url),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let profile = resp.json();
    assert_eq!(profile["me"], me);
    assert_eq!(profile["profile"]["name"], "Test Owner");
    assert!(profile["profile"]["url"].is_string());
}
