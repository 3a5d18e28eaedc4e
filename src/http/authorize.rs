//! The authorization endpoint (`/auth`): the request (GET, or POST per
//! AREQ-1), the login it may need, the consent and no-PKCE pages and their
//! answers, and code redemption for identity (REDA-*).
//!
//! Order matters for safety: `client_id` and `redirect_uri` problems are
//! shown on a page; nothing is fetched and nothing is redirected until the
//! owner is signed in (AREQ-17); only a `VerifiedRedirect` is redirected to.

use super::AppState;
use super::body::Body;
use super::forms::checked;
use super::login::render_login;
use super::respond::{
    body_text, error_page, failure_limited, found, html, internal_error_page, is_form, json,
    log_chain, no_store, oauth_error, see_other,
};
use super::session::{self, OwnerSession};
use crate::clients::{ClientInfo, InfoSource, info_cache};
use crate::clock::UnixTime;
use crate::config::Settings;
use crate::domain::{Scope, Secret, SecretHash};
use crate::oauth::authorize::{self, AuthorizationRequest, PageError, PendingRequest};
use crate::oauth::consent::{self, ConsentAnswer, Outcome, PkceAnswer};
use crate::oauth::token::{self, CodeRedemption};
use crate::oauth::{ErrorCode, OAuthError, Params};
use crate::store::{StoreError, StoreResult};
use crate::views::{ConsentPage, LifetimeChoice, NoPkcePage, ScopeChoice};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;

/// The logo's address on doorstep itself, fetching it first if needed
/// (CID-19: never hot-linked). None when there is no usable logo.
async fn local_logo(state: &AppState, info: &ClientInfo) -> Option<String> {
    let logo = info.logo_uri.as_deref()?;
    if !matches!(info.source, InfoSource::Metadata | InfoSource::Microformats) {
        return None;
    }
    let now = state.now();
    if state.logos.get(logo, now).is_none() {
        let url = url::Url::parse(logo).ok()?;
        let (content_type, body) = state.fetcher.fetch_logo(&url).await?;
        state.logos.put(logo, content_type, body, now);
    }
    Some(format!(
        "/auth/logo?url={}",
        url::form_urlencoded::byte_serialize(logo.as_bytes()).collect::<String>()
    ))
}

/// `GET /auth/logo?url=…`: a logo from the cache, never fetched here, and
/// only for the signed-in owner (whose consent page it is on): to anyone
/// else it would tell which apps the owner looked at recently.
pub async fn logo(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !matches!(session::owner(&req, &state).await, Ok(Some(_))) {
        return HttpResponse::NotFound().finish();
    }
    let params = Params::parse(req.query_string());
    let found = params
        .get("url")
        .ok()
        .flatten()
        .and_then(|u| state.logos.get(u, state.now()));
    match found {
        Some(l) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, l.content_type))
            .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
            .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
            .body(l.body),
        None => HttpResponse::NotFound().finish(),
    }
}

fn page_error(state: &AppState, e: &PageError) -> HttpResponse {
    error_page(state, StatusCode::BAD_REQUEST, e.title, &e.message)
}

fn session_ended(state: &AppState) -> HttpResponse {
    error_page(
        state,
        StatusCode::FORBIDDEN,
        "This page has expired",
        "Your sign-in session ended or the form is out of date. Go back to the app and start signing in again.",
    )
}

fn request_gone(state: &AppState) -> HttpResponse {
    error_page(
        state,
        StatusCode::BAD_REQUEST,
        "This sign-in request is no longer open",
        "It was already answered, or it expired. Go back to the app and start signing in again.",
    )
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = req.query_string().to_owned();
    authorization_request(&req, &state, Params::parse(&query), &query).await
}

