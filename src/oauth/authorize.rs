//! Authorization request validation (AREQ-*), in two phases that the type
//! system keeps apart (STYLE habit 3):
//!
//! 1. `parse_client` checks `client_id` and `redirect_uri`. Its errors are
//!    shown on a page and never redirected (AREQ-4, AREQ-5).
//! 2. `verify_redirect` checks the redirect against what the client
//!    publishes and is the only way to build a `VerifiedRedirect`; after it,
//!    `parse_request` reports every other error by redirecting (AREQ-14) —
//!    and only to a `VerifiedRedirect`.

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::clients::{ClientInfo, verify_redirect_uri};
use crate::config::PkcePolicy;
use crate::domain::{
    ClientId, CodeChallenge, PkceMethod, RedirectUri, ScopeSet, State, StateError, UrlError,
};
use serde::{Deserialize, Serialize};

/// A problem that must be shown to the person, never sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub title: &'static str,
    pub message: String,
}

fn page(title: &'static str, message: impl Into<String>) -> PageError {
    PageError {
        title,
        message: message.into(),
    }
}

fn url_problem(what: &str, e: UrlError) -> PageError {
    page(
        "This sign-in request is not valid",
        format!("The app's {what} {e}."),
    )
}

/// Phase 1 (AREQ-4, AREQ-5): the two parameters that decide where errors go.
pub fn parse_client(params: &Params) -> Result<(ClientId, RedirectUri), PageError> {
    let client_id = params
        .get("client_id")
        .map_err(|_| {
            page(
                "This sign-in request is not valid",
                "The client_id parameter is repeated.",
            )
        })?
        .ok_or_else(|| {
            page(
                "This sign-in request is not valid",
                "The app did not say who it is (client_id is missing).",
            )
        })?;
    let client_id = ClientId::parse(client_id).map_err(|e| url_problem("client_id", e))?;
    let redirect = params
        .get("redirect_uri")
        .map_err(|_| {
            page(
                "This sign-in request is not valid",
                "The redirect_uri parameter is repeated.",
            )
        })?
        .ok_or_else(|| {
            page(
                "This sign-in request is not valid",
                "The app did not say where to return (redirect_uri is missing).",
            )
        })?;
    let redirect = RedirectUri::parse(redirect).map_err(|e| url_problem("redirect_uri", e))?;
    Ok((client_id, redirect))
}

/// A redirect URI known to belong to the client. The only constructor is
/// `verify_redirect`; only this type can be redirected to.
#[derive(Debug, Clone)]
pub struct VerifiedRedirect {
    client_id: ClientId,
    redirect_uri: RedirectUri,
}

/// Phase 2 gate (CID-23..26): the one rule lives in
/// `clients::verify_redirect_uri` — same origin as the client id, or an
/// exact match in a list the client itself vouched for. Anything else is a
/// page error, never a redirect.
pub fn verify_redirect(
    client_id: ClientId,
    redirect_uri: RedirectUri,
    info: &ClientInfo,
) -> Result<VerifiedRedirect, PageError> {
    match verify_redirect_uri(client_id.url(), redirect_uri.url(), info) {
        Ok(_) => Ok(VerifiedRedirect {
            client_id,
            redirect_uri,
        }),
        Err(refusal) => Err(page(
            "doorstep will not send a code there",
            format!(
                "The app at {} asked to return to {}. {} This is how phishing attempts look, so the request was stopped.",
                client_id.as_str(),
                redirect_uri.as_str(),
                refusal.reason
            ),
        )),
    }
}

impl VerifiedRedirect {
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// AREQ-14, ERR-1, ISS-1: `error`, `error_description`, `state` (when
    /// the request had a valid one) and `iss`, added to the client's query.
    pub fn error_location(
        &self,
        error: &OAuthError,
        state: Option<&State>,
        issuer: &str,
    ) -> String {
        let mut params = vec![("error", error.code.as_str())];
        if let Some(d) = &error.description {
            params.push(("error_description", d));
        }
        if let Some(s) = state {
            params.push(("state", s.as_str()));
        }
        params.push(("iss", issuer));
        self.redirect_uri.with_params(&params)
    }

