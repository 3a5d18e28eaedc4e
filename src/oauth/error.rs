//! Protocol errors: one variant per RFC error code, and one mapping to the
//! RFC 6749 §5.2 JSON body and its HTTP status (STYLE habit 3).

use serde_json::json;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    UnsupportedTokenType,
    InvalidToken,
    InsufficientScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
        }
    }

    /// RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// Why a request to a bearer-protected resource (legacy verification,
/// introspection's caller, userinfo) is refused, as RFC 6750 §3 sorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No credentials at all: a bare challenge, no error code (§3.1).
    Missing,
    /// Unknown, expired or revoked.
    InvalidToken,
    /// Valid, but without the scope named.
    InsufficientScope(&'static str),
}

impl BearerError {
    pub fn code(self) -> Option<ErrorCode> {
        match self {
            BearerError::Missing => None,
            BearerError::InvalidToken => Some(ErrorCode::InvalidToken),
            BearerError::InsufficientScope(_) => Some(ErrorCode::InsufficientScope),
        }
    }

    pub fn status(self) -> u16 {
        self.code().map_or(401, ErrorCode::status)
    }

    /// The `WWW-Authenticate` value.
    pub fn challenge(self) -> String {
        match self {
            BearerError::Missing => "Bearer".to_owned(),
            BearerError::InvalidToken => "Bearer error=\"invalid_token\"".to_owned(),
            BearerError::InsufficientScope(scope) => {
                format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"")
            }
        }
    }
}

/// An error with an optional description. Descriptions are fixed text from
/// this crate: never a secret, never input echoed back (ERR-7, ERR-11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Option<Cow<'static, str>>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: &'static str) -> Self {
        OAuthError {
            code,
            description: Some(Cow::Borrowed(description)),
        }
    }

    pub fn bare(code: ErrorCode) -> Self {
        OAuthError {
            code,
            description: None,
        }
    }

    pub fn invalid_request(d: &'static str) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_grant(d: &'static str) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }

    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }

    /// AREQ-16's overload: the database busy or its disk full, which pass.
    pub fn temporarily_unavailable() -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "try again in a moment")
    }

    /// `{"error": …, "error_description": …}`.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.description {
            Some(d) => json!({ "error": self.code.as_str(), "error_description": d }),
            None => json!({ "error": self.code.as_str() }),
        }
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }
}

impl From<super::params::Repeated> for OAuthError {
    fn from(_: super::params::Repeated) -> Self {
        OAuthError::invalid_request("a parameter is repeated")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_4_json_shape_and_status() {
        let e = OAuthError::invalid_grant("the code is not valid");
        assert_eq!(e.status(), 400);
        assert_eq!(e.to_json()["error"], "invalid_grant");
        assert_eq!(OAuthError::bare(ErrorCode::InvalidToken).status(), 401);
        assert_eq!(OAuthError::bare(ErrorCode::InsufficientScope).status(), 403);
    }
}
