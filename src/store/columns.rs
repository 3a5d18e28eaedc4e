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

fn corrupt(column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {problem}"))
}

pub fn scope(column: &str, raw: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(raw).map_err(|e| corrupt(column, e))
}

pub fn client_id(column: &str, raw: &str) -> StoreResult<ClientId> {
    ClientId::parse(raw).map_err(|e| corrupt(column, format_args!("client id {e}")))
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
}
