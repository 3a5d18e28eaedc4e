//! The sign-in modes and the rule that the owner never locks themselves
//! out: a mode that needs a factor is refused while that factor is missing,
//! and the last factor a mode needs cannot be removed.

pub use crate::domain::SignInMode;

/// The factors the owner has besides the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factors {
    pub passkeys: i64,
    pub totp: bool,
}

/// Why a change would lock the owner out, in their words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LockOut {
    #[error("Add a passkey or an authenticator app first: this mode needs a second factor.")]
    NoSecondFactor,
    #[error("Add a passkey first: this mode signs in with passkeys only.")]
    NoPasskey,
    #[error("Make recovery codes first: they are the way back in if a factor is lost.")]
    NoRecoveryCodes,
}

/// May the owner run `mode` with these factors?
pub fn check_mode(mode: SignInMode, f: Factors) -> Result<(), LockOut> {
    match mode {
        SignInMode::Password => Ok(()),
        SignInMode::SecondFactor if f.passkeys == 0 && !f.totp => Err(LockOut::NoSecondFactor),
        SignInMode::PasskeyOnly if f.passkeys == 0 => Err(LockOut::NoPasskey),
        _ => Ok(()),
    }
}

/// May the owner switch to `mode`? Its factors must be there, and a mode
/// beyond the password needs recovery codes left: they are the way back in
/// when a factor is lost.
pub fn check_switch(mode: SignInMode, f: Factors, recovery_codes_left: i64) -> Result<(), LockOut> {
    check_mode(mode, f)?;
    if mode != SignInMode::Password && recovery_codes_left == 0 {
        return Err(LockOut::NoRecoveryCodes);
    }
    Ok(())
}

/// May one passkey be removed? Not the last one a mode depends on.
pub fn check_remove_passkey(mode: SignInMode, f: Factors) -> Result<(), LockOut> {
    check_mode(
        mode,
        Factors {
            passkeys: (f.passkeys - 1).max(0),
            ..f
        },
    )
}

/// May the authenticator app be removed?
pub fn check_remove_totp(mode: SignInMode, f: Factors) -> Result<(), LockOut> {
    check_mode(mode, Factors { totp: false, ..f })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Factors = Factors {
        passkeys: 0,
        totp: false,
    };

    #[test]
    fn modes_round_trip_through_their_names() {
        for m in [
            SignInMode::Password,
            SignInMode::SecondFactor,
            SignInMode::PasskeyOnly,
        ] {
            assert_eq!(SignInMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(SignInMode::parse("none"), None);
    }

    #[test]
    fn a_mode_without_its_factor_is_refused() {
        assert!(check_mode(SignInMode::Password, NONE).is_ok());
        assert_eq!(
            check_mode(SignInMode::SecondFactor, NONE),
            Err(LockOut::NoSecondFactor)
        );
        assert!(check_mode(SignInMode::SecondFactor, Factors { totp: true, ..NONE }).is_ok());
        assert_eq!(
            check_mode(SignInMode::PasskeyOnly, Factors { totp: true, ..NONE }),
            Err(LockOut::NoPasskey)
        );
        assert!(
            check_mode(
                SignInMode::PasskeyOnly,
                Factors {
                    passkeys: 1,
                    ..NONE
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn the_last_factor_a_mode_needs_cannot_be_removed() {
        let one_key = Factors {
            passkeys: 1,
            totp: false,
        };
        assert!(check_remove_passkey(SignInMode::PasskeyOnly, one_key).is_err());
        assert!(check_remove_passkey(SignInMode::SecondFactor, one_key).is_err());
        assert!(check_remove_passkey(SignInMode::Password, one_key).is_ok());
        assert!(
            check_remove_passkey(
                SignInMode::PasskeyOnly,
                Factors {
                    passkeys: 2,
                    ..one_key
                }
            )
            .is_ok()
        );
        let both = Factors {
            passkeys: 1,
            totp: true,
        };
        assert!(check_remove_passkey(SignInMode::SecondFactor, both).is_ok());
        assert!(check_remove_totp(SignInMode::SecondFactor, both).is_ok());
        assert!(
            check_remove_totp(
                SignInMode::SecondFactor,
                Factors {
                    passkeys: 0,
                    ..both
                }
            )
            .is_err()
        );
    }

    #[test]
    fn switching_beyond_the_password_needs_recovery_codes_left() {
        let with_passkey = Factors {
            passkeys: 1,
            totp: false,
        };
        assert!(check_switch(SignInMode::Password, NONE, 0).is_ok());
        assert_eq!(
            check_switch(SignInMode::PasskeyOnly, with_passkey, 0),
            Err(LockOut::NoRecoveryCodes)
        );
        assert!(check_switch(SignInMode::PasskeyOnly, with_passkey, 1).is_ok());
        // A missing factor is said first.
        assert_eq!(
            check_switch(SignInMode::SecondFactor, NONE, 0),
            Err(LockOut::NoSecondFactor)
        );
    }
}
