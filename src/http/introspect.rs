//! `POST /introspect`: RFC 7662 token introspection for resource servers
//! (VER-1..9, TV-12). The rules are in `oauth::introspect`; this handler
//! reads the bearer, the form body or (with an empty body, as Indiekit
//! sends it) the query string, and shapes the answer with
//! `Cache-Control: no-store` (VER-8). Both reads — the caller's secret and
//! the token — go through one hot-path view check (`store::live`).

use super::AppState;
use super::body::{Body, BodyError};
use super::respond::header_str;
use super::respond::{
    bearer_refusal, body_text, failure_limited, is_form, json, json_body, oauth_error,
    token_answer, too_many_requests, unavailable,
};
use super::session::client_addr;
use crate::oauth::introspect::{Claim, IntrospectRequest, Introspection, Refused, caller, claim};
use crate::oauth::verify::bearer;
use crate::oauth::{BearerError, OAuthError};
use crate::store::live::{Found, Shape};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

fn refused(r: Refused) -> HttpResponse {
    match r {
        // VER-3: no credentials, no details.
        Refused::NoCredentials => bearer_refusal(BearerError::Missing),
        Refused::InvalidCredentials => bearer_refusal(BearerError::InvalidToken),
    }
}

/// SEC-16: wrong resource-server secrets (and other refused calls) count
/// against the caller's address as at the token endpoint, and past the
/// limit are answered 429; a call that succeeds is never refused, so a
/// stranger cannot lock the owner's Micropub server out by sharing its
/// address.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<Body, BodyError>,
) -> HttpResponse {
    match body {
        Ok(body) => failure_limited(&req, &state, answer(&req, &state, &body)).await,
        Err(e) => e.oauth_response(),
    }
}

async fn answer(req: &HttpRequest, state: &AppState, body: &[u8]) -> HttpResponse {
    let presented = bearer(header_str(req, header::AUTHORIZATION));
    if presented.is_none() {
        return refused(Refused::NoCredentials);
    }
    if !body.is_empty() && !is_form(req) {
        return oauth_error(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let r = match IntrospectRequest::parse(body_text(body), req.query_string()) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    let claimed = match claim(presented, &r, state.settings.introspection_self_auth) {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let now = state.now();
    // SEC-16: the fallback is throttled per address on the answers it would
    // give `active:false`, after the lookup — as bearer verification is
    // (`respond::bearer_access_token`). Refusing before the lookup let
    // anyone who sends junk tokens to the owner's Micropub server (which
    // relays each one here) get its valid tokens refused with 429 too.
    let fallback_from = match claimed {
        Claim::TheTokenItself => Some(client_addr(req, state)),
        Claim::Secret(_) => None,
    };
    let secret = match &claimed {
        Claim::Secret(h) => Some(h),
        Claim::TheTokenItself => None,
    };
    let (server, found) =
        match state
            .store
            .introspection(secret, &r.token_hash(), now, INTROSPECTION)
        {
            Ok(x) => x,
            Err(e) => return unavailable(&e),
        };
    if let Err(e) = caller(claimed, server.map(|s| s.id)) {
        return refused(e);
    }
    // "Last used", noted once a second per token and thread (`store::live`).
    if let Some(s) = server.filter(|s| s.fresh_use) {
        state.usage.note_resource_server(s.id, now);
    }
    match (found, fallback_from) {
        (Found::Access(a), _) => {
            if a.fresh_use {
                state.usage.note_grant(a.grant_id, now);
            }
            token_answer(a.body, "application/json")
        }
        (_, Some(addr)) => match state.self_auth_throttle.record_failure(addr, now) {
            Ok(()) => inactive(),
            Err(wait) => too_many_requests(wait),
        },
        (_, None) => inactive(),
    }
}

/// VER-5, VER-6: the answer for a live access token, written once per token
/// and kept with it (`store::live`).
const INTROSPECTION: Shape = Shape {
    name: "introspection",
    render: |t| json_body(&Introspection::active(t)),
};

/// VER-6: an inactive token's answer is `active:false` and nothing else.
fn inactive() -> HttpResponse {
    json(StatusCode::OK, &Introspection::INACTIVE)
}
