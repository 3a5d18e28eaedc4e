//! The test harness: `TestApp` starts doorstep, `Browser` is a cookie-keeping
//! client with redirects off that reads and submits HTML forms, and
//! `TestClient` plays an IndieAuth client with PKCE.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorstep::app::Application;
use doorstep::clients::FetchPolicy;
use doorstep::clock::Clock;
use doorstep::config::Settings;
use doorstep::owner::password;
use doorstep::store::{Store, owner};
use reqwest::header::LOCATION;
use scraper::{Html, Selector};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use tempfile::TempDir;
use url::Url;

pub const PASSWORD: &str = "correct horse battery staple";

/// Client discovery's deadline in tests (the product's is 5 s).
pub const DISCOVERY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// RFC 7636 Appendix B.
pub const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub clock: Clock,
    pub store: Store,
    pub settings: Settings,
    /// A plain client for API calls (no cookies, no redirects).
    pub api: reqwest::Client,
    /// Ports handed out by `unused_port`, held until the test ends.
    held: Mutex<Vec<UnusedPort>>,
    /// The running server, until `stopped` takes it.
    server: Mutex<Option<tokio::task::JoinHandle<Result<(), doorstep::app::RunError>>>>,
    _dir: TempDir,
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts doorstep with test settings adjusted by `f`. The issuer is the
    /// real loopback address and port, so redirects and metadata are true.
    pub async fn spawn_with(f: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_with_fetch(f, |_| {}).await
    }

    /// As `spawn_with`, with client discovery's policy adjusted by `fetch`
    /// too (its deadline: short to see a stuck fetch cut off, long to hold
    /// one open while the test looks at something else).
    pub async fn spawn_with_fetch(
        f: impl FnOnce(&mut Settings),
        fetch: impl FnOnce(&mut FetchPolicy),
    ) -> TestApp {
        Self::start(([127, 0, 0, 1], 0).into(), f, fetch).await
    }

    /// As `spawn_with`, listening on `addr` (port 0) instead of
    /// 127.0.0.1: `[::]:0` for a dual-stack listener. The issuer is still
    /// `http://127.0.0.1:<port>/`.
    pub async fn spawn_on(addr: std::net::SocketAddr, f: impl FnOnce(&mut Settings)) -> TestApp {
        Self::start(addr, f, |_| {}).await
    }

    async fn start(
        addr: std::net::SocketAddr,
        f: impl FnOnce(&mut Settings),
        fetch: impl FnOnce(&mut FetchPolicy),
    ) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        // Bind first, on port 0, and keep the listener: the issuer names
        // the port the kernel gave, and the server serves this very socket.
        let listener = doorstep::app::bind(addr).expect("bind");
        let local = listener.local_addr().expect("addr");
        let port = local.port();
        let mut raw = doorstep::config::RawValues::new();
        raw.insert("listen".into(), local.to_string());
        raw.insert("issuer".into(), format!("http://127.0.0.1:{port}/"));
        raw.insert(
            "database".into(),
            dir.path().join("doorstep.db").display().to_string(),
        );
        raw.insert("allow_private_client_fetch".into(), "true".into());
        raw.insert("name".into(), "Test Owner".into());
        raw.insert("email".into(), "owner@example.net".into());
        raw.insert("photo".into(), "https://example.net/photo.jpg".into());
        let mut settings = Settings::from_raw(&raw).expect("settings");
        f(&mut settings);
        let mut policy = Application::fetch_policy(&settings);
        // Fixtures answer at once, but a loaded machine can take seconds to
        // get to it: a deadline no honest discovery here comes near, so
        // the outcome is the fixture's. Tests of the deadline shorten it.
        policy.total_timeout = DISCOVERY_PATIENCE;
        fetch(&mut policy);
        // Frozen at the real time of day: every step of a test sees the
        // same second until the test moves the clock.
        let clock = Clock::frozen(Clock::system().now());
        let app =
            Application::build_with_fetch_policy(settings.clone(), clock.clone(), listener, policy)
                .expect("build");
        assert_eq!(app.port(), port);
        let store = app.store().clone();
        let server = tokio::spawn(app.run_until_stopped());
        let test = TestApp {
            base: format!("http://127.0.0.1:{port}"),
            port,
            clock,
            store,
            settings,
            api: plain_client(),
            held: Mutex::default(),
            server: Mutex::new(Some(server)),
            _dir: dir,
        };
        test.set_password(PASSWORD).await;
        test
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Waits for the server to stop by itself (it does when it loses its
    /// database, once it has saved what it held) and says how it ended.
    pub async fn stopped(&self) -> Result<(), doorstep::app::RunError> {
        let server = self
            .server
            .lock()
            .expect("lock")
            .take()
            .expect("the server is awaited once");
        tokio::time::timeout(PROCESS_PATIENCE, server)
            .await
            .expect("the server kept running")
            .expect("the server task panicked")
    }

    /// A loopback port where nothing listens, held until the test ends:
    /// connections to it are refused, and no other test's server can take
    /// it. For client ids and addresses that must lead nowhere.
    pub fn unused_port(&self) -> u16 {
        let held = UnusedPort::new();
        let port = held.port;
        self.held.lock().expect("lock").push(held);
        port
    }

    /// An IndieAuth client at `http://127.0.0.1:<unused port>/`, whose
    /// redirect is on its own origin. doorstep fetches its page (the test
    /// settings allow loopback fetches) and finds nothing there.
    pub fn client(&self) -> TestClient {
        TestClient::new(self.unused_port())
    }

    pub fn issuer(&self) -> String {
        self.settings.issuer.to_string()
    }

    pub fn me(&self) -> String {
        self.settings.me.as_str().to_owned()
    }

    pub async fn set_password(&self, pw: &str) {
        let hashed = password::hash(pw).expect("hash");
        let now = self.clock.now();
        self.store
            .write(move |tx| owner::set_password_hash(tx, &hashed, now))
            .await
            .expect("set password");
    }

    /// A browser that is not signed in yet.
    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .expect("client"),
            base: self.base.clone(),
        }
    }

    /// A browser signed in as the owner.
    pub async fn signed_in_browser(&self) -> Browser {
        let b = self.browser();
        let page = b.get("/login").await;
        assert_eq!(page.status, 200);
        let resp = b
            .submit(&page, "form#login", &[("password", PASSWORD)], None)
            .await;
        assert_eq!(resp.status, 303, "login failed: {}", resp.body);
        b
    }

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

    /// POST a form to doorstep (as a client or resource server would).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(form).expect("encode");
        self.post_body(path, "application/x-www-form-urlencoded", body)
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

    /// A token for `scope` through the whole flow.
    pub async fn token_for(&self, client: &TestClient, scope: &str) -> serde_json::Value {
        let code = self.code_for(client, scope).await;
        let (status, body) = self.redeem(client, &code).await;
        assert_eq!(status, 200, "{body}");
        body
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

    /// A GET with exactly these request headers (plus `Host` and
    /// `Connection: close`): reqwest always adds `Accept: */*`, and the
    /// legacy verification answer depends on whether `Accept` is there.
    pub async fn raw_get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        let text = String::from_utf8_lossy(&raw);
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
}

