//! Authorization codes and the tombstones of redeemed ones.

use super::StoreResult;
use crate::clock::UnixTime;
use crate::domain::SecretHash;
use rusqlite::{OptionalExtension, Transaction, params};

/// A code as stored: everything it is bound to (CODE-4), never the code.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub client_id: String,
    pub client_name: Option<String>,
    /// The logo shown at consent (http/https only), for the dashboard.
    pub client_logo: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub me: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub access_lifetime: Option<i64>,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

pub fn insert(tx: &Transaction<'_>, hash: &SecretHash, c: &CodeRecord) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO codes (code_hash, client_id, client_name, redirect_uri, scope, me, code_challenge,
                            code_challenge_method, access_lifetime, issued_at, expires_at, client_logo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            hash.as_bytes(),
            c.client_id,
            c.client_name,
            c.redirect_uri,
            c.scope,
            c.me,
            c.code_challenge,
            c.code_challenge_method,
            c.access_lifetime,
            c.issued_at,
            c.expires_at,
            c.client_logo
        ],
    )?;
    Ok(())
}

/// Select and delete in one transaction (STYLE habit 6): whoever takes the
/// code first is the only one who ever sees it. Leaves a tombstone so that a
/// second attempt is recognised as a replay (CODE-3).
pub fn take(tx: &Transaction<'_>, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
    let found = tx
        .query_row(
            "SELECT client_id, client_name, redirect_uri, scope, me, code_challenge,
                    code_challenge_method, access_lifetime, issued_at, expires_at, client_logo
             FROM codes WHERE code_hash = ?1",
            [hash.as_bytes()],
            |r| {
                Ok(CodeRecord {
                    client_id: r.get(0)?,
                    client_name: r.get(1)?,
                    redirect_uri: r.get(2)?,
                    scope: r.get(3)?,
                    me: r.get(4)?,
                    code_challenge: r.get(5)?,
                    code_challenge_method: r.get(6)?,
                    access_lifetime: r.get(7)?,
                    issued_at: r.get(8)?,
                    expires_at: r.get(9)?,
                    client_logo: r.get(10)?,
                })
            },
        )
        .optional()?;
    if let Some(code) = &found {
        tx.execute("DELETE FROM codes WHERE code_hash = ?1", [hash.as_bytes()])?;
        // Kept a while past expiry so a late replay still revokes (CODE-3).
        tx.execute(
            "INSERT OR REPLACE INTO used_codes (code_hash, grant_id, expires_at) VALUES (?1, NULL, ?2)",
            params![hash.as_bytes(), code.expires_at + TOMBSTONE_GRACE],
        )?;
    }
    Ok(found)
}

/// How long after a code's expiry its tombstone is kept.
const TOMBSTONE_GRACE: i64 = 24 * 3600;

/// Records which grant a redeemed code produced, so a replay can revoke it.
pub fn link_tombstone(tx: &Transaction<'_>, hash: &SecretHash, grant_id: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE used_codes SET grant_id = ?2 WHERE code_hash = ?1",
        params![hash.as_bytes(), grant_id],
    )?;
    Ok(())
}

/// `Some(grant)` if this code was already redeemed (the grant it produced,
/// if any).
pub fn tombstone(tx: &Transaction<'_>, hash: &SecretHash) -> StoreResult<Option<Option<i64>>> {
    Ok(tx
        .query_row(
            "SELECT grant_id FROM used_codes WHERE code_hash = ?1",
            [hash.as_bytes()],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn purge_expired(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    let codes = tx.execute("DELETE FROM codes WHERE expires_at <= ?1", [now])?;
    let stones = tx.execute("DELETE FROM used_codes WHERE expires_at <= ?1", [now])?;
    Ok(codes + stones)
}

/// CODE-9: how many live codes already use this challenge.
pub fn challenge_in_use(tx: &Transaction<'_>, challenge: &str, now: UnixTime) -> StoreResult<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM codes WHERE code_challenge = ?1 AND expires_at > ?2 LIMIT 1",
            params![challenge, now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
