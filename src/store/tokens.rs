//! Grants and the access and refresh tokens issued under them. A grant is
//! one approval by the owner; revoking it ends every token it produced.

use super::{StoreResult, columns};
use crate::clock::UnixTime;
use crate::domain::{ClientId, ScopeSet, SecretHash};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

/// What the owner approved for a client: carried by the code until it is
/// redeemed, then stored as the grant that its tokens live under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: ClientId,
    pub client_name: Option<String>,
    /// The logo shown at consent (http/https only), for the dashboard.
    pub client_logo: Option<String>,
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub me: String,
    /// Seconds an access token lives; None means until revoked.
    pub access_lifetime: Option<i64>,
}

pub fn create_grant(tx: &Transaction<'_>, g: &Grant, now: UnixTime) -> StoreResult<i64> {
    tx.execute(
        "INSERT INTO grants (client_id, client_name, redirect_uri, scope, me, created_at, access_lifetime, client_logo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            g.client_id.as_str(),
            g.client_name,
            g.redirect_uri,
            g.scope.to_string(),
            g.me,
            now,
            g.access_lifetime,
            g.client_logo
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// A grant with one access token under it, minted without a code: the
/// doctor's throwaway token, benchmark fixtures, tests.
pub fn create_grant_with_token(
    tx: &Transaction<'_>,
    grant: &Grant,
    token: &SecretHash,
    now: UnixTime,
    expires_at: Option<UnixTime>,
) -> StoreResult<i64> {
    let grant_id = create_grant(tx, grant, now)?;
    insert_access_token(
        tx,
        token,
        &ActiveToken {
            grant_id,
            client_id: grant.client_id.clone(),
            me: grant.me.clone(),
            scope: grant.scope.clone(),
            issued_at: now,
            expires_at,
        },
    )?;
    Ok(grant_id)
}

/// Revokes a grant and every token under it. Returns whether anything changed.
pub fn revoke_grant(tx: &Transaction<'_>, grant_id: i64, now: UnixTime) -> StoreResult<bool> {
    let changed = tx.execute(
        "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![grant_id, now],
    )?;
    tx.execute(
        "UPDATE access_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
        params![grant_id, now],
    )?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
        params![grant_id, now],
    )?;
    Ok(changed > 0)
}

/// What an access token stands for: stored as it is issued, and read back
/// while it is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    pub grant_id: i64,
    pub client_id: ClientId,
    pub me: String,
    pub scope: ScopeSet,
    pub issued_at: UnixTime,
    pub expires_at: Option<UnixTime>,
}

pub fn insert_access_token(
    tx: &Transaction<'_>,
    hash: &SecretHash,
    t: &ActiveToken,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO access_tokens (token_hash, grant_id, client_id, me, scope, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            hash.as_bytes(),
            t.grant_id,
            t.client_id.as_str(),
            t.me,
            t.scope.to_string(),
            t.issued_at,
            t.expires_at
        ],
    )?;
    Ok(())
}