    /// The success redirect: `code`, `state`, `iss`, and `me` (micro.blog's
    /// apps will not finish without it).
    pub fn code_location(&self, code: &str, state: &State, issuer: &str, me: &str) -> String {
        self.redirect_uri.with_params(&[
            ("code", code),
            ("state", state.as_str()),
            ("iss", issuer),
            ("me", me),
        ])
    }
}

/// A fully validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub redirect: VerifiedRedirect,
    pub state: State,
    /// Requested scopes; empty means authentication only (AREQ-10).
    pub scope: ScopeSet,
    /// None: the client sent no PKCE challenge.
    pub pkce: Option<(CodeChallenge, PkceMethod)>,
    /// The unverified `me` hint (AREQ-12): shown, never trusted.
    pub me_hint: Option<String>,
}

/// An error that goes back to the client by redirect (after login).
#[derive(Debug, Clone)]
pub struct RedirectError {
    pub redirect: VerifiedRedirect,
    pub state: Option<State>,
    pub error: OAuthError,
}

impl RedirectError {
    pub fn location(&self, issuer: &str) -> String {
        self.redirect
            .error_location(&self.error, self.state.as_ref(), issuer)
    }
}

/// Phase 2: every other parameter (AREQ-2, 3, 6..11), in the order that
/// gives the most useful error first. `policy` decides which PKCE methods
/// are acceptable; whether a client may skip PKCE is decided by the caller.
pub fn parse_request(
    params: &Params,
    redirect: VerifiedRedirect,
    policy: PkcePolicy,
) -> Result<AuthorizationRequest, Box<RedirectError>> {
    // State first, so that every later error can carry it back.
    let parsed_state = match params.get("state") {
        Ok(Some(s)) => Some(State::parse(s)),
        _ => None,
    };
    let state = parsed_state.clone().and_then(Result::ok);
    let fail = |redirect: VerifiedRedirect, state: Option<State>, error: OAuthError| {
        Box::new(RedirectError {
            redirect,
            state,
            error,
        })
    };

    if params
        .first_repeated(&[
            "response_type",
            "state",
            "scope",
            "code_challenge",
            "code_challenge_method",
            "me",
        ])
        .is_some()
    {
        return Err(fail(
            redirect,
            state,
            OAuthError::invalid_request("a parameter is repeated"),
        ));
    }
    let identity_only = match identity_only(params) {
        Ok(i) => i,
        Err(e) => return Err(fail(redirect, state, e)),
    };
    let state = match (params.get("state").ok().flatten(), state) {
        (None, _) => {
            return Err(fail(
                redirect,
                None,
                OAuthError::invalid_request("state is required"),
            ));
        }
        (Some(_), None) => {
            let why = match parsed_state {
                Some(Err(StateError::TooLong)) => "state is too long (2,048 characters at most)",
                _ => "state must be printable ASCII",
            };
            return Err(fail(redirect, None, OAuthError::invalid_request(why)));
        }
        (Some(_), Some(s)) => s,
    };
    let scope = match ScopeSet::parse(params.get("scope").ok().flatten().unwrap_or("")) {
        Ok(_) if identity_only => ScopeSet::default(),
        Ok(s) => s,
        Err(_) => {
            return Err(fail(
                redirect,
                Some(state),
                OAuthError::new(ErrorCode::InvalidScope, "a requested scope is malformed"),
            ));
        }
    };
    let pkce = match pkce(params, policy) {
        Ok(p) => p,
        Err(e) => return Err(fail(redirect, Some(state), e)),
    };
    Ok(AuthorizationRequest {
        redirect,
        state,
        scope,
        pkce,
        me_hint: params.get("me").ok().flatten().and_then(me_hint),
    })
}

