//! Askama template structs, one per page. Askama escapes every value for
//! HTML (CONS-12); URLs placed in `href`/`src` are only ever doorstep's own
//! or http(s) URLs checked before they get here.

use crate::store::events::EventKind;
use askama::Template;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub footer_host: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    /// What to do next; `None` gives the sign-in flow's line ("Nothing was
    /// sent to the app…"), which most errors are about.
    pub next: Option<&'a str>,
    /// A link onward: (href, text).
    pub link: Option<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub footer_host: &'a str,
    pub me: &'a str,
    pub csrf: &'a str,
    pub continue_to: &'a str,
    pub client: Option<&'a str>,
    pub message: Option<&'a str>,
    /// Passkey-only mode: the password form is the way back in, with a
    /// recovery code.
    pub passkey_only: bool,
    /// Offer "Sign in with a passkey" (the owner has one and the browser
    /// can use it here).
    pub passkeys: bool,
    /// Why passkeys are not offered although the owner has some.
    pub passkey_note: Option<&'a str>,
}

/// The second step of a password sign-in.
#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactorPage<'a> {
    pub footer_host: &'a str,
    pub csrf: &'a str,
    pub totp: bool,
    pub passkeys: bool,
    pub recovery_only: bool,
    pub message: Option<&'a str>,
}

/// Enrolling an authenticator app: the QR code and the confirmation form.
#[derive(Template)]
#[template(path = "totp_enrol.html")]
pub struct TotpEnrolPage<'a> {
    pub footer_host: &'a str,
    pub csrf: &'a str,
    /// An `<svg>` element doorstep drew itself (no user input in it).
    pub qr_svg: &'a str,
    pub secret: &'a str,
    pub message: Option<&'a str>,
}

/// Fresh recovery codes, shown once; optionally a mode change to confirm.
#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub footer_host: &'a str,
    pub csrf: &'a str,
    pub codes: &'a [String],
    pub intro: &'a str,
    /// The mode to switch to once the owner says the codes are saved.
    pub confirm_mode: Option<&'a str>,
    pub confirm_label: &'a str,
}

pub struct ModeChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

pub struct PasskeyRow {
    pub id: i64,
    pub label: String,
    pub created: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage<'a> {
    pub footer_host: &'a str,
    pub me: &'a str,
    pub csrf: &'a str,
    pub token: &'a str,
    pub min_len: usize,
    pub message: Option<&'a str>,
}

pub struct ScopeChoice {
    pub name: String,
    pub description: &'static str,
}

pub struct LifetimeChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub footer_host: &'a str,
    pub app_name: &'a str,
    pub source_label: &'a str,
    pub logo_url: Option<&'a str>,
    pub client_id: &'a str,
    pub client_host: &'a str,
    pub client_uri: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub redirect_host: &'a str,
    /// The redirect is an app-specific scheme (`com.example.app:/cb`), not
    /// a web host.
    pub redirect_app_scheme: bool,
    pub me: &'a str,
    pub warnings: Vec<String>,
    pub csrf: &'a str,
    pub request_id: &'a str,
    pub identity_only: bool,
    pub scopes: Vec<ScopeChoice>,
    pub lifetimes: Vec<LifetimeChoice>,
}

#[derive(Template)]
#[template(path = "no_pkce.html")]
pub struct NoPkcePage<'a> {
    pub footer_host: &'a str,
    pub app_name: &'a str,
    pub client_id: &'a str,
    pub client_host: &'a str,
    pub redirect_host: &'a str,
    pub csrf: &'a str,
    pub request_id: &'a str,
}

#[derive(Template)]
#[template(path = "homepage.html")]
pub struct Homepage<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub photo: Option<&'a str>,
    /// `oauth::metadata::homepage_links`: (rel, href).
    pub links: &'a [(&'static str, String)],
}

/// The `<link>` tags the owner copies onto their homepage: shown on the
/// dashboard and printed by `serve`.
#[derive(Template)]
#[template(path = "link_tags.html")]
pub struct LinkTags<'a> {
    pub links: &'a [(&'static str, String)],
}

pub struct ExemptionRow {
    pub client_id: String,
    /// The app's own name, when doorstep learnt one.
    pub app_name: Option<String>,
    pub since: String,
}

/// One app the owner signed in to (SEC-22).
pub struct GrantRow {
    pub id: i64,
    pub app_name: String,
    /// The name's first letter, drawn in place of a missing logo.
    pub initial: String,
    /// The client id's host (with its port, if any): who the app is.
    pub host: String,
    pub client_id: String,
    pub logo_url: Option<String>,
    pub scopes: Vec<String>,
    pub granted: String,
    pub last_used: String,
    pub expires: String,
}

