//! Response shapes shared by the handlers: HTML pages, OAuth JSON errors,
//! redirects, and the headers sensitive responses carry.

use super::AppState;
use crate::errors::error_chain;
use crate::oauth::{BearerError, OAuthError};
use crate::views::ErrorPage;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

/// The Content-Security-Policy of every response (CONS-9, CONS-10): no
/// script at all, styles and images from doorstep only (plus any extra
/// image sources given), never framed.
pub fn content_security_policy(extra_img_sources: &str) -> String {
    let img = if extra_img_sources.is_empty() {
        "'self'".to_owned()
    } else {
        format!("'self' {extra_img_sources}")
    };
    format!(
        "default-src 'none'; style-src 'self'; img-src {img}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The policy for the pages that offer passkeys: the same, plus doorstep's
/// own script (`/static/webauthn.js`) and nothing else — still no inline
/// script, and every other page keeps allowing none at all. The script
/// fetches the ceremony's options from doorstep, so `connect-src 'self'`
/// too: under `default-src 'none'` alone the browser blocks that fetch.
pub fn allow_own_script(mut resp: HttpResponse) -> HttpResponse {
    let policy = format!(
        "{}; script-src 'self'; connect-src 'self'",
        content_security_policy("")
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// Renders a page; a template failure is logged and becomes a plain 500.
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "template rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong inside doorstep.")
        }
    }
}

/// A human-facing error page (ERR-3): never a redirect, never internals.
pub fn error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
) -> HttpResponse {
    any_error_page(state, status, title, message, None, None)
}

/// A refused change on the owner's dashboard: nothing was changed, and the
/// way back is the dashboard (the sign-in flow's "go back to the app" does
/// not apply).
pub fn dashboard_error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
) -> HttpResponse {
    page_with_next(
        state,
        status,
        title,
        message,
        "Nothing was changed.",
        Some(("/dashboard", "Back to the dashboard")),
    )
}

/// An error page outside the sign-in flow, with its own next step and an
/// optional link onward.
pub fn page_with_next(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    next: &str,
    link: Option<(&str, &str)>,
) -> HttpResponse {
    any_error_page(state, status, title, message, Some(next), link)
}

fn any_error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    next: Option<&str>,
    link: Option<(&str, &str)>,
) -> HttpResponse {
    html(
        status,
        &ErrorPage {
            footer_host: state.footer_host(),
            title,
            message,
            next,
            link,
        },
    )
}

/// A real page for paths doorstep does not serve.
pub async fn not_found(state: actix_web::web::Data<AppState>) -> HttpResponse {
    page_with_next(
        &state,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.",
        "If you followed a link from an app, go back to the app and start the sign-in again.",
        Some(("/", "Go to the home page")),
    )
}

/// Logs the whole cause once and shows nothing of it (STYLE habit 4) —
/// but a full disk is named: the owner reading the page is also the one
/// who can free space.
pub fn internal_error_page(
    state: &AppState,
    err: &(dyn std::error::Error + 'static),
) -> HttpResponse {
    log_chain(err);
    let disk_full = err
        .downcast_ref::<crate::store::StoreError>()
        .is_some_and(crate::store::StoreError::is_disk_full);
    if disk_full {
        return error_page(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "The server's disk is full",
            "doorstep cannot save anything until space is freed on the disk that holds its \
             database. Free some space, then try again.",
        );
    }
    error_page(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "doorstep could not finish this request. Please try again in a moment.",
    )
}

pub fn log_chain(err: &dyn std::error::Error) {
    tracing::error!(error = %error_chain(err), "request failed");
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (ERR-10, REDT-6).
pub fn no_store(mut b: HttpResponseBuilder) -> HttpResponseBuilder {
    b.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    b
}

pub fn json(status: StatusCode, body: &impl serde::Serialize) -> HttpResponse {
    no_store(HttpResponse::build(status))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(serde_json::to_string(body).unwrap_or_else(|_| "{}".into()))
}

/// RFC 6749 §5.2 JSON error with its status.
pub fn oauth_error(e: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json(status, &e.to_json())
}

/// A redirect after a form POST: 303, never 307 (CONS-11).
pub fn see_other(location: &str) -> HttpResponse {
    match HeaderValue::from_str(location) {
        Ok(v) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, v))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(_) => HttpResponse::BadRequest().body("invalid redirect"),
    }
}

