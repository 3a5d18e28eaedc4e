//! Token introspection (RFC 7662; VER-1..9): who may ask, what the answer
//! says. The compatibility fallback's throttle is a `ratelimit` limiter
//! kept in the app state.
//!
//! Callers authenticate (VER-3, SEC-13) with a resource-server secret the
//! owner created (VER-4 a), or — on by default, `introspection_self_auth` —
//! with the inspected token itself as the bearer (VER-4 b, LEG-9), as
//! Indiekit does. The fallback lets anyone ask about a token they hold, so
//! it is throttled per client address (SEC-16): each answer `active:false`
//! it gives costs the address one unit of a small bucket, and an empty
//! bucket answers 429. Legitimate use (valid tokens) costs nothing.

use super::error::OAuthError;
use super::params::Params;
use crate::clock::UnixTime;
use crate::domain::{ScopeSet, Secret, SecretHash, constant_time_eq};
use crate::store::events::EventKind;
use crate::store::tokens::ActiveToken;
use crate::store::{StoreResult, events, resource_servers};
use rusqlite::Transaction;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// A parsed introspection request (VER-1), borrowing the presented token
/// from the request it was read from.
pub struct IntrospectRequest<'a> {
    token: Cow<'a, str>,
}

impl fmt::Debug for IntrospectRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntrospectRequest { token: <redacted> }")
    }
}

impl<'a> IntrospectRequest<'a> {
    /// `token` from the form body (`application/x-www-form-urlencoded`
    /// text); when the body carries none, from the query string (Indiekit
    /// sends `POST /introspect?token=…` with an empty body).
    /// `token_type_hint` is ignored: every type is searched (VER-2).
    pub fn parse(body: &'a str, query: &'a str) -> Result<Self, OAuthError> {
        let token = match Params::find(body, "token")? {
            Some(t) => t,
            None => Params::find(query, "token")?
                .ok_or_else(|| OAuthError::invalid_request("token is required"))?,
        };
        Ok(IntrospectRequest { token })
    }

    pub fn token_hash(&self) -> SecretHash {
        SecretHash::of(&self.token)
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    ResourceServer(i64),
    /// The bearer is the inspected token (VER-4 b).
    TheTokenItself,
}

/// Why a caller is refused (401, VER-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No bearer credential at all: `WWW-Authenticate: Bearer`.
    NoCredentials,
    /// A bearer that is neither a resource-server secret nor (when allowed)
    /// the inspected token: `error="invalid_token"`.
    InvalidCredentials,
}

/// How the caller claims to be authorized, before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The bearer is the inspected token and the fallback is on (VER-4 b).
    TheTokenItself,
    /// A bearer to look up among the resource-server secrets (VER-4 a).
    Secret(SecretHash),
}

/// The first step: no bearer at all is refused outright (VER-3); a bearer
/// equal to the token (compared in constant time) is the fallback when it
/// is allowed; anything else must be a resource-server secret.
pub fn claim(
    bearer: Option<&str>,
    req: &IntrospectRequest<'_>,
    self_auth: bool,
) -> Result<Claim, Refused> {
    let bearer = bearer.ok_or(Refused::NoCredentials)?;
    if self_auth && constant_time_eq(bearer.as_bytes(), req.token.as_bytes()) {
        return Ok(Claim::TheTokenItself);
    }
    Ok(Claim::Secret(SecretHash::of(bearer)))
}

/// The second step, once the secret was looked up (`store::live`, which
/// compares secrets in constant time).
pub fn caller(claim: Claim, resource_server: Option<i64>) -> Result<Caller, Refused> {
    match (claim, resource_server) {
        (Claim::TheTokenItself, _) => Ok(Caller::TheTokenItself),
        (Claim::Secret(_), Some(id)) => Ok(Caller::ResourceServer(id)),
        (Claim::Secret(_), None) => Err(Refused::InvalidCredentials),
    }
}

/// The answer (VER-5, VER-6): `active` a JSON boolean, times JSON integers,
/// and for an inactive token nothing but `active`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a ScopeSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<UnixTime>,
}

impl<'a> Introspection<'a> {
    pub const INACTIVE: Introspection<'static> = Introspection {
        active: false,
        me: None,
        client_id: None,
        scope: None,
        token_type: None,
        exp: None,
        iat: None,
    };

    /// VER-7: a live access token. Anything else — a refresh token too
    /// (VER-2, VER-9), whatever the hint said — is `INACTIVE`.
    pub fn active(t: &'a ActiveToken) -> Introspection<'a> {
        Introspection {
            active: true,
            me: Some(&t.me),
            client_id: Some(t.client_id.as_str()),
            scope: Some(&t.scope),
            token_type: Some("Bearer"),
            exp: t.expires_at,
            iat: Some(t.issued_at),
        }
    }
}

