//! The owner's decision on an authorization request (CONS-*): what the
//! consent page warns about, whether a request without PKCE needs the
//! owner's leave first (PKCE-3, one rule for showing the page and for
//! answering it), and the two answers — the consent page's allow or deny,
//! and the no-PKCE page's allow or refuse.
//!
//! Framework-free: `http::authorize` parses the forms into the answers
//! here and renders what comes back. The answers run inside the write
//! transaction the caller hands in, so taking the pending request,
//! recording the event and issuing the code commit together, and a pending
//! request is answered once.

use super::authorize::{AuthorizationRequest, PendingRequest};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::token;
use crate::clients::{ClientInfo, InfoSource};
use crate::clock::UnixTime;
use crate::config::{PkcePolicy, Settings};
use crate::domain::{ProfileUrl, Scope, ScopeSet, SecretHash};
use crate::store::events::EventKind;
use crate::store::tokens::Grant;
use crate::store::{StoreError, StoreResult, clients as client_store, events, pending};
use rusqlite::{Connection, Transaction};

/// How long a consent page stays answerable, in seconds.
pub const PENDING_LIFETIME: i64 = 30 * 60;

/// Shortest and longest access-token lifetime the owner may choose.
const LIFETIME_BOUNDS: (i64, i64) = (60, crate::config::keys::TEN_YEARS as i64);

/// Where answering a pending request leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already answered, expired, or no longer valid.
    Gone,
    /// Back to the client: a code, or an error (AREQ-14).
    ToClient(String),
    /// Show the request again: the owner let this client skip PKCE.
    ShowAgain,
}

/// A request without a challenge under a policy that requires one: the
/// part of the PKCE-3 rule that needs no database, so a caller can skip
/// the read when it cannot matter.
pub fn lacks_required_pkce(policy: PkcePolicy, request: &AuthorizationRequest) -> bool {
    request.pkce.is_none() && policy != PkcePolicy::Optional
}

/// PKCE-3: must the owner allow this client to go without PKCE before the
/// consent page may be shown? Only for a request that
/// [`lacks_required_pkce`], from a client not exempted yet. Asked when the
/// page is shown and again when it is answered, since the exemption may
/// have been withdrawn in between.
pub fn needs_pkce_exemption(
    conn: &Connection,
    policy: PkcePolicy,
    request: &AuthorizationRequest,
) -> StoreResult<bool> {
    if !lacks_required_pkce(policy, request) {
        return Ok(false);
    }
    let client_id = request.redirect.client_id().as_str();
    Ok(!client_store::is_pkce_exempt(conn, client_id)?)
}

/// Keeps a validated request for the owner's answer, under the hash of the
/// id its page carries, for `PENDING_LIFETIME`; `restore` reads it back.
pub fn open(
    tx: &Transaction<'_>,
    id: &SecretHash,
    stored: &PendingRequest,
    now: UnixTime,
) -> StoreResult<()> {
    let json = serde_json::to_string(stored)
        .map_err(|e| StoreError::Corrupt(format!("a pending request would not serialise: {e}")))?;
    pending::insert(tx, id, &json, now, now + PENDING_LIFETIME)
}

/// A stored pending request, rebuilt and validated again (CONS-7); None
/// when it no longer passes.
pub fn restore(json: &str, policy: PkcePolicy) -> Option<(AuthorizationRequest, ClientInfo)> {
    let stored: PendingRequest = serde_json::from_str(json).ok()?;
    let request = stored.restore(policy)?;
    Some((request, stored.client))
}

/// A pending request that is still open, without answering it.
pub fn find_pending(
    conn: &Connection,
    id: &SecretHash,
    now: UnixTime,
    policy: PkcePolicy,
) -> StoreResult<Option<(AuthorizationRequest, ClientInfo)>> {
    Ok(pending::find(conn, id, now)?.and_then(|json| restore(&json, policy)))
}

/// The consent form's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentAnswer {
    Deny,
    Approve {
        /// The scopes the owner left ticked; only those also requested are
        /// granted.
        ticked: ScopeSet,
        /// Seconds; None means until revoked.
        lifetime: Option<i64>,
    },
}