/// AREQ-12: `me` is a hint, never trusted. The consent page mentions it
/// ("the app expected you to be …") only when it is an http(s) URL of a
/// sane length, and then in its parsed, percent-encoded form: a stranger's
/// sentence, line breaks or right-to-left overrides must not appear among
/// doorstep's own warnings.
fn me_hint(raw: &str) -> Option<String> {
    if raw.len() > 512 {
        return None;
    }
    // IndieAuth lets a user type `example.com`; clients send it as typed.
    let url = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            url::Url::parse(&format!("https://{raw}")).ok()?
        }
        Err(_) => return None,
    };
    // A profile URL never has a user name or password (IA §3.2), and one
    // could read as a claim: `https://this-app-is-safe@evil.example/`.
    (matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none())
    .then(|| url.to_string())
}

/// AREQ-2, LEG-5: `response_type=code`, or the pre-2020 `id` of an
/// authentication-only request, which never yields a token. True for `id`.
fn identity_only(params: &Params) -> Result<bool, OAuthError> {
    match params.get("response_type").ok().flatten() {
        None => Err(OAuthError::invalid_request("response_type is required")),
        Some("code") => Ok(false),
        Some("id") => Ok(true),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "only response_type=code is supported",
        )),
    }
}

/// AREQ-8, AREQ-9: the PKCE challenge and its method, if the client sent
/// one; `policy` decides whether `plain` is acceptable.
fn pkce(
    params: &Params,
    policy: PkcePolicy,
) -> Result<Option<(CodeChallenge, PkceMethod)>, OAuthError> {
    let challenge = params.get("code_challenge").ok().flatten();
    let method = params.get("code_challenge_method").ok().flatten();
    let challenge = match (challenge, method) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            ));
        }
        (Some(c), _) => CodeChallenge::parse(c).map_err(|_| {
            OAuthError::invalid_request("code_challenge must be 43 to 128 unreserved characters")
        })?,
    };
    // RFC 7636 §4.3: a missing method means plain.
    match method
        .map(PkceMethod::parse)
        .unwrap_or(Ok(PkceMethod::Plain))
    {
        Ok(PkceMethod::S256) => Ok(Some((challenge, PkceMethod::S256))),
        Ok(PkceMethod::Plain) if policy != PkcePolicy::S256 => {
            Ok(Some((challenge, PkceMethod::Plain)))
        }
        _ => Err(OAuthError::invalid_request(
            "transform algorithm not supported; use S256",
        )),
    }
}

/// What is kept on the server between the consent page and its answer
/// (CONS-7). Restoring it re-runs the same validation, so nothing in it is
/// trusted without being checked again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// What discovery found, shown on the consent page and used again to
    /// re-verify the redirect.
    pub client: ClientInfo,
    pub state: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub me_hint: Option<String>,
}

impl PendingRequest {
    pub fn from_request(req: &AuthorizationRequest, client: ClientInfo) -> Self {
        PendingRequest {
            client_id: req.redirect.client_id().as_str().to_owned(),
            redirect_uri: req.redirect.redirect_uri().as_str().to_owned(),
            client,
            state: req.state.as_str().to_owned(),
            scope: req.scope.to_string(),
            code_challenge: req.pkce.as_ref().map(|(c, _)| c.as_str().to_owned()),
            code_challenge_method: req.pkce.as_ref().map(|(_, m)| m.as_str().to_owned()),
            me_hint: req.me_hint.clone(),
        }
    }

