//! The token endpoint (`/token`): code exchange and refresh (REDT-*, REF-*),
//! legacy `action=revoke` (REV-L*), and the legacy GET verification that
//! Micropub servers still use (VER-L*). Every response carries
//! `Cache-Control: no-store` and `Pragma: no-cache` (REDT-6).

use super::AppState;
use super::respond::{body_text, is_form, json, log_chain, no_store, oauth_error};
use crate::domain::Secret;
use crate::oauth::token::{self, CodeRedemption, Endpoint, Redeemed, RefreshRequest};
use crate::oauth::verify::{accept_prefers_json, bearer, find_access_token};
use crate::oauth::{ErrorCode, OAuthError, Params};
use crate::store::{events, tokens};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json as json_value;

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// POST /token. A stray `Authorization: Bearer` header is ignored: clients
/// send old tokens here (PRODUCT "Compatibility").
pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    if !is_form(&req) {
        return oauth_error(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body_text(&body));
    if params.has("action") {
        // REV-L2: `action` together with `grant_type` is ambiguous.
        if params.has("grant_type") {
            return oauth_error(&OAuthError::invalid_request(
                "send either action or grant_type, not both",
            ));
        }
        return match params.get("action") {
            Ok(Some("revoke")) => revoke(&state, &params).await,
            _ => oauth_error(&OAuthError::invalid_request(
                "the only supported action is revoke",
            )),
        };
    }
    let grant_type = match params.get("grant_type") {
        Err(e) => return oauth_error(&e.into()),
        // Compatibility: a code without grant_type is a code exchange.
        Ok(None) if params.has("code") => "authorization_code",
        Ok(None) => return oauth_error(&OAuthError::invalid_request("grant_type is required")),
        Ok(Some(g)) => g,
    };
    let settings = state.settings.clone();
    let now = state.now();
    let result = match grant_type {
        "authorization_code" => {
            let r = match CodeRedemption::parse(&params) {
                Ok(r) => r,
                Err(e) => return oauth_error(&e),
            };
            state
                .store
                .write(move |tx| {
                    Ok(
                        token::redeem_code(tx, now, &settings, &r, Endpoint::Token)?.and_then(
                            |red| match red {
                                Redeemed::Token(t) => Ok(t),
                                Redeemed::Profile(_) => Err(OAuthError::server_error()),
                            },
                        ),
                    )
                })
                .await
        }
        "refresh_token" => {
            let r = match RefreshRequest::parse(&params) {
                Ok(r) => r,
                Err(e) => return oauth_error(&e),
            };
            state
                .store
                .write(move |tx| token::refresh(tx, now, &settings, &r))
                .await
        }
        _ => {
            return oauth_error(&OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "supported grant types are authorization_code and refresh_token",
            ));
        }
    };
    match result {
        Ok(Ok(t)) => json(StatusCode::OK, &t),
        Ok(Err(e)) => oauth_error(&e),
        Err(e) => {
            log_chain(&e);
            oauth_error(&OAuthError::server_error())
        }
    }
}

/// REV-L1 / RFC 7009: revoke the grant behind an access or refresh token.
/// Unknown tokens are fine (200); a missing token is `invalid_request`.
pub async fn revoke(state: &AppState, params: &Params) -> HttpResponse {
    let presented = match params.get("token") {
        Ok(Some(t)) => t.to_owned(),
        Ok(None) => return oauth_error(&OAuthError::invalid_request("token is required")),
        Err(e) => return oauth_error(&e.into()),
    };
    let hash = Secret::from_presented(&presented).hash();
    let now = state.now();
    let result = state
        .store
        .write(move |tx| {
            if let Some((grant, client)) = tokens::grant_of_token(tx, &hash)?
                && tokens::revoke_grant(tx, grant, now)?
            {
                events::record(tx, now, "revoked", Some(&client), Some("by the app"))?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => no_store(HttpResponse::Ok()).finish(),
        Err(e) => {
            log_chain(&e);
            oauth_error(&OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "try again later",
            ))
        }
    }
}

fn unauthorized(error: Option<&str>) -> HttpResponse {
    let challenge = match error {
        Some(e) => format!("Bearer error=\"{e}\""),
        None => "Bearer".to_owned(),
    };
    let mut b = no_store(HttpResponse::Unauthorized());
    b.insert_header((header::WWW_AUTHENTICATE, challenge));
    match error {
        Some(e) => b
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(json_value!({ "error": e }).to_string()),
        None => b.finish(),
    }
}

/// VER-L1..L5 with SPEC's decision on VER-L5: JSON when `Accept` asks for
/// it, form-encoded otherwise. Only a token in the `Authorization` header
/// counts (VER-L4).
pub async fn verify(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(presented) = bearer(header_str(&req, header::AUTHORIZATION)).map(str::to_owned) else {
        return unauthorized(None);
    };
    let now = state.now();
    let found = state
        .store
        .read(move |c| find_access_token(c, &presented, now))
        .await;
    let t = match found {
        Ok(Some(t)) => t,
        Ok(None) => return unauthorized(Some("invalid_token")),
        Err(e) => {
            log_chain(&e);
            return no_store(HttpResponse::ServiceUnavailable()).finish();
        }
    };
    if accept_prefers_json(header_str(&req, header::ACCEPT)) {
        json(
            StatusCode::OK,
            &json_value!({
                "me": t.me, "client_id": t.client_id, "scope": t.scope,
                "issued_at": t.issued_at, "active": true,
            }),
        )
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("me", &t.me)
            .append_pair("client_id", &t.client_id)
            .append_pair("scope", &t.scope)
            .append_pair("issued_at", &t.issued_at.to_string())
            .finish();
        no_store(HttpResponse::Ok())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .body(body)
    }
}
