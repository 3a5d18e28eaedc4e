//! What clients, browsers and resource servers do against a `TestApp`:
//! the authorization flow, code redemption, refresh, introspection,
//! revocation, userinfo and legacy verification, as typed calls; and the
//! shared checks on their answers.

use super::*;
use reqwest::header::LOCATION;
use std::collections::HashMap;
use url::Url;

impl TestApp {
    /// The whole browser flow, approving everything requested, returning
    /// the redirect URL the client receives.
    pub async fn approve(&self, browser: &Browser, auth_query: &str) -> Url {
        let page = browser.get(&format!("/auth?{auth_query}")).await;
        assert_eq!(page.status, 200, "consent page: {}", page.body);
        let resp = browser
            .submit(&page, "form#consent", &[], Some(("action", "approve")))
            .await;
        assert_eq!(resp.status, 303, "{}", resp.body);
        Url::parse(resp.location.as_deref().expect("location")).expect("redirect url")
    }

    /// The browser flow with form fields overridden (e.g. the lifetime).
    pub async fn approve_with(
        &self,
        browser: &Browser,
        auth_query: &str,
        overrides: &[(&str, &str)],
    ) -> Url {
        let page = browser.get(&format!("/auth?{auth_query}")).await;
        assert_eq!(page.status, 200, "consent page: {}", page.body);
        let resp = browser
            .submit(
                &page,
                "form#consent",
                overrides,
                Some(("action", "approve")),
            )
            .await;
        assert_eq!(resp.status, 303, "{}", resp.body);
        Url::parse(resp.location.as_deref().expect("location")).expect("redirect url")
    }

