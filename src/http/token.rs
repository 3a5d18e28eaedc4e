//! The token endpoint (`/token`): code exchange and refresh (REDT-*, REF-*),
//! legacy `action=revoke` (REV-L*), and the legacy GET verification that
//! Micropub servers still use (VER-L*). Every response carries
//! `Cache-Control: no-store` and `Pragma: no-cache` (REDT-6).

use super::AppState;
use super::body::Body;
use super::respond::{
    bearer_answer, body_text, failure_limited, header_str, is_form, json, json_body, log_chain,
    oauth_error, token_answer, unavailable,
};
use crate::domain::{Scope, ScopeSet};
use crate::oauth::params::FormWriter;
use crate::oauth::revoke::RevokedBy;
use crate::oauth::token::{self, TokenRequest};
use crate::oauth::verify::legacy_get_answers_json;
use crate::oauth::{OAuthError, Params};
use crate::store::live::Shape;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// POST /token, behind the per-address failure limit (SEC-16): an address
/// that keeps failing (guessing codes or refresh tokens) is answered 429
/// until its bucket refills; requests that succeed cost nothing.
pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    failure_limited(&req, &state, answer(&req, &state, &body)).await
}

/// The token endpoint proper. A stray `Authorization: Bearer` header is
/// ignored: clients send old tokens here (PRODUCT "Compatibility").
async fn answer(req: &HttpRequest, state: &AppState, body: &[u8]) -> HttpResponse {
    let params = if body.is_empty() && !req.query_string().is_empty() {
        match query_code_exchange(req.query_string()) {
            Some(p) => p,
            None => {
                return oauth_error(&OAuthError::invalid_request(
                    "send the parameters in an application/x-www-form-urlencoded body",
                ));
            }
        }
    } else {
        if !is_form(req) {
            return oauth_error(&OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        Params::parse(body_text(body))
    };
    let request = match TokenRequest::parse(&params) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    let settings = state.settings.clone();
    let now = state.now();
    let result = match request {
        TokenRequest::Revoke(r) => return super::revoke::run(state, r, RevokedBy::AppLegacy).await,
        TokenRequest::AuthorizationCode(r) => {
            state
                .store
                .write(move |tx| token::redeem_for_token(tx, now, &settings, &r))
                .await
        }
        TokenRequest::RefreshToken(r) => {
            state
                .store
                .write(move |tx| token::refresh(tx, now, &settings, &r))
                .await
        }
    };
    match result {
        Ok(Ok(t)) => json(StatusCode::OK, &t),
        Ok(Err(e)) => oauth_error(&e),
        // The database busy or its disk full: try again, as `/revoke` says
        // (RFC 7009 §2.2.1's 503); anything else is the server's fault.
        Err(e) if e.is_temporary() => unavailable(&e),
        Err(e) => {
            log_chain(&e);
            oauth_error(&OAuthError::server_error())
        }
    }
}

/// PRODUCT "Compatibility": Indiekit, signing in to its own dashboard
/// through an external IndieAuth server, POSTs the code exchange with every
/// parameter in the query string and no body at all
/// (getindiekit/indiekit `packages/indiekit/lib/indieauth.js`,
/// `authorizationCodeGrant()`), as its introspection call does. Only an
/// `authorization_code` exchange is read from there: a code is single-use
/// and dead once this very request has redeemed it, whereas a refresh
/// token or a token to revoke would linger in proxy logs (SEC-20), so those
/// still need a form body.
fn query_code_exchange(query: &str) -> Option<Params> {
    let params = Params::parse(query);
    match params.get("grant_type") {
        Ok(Some("authorization_code")) if !params.has("action") => Some(params),
        _ => None,
    }
}

/// VER-L1..L5 with SPEC's decision on VER-L5 (`legacy_get_answers_json`):
/// each real resource server gets the format it parses. Only a token in the `Authorization`
/// header counts (VER-L4). The lookup runs on this worker thread through
/// the hot-path view (`store::live`), which keeps each live token's answer
/// written, and "last used" is only noted in memory (`store::usage`).
pub async fn verify(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let json = legacy_get_answers_json(header_str(&req, header::ACCEPT), is_form(&req));
    let shape = if json { LEGACY_JSON } else { LEGACY_FORM };
    match bearer_answer(&req, &state, shape) {
        Ok(a) if json => token_answer(a.body, "application/json"),
        Ok(a) => token_answer(a.body, "application/x-www-form-urlencoded"),
        Err(resp) => *resp,
    }
}

/// VER-L1 as JSON.
const LEGACY_JSON: Shape = Shape {
    name: "legacy GET, JSON",
    render: |t| {
        let answer = LegacyVerification {
            me: &t.me,
            client_id: t.client_id.as_str(),
            scope: &t.scope,
            issued_at: t.issued_at,
            exp: t.expires_at,
            active: true,
        };
        json_body(&answer)
    },
};

/// VER-L1 form-encoded, as the original token endpoints answered.
const LEGACY_FORM: Shape = Shape {
    name: "legacy GET, form",
    render: |t| {
        let mut form = FormWriter::with_capacity(256);
        form.pair("me", &t.me)
            .pair("client_id", t.client_id.as_str())
            .joined("scope", t.scope.iter().map(Scope::as_str))
            .pair("issued_at", &t.issued_at.to_string());
        if let Some(exp) = t.expires_at {
            form.pair("exp", &exp.to_string());
        }
        form.finish().into()
    },
};

/// VER-L1: `{me, client_id, scope}` plus the optional members.
#[derive(serde::Serialize)]
struct LegacyVerification<'a> {
    me: &'a str,
    client_id: &'a str,
    scope: &'a ScopeSet,
    issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    active: bool,
}
