//! `GET /userinfo` (UINFO-1..5, TV-15): the owner's profile for a token
//! with the `profile` scope. The token is read from the `Authorization`
//! header only (UINFO-4); the lookup is the verification hot path.

use super::AppState;
use super::respond::{bearer_challenge, json, unavailable};
use super::token::header_str;
use crate::domain::SecretHash;
use crate::oauth::userinfo::{self, Userinfo};
use crate::oauth::verify::bearer;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(presented) = bearer(header_str(&req, header::AUTHORIZATION)) else {
        // UINFO-3: no token, no error code.
        return bearer_challenge(StatusCode::UNAUTHORIZED, None, None);
    };
    let now = state.now();
    let t = match state
        .store
        .live_access_token(&SecretHash::of(presented), now)
    {
        Ok(Some(t)) => t,
        Ok(None) => return bearer_challenge(StatusCode::UNAUTHORIZED, Some("invalid_token"), None),
        Err(e) => return unavailable(&e),
    };
    state.usage.note_grant(t.grant_id, now);
    match userinfo::answer(&state.settings, &t) {
        // UINFO-5: `json` adds `Cache-Control: no-store`.
        Userinfo::Profile(p) => json(StatusCode::OK, &p),
        Userinfo::InsufficientScope => bearer_challenge(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            Some("profile"),
        ),
    }
}
