//! `POST /introspect`: RFC 7662 token introspection for resource servers
//! (VER-1..9, TV-12). The rules are in `oauth::introspect`; this handler
//! reads the bearer, the form body or (with an empty body, as Indiekit
//! sends it) the query string, and shapes the answer with
//! `Cache-Control: no-store` (VER-8).

use super::AppState;
use super::respond::{
    bearer_challenge, body_text, is_form, json, no_store, oauth_error, unavailable,
};
use super::session::client_addr;
use super::token::header_str;
use crate::oauth::introspect::{Caller, IntrospectRequest, Introspection, Refused, caller};
use crate::oauth::verify::bearer;
use crate::oauth::{OAuthError, Params};
use crate::store::live::Found;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let presented_bearer = bearer(header_str(&req, header::AUTHORIZATION));
    if presented_bearer.is_none() {
        // VER-3: no credentials, no details.
        return bearer_challenge(StatusCode::UNAUTHORIZED, None, None);
    }
    if !body.is_empty() && !is_form(&req) {
        return oauth_error(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let r = match IntrospectRequest::parse(
        &Params::parse(body_text(&body)),
        &Params::parse(req.query_string()),
    ) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    let now = state.now();
    let who = match caller(
        presented_bearer,
        &r,
        state.settings.introspection_self_auth,
        |h| state.store.resource_server_by_secret(h),
    ) {
        Ok(Ok(c)) => c,
        Ok(Err(Refused::NoCredentials)) => {
            return bearer_challenge(StatusCode::UNAUTHORIZED, None, None);
        }
        Ok(Err(Refused::InvalidCredentials)) => {
            return bearer_challenge(StatusCode::UNAUTHORIZED, Some("invalid_token"), None);
        }
        Err(e) => return unavailable(&e),
    };
    let addr = client_addr(&req, &state);
    if who == Caller::TheTokenItself
        && let Err(wait) = state.self_auth_throttle.check(addr, now)
    {
        // SEC-16: the fallback is throttled per address.
        return no_store(HttpResponse::TooManyRequests())
            .insert_header((header::RETRY_AFTER, wait.to_string()))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(r#"{"error":"slow_down"}"#);
    }
    let found = match state.store.find_token(&r.token_hash(), now) {
        Ok(f) => f,
        Err(e) => return unavailable(&e),
    };
    match (&found, who) {
        (Found::Access(t), _) => state.usage.note_grant(t.grant_id, now),
        (_, Caller::TheTokenItself) => state.self_auth_throttle.record_inactive(addr, now),
        _ => {}
    }
    if let Caller::ResourceServer(id) = who {
        state.usage.note_resource_server(id, now);
    }
    json(StatusCode::OK, &Introspection::of(&found))
}
