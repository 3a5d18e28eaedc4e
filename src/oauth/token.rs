//! Codes and tokens: issuing a code when the owner approves, redeeming it at
//! either endpoint (REDA-*, REDT-*), and issuing access and refresh tokens.
//! Everything runs inside one immediate transaction handed in by the caller,
//! so taking a code and issuing its tokens is atomic, and a replay's
//! revocation is committed even though the request fails (STYLE habit 6).
//! Refreshing is `refresh`.

use super::error::OAuthError;
use super::params::Params;
use super::revoke::RevokeRequest;
use crate::clock::UnixTime;
use crate::config::Settings;
use crate::domain::{
    ClientId, CodeChallenge, CodeVerifier, PkceMethod, ScopeSet, Secret, SecretHash,
};
use crate::store::codes::{CodeRecord, Tombstone};
use crate::store::events::EventKind;
use crate::store::tokens::{ActiveToken, Grant};
use crate::store::{StoreResult, codes, events, tokens};
use rusqlite::Transaction;
use serde::Serialize;

mod refresh;
pub use refresh::{REFRESH_GRACE_SECONDS, RefreshRequest, refresh};

/// The profile object (IA §5.3.4): `email` only with the `email` scope.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Profile {
    /// PROF-1, PROF-4, PROF-6: from configuration, for the granted scopes.
    pub fn for_scope(settings: &Settings, scope: &ScopeSet) -> Option<Profile> {
        if !scope.contains("profile") {
            return None;
        }
        Some(Profile {
            name: settings.name.clone(),
            url: settings.me.as_str().to_owned(),
            photo: settings.photo.as_ref().map(|u| u.to_string()),
            email: if scope.contains("email") {
                settings.email.clone()
            } else {
                None
            },
        })
    }
}

/// REDT-5: the access token response.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub scope: String,
    pub me: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// REDA-3: the profile URL response from the authorization endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileResponse {
    pub me: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// REDA-6: only for codes issued without PKCE, for legacy token
    /// endpoints that verify codes here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Issues a code for what the owner approved (CODE-1, 4, 5): random,
/// stored hashed, bound to the grant it will become and to the PKCE
/// challenge, if any.
pub fn issue_code(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    grant: Grant,
    pkce: Option<(CodeChallenge, PkceMethod)>,
) -> StoreResult<Secret> {
    if let Some((challenge, _)) = &pkce
        && codes::challenge_in_use(tx, challenge, now)?
    {
        // CODE-9: a reused challenge defeats PKCE; worth a warning.
        tracing::warn!(client_id = %grant.client_id, "client reuses a PKCE code_challenge across requests");
    }
    events::record(
        tx,
        now,
        EventKind::Approved,
        Some(grant.client_id.as_str()),
        Some(&grant.scope.to_string()),
    )?;
    let code = Secret::generate();
    codes::insert(
        tx,
        &code.hash(),
        &CodeRecord {
            grant,
            pkce,
            issued_at: now,
            expires_at: now + settings.code_lifetime.as_secs() as i64,
        },
    )?;
    Ok(code)
}

/// A POST to the token endpoint, parsed: one variant per grant type
/// doorstep supports, and the legacy `action=revoke` (REV-L1). Anything
/// else is refused here, before any lookup.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode(CodeRedemption),
    RefreshToken(RefreshRequest),
    Revoke(RevokeRequest),
}

impl TokenRequest {
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        if p.has("action") {
            // REV-L2: `action` together with `grant_type` is ambiguous.
            if p.has("grant_type") {
                return Err(OAuthError::invalid_request(
                    "send either action or grant_type, not both",
                ));
            }
            return match p.get("action")? {
                Some("revoke") => RevokeRequest::parse(p).map(TokenRequest::Revoke),
                _ => Err(OAuthError::invalid_request(
                    "the only supported action is revoke",
                )),
            };
        }
        match p.get("grant_type")? {
            Some("authorization_code") => CodeRedemption::parse(p).map(Self::AuthorizationCode),
            Some("refresh_token") => RefreshRequest::parse(p).map(Self::RefreshToken),
            // Compatibility: a code without grant_type is a code exchange.
            None if p.has("code") => CodeRedemption::parse(p).map(Self::AuthorizationCode),
            None => Err(OAuthError::invalid_request("grant_type is required")),
            Some(_) => Err(OAuthError::new(
                super::ErrorCode::UnsupportedGrantType,
                "supported grant types are authorization_code and refresh_token",
            )),
        }
    }
}