/// POST carries either an authorization request (AREQ-1) or a code
/// redemption (REDA-1): a redemption has `code`/`grant_type` and no
/// `response_type`.
pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: Body) -> HttpResponse {
    // Browsers always send forms; anything else is an API call that gets
    // an RFC 6749 JSON error (ERR-12), not a page.
    if !is_form(&req) {
        return oauth_error(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = body_text(&body).to_owned();
    let params = Params::parse(&text);
    if params.has("response_type") || !(params.has("code") || params.has("grant_type")) {
        return authorization_request(&req, &state, params, &text).await;
    }
    // SEC-16: code guessing here is limited like at the token endpoint.
    failure_limited(&req, &state, redeem(&req, &state, &params)).await
}

async fn authorization_request(
    req: &HttpRequest,
    state: &AppState,
    params: Params,
    query: &str,
) -> HttpResponse {
    let (client_id, redirect_uri) = match authorize::parse_client(&params) {
        Ok(pair) => pair,
        Err(e) => return page_error(state, &e),
    };
    let owner = match session::owner(req, state).await {
        Ok(o) => o,
        Err(e) => return internal_error_page(state, &e),
    };
    let Some(owner) = owner else {
        // Not signed in: nothing is fetched and nothing redirected yet
        // (AREQ-17); after login the browser comes back here.
        return render_login(
            req,
            state,
            StatusCode::OK,
            &format!("/auth?{query}"),
            Some(client_id.as_str()),
            None,
        )
        .await;
    };
    let client = info_cache::discover(&state.store, &state.fetcher, &client_id, state.now()).await;
    if let InfoSource::Refused { reason } = &client.source {
        // CID-18: a confidential client, which doorstep cannot authenticate.
        return error_page(
            state,
            StatusCode::BAD_REQUEST,
            "doorstep cannot sign in to this app",
            &format!("{reason}. doorstep only supports public clients, as IndieAuth apps are."),
        );
    }
    let verified = match authorize::verify_redirect(client_id, redirect_uri, &client) {
        Ok(v) => v,
        Err(e) => return page_error(state, &e),
    };
    let request = match authorize::parse_request(&params, verified, state.settings.pkce) {
        Ok(r) => r,
        Err(e) => return found(&e.location(state.settings.issuer_str())),
    };
    let id = Secret::generate();
    let stored = PendingRequest::from_request(&request, client);
    let hash = id.hash();
    let now = state.now();
    let kept = stored.clone();
    if let Err(e) = state
        .store
        .write(move |tx| consent::open(tx, &hash, &kept, now))
        .await
    {
        return redirect_server_error(state, &request, &e);
    }
    present(state, &owner, &request, &stored.client, id.expose()).await
}

/// AREQ-16: after validation, an internal failure goes back to the client:
/// `temporarily_unavailable` when it passes on its own (the database busy,
/// its disk full), `server_error` otherwise.
fn redirect_server_error(
    state: &AppState,
    request: &AuthorizationRequest,
    e: &StoreError,
) -> HttpResponse {
    log_chain(e);
    let error = if e.is_temporary() {
        OAuthError::temporarily_unavailable()
    } else {
        OAuthError::server_error()
    };
    found(&request.redirect.error_location(
        &error,
        Some(&request.state),
        state.settings.issuer_str(),
    ))
}

/// Shows the no-PKCE decision page or the consent page.
async fn present(
    state: &AppState,
    owner: &OwnerSession,
    request: &AuthorizationRequest,
    client: &ClientInfo,
    request_id: &str,
) -> HttpResponse {
    let policy = state.settings.pkce;
    let needs_exemption = if consent::lacks_required_pkce(policy, request) {
        let asked = request.clone();
        state
            .store
            .read(move |c| consent::needs_pkce_exemption(c, policy, &asked))
            .await
    } else {
        Ok(false)
    };
    match needs_exemption {
        Ok(false) => {}
        Ok(true) => {
            return html(
                StatusCode::OK,
                &NoPkcePage {
                    footer_host: state.footer_host(),
                    app_name: &app_name(request, client),
                    client_id: request.redirect.client_id().as_str(),
                    client_host: &request.redirect.client_id().display_host(),
                    redirect_host: &request.redirect.redirect_uri().display_host(),
                    csrf: &owner.csrf(),
                    request_id,
                },
            );
        }
        Err(e) => return internal_error_page(state, &e),
    }
    let logo = local_logo(state, client).await;
    consent_page(state, owner, request, client, logo.as_deref(), request_id)
}

fn app_name(request: &AuthorizationRequest, client: &ClientInfo) -> String {
    client
        .name
        .clone()
        .unwrap_or_else(|| request.redirect.client_id().display_host())
}

fn lifetime_choices(default_secs: i64) -> Vec<LifetimeChoice> {
    let mut options: Vec<(String, String)> = vec![
        ("86400".into(), "1 day".into()),
        ("604800".into(), "1 week".into()),
        ("2592000".into(), "30 days".into()),
        ("7776000".into(), "3 months".into()),
        ("31536000".into(), "1 year".into()),
    ];
    if !options.iter().any(|(v, _)| *v == default_secs.to_string()) {
        options.insert(
            0,
            (default_secs.to_string(), describe_seconds(default_secs)),
        );
    }
    options.push(("never".into(), "Until I revoke it".into()));
    options
        .into_iter()
        .map(|(value, label)| LifetimeChoice {
            selected: value == default_secs.to_string(),
            value,
            label,
        })
        .collect()
}

fn describe_seconds(s: i64) -> String {
    match s {
        s if s % 86400 == 0 => format!("{} days", s / 86400),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn consent_page(
    state: &AppState,
    owner: &OwnerSession,
    request: &AuthorizationRequest,
    client: &ClientInfo,
    logo_url: Option<&str>,
    request_id: &str,
) -> HttpResponse {
    let s = &state.settings;
    let client_id = request.redirect.client_id();
    let redirect = request.redirect.redirect_uri();
    let scopes = request
        .scope
        .iter()
        .map(|sc: &Scope| ScopeChoice {
            name: sc.as_str().to_owned(),
            description: request.scope.description_of(sc),
        })
        .collect();
    html(
        StatusCode::OK,
        &ConsentPage {
            footer_host: state.footer_host(),
            app_name: &app_name(request, client),
            source_label: consent::source_label(client),
            logo_url,
            client_id: client_id.as_str(),
            client_host: &client_id.display_host(),
            client_uri: client.client_uri.as_deref(),
            redirect_uri: redirect.as_str(),
            redirect_host: &redirect.display_host(),
            redirect_app_scheme: redirect.is_app_scheme(),
            me: s.me.as_str(),
            warnings: consent::warnings(&s.me, request, client),
            csrf: &owner.csrf(),
            request_id,
            identity_only: request.scope.is_empty(),
            scopes,
            lifetimes: lifetime_choices(s.access_token_lifetime.as_secs() as i64),
        },
    )
}

/// Signed in and CSRF token valid, or the response to send instead.
async fn owner_with_csrf(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
) -> Result<OwnerSession, HttpResponse> {
    match session::owner(req, state).await {
        Ok(Some(o)) if o.csrf_ok(params.get("csrf").ok().flatten()) => Ok(o),
        Ok(_) => Err(session_ended(state)),
        Err(e) => Err(internal_error_page(state, &e)),
    }
}

/// The pending request's id, as the page's form or link carries it.
fn request_id(params: &Params) -> &str {
    params.get("request").ok().flatten().unwrap_or("")
}

fn request_hash(params: &Params) -> Option<SecretHash> {
    params.get("request").ok().flatten().map(SecretHash::of)
}

/// `GET /auth/request?request=…`: show a pending request again (after the
/// owner allowed a client without PKCE).
pub async fn resume(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string());
    let owner = match session::owner(&req, &state).await {
        Ok(Some(o)) => o,
        Ok(None) => return session_ended(&state),
        Err(e) => return internal_error_page(&state, &e),
    };
    let Some(hash) = request_hash(&params) else {
        return request_gone(&state);
    };
    let now = state.now();
    let policy = state.settings.pkce;
    let found = state
        .store
        .read(move |c| consent::find_pending(c, &hash, now, policy))
        .await;
    let (request, client) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return request_gone(&state),
        Err(e) => return internal_error_page(&state, &e),
    };
    present(&state, &owner, &request, &client, request_id(&params)).await
}

/// The consent form's answer: approve (with the ticked scopes and chosen
/// lifetime) or deny. The pending request is taken, so it is answered once.
pub async fn consent(
    AnswerForm { params, id }: AnswerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let default_lifetime = state.settings.access_token_lifetime.as_secs() as i64;
    let Some(answer) = ConsentAnswer::parse(&params, default_lifetime) else {
        return unexpected_answer(&state, "Choose Allow or Deny.");
    };
    settle(&state, &params, id, move |tx, now, settings| {
        consent::answer_consent(tx, now, settings, &id, &answer)
    })
    .await
}

/// The no-PKCE page's answer: allow this client (remembered) or refuse
/// (`invalid_request` back to the client, with `state` and `iss`).
pub async fn pkce_decision(
    AnswerForm { params, id }: AnswerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(answer) = PkceAnswer::parse(&params) else {
        return unexpected_answer(&state, "Choose Allow or Refuse.");
    };
    settle(&state, &params, id, move |tx, now, settings| {
        consent::answer_pkce(tx, now, settings, &id, answer)
    })
    .await
}

/// An answer to one of the owner's pages (consent, no PKCE): its fields and
/// the hash of the pending request it names. The handler runs only when it
/// comes from the signed-in owner with the session's CSRF token and names
/// a request; otherwise the page says the session or the request is gone.
pub(super) struct AnswerForm {
    params: Params,
    id: SecretHash,
}

impl FromRequest for AnswerForm {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        checked(req, payload, async |req, state, body| {
            let params = Params::parse(body_text(body));
            owner_with_csrf(req, state, &params).await?;
            let id = request_hash(&params).ok_or_else(|| request_gone(state))?;
            Ok(AnswerForm { params, id })
        })
    }
}

/// Runs an answer to the pending request `id` in one write transaction and
/// sends the browser where it leads.
async fn settle<F>(state: &AppState, params: &Params, id: SecretHash, answer: F) -> HttpResponse
where
    F: FnOnce(&rusqlite::Transaction<'_>, UnixTime, &Settings) -> StoreResult<Outcome>
        + Send
        + 'static,
{
    let settings = state.settings.clone();
    let now = state.now();
    let outcome = state
        .store
        .write(move |tx| answer(tx, now, &settings))
        .await;
    match outcome {
        Ok(Outcome::ToClient(to)) => see_other(&to),
        Ok(Outcome::ShowAgain) => see_other(&format!(
            "/auth/request?request={}",
            url::form_urlencoded::byte_serialize(request_id(params).as_bytes()).collect::<String>()
        )),
        Ok(Outcome::Gone) => request_gone(state),
        Err(e) => {
            // AREQ-16: the request was validated when it was opened, so the
            // client hears of the failure (`server_error`) rather than
            // waiting for an answer that never comes. The write failed, so
            // the request is still there to read (a read needs no lock a
            // writer holds); when even that fails, the owner gets the page.
            let policy = state.settings.pkce;
            let pending = state
                .store
                .read(move |c| consent::find_pending(c, &id, now, policy))
                .await;
            match pending {
                Ok(Some((request, _))) => redirect_server_error(state, &request, &e),
                _ => internal_error_page(state, &e),
            }
        }
    }
}

fn unexpected_answer(state: &AppState, what_to_do: &str) -> HttpResponse {
    error_page(
        state,
        StatusCode::BAD_REQUEST,
        "Unexpected answer",
        what_to_do,
    )
}

/// REDA-1..5: redeem a code for the owner's identity, never a token.
async fn redeem(req: &HttpRequest, state: &AppState, params: &Params) -> HttpResponse {
    // `post` has already refused anything but a form.
    match params.get("grant_type") {
        Ok(None) | Ok(Some("authorization_code")) => {}
        Ok(Some(_)) => {
            return oauth_error(&OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "the authorization endpoint only redeems authorization codes",
            ));
        }
        Err(e) => return oauth_error(&e.into()),
    }
    let redemption = match CodeRedemption::parse(params) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };
    let settings = state.settings.clone();
    let now = state.now();
    let result = state
        .store
        .write(move |tx| token::redeem_for_profile(tx, now, &settings, &redemption))
        .await;
    match result {
        Ok(Ok(p)) => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            if crate::oauth::verify::accept_prefers_form(accept) {
                // REDA-7: the 2018-era form answer, for clients that ask for
                // it; a nested `profile` has no form spelling, so only `me`
                // (and `scope` where REDA-6 gives it) are sent.
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("me", &p.me);
                if let Some(scope) = &p.scope {
                    form.append_pair("scope", scope);
                }
                no_store(HttpResponse::Ok())
                    .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .body(form.finish())
            } else {
                json(StatusCode::OK, &p)
            }
        }
        Ok(Err(e)) => oauth_error(&e),
        Err(e) => {
            log_chain(&e);
            oauth_error(&OAuthError::server_error())
        }
    }
}
