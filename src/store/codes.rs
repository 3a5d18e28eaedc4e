//! Authorization codes and the tombstones of redeemed ones.

use super::tokens::Grant;
use super::{StoreResult, columns};
use crate::clock::UnixTime;
use crate::domain::{CodeChallenge, PkceMethod, SecretHash};
use rusqlite::{OptionalExtension, Row, Transaction, params};

/// A code as stored: the grant it will become and everything else it is
/// bound to (CODE-4), never the code itself.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub grant: Grant,
    /// None: issued without PKCE (only with the owner's leave, PKCE-3).
    pub pkce: Option<(CodeChallenge, PkceMethod)>,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

pub fn insert(tx: &Transaction<'_>, hash: &SecretHash, c: &CodeRecord) -> StoreResult<()> {
    let g = &c.grant;
    tx.execute(
        "INSERT INTO codes (code_hash, client_id, client_name, redirect_uri, scope, me, code_challenge,
                            code_challenge_method, access_lifetime, issued_at, expires_at, client_logo)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            hash.as_bytes(),
            g.client_id.as_str(),
            g.client_name,
            g.redirect_uri,
            g.scope.to_string(),
            g.me,
            c.pkce.as_ref().map(|(challenge, _)| challenge.as_str()),
            c.pkce.as_ref().map(|(_, method)| method.as_str()),
            g.access_lifetime,
            c.issued_at,
            c.expires_at,
            g.client_logo
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
            |r| Ok(code_record(r)),
        )
        .optional()?
        .transpose()?;
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

fn code_record(r: &Row<'_>) -> StoreResult<CodeRecord> {
    Ok(CodeRecord {
        grant: Grant {
            client_id: columns::client_id("codes.client_id", &r.get::<_, String>(0)?)?,
            client_name: r.get(1)?,
            redirect_uri: r.get(2)?,
            scope: columns::scope("codes.scope", &r.get::<_, String>(3)?)?,
            me: r.get(4)?,
            access_lifetime: r.get(7)?,
            client_logo: r.get(10)?,
        },
        pkce: columns::pkce(
            r.get::<_, Option<String>>(5)?.as_deref(),
            r.get::<_, Option<String>>(6)?.as_deref(),
        )?,
        issued_at: r.get(8)?,
        expires_at: r.get(9)?,
    })
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

/// What a code's tombstone says about an earlier redemption (CODE-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstone {
    /// None: the code was never redeemed, or so long ago that it is gone.
    Absent,
    /// Redeemed, and nothing came of it that could be revoked: identity
    /// only, or a redemption refused after the code was taken.
    NoGrant,
    /// Redeemed for tokens, which live under this grant.
    Grant(i64),
}

pub fn tombstone(tx: &Transaction<'_>, hash: &SecretHash) -> StoreResult<Tombstone> {
    let found: Option<Option<i64>> = tx
        .query_row(
            "SELECT grant_id FROM used_codes WHERE code_hash = ?1",
            [hash.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match found {
        None => Tombstone::Absent,
        Some(None) => Tombstone::NoGrant,
        Some(Some(grant)) => Tombstone::Grant(grant),
    })
}

pub fn purge_expired(tx: &Transaction<'_>, now: UnixTime) -> StoreResult<usize> {
    let codes = tx.execute("DELETE FROM codes WHERE expires_at <= ?1", [now])?;
    let stones = tx.execute("DELETE FROM used_codes WHERE expires_at <= ?1", [now])?;
    Ok(codes + stones)
}

/// CODE-9: how many live codes already use this challenge.
pub fn challenge_in_use(
    tx: &Transaction<'_>,
    challenge: &CodeChallenge,
    now: UnixTime,
) -> StoreResult<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM codes WHERE code_challenge = ?1 AND expires_at > ?2 LIMIT 1",
            params![challenge.as_str(), now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientId, ScopeSet, Secret};
    use crate::store::Store;

    fn code(expires_at: UnixTime) -> CodeRecord {
        CodeRecord {
            grant: Grant {
                client_id: ClientId::parse("https://app.example/").unwrap(),
                client_name: Some("App".into()),
                client_logo: None,
                redirect_uri: "https://app.example/cb".into(),
                scope: ScopeSet::parse("profile create").unwrap(),
                me: "https://me.example/".into(),
                access_lifetime: Some(3600),
            },
            pkce: Some((
                CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap(),
                PkceMethod::S256,
            )),
            issued_at: 0,
            expires_at,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_code_is_taken_once_as_written_and_its_tombstone_says_what_it_became() {
        let (_dir, store) = store();
        let hash = Secret::generate().hash();
        let written = code(60);
        store.write_now(|tx| insert(tx, &hash, &written)).unwrap();
        assert_eq!(
            store.write_now(|tx| tombstone(tx, &hash)).unwrap(),
            Tombstone::Absent
        );
        let taken = store.write_now(|tx| take(tx, &hash)).unwrap().unwrap();
        assert_eq!(taken.grant, written.grant);
        assert_eq!(taken.pkce, written.pkce);
        assert!(store.write_now(|tx| take(tx, &hash)).unwrap().is_none());
        assert_eq!(
            store.write_now(|tx| tombstone(tx, &hash)).unwrap(),
            Tombstone::NoGrant
        );
        store.write_now(|tx| link_tombstone(tx, &hash, 7)).unwrap();
        assert_eq!(
            store.write_now(|tx| tombstone(tx, &hash)).unwrap(),
            Tombstone::Grant(7)
        );
    }

    #[test]
    fn a_code_whose_stored_values_no_longer_parse_is_corrupt_and_stays_unspent() {
        let (_dir, store) = store();
        let hash = Secret::generate().hash();
        store.write_now(|tx| insert(tx, &hash, &code(60))).unwrap();
        store
            .write_now(|tx| Ok(tx.execute("UPDATE codes SET scope = 'a\\b'", [])?))
            .unwrap();
        match store.write_now(|tx| take(tx, &hash)) {
            Err(crate::store::StoreError::Corrupt(what)) => assert!(what.contains("codes.scope")),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(
            store.write_now(|tx| tombstone(tx, &hash)).unwrap(),
            Tombstone::Absent,
            "the failed take was rolled back"
        );
    }
}
