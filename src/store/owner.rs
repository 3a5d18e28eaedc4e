//! The owner's password hash and the one-time setup links.

use super::StoreResult;
use crate::clock::UnixTime;
use crate::domain::SecretHash;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub fn password_hash(conn: &Connection) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row("SELECT password_hash FROM owner WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Sets the password and, as a security event (REF-10), signs out every
/// browser session and spends every outstanding setup link.
pub fn set_password_hash(tx: &Transaction<'_>, hash: &str, now: UnixTime) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO owner (id, password_hash, changed_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
                                        changed_at = excluded.changed_at",
        params![hash, now],
    )?;
    tx.execute("DELETE FROM sessions", [])?;
    tx.execute("DELETE FROM setup_links", [])?;
    Ok(())
}

/// A new setup link replaces any earlier one: only the last printed URL works.
pub fn create_setup_link(
    tx: &Transaction<'_>,
    hash: &SecretHash,
    expires_at: UnixTime,
) -> StoreResult<()> {
    tx.execute("DELETE FROM setup_links", [])?;
    tx.execute(
        "INSERT INTO setup_links (token_hash, expires_at) VALUES (?1, ?2)",
        params![hash.as_bytes(), expires_at],
    )?;
    Ok(())
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
