//! Plain SQL migrations from `migrations/`, compiled in and applied at
//! start-up. `PRAGMA user_version` records how far a database has come; a
//! database from a newer doorstep is refused rather than guessed at.

use super::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::Path;

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_grant_logo.sql"),
    include_str!("../../migrations/0003_refresh_grace.sql"),
    include_str!("../../migrations/0004_known_devices.sql"),
    include_str!("../../migrations/0005_refresh_siblings.sql"),
    include_str!("../../migrations/0006_sign_in_factors.sql"),
    include_str!("../../migrations/0007_identity.sql"),
];

/// How far a database has come: 0 for one that holds no doorstep data yet.
pub(super) fn version(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// What to do with a database from an older doorstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upgrade {
    /// Migrate it: `serve`, which the owner restarts to upgrade.
    Apply,
    /// Refuse it, saying how to upgrade: the other commands, which may run
    /// beside a still-running older server (a backup timer, a command run
    /// between installing a binary and restarting the service, `password`
    /// for an owner locked out just then) and must not upgrade its
    /// database under it, nor make a rollback impossible. A new, empty
    /// database (version 0, which only `password` may create) is set up.
    Refuse,
    /// Use it as it is: `backup`, whose copy of an older database is what
    /// a rollback needs.
    AsFound,
}

/// Brings the database to this version's schema, or refuses it, as
/// `upgrade` says; a database from a newer doorstep is always refused.
pub(super) fn apply(conn: &mut Connection, path: &Path, upgrade: Upgrade) -> StoreResult<()> {
    let known = MIGRATIONS.len() as i64;
    let found = version(conn)?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known,
        });
    }
    match upgrade {
        Upgrade::Apply => {}
        Upgrade::Refuse if found > 0 && found < known => {
            return Err(StoreError::TooOld {
                path: path.to_owned(),
                found,
                known,
            });
        }
        Upgrade::Refuse if found == 0 => {}
        Upgrade::Refuse | Upgrade::AsFound => return Ok(()),
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_newer_databases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        apply(&mut conn, &path, Upgrade::Apply).unwrap();
        apply(&mut conn, &path, Upgrade::Apply).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        match apply(&mut conn, &path, Upgrade::Apply) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            other => panic!("expected TooNew, got {other:?}"),
        }
    }
}
