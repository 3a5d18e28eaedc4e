//! PKCE values (RFC 7636): the challenge sent with the authorization request,
//! its method, and the verifier sent with the code.

use super::secret::constant_time_eq;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")]
    BadChallenge,
    #[error("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")]
    BadVerifier,
    #[error("code_challenge_method must be S256 or plain")]
    UnknownMethod,
}

/// RFC 7636 §4.1/§4.2: 43–128 characters from the unreserved set.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    S256,
    Plain,
}

impl PkceMethod {
    /// Exact, case-sensitive match on the registered names (TV-3: `s256` is
    /// refused). A missing method means `plain` (RFC 7636 §4.3); the caller
    /// decides that, not this parser.
    pub fn parse(s: &str) -> Result<Self, PkceError> {
        match s {
            "S256" => Ok(PkceMethod::S256),
            "plain" => Ok(PkceMethod::Plain),
            _ => Err(PkceError::UnknownMethod),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(s: &str) -> Result<Self, PkceError> {
        if is_pkce_string(s) {
            Ok(CodeChallenge(s.to_owned()))
        } else {
            Err(PkceError::BadChallenge)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6, compared in constant time (PKCE-6, SEC-19).
    pub fn is_satisfied_by(&self, method: PkceMethod, verifier: &CodeVerifier) -> bool {
        match method {
            PkceMethod::S256 => {
                let digest = Sha256::digest(verifier.0.as_bytes());
                let computed = URL_SAFE_NO_PAD.encode(digest);
                constant_time_eq(computed.as_bytes(), self.0.as_bytes())
            }
            PkceMethod::Plain => constant_time_eq(verifier.0.as_bytes(), self.0.as_bytes()),
        }
    }
}

impl fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeChallenge(..)")
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    pub fn parse(s: &str) -> Result<Self, PkceError> {
        if is_pkce_string(s) {
            Ok(CodeVerifier(s.to_owned()))
        } else {
            Err(PkceError::BadVerifier)
        }
    }
}

impl fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeVerifier(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_12_rfc7636_appendix_b_vector() {
        let c = CodeChallenge::parse(RFC_CHALLENGE).unwrap();
        let v = CodeVerifier::parse(RFC_VERIFIER).unwrap();
        assert!(c.is_satisfied_by(PkceMethod::S256, &v));
        assert!(!c.is_satisfied_by(PkceMethod::Plain, &v));
    }

    #[test]
    fn tv2_indieauth_example_pair() {
        let c = CodeChallenge::parse("OfYAxt8zU2dAPDWQxTAUIteRzMsoj9QBdMIVEDOErUo").unwrap();
        let v = CodeVerifier::parse("a6128783714cfda1d388e2e98b6ae8221ac31aca31959e59512c59f5")
            .unwrap();
        assert!(c.is_satisfied_by(PkceMethod::S256, &v));
    }

    #[test]
    fn tv3_syntax_edge_cases() {
        assert!(CodeChallenge::parse(&format!("{RFC_CHALLENGE}=")).is_err());
        assert!(CodeChallenge::parse(&RFC_CHALLENGE[..42]).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}+", "a".repeat(42))).is_err());
        assert!(CodeVerifier::parse(&format!("{}/", "a".repeat(42))).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(43)).is_ok());
        assert!(CodeVerifier::parse(&"~".repeat(128)).is_ok());
        assert_eq!(PkceMethod::parse("s256"), Err(PkceError::UnknownMethod));
        assert_eq!(PkceMethod::parse("S256"), Ok(PkceMethod::S256));
        assert_eq!(PkceMethod::parse("plain"), Ok(PkceMethod::Plain));
    }

    #[test]
    fn plain_method_compares_the_verifier_itself() {
        let v = "x".repeat(50);
        let c = CodeChallenge::parse(&v).unwrap();
        assert!(c.is_satisfied_by(PkceMethod::Plain, &CodeVerifier::parse(&v).unwrap()));
    }

    proptest! {
        #[test]
        fn parsers_accept_exactly_the_rfc_alphabet(s in "\\PC{0,140}") {
            let ok = (43..=128).contains(&s.len())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
            prop_assert_eq!(CodeChallenge::parse(&s).is_ok(), ok);
            prop_assert_eq!(CodeVerifier::parse(&s).is_ok(), ok);
        }

        #[test]
        fn s256_of_any_valid_verifier_verifies(v in "[A-Za-z0-9._~-]{43,128}") {
            let verifier = CodeVerifier::parse(&v).unwrap();
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            let c = CodeChallenge::parse(&challenge).unwrap();
            prop_assert!(c.is_satisfied_by(PkceMethod::S256, &verifier));
        }
    }
}
