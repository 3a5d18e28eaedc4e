//! Token revocation: the RFC 7009 endpoint (REV-1..7) and the legacy
//! `action=revoke` on the token endpoint (REV-L1), which share these rules.
//! Revoking either an access or a refresh token ends the whole grant
//! (REV-5, REF-11): the owner approved one thing, the app gives it back.

use super::error::OAuthError;
use super::params::Params;
use crate::clock::UnixTime;
use crate::domain::{ClientId, Secret};
use crate::store::events::EventKind;
use crate::store::{StoreResult, events, tokens};
use rusqlite::Transaction;

/// A parsed revocation request (REV-1).
#[derive(Debug)]
pub struct RevokeRequest {
    token: Secret,
    /// REV-6: when present, it must be the client the token was issued to.
    client_id: Option<String>,
}

impl RevokeRequest {
    /// `token` is required (REV-7); `token_type_hint` is accepted and
    /// ignored, valid or not (REV-1): the search covers every token type.
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        if p.first_repeated(&["token", "client_id", "token_type_hint"])
            .is_some()
        {
            return Err(OAuthError::invalid_request("a parameter is repeated"));
        }
        let token = p
            .get("token")?
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        Ok(RevokeRequest {
            token: Secret::from_presented(token),
            client_id: p.get("client_id")?.map(str::to_owned),
        })
    }
}

/// Who asked for the revocation, for the owner's activity log.
#[derive(Debug, Clone, Copy)]
pub enum RevokedBy {
    /// RFC 7009 endpoint.
    App,
    /// `action=revoke` at the token endpoint.
    AppLegacy,
    /// The owner, on the dashboard.
    Dashboard,
    /// The owner, with `doorstep tokens revoke`.
    CommandLine,
}

impl RevokedBy {
    fn detail(self) -> &'static str {
        match self {
            RevokedBy::App => "by the app",
            RevokedBy::AppLegacy => "by the app (action=revoke)",
            RevokedBy::Dashboard => "on the dashboard",
            RevokedBy::CommandLine => "from the command line",
        }
    }
}

/// Ends a grant — every token it produced — and records who did it.
/// False when it was unknown or already revoked.
pub fn end_grant(
    tx: &Transaction<'_>,
    now: UnixTime,
    grant_id: i64,
    by: RevokedBy,
) -> StoreResult<bool> {
    if !tokens::revoke_grant(tx, grant_id, now)? {
        return Ok(false);
    }
    let client = tokens::grant_client(tx, grant_id)?;
    events::record(
        tx,
        now,
        EventKind::Revoked,
        client.as_deref(),
        Some(by.detail()),
    )?;
    Ok(true)
}

/// REV-2..6: an unknown or already revoked token is fine (REV-3); a token
/// issued to another client than the one named is refused (REV-6).
pub fn revoke(
    tx: &Transaction<'_>,
    now: UnixTime,
    req: &RevokeRequest,
    by: RevokedBy,
) -> StoreResult<Result<(), OAuthError>> {
    let Some((grant, client)) = tokens::grant_of_token(tx, &req.token.hash())? else {
        return Ok(Ok(()));
    };
    if let Some(named) = &req.client_id {
        // LEG-11: `https://app.example` and `https://app.example/` are one
        // client; compare canonical forms.
        let same = ClientId::parse(named).is_ok_and(|c| c.as_str() == client);
        if !same {
            return Ok(Err(OAuthError::invalid_request(
                "the token was not issued to this client_id",
            )));
        }
    }
    end_grant(tx, now, grant, by)?;
    Ok(Ok(()))
}