/// A parsed code redemption request (REDA-1, REDT-2).
#[derive(Debug)]
pub struct CodeRedemption {
    code: Secret,
    client_id: Option<ClientId>,
    redirect_uri: String,
    code_verifier: Option<String>,
}

impl CodeRedemption {
    /// Missing or repeated parameters are `invalid_request` (REDT-7); a
    /// legacy `me` is ignored (REDT-8).
    pub fn parse(p: &Params) -> Result<Self, OAuthError> {
        if p.first_repeated(&[
            "code",
            "client_id",
            "redirect_uri",
            "code_verifier",
            "grant_type",
        ])
        .is_some()
        {
            return Err(OAuthError::invalid_request("a parameter is repeated"));
        }
        let code = p
            .get("code")?
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let client_id = p
            .get("client_id")?
            .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
        let redirect_uri = p
            .get("redirect_uri")?
            .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
        Ok(CodeRedemption {
            code: Secret::from_presented(code),
            // A client_id that does not even parse cannot match any code.
            client_id: ClientId::parse(client_id).ok(),
            redirect_uri: redirect_uri.to_owned(),
            code_verifier: p.get("code_verifier")?.map(str::to_owned),
        })
    }
}

/// A code taken and checked against the request that presents it.
struct ValidCode {
    hash: SecretHash,
    record: CodeRecord,
}

/// REDA-2 / REDT-2, 3 and CODE-2, 3, 8, PKCE-6..10: takes the code first,
/// so any failure after that consumes it, then checks it against the
/// request. A replayed code revokes whatever its first redemption
/// produced, and the caller commits that with the failure (CODE-3).
fn take_valid_code(
    tx: &Transaction<'_>,
    now: UnixTime,
    req: &CodeRedemption,
) -> StoreResult<Result<ValidCode, OAuthError>> {
    let hash = req.code.hash();
    let Some(record) = codes::take(tx, &hash)? else {
        let tombstone = codes::tombstone(tx, &hash)?;
        if tombstone != Tombstone::Absent {
            if let Tombstone::Grant(grant_id) = tombstone {
                tokens::revoke_grant(tx, grant_id, now)?;
            }
            tracing::warn!(code = %hash.log_id(), "authorization code replayed; its tokens are revoked");
            events::record(
                tx,
                now,
                EventKind::CodeReplayed,
                None,
                Some("tokens from that code were revoked"),
            )?;
        }
        return Ok(Err(OAuthError::invalid_grant(
            "the code is invalid, expired or already used",
        )));
    };
    if record.expires_at <= now {
        return Ok(Err(OAuthError::invalid_grant("the code has expired")));
    }
    if req.client_id.as_ref() != Some(&record.grant.client_id) {
        return Ok(Err(OAuthError::invalid_grant(
            "the code was issued to another client_id",
        )));
    }
    if req.redirect_uri != record.grant.redirect_uri {
        return Ok(Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        )));
    }
    if let Err(e) = check_pkce(record.pkce.as_ref(), req.code_verifier.as_deref()) {
        return Ok(Err(e));
    }
    Ok(Ok(ValidCode { hash, record }))
}

/// REDA-2..6: redemption at the authorization endpoint, which answers
/// the identity only.
pub fn redeem_for_profile(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    req: &CodeRedemption,
) -> StoreResult<Result<ProfileResponse, OAuthError>> {
    let ValidCode { record: code, .. } = match take_valid_code(tx, now, req)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let grant = &code.grant;
    events::record(
        tx,
        now,
        EventKind::SignedIn,
        Some(grant.client_id.as_str()),
        None,
    )?;
    Ok(Ok(ProfileResponse {
        me: grant.me.clone(),
        profile: Profile::for_scope(settings, &grant.scope),
        scope: (code.pkce.is_none() && !grant.scope.is_empty()).then(|| grant.scope.to_string()),
    }))
}