impl ConsentAnswer {
    /// None when the form holds neither answer. A malformed ticked scope
    /// is dropped; a lifetime that is not a number falls back to
    /// `default_lifetime`, and any other is held within bounds.
    pub fn parse(params: &Params, default_lifetime: i64) -> Option<Self> {
        match params.get("action").ok().flatten() {
            Some("approve") => {}
            Some("deny") => return Some(ConsentAnswer::Deny),
            _ => return None,
        }
        let mut ticked = ScopeSet::default();
        for scope in params.all("scope") {
            if let Ok(s) = Scope::parse(scope) {
                ticked.insert(s);
            }
        }
        // The configured default is always a choice, even one shorter
        // than a minute (tests watch tokens expire).
        let (shortest, longest) = (
            LIFETIME_BOUNDS.0.min(default_lifetime),
            LIFETIME_BOUNDS.1.max(default_lifetime),
        );
        let lifetime = match params.get("lifetime").ok().flatten() {
            Some("never") => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .map(|s| s.clamp(shortest, longest))
                    .unwrap_or(default_lifetime),
            ),
            None => Some(default_lifetime),
        };
        Some(ConsentAnswer::Approve { ticked, lifetime })
    }
}

/// Answers the consent page: takes the pending request, then denies
/// (`access_denied` back to the client) or issues a code for the scopes
/// both requested and ticked (PROF-2: never `email` without `profile`).
pub fn answer_consent(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    id: &SecretHash,
    answer: &ConsentAnswer,
) -> StoreResult<Outcome> {
    let Some(json) = pending::take(tx, id, now)? else {
        return Ok(Outcome::Gone);
    };
    let Some((request, client)) = restore(&json, settings.pkce) else {
        return Ok(Outcome::Gone);
    };
    let client_id = request.redirect.client_id().as_str();
    let (ticked, lifetime) = match answer {
        ConsentAnswer::Deny => {
            events::record(tx, now, EventKind::Denied, Some(client_id), None)?;
            let e = OAuthError::new(ErrorCode::AccessDenied, "the owner denied the request");
            return Ok(back_with_error(&request, &e, settings));
        }
        ConsentAnswer::Approve { ticked, lifetime } => (ticked, *lifetime),
    };
    if needs_pkce_exemption(tx, settings.pkce, &request)? {
        return Ok(back_with_error(&request, &pkce_required(), settings));
    }
    let grant = Grant {
        client_id: request.redirect.client_id().clone(),
        client_name: client.name,
        // Shown on the dashboard: only an http(s) address is kept.
        client_logo: client
            .logo_uri
            .filter(|l| l.starts_with("https://") || l.starts_with("http://")),
        redirect_uri: request.redirect.redirect_uri().as_str().to_owned(),
        scope: request.scope.intersect(ticked).without_orphan_email(),
        me: settings.me.as_str().to_owned(),
        access_lifetime: lifetime,
    };
    let code = token::issue_code(tx, now, settings, grant, request.pkce.clone())?;
    Ok(Outcome::ToClient(request.redirect.code_location(
        code.expose(),
        &request.state,
        settings.issuer_str(),
        settings.me.as_str(),
    )))
}

/// The no-PKCE page's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceAnswer {
    /// Let this client go without PKCE from now on (remembered, and
    /// withdrawable on the dashboard).
    Allow,
    /// Refuse: `invalid_request` back to the client.
    Refuse,
}

impl PkceAnswer {
    /// None when the form holds neither answer.
    pub fn parse(params: &Params) -> Option<Self> {
        match params.get("action").ok().flatten() {
            Some("allow") => Some(PkceAnswer::Allow),
            Some("refuse") => Some(PkceAnswer::Refuse),
            _ => None,
        }
    }
}

