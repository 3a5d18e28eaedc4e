//! The command line: `serve`, `password`, `backup`, `doctor`, `tokens`,
//! `resource-server`, `second-factor reset`, and one flag per configuration
//! key, made from the key declarations in `config::keys` (flags override
//! the file and the environment).

use crate::config::{KEYS, KeySpec, Kind, RawValues};
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// Writes a command's output to standard output, as `print!` does; but a
/// reader that went away (`doorstep tokens list | head -1`) ends the
/// command quietly with status 141, as a Unix tool stopped by `SIGPIPE`
/// does, instead of `print!`'s panic and its trace. Rust ignores `SIGPIPE`,
/// and `serve` needs it ignored.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    if let Err(e) = try_write_out(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("doorstep: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Writes to standard output and flushes, saying whether it could.
pub fn try_write_out(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).and_then(|()| out.flush())
}

/// `println!` for the commands' output: see `cli::write_out`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// How the configuration layers fit together, below the flags in `--help`.
const AFTER_HELP: &str = "\
Configuration: the defaults, then the TOML file (--config FILE or DOORSTEP_CONFIG; one line
per key, such as code_lifetime = \"10m\"), then DOORSTEP_<KEY> environment variables, then
flags. An unknown key or DOORSTEP_* variable stops start-up. Durations are whole seconds (6)
or a number with a unit: 90s, 10m, 12h, 30d, 2w. README.md explains going live, and
doorstep.example.toml describes every key.";

#[derive(Debug, Parser)]
#[command(
    name = "doorstep",
    version,
    about = "A self-hosted, single-user IndieAuth server",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// TOML configuration file: flat keys, as the flags below are named with underscores
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
    /// Set the owner's password: asked twice, without echo, on a terminal;
    /// signs out every browser
    Password {
        /// Read the password from standard input instead, for scripts and
        /// password managers (one trailing newline is dropped)
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

/// One flag per configuration key, made from the declarations in
/// `config::keys`: `--code-lifetime 10m`, and a boolean bare
/// (`--allow-private-client-fetch`) or with `=false`. Each `--help` line is
/// the key's help, its default and its variable.
#[derive(Debug, Clone, Default)]
pub struct ConfigFlags {
    values: RawValues,
}

impl ConfigFlags {
    /// The values given as flags, by key.
    pub fn to_raw(&self) -> RawValues {
        self.values.clone()
    }
}

/// The flag for one key.
fn flag(key: &'static KeySpec) -> Arg {
    let mut help = format!("{} [default: {}]", key.help(), key.default_text());
    help.push_str(&format!(" [env: {}]", key.env_var()));
    let arg = Arg::new(key.name)
        .long(key.flag())
        .global(true)
        .action(ArgAction::Set)
        .value_name(key.kind.placeholder())
        .help(help);
    match key.kind {
        Kind::Bool => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true"),
        Kind::Choice(words) => arg.value_name(words.join("|")),
        _ => arg,
    }
}

impl Args for ConfigFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.next_help_heading(
            "Configuration (flags win over DOORSTEP_* variables, which win over the file)",
        )
        .args(KEYS.iter().map(flag))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConfigFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = ConfigFlags::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for key in KEYS {
            if let Ok(Some(value)) = matches.try_get_one::<String>(key.name) {
                self.values.insert(key.name.to_owned(), value.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("doorstep").chain(args.iter().copied()))
    }

    #[test]
    fn every_config_key_has_a_flag() {
        let args: Vec<String> = KEYS
            .iter()
            .flat_map(|k| [format!("--{}=x", k.flag())])
            .chain(["serve".to_owned()])
            .collect();
        let all = parse(&args.iter().map(String::as_str).collect::<Vec<_>>()).unwrap();
        assert_eq!(all.flags.to_raw().len(), KEYS.len());
    }

    #[test]
    fn flags_work_before_and_after_the_command() {
        for args in [
            &["--code-lifetime", "6", "serve"][..],
            &["serve", "--code-lifetime", "6"][..],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.flags.to_raw()["code_lifetime"], "6", "{args:?}");
        }
    }

    #[test]
    fn a_boolean_flag_works_bare_or_with_a_value() {
        let cli = parse(&["--allow-private-client-fetch", "serve"]).unwrap();
        assert_eq!(cli.flags.to_raw()["allow_private_client_fetch"], "true");
        assert!(matches!(cli.command, Command::Serve));
        let cli = parse(&["serve", "--allow-private-client-fetch"]).unwrap();
        assert_eq!(cli.flags.to_raw()["allow_private_client_fetch"], "true");
        let cli = parse(&["--introspection-self-auth=false", "serve"]).unwrap();
        assert_eq!(cli.flags.to_raw()["introspection_self_auth"], "false");
        let cli = parse(&["serve"]).unwrap();
        assert!(cli.flags.to_raw().is_empty());
    }

    #[test]
    fn help_gives_each_key_its_help_default_and_variable() {
        let help = Cli::command().render_long_help().to_string();
        for key in KEYS {
            assert!(help.contains(&format!("--{}", key.flag())), "{}", key.name);
            assert!(help.contains(&key.env_var()), "{}", key.name);
        }
        assert!(help.contains("[default: 120s]"), "{help}");
        assert!(help.contains("How long an app has to redeem"), "{help}");
        Cli::command().debug_assert();
    }
}