/// REDT-2..4: redemption at the token endpoint, which creates the grant
/// and issues its first tokens.
pub fn redeem_for_token(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    req: &CodeRedemption,
) -> StoreResult<Result<TokenResponse, OAuthError>> {
    let ValidCode { hash, record } = match take_valid_code(tx, now, req)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let grant = record.grant;
    if grant.scope.is_empty() {
        // REDT-4: an authentication-only code never yields a token.
        return Ok(Err(OAuthError::invalid_grant(
            "the code has no scope; redeem it at the authorization endpoint",
        )));
    }
    let grant_id = tokens::create_grant(tx, &grant, now)?;
    codes::link_tombstone(tx, &hash, grant_id)?;
    let issued = issue_tokens(
        tx,
        now,
        settings,
        &IssueFor {
            grant_id,
            client_id: &grant.client_id,
            me: &grant.me,
            access_scope: &grant.scope,
            refresh_scope: &grant.scope,
            access_lifetime: grant.access_lifetime,
            rotated_from: None,
        },
    )?;
    events::record(
        tx,
        now,
        EventKind::TokenIssued,
        Some(grant.client_id.as_str()),
        Some(&grant.scope.to_string()),
    )?;
    Ok(Ok(issued))
}

/// PKCE-6..10: a code issued with a challenge needs a matching verifier; a
/// code issued without one must not receive one (downgrade, PKCE-9).
fn check_pkce(
    pkce: Option<&(CodeChallenge, PkceMethod)>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (pkce, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent for a code issued without a code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some((challenge, method)), Some(verifier)) => match CodeVerifier::parse(verifier) {
            Ok(v) if challenge.is_satisfied_by(*method, &v) => Ok(()),
            _ => Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            )),
        },
    }
}

/// What a new access (and refresh) token is issued for.
pub struct IssueFor<'a> {
    pub grant_id: i64,
    pub client_id: &'a ClientId,
    pub me: &'a str,
    pub access_scope: &'a ScopeSet,
    /// REF-6: a new refresh token keeps the grant's full scope.
    pub refresh_scope: &'a ScopeSet,
    pub access_lifetime: Option<i64>,
    /// The refresh token being rotated, if any: the new one is its child.
    pub rotated_from: Option<&'a SecretHash>,
}

/// Issues an access token, and a refresh token when the access token
/// expires (clients that refresh need one; a token valid until revoked
/// does not). Only hashes are stored (REDT-9, CODE-5).
pub fn issue_tokens(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    f: &IssueFor<'_>,
) -> StoreResult<TokenResponse> {
    let access = Secret::generate();
    tokens::insert_access_token(
        tx,
        &access.hash(),
        &ActiveToken {
            grant_id: f.grant_id,
            client_id: f.client_id.clone(),
            me: f.me.to_owned(),
            scope: f.access_scope.clone(),
            issued_at: now,
            expires_at: f.access_lifetime.map(|l| now + l),
        },
    )?;
    let refresh = match f.access_lifetime {
        Some(_) => {
            let refresh = Secret::generate();
            tokens::insert_refresh_token(
                tx,
                &refresh.hash(),
                &tokens::NewRefreshToken {
                    grant_id: f.grant_id,
                    scope: f.refresh_scope,
                    issued_at: now,
                    expires_at: now + settings.refresh_token_lifetime.as_secs() as i64,
                    parent: f.rotated_from,
                },
            )?;
            Some(refresh.expose().to_owned())
        }
        None => None,
    };
    Ok(TokenResponse {
        access_token: access.expose().to_owned(),
        token_type: "Bearer",
        scope: f.access_scope.to_string(),
        me: f.me.to_owned(),
        expires_in: f.access_lifetime,
        refresh_token: refresh,
        profile: Profile::for_scope(settings, f.access_scope),
    })
}

#[cfg(test)]
mod tests;
