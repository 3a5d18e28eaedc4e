//! Discovery: the homepage doorstep serves for the owner (DISC-13..15), the
//! RFC 8414 metadata document (DISC-1..12), the stylesheet and a health
//! check.

use super::AppState;
use super::respond::{content_security_policy, html};
use crate::oauth::metadata;
use crate::views::Homepage;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// The owner's homepage: an h-card plus every rel a client looks for, as
/// `<link>` elements and as `Link` headers, identical for HEAD (PRODUCT
/// "Compatibility"). All hrefs are absolute (DISC-15).
pub async fn homepage(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.settings;
    let links = metadata::homepage_links(s);
    let photo = s.photo.as_ref().map(|u| u.to_string());
    let mut resp = html(
        StatusCode::OK,
        &Homepage {
            name: &s.name,
            url: s.me.as_str(),
            photo: photo.as_deref(),
            links: &links,
        },
    );
    let headers = resp.headers_mut();
    // The homepage is public and changes only with the configuration.
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    // The owner's photo usually lives on another host: allow exactly that
    // origin for images here (everywhere else images are 'self' only).
    if let Some(origin) = s.photo.as_ref().map(|p| p.origin().ascii_serialization())
        && let Ok(v) = header::HeaderValue::from_str(&content_security_policy(&origin))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    for (rel, href) in &links {
        if let Ok(v) = header::HeaderValue::from_str(&format!("<{href}>; rel=\"{rel}\"")) {
            headers.append(header::LINK, v);
        }
    }
    resp
}

/// RFC 8414 metadata, readable cross-origin (DISC-18).
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .body(metadata::document(&state.settings).to_string())
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "max-age=86400"))
        .body(include_str!("../../static/style.css"))
}

/// The one script doorstep has: WebAuthn for the pages that offer passkeys
/// (`script-src 'self'` on those pages only).
pub async fn webauthn_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .body(include_str!("../../static/webauthn.js"))
}

/// The trivial endpoint the benchmark compares verification against.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body("ok")
}
