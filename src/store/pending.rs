//! Authorization requests waiting for the owner (CONS-7): the browser only
//! ever holds an unguessable id; the request itself stays here.

use super::StoreResult;
use crate::clock::UnixTime;
use crate::domain::SecretHash;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub fn insert(
    tx: &Transaction<'_>,
    id: &SecretHash,
    request_json: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO pending_requests (id_hash, request, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![id.as_bytes(), request_json, now, expires_at],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, id: &SecretHash, now: UnixTime) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT request FROM pending_requests WHERE id_hash = ?1 AND expires_at > ?2",
            params![id.as_bytes(), now],
            |r| r.get(0),
        )
        .optional()?)
}

/// Removes the request and returns it if it was still live: a pending
/// request is answered once.
pub fn take(tx: &Transaction<'_>, id: &SecretHash, now: UnixTime) -> StoreResult<Option<String>> {
    let found = find(tx, id, now)?;
    tx.execute(
        "DELETE FROM pending_requests WHERE id_hash = ?1",
        [id.as_bytes()],
    )?;
    Ok(found)
}

pub fn purge_expired(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    Ok(tx.execute("DELETE FROM pending_requests WHERE expires_at <= ?1", [now])?)
}
