//! Scopes (RFC 6749 §3.3): space-separated, case-sensitive tokens of NQCHAR.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("a scope may only contain printable ASCII other than space, \" and \\")]
    Malformed,
    #[error("too many scopes")]
    TooMany,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

/// NQCHAR = %x21 / %x23-5B / %x5D-7E (AREQ-11).
fn is_nqchar(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)
}

impl Scope {
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        if s.is_empty() || s.len() > 200 || !s.bytes().all(is_nqchar) {
            return Err(ScopeError::Malformed);
        }
        Ok(Scope(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Plain words for the consent page (PROF-8, LEG-7).
    pub fn description(&self) -> &'static str {
        match self.0.as_str() {
            "profile" => "See your name, photo and homepage URL",
            "email" => "See your email address (only together with profile)",
            "create" => "Create new posts on your site",
            "post" => "Create new posts on your site (the older name for create)",
            "update" => "Edit your existing posts",
            "delete" => "Delete posts",
            "undelete" => "Restore deleted posts",
            "media" => "Upload files to your media endpoint",
            "draft" => "Create posts as drafts only",
            "read" => "Read your feeds (Microsub)",
            "follow" => "Follow and unfollow feeds (Microsub)",
            "mute" => "Mute accounts in your reader (Microsub)",
            "block" => "Block accounts in your reader (Microsub)",
            "channels" => "Manage your reader's channels (Microsub)",
            _ => {
                "A permission this app asked for that doorstep does not know; the app decides what it means"
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ordered set of scopes without duplicates, in the order first given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(Vec<Scope>);

/// More than any real client asks for; bounds what one request can store.
const MAX_SCOPES: usize = 50;

impl ScopeSet {
    /// Splits on spaces. Empty tokens from doubled or trailing spaces are
    /// tolerated (several clients send them); any malformed token fails the
    /// whole set (AREQ-11).
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let mut set = ScopeSet::default();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            set.insert(Scope::parse(token)?);
            if set.0.len() > MAX_SCOPES {
                return Err(ScopeError::TooMany);
            }
        }
        Ok(set)
    }

    pub fn insert(&mut self, scope: Scope) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.0 == name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.0.contains(s))
    }

    /// Keeps the scopes of `self` that are also in `allowed`, in `self`'s order.
    pub fn intersect(&self, allowed: &ScopeSet) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|s| allowed.0.contains(s))
                .cloned()
                .collect(),
        )
    }

    /// What granting `scope`, one of this request's, means: for the consent
    /// page. PROF-2: `email` without `profile` is said to be ignored, as
    /// `without_orphan_email` drops it from the grant.
    pub fn description_of(&self, scope: &Scope) -> &'static str {
        if scope.as_str() == "email" && !self.contains("profile") {
            "See your email address (ignored: this app did not ask for profile, and doorstep \
             gives the email only with it)"
        } else {
            scope.description()
        }
    }

    /// PROF-2: `email` means nothing without `profile`, so it is dropped.
    pub fn without_orphan_email(mut self) -> ScopeSet {
        if !self.contains("profile") {
            self.0.retain(|s| s.0 != "email");
        }
        self
    }
}

/// As its space-separated string, the way every response spells a scope.
impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(&s.0)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn areq_10_scopes_are_space_separated_and_deduplicated() {
        let s = ScopeSet::parse("profile create  create media ").unwrap();
        assert_eq!(s.to_string(), "profile create media");
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn areq_11_malformed_scope_is_refused() {
        assert_eq!(ScopeSet::parse("create\""), Err(ScopeError::Malformed));
        assert_eq!(ScopeSet::parse("a\\b"), Err(ScopeError::Malformed));
        assert_eq!(ScopeSet::parse("a\tb"), Err(ScopeError::Malformed));
    }

    #[test]
    fn scopes_are_case_sensitive() {
        let s = ScopeSet::parse("Create").unwrap();
        assert!(!s.contains("create"));
    }

    #[test]
    fn prof_2_email_without_profile_is_dropped() {
        let s = ScopeSet::parse("email create")
            .unwrap()
            .without_orphan_email();
        assert_eq!(s.to_string(), "create");
        let s = ScopeSet::parse("profile email")
            .unwrap()
            .without_orphan_email();
        assert_eq!(s.to_string(), "profile email");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(tokens in proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 0..8)) {
            let joined = tokens.join(" ");
            let set = ScopeSet::parse(&joined).unwrap();
            let again = ScopeSet::parse(&set.to_string()).unwrap();
            prop_assert_eq!(set, again);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = ScopeSet::parse(&s);
        }
    }
}
