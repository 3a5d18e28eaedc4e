//! Which doorstep a database belongs to: the issuer and the profile URL
//! (`me`) it was first served under (schema 7). Every grant and token in the
//! file was issued as that `me` by that issuer, so a database served under
//! other addresses — a backup restored on a new host, a copied file, a
//! configuration that lost its `issuer` — would answer token checks with
//! one identity and sign apps in with another. `serve` records the
//! identity at its first start and compares it at every start after
//! (`app`); `doorstep doctor` fails the same comparison.
//!
//! A different identity is adopted only when no app holds a live token:
//! then nothing in the database speaks for the old one any more. That is
//! how an owner moves doorstep on purpose: revoke every app, and the new
//! addresses are recorded (at once from the dashboard, or at the next start).

use super::{StoreResult, tokens};
use crate::clock::UnixTime;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub me: String,
}

impl Identity {
    pub fn new(issuer: &str, me: &str) -> Identity {
        Identity {
            issuer: issuer.to_owned(),
            me: me.to_owned(),
        }
    }
}

/// How the configured identity stands against the database's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Nothing was recorded yet (a new database, or one from before schema
    /// 7): the configured identity is recorded now.
    Recorded,
    Matches,
    /// The database was made for `was`, but no app holds a live token from
    /// it: the configured identity is recorded in its place.
    Adopted {
        was: Identity,
    },
    /// The database was made for `recorded`, and `live_apps` apps still
    /// hold tokens issued under it. Nothing is changed.
    Differs {
        recorded: Identity,
        live_apps: usize,
    },
    /// Nothing was recorded (a database from before schema 7), but
    /// `live_apps` apps hold tokens issued as another profile URL, `me`:
    /// the configuration is not the one the database was served under.
    /// Nothing is recorded until it is.
    IssuedAsAnother {
        me: String,
        live_apps: usize,
    },
}

pub fn recorded(conn: &Connection) -> StoreResult<Option<Identity>> {
    Ok(conn
        .query_row("SELECT issuer, me FROM identity WHERE id = 1", [], |r| {
            Ok(Identity {
                issuer: r.get(0)?,
                me: r.get(1)?,
            })
        })
        .optional()?)
}

fn record(tx: &Transaction<'_>, identity: &Identity, now: UnixTime) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO identity (id, issuer, me, recorded_at) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET issuer = excluded.issuer, me = excluded.me,
                                        recorded_at = excluded.recorded_at",
        params![identity.issuer, identity.me, now],
    )?;
    Ok(())
}

/// Compares `configured` with the recorded identity, recording it when
/// nothing was recorded or nothing live belongs to the old one.
pub fn reconcile(
    tx: &Transaction<'_>,
    configured: &Identity,
    now: UnixTime,
) -> StoreResult<Standing> {
    let Some(found) = recorded(tx)? else {
        // Only the grants can tell whose a database from before schema 7
        // was (they keep `me`, not the issuer): recording the configured
        // addresses over theirs would make the mix permanent.
        if let Some((me, live_apps)) =
            tokens::live_grants_issued_as_another(tx, &configured.me, now)?
        {
            return Ok(Standing::IssuedAsAnother { me, live_apps });
        }
        record(tx, configured, now)?;
        return Ok(Standing::Recorded);
    };
    if &found == configured {
        return Ok(Standing::Matches);
    }
    let live_apps = tokens::count_active_grants(tx, now)?;
    if live_apps == 0 {
        record(tx, configured, now)?;
        return Ok(Standing::Adopted { was: found });
    }
    Ok(Standing::Differs {
        recorded: found,
        live_apps,
    })
}

/// "issuer X and profile URL Y", or just the issuer when both are the
/// same URL (doorstep serving the owner's homepage itself).
pub fn describe(identity: &Identity) -> String {
    if identity.issuer == identity.me {
        format!("issuer and profile URL {}", identity.issuer)
    } else {
        format!("issuer {} and profile URL {}", identity.issuer, identity.me)
    }
}