/// A redirect answering a GET (the authorization endpoint's responses).
pub fn found(location: &str) -> HttpResponse {
    match HeaderValue::from_str(location) {
        Ok(v) => HttpResponse::Found()
            .insert_header((header::LOCATION, v))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(_) => HttpResponse::BadRequest().body("invalid redirect"),
    }
}

/// True for `application/x-www-form-urlencoded`, with any parameters
/// (a `charset` is common and harmless).
pub fn is_form(req: &actix_web::HttpRequest) -> bool {
    const FORM: &[u8] = b"application/x-www-form-urlencoded";
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    // What nearly every client sends, compared in one go: introspection
    // asks on every Micropub request (issue 10).
    if value.as_bytes() == FORM {
        return true;
    }
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().as_bytes().eq_ignore_ascii_case(FORM))
}

/// The body as UTF-8 form text; anything else reads as no parameters.
pub fn body_text(body: &[u8]) -> &str {
    std::str::from_utf8(body).unwrap_or("")
}

/// An RFC 6750 §3 refusal: `WWW-Authenticate: Bearer`, with `error` (and
/// the `scope` needed) when the request carried a token. A small JSON body
/// names the error too (VER-L2); nothing else is said.
pub fn bearer_refusal(e: BearerError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut b = no_store(HttpResponse::build(status));
    b.insert_header((header::WWW_AUTHENTICATE, e.challenge()));
    match e.code() {
        Some(code) => b
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(serde_json::json!({ "error": code.as_str() }).to_string()),
        None => b.finish(),
    }
}

/// 503 with `Retry-After` (REV-7) when the database fails; the cause is
/// logged, never shown.
pub fn unavailable(err: &dyn std::error::Error) -> HttpResponse {
    log_chain(err);
    no_store(HttpResponse::ServiceUnavailable())
        .insert_header((header::RETRY_AFTER, "5"))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(OAuthError::temporarily_unavailable().to_json().to_string())
}

/// The live access token of a resource-style request (userinfo, the
/// doctor's address check), read from the `Authorization` header only
/// (UINFO-4), or the RFC 6750 §3 answer to send instead (`bearer_answer`).
/// Its use is noted in memory.
pub fn bearer_access_token(
    req: &actix_web::HttpRequest,
    state: &super::AppState,
) -> Result<crate::store::tokens::ActiveToken, Box<HttpResponse>> {
    let presented = presented_bearer(req)?;
    let now = state.now();
    match state.store.live_access_token(&presented, now) {
        Ok(Some(t)) => {
            state.usage.note_grant(t.grant_id, now);
            Ok(t)
        }
        Ok(None) => Err(unknown_bearer(req, state, now)),
        Err(e) => Err(Box::new(unavailable(&e))),
    }
}

/// The legacy GET's answer (VER-L*), in `shape`, for the token in the
/// `Authorization` header only (VER-L4): the verification hot path, served
/// from the worker's map of live tokens (`store::live`). No token → 401
/// with a bare challenge; an unknown, expired or revoked one → 401
/// `invalid_token`. A use is noted in memory, once a second per token.
pub fn bearer_answer(
    req: &actix_web::HttpRequest,
    state: &super::AppState,
    shape: crate::store::live::Shape,
) -> Result<crate::store::live::Answer, Box<HttpResponse>> {
    let presented = presented_bearer(req)?;
    let now = state.now();
    match state.store.live_answer(&presented, now, shape) {
        Ok(Some(a)) => {
            if a.fresh_use {
                state.usage.note_grant(a.grant_id, now);
            }
            Ok(a)
        }
        Ok(None) => Err(unknown_bearer(req, state, now)),
        Err(e) => Err(Box::new(unavailable(&e))),
    }
}

