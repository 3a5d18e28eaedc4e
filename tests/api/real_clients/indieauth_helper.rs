//! Apps built on grantcodes' indieauth-helper and micropub-helper:
//! Together, the helper alone for sign-in, and Omnibear.

use super::*;

/// Together (cleverdevil/together `graphql/lib/indieauth.js`,
/// `graphql/datasources/indieauth.js`) through indieauth-helper
/// (grantcodes/indieauth-helper `src/main.js`): `clientId: process.env.URL`
/// (no trailing slash), `redirectUri: URL + '/auth'`, no `codeVerifier`
/// (so no PKCE), `getAuthUrl('code', scopes)` with Together's nine
/// scopes, and a `state` that is CryptoJS AES output (base64 with `+`, `/`
/// and `=`). `getToken()` posts `qs.stringify({grant_type, me, code,
/// client_id, redirect_uri})` with `content-type:
/// application/x-www-form-urlencoded;charset=UTF-8` and `accept:
/// application/json, application/x-www-form-urlencoded`, refuses an answer
/// without `me`, `scope` and `access_token`, and compares the hostname of
/// the returned `me` with the one it signed in as. The newer
/// `src/main.ts` also sends `code_verifier=` (empty) when it has none.
#[tokio::test]
async fn together_signs_in_through_indieauth_helper_without_pkce() {
    let app = with_micropub().await;
    let me = app.me();
    // getRelsFromUrl(me, ['micropub', 'microsub']): authorization_endpoint
    // is required, the others are kept when present.
    let rels = get_rels(&app, &me).await;
    let authorization_endpoint = first(&rels, "authorization_endpoint").expect("auth rel");
    let token_endpoint = first(&rels, "token_endpoint").expect("token rel");
    assert!(first(&rels, "micropub").is_some() && first(&rels, "microsub").is_some());

    let together = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{together}/auth");
    let scopes = "post create delete update read follow mute block channels";
    let sign_in = |state: &'static str| {
        let mut u = Url::parse(&authorization_endpoint).unwrap();
        u.query_pairs_mut()
            .append_pair("me", &me)
            .append_pair("client_id", &together)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state)
            .append_pair("scope", scopes);
        u
    };
    let state = "U2FsdGVkX1+8Qw3/Zk2m7yq0Xr+9aBc/De4fGh5iJk8=";
    let (back, asked) = app.owner_approves(sign_in(state).as_str()).await;
    assert!(asked, "a client without PKCE gets the owner's no-PKCE page");
    assert!(back.as_str().starts_with(&redirect_uri), "{back}");
    let q = query_map(&back);
    // validateState(): AES-decrypts the state, so it must come back intact.
    assert_eq!(q["state"], state);

    let exchange = |code: String, extra: Option<(&'static str, &'static str)>| {
        let mut pairs = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("me", me.clone()),
            ("code", code),
            ("client_id", together.clone()),
            ("redirect_uri", redirect_uri.clone()),
        ];
        if let Some((k, v)) = extra {
            pairs.push((k, v.to_owned()));
        }
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let app = &app;
        let token_endpoint = token_endpoint.clone();
        async move {
            post_raw(
                app,
                &token_endpoint,
                "application/x-www-form-urlencoded;charset=UTF-8",
                &[(
                    "accept",
                    "application/json, application/x-www-form-urlencoded",
                )],
                body,
            )
            .await
        }
    };
    let resp = exchange(q["code"].clone(), None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let result = resp.json();
    for key in ["me", "scope", "access_token"] {
        assert!(result[key].is_string(), "{key}: {result}");
    }
    assert_eq!(
        Url::parse(result["me"].as_str().unwrap())
            .unwrap()
            .host_str(),
        Url::parse(&me).unwrap().host_str()
    );
    assert_eq!(result["scope"], scopes, "LEG-7: post is granted verbatim");

    // The allowance is remembered; indieauth-helper's main.ts sends an
    // empty code_verifier, which is no verifier at all (AREQ-2, PKCE-9).
    let (back, asked) = app.owner_approves(sign_in("second").as_str()).await;
    assert!(!asked, "the allowance without PKCE is remembered");
    let code = query_map(&back)["code"].clone();
    let resp = exchange(code, Some(("code_verifier", ""))).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.json()["access_token"].is_string());
}

