//! The owner's dashboard (SEC-22; issue 4, item 7; issue 9, §8): every app
//! with live access (name and host, logo, scopes, when granted, last used,
//! expiry) with a revoke button each that names its app, and "Revoke every
//! app", which asks first on a page of its own; the recent activity, naming
//! apps by the name they gave; the resource-server secrets for
//! introspection, the apps allowed without PKCE, and the link tags for the
//! owner's homepage. ("Signing in" is `security` and `passkeys`.) Every
//! form that changes anything carries the session's CSRF token and is
//! refused without it (SEC-5).

use super::AppState;
use super::forms::{FreshOwnerForm, OwnerForm};
use super::respond::{html, internal_error_page, see_other};
use super::session;
use crate::oauth::revoke::{RevokedBy, end_grant};
use crate::oauth::{Params, introspect};
use crate::owner::factors::SignInMode;
use crate::store::events::EventKind;
use crate::store::identity::{self, Identity};
use crate::store::{clients, events, factors, resource_servers, tokens};
use crate::views::{
    AppRow, Dashboard, EventRow, ExemptionRow, GrantRow, ModeChoice, PasskeyRow,
    ResourceServerCreated, ResourceServerRow, RevokeAllPage, describe_event, format_time,
};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::HashMap;

/// Activity entries shown.
const RECENT_EVENTS: usize = 30;

/// The `<link>` tags the owner puts on their homepage (DISC-13, DISC-14),
/// one per line.
pub fn link_tags(s: &crate::config::Settings) -> String {
    let links = crate::oauth::metadata::homepage_links(s);
    askama::Template::render(&crate::views::LinkTags { links: &links }).unwrap_or_default()
}

/// `app.example.com` (with a port if it has one) for a client id.
fn client_host(client_id: &str) -> String {
    url::Url::parse(client_id)
        .ok()
        .and_then(|u| crate::domain::host_and_port(&u))
        .unwrap_or_else(|| client_id.to_owned())
}

/// Apps the dashboard and the "revoke every app" page list at most, the
/// newest first; the rest are counted, and `?apps=all` lists every one. A
/// single owner has a handful; the bound keeps a page (and the memory that
/// writes it) from growing with every grant ever made: on the benchmark's
/// database of 100,000 grants one dashboard view used to be tens of MB.
const APPS_SHOWN: usize = 100;

/// How many apps a dashboard request asks to see: `?apps=all` for all.
fn apps_shown(req: &HttpRequest) -> Option<usize> {
    let all = Params::find(req.query_string(), "apps").ok().flatten();
    if all.as_deref() == Some("all") {
        None
    } else {
        Some(APPS_SHOWN)
    }
}

fn when(t: Option<i64>, none: &str) -> String {
    t.map(format_time).unwrap_or_else(|| none.to_owned())
}

struct Loaded {
    exemptions: Vec<(String, i64)>,
    grants: Vec<tokens::GrantSummary>,
    /// Active grants in all, `grants` being the newest of them.
    grant_count: usize,
    servers: Vec<resource_servers::ResourceServer>,
    events: Vec<events::Event>,
    sign_in: factors::Summary,
    passkeys: Vec<factors::StoredPasskey>,
    /// The name each app in `events` and `exemptions` goes by.
    names: HashMap<String, String>,
}

/// The names of the apps that `client_ids` name, where they gave one.
fn app_names<'a>(
    conn: &rusqlite::Connection,
    client_ids: impl Iterator<Item = &'a str>,
) -> crate::store::StoreResult<HashMap<String, String>> {
    let mut names = HashMap::new();
    for id in client_ids {
        if names.contains_key(id) {
            continue;
        }
        if let Some(name) = clients::app_name(conn, id)? {
            names.insert(id.to_owned(), name);
        }
    }
    Ok(names)
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let owner = match session::owner(&req, &state).await {
        Ok(Some(o)) => o,
        Ok(None) => return see_other("/login"),
        Err(e) => return internal_error_page(&state, &e),
    };
    let now = state.now();
    let shown = apps_shown(&req);
    let loaded = state
        .store
        .read(move |c| {
            let exemptions = clients::pkce_exemptions(c)?;
            let events = events::recent(c, RECENT_EVENTS)?;
            let names = app_names(
                c,
                events
                    .iter()
                    .filter_map(|e| e.client_id.as_deref())
                    .chain(exemptions.iter().map(|(id, _)| id.as_str())),
            )?;
            Ok(Loaded {
                exemptions,
                grants: tokens::active_grants(c, now, shown)?,
                grant_count: tokens::count_active_grants(c, now)?,
                servers: resource_servers::list(c)?,
                events,
                sign_in: factors::summary(c)?,
                passkeys: factors::passkeys(c)?,
                names,
            })
        })
        .await;
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => return internal_error_page(&state, &e),
    };
    let tags = link_tags(&state.settings);
    let introspection_endpoint = state.settings.endpoint("introspect");
    let mode = loaded.sign_in.mode;
    let passkeys_available = state.webauthn.is_some();
    let page = html(
        StatusCode::OK,
        &Dashboard {
            footer_host: state.footer_host(),
            me: state.settings.me.as_str(),
            csrf: &owner.csrf(),
            serves_homepage: state.settings.serves_homepage(),
            link_tags: &tags,
            pkce_exemptions: exemption_rows(loaded.exemptions, &loaded.names),
            grants: grant_rows(&state, loaded.grants, now),
            grant_count: loaded.grant_count,
            resource_servers: resource_server_rows(&state, loaded.servers),
            introspection_endpoint: &introspection_endpoint,
            events: event_rows(loaded.events, &loaded.names),
            mode: mode.describe(),
            modes: mode_choices(mode),
            passkeys: passkey_rows(loaded.passkeys),
            passkeys_available,
            passkey_note: (!passkeys_available)
                .then(|| crate::owner::passkeys::unavailable_reason(&state.settings.issuer)),
            totp: loaded.sign_in.totp,
            recovery_codes_left: loaded.sign_in.recovery_codes_left,
            min_len: crate::owner::password::MIN_LEN,
        },
    );
    if passkeys_available {
        super::respond::allow_own_script(page)
    } else {
        page
    }
}

