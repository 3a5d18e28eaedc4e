//! Form and query parameters with the RFC 6749 §3.1 rules: an empty value is
//! the same as an absent one, unknown parameters are ignored, and a
//! repeated parameter is an error (AREQ-2, TV-10 "code repeated"); and
//! `FormWriter`, which writes the form-encoded body of the legacy token
//! verification.

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
        // With nothing to decode (a token is base64url), names and values
        // are the text between `&` and `=` as it is: the library decodes
        // every name and value, through a UTF-8 check of its own, which
        // was most of what this cost.
        if memchr::memchr2(b'%', b'+', encoded.as_bytes()).is_none() {
            let pairs = encoded.split('&').map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k, Cow::Borrowed(v))
            });
            return single(pairs, name);
        }
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

/// Writes `application/x-www-form-urlencoded` pairs as the URL Standard's
/// serializer does (url.spec.whatwg.org, "application/x-www-form-urlencoded
/// serializing"): bytes other than ASCII letters, digits and `*-._` are
/// percent-encoded, a space becomes `+`. The same output as
/// `url::form_urlencoded::Serializer` (property test below), written a byte
/// at a time into one buffer: the legacy GET answers form-encoded by
/// default, and the library's writer, which appends a piece per run of
/// plain characters and one per escaped byte, was a fifth of what a token
/// missing from the live-token map cost in doorstep's own code (issue 10).
#[derive(Debug, Default)]
pub struct FormWriter(Vec<u8>);

impl FormWriter {
    pub fn with_capacity(bytes: usize) -> FormWriter {
        FormWriter(Vec::with_capacity(bytes))
    }

    /// Appends `name=value`, after a `&` unless it is the first pair.
    pub fn pair(&mut self, name: &str, value: &str) -> &mut FormWriter {
        self.start(name);
        self.encode(value);
        self
    }

    /// Appends `name=` and the values, each encoded, separated by encoded
    /// spaces (`+`): a scope list, written without joining it first.
    pub fn joined<'v>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = &'v str>,
    ) -> &mut FormWriter {
        self.start(name);
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b'+');
            }
            self.encode(value);
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }

    fn start(&mut self, name: &str) {
        if !self.0.is_empty() {
            self.0.push(b'&');
        }
        self.encode(name);
        self.0.push(b'=');
    }

    /// Copies each run of plain bytes at once, escapes the rest.
    fn encode(&mut self, text: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let bytes = text.as_bytes();
        self.0.reserve(bytes.len() * 3);
        let mut plain_from = 0;
        for (at, &b) in bytes.iter().enumerate() {
            if PLAIN[usize::from(b)] {
                continue;
            }
            self.0.extend_from_slice(&bytes[plain_from..at]);
            plain_from = at + 1;
            if b == b' ' {
                self.0.push(b'+');
            } else {
                self.0.extend_from_slice(&[
                    b'%',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            }
        }
        self.0.extend_from_slice(&bytes[plain_from..]);
    }
}

/// The bytes `FormWriter` writes as they are: ASCII letters and digits, `*-._`.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        plain[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_');
        b += 1;
    }
    plain
};

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
        // Split at the first `=`; empty pairs and a name alone are nothing.
        for (form, token) in [
            ("token=token=", Some("token=")),
            ("token==x", Some("=x")),
            ("&&token=a&", Some("a")),
            ("token", None),
            ("tok=en", None),
        ] {
            assert_eq!(
                Params::find(form, "token").unwrap().as_deref(),
                token,
                "{form}"
            );
            assert_eq!(Params::parse(form).get("token").unwrap(), token, "{form}");
        }
    }

    #[test]
    fn the_form_writer_encodes_as_the_url_standard_says() {
        let mut form = FormWriter::default();
        form.pair("me", "https://me.example/a b?c=d&e")
            .joined("scope", ["create", "update"])
            .pair("x", "é*-._~");
        assert_eq!(
            String::from_utf8(form.finish()).unwrap(),
            "me=https%3A%2F%2Fme.example%2Fa+b%3Fc%3Dd%26e&scope=create+update&x=%C3%A9*-._%7E"
        );
    }

    proptest! {
        /// `FormWriter` writes what the `url` crate's serializer writes,
        /// and what it writes parses back to the same pairs.
        #[test]
        fn the_form_writer_agrees_with_the_url_crate(
            pairs in prop::collection::vec(("\\PC{0,12}", "\\PC{0,40}"), 0..5),
            words in prop::collection::vec("[!#-\\[\\]-~]{1,8}", 0..4),
        ) {
            let mut ours = FormWriter::default();
            let mut theirs = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                ours.pair(k, v);
                theirs.append_pair(k, v);
            }
            ours.joined("scope", words.iter().map(String::as_str));
            theirs.append_pair("scope", &words.join(" "));
            let ours = String::from_utf8(ours.finish()).unwrap();
            prop_assert_eq!(&ours, &theirs.finish());
            let parsed: Vec<(String, String)> = url::form_urlencoded::parse(ours.as_bytes())
                .into_owned()
                .collect();
            prop_assert_eq!(parsed.len(), pairs.len() + 1);
            for ((k, v), (pk, pv)) in pairs.iter().zip(&parsed) {
                prop_assert_eq!(k, pk);
                prop_assert_eq!(v, pv);
            }
            prop_assert_eq!(&parsed[pairs.len()].1, &words.join(" "));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let p = Params::parse(&s);
            let _ = p.get("code");
        }

        /// `find` answers what `get` answers on the collected parameters:
        /// with something to decode and without (then it splits the text
        /// itself), with empty pairs, names without `=`, and `==`.
        #[test]
        fn find_agrees_with_get(s in "((token|x|%74oken|t|=)(=[a-z%+=0-9]{0,4})?&{0,2}){0,6}") {
            find_answers_as_get(&s)?;
        }

        /// And on any text at all (non-ASCII too).
        #[test]
        fn find_agrees_with_get_on_any_text(s in "(\\PC|token=|&){0,40}") {
            find_answers_as_get(&s)?;
        }
    }

    fn find_answers_as_get(s: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let collected = Params::parse(s);
        prop_assert_eq!(
            Params::find(s, "token").map(|v| v.map(|v| v.into_owned())),
            collected.get("token").map(|v| v.map(str::to_owned))
        );
        Ok(())
    }
}