/// What the owner reads when the configuration names other addresses than
/// "1 app holds a token", "3 apps hold tokens".
fn apps_hold_tokens(n: usize) -> String {
    match n {
        1 => "1 app holds a token".to_owned(),
        n => format!("{n} apps hold tokens"),
    }
}

/// the database was made for: what each says, why it matters, what to do.
pub fn mismatch_message(recorded: &Identity, configured: &Identity, live_apps: usize) -> String {
    let apps = apps_hold_tokens(live_apps);
    format!(
        "this database was made for {}, but the configuration names {}. {apps} issued as {}, so \
         token checks would answer with one identity while new sign-ins use the other.",
        describe(recorded),
        describe(configured),
        recorded.me
    )
}

/// Tells the operator how the configured identity stood (at start-up, or
/// when revoking every app let the database adopt it).
pub fn report(standing: &Standing, configured: &Identity, database: &Path) {
    let database = database.display();
    match standing {
        Standing::Matches => {}
        Standing::Recorded => tracing::info!(
            %database,
            "recorded in the database that it belongs to {}; doorstep will warn if it is ever \
             started under other addresses",
            describe(configured)
        ),
        Standing::Adopted { was } => tracing::warn!(
            %database,
            "the database was made for {}; no app holds a token from then, so it now belongs to {}",
            describe(was),
            describe(configured)
        ),
        Standing::Differs {
            recorded,
            live_apps,
        } => tracing::warn!(
            %database,
            database_issuer = %recorded.issuer,
            database_me = %recorded.me,
            configured_issuer = %configured.issuer,
            configured_me = %configured.me,
            "WRONG ADDRESSES FOR THIS DATABASE: {} What to do: {}",
            mismatch_message(recorded, configured, *live_apps),
            MISMATCH_FIX
        ),
        Standing::IssuedAsAnother { me, live_apps } => tracing::warn!(
            %database,
            database_me = %me,
            configured_issuer = %configured.issuer,
            configured_me = %configured.me,
            "WRONG ADDRESSES FOR THIS DATABASE: {} What to do: {}",
            issued_as_another_message(me, configured, *live_apps),
            ISSUED_AS_ANOTHER_FIX
        ),
    }
}

/// What the owner reads when a database from before schema 7 holds live
/// grants issued as another profile URL than the configured one.
pub fn issued_as_another_message(me: &str, configured: &Identity, live_apps: usize) -> String {
    let apps = apps_hold_tokens(live_apps);
    format!(
        "the configuration names {}, but {apps} issued as the profile URL {me}, so token checks \
         would answer with one identity while new sign-ins use the other.",
        describe(configured)
    )
}

/// The two ways out of a mismatch.
pub const MISMATCH_FIX: &str = "if you restored a backup or copied the database, stop doorstep \
     and set `issuer` and `me` in the configuration back to the database's values. If you moved \
     doorstep to the new addresses on purpose, revoke every app (\"Revoke every app\" on the \
     dashboard, or `doorstep tokens revoke ID` for each) so that they sign in again under the \
     new ones; doorstep then records the new addresses.";

