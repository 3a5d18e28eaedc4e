//! The owner's command-line tools beside `serve` (issue 4, item 7):
//! `doorstep tokens list|revoke ID` and `doorstep resource-server
//! add NAME|list|revoke ID`. They open the same database as the server, in
//! this process, and never create one (a missing database is an error that
//! names the path); a running server notices the change on its next request
//! (`store::live` watches the change counter every SQLite connection
//! shares, in the WAL index). Output is plain text for
//! people; errors are returned as messages for `main` to print.

use crate::cli::{ResourceServerAction, TokensAction};
use crate::clock::UnixTime;
use crate::config::Settings;
use crate::errors::error_chain;
use crate::oauth::introspect::{add_resource_server, resource_server_name, revoke_resource_server};
use crate::oauth::revoke::{RevokedBy, end_grant};
use crate::store::{Store, resource_servers, tokens};
use crate::views::format_time;

fn or_dash(t: Option<UnixTime>, none: &str) -> String {
    t.map(format_time).unwrap_or_else(|| none.to_owned())
}

pub fn tokens(settings: &Settings, action: &TokensAction, now: UnixTime) -> Result<(), String> {
    let store = Store::open_existing(&settings.database).map_err(|e| error_chain(&e))?;
    match action {
        TokensAction::List => {
            let grants = store
                .read_now(|c| tokens::active_grants(c, now, None))
                .map_err(|e| error_chain(&e))?;
            if grants.is_empty() {
                crate::say!("No app holds a live token.");
                return Ok(());
            }
            crate::say!("ID\tAPP\tSCOPE\tGRANTED\tLAST USED\tEXPIRES");
            for g in grants {
                crate::say!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    g.id,
                    g.client_name.as_deref().unwrap_or(g.client_id.as_str()),
                    g.scope,
                    format_time(g.created_at),
                    // The server flushes last-used times every 30 s.
                    or_dash(g.last_used_at, "never"),
                    or_dash(g.expires_at, "when revoked"),
                );
            }
            Ok(())
        }
        TokensAction::Revoke { id } => {
            let id = *id;
            let revoked = store
                .write_now(|tx| end_grant(tx, now, id, RevokedBy::CommandLine))
                .map_err(|e| error_chain(&e))?;
            if revoked {
                crate::say!("Revoked grant {id}: its tokens no longer work.");
                Ok(())
            } else {
                Err(format!(
                    "no live grant with id {id} (see `doorstep tokens list`)"
                ))
            }
        }
    }
}

pub fn resource_servers(
    settings: &Settings,
    action: &ResourceServerAction,
    now: UnixTime,
) -> Result<(), String> {
    let store = Store::open_existing(&settings.database).map_err(|e| error_chain(&e))?;
    match action {
        ResourceServerAction::Add { name } => {
            let name = resource_server_name(name).ok_or("give the resource server a name")?;
            let (id, secret) = store
                .write_now(|tx| add_resource_server(tx, &name, now))
                .map_err(|e| error_chain(&e))?;
            eprintln!(
                "Created resource server {id} ({name}). Its secret is printed once, below; \
                 doorstep keeps only a hash.\nIt introspects with: POST {} and \
                 `Authorization: Bearer <secret>`.",
                settings.endpoint("introspect")
            );
            crate::say!("{}", secret.expose());
            Ok(())
        }
        ResourceServerAction::List => {
            let all = store
                .read_now(resource_servers::list)
                .map_err(|e| error_chain(&e))?;
            if all.is_empty() {
                crate::say!("No resource servers yet (`doorstep resource-server add NAME`).");
                return Ok(());
            }
            crate::say!("ID\tNAME\tCREATED\tLAST USED\tSTATUS");
            for s in all {
                crate::say!(
                    "{}\t{}\t{}\t{}\t{}",
                    s.id,
                    s.name,
                    format_time(s.created_at),
                    or_dash(s.last_used_at, "never"),
                    match s.revoked_at {
                        Some(t) => format!("revoked {}", format_time(t)),
                        None => "active".into(),
                    }
                );
            }
            Ok(())
        }
        ResourceServerAction::Revoke { id } => {
            let id = *id;
            let name = store
                .write_now(|tx| revoke_resource_server(tx, id, now))
                .map_err(|e| error_chain(&e))?;
            match name {
                Some(n) => {
                    crate::say!("Revoked resource server {id} ({n}).");
                    Ok(())
                }
                None => Err(format!("no active resource server with id {id}")),
            }
        }
    }
}