/// An IndieAuth client on loopback with PKCE (S256 by default).
#[derive(Clone, Debug)]
pub struct TestClient {
    pub client_id: String,
    pub redirect_uri: String,
    pub verifier: String,
    pub challenge: String,
    /// None: send no PKCE at all.
    pub method: Option<&'static str>,
}

impl TestClient {
    /// A client at `http://127.0.0.1:<port>/` whose redirect is on its own
    /// origin (no fetch needed to verify it). doorstep will try to fetch
    /// its page: use `TestApp::client()` unless `port` is a fixture or
    /// otherwise the test's own.
    pub fn new(port: u16) -> TestClient {
        TestClient {
            client_id: format!("http://127.0.0.1:{port}/"),
            redirect_uri: format!("http://127.0.0.1:{port}/callback"),
            verifier: RFC_VERIFIER.into(),
            challenge: RFC_CHALLENGE.into(),
            method: Some("S256"),
        }
    }

    pub fn with_verifier(mut self, verifier: &str) -> TestClient {
        self.verifier = verifier.into();
        self.challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        self
    }

    pub fn without_pkce(mut self) -> TestClient {
        self.method = None;
        self
    }

    pub fn auth_params(&self, scope: &str, state: &str) -> Vec<(String, String)> {
        let mut p = vec![
            ("response_type".to_string(), "code".to_string()),
            ("client_id".into(), self.client_id.clone()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
            ("state".into(), state.into()),
        ];
        if !scope.is_empty() {
            p.push(("scope".into(), scope.into()));
        }
        if let Some(m) = self.method {
            p.push(("code_challenge".into(), self.challenge.clone()));
            p.push(("code_challenge_method".into(), m.into()));
        }
        p
    }

    pub fn auth_query(&self, scope: &str, state: &str) -> String {
        serde_urlencoded::to_string(self.auth_params(scope, state)).expect("encode")
    }
}

/// Any answer from doorstep as the tests read it: a page, a JSON
/// document, a redirect. The body is read whole.
pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Response {
    pub async fn read(resp: reqwest::Response) -> Response {
        Response {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap_or_default(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; panics, showing it, if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {:?}", self.status, self.body))
    }

    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// The `Location` as a URL (panics if there is none).
    pub fn location_url(&self) -> Url {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("no Location (status {}): {}", self.status, self.body));
        Url::parse(loc).expect("absolute Location")
    }

    /// `name=value` of every `Set-Cookie` this response sent.
    pub fn set_cookies(&self) -> Vec<(String, String)> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|nv| nv.split_once('='))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect()
    }

