//! The HTTP edge: one module per endpoint, each thin — parse the request,
//! call into `oauth/` or `owner/`, shape the response. Only this module,
//! `views.rs` and `app.rs` know that actix exists.

mod authorize;
mod body;
pub mod connection;
mod dashboard;
pub use dashboard::link_tags;
pub use respond::content_security_policy;
mod discovery;
mod doctor;
mod forms;
mod introspect;
mod login;
mod passkeys;
pub mod request_log;
mod respond;
mod revoke;
mod second_factor;
mod security;
mod session;
mod token;
mod userinfo;

use crate::clients::ClientFetcher;
use crate::clients::logo_cache::LogoCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::owner::password::PasswordWorker;
use crate::owner::pending::PendingSteps;
use crate::owner::throttle::{CodeGuard, LoginThrottle};
use crate::ratelimit::FailureLimiter;
use crate::store::Store;
use crate::store::usage::Usage;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use body::{Body, BodyError};
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub clock: Clock,
    pub login_throttle: LoginThrottle,
    /// Wrong second-factor codes in a row, for the account (RFC 6238 §5.2).
    pub code_guard: CodeGuard,
    /// The one thread that runs argon2 (login, setup), one run at a time in
    /// one reused 19 MiB block: a burst of sign-in POSTs queues instead of
    /// taking memory (SEC-16).
    pub passwords: PasswordWorker,
    /// SEC-16 for introspection's self-auth fallback: inactive answers.
    pub self_auth_throttle: FailureLimiter,
    /// SEC-16 for the token endpoint and bearer verification: failures.
    pub failure_limiter: FailureLimiter,
    /// Batched "last used" of grants and resource servers; flushed by the
    /// housekeeping task.
    pub usage: Arc<Usage>,
    pub fetcher: ClientFetcher,
    pub logos: LogoCache,
    /// The WebAuthn relying party (the issuer's host); `None` on an IP
    /// address, where browsers refuse passkeys.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// Sign-in steps in progress: second factors due, TOTP enrolments,
    /// WebAuthn challenges.
    pub pending: PendingSteps,
    /// Failed passkey sign-ins, per address (they never touch the password
    /// throttle's global cap).
    pub passkey_failures: FailureLimiter,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The host shown in page footers.
    pub fn footer_host(&self) -> &str {
        self.settings.me.url().host_str().unwrap_or("")
    }
}

/// The route table, by the part of doorstep each route belongs to. Every
/// route is a resource of its own, matched in the order registered, and
/// each route tried before the one that matches costs actix-router a
/// pattern check and a 16-slot capture buffer: with the verification
/// endpoints last, behind 40 others, that was a tenth of a hot-token
/// verification's CPU in `perf` (issue 10). So `/health` (the floor the
/// benchmark compares with) and the endpoints resource servers call on
/// every Micropub request come first. No two routes answer the same path
/// and method, so the order changes nothing else.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(respond::not_found));
    cfg.route("/health", web::get().to(discovery::health));
    endpoint_routes(cfg);
    public_routes(cfg);
    authorization_routes(cfg);
    sign_in_routes(cfg);
    dashboard_routes(cfg);
}

/// The homepage, the metadata, static files and the doctor's address
/// check (`/health` comes first of all, in `routes`).
fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(discovery::homepage))
        .route("/", web::head().to(discovery::homepage))
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            web::head().to(discovery::metadata),
        )
        .route("/static/style.css", web::get().to(discovery::stylesheet))
        .route(
            "/static/webauthn.js",
            web::get().to(discovery::webauthn_script),
        )
        .route("/doctor/address", web::get().to(doctor::address));
}

/// The authorization endpoint and the owner's answers to its pages.
fn authorization_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth", web::get().to(authorize::get))
        .route("/auth", web::post().to(authorize::post))
        .route("/auth/request", web::get().to(authorize::resume))
        .route("/auth/logo", web::get().to(authorize::logo))
        .route("/auth/consent", web::post().to(authorize::consent))
        .route("/auth/pkce", web::post().to(authorize::pkce_decision));
}

/// The owner's sign-in steps and the first password.
fn sign_in_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login::login_page))
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .route("/login/second-factor", web::post().to(second_factor::post))
        .route(
            "/login/passkey/options",
            web::post().to(passkeys::sign_in_options),
        )
        .route("/login/passkey", web::post().to(passkeys::sign_in))
        .route("/setup", web::get().to(login::setup_page))
        .route("/setup", web::post().to(login::setup));
}

