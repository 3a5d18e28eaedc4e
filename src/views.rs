//! Askama template structs, one per page. Askama escapes every value for
//! HTML (CONS-12); URLs placed in `href`/`src` are only ever doorstep's own
//! or http(s) URLs checked before they get here.

use askama::Template;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub footer_host: &'a str,
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub footer_host: &'a str,
    pub me: &'a str,
    pub csrf: &'a str,
    pub continue_to: &'a str,
    pub client: Option<&'a str>,
    pub message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage<'a> {
    pub footer_host: &'a str,
    pub me: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub min_len: usize,
    pub message: Option<&'a str>,
}

pub struct ScopeChoice {
    pub name: String,
    pub description: &'static str,
}

pub struct LifetimeChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub footer_host: &'a str,
    pub app_name: &'a str,
    pub source_label: &'a str,
    pub logo_url: Option<&'a str>,
    pub client_id: &'a str,
    pub client_host: &'a str,
    pub client_uri: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub redirect_host: &'a str,
    pub me: &'a str,
    pub warnings: Vec<String>,
    pub csrf: &'a str,
    pub request_id: &'a str,
    pub identity_only: bool,
    pub scopes: Vec<ScopeChoice>,
    pub lifetimes: Vec<LifetimeChoice>,
}

#[derive(Template)]
#[template(path = "no_pkce.html")]
pub struct NoPkcePage<'a> {
    pub footer_host: &'a str,
    pub app_name: &'a str,
    pub client_id: &'a str,
    pub client_host: &'a str,
    pub redirect_host: &'a str,
    pub csrf: &'a str,
    pub request_id: &'a str,
}

#[derive(Template)]
#[template(path = "homepage.html")]
pub struct Homepage<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub photo: Option<&'a str>,
    pub metadata: &'a str,
    pub authorization_endpoint: &'a str,
    pub token_endpoint: &'a str,
    pub micropub: Option<&'a str>,
    pub microsub: Option<&'a str>,
}

pub struct ExemptionRow {
    pub client_id: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct Dashboard<'a> {
    pub footer_host: &'a str,
    pub me: &'a str,
    pub csrf: &'a str,
    pub serves_homepage: bool,
    pub link_tags: &'a str,
    pub pkce_exemptions: Vec<ExemptionRow>,
}

/// A date for people: `2026-11-21 08:34 UTC`.
pub fn format_time(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            dt.format(&fmt).unwrap_or_else(|_| t.to_string())
        }
        Err(_) => t.to_string(),
    }
}
