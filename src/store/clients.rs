//! Cached client information (CID-13) and the owner's PKCE exemptions.

use super::StoreResult;
use crate::clock::UnixTime;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub fn cached_info(
    conn: &Connection,
    client_id: &str,
    now: UnixTime,
) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT info FROM client_cache WHERE client_id = ?1 AND expires_at > ?2",
            params![client_id, now],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn cache_info(
    tx: &Transaction<'_>,
    client_id: &str,
    info_json: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO client_cache (client_id, info, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (client_id) DO UPDATE SET info = excluded.info,
             fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
        params![client_id, info_json, now, expires_at],
    )?;
    Ok(())
}

/// The name an app goes by: the one it gave when last granted access, or
/// the one its cached information holds. None when it never gave one.
pub fn app_name(conn: &Connection, client_id: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT COALESCE(
                 (SELECT client_name FROM grants
                   WHERE client_id = ?1 AND client_name IS NOT NULL AND client_name != ''
                   ORDER BY id DESC LIMIT 1),
                 (SELECT CASE WHEN json_valid(info) THEN json_extract(info, '$.name') END
                    FROM client_cache WHERE client_id = ?1))",
            [client_id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

pub fn purge_expired_cache(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    Ok(tx.execute("DELETE FROM client_cache WHERE expires_at <= ?1", [now])?)
}

pub fn is_pkce_exempt(conn: &Connection, client_id: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM pkce_exemptions WHERE client_id = ?1",
            [client_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn add_pkce_exemption(tx: &Transaction<'_>, client_id: &str, now: UnixTime) -> StoreResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO pkce_exemptions (client_id, created_at) VALUES (?1, ?2)",
        params![client_id, now],
    )?;
    Ok(())
}

pub fn remove_pkce_exemption(tx: &Transaction<'_>, client_id: &str) -> StoreResult<bool> {
    Ok(tx.execute(
        "DELETE FROM pkce_exemptions WHERE client_id = ?1",
        [client_id],
    )? > 0)
}

pub fn pkce_exemptions(conn: &Connection) -> StoreResult<Vec<(String, UnixTime)>> {
    let mut stmt = conn
        .prepare_cached("SELECT client_id, created_at FROM pkce_exemptions ORDER BY created_at")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
