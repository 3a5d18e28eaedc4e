//! The authorization endpoint (`/auth`): the request (GET, or POST per
//! AREQ-1), the login it may need, the consent and no-PKCE pages and their
//! answers, and code redemption for identity (REDA-*).
//!
//! Order matters for safety: `client_id` and `redirect_uri` problems are
//! shown on a page; nothing is fetched and nothing is redirected until the
//! owner is signed in (AREQ-17); only a `VerifiedRedirect` is redirected to.

use super::AppState;
use super::login::render_login;
use super::respond::{
    body_text, error_page, found, html, internal_error_page, is_form, json, oauth_error, see_other,
};
use super::session::{self, OwnerSession};
use crate::config::PkcePolicy;
use crate::domain::{ClientId, Scope, ScopeSet, Secret, SecretHash};
use crate::oauth::authorize::{self, AuthorizationRequest, PageError, PendingRequest};
use crate::oauth::token::{self, Approval, CodeRedemption, Endpoint, Redeemed};
use crate::oauth::{ErrorCode, OAuthError, Params};
use crate::store::{StoreError, clients, events, pending};
use crate::views::{ConsentPage, LifetimeChoice, NoPkcePage, ScopeChoice};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

/// How long a consent page stays answerable.
const PENDING_LIFETIME: i64 = 30 * 60;

/// What doorstep knows about the client, for the consent page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientView {
    pub name: Option<String>,
    pub logo_url: Option<String>,
    pub client_uri: Option<String>,
    /// Redirect URIs the client publishes (CID-24).
    pub published_redirects: Vec<String>,
    /// How far to trust the above, in words for the badge.
    pub source_label: String,
    /// Said on the consent page when discovery failed or was skipped.
    pub notice: Option<String>,
}

/// Client information discovery. Until the fetcher lands, doorstep knows
/// only the client_id itself, so cross-origin redirects are refused.
async fn discover(_state: &AppState, client_id: &ClientId) -> ClientView {
    ClientView {
        name: None,
        logo_url: None,
        client_uri: None,
        published_redirects: Vec::new(),
        source_label: if client_id.is_loopback() {
            "local app".into()
        } else {
            "not verified".into()
        },
        notice: None,
    }
}

/// The pending request as stored: the request and what was shown.
#[derive(Debug, Serialize, Deserialize)]
struct StoredPending {
    request: PendingRequest,
    client: ClientView,
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
pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let text = body_text(&body).to_owned();
    let params = Params::parse(&text);
    if params.has("response_type") || !(params.has("code") || params.has("grant_type")) {
        return authorization_request(&req, &state, params, &text).await;
    }
    redeem(&req, &state, &params).await
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
        );
    };
    let client = discover(state, &client_id).await;
    let verified =
        match authorize::verify_redirect(client_id, redirect_uri, &client.published_redirects) {
            Ok(v) => v,
            Err(e) => return page_error(state, &e),
        };
    let request = match authorize::parse_request(&params, verified, state.settings.pkce) {
        Ok(r) => r,
        Err(e) => return found(&e.location(state.settings.issuer_str())),
    };
    let id = Secret::generate();
    let stored = StoredPending {
        request: PendingRequest::from_request(&request, client.published_redirects.clone()),
        client,
    };
    let json_text = match serde_json::to_string(&stored) {
        Ok(j) => j,
        Err(e) => return internal_error_page(state, &e),
    };
    let hash = id.hash();
    let now = state.now();
    if let Err(e) = state
        .store
        .write(move |tx| pending::insert(tx, &hash, &json_text, now, now + PENDING_LIFETIME))
        .await
    {
        return redirect_server_error(state, &request, &e);
    }
    present(state, &owner, &request, &stored.client, id.expose()).await
}

/// AREQ-16: after validation, an internal failure goes back to the client.
fn redirect_server_error(
    state: &AppState,
    request: &AuthorizationRequest,
    e: &StoreError,
) -> HttpResponse {
    super::respond::log_chain(e);
    found(&request.redirect.error_location(
        &OAuthError::server_error(),
        Some(&request.state),
        state.settings.issuer_str(),
    ))
}

/// Shows the no-PKCE decision page or the consent page.
async fn present(
    state: &AppState,
    owner: &OwnerSession,
    request: &AuthorizationRequest,
    client: &ClientView,
    request_id: &str,
) -> HttpResponse {
    let client_id = request.redirect.client_id().as_str().to_owned();
    if request.pkce.is_none() && state.settings.pkce != PkcePolicy::Optional {
        let exempt = match state
            .store
            .read(move |c| clients::is_pkce_exempt(c, &client_id))
            .await
        {
            Ok(e) => e,
            Err(e) => return internal_error_page(state, &e),
        };
        if !exempt {
            return html(
                StatusCode::OK,
                &NoPkcePage {
                    footer_host: state.footer_host(),
                    app_name: &app_name(request, client),
                    client_id: request.redirect.client_id().as_str(),
                    client_host: request.redirect.client_id().host(),
                    redirect_host: &request.redirect.redirect_uri().display_host(),
                    csrf: &owner.csrf(),
                    request_id,
                },
            );
        }
    }
    consent_page(state, owner, request, client, request_id)
}