    /// Rebuilds and re-validates the request.
    pub fn restore(&self, policy: PkcePolicy) -> Option<AuthorizationRequest> {
        let client_id = ClientId::parse(&self.client_id).ok()?;
        let redirect_uri = RedirectUri::parse(&self.redirect_uri).ok()?;
        let redirect = verify_redirect(client_id, redirect_uri, &self.client).ok()?;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("response_type", "code");
        query.append_pair("state", &self.state);
        query.append_pair("scope", &self.scope);
        if let Some(c) = &self.code_challenge {
            query.append_pair("code_challenge", c);
        }
        if let Some(m) = &self.code_challenge_method {
            query.append_pair("code_challenge_method", m);
        }
        if let Some(m) = &self.me_hint {
            query.append_pair("me", m);
        }
        parse_request(&Params::parse(&query.finish()), redirect, policy).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areq_12_a_me_hint_is_kept_only_as_a_url() {
        assert_eq!(
            me_hint("https://example.com").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(
            me_hint("nobody. \u{2714} doorstep checked this app: it is safe to allow"),
            None
        );
        assert_eq!(
            me_hint("https://example.com/\u{202e}evil").as_deref(),
            Some("https://example.com/%E2%80%AEevil")
        );
        assert_eq!(me_hint("javascript:alert(1)"), None);
        assert_eq!(
            me_hint("example.com").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(me_hint("https://this-app-is-safe@evil.example/"), None);
        assert_eq!(
            me_hint(&format!("https://example.com/{}", "a".repeat(600))),
            None
        );
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn happy() -> String {
        format!(
            "response_type=code&client_id=https%3A%2F%2Fapp.example.com%2F&redirect_uri=https%3A%2F%2Fapp.example.com%2Fredirect&state=1234567890&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=profile+create&me=https%3A%2F%2Fuser.example.net%2F"
        )
    }

    fn unknown(client: &ClientId) -> ClientInfo {
        ClientInfo {
            client_id: client.as_str().to_owned(),
            source: crate::clients::InfoSource::Unavailable {
                reason: "test".into(),
            },
            name: None,
            client_uri: None,
            logo_uri: None,
            redirect_uris: vec![],
        }
    }

    fn published(client: &ClientId, uris: &[&str]) -> ClientInfo {
        ClientInfo {
            source: crate::clients::InfoSource::Metadata,
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            ..unknown(client)
        }
    }

    fn run(query: &str, policy: PkcePolicy) -> Result<AuthorizationRequest, Box<RedirectError>> {
        let p = Params::parse(query);
        let (c, r) = parse_client(&p).unwrap();
        let info = unknown(&c);
        let v = verify_redirect(c, r, &info).unwrap();
        parse_request(&p, v, policy)
    }

    #[test]
    fn tv6_happy_path_parses() {
        let r = run(&happy(), PkcePolicy::S256).unwrap();
        assert_eq!(r.state.as_str(), "1234567890");
        assert_eq!(r.scope.to_string(), "profile create");
        assert_eq!(r.pkce.unwrap().1, PkceMethod::S256);
    }

    #[test]
    fn tv8_redirected_errors() {
        let cases = [
            (
                happy().replace("response_type=code", "response_type=token"),
                "unsupported_response_type",
            ),
            (
                happy().replace("response_type=code&", ""),
                "invalid_request",
            ),
            (
                happy().replace("scope=profile+create", "scope=create%22"),
                "invalid_scope",
            ),
            (
                happy().replace("code_challenge_method=S256", "code_challenge_method=plain"),
                "invalid_request",
            ),
            (
                happy().replace("&code_challenge_method=S256", ""),
                "invalid_request",
            ),
            (
                happy().replace("code_challenge_method=S256", "code_challenge_method=s256"),
                "invalid_request",
            ),
            (
                happy().replace(CHALLENGE, &CHALLENGE[..42]),
                "invalid_request",
            ),
            (format!("{}&state=again", happy()), "invalid_request"),
        ];
        for (q, code) in cases {
            let e = run(&q, PkcePolicy::S256).unwrap_err();
            assert_eq!(e.error.code.as_str(), code, "{q}");
            let loc = e.location("https://auth.example.com/");
            assert!(
                loc.contains("iss=https%3A%2F%2Fauth.example.com%2F"),
                "{loc}"
            );
        }
    }

    #[test]
    fn tv8f_missing_state_redirects_without_state() {
        let e = run(&happy().replace("state=1234567890&", ""), PkcePolicy::S256).unwrap_err();
        assert_eq!(e.error.code, ErrorCode::InvalidRequest);
        assert!(!e.location("https://a/").contains("state="));
    }

    /// AREQ-6: a state doorstep cannot return is refused in words that say
    /// why, and is not sent back.
    #[test]
    fn a_state_too_long_or_not_ascii_is_refused_saying_which() {
        let long = format!("state={}&", "a".repeat(2049));
        let e = run(
            &happy().replace("state=1234567890&", &long),
            PkcePolicy::S256,
        )
        .unwrap_err();
        assert_eq!(e.error.code, ErrorCode::InvalidRequest);
        let why = e.error.description.as_deref().unwrap_or("");
        assert!(why.contains("too long"), "{why}");
        assert!(!e.location("https://a/").contains("state="));
        let e = run(
            &happy().replace("state=1234567890&", "state=%C3%A9&"),
            PkcePolicy::S256,
        )
        .unwrap_err();
        let why = e.error.description.as_deref().unwrap_or("");
        assert!(why.contains("printable ASCII"), "{why}");
        let fits = format!("state={}&", "a".repeat(2048));
        assert!(
            run(
                &happy().replace("state=1234567890&", &fits),
                PkcePolicy::S256
            )
            .is_ok()
        );
    }

    #[test]
    fn pkce_policy_any_accepts_plain_and_missing_method() {
        let q = happy().replace("&code_challenge_method=S256", "");
        assert_eq!(
            run(&q, PkcePolicy::Any).unwrap().pkce.unwrap().1,
            PkceMethod::Plain
        );
    }

    #[test]
    fn tv7_page_errors_never_redirect() {
        for q in [
            happy().replace("client_id=https%3A%2F%2Fapp.example.com%2F&", ""),
            happy().replace("redirect_uri=https%3A%2F%2Fapp.example.com%2Fredirect&", ""),
            format!("{}&client_id=https%3A%2F%2Fapp.example.com%2F", happy()),
            happy().replace("%2Fredirect", "%2Fredirect%23x"),
            happy().replace(
                "https%3A%2F%2Fapp.example.com%2Fredirect",
                "javascript%3Aalert(1)",
            ),
        ] {
            assert!(parse_client(&Params::parse(&q)).is_err(), "{q}");
        }
        let p = Params::parse(&happy().replace(
            "https%3A%2F%2Fapp.example.com%2Fredirect",
            "https%3A%2F%2Fapp.example.com.evil.example%2Fredirect",
        ));
        let (c, r) = parse_client(&p).unwrap();
        let info = unknown(&c);
        assert!(verify_redirect(c, r, &info).is_err());
    }

    #[test]
    fn cid_26_loopback_redirect_port_is_ignored_only_for_loopback_ips() {
        let c = ClientId::parse("https://app.example.com/").unwrap();
        let list = published(&c, &["http://127.0.0.1/cb", "https://app2.example.com/cb"]);
        let r = RedirectUri::parse("http://127.0.0.1:5555/cb").unwrap();
        assert!(verify_redirect(c.clone(), r, &list).is_ok());
        let r = RedirectUri::parse("http://127.0.0.1:5555/other").unwrap();
        assert!(verify_redirect(c.clone(), r, &list).is_err());
        let r = RedirectUri::parse("https://app2.example.com:5555/cb").unwrap();
        assert!(verify_redirect(c.clone(), r, &list).is_err());
        let r = RedirectUri::parse("https://app2.example.com/cb").unwrap();
        assert!(verify_redirect(c.clone(), r.clone(), &list).is_ok());
        // An unverified source publishes nothing (CID-12, CID-24).
        assert!(verify_redirect(c.clone(), r, &unknown(&c)).is_err());
    }

    #[test]
    fn pending_request_round_trips_through_validation() {
        let r = run(&happy(), PkcePolicy::S256).unwrap();
        let info = unknown(r.redirect.client_id());
        let p = PendingRequest::from_request(&r, info);
        let back = p.restore(PkcePolicy::S256).unwrap();
        assert_eq!(back.state, r.state);
        assert_eq!(back.scope, r.scope);
    }
}
