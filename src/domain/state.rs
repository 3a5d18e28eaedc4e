//! The client's `state`: returned byte for byte (AREQ-6).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state may only contain printable ASCII characters")]
    NotVschar,
    #[error("state is too long")]
    TooLong,
}

/// Any VSCHAR string (`%x20-7E`, RFC 6749 Appendix A.5), short or reused —
/// real clients send both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State(String);

/// Bounds the redirect we build; far above what any client sends.
const MAX_STATE_LEN: usize = 2048;

impl State {
    pub fn parse(s: &str) -> Result<Self, StateError> {
        if s.len() > MAX_STATE_LEN {
            return Err(StateError::TooLong);
        }
        if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(StateError::NotVschar);
        }
        Ok(State(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn areq_6_printable_ascii_is_kept_exactly() {
        for s in ["1", "a b+c&d=e", "x/y=z+", "~!@#$%^&*()"] {
            assert_eq!(State::parse(s).unwrap().as_str(), s);
        }
        assert!(State::parse("tab\there").is_err());
        assert!(State::parse("é").is_err());
    }

    proptest! {
        #[test]
        fn vschar_strings_round_trip(s in "[ -~]{1,200}") {
            let parsed = State::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
        }
    }
}