fn app_name(request: &AuthorizationRequest, client: &ClientView) -> String {
    client
        .name
        .clone()
        .unwrap_or_else(|| request.redirect.client_id().host().to_owned())
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
    client: &ClientView,
    request_id: &str,
) -> HttpResponse {
    let s = &state.settings;
    let client_id = request.redirect.client_id();
    let redirect = request.redirect.redirect_uri();
    let mut warnings = Vec::new();
    if let Some(n) = &client.notice {
        warnings.push(n.clone());
    }
    if !client_id.is_https() && !client_id.is_loopback() {
        warnings.push("This app's address uses plain http, so anyone on the network between doorstep and the app could pretend to be it (CID-6).".into());
    }
    if redirect.is_insecure_http() {
        warnings.push("The code will travel back over plain http, where it can be read or changed on the way (CID-27).".into());
    }
    if !redirect.same_origin_as(client_id) {
        warnings.push(format!(
            "The app returns you to {}, a different site from the app itself; the app publishes that address as its own.",
            redirect.display_host()
        ));
    }
    if request.pkce.is_none() {
        warnings.push("This app does not use PKCE: a code intercepted on its way back could be used by someone else.".into());
    }
    if let Some(hint) = &request.me_hint
        && hint.trim_end_matches('/') != s.me.as_str().trim_end_matches('/')
    {
        warnings.push(format!(
            "The app expected you to be {hint}; you will sign in as {}.",
            s.me.as_str()
        ));
    }
    let scopes = request
        .scope
        .iter()
        .map(|sc: &Scope| ScopeChoice {
            name: sc.as_str().to_owned(),
            description: sc.description(),
        })
        .collect();
    html(
        StatusCode::OK,
        &ConsentPage {
            footer_host: state.footer_host(),
            app_name: &app_name(request, client),
            source_label: &client.source_label,
            logo_url: client.logo_url.as_deref(),
            client_id: client_id.as_str(),
            client_host: client_id.host(),
            client_uri: client.client_uri.as_deref(),
            redirect_uri: redirect.as_str(),
            redirect_host: &redirect.display_host(),
            me: s.me.as_str(),
            warnings,
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

fn request_hash(params: &Params) -> Option<SecretHash> {
    params.get("request").ok().flatten().map(SecretHash::of)
}

fn load_pending(json_text: &str, policy: PkcePolicy) -> Option<(AuthorizationRequest, ClientView)> {
    let stored: StoredPending = serde_json::from_str(json_text).ok()?;
    let request = stored.request.restore(policy)?;
    Some((request, stored.client))
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
    let found_pending = state
        .store
        .read(move |c| pending::find(c, &hash, now))
        .await;
    let json_text = match found_pending {
        Ok(Some(j)) => j,
        Ok(None) => return request_gone(&state),
        Err(e) => return internal_error_page(&state, &e),
    };
    let Some((request, client)) = load_pending(&json_text, state.settings.pkce) else {
        return request_gone(&state);
    };
    let id = params
        .get("request")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    present(&state, &owner, &request, &client, &id).await
}

/// What answering a pending request leads to.
enum Answer {
    Gone,
    Redirect(String),
}

/// The consent form's answer: approve (with the ticked scopes and chosen
/// lifetime) or deny. The pending request is taken, so it is answered once.
pub async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    if let Err(resp) = owner_with_csrf(&req, &state, &params).await {
        return resp;
    }
    let Some(hash) = request_hash(&params) else {
        return request_gone(&state);
    };
    let approve = match params.get("action").ok().flatten() {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "Unexpected answer",
                "Choose Allow or Deny.",
            );
        }
    };
    let ticked: Vec<String> = params.all("scope").into_iter().map(str::to_owned).collect();
    let default_lifetime = state.settings.access_token_lifetime.as_secs() as i64;
    let lifetime = match params.get("lifetime").ok().flatten() {
        Some("never") => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map(|s| s.clamp(60, 10 * 365 * 86400))
                .unwrap_or(default_lifetime),
        ),
        None => Some(default_lifetime),
    };
    let settings = state.settings.clone();
    let now = state.now();
    let answer = state
        .store
        .write(move |tx| {
            let Some(json_text) = pending::take(tx, &hash, now)? else {
                return Ok(Answer::Gone);
            };
            let Some((request, client)) = load_pending(&json_text, settings.pkce) else {
                return Ok(Answer::Gone);
            };
            let issuer = settings.issuer_str();
            let client_id = request.redirect.client_id().as_str().to_owned();
            if !approve {
                events::record(tx, now, "denied", Some(&client_id), None)?;
                let e = OAuthError::new(ErrorCode::AccessDenied, "the owner denied the request");
                return Ok(Answer::Redirect(request.redirect.error_location(
                    &e,
                    Some(&request.state),
                    issuer,
                )));
            }
            // Re-checked here: the PKCE decision may have been withdrawn.
            if request.pkce.is_none()
                && settings.pkce != PkcePolicy::Optional
                && !clients::is_pkce_exempt(tx, &client_id)?
            {
                let e = OAuthError::invalid_request("this server requires PKCE (code_challenge)");
                return Ok(Answer::Redirect(request.redirect.error_location(
                    &e,
                    Some(&request.state),
                    issuer,
                )));
            }
            let mut chosen = ScopeSet::default();
            for t in &ticked {
                if let Ok(s) = Scope::parse(t) {
                    chosen.insert(s);
                }
            }
            let granted = request.scope.intersect(&chosen).without_orphan_email();
            let code = token::issue_code(
                tx,
                now,
                &settings,
                &Approval {
                    client_id: request.redirect.client_id(),
                    client_name: client.name.as_deref(),
                    client_logo: client.logo_url.as_deref(),
                    redirect_uri: request.redirect.redirect_uri().as_str(),
                    scope: &granted,
                    pkce: request.pkce.as_ref(),
                    access_lifetime: lifetime,
                },
            )?;
            Ok(Answer::Redirect(request.redirect.code_location(
                code.expose(),
                &request.state,
                issuer,
                settings.me.as_str(),
            )))
        })
        .await;
    match answer {
        Ok(Answer::Redirect(to)) => see_other(&to),
        Ok(Answer::Gone) => request_gone(&state),
        Err(e) => internal_error_page(&state, &e),
    }
}

