//! The command line: `serve`, `password --stdin`, `backup`, `tokens`,
//! `resource-server`, `second-factor reset`, and one flag per configuration key (flags override
//! the file and the environment).

use crate::config::RawValues;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "doorstep",
    version,
    about = "A self-hosted, single-user IndieAuth server"
)]
pub struct Cli {
    /// TOML configuration file (flat keys; see README.md)
    #[arg(long, env = "DOORSTEP_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub flags: ConfigFlags,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server
    Serve,
    /// Set the owner's password
    Password {
        /// Read the password from standard input (one trailing newline is dropped)
        #[arg(long)]
        stdin: bool,
    },
    /// Write a consistent copy of the database to FILE
    Backup { file: PathBuf },
    /// Check a live setup from the outside: configuration, database, the
    /// public URL, the proxy, the homepage's links, the clock and backups.
    /// Exits non-zero when any check fails.
    Doctor {
        /// Print the report as JSON, for machines
        #[arg(long)]
        json: bool,
    },
    /// List or revoke the apps that hold tokens
    Tokens {
        #[command(subcommand)]
        action: TokensAction,
    },
    /// Create, list or revoke the secrets resource servers introspect with
    #[command(name = "resource-server")]
    ResourceServer {
        #[command(subcommand)]
        action: ResourceServerAction,
    },
    /// Passkeys, the authenticator app and recovery codes
    #[command(name = "second-factor")]
    SecondFactor {
        #[command(subcommand)]
        action: SecondFactorAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecondFactorAction {
    /// Back to password-only sign-in, for an owner who lost every factor:
    /// forgets every passkey, the authenticator app and the recovery codes,
    /// and signs every browser out
    Reset,
}

#[derive(Debug, Subcommand)]
pub enum TokensAction {
    /// Every grant with live tokens: id, app, scopes, granted, last used, expires
    List,
    /// Revoke a grant and every token it produced (takes effect at once,
    /// also in a running server)
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ResourceServerAction {
    /// Create a secret for NAME and print it once (only its hash is kept)
    Add { name: String },
    /// List the resource servers
    List,
    /// Revoke a resource server's secret
    Revoke { id: i64 },
}

/// One flag per configuration key; see `config::KEYS`.
#[derive(Debug, Args, Default)]
pub struct ConfigFlags {
    #[arg(long, global = true)]
    pub listen: Option<String>,
    #[arg(long, global = true)]
    pub issuer: Option<String>,
    #[arg(long, global = true)]
    pub me: Option<String>,
    #[arg(long, global = true)]
    pub database: Option<String>,
    #[arg(long, global = true)]
    pub name: Option<String>,
    #[arg(long, global = true)]
    pub photo: Option<String>,
    #[arg(long, global = true)]
    pub email: Option<String>,
    #[arg(long, global = true)]
    pub micropub: Option<String>,
    #[arg(long, global = true)]
    pub microsub: Option<String>,
    #[arg(long, global = true)]
    pub code_lifetime: Option<String>,
    #[arg(long, global = true)]
    pub access_token_lifetime: Option<String>,
    #[arg(long, global = true)]
    pub refresh_token_lifetime: Option<String>,
    #[arg(long, global = true)]
    pub session_lifetime: Option<String>,
    #[arg(long, global = true)]
    pub pkce: Option<String>,
    #[arg(long, global = true)]
    pub allow_private_client_fetch: Option<String>,
    #[arg(long, global = true)]
    pub introspection_self_auth: Option<String>,
    #[arg(long, global = true)]
    pub trusted_proxies: Option<String>,
    #[arg(long, global = true)]
    pub connections_per_address: Option<String>,
    #[arg(long, global = true)]
    pub log: Option<String>,
}

impl ConfigFlags {
    pub fn to_raw(&self) -> RawValues {
        let pairs: [(&str, &Option<String>); 19] = [
            ("listen", &self.listen),
            ("issuer", &self.issuer),
            ("me", &self.me),
            ("database", &self.database),
            ("name", &self.name),
            ("photo", &self.photo),
            ("email", &self.email),
            ("micropub", &self.micropub),
            ("microsub", &self.microsub),
            ("code_lifetime", &self.code_lifetime),
            ("access_token_lifetime", &self.access_token_lifetime),
            ("refresh_token_lifetime", &self.refresh_token_lifetime),
            ("session_lifetime", &self.session_lifetime),
            ("pkce", &self.pkce),
            (
                "allow_private_client_fetch",
                &self.allow_private_client_fetch,
            ),
            ("introspection_self_auth", &self.introspection_self_auth),
            ("trusted_proxies", &self.trusted_proxies),
            ("connections_per_address", &self.connections_per_address),
            ("log", &self.log),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_key_has_a_flag() {
        let all =
            Cli::parse_from(
                std::iter::once("doorstep".to_string())
                    .chain(crate::config::KEYS.iter().flat_map(|(k, _, _)| {
                        [format!("--{}", k.replace('_', "-")), "x".to_string()]
                    }))
                    .chain(std::iter::once("serve".to_string())),
            );
        assert_eq!(all.flags.to_raw().len(), crate::config::KEYS.len());
    }
}