/// The verification query: one indexed read by primary key. Revocation of a
/// grant marks its tokens too, so the token row alone decides.
pub fn find_active_access_token(
    conn: &Connection,
    hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<Option<ActiveToken>> {
    let mut stmt = conn.prepare_cached(
        "SELECT grant_id, client_id, me, scope, issued_at, expires_at FROM access_tokens
         WHERE token_hash = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
    )?;
    stmt.query_row(params![hash.as_bytes(), now], |r| Ok(active_token(r)))
        .optional()?
        .transpose()
}

fn active_token(r: &Row<'_>) -> StoreResult<ActiveToken> {
    Ok(ActiveToken {
        grant_id: r.get(0)?,
        client_id: columns::client_id("access_tokens.client_id", &r.get::<_, String>(1)?)?,
        me: r.get(2)?,
        scope: columns::scope("access_tokens.scope", &r.get::<_, String>(3)?)?,
        issued_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

/// Marks grants as used, in one statement per batch (STYLE habit 7).
pub fn touch_grants(tx: &Transaction<'_>, uses: &[(i64, UnixTime)]) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE grants SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2) WHERE id = ?1",
    )?;
    for (id, at) in uses {
        stmt.execute(params![id, at])?;
    }
    Ok(())
}

/// A grant as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct GrantSummary {
    pub id: i64,
    pub client_id: ClientId,
    pub client_name: Option<String>,
    pub client_logo: Option<String>,
    pub scope: ScopeSet,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
    /// Latest expiry among its live access tokens; None = until revoked.
    pub expires_at: Option<UnixTime>,
}

/// The condition on a grant `g` (and `?1`, now) for it to count as active:
/// not revoked, with a live access token or an unrotated refresh token.
macro_rules! active_grant {
    () => {
        "g.revoked_at IS NULL
            AND (EXISTS (SELECT 1 FROM access_tokens t WHERE t.grant_id = g.id AND t.revoked_at IS NULL
                          AND (t.expires_at IS NULL OR t.expires_at > ?1))
              OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id AND r.revoked_at IS NULL
                          AND r.rotated_at IS NULL AND r.expires_at > ?1))"
    };
}

/// Grants that still have a live access or refresh token, newest first: at
/// most `limit` of them (None: all). The dashboard shows a page of them, so
/// that its size does not grow with every grant ever made.
pub fn active_grants(
    conn: &Connection,
    now: UnixTime,
    limit: Option<usize>,
) -> StoreResult<Vec<GrantSummary>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT g.id, g.client_id, g.client_name, g.scope, g.created_at, g.last_used_at, g.client_logo,
                (SELECT CASE WHEN COUNT(*) > COUNT(expires_at) THEN NULL ELSE MAX(expires_at) END
                   FROM access_tokens t
                  WHERE t.grant_id = g.id AND t.revoked_at IS NULL
                    AND (t.expires_at IS NULL OR t.expires_at > ?1))
           FROM grants g
          WHERE ",
        active_grant!(),
        " ORDER BY g.created_at DESC, g.id DESC LIMIT ?2"
    ))?;
    // SQLite reads a negative LIMIT as none.
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = stmt.query_map(params![now, limit], |r| Ok(grant_summary(r)))?;
    rows.map(|row| row?).collect()
}

/// The profile URL most live grants were issued as, when it is not `me`,
/// with how many grants hold tokens under it: how a database from before
/// the identity table (schema 7) says whose it was.
pub fn live_grants_issued_as_another(
    conn: &Connection,
    me: &str,
    now: UnixTime,
) -> StoreResult<Option<(String, usize)>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT g.me, COUNT(*) AS n FROM grants g WHERE g.me != ?2 AND ",
        active_grant!(),
        " GROUP BY g.me ORDER BY n DESC LIMIT 1"
    ))?;
    Ok(stmt
        .query_row(params![now, me], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?
        .map(|(me, n)| (me, usize::try_from(n).unwrap_or(0))))
}

/// How many grants `active_grants` would list without a limit.
pub fn count_active_grants(conn: &Connection, now: UnixTime) -> StoreResult<usize> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT COUNT(*) FROM grants g WHERE ",
        active_grant!()
    ))?;
    let n: i64 = stmt.query_row([now], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

fn grant_summary(r: &Row<'_>) -> StoreResult<GrantSummary> {
    Ok(GrantSummary {
        id: r.get(0)?,
        client_id: columns::client_id("grants.client_id", &r.get::<_, String>(1)?)?,
        client_name: r.get(2)?,
        scope: columns::scope("grants.scope", &r.get::<_, String>(3)?)?,
        created_at: r.get(4)?,
        last_used_at: r.get(5)?,
        client_logo: r.get(6)?,
        expires_at: r.get(7)?,
    })
}

pub fn grant_client(conn: &Connection, grant_id: i64) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT client_id FROM grants WHERE id = ?1",
            [grant_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Removes tokens that can no longer matter: expired or revoked a day ago.
pub fn purge_dead(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    let cutoff = now - 24 * 3600;
    let a = tx.execute(
        "DELETE FROM access_tokens WHERE (expires_at IS NOT NULL AND expires_at <= ?1) OR revoked_at <= ?1",
        [cutoff],
    )?;
    let r = tx.execute(
        "DELETE FROM refresh_tokens WHERE expires_at <= ?1 OR revoked_at <= ?1",
        [cutoff],
    )?;
    Ok(a + r)
}

/// A refresh token to store: `parent` is the token it was rotated from
/// (None for the first of a grant).
pub struct NewRefreshToken<'a> {
    pub grant_id: i64,
    pub scope: &'a ScopeSet,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub parent: Option<&'a SecretHash>,
}

pub fn insert_refresh_token(
    tx: &Transaction<'_>,
    hash: &SecretHash,
    t: &NewRefreshToken<'_>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, grant_id, scope, issued_at, expires_at, parent_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            hash.as_bytes(),
            t.grant_id,
            t.scope.to_string(),
            t.issued_at,
            t.expires_at,
            t.parent.map(SecretHash::as_bytes)
        ],
    )?;
    Ok(())
}

