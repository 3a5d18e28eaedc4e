//! The owner's activity log: sign-ins, grants, revocations, refusals.

use super::StoreResult;
use crate::clock::UnixTime;
use rusqlite::{Connection, Transaction, params};

pub fn record(
    tx: &Transaction<'_>,
    now: UnixTime,
    kind: &str,
    client_id: Option<&str>,
    detail: Option<&str>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO events (at, kind, client_id, detail) VALUES (?1, ?2, ?3, ?4)",
        params![now, kind, client_id, detail],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Event {
    pub at: UnixTime,
    pub kind: String,
    pub client_id: Option<String>,
    pub detail: Option<String>,
}

pub fn recent(conn: &Connection, limit: usize) -> StoreResult<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, kind, client_id, detail FROM events ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(Event {
            at: r.get(0)?,
            kind: r.get(1)?,
            client_id: r.get(2)?,
            detail: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When an event of `kind` last happened, if it ever did.
pub fn last_at(conn: &Connection, kind: &str) -> StoreResult<Option<UnixTime>> {
    Ok(
        conn.query_row("SELECT MAX(at) FROM events WHERE kind = ?1", [kind], |r| {
            r.get(0)
        })?,
    )
}

/// Keeps the log from growing without bound.
pub fn purge_older_than(tx: &Transaction<'_>, cutoff: UnixTime) -> StoreResult<usize> {
    Ok(tx.execute("DELETE FROM events WHERE at < ?1", [cutoff])?)
}
