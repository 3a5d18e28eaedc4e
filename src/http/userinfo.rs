//! `GET /userinfo` (UINFO-1..5, TV-15): the owner's profile for a token
//! with the `profile` scope. The token is read from the `Authorization`
//! header only (UINFO-4); the lookup is the verification hot path.

use super::AppState;
use super::respond::{bearer_access_token, bearer_refusal, json};
use crate::oauth::BearerError;
use crate::oauth::userinfo::{self, Userinfo};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    // UINFO-3: no token → bare challenge; bad token → invalid_token.
    let t = match bearer_access_token(&req, &state) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    match userinfo::answer(&state.settings, &t) {
        // UINFO-5: `json` adds `Cache-Control: no-store`.
        Userinfo::Profile(p) => json(StatusCode::OK, &p),
        Userinfo::InsufficientScope => bearer_refusal(BearerError::InsufficientScope("profile")),
    }
}
