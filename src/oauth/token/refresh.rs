//! Refreshing (REF-*): a refresh token is rotated for a new access token,
//! and a rotated one that comes back is a breach that revokes its grant.

use super::{IssueFor, TokenResponse, issue_tokens};
use crate::clock::UnixTime;
use crate::config::Settings;
use crate::domain::{ClientId, ScopeSet, Secret};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::store::events::EventKind;
use crate::store::{StoreResult, events, tokens};
use rusqlite::Transaction;

/// How long after a rotation the old refresh token still works, for a
/// client that refreshed twice at once (two tabs, a retry after a timeout).
pub const REFRESH_GRACE_SECONDS: i64 = 30;

/// A parsed refresh request (REF-2).
#[derive(Debug)]
pub struct RefreshRequest {
    token: Secret,
    client_id: Option<ClientId>,
    scope: Option<String>,
}

impl RefreshRequest {
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        if p.first_repeated(&["refresh_token", "client_id", "scope", "grant_type"])
            .is_some()
        {
            return Err(OAuthError::invalid_request("a parameter is repeated"));
        }
        let token = p
            .get("refresh_token")?
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let client_id = p
            .get("client_id")?
            .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
        Ok(RefreshRequest {
            token: Secret::from_presented(token),
            client_id: ClientId::parse(client_id).ok(),
            scope: p.get("scope")?.map(str::to_owned),
        })
    }
}

/// REF-3..9: rotate the refresh token and issue a new access token. A
/// rotated token presented again after the grace window is a breach: the
/// whole grant is revoked, and that is committed (REF-8).
pub fn refresh(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    req: &RefreshRequest,
) -> StoreResult<Result<TokenResponse, OAuthError>> {
    let hash = req.token.hash();
    let bad = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let Some(rec) = tokens::find_refresh_token(tx, &hash)? else {
        return Ok(Err(bad()));
    };
    if rec.revoked || rec.expires_at <= now {
        return Ok(Err(bad()));
    }
    // REF-8: a rotated token presented again is a breach, except once
    // inside the grace window (a client that refreshed twice at once) and
    // only while none of its successors has been used. A second reuse, one
    // after the window, or one of a sibling that lost (below) revokes the
    // whole grant.
    if let Some(rotated) = rec.rotated_at
        && (now - rotated > REFRESH_GRACE_SECONDS
            || rec.grace_used
            || tokens::refresh_successor_used(tx, &hash)?)
    {
        return reuse_detected(tx, now, &rec).map(|()| Err(bad()));
    }
    if req.client_id.as_ref() != Some(&rec.client_id) {
        return Ok(Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client_id",
        )));
    }
    let granted = &rec.scope;
    let access_scope = match &req.scope {
        None => granted.clone(),
        Some(s) => match ScopeSet::parse(s) {
            Ok(asked) if asked.is_subset_of(granted) && !asked.is_empty() => asked,
            _ => {
                return Ok(Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds what was granted",
                )));
            }
        },
    };
    if rec.rotated_at.is_some() {
        tokens::mark_refresh_grace_used(tx, &hash, now)?;
    } else {
        tokens::mark_refresh_rotated(tx, &hash, now)?;
        // The successors handed out for one rotated token are siblings:
        // this one is used first, so the others are spent (REF-8).
        if let Some(parent) = &rec.parent {
            tokens::supersede_refresh_siblings(tx, parent, &hash, now)?;
        }
    }
    let issued = issue_tokens(
        tx,
        now,
        settings,
        &IssueFor {
            grant_id: rec.grant_id,
            client_id: &rec.client_id,
            me: &rec.me,
            access_scope: &access_scope,
            refresh_scope: granted,
            access_lifetime: rec
                .access_lifetime
                .or(Some(settings.access_token_lifetime.as_secs() as i64)),
            rotated_from: Some(&hash),
        },
    )?;
    Ok(Ok(issued))
}

/// A spent refresh token came back: someone holds a copy. The whole grant
/// is revoked, access tokens included, and the caller commits that even
/// though the request fails (REF-8, SEC-11).
fn reuse_detected(
    tx: &Transaction<'_>,
    now: UnixTime,
    rec: &tokens::RefreshRecord,
) -> StoreResult<()> {
    tokens::revoke_grant(tx, rec.grant_id, now)?;
    tracing::warn!(
        grant = rec.grant_id,
        "spent refresh token reused; grant revoked"
    );
    events::record(
        tx,
        now,
        EventKind::RefreshReused,
        Some(rec.client_id.as_str()),
        Some("the whole grant was revoked"),
    )
}
