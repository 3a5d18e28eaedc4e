//! Browser sessions: anonymous ones carry the CSRF secret of the login
//! form; authenticated ones mean the owner signed in.

use super::StoreResult;
use crate::clock::UnixTime;
use crate::domain::SecretHash;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub fn create(
    tx: &Transaction<'_>,
    id: &SecretHash,
    authenticated: bool,
    now: UnixTime,
    expires_at: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO sessions (id_hash, authenticated, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![id.as_bytes(), authenticated, now, expires_at],
    )?;
    Ok(())
}

/// `Some(authenticated)` for a live session.
pub fn find(conn: &Connection, id: &SecretHash, now: UnixTime) -> StoreResult<Option<bool>> {
    Ok(conn
        .query_row(
            "SELECT authenticated FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
            params![id.as_bytes(), now],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn delete(tx: &Transaction<'_>, id: &SecretHash) -> StoreResult<()> {
    tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [id.as_bytes()])?;
    Ok(())
}

pub fn purge_expired(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    Ok(tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?)
}
