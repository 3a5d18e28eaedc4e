//! Form and query parameters with the RFC 6749 §3.1 rules: an empty value is
//! the same as an absent one, unknown parameters are ignored, and a
//! repeated parameter is an error (AREQ-2, TV-10 "code repeated").

use std::borrow::Cow;

#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{0}` is repeated")]
pub struct Repeated(pub &'static str);

impl Params {
    pub fn parse(encoded: &str) -> Params {
        Params(
            url::form_urlencoded::parse(encoded.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The single non-empty value of `name`, if any.
    pub fn get(&self, name: &'static str) -> Result<Option<&str>, Repeated> {
        single(self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())), name)
    }

    /// The single non-empty value of `name` in `encoded`, as `get` finds it
    /// in `Params::parse(encoded)`, without collecting (and copying) every
    /// parameter first: borrowed from `encoded` unless it had to be
    /// decoded. For introspection, which asks for one parameter on every
    /// Micropub request (issue 10).
    pub fn find<'a>(
        encoded: &'a str,
        name: &'static str,
    ) -> Result<Option<Cow<'a, str>>, Repeated> {
        single(url::form_urlencoded::parse(encoded.as_bytes()), name)
    }

    /// Every non-empty value of `name` (for checkbox lists).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, v)| v.is_empty())
    }

    /// First repeated parameter among `names`, if any.
    pub fn first_repeated(&self, names: &[&'static str]) -> Option<Repeated> {
        names.iter().find_map(|n| self.get(n).err())
    }
}

/// The rule of `get`: empty values count as absent, two values are an error.
fn single<K: AsRef<str>, V: AsRef<str>>(
    pairs: impl Iterator<Item = (K, V)>,
    name: &'static str,
) -> Result<Option<V>, Repeated> {
    let mut found = None;
    for (k, v) in pairs {
        if k.as_ref() == name && !v.as_ref().is_empty() {
            if found.is_some() {
                return Err(Repeated(name));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn areq_2_empty_is_absent_and_repeats_are_errors() {
        let p = Params::parse("a=1&b=&c=x&c=y&d=2&d=");
        assert_eq!(p.get("a"), Ok(Some("1")));
        assert_eq!(p.get("b"), Ok(None));
        assert_eq!(p.get("c"), Err(Repeated("c")));
        assert_eq!(p.get("d"), Ok(Some("2")));
        assert_eq!(p.all("c"), vec!["x", "y"]);
        assert!(!p.has("b"));
    }

    #[test]
    fn plus_and_percent_encoding_decode() {
        let p = Params::parse("state=a%20b%2Bc%26d%3De&scope=profile+create");
        assert_eq!(p.get("state"), Ok(Some("a b+c&d=e")));
        assert_eq!(p.get("scope"), Ok(Some("profile create")));
    }

    #[test]
    fn find_borrows_plain_values_and_keeps_the_rules() {
        assert!(matches!(
            Params::find("a=1&token=abc_-9", "token"),
            Ok(Some(Cow::Borrowed("abc_-9")))
        ));
        assert_eq!(
            Params::find("token=a%2Bb+c", "token").unwrap().as_deref(),
            Some("a+b c")
        );
        assert_eq!(Params::find("token=&x=1", "token"), Ok(None));
        assert_eq!(
            Params::find("token=a&token=b", "token"),
            Err(Repeated("token"))
        );
        assert_eq!(
            Params::find("token=a&token=", "token").unwrap().as_deref(),
            Some("a")
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let p = Params::parse(&s);
            let _ = p.get("code");
        }

        /// `find` answers what `get` answers on the collected parameters.
        #[test]
        fn find_agrees_with_get(s in "((token|x|%74oken|t)(=[a-z%+0-9]{0,4})?&?){0,6}") {
            let collected = Params::parse(&s);
            prop_assert_eq!(
                Params::find(&s, "token").map(|v| v.map(|v| v.into_owned())),
                collected.get("token").map(|v| v.map(str::to_owned))
            );
        }
    }
}
