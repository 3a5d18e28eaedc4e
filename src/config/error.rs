//! Configuration errors, worded for the person starting doorstep: which
//! key, where it was set, what is wrong and what to write instead.

use super::keys;
use super::sources::Origin;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum ConfigError {
    /// A key's value is wrong (or, for a key left unset, what it was
    /// worked out to be cannot work; the message then says so).
    Invalid {
        key: String,
        message: String,
        origin: Option<Origin>,
    },
    /// The file names a key doorstep does not have.
    UnknownKey { key: String, origin: Option<Origin> },
    /// A `DOORSTEP_*` variable that is not a key's.
    UnknownVariable {
        name: String,
        suggestion: Option<String>,
    },
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

impl ConfigError {
    pub(super) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
            origin: None,
        }
    }

    pub(super) fn unknown_key(key: &str) -> ConfigError {
        ConfigError::UnknownKey {
            key: key.to_owned(),
            origin: None,
        }
    }

    /// The key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } | ConfigError::UnknownKey { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Records where the offending value was set.
    pub(super) fn set_in(mut self, at: Origin) -> ConfigError {
        if let ConfigError::Invalid { origin, .. } | ConfigError::UnknownKey { origin, .. } =
            &mut self
        {
            *origin = Some(at);
        }
        self
    }
}

const WHERE_KEYS_ARE_LISTED: &str =
    "every key is listed by `doorstep --help` and in README.md, under Configuration";

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                key,
                message,
                origin,
            } => {
                write!(f, "configuration key `{key}`")?;
                if let Some(origin) = origin {
                    write!(f, " ({origin})")?;
                }
                write!(f, ": {message}")
            }
            ConfigError::UnknownKey { key, origin } => {
                write!(f, "unknown configuration key `{key}`")?;
                if let Some(origin) = origin {
                    write!(f, " ({origin})")?;
                }
                write!(f, ": remove it or correct its name")?;
                if let Some(near) = keys::nearest(key) {
                    write!(f, " (did you mean `{}`?)", near.name)?;
                }
                write!(f, "; {WHERE_KEYS_ARE_LISTED}")
            }
            ConfigError::UnknownVariable { name, suggestion } => {
                write!(
                    f,
                    "unknown environment variable {name}: doorstep reads DOORSTEP_CONFIG and one \
                     DOORSTEP_<KEY> variable per configuration key, and this is neither. Unset it \
                     or correct its name"
                )?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean {s}?)")?;
                }
                write!(f, "; {WHERE_KEYS_ARE_LISTED}")
            }
            ConfigError::Read { path, source } => {
                write!(
                    f,
                    "cannot read the configuration file {}: {source}",
                    path.display()
                )?;
                if source.kind() == std::io::ErrorKind::NotFound {
                    write!(
                        f,
                        "; check the path given with --config or DOORSTEP_CONFIG \
                         (doorstep.example.toml in the source is a commented starting point)"
                    )?;
                }
                Ok(())
            }
            ConfigError::Toml { path, source } => write!(
                f,
                "the configuration file {} is not valid TOML: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ConfigError {}
