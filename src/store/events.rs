//! The owner's activity log: sign-ins, grants, revocations, refusals,
//! changes to how the owner signs in, backups.

use super::StoreResult;
use crate::clock::UnixTime;
use rusqlite::{Connection, Transaction, params};

/// What happened. Stored as its `as_str` spelling, which must never
/// change: databases written by every earlier version read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The owner approved a request; a code was issued.
    Approved,
    /// The owner denied a request.
    Denied,
    /// A code was redeemed for the owner's identity.
    SignedIn,
    /// A code was redeemed for tokens.
    TokenIssued,
    /// A grant was revoked (by the app, the owner, or the command line).
    Revoked,
    /// A spent refresh token came back; its grant was revoked.
    RefreshReused,
    /// A spent code came back; what it produced was revoked.
    CodeReplayed,
    /// The owner signed in to doorstep.
    Login,
    SignInModeChanged,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyRenamed,
    PasskeyFailed,
    /// Several wrong second-factor codes in a row after the right
    /// password: code entry was paused (`owner::throttle::CodeGuard`).
    SecondFactorPaused,
    TotpAdded,
    TotpRemoved,
    RecoveryCodesCreated,
    RecoveryCodeUsed,
    SecondFactorReset,
    PasswordSet,
    ResourceServerAdded,
    ResourceServerRevoked,
    PkceExemptionAdded,
    PkceExemptionRemoved,
    PkceRefused,
    /// `doorstep backup` made a copy (`doorstep doctor` asks when).
    Backup,
}

impl EventKind {
    /// Every kind, for tests and for anyone listing them.
    pub const ALL: [EventKind; 26] = [
        EventKind::Approved,
        EventKind::Denied,
        EventKind::SignedIn,
        EventKind::TokenIssued,
        EventKind::Revoked,
        EventKind::RefreshReused,
        EventKind::CodeReplayed,
        EventKind::Login,
        EventKind::SignInModeChanged,
        EventKind::PasskeyAdded,
        EventKind::PasskeyRemoved,
        EventKind::PasskeyRenamed,
        EventKind::PasskeyFailed,
        EventKind::SecondFactorPaused,
        EventKind::TotpAdded,
        EventKind::TotpRemoved,
        EventKind::RecoveryCodesCreated,
        EventKind::RecoveryCodeUsed,
        EventKind::SecondFactorReset,
        EventKind::PasswordSet,
        EventKind::ResourceServerAdded,
        EventKind::ResourceServerRevoked,
        EventKind::PkceExemptionAdded,
        EventKind::PkceExemptionRemoved,
        EventKind::PkceRefused,
        EventKind::Backup,
    ];

    /// The spelling in the `events.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Approved => "approved",
            EventKind::Denied => "denied",
            EventKind::SignedIn => "signed_in",
            EventKind::TokenIssued => "token_issued",
            EventKind::Revoked => "revoked",
            EventKind::RefreshReused => "refresh_reused",
            EventKind::CodeReplayed => "code_replayed",
            EventKind::Login => "login",
            EventKind::SignInModeChanged => "sign_in_mode_changed",
            EventKind::PasskeyAdded => "passkey_added",
            EventKind::PasskeyRemoved => "passkey_removed",
            EventKind::PasskeyRenamed => "passkey_renamed",
            EventKind::PasskeyFailed => "passkey_failed",
            EventKind::SecondFactorPaused => "second_factor_paused",
            EventKind::TotpAdded => "totp_added",
            EventKind::TotpRemoved => "totp_removed",
            EventKind::RecoveryCodesCreated => "recovery_codes_created",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::SecondFactorReset => "second_factor_reset",
            EventKind::PasswordSet => "password_set",
            EventKind::ResourceServerAdded => "resource_server_added",
            EventKind::ResourceServerRevoked => "resource_server_revoked",
            EventKind::PkceExemptionAdded => "pkce_exemption_added",
            EventKind::PkceExemptionRemoved => "pkce_exemption_removed",
            EventKind::PkceRefused => "pkce_refused",
            EventKind::Backup => "backup",
        }
    }

    /// The kind a stored spelling stands for; None for one this version
    /// does not know (written by a newer doorstep).
    pub fn from_stored(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

pub fn record(
    tx: &Transaction<'_>,
    now: UnixTime,
    kind: EventKind,
    client_id: Option<&str>,
    detail: Option<&str>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO events (at, kind, client_id, detail) VALUES (?1, ?2, ?3, ?4)",
        params![now, kind.as_str(), client_id, detail],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Event {
    pub at: UnixTime,
    /// `Err` holds a spelling this version does not know, as stored.
    pub kind: Result<EventKind, String>,
    pub client_id: Option<String>,
    pub detail: Option<String>,
}

/// Whether an event of `kind` was recorded at `since` or later.
pub fn recorded_since(conn: &Connection, kind: EventKind, since: UnixTime) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE kind = ?1 AND at >= ?2)")?
        .query_row(params![kind.as_str(), since], |r| r.get(0))?)
}

pub fn recent(conn: &Connection, limit: usize) -> StoreResult<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, kind, client_id, detail FROM events ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        let kind: String = r.get(1)?;
        Ok(Event {
            at: r.get(0)?,
            kind: EventKind::from_stored(&kind).ok_or(kind),
            client_id: r.get(2)?,
            detail: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When an event of `kind` last happened, if it ever did.
pub fn last_at(conn: &Connection, kind: EventKind) -> StoreResult<Option<UnixTime>> {
    Ok(conn.query_row(
        "SELECT MAX(at) FROM events WHERE kind = ?1",
        [kind.as_str()],
        |r| r.get(0),
    )?)
}

/// Keeps the log from growing without bound.
pub fn purge_older_than(tx: &Transaction<'_>, cutoff: UnixTime) -> StoreResult<usize> {
    Ok(tx.execute("DELETE FROM events WHERE at < ?1", [cutoff])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The spellings in databases written so far; changing one would make
    /// old rows unknown, so this list may only grow.
    const STORED: [&str; 26] = [
        "approved",
        "denied",
        "signed_in",
        "token_issued",
        "revoked",
        "refresh_reused",
        "code_replayed",
        "login",
        "sign_in_mode_changed",
        "passkey_added",
        "passkey_removed",
        "passkey_renamed",
        "passkey_failed",
        "second_factor_paused",
        "totp_added",
        "totp_removed",
        "recovery_codes_created",
        "recovery_code_used",
        "second_factor_reset",
        "password_set",
        "resource_server_added",
        "resource_server_revoked",
        "pkce_exemption_added",
        "pkce_exemption_removed",
        "pkce_refused",
        "backup",
    ];

    #[test]
    fn every_kind_keeps_its_stored_spelling_and_reads_back() {
        let spellings: HashSet<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(spellings, STORED.into_iter().collect(), "spellings changed");
        assert_eq!(
            spellings.len(),
            EventKind::ALL.len(),
            "a spelling is shared"
        );
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_stored(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::from_stored("Approved"), None);
    }

    #[test]
    fn a_kind_this_version_does_not_know_is_listed_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        store
            .write_now(|tx| {
                record(tx, 1, EventKind::Backup, None, Some("to /b"))?;
                tx.execute(
                    "INSERT INTO events (at, kind) VALUES (2, 'from_the_future')",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        let events = store.read_now(|c| recent(c, 10)).unwrap();
        assert_eq!(events[0].kind, Err("from_the_future".to_owned()));
        assert_eq!(events[1].kind, Ok(EventKind::Backup));
        assert_eq!(
            store.read_now(|c| last_at(c, EventKind::Backup)).unwrap(),
            Some(1)
        );
    }
}
