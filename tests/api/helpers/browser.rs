//! `Response`, the one shape of every answer a test reads, and `Browser`:
//! cookies kept, redirects never followed, HTML forms read and submitted
//! as a browser would.

use reqwest::header::LOCATION;
use scraper::{Html, Selector};
use url::Url;

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
}