/// The hash of the bearer token in the `Authorization` header, or the bare
/// challenge (RFC 6750 §3.1) when there is none.
fn presented_bearer(
    req: &actix_web::HttpRequest,
) -> Result<crate::domain::SecretHash, Box<HttpResponse>> {
    crate::oauth::verify::bearer(header_str(req, header::AUTHORIZATION))
        .map(crate::domain::SecretHash::of)
        .ok_or_else(|| Box::new(bearer_refusal(BearerError::Missing)))
}

/// SEC-16: failures beyond the burst get 429; valid tokens never reach the
/// limiter, so a Micropub server is never refused.
fn unknown_bearer(
    req: &actix_web::HttpRequest,
    state: &super::AppState,
    now: crate::clock::UnixTime,
) -> Box<HttpResponse> {
    let addr = super::session::client_addr(req, state);
    Box::new(match state.failure_limiter.record_failure(addr, now) {
        Ok(()) => bearer_refusal(BearerError::InvalidToken),
        Err(wait) => too_many_requests(wait),
    })
}

/// A token answer's JSON body, for `store::live::Shape`s: written into a
/// buffer the size of a typical answer (130–250 bytes), where
/// `serde_json::to_vec` starts empty and grows it five times.
pub fn json_body(value: &impl serde::Serialize) -> bytes::Bytes {
    let mut body = Vec::with_capacity(256);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => body.into(),
        Err(_) => bytes::Bytes::new(),
    }
}

/// A 200 answer with a body written before (`store::live::Shape`), with
/// the headers every token answer carries (REDT-6, VER-8), all static.
pub fn token_answer(body: bytes::Bytes, content_type: &'static str) -> HttpResponse {
    let mut resp = HttpResponse::Ok().body(body);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

pub fn header_str(req: &actix_web::HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A page answering 429 gets `Retry-After` too (SEC-16).
pub fn with_retry_after(mut resp: HttpResponse, wait_seconds: i64) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&wait_seconds.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// 429 with `Retry-After` (SEC-16). RFC 6749 has no code for it, so the
/// body uses `invalid_request` and the status says the rest.
pub fn too_many_requests(wait_seconds: i64) -> HttpResponse {
    no_store(HttpResponse::TooManyRequests())
        .insert_header((header::RETRY_AFTER, wait_seconds.to_string()))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(
            OAuthError::invalid_request("too many failed requests; try again later")
                .to_json()
                .to_string(),
        )
}

/// SEC-16 for requests a stranger may repeat to guess (code, refresh-token
/// redemption, introspection). A request that ends in a client error spends
/// one failure from its address's bucket as it is answered, and a failure
/// beyond the budget is answered 429; the spending decides, so concurrent
/// guesses cannot outrun the count.
///
/// A request that succeeds is never refused, though, even from an address
/// with nothing left to spend (the contract in `ratelimit`, as at bearer
/// verification): strangers can make any address fail — junk tokens relayed
/// by the owner's Micropub server, junk codes sent to a client's callback —
/// and refusing before the work let them keep that client from redeeming
/// its valid code or refresh token (SEC-16). The secrets guessed here are
/// 256-bit (CODE-5) and a code is consumed by a failed PKCE check (CODE-8),
/// so evaluating the request loses nothing. A success costs the limiter
/// nothing at all, not even its lock: introspection is on the hot path.
pub async fn failure_limited(
    req: &actix_web::HttpRequest,
    state: &super::AppState,
    work: impl std::future::Future<Output = HttpResponse>,
) -> HttpResponse {
    let resp = work.await;
    if !resp.status().is_client_error() {
        return resp;
    }
    let addr = super::session::client_addr(req, state);
    match state.failure_limiter.record_failure(addr, state.now()) {
        Ok(()) => resp,
        Err(wait) => too_many_requests(wait),
    }
}