fn grant_rows(state: &AppState, grants: Vec<tokens::GrantSummary>, now: i64) -> Vec<GrantRow> {
    grants
        .into_iter()
        .map(|g| {
            // Unflushed uses are newer than the stored time (`store::usage`).
            let last_used = match (g.last_used_at, state.usage.pending_grant(g.id)) {
                (a, None) => a,
                (None, b) => b,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
            let host = client_host(g.client_id.as_str());
            let app_name = g.client_name.clone().unwrap_or_else(|| host.clone());
            GrantRow {
                id: g.id,
                initial: app_name
                    .chars()
                    .find(|c| c.is_alphanumeric())
                    .map(|c| c.to_uppercase().collect())
                    .unwrap_or_default(),
                app_name,
                host,
                // Only a logo doorstep already holds is shown, from its own
                // origin (CID-19: never hot-linked, nothing fetched here).
                logo_url: g
                    .client_logo
                    .filter(|l| state.logos.get(l, now).is_some())
                    .map(|l| {
                        format!(
                            "/auth/logo?url={}",
                            url::form_urlencoded::byte_serialize(l.as_bytes()).collect::<String>()
                        )
                    }),
                scopes: g.scope.iter().map(|s| s.as_str().to_owned()).collect(),
                granted: format_time(g.created_at),
                last_used: when(last_used, "never"),
                expires: when(g.expires_at, "when revoked"),
                client_id: g.client_id.to_string(),
            }
        })
        .collect()
}

fn resource_server_rows(
    state: &AppState,
    servers: Vec<resource_servers::ResourceServer>,
) -> Vec<ResourceServerRow> {
    servers
        .into_iter()
        .filter(|s| s.revoked_at.is_none())
        .map(|s| ResourceServerRow {
            last_used: when(
                state.usage.pending_resource_server(s.id).or(s.last_used_at),
                "never",
            ),
            id: s.id,
            name: s.name,
            created: format_time(s.created_at),
        })
        .collect()
}

fn exemption_rows(
    exemptions: Vec<(String, i64)>,
    names: &HashMap<String, String>,
) -> Vec<ExemptionRow> {
    exemptions
        .into_iter()
        .map(|(client_id, at)| ExemptionRow {
            app_name: names.get(&client_id).cloned(),
            client_id,
            since: format_time(at),
        })
        .collect()
}

fn event_rows(events: Vec<events::Event>, names: &HashMap<String, String>) -> Vec<EventRow> {
    events
        .into_iter()
        .map(|e| EventRow {
            at: format_time(e.at),
            what: describe_event(&e.kind),
            // Apps by the name they go by; their host when they gave none.
            app: e
                .client_id
                .as_ref()
                .map(|c| names.get(c).cloned().unwrap_or_else(|| client_host(c))),
            client_id: e.client_id,
            detail: e.detail,
        })
        .collect()
}

fn mode_choices(current: SignInMode) -> Vec<ModeChoice> {
    [
        SignInMode::Password,
        SignInMode::SecondFactor,
        SignInMode::PasskeyOnly,
    ]
    .into_iter()
    .map(|m| ModeChoice {
        value: m.as_str(),
        label: match m {
            SignInMode::Password => "Password (a passkey works too)",
            SignInMode::SecondFactor => {
                "Password plus a second factor: an authenticator-app code or a passkey"
            }
            SignInMode::PasskeyOnly => {
                "Passkey only (a password with a recovery code is the way back in)"
            }
        },
        checked: m == current,
    })
    .collect()
}

fn passkey_rows(passkeys: Vec<factors::StoredPasskey>) -> Vec<PasskeyRow> {
    passkeys
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            label: p.label,
            created: format_time(p.created_at),
            last_used: when(p.last_used_at, "never"),
        })
        .collect()
}

/// A numeric id from the form (a grant, a resource server, a passkey).
pub(super) fn id_param(params: &Params, name: &'static str) -> Option<i64> {
    params.get(name).ok().flatten()?.parse().ok()
}