/// The no-PKCE page's answer: allow this client (remembered) or refuse
/// (`invalid_request` back to the client, with `state` and `iss`).
pub async fn pkce_decision(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    if let Err(resp) = owner_with_csrf(&req, &state, &params).await {
        return resp;
    }
    let Some(hash) = request_hash(&params) else {
        return request_gone(&state);
    };
    let id = params
        .get("request")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let allow = match params.get("action").ok().flatten() {
        Some("allow") => true,
        Some("refuse") => false,
        _ => {
            return error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "Unexpected answer",
                "Choose Allow or Refuse.",
            );
        }
    };
    let settings = state.settings.clone();
    let now = state.now();
    let answer = state
        .store
        .write(move |tx| {
            let json_text = if allow {
                pending::find(tx, &hash, now)?
            } else {
                pending::take(tx, &hash, now)?
            };
            let Some((request, _)) = json_text
                .as_deref()
                .and_then(|j| load_pending(j, settings.pkce))
            else {
                return Ok(Answer::Gone);
            };
            let client_id = request.redirect.client_id().as_str().to_owned();
            if allow {
                clients::add_pkce_exemption(tx, &client_id, now)?;
                events::record(tx, now, "pkce_exemption_added", Some(&client_id), None)?;
                Ok(Answer::Redirect(format!(
                    "/auth/request?request={}",
                    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
                )))
            } else {
                events::record(tx, now, "pkce_refused", Some(&client_id), None)?;
                let e = OAuthError::invalid_request("this server requires PKCE (code_challenge)");
                Ok(Answer::Redirect(request.redirect.error_location(
                    &e,
                    Some(&request.state),
                    settings.issuer_str(),
                )))
            }
        })
        .await;
    match answer {
        Ok(Answer::Redirect(to)) => see_other(&to),
        Ok(Answer::Gone) => request_gone(&state),
        Err(e) => internal_error_page(&state, &e),
    }
}

/// REDA-1..5: redeem a code for the owner's identity, never a token.
async fn redeem(req: &HttpRequest, state: &AppState, params: &Params) -> HttpResponse {
    if !is_form(req) {
        return oauth_error(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
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
        .write(move |tx| {
            token::redeem_code(tx, now, &settings, &redemption, Endpoint::Authorization)
        })
        .await;
    match result {
        Ok(Ok(Redeemed::Profile(p))) => json(StatusCode::OK, &p),
        Ok(Ok(Redeemed::Token(_))) => oauth_error(&OAuthError::server_error()),
        Ok(Err(e)) => oauth_error(&e),
        Err(e) => {
            super::respond::log_chain(&e);
            oauth_error(&OAuthError::server_error())
        }
    }
}
