//! Resource servers (the owner's Micropub endpoint, media endpoint…) and
//! the bearer secrets they introspect with (VER-4 a). Only a secret's
//! SHA-256 hash is stored; the secret itself is shown once, at creation.

use super::StoreResult;
use crate::clock::UnixTime;
use crate::domain::SecretHash;
use rusqlite::{Connection, Transaction, params};

#[derive(Debug, Clone)]
pub struct ResourceServer {
    pub id: i64,
    pub name: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
}

pub fn create(
    tx: &Transaction<'_>,
    name: &str,
    secret_hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<i64> {
    tx.execute(
        "INSERT INTO resource_servers (name, secret_hash, created_at) VALUES (?1, ?2, ?3)",
        params![name, secret_hash.as_bytes(), now],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Every resource server, newest first, revoked ones included.
pub fn list(conn: &Connection) -> StoreResult<Vec<ResourceServer>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM resource_servers ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ResourceServer {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
            last_used_at: r.get(3)?,
            revoked_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a secret; returns its name if it was active.
pub fn revoke(tx: &Transaction<'_>, id: i64, now: UnixTime) -> StoreResult<Option<String>> {
    let changed = tx.execute(
        "UPDATE resource_servers SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    Ok(Some(tx.query_row(
        "SELECT name FROM resource_servers WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?))
}

/// The hashes of every active secret, for the hot path's constant-time
/// comparison (`live`). There are a handful at most.
pub fn active_hashes(conn: &Connection) -> StoreResult<Vec<(i64, SecretHash)>> {
    let mut stmt = conn
        .prepare_cached("SELECT id, secret_hash FROM resource_servers WHERE revoked_at IS NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, bytes) = row?;
        if let Some(h) = SecretHash::from_slice(&bytes) {
            out.push((id, h));
        }
    }
    Ok(out)
}

/// Batched "last used" (see `usage`).
pub fn touch(tx: &Transaction<'_>, uses: &[(i64, UnixTime)]) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE resource_servers SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2) WHERE id = ?1",
    )?;
    for (id, at) in uses {
        stmt.execute(params![id, at])?;
    }
    Ok(())
}