/// The longest resource-server name kept, in characters: it is a label on
/// the dashboard and in `doorstep resource-server list`.
pub const NAME_MAX_CHARS: usize = 100;

/// A resource server's name as the owner typed it, trimmed and cut to
/// `NAME_MAX_CHARS`; `None` when nothing is left. One rule for the
/// dashboard and the command line.
pub fn resource_server_name(typed: &str) -> Option<String> {
    let name: String = typed.trim().chars().take(NAME_MAX_CHARS).collect();
    let name = name.trim_end().to_owned();
    (!name.is_empty()).then_some(name)
}

/// Creates a resource server and its secret (VER-4 a) and records the
/// event; returns its id and the secret, to be shown once (only the hash
/// is stored).
pub fn add_resource_server(
    tx: &Transaction<'_>,
    name: &str,
    now: UnixTime,
) -> StoreResult<(i64, Secret)> {
    let secret = Secret::generate();
    let id = resource_servers::create(tx, name, &secret.hash(), now)?;
    events::record(tx, now, EventKind::ResourceServerAdded, None, Some(name))?;
    Ok((id, secret))
}

/// Revokes a resource server's secret and records the event; returns its
/// name, or `None` when there was no active one with this id.
pub fn revoke_resource_server(
    tx: &Transaction<'_>,
    id: i64,
    now: UnixTime,
) -> StoreResult<Option<String>> {
    let name = resource_servers::revoke(tx, id, now)?;
    if let Some(n) = &name {
        events::record(tx, now, EventKind::ResourceServerRevoked, None, Some(n))?;
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(token: &str) -> IntrospectRequest<'static> {
        IntrospectRequest {
            token: Cow::Owned(token.to_owned()),
        }
    }

    #[test]
    fn ver_1_token_from_body_or_else_query() {
        let q = "token=fromquery";
        let r = IntrospectRequest::parse("", q).unwrap();
        assert_eq!(r.token, "fromquery");
        let r = IntrospectRequest::parse("token=frombody&token_type_hint=x", q).unwrap();
        assert_eq!(r.token, "frombody");
        // An empty value is an absent one (AREQ-2 rules).
        let r = IntrospectRequest::parse("token=", q).unwrap();
        assert_eq!(r.token, "fromquery");
        assert!(IntrospectRequest::parse("", "").is_err());
        assert!(IntrospectRequest::parse("token=a&token=b", "").is_err());
        assert_eq!(
            format!("{:?}", req("s3cret")),
            "IntrospectRequest { token: <redacted> }"
        );
    }

    #[test]
    fn ver_4_caller_is_a_secret_or_the_token_itself() {
        let r = req("tok");
        assert_eq!(claim(None, &r, true), Err(Refused::NoCredentials));
        assert_eq!(claim(Some("tok"), &r, true), Ok(Claim::TheTokenItself));
        let off = claim(Some("tok"), &r, false).unwrap();
        assert_eq!(off, Claim::Secret(SecretHash::of("tok")));
        assert_eq!(caller(off, None), Err(Refused::InvalidCredentials));
        let secret = claim(Some("secret"), &r, true).unwrap();
        assert_eq!(caller(secret, Some(7)), Ok(Caller::ResourceServer(7)));
        assert_eq!(
            caller(Claim::TheTokenItself, None),
            Ok(Caller::TheTokenItself)
        );
    }

    #[test]
    fn ver_6_inactive_is_exactly_active_false() {
        let j = serde_json::to_string(&Introspection::INACTIVE).unwrap();
        assert_eq!(j, r#"{"active":false}"#);
    }

    #[test]
    fn a_resource_server_name_is_trimmed_and_bounded() {
        assert_eq!(
            resource_server_name("  micropub  ").as_deref(),
            Some("micropub")
        );
        assert_eq!(resource_server_name(" \t "), None);
        let long = "m".repeat(150);
        assert_eq!(
            resource_server_name(&long).map(|n| n.chars().count()),
            Some(NAME_MAX_CHARS)
        );
        // Cut at a character, never inside one.
        let wide = "é".repeat(150);
        assert_eq!(
            resource_server_name(&wide),
            Some("é".repeat(NAME_MAX_CHARS))
        );
    }
}
