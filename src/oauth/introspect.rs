//! Token introspection (RFC 7662; VER-1..9): who may ask, what the answer
//! says, and the throttle on the compatibility fallback.
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
use crate::domain::{Secret, SecretHash, constant_time_eq};
use crate::store::live::Found;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// A parsed introspection request (VER-1).
#[derive(Debug)]
pub struct IntrospectRequest {
    token: Secret,
}

impl IntrospectRequest {
    /// `token` from the form body; when the body carries none, from the
    /// query string (Indiekit sends `POST /introspect?token=…` with an empty
    /// body). `token_type_hint` is ignored: every type is searched (VER-2).
    pub fn parse(body: &Params, query: &Params) -> Result<Self, OAuthError> {
        let token = match body.get("token")? {
            Some(t) => t,
            None => query
                .get("token")?
                .ok_or_else(|| OAuthError::invalid_request("token is required"))?,
        };
        Ok(IntrospectRequest {
            token: Secret::from_presented(token),
        })
    }

    pub fn token_hash(&self) -> SecretHash {
        self.token.hash()
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
    req: &IntrospectRequest,
    self_auth: bool,
) -> Result<Claim, Refused> {
    let bearer = bearer.ok_or(Refused::NoCredentials)?;
    if self_auth && constant_time_eq(bearer.as_bytes(), req.token.expose().as_bytes()) {
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
    pub scope: Option<&'a str>,
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

    /// VER-7, VER-9: only a live access token is active; a refresh token is
    /// found (VER-2) but reported inactive, whatever the hint said.
    pub fn of(found: &'a Found) -> Introspection<'a> {
        match found {
            Found::Access(t) => Introspection {
                active: true,
                me: Some(&t.me),
                client_id: Some(&t.client_id),
                scope: Some(&t.scope),
                token_type: Some("Bearer"),
                exp: t.expires_at,
                iat: Some(t.issued_at),
            },
            Found::Refresh | Found::Nothing => Introspection::INACTIVE,
        }
    }
}

/// Inactive answers the fallback may give one address in a burst.
const BURST: f64 = 20.0;
/// How fast the bucket refills, per second.
const REFILL_PER_SECOND: f64 = 0.5;
/// Addresses remembered at most; beyond, the map is emptied (which only
/// forgives, never blocks).
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: UnixTime,
}

/// SEC-16 for the self-auth fallback: a token bucket per address (an IPv6
/// /64 counts as one address), in memory.
#[derive(Debug, Default)]
pub struct SelfAuthThrottle {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn refilled(b: Bucket, now: UnixTime) -> f64 {
    let elapsed = (now - b.at).max(0) as f64;
    (b.level + elapsed * REFILL_PER_SECOND).min(BURST)
}

impl SelfAuthThrottle {
    /// `Err(seconds to wait)` when the address has used up its bucket.
    pub fn check(&self, addr: IpAddr, now: UnixTime) -> Result<(), i64> {
        let Ok(buckets) = self.buckets.lock() else {
            return Err(60);
        };
        match buckets.get(&key(addr)) {
            Some(b) if refilled(*b, now) < 1.0 => {
                let missing = 1.0 - refilled(*b, now);
                Err((missing / REFILL_PER_SECOND).ceil().max(1.0) as i64)
            }
            _ => Ok(()),
        }
    }

    /// The fallback just answered `active:false` to `addr`.
    pub fn record_inactive(&self, addr: IpAddr, now: UnixTime) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key(addr)) {
            buckets.clear();
        }
        let b = buckets.entry(key(addr)).or_insert(Bucket {
            level: BURST,
            at: now,
        });
        b.level = (refilled(*b, now) - 1.0).max(0.0);
        b.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(token: &str) -> IntrospectRequest {
        IntrospectRequest::parse(
            &Params::parse(&format!("token={token}")),
            &Params::default(),
        )
        .unwrap()
    }

    #[test]
    fn ver_1_token_from_body_or_else_query() {
        let q = Params::parse("token=fromquery");
        let r = IntrospectRequest::parse(&Params::default(), &q).unwrap();
        assert_eq!(r.token.expose(), "fromquery");
        let r = IntrospectRequest::parse(&Params::parse("token=frombody"), &q).unwrap();
        assert_eq!(r.token.expose(), "frombody");
        assert!(IntrospectRequest::parse(&Params::default(), &Params::default()).is_err());
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
        let j = serde_json::to_string(&Introspection::of(&Found::Refresh)).unwrap();
        assert_eq!(j, r#"{"active":false}"#);
    }

    #[test]
    fn sec_16_fallback_bucket_empties_and_refills() {
        let t = SelfAuthThrottle::default();
        let a: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..BURST as usize {
            assert!(t.check(a, 100).is_ok());
            t.record_inactive(a, 100);
        }
        assert!(t.check(a, 100).is_err());
        assert!(t.check("192.0.2.10".parse().unwrap(), 100).is_ok());
        assert!(t.check(a, 102).is_ok());
    }
}