pub struct EventRow {
    pub at: String,
    pub what: String,
    /// The app by its name (its host when it gave none).
    pub app: Option<String>,
    /// The full client id, for the curious (a tooltip).
    pub client_id: Option<String>,
    pub detail: Option<String>,
}

/// An app that "Revoke every app" would sign out.
pub struct AppRow {
    pub name: String,
    pub host: String,
}

/// "Revoke every app?": the confirmation, listing what it ends.
#[derive(Template)]
#[template(path = "revoke_all.html")]
pub struct RevokeAllPage<'a> {
    pub footer_host: &'a str,
    pub csrf: &'a str,
    /// Apps that lose access, all of them.
    pub total: usize,
    /// The newest of them, by name.
    pub apps: Vec<AppRow>,
}

pub struct ResourceServerRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct Dashboard<'a> {
    pub footer_host: &'a str,
    pub me: &'a str,
    pub csrf: &'a str,
    pub serves_homepage: bool,
    pub link_tags: &'a str,
    pub pkce_exemptions: Vec<ExemptionRow>,
    /// The newest active grants, at most a page of them.
    pub grants: Vec<GrantRow>,
    /// Active grants in all.
    pub grant_count: usize,
    pub resource_servers: Vec<ResourceServerRow>,
    pub introspection_endpoint: &'a str,
    pub events: Vec<EventRow>,
    pub mode: &'static str,
    pub modes: Vec<ModeChoice>,
    pub passkeys: Vec<PasskeyRow>,
    /// Passkeys can be added here (WebAuthn works on this issuer).
    pub passkeys_available: bool,
    pub passkey_note: Option<String>,
    pub totp: bool,
    pub recovery_codes_left: i64,
    /// The shortest password accepted (`owner::password::MIN_LEN`).
    pub min_len: usize,
}

/// Shown once, right after the owner creates a resource-server secret.
#[derive(Template)]
#[template(path = "resource_server_created.html")]
pub struct ResourceServerCreated<'a> {
    pub footer_host: &'a str,
    pub name: &'a str,
    pub secret: &'a str,
    pub introspection_endpoint: &'a str,
}

/// Words for an event in the owner's activity log. Every kind has its
/// own; a kind this version does not know (written by a newer one) is
/// shown as stored, underscores as spaces.
pub fn describe_event(kind: &Result<EventKind, String>) -> String {
    let known = match kind {
        Ok(k) => *k,
        Err(stored) => return stored.replace('_', " "),
    };
    match known {
        EventKind::Approved => "Approved a request",
        EventKind::SignedIn => "Signed in to an app",
        EventKind::TokenIssued => "Granted access",
        EventKind::Revoked => "Revoked access",
        EventKind::RefreshReused => "Revoked access: a used refresh token came back",
        EventKind::CodeReplayed => "Revoked access: a used code came back",
        EventKind::Denied => "Denied a request",
        EventKind::Login => "Signed in to doorstep",
        EventKind::SignInModeChanged => "Changed how you sign in",
        EventKind::PasskeyAdded => "Passkey added",
        EventKind::PasskeyRemoved => "Passkey removed",
        EventKind::PasskeyRenamed => "Passkey renamed",
        EventKind::PasskeyFailed => "A passkey sign-in failed",
        EventKind::SecondFactorPaused => {
            "Wrong codes after the right password: code entry paused. If this was not you, change \
             your password"
        }
        EventKind::TotpAdded => "Authenticator app added",
        EventKind::TotpRemoved => "Authenticator app removed",
        EventKind::RecoveryCodesCreated => "New recovery codes",
        EventKind::RecoveryCodeUsed => "Recovery code used",
        EventKind::SecondFactorReset => "Sign-in reset to password only",
        EventKind::PasswordSet => "Password set",
        EventKind::ResourceServerAdded => "Resource-server secret created",
        EventKind::ResourceServerRevoked => "Resource-server secret revoked",
        EventKind::PkceExemptionAdded => "Allowed an app without PKCE",
        EventKind::PkceExemptionRemoved => "Withdrew a PKCE exemption",
        EventKind::PkceRefused => "Refused an app without PKCE",
        EventKind::Backup => "Backup made",
    }
    .into()
}

/// A date for people: `2026-11-21 08:34 UTC`.
pub fn format_time(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            dt.format(&fmt).unwrap_or_else(|_| t.to_string())
        }
        Err(_) => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_has_words_of_its_own() {
        for k in EventKind::ALL {
            let words = describe_event(&Ok(k));
            assert_ne!(words, k.as_str().replace('_', " "), "{k:?}");
            assert!(words.starts_with(|c: char| c.is_uppercase()), "{words}");
        }
        assert_eq!(
            describe_event(&Err("from_the_future".into())),
            "from the future"
        );
    }
}