/// The dashboard and its forms.
fn dashboard_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard::show))
        .route(
            "/dashboard/pkce/remove",
            web::post().to(dashboard::remove_pkce_exemption),
        )
        .route(
            "/dashboard/grants/revoke",
            web::post().to(dashboard::revoke_grant),
        )
        .route(
            "/dashboard/grants/revoke-all",
            web::get().to(dashboard::revoke_all_page),
        )
        .route(
            "/dashboard/grants/revoke-all",
            web::post().to(dashboard::revoke_all),
        )
        .route(
            "/dashboard/sign-in-mode",
            web::post().to(security::set_mode),
        )
        .route(
            "/dashboard/recovery-codes",
            web::post().to(security::regenerate_recovery_codes),
        )
        .route("/dashboard/totp/new", web::post().to(security::totp_new))
        .route(
            "/dashboard/password",
            web::post().to(security::change_password),
        )
        .route(
            "/dashboard/totp/confirm",
            web::post().to(security::totp_confirm),
        )
        .route(
            "/dashboard/totp/remove",
            web::post().to(security::totp_remove),
        )
        .route(
            "/dashboard/passkeys/options",
            web::post().to(passkeys::register_options),
        )
        .route("/dashboard/passkeys", web::post().to(passkeys::register))
        .route(
            "/dashboard/passkeys/rename",
            web::post().to(security::passkey_rename),
        )
        .route(
            "/dashboard/passkeys/remove",
            web::post().to(security::passkey_remove),
        )
        .route(
            "/dashboard/resource-servers",
            web::post().to(dashboard::add_resource_server),
        )
        .route(
            "/dashboard/resource-servers/revoke",
            web::post().to(dashboard::revoke_resource_server),
        );
}

/// The endpoints clients and resource servers call: tokens,
/// introspection, revocation and userinfo (with their CORS preflights).
fn endpoint_routes(cfg: &mut web::ServiceConfig) {
    // The two verifications first: actix tries the routes in order, and
    // each one passed over costs a Micropub request (issue 10).
    cfg.route("/token", web::get().to(token_get))
        .route("/introspect", web::post().to(introspect::post))
        .route("/token", web::post().to(token_post))
        .route("/token", web::method(Method::OPTIONS).to(preflight))
        .route("/revoke", web::post().to(revoke_post))
        .route("/revoke", web::method(Method::OPTIONS).to(preflight))
        .route("/userinfo", web::get().to(userinfo_get))
        .route("/userinfo", web::method(Method::OPTIONS).to(preflight));
}

/// DISC-18: browser-based clients may read the token, revocation and
/// userinfo endpoints' answers from any origin. These endpoints use no
/// cookies, only what the request itself carries, so allowing every origin
/// (without credentials) gives a page nothing it did not already hold.
/// Never on the authorization endpoint or the owner's pages (SEC-14).
/// Set here rather than by a middleware on the resources: wrapping
/// `/token` in one measured 2.8 µs more per verification (`bench/verify.sh`,
/// 9.8 → 12.6 µs of server CPU), the hot path's whole budget.
fn allow_any_origin(mut resp: HttpResponse) -> HttpResponse {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("WWW-Authenticate, Retry-After"),
    );
    resp
}

async fn token_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    allow_any_origin(token::verify(req, state).await)
}

// A body that cannot be read is answered here, not by the extractor, so
// that a browser-based client can read that error too.
async fn token_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<Body, BodyError>,
) -> HttpResponse {
    allow_any_origin(match body {
        Ok(body) => token::post(req, state, body).await,
        Err(e) => e.oauth_response(),
    })
}

async fn revoke_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<Body, BodyError>,
) -> HttpResponse {
    allow_any_origin(match body {
        Ok(body) => revoke::post(req, state, body).await,
        Err(e) => e.oauth_response(),
    })
}

async fn userinfo_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    allow_any_origin(userinfo::get(req, state).await)
}

/// The CORS preflight for the endpoints above (an `Authorization` header
/// makes a request non-simple).
async fn preflight() -> HttpResponse {
    allow_any_origin(
        HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, Accept",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .finish(),
    )
}
