//! How the owner signs in, as chosen on the dashboard and stored (schema
//! 6). A plain value: the rules about switching modes are in
//! `owner::factors`.

/// How the owner signs in, chosen on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMode {
    /// A password; a passkey, if the owner has one, works too.
    Password,
    /// A password and then a second factor (an authenticator-app code or a
    /// passkey); a passkey alone also signs in, being two factors itself.
    SecondFactor,
    /// Passkeys only; a password with a recovery code is the way back in.
    PasskeyOnly,
}

impl SignInMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMode::Password => "password",
            SignInMode::SecondFactor => "second_factor",
            SignInMode::PasskeyOnly => "passkey_only",
        }
    }

    pub fn parse(s: &str) -> Option<SignInMode> {
        match s {
            "password" => Some(SignInMode::Password),
            "second_factor" => Some(SignInMode::SecondFactor),
            "passkey_only" => Some(SignInMode::PasskeyOnly),
            _ => None,
        }
    }

    /// For the owner's eyes.
    pub fn describe(self) -> &'static str {
        match self {
            SignInMode::Password => "password",
            SignInMode::SecondFactor => "password plus a second factor",
            SignInMode::PasskeyOnly => "passkey only",
        }
    }
}