    /// Whether the page has an element matching `selector`.
    pub fn has(&self, selector: &str) -> bool {
        let sel = Selector::parse(selector).expect("selector");
        self.html().select(&sel).next().is_some()
    }
}

/// Reads a form as a browser would: its action, and the values a browser
/// would send (hidden and text inputs, checked boxes, selected options).
pub fn form_fields(page: &Response, selector: &str) -> (String, Vec<(String, String)>) {
    let doc = page.html();
    let form_sel = Selector::parse(selector).expect("selector");
    let form = doc
        .select(&form_sel)
        .next()
        .unwrap_or_else(|| panic!("no {selector} in page: {}", page.body));
    let action = form.value().attr("action").unwrap_or("").to_owned();
    let mut fields = Vec::new();
    let input = Selector::parse("input").expect("selector");
    for i in form.select(&input) {
        let v = i.value();
        let Some(name) = v.attr("name") else { continue };
        let value = v.attr("value").unwrap_or("").to_owned();
        match v.attr("type").unwrap_or("text") {
            "checkbox" | "radio" => {
                if v.attr("checked").is_some() {
                    fields.push((name.to_owned(), value));
                }
            }
            "submit" | "button" => {}
            _ => fields.push((name.to_owned(), value)),
        }
    }
    let select = Selector::parse("select").expect("selector");
    let option = Selector::parse("option").expect("selector");
    for s in form.select(&select) {
        let Some(name) = s.value().attr("name") else {
            continue;
        };
        let opts: Vec<_> = s.select(&option).collect();
        let chosen = opts
            .iter()
            .find(|o| o.value().attr("selected").is_some())
            .or(opts.first());
        if let Some(o) = chosen {
            fields.push((
                name.to_owned(),
                o.value().attr("value").unwrap_or("").to_owned(),
            ));
        }
    }
    (action, fields)
}

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    fn abs(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        Response::read(self.http.get(self.abs(path)).send().await.expect("get")).await
    }

    pub async fn post(&self, path: &str, fields: &[(String, String)]) -> Response {
        let body = serde_urlencoded::to_string(fields).expect("encode");
        Response::read(
            self.http
                .post(self.abs(path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("post"),
        )
        .await
    }

    /// Submits the form `selector` of `page`, with `overrides` replacing
    /// (or adding) fields and `button` as the pressed submit button.
    pub async fn submit(
        &self,
        page: &Response,
        selector: &str,
        overrides: &[(&str, &str)],
        button: Option<(&str, &str)>,
    ) -> Response {
        let (action, mut fields) = form_fields(page, selector);
        for (k, v) in overrides {
            fields.retain(|(name, _)| name != k);
            fields.push(((*k).to_owned(), (*v).to_owned()));
        }
        if let Some((k, v)) = button {
            fields.push((k.to_owned(), v.to_owned()));
        }
        self.post(&action, &fields).await
    }
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

// ---------------------------------------------------------------------------
// Additions for the core-flow suite. Everything above keeps its signature.
// ---------------------------------------------------------------------------

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

/// A loopback port bound but not listening, for as long as this lives: a
/// connection to it is refused at once, and the kernel gives it to no
/// other socket, so no other test's server or fixture can appear there.
/// Where IPv6 loopback exists the port is held on `[::1]` too, for client
/// ids spelled `[::1]` or `localhost`.
pub struct UnusedPort {
    pub port: u16,
    _sockets: Vec<socket2::Socket>,
}

impl UnusedPort {
    pub fn new() -> UnusedPort {
        use socket2::{Domain, Socket, Type};
        let hold = |addr: std::net::SocketAddr| -> std::io::Result<Socket> {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            socket.bind(&addr.into())?;
            Ok(socket)
        };
        for _ in 0..100 {
            let v4 = hold(([127, 0, 0, 1], 0).into()).expect("bind 127.0.0.1:0");
            let port = v4
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .expect("bound address")
                .port();
            match hold((std::net::Ipv6Addr::LOCALHOST, port).into()) {
                Ok(v6) => {
                    return UnusedPort {
                        port,
                        _sockets: vec![v4, v6],
                    };
                }
                // No IPv6 loopback here: nothing can listen on it either.
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                    return UnusedPort {
                        port,
                        _sockets: vec![v4],
                    };
                }
                // Taken on [::1]: try another port.
                Err(_) => continue,
            }
        }
        panic!("no loopback port free on both 127.0.0.1 and [::1]");
    }
}

impl Default for UnusedPort {
    fn default() -> Self {
        Self::new()
    }
}

impl TestApp {
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

    /// Redeems a code with `code_form` at `path` (`/auth` or `/token`).
    pub async fn redeem_at(&self, path: &str, client: &TestClient, code: &str) -> Response {
        self.post_pairs(path, &code_form(client, code)).await
    }

    /// The consent (or no-PKCE, or error) page for an authorization query.
    pub async fn auth_page(&self, browser: &Browser, auth_query: &str) -> Response {
        browser.get(&format!("/auth?{auth_query}")).await
    }

    /// The metadata document as JSON.
    pub async fn metadata(&self) -> serde_json::Value {
        let resp = self
            .api
            .get(self.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .expect("metadata");
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.expect("metadata json")
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

    /// Runs a read-only SQL count, for asserting that nothing was issued.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.store
            .read(move |c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .await
            .expect("count")
    }
}

impl Browser {
    /// A cookie-keeping browser for any doorstep base URL (the CLI tests
    /// run the real binary, not a `TestApp`).
    pub fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .expect("client"),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// Signs in with `password` through the login form, claiming to come
    /// through a proxy as `forwarded_for` when given (`X-Forwarded-For`).
    pub async fn sign_in(&self, password: &str, forwarded_for: Option<&str>) -> Response {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let (action, mut fields) = form_fields(&page, "form#login");
        fields.retain(|(k, _)| k != "password");
        fields.push(("password".into(), password.into()));
        let mut req = self
            .http
            .post(self.abs(&action))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&fields).expect("encode"));
        if let Some(addr) = forwarded_for {
            req = req.header("X-Forwarded-For", addr);
        }
        Response::read(req.send().await.expect("sign in")).await
    }

    /// GET with extra request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = self.http.get(self.abs(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Response::read(req.send().await.expect("get")).await
    }

    /// HEAD request.
    pub async fn head(&self, path: &str) -> Response {
        Response::read(self.http.head(self.abs(path)).send().await.expect("head")).await
    }
}

