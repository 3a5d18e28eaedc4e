//! The owner's dashboard: the link tags for their homepage, and the apps
//! they allowed to sign in without PKCE (withdrawable).

use super::AppState;
use super::respond::{body_text, error_page, html, internal_error_page, see_other};
use super::session;
use crate::oauth::Params;
use crate::store::{clients, events};
use crate::views::{Dashboard, ExemptionRow, format_time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// The `<link>` tags the owner puts on their homepage (DISC-13, DISC-14).
pub fn link_tags(s: &crate::config::Settings) -> String {
    let mut out = format!(
        "<link rel=\"indieauth-metadata\" href=\"{}\">\n<link rel=\"authorization_endpoint\" href=\"{}\">\n<link rel=\"token_endpoint\" href=\"{}\">",
        s.metadata_url(),
        s.endpoint("auth"),
        s.endpoint("token")
    );
    if let Some(m) = &s.micropub {
        out.push_str(&format!("\n<link rel=\"micropub\" href=\"{m}\">"));
    }
    if let Some(m) = &s.microsub {
        out.push_str(&format!("\n<link rel=\"microsub\" href=\"{m}\">"));
    }
    out
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let owner = match session::owner(&req, &state).await {
        Ok(Some(o)) => o,
        Ok(None) => return see_other("/login"),
        Err(e) => return internal_error_page(&state, &e),
    };
    let exemptions = match state.store.read(clients::pkce_exemptions).await {
        Ok(e) => e,
        Err(e) => return internal_error_page(&state, &e),
    };
    let tags = link_tags(&state.settings);
    html(
        StatusCode::OK,
        &Dashboard {
            footer_host: state.footer_host(),
            me: state.settings.me.as_str(),
            csrf: &owner.csrf(),
            serves_homepage: state.settings.serves_homepage(),
            link_tags: &tags,
            pkce_exemptions: exemptions
                .into_iter()
                .map(|(client_id, at)| ExemptionRow {
                    client_id,
                    since: format_time(at),
                })
                .collect(),
        },
    )
}

pub async fn remove_pkce_exemption(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let params = Params::parse(body_text(&body));
    match session::owner(&req, &state).await {
        Ok(Some(o)) if o.csrf_ok(params.get("csrf").ok().flatten()) => {}
        Ok(_) => {
            return error_page(
                &state,
                StatusCode::FORBIDDEN,
                "Form expired",
                "Reload the dashboard and try again.",
            );
        }
        Err(e) => return internal_error_page(&state, &e),
    }
    let client_id = params
        .get("client_id")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let now = state.now();
    let result = state
        .store
        .write(move |tx| {
            if clients::remove_pkce_exemption(tx, &client_id)? {
                events::record(tx, now, "pkce_exemption_removed", Some(&client_id), None)?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => see_other("/dashboard"),
        Err(e) => internal_error_page(&state, &e),
    }
}