/// The ways out when a database from before schema 7 holds grants issued
/// as another profile URL: nothing recorded its issuer, so only `me` can
/// be named.
pub const ISSUED_AS_ANOTHER_FIX: &str = "if you restored a backup or copied the database, stop \
     doorstep and set `me` in the configuration back to the profile URL the apps' tokens were \
     issued as (and `issuer` to the address doorstep had then). If you moved doorstep on \
     purpose, revoke every app so that they sign in again; doorstep then records the new \
     addresses.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn id(issuer: &str, me: &str) -> Identity {
        Identity::new(issuer, me)
    }

    fn live_grant(store: &Store, me: &str, now: UnixTime) -> i64 {
        let me = me.to_owned();
        store
            .write_now(move |tx| {
                let grant = tokens::Grant {
                    client_id: crate::domain::ClientId::parse("https://app.example/")
                        .expect("a valid client id"),
                    client_name: Some("App".into()),
                    client_logo: None,
                    redirect_uri: "https://app.example/cb".into(),
                    scope: crate::domain::ScopeSet::parse("create").expect("a valid scope"),
                    me: me.clone(),
                    access_lifetime: None,
                };
                let grant = tokens::create_grant_with_token(
                    tx,
                    &grant,
                    &crate::domain::Secret::generate().hash(),
                    now,
                    None,
                )?;
                Ok(grant)
            })
            .unwrap()
    }

    #[test]
    fn the_first_identity_is_recorded_and_another_is_adopted_only_once_no_app_holds_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let old = id("https://auth.old.example/", "https://old.example/");
        let new = id("https://auth.new.example/", "https://new.example/");
        let reconcile_with = |i: &Identity| {
            let i = i.clone();
            store.write_now(move |tx| reconcile(tx, &i, 100)).unwrap()
        };
        assert_eq!(reconcile_with(&old), Standing::Recorded);
        assert_eq!(reconcile_with(&old), Standing::Matches);
        let grant = live_grant(&store, &old.me, 100);
        assert_eq!(
            reconcile_with(&new),
            Standing::Differs {
                recorded: old.clone(),
                live_apps: 1
            }
        );
        assert_eq!(
            store.read_now(recorded).unwrap(),
            Some(old.clone()),
            "a mismatch changes nothing"
        );
        // Only the issuer moved: still a different doorstep.
        let moved_issuer = id("https://auth.new.example/", &old.me);
        assert!(matches!(
            reconcile_with(&moved_issuer),
            Standing::Differs { .. }
        ));
        store
            .write_now(move |tx| tokens::revoke_grant(tx, grant, 101).map(|_| ()))
            .unwrap();
        assert_eq!(reconcile_with(&new), Standing::Adopted { was: old });
        assert_eq!(store.read_now(recorded).unwrap(), Some(new.clone()));
        assert_eq!(reconcile_with(&new), Standing::Matches);
    }

    /// A database from before schema 7 has no identity recorded; its live
    /// grants say which `me` it was served as, and a configuration naming
    /// another is not recorded over them.
    #[test]
    fn an_older_database_s_grants_decide_before_anything_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let old = id("https://auth.old.example/", "https://old.example/");
        let new = id("https://auth.new.example/", "https://new.example/");
        live_grant(&store, &old.me, 100);
        live_grant(&store, &old.me, 100);
        let reconcile_with = |i: &Identity| {
            let i = i.clone();
            store.write_now(move |tx| reconcile(tx, &i, 100)).unwrap()
        };
        assert_eq!(
            reconcile_with(&new),
            Standing::IssuedAsAnother {
                me: old.me.clone(),
                live_apps: 2
            }
        );
        assert_eq!(store.read_now(recorded).unwrap(), None, "nothing recorded");
        // Started again under the database's own addresses: recorded.
        assert_eq!(reconcile_with(&old), Standing::Recorded);
        assert_eq!(store.read_now(recorded).unwrap(), Some(old));
        let m = issued_as_another_message("https://old.example/", &new, 2);
        assert!(
            m.contains("2 apps hold tokens issued as the profile URL https://old.example/"),
            "{m}"
        );
    }

    #[test]
    fn the_mismatch_message_names_both_identities_and_the_apps() {
        let m = mismatch_message(
            &id("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
            &id("https://auth.example/", "https://example.com/"),
            2,
        );
        assert!(m.contains("made for issuer and profile URL http://127.0.0.1:8080/"));
        assert!(
            m.contains("names issuer https://auth.example/ and profile URL https://example.com/")
        );
        assert!(m.contains("2 apps hold tokens"));
    }
}