/// Answers the no-PKCE page. Allowing keeps the request open, to be shown
/// again as a consent page; refusing answers it.
pub fn answer_pkce(
    tx: &Transaction<'_>,
    now: UnixTime,
    settings: &Settings,
    id: &SecretHash,
    answer: PkceAnswer,
) -> StoreResult<Outcome> {
    let json = pending::find(tx, id, now)?;
    let Some((request, _)) = json.as_deref().and_then(|j| restore(j, settings.pkce)) else {
        return Ok(Outcome::Gone);
    };
    // Only a request without the PKCE the policy requires is allowed or
    // refused here; for any other (a stale or forged form) nothing is
    // recorded and the consent page is shown as it stands.
    if !lacks_required_pkce(settings.pkce, &request) {
        return Ok(Outcome::ShowAgain);
    }
    let client_id = request.redirect.client_id().as_str();
    if answer == PkceAnswer::Refuse {
        pending::take(tx, id, now)?;
    }
    match answer {
        PkceAnswer::Allow => {
            client_store::add_pkce_exemption(tx, client_id, now)?;
            events::record(
                tx,
                now,
                EventKind::PkceExemptionAdded,
                Some(client_id),
                None,
            )?;
            Ok(Outcome::ShowAgain)
        }
        PkceAnswer::Refuse => {
            events::record(tx, now, EventKind::PkceRefused, Some(client_id), None)?;
            Ok(back_with_error(&request, &pkce_required(), settings))
        }
    }
}

fn pkce_required() -> OAuthError {
    OAuthError::invalid_request("this server requires PKCE (code_challenge)")
}

/// AREQ-14: the error, with the request's `state` and `iss`, to the
/// client's verified redirect URI.
fn back_with_error(request: &AuthorizationRequest, e: &OAuthError, settings: &Settings) -> Outcome {
    Outcome::ToClient(request.redirect.error_location(
        e,
        Some(&request.state),
        settings.issuer_str(),
    ))
}

/// How far the consent page may trust what discovery found, in words.
pub fn source_label(client: &ClientInfo) -> &'static str {
    match &client.source {
        InfoSource::Metadata => "verified by the app's metadata document",
        InfoSource::Microformats => "as the app's page describes itself",
        InfoSource::NotFetched { .. } => "local app",
        InfoSource::Unavailable { .. } | InfoSource::Refused { .. } => "not verified",
    }
}

