//! Browser sessions: anonymous ones carry the CSRF secret of the login
//! form; authenticated ones mean the owner signed in. `verified_at` is when
//! the owner last proved their presence in it (the sign-in itself): the
//! sensitive changes ask for that to be recent (step-up).

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
        "INSERT INTO sessions (id_hash, authenticated, created_at, expires_at, verified_at)
         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?2 THEN ?3 END)",
        params![id.as_bytes(), authenticated, now, expires_at],
    )?;
    Ok(())
}

/// A live session: whether it is signed in, and when the owner last
/// proved their presence in it.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub authenticated: bool,
    pub verified_at: Option<UnixTime>,
}

pub fn find(conn: &Connection, id: &SecretHash, now: UnixTime) -> StoreResult<Option<Found>> {
    Ok(conn
        .query_row(
            "SELECT authenticated, verified_at FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
            params![id.as_bytes(), now],
            |r| {
                Ok(Found {
                    authenticated: r.get(0)?,
                    verified_at: r.get(1)?,
                })
            },
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
