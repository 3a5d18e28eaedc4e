//! Reading one key's value as its declared kind, falling back on its
//! declared default: the parsing `Settings::from_raw` shares between keys.

use super::keys::{DefaultValue, KeySpec, Kind};
use super::{ConfigError, RawValues};
use std::time::Duration;
use url::Url;

/// The merged raw values, read through the key declarations.
pub(super) struct Values<'a>(pub(super) &'a RawValues);

impl Values<'_> {
    /// What was set for `key`, trimmed; a blank value counts as unset.
    pub(super) fn given(&self, key: &KeySpec) -> Option<&str> {
        self.0
            .get(key.name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// What was set, or else the declared default value.
    pub(super) fn get(&self, key: &KeySpec) -> Option<&str> {
        self.given(key).or(match key.default {
            DefaultValue::Value(v) => Some(v),
            DefaultValue::Derived(_) | DefaultValue::Unset => None,
        })
    }

    fn required(&self, key: &KeySpec) -> Result<&str, ConfigError> {
        self.get(key)
            .ok_or_else(|| ConfigError::invalid(key.name, "needs a value"))
    }

    pub(super) fn duration(&self, key: &KeySpec) -> Result<Duration, ConfigError> {
        let (min, max) = match key.kind {
            Kind::Duration { min_secs, max_secs } => (min_secs, max_secs),
            _ => (0, u64::MAX),
        };
        let d = parse_duration(self.required(key)?).ok_or_else(|| {
            ConfigError::invalid(
                key.name,
                "expected whole seconds (`6`) or a number with a unit (`90s`, `10m`, `12h`, \
                 `30d`, `2w`)",
            )
        })?;
        if d.as_secs() < min {
            return Err(ConfigError::invalid(
                key.name,
                format!("must be at least {min} seconds"),
            ));
        }
        if d.as_secs() > max {
            let unit = match max {
                m if m % 86_400 == 0 => format!(" ({}d)", m / 86_400),
                m if m % 60 == 0 => format!(" ({}m)", m / 60),
                _ => String::new(),
            };
            return Err(ConfigError::invalid(
                key.name,
                format!("must be at most {max} seconds{unit}"),
            ));
        }
        Ok(d)
    }

    pub(super) fn flag(&self, key: &KeySpec) -> Result<bool, ConfigError> {
        parse_bool(self.required(key)?)
            .ok_or_else(|| ConfigError::invalid(key.name, "expected true or false"))
    }

    pub(super) fn count(&self, key: &KeySpec) -> Result<u64, ConfigError> {
        let min = match key.kind {
            Kind::Count { min } => min,
            _ => 0,
        };
        self.required(key)?
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| {
                ConfigError::invalid(key.name, format!("expected a whole number, at least {min}"))
            })
    }

    /// The declared word the value names (any letter case).
    pub(super) fn choice(&self, key: &KeySpec) -> Result<&'static str, ConfigError> {
        let words = match key.kind {
            Kind::Choice(words) => words,
            _ => &[],
        };
        let given = self.required(key)?;
        words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(given))
            .copied()
            .ok_or_else(|| {
                ConfigError::invalid(
                    key.name,
                    format!("expected one of {}, not `{given}`", words.join(", ")),
                )
            })
    }

    /// An optional absolute http(s) URL.
    pub(super) fn url(&self, key: &KeySpec) -> Result<Option<Url>, ConfigError> {
        let Some(s) = self.get(key) else {
            return Ok(None);
        };
        let url = Url::parse(s)
            .ok()
            .filter(|u| u.scheme() == "http" || u.scheme() == "https")
            .ok_or_else(|| {
                ConfigError::invalid(
                    key.name,
                    format!("expected an absolute http or https URL, not `{s}`"),
                )
            })?;
        Ok(Some(url))
    }
}

/// Durations: whole seconds (`6`) or a number with `s`, `m`, `h`, `d` or `w`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult).map(Duration::from_secs)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}