/// What the consent page warns the owner about, most fundamental first:
/// information that could not be checked (CID-12), a homepage on another
/// host (CID-17), a client id over plain http (CID-6), a code travelling
/// back over plain http (CID-27), a redirect to another site, no PKCE, and
/// an app that expected someone else (AREQ-12). Plain words, no checklist
/// IDs: the owner reads these.
pub fn warnings(
    me: &ProfileUrl,
    request: &AuthorizationRequest,
    client: &ClientInfo,
) -> Vec<String> {
    let client_id = request.redirect.client_id();
    let redirect = request.redirect.redirect_uri();
    let mut warnings = Vec::new();
    match &client.source {
        InfoSource::NotFetched { reason } => warnings.push(format!("Not checked: {reason}.")),
        InfoSource::Unavailable { reason } | InfoSource::Refused { reason } => {
            warnings.push(format!(
                "doorstep could not read this app's information ({reason}). Check the client ID below carefully before you allow it."
            ));
        }
        InfoSource::Metadata | InfoSource::Microformats => {}
    }
    if let Some(uri) = &client.client_uri
        && url::Url::parse(uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .as_deref()
            != Some(client_id.host())
    {
        warnings.push(format!(
            "The app's homepage ({uri}) is on a different host from its client ID."
        ));
    }
    if !client_id.is_https() && !client_id.is_loopback() {
        warnings.push("This app's address uses plain http, so anyone on the network between doorstep and the app could pretend to be it.".into());
    }
    if redirect.is_insecure_http() {
        warnings.push("The code will travel back over plain http, where it can be read or changed on the way.".into());
    }
    if redirect.is_app_scheme() {
        warnings.push(format!(
            "The app returns you through {}, an address an app on your device handles; the app publishes that address as its own.",
            redirect.display_host()
        ));
    } else if !redirect.same_origin_as(client_id) {
        warnings.push(format!(
            "The app returns you to {}, a different site from the app itself; the app publishes that address as its own.",
            redirect.display_host()
        ));
    }
    if request.pkce.is_none() {
        warnings.push("This app does not use PKCE: a code intercepted on its way back could be used by someone else.".into());
    }
    if let Some(hint) = &request.me_hint
        && hint.trim_end_matches('/') != me.as_str().trim_end_matches('/')
    {
        warnings.push(format!(
            "The app expected you to be {hint}; you will sign in as {}.",
            me.as_str()
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawValues;
    use crate::domain::Secret;
    use crate::oauth::authorize::{parse_client, parse_request, verify_redirect};
    use crate::store::Store;

    fn settings() -> Settings {
        Settings::from_raw(&RawValues::new()).unwrap()
    }

    fn unverified(client_id: &str) -> ClientInfo {
        ClientInfo {
            client_id: client_id.to_owned(),
            source: InfoSource::Unavailable {
                reason: "the page answered 404".into(),
            },
            name: None,
            client_uri: None,
            logo_uri: None,
            redirect_uris: vec![],
        }
    }

    /// A request as the authorization endpoint would have validated it.
    fn request(query: &str) -> (AuthorizationRequest, ClientInfo) {
        let p = Params::parse(query);
        let (c, r) = parse_client(&p).unwrap();
        let info = unverified(c.as_str());
        let v = verify_redirect(c, r, &info).unwrap();
        (parse_request(&p, v, PkcePolicy::S256).unwrap(), info)
    }

    const WITH_PKCE: &str = "response_type=code&client_id=https%3A%2F%2Fapp.example%2F&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=abc&scope=profile+email+create&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    const WITHOUT_PKCE: &str = "response_type=code&client_id=https%3A%2F%2Fapp.example%2F&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=abc&scope=create";

    /// A pending request held in a fresh database, and its id's hash.
    fn held(query: &str) -> (tempfile::TempDir, Store, SecretHash) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let (req, info) = request(query);
        let json = serde_json::to_string(&PendingRequest::from_request(&req, info)).unwrap();
        let id = Secret::generate().hash();
        store
            .write_now(|tx| pending::insert(tx, &id, &json, 0, PENDING_LIFETIME))
            .unwrap();
        (dir, store, id)
    }

    fn location(outcome: Outcome) -> url::Url {
        match outcome {
            Outcome::ToClient(to) => url::Url::parse(&to).unwrap(),
            other => panic!("expected a redirect to the client, got {other:?}"),
        }
    }

    fn param(u: &url::Url, name: &str) -> Option<String> {
        u.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    #[test]
    fn a_consent_answer_is_approve_or_deny_and_its_lifetime_is_bounded() {
        let parse = |form: &str| ConsentAnswer::parse(&Params::parse(form), 3600);
        assert_eq!(parse("action=deny&scope=create"), Some(ConsentAnswer::Deny));
        assert_eq!(parse("action=maybe"), None);
        assert_eq!(parse(""), None);
        let lifetime = |form: &str| match parse(form) {
            Some(ConsentAnswer::Approve { lifetime, .. }) => lifetime,
            other => panic!("{other:?}"),
        };
        assert_eq!(lifetime("action=approve"), Some(3600));
        assert_eq!(lifetime("action=approve&lifetime=never"), None);
        assert_eq!(lifetime("action=approve&lifetime=soon"), Some(3600));
        assert_eq!(lifetime("action=approve&lifetime=1"), Some(60));
        assert_eq!(
            lifetime("action=approve&lifetime=99999999999"),
            Some(10 * 365 * 86400)
        );
        match parse("action=approve&scope=create&scope=bad%22scope&scope=create") {
            Some(ConsentAnswer::Approve { ticked, .. }) => assert_eq!(ticked.to_string(), "create"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn approving_grants_only_what_was_both_requested_and_ticked_and_answers_once() {
        let (_dir, store, id) = held(WITH_PKCE);
        let s = settings();
        let answer = ConsentAnswer::parse(
            &Params::parse("action=approve&scope=email&scope=create&scope=delete"),
            3600,
        )
        .unwrap();
        let to = location(
            store
                .write_now(|tx| answer_consent(tx, 10, &s, &id, &answer))
                .unwrap(),
        );
        assert!(param(&to, "code").is_some());
        assert_eq!(param(&to, "state").as_deref(), Some("abc"));
        // PROF-2: `email` without `profile` is dropped; `delete` was never asked for.
        let scope: String = store
            .read_now(|c| Ok(c.query_row("SELECT scope FROM codes", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(scope, "create");
        assert_eq!(
            store
                .write_now(|tx| answer_consent(tx, 11, &s, &id, &answer))
                .unwrap(),
            Outcome::Gone
        );
    }

    #[test]
    fn denying_sends_access_denied_back_with_state_and_issuer() {
        let (_dir, store, id) = held(WITH_PKCE);
        let s = settings();
        let to = location(
            store
                .write_now(|tx| answer_consent(tx, 10, &s, &id, &ConsentAnswer::Deny))
                .unwrap(),
        );
        assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
        assert_eq!(param(&to, "state").as_deref(), Some("abc"));
        assert_eq!(param(&to, "iss").as_deref(), Some(s.issuer_str()));
        assert!(param(&to, "code").is_none());
    }

    #[test]
    fn an_expired_pending_request_is_gone() {
        let (_dir, store, id) = held(WITH_PKCE);
        let s = settings();
        let answer = ConsentAnswer::Deny;
        assert_eq!(
            store
                .write_now(|tx| answer_consent(tx, PENDING_LIFETIME, &s, &id, &answer))
                .unwrap(),
            Outcome::Gone
        );
    }

    #[test]
    fn the_pkce_rule_asks_only_without_pkce_under_a_requiring_policy_until_exempted() {
        let (_dir, store, _) = held(WITHOUT_PKCE);
        let (without, _) = request(WITHOUT_PKCE);
        let (with, _) = request(WITH_PKCE);
        let ask = |policy, r: &AuthorizationRequest| {
            store
                .read_now(|c| needs_pkce_exemption(c, policy, r))
                .unwrap()
        };
        assert!(ask(PkcePolicy::S256, &without));
        assert!(ask(PkcePolicy::Any, &without));
        assert!(!ask(PkcePolicy::Optional, &without));
        assert!(!ask(PkcePolicy::S256, &with));
        store
            .write_now(|tx| client_store::add_pkce_exemption(tx, "https://app.example/", 0))
            .unwrap();
        assert!(!ask(PkcePolicy::S256, &without));
    }

    #[test]
    fn allowing_without_pkce_keeps_the_request_open_and_refusing_answers_it() {
        let (_dir, store, id) = held(WITHOUT_PKCE);
        let s = settings();
        let allow = |now| {
            store
                .write_now(|tx| answer_pkce(tx, now, &s, &id, PkceAnswer::Allow))
                .unwrap()
        };
        assert_eq!(allow(10), Outcome::ShowAgain);
        assert_eq!(allow(11), Outcome::ShowAgain, "still open");
        let to = location(
            store
                .write_now(|tx| answer_pkce(tx, 12, &s, &id, PkceAnswer::Refuse))
                .unwrap(),
        );
        assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
        assert_eq!(allow(13), Outcome::Gone);
    }

    #[test]
    fn every_consent_warning_is_in_plain_words_without_checklist_ids() {
        // Everything that can be wrong at once: plain http everywhere, a
        // redirect to another site, no PKCE, a homepage on another host,
        // information that could not be read, someone else expected.
        let query = "response_type=code&client_id=http%3A%2F%2Fapp.example%2F&redirect_uri=http%3A%2F%2Fother.example%2Fcb&state=abc&me=https%3A%2F%2Fsomeone.example%2F";
        let p = Params::parse(query);
        let (c, r) = parse_client(&p).unwrap();
        let info = ClientInfo {
            source: InfoSource::Microformats,
            client_uri: Some("https://elsewhere.example/".into()),
            redirect_uris: vec!["http://other.example/cb".into()],
            ..unverified(c.as_str())
        };
        let v = verify_redirect(c, r, &info).unwrap();
        let req = parse_request(&p, v, PkcePolicy::S256).unwrap();
        let unread = ClientInfo {
            source: InfoSource::Unavailable {
                reason: "it timed out".into(),
            },
            ..info.clone()
        };
        let found = warnings(&settings().me, &req, &unread);
        assert_eq!(found.len(), 7, "{found:#?}");
        for w in &found {
            assert!(!cites_checklist_id(w), "{w}");
        }
        assert_eq!(source_label(&unread), "not verified");
        assert_eq!(warnings(&settings().me, &req, &info).len(), 6);
    }

    /// `CID-17`, `SEC-7`: two or more capitals, a dash, a digit.
    fn cites_checklist_id(text: &str) -> bool {
        let b = text.as_bytes();
        (0..b.len()).any(|i| {
            let caps = b[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_uppercase())
                .count();
            caps >= 2 && b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        })
    }

    #[test]
    fn the_checklist_id_detector_finds_ids() {
        assert!(cites_checklist_id("on its way (CID-27)."));
        assert!(!cites_checklist_id("a well-known e-mail, 2-factor"));
    }
}
