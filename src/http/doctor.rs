//! `GET /doctor/address`: what this server believes about the caller's
//! address, for `doorstep doctor` to check that `X-Forwarded-For` is
//! believed only from trusted proxies. It answers only a live token that
//! `doorstep doctor` issued for itself (client id `DOCTOR_CLIENT_ID`), so
//! it tells nobody else anything.

use super::AppState;
use super::respond::{bearer_access_token, bearer_refusal, json};
use super::session::client_addr;
use crate::doctor::{AddressReport, DOCTOR_CLIENT_ID};
use crate::oauth::BearerError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn address(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = match bearer_access_token(&req, &state) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    if token.client_id.as_str() != DOCTOR_CLIENT_ID {
        return bearer_refusal(BearerError::InsufficientScope("doctor"));
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let forwarded_for = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    json(
        StatusCode::OK,
        &AddressReport {
            peer: peer.map(|p| p.to_string()).unwrap_or_default(),
            peer_is_trusted_proxy: peer.is_some_and(|p| state.settings.trusted_proxies.contains(p)),
            client: client_addr(&req, &state).to_string(),
            forwarded_for,
        },
    )
}