/// Runs a dashboard form's change in one write transaction, then shows
/// the dashboard again (303, CONS-11).
pub(super) async fn back_to_dashboard<F>(state: &AppState, change: F) -> HttpResponse
where
    F: FnOnce(&rusqlite::Transaction<'_>) -> crate::store::StoreResult<()> + Send + 'static,
{
    match state.store.write(change).await {
        Ok(()) => see_other("/dashboard"),
        Err(e) => internal_error_page(state, &e),
    }
}

pub async fn remove_pkce_exemption(
    OwnerForm { params, .. }: OwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let client_id = params
        .get("client_id")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let now = state.now();
    back_to_dashboard(&state, move |tx| {
        if clients::remove_pkce_exemption(tx, &client_id)? {
            events::record(
                tx,
                now,
                EventKind::PkceExemptionRemoved,
                Some(&client_id),
                None,
            )?;
        }
        Ok(())
    })
    .await
}

/// Revokes one grant: every token it produced stops working at once.
pub async fn revoke_grant(
    OwnerForm { params, .. }: OwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(id) = id_param(&params, "grant") else {
        return see_other("/dashboard");
    };
    let now = state.now();
    back_to_dashboard(&state, move |tx| {
        end_grant(tx, now, id, RevokedBy::Dashboard).map(|_| ())
    })
    .await
}

/// "Revoke every app?": the apps it would sign out, and the button that
/// does it. Nothing changes here.
pub async fn revoke_all_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let owner = match session::owner(&req, &state).await {
        Ok(Some(o)) => o,
        Ok(None) => return see_other("/login"),
        Err(e) => return internal_error_page(&state, &e),
    };
    confirm_revoke_all(&state, &owner.csrf()).await
}

async fn confirm_revoke_all(state: &AppState, csrf: &str) -> HttpResponse {
    let now = state.now();
    let (grants, total) = match state
        .store
        .read(move |c| {
            Ok((
                tokens::active_grants(c, now, Some(APPS_SHOWN))?,
                tokens::count_active_grants(c, now)?,
            ))
        })
        .await
    {
        Ok(g) => g,
        Err(e) => return internal_error_page(state, &e),
    };
    html(
        StatusCode::OK,
        &RevokeAllPage {
            footer_host: state.footer_host(),
            csrf,
            total,
            apps: grants
                .into_iter()
                .map(|g| {
                    let host = client_host(g.client_id.as_str());
                    AppRow {
                        name: g.client_name.unwrap_or_else(|| host.clone()),
                        host,
                    }
                })
                .collect(),
        },
    )
}

/// Revokes every grant (for example after losing a device), once the owner
/// confirmed it on the page above (`confirm=yes`); without that, the
/// confirmation is shown and nothing changes. With every app signed out,
/// nothing in the database speaks for an old issuer or `me` any more, so
/// the configured ones are recorded (`store::identity`).
pub async fn revoke_all(
    OwnerForm { params, owner }: OwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    if params.get("confirm").ok().flatten() != Some("yes") {
        return confirm_revoke_all(&state, &owner.csrf()).await;
    }
    let now = state.now();
    let configured = Identity::new(state.settings.issuer_str(), state.settings.me.as_str());
    let wanted = configured.clone();
    let result = state
        .store
        .write(move |tx| {
            for (_, client) in tokens::revoke_all_grants(tx, now)? {
                events::record(
                    tx,
                    now,
                    EventKind::Revoked,
                    Some(&client),
                    Some("all apps, on the dashboard"),
                )?;
            }
            identity::reconcile(tx, &wanted, now)
        })
        .await;
    match result {
        Ok(standing) => {
            identity::report(&standing, &configured, state.store.path());
            see_other("/dashboard")
        }
        Err(e) => internal_error_page(&state, &e),
    }
}

/// Creates a resource-server secret and shows it once (only its hash is
/// kept, VER-4 a). The page answers the POST directly: the secret never
/// travels in a URL.
pub async fn add_resource_server(
    FreshOwnerForm { params, .. }: FreshOwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    // The form's field is required; a name of spaces gets a plain label.
    let name = params
        .get("name")
        .ok()
        .flatten()
        .and_then(introspect::resource_server_name)
        .unwrap_or_else(|| "resource server".to_owned());
    let now = state.now();
    let stored_name = name.clone();
    let secret = match state
        .store
        .write(move |tx| introspect::add_resource_server(tx, &stored_name, now))
        .await
    {
        Ok((_, secret)) => secret,
        Err(e) => return internal_error_page(&state, &e),
    };
    let introspection_endpoint = state.settings.endpoint("introspect");
    html(
        StatusCode::OK,
        &ResourceServerCreated {
            footer_host: state.footer_host(),
            name: &name,
            secret: secret.expose(),
            introspection_endpoint: &introspection_endpoint,
        },
    )
}

pub async fn revoke_resource_server(
    OwnerForm { params, .. }: OwnerForm,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(id) = id_param(&params, "id") else {
        return see_other("/dashboard");
    };
    let now = state.now();
    back_to_dashboard(&state, move |tx| {
        introspect::revoke_resource_server(tx, id, now).map(drop)
    })
    .await
}
