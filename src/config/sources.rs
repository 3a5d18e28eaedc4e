//! Where configuration values come from: the TOML file, the `DOORSTEP_*`
//! environment variables and the flags, merged in that order with what
//! each value's source was, so that an error can say where to fix it.
//! Only declared keys (`keys.rs`) are let through, from every source.

use super::keys::{self, KeySpec, Kind};
use super::{ConfigError, RawValues, Settings};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The variable that names the configuration file; it is not a key.
pub const CONFIG_VAR: &str = "DOORSTEP_CONFIG";

/// Where a value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "set in {}", path.display()),
            Origin::Env(var) => write!(f, "set by {var}"),
            Origin::Flag(flag) => write!(f, "set by --{flag}"),
        }
    }
}

/// Reads a TOML file into raw values, refusing unknown keys and tables.
pub fn read_toml(path: &Path) -> Result<RawValues, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text).map_err(|problem| match problem {
        TomlProblem::Syntax(source) => ConfigError::Toml {
            path: path.to_owned(),
            source: Box::new(source),
        },
        TomlProblem::Key(e) => e.set_in(Origin::File(path.to_owned())),
    })
}

pub(super) enum TomlProblem {
    Syntax(toml::de::Error),
    Key(ConfigError),
}

pub(super) fn parse_toml(text: &str) -> Result<RawValues, TomlProblem> {
    let table: toml::Table = toml::from_str(text).map_err(TomlProblem::Syntax)?;
    let mut out = RawValues::new();
    for (name, value) in table {
        let key =
            keys::find(&name).ok_or_else(|| TomlProblem::Key(ConfigError::unknown_key(&name)))?;
        let text = toml_value(key, value).map_err(TomlProblem::Key)?;
        out.insert(name, text);
    }
    Ok(out)
}

/// A TOML value as the text a flag or variable would give. Strings are
/// always taken; numbers where a number makes sense, booleans for a
/// boolean key, and a list of strings for `trusted_proxies`.
fn toml_value(key: &KeySpec, value: toml::Value) -> Result<String, ConfigError> {
    let wrong = |what: &str| ConfigError::invalid(key.name, what);
    match (key.kind, value) {
        (_, toml::Value::String(s)) => Ok(s),
        (Kind::Bool, toml::Value::Boolean(b)) => Ok(b.to_string()),
        (Kind::Duration { .. } | Kind::Count { .. }, toml::Value::Integer(i)) => Ok(i.to_string()),
        (Kind::AddressList, toml::Value::Array(items)) => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    toml::Value::String(s) => parts.push(s),
                    _ => {
                        return Err(ConfigError::invalid(
                            key.name,
                            "expected a list of quoted addresses, e.g. [\"127.0.0.1\", \"::1\"]",
                        ));
                    }
                }
            }
            Ok(parts.join(","))
        }
        (Kind::Bool, _) => Err(ConfigError::invalid(key.name, "expected true or false")),
        (_, toml::Value::Table(_)) => Err(wrong(
            "is a table, but the keys are flat: write them at the top of the file, with no \
             [section] above them",
        )),
        (_, toml::Value::Array(_)) => Err(wrong("takes one value, not a list")),
        (_, other) => Err(wrong(&format!(
            "takes text: write it in quotes, {} = \"{other}\"",
            key.name
        ))),
    }
}

/// The `DOORSTEP_<KEY>` variables among `vars`. Any other `DOORSTEP_*`
/// variable but `DOORSTEP_CONFIG` is refused, as an unknown key in the
/// file is: a misspelt variable would otherwise be ignored without a word.
pub fn read_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<RawValues, ConfigError> {
    let mut out = RawValues::new();
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        let Some(suffix) = name.strip_prefix("DOORSTEP_") else {
            continue;
        };
        if name == CONFIG_VAR {
            continue;
        }
        let key_name = suffix.to_ascii_lowercase();
        let Some(key) = keys::find(&key_name) else {
            return Err(ConfigError::UnknownVariable {
                name: name.to_owned(),
                suggestion: keys::nearest(&key_name).map(KeySpec::env_var),
            });
        };
        let value = value.into_string().map_err(|_| {
            ConfigError::invalid(key.name, "is not valid UTF-8")
                .set_in(Origin::Env(name.to_owned()))
        })?;
        out.insert(key.name.to_owned(), value);
    }
    Ok(out)
}

/// Values merged from every source, later sources winning, each with its
/// origin.
#[derive(Debug, Default)]
pub struct Layers {
    values: RawValues,
    origins: BTreeMap<String, Origin>,
}

impl Layers {
    pub fn new() -> Layers {
        Layers::default()
    }

    /// Adds one source's values over the earlier ones. `origin` gives
    /// each value's origin from its key.
    pub fn add(&mut self, values: RawValues, origin: impl Fn(&str) -> Origin) {
        for (key, value) in values {
            self.origins.insert(key.clone(), origin(&key));
            self.values.insert(key, value);
        }
    }

    /// The validated settings; an error about a key says where it was set.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        Settings::from_raw(&self.values).map_err(|e| {
            match e.key().and_then(|k| self.origins.get(k)) {
                Some(origin) => e.set_in(origin.clone()),
                None => e,
            }
        })
    }
}

/// The whole configuration: defaults, then `file`, then the `DOORSTEP_*`
/// variables among `env`, then `flags`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    flags: RawValues,
) -> Result<Settings, ConfigError> {
    let mut layers = Layers::new();
    if let Some(path) = file {
        layers.add(read_toml(path)?, |_| Origin::File(path.to_owned()));
    }
    layers.add(read_env(env)?, |key| {
        Origin::Env(keys::find(key).map(KeySpec::env_var).unwrap_or_default())
    });
    layers.add(flags, |key| Origin::Flag(key.replace('_', "-")));
    layers.settings()
}