// ---- Token lifecycle helpers (issue 4) ----------------------------------

impl TestApp {
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

    /// A resource-server secret, created as `doorstep resource-server add`
    /// does (the CLI itself is tested in `cli_tokens`).
    pub async fn resource_server_secret(&self, name: &str) -> String {
        let secret = doorstep::domain::Secret::generate();
        let hash = secret.hash();
        let name = name.to_owned();
        let now = self.clock.now();
        self.store
            .write(move |tx| doorstep::store::resource_servers::create(tx, &name, &hash, now))
            .await
            .expect("create resource server");
        secret.expose().to_owned()
    }

    /// Whether introspection with a resource-server secret says active.
    pub async fn is_active(&self, token: &str) -> bool {
        let secret = self.resource_server_secret("checker").await;
        let a = self.introspect(Some(&secret), &[("token", token)]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()["active"] == serde_json::Value::Bool(true)
    }

    /// Runs the `doorstep` binary against this app's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_doorstep"))
            .arg("--database")
            .arg(&self.settings.database)
            .args(args)
            .env_remove("DOORSTEP_CONFIG")
            .env("DOORSTEP_LOG", "warn")
            .output()
            .expect("run doorstep")
    }
}

pub fn str_of(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
        .to_owned()
}

// ---- The real binary ------------------------------------------------------