    /// The owner, signed in, answers whatever doorstep shows for
    /// `auth_url` (a whole authorization URL, as a client builds it): the
    /// no-PKCE page (allowing this client) if it comes, then the consent
    /// page (approve). Returns where the browser is sent, and whether the
    /// no-PKCE page was shown.
    pub async fn owner_approves(&self, auth_url: &str) -> (Url, bool) {
        let browser = self.signed_in_browser().await;
        let mut page = browser.get(auth_url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let asked_about_pkce = page.has("form#pkce");
        if asked_about_pkce {
            let resp = browser
                .submit(&page, "form#pkce", &[], Some(("action", "allow")))
                .await;
            assert_eq!(resp.status, 303, "{}", resp.body);
            page = browser.get(resp.location.as_deref().unwrap()).await;
            assert_eq!(page.status, 200, "{}", page.body);
        }
        let resp = browser
            .submit(&page, "form#consent", &[], Some(("action", "approve")))
            .await;
        assert_eq!(resp.status, 303, "{}", resp.body);
        (resp.location_url(), asked_about_pkce)
    }

    /// Code from a full approval of `client`'s request for `scope`.
    pub async fn code_for(&self, client: &TestClient, scope: &str) -> String {
        let browser = self.signed_in_browser().await;
        let redirect = self
            .approve(&browser, &client.auth_query(scope, "state-1"))
            .await;
        query_param(&redirect, "code").expect("code in redirect")
    }

    /// A token for `scope` through the whole flow.
    pub async fn token_for(&self, client: &TestClient, scope: &str) -> serde_json::Value {
        let code = self.code_for(client, scope).await;
        let (status, body) = self.redeem(client, &code).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A token whose lifetime the owner chose on the consent page
    /// (`"never"` or seconds).
    pub async fn token_with_lifetime(
        &self,
        client: &TestClient,
        scope: &str,
        lifetime: &str,
    ) -> serde_json::Value {
        let browser = self.signed_in_browser().await;
        let redirect = self
            .approve_with(
                &browser,
                &client.auth_query(scope, "state-1"),
                &[("lifetime", lifetime)],
            )
            .await;
        let code = query_param(&redirect, "code").expect("code");
        let (status, body) = self.redeem(client, &code).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A fresh client and an access token it holds for `scope`.
    pub async fn access_token(&self, scope: &str) -> (TestClient, String) {
        let client = self.client();
        let body = self.token_for(&client, scope).await;
        (client, str_of(&body, "access_token"))
    }

    /// The consent (or no-PKCE, or error) page for an authorization query.
    pub async fn auth_page(&self, browser: &Browser, auth_query: &str) -> Response {
        browser.get(&format!("/auth?{auth_query}")).await
    }

    /// POST a form to doorstep (as a client or resource server would).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(form).expect("encode");
        self.post_body(path, "application/x-www-form-urlencoded", body)
            .await
    }

    /// POSTs form pairs (in order, repeats allowed) to `path`.
    pub async fn post_pairs(&self, path: &str, form: &[(String, String)]) -> Response {
        let body = serde_urlencoded::to_string(form).expect("encode");
        self.post_body(path, "application/x-www-form-urlencoded", body)
            .await
    }

    /// POSTs a raw body with the given content type.
    pub async fn post_body(&self, path: &str, content_type: &str, body: String) -> Response {
        Response::read(
            self.api
                .post(self.url(path))
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Redeems a code at the token endpoint; returns the status and JSON.
    pub async fn redeem(&self, client: &TestClient, code: &str) -> (u16, serde_json::Value) {
        let resp = self
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("client_id", &client.client_id),
                    ("redirect_uri", &client.redirect_uri),
                    ("code_verifier", &client.verifier),
                ],
            )
            .await;
        let json = serde_json::from_str(&resp.body).unwrap_or(serde_json::Value::Null);
        (resp.status, json)
    }

    /// Redeems a code with `code_form` at `path` (`/auth` or `/token`).
    pub async fn redeem_at(&self, path: &str, client: &TestClient, code: &str) -> Response {
        self.post_pairs(path, &code_form(client, code)).await
    }

    /// `grant_type=refresh_token` (REF-2), with an optional narrower scope.
    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.post_form("/token", &form).await
    }

    /// `POST /introspect` with an optional bearer and a form body.
    pub async fn introspect(&self, bearer: Option<&str>, form: &[(&str, &str)]) -> Response {
        let mut req = self
            .api
            .post(self.url("/introspect"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("encode"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        Response::read(req.send().await.expect("request")).await
    }

    /// `POST /revoke` (RFC 7009).
    pub async fn revoke(&self, form: &[(&str, &str)]) -> Response {
        self.post_form("/revoke", form).await
    }

    /// `GET /userinfo` with an optional bearer.
    pub async fn userinfo(&self, bearer: Option<&str>) -> Response {
        let mut req = self.api.get(self.url("/userinfo"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        Response::read(req.send().await.expect("request")).await
    }

    /// Whether introspection with a resource-server secret says active.
    pub async fn is_active(&self, token: &str) -> bool {
        let secret = self.resource_server_secret("checker").await;
        let a = self.introspect(Some(&secret), &[("token", token)]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["active"] == serde_json::Value::Bool(true)
    }

    /// Legacy GET verification: (status, body text). `accept: None` sends
    /// no `Accept` header at all, as Python's urllib does.
    pub async fn verify_get(&self, token: &str, accept: Option<&str>) -> (u16, String) {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("Authorization", bearer.as_str())];
        headers.extend(accept.map(|a| ("Accept", a)));
        let resp = self.raw_get("/token", &headers).await;
        (resp.status, resp.body)
    }

    /// Legacy GET verification with a raw `Authorization` header value (or
    /// none) and an optional query string.
    pub async fn verify_raw(
        &self,
        authorization: Option<&str>,
        accept: Option<&str>,
        query: &str,
    ) -> Response {
        let mut headers = Vec::new();
        headers.extend(authorization.map(|a| ("Authorization", a)));
        headers.extend(accept.map(|a| ("Accept", a)));
        self.raw_get(&format!("/token{query}"), &headers).await
    }

    /// A GET with exactly these request headers (plus `Host` and
    /// `Connection: close`): reqwest always adds `Accept: */*`, and the
    /// legacy verification answer depends on whether `Accept` is there.
    pub async fn raw_get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        parse_raw(&self.raw_exchange(&[head.as_bytes()]).await)
    }

    /// Writes `parts` on one new connection as they are, each 100 ms
    /// after the one before (so that the server most likely reads them
    /// apart; the answer must not depend on it), and returns everything
    /// the server sends until it closes the connection. A server that
    /// answers before the request's end may close on the rest (a reset):
    /// what it sent before that is what counts.
    pub async fn raw_exchange(&self, parts: &[&[u8]]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let _ = stream.write_all(part).await;
        }
        let mut raw = Vec::new();
        let mut piece = [0u8; 4096];
        let read_all = async {
            loop {
                match stream.read(&mut piece).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => raw.extend_from_slice(&piece[..n]),
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), read_all)
            .await
            .expect("an answer and a close within a minute");
        String::from_utf8_lossy(&raw).to_string()
    }
}

/// The first answer in what a server sent (`TestApp::raw_exchange`): its
/// status and headers, and as its body everything after its head
/// (pipelined answers after it included).
pub fn parse_raw(text: &str) -> Response {
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut map = reqwest::header::HeaderMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && let (Ok(k), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()),
                reqwest::header::HeaderValue::from_str(v.trim()),
            )
        {
            map.append(k, v);
        }
    }
    Response {
        status,
        location: map
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers: map,
        body: body.to_owned(),
    }
}

/// An RFC 6749 §5.2 error answer: 400, a JSON body, and `error` as given.
pub fn assert_oauth_error(resp: &Response, error: &str) {
    assert_oauth_error_among(resp, &[error]);
}

/// As `assert_oauth_error`, where SPEC.md allows more than one code.
pub fn assert_oauth_error_among(resp: &Response, errors: &[&str]) {
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        resp.headers
    );
    let error = resp.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        errors.contains(&error.as_str()),
        "{errors:?}: {}",
        resp.body
    );
}

/// The form a client posts to redeem `code`: `grant_type`, `code`,
/// `client_id`, `redirect_uri`, and `code_verifier` when the client uses PKCE.
pub fn code_form(client: &TestClient, code: &str) -> Vec<(String, String)> {
    let mut f = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".into(), code.into()),
        ("client_id".into(), client.client_id.clone()),
        ("redirect_uri".into(), client.redirect_uri.clone()),
    ];
    if client.method.is_some() {
        f.push(("code_verifier".into(), client.verifier.clone()));
    }
    f
}

/// `form` with `name` replaced by `value`, or removed when `value` is None.
pub fn with_field(
    mut form: Vec<(String, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    form.retain(|(k, _)| k != name);
    if let Some(v) = value {
        form.push((name.to_owned(), v.to_owned()));
    }
    form
}

pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn query_map(url: &Url) -> HashMap<String, String> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn str_of(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
        .to_owned()
}
