//! The userinfo endpoint's rules (UINFO-1..5, PROF-1..7): the profile for a
//! token carrying `profile`, with `email` only when that was granted too.

use super::token::Profile;
use crate::config::Settings;
use crate::store::tokens::ActiveToken;

/// What the endpoint answers for a live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Userinfo {
    Profile(Profile),
    /// UINFO-3: 403 `insufficient_scope`, naming the scope needed.
    InsufficientScope,
}

/// PROF-6: the values come from configuration, never from the token.
pub fn answer(settings: &Settings, token: &ActiveToken) -> Userinfo {
    match Profile::for_scope(settings, &token.scope) {
        Some(p) => Userinfo::Profile(p),
        None => Userinfo::InsufficientScope,
    }
}