/// `doorstep serve` run as its own process. It listens on
/// `127.0.0.1:0`, and the test learns the port from its "doorstep is
/// listening" log line, so it never races another test for a port. Its
/// standard error is collected from start to exit.
pub struct Served {
    pub child: tokio::process::Child,
    pub addr: std::net::SocketAddr,
    log: std::sync::Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

/// How long a process started here may take to start or stop on a loaded
/// machine: a bound that only turns a hang into a failure.
pub const PROCESS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

impl Served {
    /// Spawns `cmd`, which runs `doorstep serve --listen 127.0.0.1:0 …`
    /// (directly or through a shell), waits for its listening line, then
    /// until it answers there. Panics with the log if it never does.
    pub async fn start(mut cmd: tokio::process::Command) -> Served {
        use tokio::io::AsyncBufReadExt;
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn doorstep serve");
        let stderr = child.stderr.take().expect("piped standard error");
        let log = std::sync::Arc::new(Mutex::new(String::new()));
        let (found, listening) = tokio::sync::oneshot::channel();
        let sink = log.clone();
        let reader = tokio::spawn(async move {
            let mut found = Some(found);
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("doorstep is listening")
                    && let Some(addr) = line
                        .split_whitespace()
                        .find_map(|field| field.strip_prefix("listen="))
                        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                    && let Some(found) = found.take()
                {
                    let _ = found.send(addr);
                }
                let mut log = sink.lock().expect("lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = match tokio::time::timeout(PROCESS_PATIENCE, listening).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.start_kill();
                panic!(
                    "doorstep serve never said it was listening:\n{}",
                    log.lock().expect("lock")
                );
            }
        };
        let served = Served {
            child,
            addr,
            log,
            reader,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let health = format!("{}health", served.base());
        let answers = async {
            while !reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(PROCESS_PATIENCE, answers)
            .await
            .is_err()
        {
            panic!("doorstep serve never answered:\n{}", served.log());
        }
        served
    }

    /// `http://127.0.0.1:<port>/`
    pub fn base(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Everything it has written to standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("lock").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Waits for it to exit by itself; its status and whole log.
    pub async fn exit(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(PROCESS_PATIENCE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("doorstep kept running:\n{}", self.log()))
            .expect("wait");
        // The pipe closes with the process; the reader then ends.
        let _ = tokio::time::timeout(PROCESS_PATIENCE, &mut self.reader).await;
        (status, self.log())
    }

    pub async fn stop(mut self) {
        self.child.kill().await.expect("stop doorstep");
    }
}

/// A loopback port free at the moment of asking, for tests that must name
/// the port before the binary binds it (an issuer of `http://localhost:PORT/`).
/// Racy by nature — another process may take it first — so prefer
/// `--listen 127.0.0.1:0` and the binary's listening line where the port
/// need not be known in advance.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
