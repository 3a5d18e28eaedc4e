//! The owner's forms, checked before a handler runs. A handler that takes
//! an [`OwnerForm`] gets the form's fields only when the form comes from
//! the signed-in owner with the session's CSRF token (SEC-5); one that takes
//! a [`FreshOwnerForm`], only when the owner also signed in within the last
//! five minutes (step-up, for sensitive changes). Anything else is answered
//! here with a page (403 "Form expired", the sign-in form, or 500), the
//! handler never runs, and nothing changes.

use super::AppState;
use super::body::Body;
use super::respond::{body_text, error_page, internal_error_page};
use super::session::{self, OwnerSession};
use crate::oauth::Params;
use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;

/// A form from the signed-in owner, with the session's CSRF token.
pub(super) struct OwnerForm {
    pub params: Params,
    pub owner: OwnerSession,
}

/// An [`OwnerForm`] for a sensitive change: the owner also signed in within
/// the last five minutes.
pub(super) struct FreshOwnerForm {
    pub params: Params,
    pub owner: OwnerSession,
}

impl FromRequest for OwnerForm {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        checked(req, payload, async |req, state, body| {
            let (params, owner) = owner_form(req, state, body).await?;
            Ok(OwnerForm { params, owner })
        })
    }
}

impl FromRequest for FreshOwnerForm {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        checked(req, payload, async |req, state, body| {
            let (params, owner) = fresh_owner_form(req, state, body).await?;
            Ok(FreshOwnerForm { params, owner })
        })
    }
}

/// Reads the request body (`body::Body`: its size limit, its errors), then
/// lets `check` decide: the value the handler gets, or the page to answer
/// with instead.
pub(super) fn checked<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    check: impl AsyncFnOnce(&HttpRequest, &AppState, &[u8]) -> Result<T, HttpResponse> + 'static,
) -> LocalBoxFuture<'static, Result<T, actix_web::Error>> {
    let body = Body::from_request(req, payload);
    let req = req.clone();
    Box::pin(async move {
        let body = body.await?;
        // Always there (`app` registers it); were it not, a bare 500.
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| {
                InternalError::from_response(
                    "no application state",
                    HttpResponse::InternalServerError().finish(),
                )
            })?;
        check(&req, &state, &body)
            .await
            .map_err(|page| InternalError::from_response("answered with a page", page).into())
    })
}

/// `owner_form` for a sensitive change: the owner must also have signed in
/// within the last five minutes; otherwise they are asked to sign in again
/// and come back to the dashboard (step-up), and nothing changes. Called
/// directly where the refusal is not a page (passkey options are JSON).
pub(super) async fn fresh_owner_form(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(Params, OwnerSession), HttpResponse> {
    let (params, owner) = owner_form(req, state, body).await?;
    if !owner.fresh(state.now()) {
        return Err(step_up(req, state).await);
    }
    Ok((params, owner))
}

/// The sign-in form, asking the owner to confirm it is them (401).
async fn step_up(req: &HttpRequest, state: &AppState) -> HttpResponse {
    super::login::render_login(
        req,
        state,
        StatusCode::UNAUTHORIZED,
        "/dashboard",
        None,
        Some(
            "This change needs a fresh sign-in: confirm it is you by signing in again, \
             then make the change once more.",
        ),
    )
    .await
}

/// The form's fields and the owner's session, if it comes from the
/// signed-in owner with the right CSRF token; otherwise the page to answer
/// with (403, nothing changed).
async fn owner_form(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(Params, OwnerSession), HttpResponse> {
    let params = Params::parse(body_text(body));
    match session::owner(req, state).await {
        Ok(Some(o)) if o.csrf_ok(params.get("csrf").ok().flatten()) => Ok((params, o)),
        Ok(_) => Err(error_page(
            state,
            StatusCode::FORBIDDEN,
            "Form expired",
            "Reload the dashboard and try again.",
        )),
        Err(e) => Err(internal_error_page(state, &e)),
    }
}
