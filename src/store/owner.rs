//! The owner's password hash and the one-time setup links.

use super::StoreResult;
use super::events::{self, EventKind};
use crate::clock::UnixTime;
use crate::domain::{Secret, SecretHash};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub fn password_hash(conn: &Connection) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row("SELECT password_hash FROM owner WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Sets the password and, as a security event (REF-10), signs out every
/// browser session, spends every outstanding setup link, forgets every
/// known device and records the change in the activity log, saying `how`
/// ("on the dashboard").
pub fn set_password(tx: &Transaction<'_>, hash: &str, now: UnixTime, how: &str) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO owner (id, password_hash, changed_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
                                        changed_at = excluded.changed_at",
        params![hash, now],
    )?;
    tx.execute("DELETE FROM sessions", [])?;
    tx.execute("DELETE FROM setup_links", [])?;
    tx.execute("DELETE FROM known_devices", [])?;
    events::record(tx, now, EventKind::PasswordSet, None, Some(how))
}

/// How long a printed setup link works, in seconds. The words "within an
/// hour" on the setup page and in `serve`'s output say it.
pub const SETUP_LINK_LIFETIME: i64 = 3600;

/// A new one-time setup link, valid for `SETUP_LINK_LIFETIME` from `now`;
/// it replaces any earlier one (only the last printed URL works). Returns
/// the secret to print once; only its hash is kept.
pub fn issue_setup_link(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<Secret> {
    let link = Secret::generate();
    tx.execute("DELETE FROM setup_links", [])?;
    tx.execute(
        "INSERT INTO setup_links (token_hash, expires_at) VALUES (?1, ?2)",
        params![link.hash().as_bytes(), now + SETUP_LINK_LIFETIME],
    )?;
    Ok(link)
}

pub fn setup_link_valid(conn: &Connection, hash: &SecretHash, now: UnixTime) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM setup_links WHERE token_hash = ?1 AND expires_at > ?2",
            params![hash.as_bytes(), now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Spends a setup link: true if it existed and was still valid.
pub fn take_setup_link(
    tx: &Transaction<'_>,
    hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<bool> {
    let valid = setup_link_valid(tx, hash, now)?;
    tx.execute(
        "DELETE FROM setup_links WHERE token_hash = ?1",
        [hash.as_bytes()],
    )?;
    Ok(valid)
}

/// Is this a browser the owner has signed in from (see migration 4)?
pub fn is_known_device(conn: &Connection, hash: &SecretHash) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM known_devices WHERE secret_hash = ?1",
            [hash.as_bytes()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Remembers a browser after a successful sign-in (or refreshes its date).
pub fn remember_device(tx: &Transaction<'_>, hash: &SecretHash, now: UnixTime) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO known_devices (secret_hash, created_at, last_seen_at) VALUES (?1, ?2, ?2)
         ON CONFLICT (secret_hash) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        params![hash.as_bytes(), now],
    )?;
    Ok(())
}

/// Forgets one browser (the owner signed out on it).
pub fn forget_device(tx: &Transaction<'_>, hash: &SecretHash) -> StoreResult<()> {
    tx.execute(
        "DELETE FROM known_devices WHERE secret_hash = ?1",
        [hash.as_bytes()],
    )?;
    Ok(())
}

/// How long a known device is remembered after it was last seen, in
/// seconds: its cookie lives as long, and the hourly purge forgets it then.
pub const DEVICE_LIFETIME: i64 = 365 * 86_400;

/// Devices unseen for `DEVICE_LIFETIME` are forgotten.
pub fn purge_old_devices(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    Ok(tx.execute(
        "DELETE FROM known_devices WHERE last_seen_at < ?1",
        [now - DEVICE_LIFETIME],
    )?)
}
