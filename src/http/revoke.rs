//! `POST /revoke`: RFC 7009 token revocation (REV-1..7). Public clients, so
//! no client authentication (`revocation_endpoint_auth_methods_supported:
//! ["none"]`, DISC-6); the rules live in `oauth::revoke`, shared with the
//! legacy `action=revoke` on the token endpoint (REV-L1).

use super::AppState;
use super::body::Body;
use super::respond::{body_text, failure_limited, is_form, no_store, oauth_error, unavailable};
use crate::oauth::revoke::{self, RevokeRequest, RevokedBy};
use crate::oauth::{OAuthError, Params};
use actix_web::{HttpRequest, HttpResponse, web};

/// Refusals count against the caller's address (SEC-16): a token named
/// with the wrong `client_id` is refused, where an unknown one is not
/// (REV-3), so the answers must not be free to repeat.
pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    failure_limited(&req, &state, answer(&req, &state, &body)).await
}

async fn answer(req: &HttpRequest, state: &AppState, body: &[u8]) -> HttpResponse {
    if !is_form(req) {
        // ERR-12, REV-7.
        return oauth_error(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    match RevokeRequest::parse(&Params::parse(body_text(body))) {
        Ok(r) => run(state, r, RevokedBy::App).await,
        Err(e) => oauth_error(&e),
    }
}

/// Revokes in one write transaction; 200 with an empty body whether or not
/// the token was known (REV-3). The commit happens before the answer, so
/// the very next verification fails (REV-4).
pub async fn run(state: &AppState, r: RevokeRequest, by: RevokedBy) -> HttpResponse {
    let now = state.now();
    match state
        .store
        .write(move |tx| revoke::revoke(tx, now, &r, by))
        .await
    {
        Ok(Ok(())) => no_store(HttpResponse::Ok()).finish(),
        Ok(Err(e)) => oauth_error(&e),
        Err(e) => unavailable(&e),
    }
}
