//! Stored text read back as domain types, at the store boundary (STYLE
//! habit 2): callers get a `ScopeSet`, a `ClientId` or a PKCE pair, never
//! a string to parse again.
//!
//! doorstep only ever stores values that came out of these same types, so
//! one that no longer parses was written by something else (a hand edit,
//! a damaged file). It is reported as `StoreError::Corrupt`, naming the
//! column, never defaulted: an unreadable scope must not quietly become
//! "no scope", nor an unreadable PKCE method "plain".

use super::{StoreError, StoreResult};
use crate::domain::{ClientId, CodeChallenge, PkceMethod, ScopeSet};
use std::cell::RefCell;
use std::collections::HashMap;

fn corrupt(column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {problem}"))
}

pub fn scope(column: &str, raw: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(raw).map_err(|e| corrupt(column, e))
}

/// Client ids this thread has parsed, by the exact text they were parsed
/// from (`KNOWN_CLIENTS` at most, then it starts over). Parsing one is a
/// whole URL parse, and reading a token's row for a verification the
/// live-token map could not answer parsed it every time: a quarter of what
/// such a miss cost in doorstep's own code (issue 10). One owner has a few
/// dozen apps at most, so their rows keep repeating the same texts. Only
/// what `ClientId::parse` returned for the very same text is reused
/// (parsing is a pure function of the text), and a text that fails to
/// parse is never kept, so it is reported as corrupt every time.
const KNOWN_CLIENTS: usize = 64;

thread_local! {
    static KNOWN: RefCell<HashMap<Box<str>, ClientId>> = RefCell::new(HashMap::new());
}

pub fn client_id(column: &str, raw: &str) -> StoreResult<ClientId> {
    let known = KNOWN.with(|known| known.try_borrow().ok()?.get(raw).cloned());
    if let Some(id) = known {
        return Ok(id);
    }
    let id = ClientId::parse(raw).map_err(|e| corrupt(column, format_args!("client id {e}")))?;
    KNOWN.with(|known| {
        if let Ok(mut known) = known.try_borrow_mut() {
            if known.len() >= KNOWN_CLIENTS {
                known.clear();
            }
            known.insert(raw.into(), id.clone());
        }
    });
    Ok(id)
}

/// A code's challenge and method. A challenge stored without a method is
/// `plain`, as RFC 7636 §4.3 reads a request without one; a method without
/// a challenge is corrupt.
pub fn pkce(
    challenge: Option<&str>,
    method: Option<&str>,
) -> StoreResult<Option<(CodeChallenge, PkceMethod)>> {
    let Some(challenge) = challenge else {
        return match method {
            None => Ok(None),
            Some(_) => Err(corrupt(
                "code_challenge_method",
                "a method without a challenge",
            )),
        };
    };
    let challenge = CodeChallenge::parse(challenge).map_err(|e| corrupt("code_challenge", e))?;
    let method = match method {
        None => PkceMethod::Plain,
        Some(m) => PkceMethod::parse(m).map_err(|e| corrupt("code_challenge_method", e))?,
    };
    Ok(Some((challenge, method)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn is_corrupt<T: std::fmt::Debug>(r: StoreResult<T>, column: &str) {
        match r {
            Err(StoreError::Corrupt(what)) => assert!(what.starts_with(column), "{what}"),
            other => panic!("expected Corrupt({column}), got {other:?}"),
        }
    }

    #[test]
    fn stored_values_read_back_as_what_was_written() {
        let set = ScopeSet::parse("profile create").unwrap();
        assert_eq!(scope("scope", &set.to_string()).unwrap(), set);
        assert!(scope("scope", "").unwrap().is_empty());
        for id in [
            "https://app.example/",
            "http://127.0.0.1:8080/cb?x=1",
            "http://[::1]/",
        ] {
            let c = ClientId::parse(id).unwrap();
            assert_eq!(client_id("client_id", c.as_str()).unwrap(), c);
        }
        assert_eq!(pkce(None, None).unwrap(), None);
        let (c, m) = pkce(Some(CHALLENGE), Some("S256")).unwrap().unwrap();
        assert_eq!((c.as_str(), m), (CHALLENGE, PkceMethod::S256));
        assert_eq!(
            pkce(Some(CHALLENGE), None).unwrap().unwrap().1,
            PkceMethod::Plain
        );
    }

    #[test]
    fn values_that_no_longer_parse_are_corrupt_not_defaulted() {
        is_corrupt(scope("codes.scope", "create\"evil"), "codes.scope");
        is_corrupt(
            client_id("grants.client_id", "not a url"),
            "grants.client_id",
        );
        is_corrupt(pkce(Some(CHALLENGE), Some("s256")), "code_challenge_method");
        is_corrupt(pkce(Some("short"), Some("S256")), "code_challenge");
        is_corrupt(pkce(None, Some("S256")), "code_challenge_method");
    }

    /// What a client id's text parsed to is reused for the same text only,
    /// a bounded number of them, and a text that does not parse stays
    /// corrupt however often it is read.
    #[test]
    fn client_ids_are_parsed_once_per_text_and_failures_never_kept() {
        let known = || KNOWN.with(|k| k.borrow().keys().map(|t| t.to_string()).collect::<Vec<_>>());
        let texts: Vec<String> = (0..KNOWN_CLIENTS + 3)
            .map(|i| format!("https://app{i}.example/"))
            .collect();
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(client_id("c", text).unwrap().as_str(), text);
            assert_eq!(
                client_id("c", text).unwrap(),
                ClientId::parse(text).unwrap()
            );
            assert_eq!(known().len(), i % KNOWN_CLIENTS + 1, "bounded");
        }
        // Another spelling of a kept id is parsed, and kept, on its own.
        let upper = client_id("c", "HTTPS://APP66.EXAMPLE").unwrap();
        assert_eq!(upper.as_str(), "https://app66.example/");
        assert!(known().contains(&"HTTPS://APP66.EXAMPLE".to_owned()));
        for _ in 0..2 {
            is_corrupt(client_id("c", "https://user@app.example/"), "c");
        }
        assert!(!known().iter().any(|t| t.contains('@')));
    }
}
