//! How the owner signs in, beyond the password (schema 6): the sign-in
//! mode, the TOTP secret and the last time step it accepted, the passkeys,
//! and the recovery codes (only their SHA-256). The rules — what may be
//! switched or removed without locking the owner out — live in
//! `owner::factors`; this module only reads and writes.

use super::{StoreError, StoreResult};
use crate::clock::UnixTime;
use crate::domain::{SecretHash, SignInMode};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// The single settings row exists from the first write on.
fn ensure_row(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.execute("INSERT OR IGNORE INTO sign_in (id) VALUES (1)", [])?;
    Ok(())
}

/// The mode as stored (`password` when nothing was ever chosen). A value
/// this version does not know is `Corrupt`, never read as `password`: that
/// would quietly drop a second factor.
pub fn mode(conn: &Connection) -> StoreResult<SignInMode> {
    let stored: Option<String> = conn
        .query_row("SELECT mode FROM sign_in WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    match stored {
        None => Ok(SignInMode::Password),
        Some(s) => SignInMode::parse(&s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown sign-in mode {s:?}"))),
    }
}

pub fn set_mode(tx: &Transaction<'_>, mode: SignInMode) -> StoreResult<()> {
    ensure_row(tx)?;
    tx.execute("UPDATE sign_in SET mode = ?1 WHERE id = 1", [mode.as_str()])?;
    Ok(())
}

/// The confirmed TOTP secret, if the owner enrolled an authenticator app.
pub fn totp_secret(conn: &Connection) -> StoreResult<Option<Vec<u8>>> {
    Ok(conn
        .query_row(
            "SELECT totp_secret FROM sign_in WHERE id = 1 AND totp_secret IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Stores a confirmed secret; `step` (the one that confirmed it) is spent.
pub fn set_totp(tx: &Transaction<'_>, secret: &[u8], step: i64, now: UnixTime) -> StoreResult<()> {
    ensure_row(tx)?;
    tx.execute(
        "UPDATE sign_in SET totp_secret = ?1, totp_last_step = ?2, totp_added_at = ?3 WHERE id = 1",
        params![secret, step, now],
    )?;
    Ok(())
}

pub fn remove_totp(tx: &Transaction<'_>) -> StoreResult<bool> {
    Ok(tx.execute(
        "UPDATE sign_in SET totp_secret = NULL, totp_last_step = NULL, totp_added_at = NULL
         WHERE id = 1 AND totp_secret IS NOT NULL",
        [],
    )? == 1)
}

/// Spends a TOTP time step: true only if it is newer than every step
/// accepted before, so a code — or an older one still inside the skew
/// window — is never accepted twice. One statement, so two requests with
/// the same code cannot both win.
pub fn take_totp_step(tx: &Transaction<'_>, step: i64) -> StoreResult<bool> {
    Ok(tx.execute(
        "UPDATE sign_in SET totp_last_step = ?1
         WHERE id = 1 AND totp_secret IS NOT NULL
           AND (totp_last_step IS NULL OR totp_last_step < ?1)",
        [step],
    )? == 1)
}

/// Replaces every recovery code with a new set (the old set is void).
pub fn replace_recovery_codes(
    tx: &Transaction<'_>,
    hashes: &[SecretHash],
    now: UnixTime,
) -> StoreResult<()> {
    tx.execute("DELETE FROM recovery_codes", [])?;
    let mut stmt =
        tx.prepare_cached("INSERT INTO recovery_codes (code_hash, created_at) VALUES (?1, ?2)")?;
    for h in hashes {
        stmt.execute(params![h.as_bytes(), now])?;
    }
    Ok(())
}

/// Spends a recovery code: true if it was one of the live set.
pub fn take_recovery_code(tx: &Transaction<'_>, hash: &SecretHash) -> StoreResult<bool> {
    Ok(tx.execute(
        "DELETE FROM recovery_codes WHERE code_hash = ?1",
        [hash.as_bytes()],
    )? == 1)
}

pub fn recovery_codes_left(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM recovery_codes", [], |r| r.get(0))?)
}

/// The owner's WebAuthn user handle, made once with the first passkey.
pub fn webauthn_user_id(conn: &Connection) -> StoreResult<Option<Vec<u8>>> {
    Ok(conn
        .query_row(
            "SELECT webauthn_user_id FROM sign_in WHERE id = 1 AND webauthn_user_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Returns the stored handle, storing `fresh` if there was none.
pub fn ensure_webauthn_user_id(tx: &Transaction<'_>, fresh: &[u8]) -> StoreResult<Vec<u8>> {
    ensure_row(tx)?;
    tx.execute(
        "UPDATE sign_in SET webauthn_user_id = ?1 WHERE id = 1 AND webauthn_user_id IS NULL",
        [fresh],
    )?;
    Ok(tx.query_row(
        "SELECT webauthn_user_id FROM sign_in WHERE id = 1",
        [],
        |r| r.get(0),
    )?)
}

#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: i64,
    pub credential_id: Vec<u8>,
    pub label: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

pub fn passkeys(conn: &Connection) -> StoreResult<Vec<StoredPasskey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, credential_id, label, passkey, created_at, last_used_at
         FROM passkeys ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredPasskey {
            id: r.get(0)?,
            credential_id: r.get(1)?,
            label: r.get(2)?,
            passkey: r.get(3)?,
            created_at: r.get(4)?,
            last_used_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn passkey_count(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM passkeys", [], |r| r.get(0))?)
}

pub fn add_passkey(
    tx: &Transaction<'_>,
    credential_id: &[u8],
    label: &str,
    passkey: &str,
    now: UnixTime,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO passkeys (credential_id, label, passkey, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![credential_id, label, passkey, now],
    )?;
    Ok(())
}

/// Removes a passkey; its label if it existed.
pub fn remove_passkey(tx: &Transaction<'_>, id: i64) -> StoreResult<Option<String>> {
    let label: Option<String> = tx
        .query_row("SELECT label FROM passkeys WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute("DELETE FROM passkeys WHERE id = ?1", [id])?;
    Ok(label)
}

/// Renames a passkey; the old label if it existed.
pub fn rename_passkey(tx: &Transaction<'_>, id: i64, label: &str) -> StoreResult<Option<String>> {
    let old: Option<String> = tx
        .query_row("SELECT label FROM passkeys WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute(
        "UPDATE passkeys SET label = ?2 WHERE id = ?1",
        params![id, label],
    )?;
    Ok(old)
}

/// After a sign-in: the credential as webauthn-rs updated it (counter,
/// backup state) and the time. Returns the passkey's label.
pub fn passkey_used(
    tx: &Transaction<'_>,
    credential_id: &[u8],
    passkey: Option<&str>,
    now: UnixTime,
) -> StoreResult<Option<String>> {
    if let Some(p) = passkey {
        tx.execute(
            "UPDATE passkeys SET passkey = ?2 WHERE credential_id = ?1",
            params![credential_id, p],
        )?;
    }
    tx.execute(
        "UPDATE passkeys SET last_used_at = ?2 WHERE credential_id = ?1",
        params![credential_id, now],
    )?;
    Ok(tx
        .query_row(
            "SELECT label FROM passkeys WHERE credential_id = ?1",
            [credential_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// `doorstep second-factor reset`: password-only sign-in again. Every
/// passkey, the TOTP secret and the recovery codes are forgotten and every
/// browser is signed out, since whoever holds a lost factor is not the
/// owner any more.
pub fn reset(tx: &Transaction<'_>) -> StoreResult<()> {
    ensure_row(tx)?;
    tx.execute(
        "UPDATE sign_in SET mode = 'password', totp_secret = NULL, totp_last_step = NULL,
                            totp_added_at = NULL WHERE id = 1",
        [],
    )?;
    tx.execute("DELETE FROM passkeys", [])?;
    tx.execute("DELETE FROM recovery_codes", [])?;
    tx.execute("DELETE FROM sessions", [])?;
    Ok(())
}

/// What the sign-in pages and the dashboard need to know at once.
#[derive(Debug, Clone)]
pub struct Summary {
    pub mode: SignInMode,
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

pub fn summary(conn: &Connection) -> StoreResult<Summary> {
    Ok(Summary {
        mode: mode(conn)?,
        totp: totp_secret(conn)?.is_some(),
        passkeys: passkey_count(conn)?,
        recovery_codes_left: recovery_codes_left(conn)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// An unknown stored mode (a newer doorstep's, or damage) is an error,
    /// never read as "password": that would drop a second factor unseen.
    #[test]
    fn an_unknown_mode_is_corrupt_not_password() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        assert_eq!(store.read_now(mode).unwrap(), SignInMode::Password);
        store
            .write_now(|tx| set_mode(tx, SignInMode::PasskeyOnly))
            .unwrap();
        assert_eq!(store.read_now(mode).unwrap(), SignInMode::PasskeyOnly);
        store
            .write_now(|tx| {
                // The table's CHECK allows only the three modes; a newer
                // doorstep's (or a damaged file's) value is simulated.
                tx.execute_batch(
                    "PRAGMA ignore_check_constraints = ON;
                     UPDATE sign_in SET mode = 'hardware_key_only';
                     PRAGMA ignore_check_constraints = OFF;",
                )?;
                Ok(())
            })
            .unwrap();
        assert!(matches!(
            store.read_now(summary),
            Err(StoreError::Corrupt(_))
        ));
    }
}