/// indieauth-helper used for sign-in only (grantcodes/indieauth-helper
/// `src/main.js`): `getAuthUrl()` defaults to `response_type=id` with no
/// scope and no PKCE, and `verifyCode(code)` posts `{code, client_id,
/// redirect_uri}` — no `grant_type` — to the authorization endpoint with
/// `Accept: application/json, application/x-www-form-urlencoded`, then
/// compares `me` after stripping trailing slashes (LEG-5, REDA-1).
#[tokio::test]
async fn indieauth_helper_sign_in_verifies_the_code_without_grant_type() {
    let app = TestApp::spawn().await;
    let me = app.me();
    let authorization_endpoint =
        first(&get_rels(&app, &me).await, "authorization_endpoint").unwrap();
    let client_id = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{client_id}/auth");
    let mut u = Url::parse(&authorization_endpoint).unwrap();
    u.query_pairs_mut()
        .append_pair("me", &me)
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "id")
        .append_pair("state", "U2FsdGVkX19abc+/=");
    let (back, _) = app.owner_approves(u.as_str()).await;
    let q = query_map(&back);
    assert_eq!(q["state"], "U2FsdGVkX19abc+/=");

    let resp = post_raw(
        &app,
        &authorization_endpoint,
        "application/x-www-form-urlencoded;charset=UTF-8",
        &[(
            "Accept",
            "application/json, application/x-www-form-urlencoded",
        )],
        form(&[
            ("code", &q["code"]),
            ("client_id", &client_id),
            ("redirect_uri", &redirect_uri),
        ]),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let data = resp.json();
    assert!(data.get("error").is_none(), "{data}");
    assert_eq!(
        data["me"].as_str().unwrap().trim_end_matches('/'),
        me.trim_end_matches('/')
    );
    assert!(data.get("access_token").is_none());
}

/// Omnibear (keithjgrant/omnibear `src/util/micropub.js`,
/// `src/stores/authStore.js`, `src/background/authentication.js`) through
/// grantcodes' micropub-helper, which is not in the index: its
/// `getAuthUrl`/`getToken` are taken to send what the same author's
/// indieauth-helper sends (see Together). `clientId: 'https://omnibear.com'` (no
/// trailing slash, LEG-11), `redirectUri:
/// 'https://omnibear.com/auth/success/'`, and one fixed `state:
/// 'very-secret-omnibear-state'` for every sign-in; `scope=create`
/// (`src/components/LoginForm.js`), no PKCE. It needs the
/// `authorization_endpoint`, `token_endpoint` and `micropub` rels, and
/// fails on an answer without `access_token`.
#[tokio::test]
async fn omnibear_signs_in_twice_with_its_fixed_state_and_no_pkce() {
    let app = with_micropub().await;
    let me = app.me();
    let rels = get_rels(&app, &me).await;
    let endpoints: Vec<String> = ["authorization_endpoint", "token_endpoint", "micropub"]
        .iter()
        .map(|r| first(&rels, r).unwrap_or_else(|| panic!("Missing micropub data: {r}")))
        .collect();
    let client_id = format!("http://127.0.0.1:{}", app.unused_port());
    let redirect_uri = format!("{client_id}/auth/success/");
    let state = "very-secret-omnibear-state";
    for round in 0..2 {
        let mut u = Url::parse(&endpoints[0]).unwrap();
        u.query_pairs_mut()
            .append_pair("me", &me)
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state)
            .append_pair("scope", "create");
        let (back, asked) = app.owner_approves(u.as_str()).await;
        // The no-PKCE allowance, given once for "https://omnibear.com", is
        // found again for the same client_id without its slash.
        assert_eq!(asked, round == 0, "round {round}");
        let q = query_map(&back);
        assert_eq!(q["state"], state, "a reused state is returned as is");
        let resp = post_raw(
            &app,
            &endpoints[1],
            "application/x-www-form-urlencoded;charset=UTF-8",
            &[(
                "accept",
                "application/json, application/x-www-form-urlencoded",
            )],
            form(&[
                ("grant_type", "authorization_code"),
                ("me", &me),
                ("code", &q["code"]),
                ("client_id", &client_id),
                ("redirect_uri", &redirect_uri),
            ]),
        )
        .await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert!(resp.json()["access_token"].is_string(), "{}", resp.body);
    }
}