/// A refresh token as stored, with what its grant says.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub grant_id: i64,
    pub scope: ScopeSet,
    pub expires_at: UnixTime,
    pub rotated_at: Option<UnixTime>,
    /// Presented once already after its rotation, inside the grace window.
    pub grace_used: bool,
    pub revoked: bool,
    pub client_id: ClientId,
    pub me: String,
    pub access_lifetime: Option<i64>,
    /// The token this one was rotated from.
    pub parent: Option<SecretHash>,
}

pub fn find_refresh_token(
    tx: &Transaction<'_>,
    hash: &SecretHash,
) -> StoreResult<Option<RefreshRecord>> {
    tx.query_row(
        "SELECT r.grant_id, r.scope, r.expires_at, r.rotated_at,
                    (r.revoked_at IS NOT NULL OR g.revoked_at IS NOT NULL),
                    g.client_id, g.me, g.access_lifetime, r.grace_used_at IS NOT NULL,
                    r.parent_hash
               FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
              WHERE r.token_hash = ?1",
        [hash.as_bytes()],
        |r| Ok(refresh_record(r)),
    )
    .optional()?
    .transpose()
}

fn refresh_record(r: &Row<'_>) -> StoreResult<RefreshRecord> {
    Ok(RefreshRecord {
        grant_id: r.get(0)?,
        scope: columns::scope("refresh_tokens.scope", &r.get::<_, String>(1)?)?,
        expires_at: r.get(2)?,
        rotated_at: r.get(3)?,
        revoked: r.get(4)?,
        client_id: columns::client_id("grants.client_id", &r.get::<_, String>(5)?)?,
        me: r.get(6)?,
        access_lifetime: r.get(7)?,
        grace_used: r.get(8)?,
        parent: r
            .get::<_, Option<Vec<u8>>>(9)?
            .and_then(|b| SecretHash::from_slice(&b)),
    })
}

/// Records the one use a rotated refresh token gets in the grace window.
pub fn mark_refresh_grace_used(
    tx: &Transaction<'_>,
    hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE refresh_tokens SET grace_used_at = ?2 WHERE token_hash = ?1",
        params![hash.as_bytes(), now],
    )?;
    Ok(())
}

/// Whether any token rotated from `parent` has been used itself: the grant
/// has moved on past `parent`, so `parent` gets no grace any more.
pub fn refresh_successor_used(tx: &Transaction<'_>, parent: &SecretHash) -> StoreResult<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM refresh_tokens WHERE parent_hash = ?1 AND rotated_at IS NOT NULL LIMIT 1",
            [parent.as_bytes()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The first sibling used wins: every other successor of the same parent
/// is spent now, with its grace spent too, so presenting one later is
/// reuse (REF-8).
pub fn supersede_refresh_siblings(
    tx: &Transaction<'_>,
    parent: &SecretHash,
    winner: &SecretHash,
    now: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE refresh_tokens SET rotated_at = ?3, grace_used_at = ?3
          WHERE parent_hash = ?1 AND token_hash != ?2 AND rotated_at IS NULL",
        params![parent.as_bytes(), winner.as_bytes(), now],
    )?;
    Ok(())
}

pub fn mark_refresh_rotated(
    tx: &Transaction<'_>,
    hash: &SecretHash,
    now: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND rotated_at IS NULL",
        params![hash.as_bytes(), now],
    )?;
    Ok(())
}

/// The grant and client behind any token, access or refresh (REV-1: the
/// hint never limits the search).
pub fn grant_of_token(conn: &Connection, hash: &SecretHash) -> StoreResult<Option<(i64, String)>> {
    let access = conn
        .query_row(
            "SELECT grant_id, client_id FROM access_tokens WHERE token_hash = ?1",
            [hash.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if access.is_some() {
        return Ok(access);
    }
    Ok(conn
        .query_row(
            "SELECT r.grant_id, g.client_id FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
              WHERE r.token_hash = ?1",
            [hash.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Whether a refresh token with this hash exists at all (VER-2: the
/// introspection search covers every token type).
pub fn is_refresh_token(conn: &Connection, hash: &SecretHash) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM refresh_tokens WHERE token_hash = ?1")?
        .query_row([hash.as_bytes()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Revokes every live grant (the dashboard's "revoke all"); returns the
/// client of each grant that was revoked.
pub fn revoke_all_grants(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<Vec<(i64, String)>> {
    let live: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT id, client_id FROM grants WHERE revoked_at IS NULL")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, _) in &live {
        revoke_grant(tx, *id, now)?;
    }
    Ok(live)
}
