//! Unit and property tests of the token endpoint's rules.

use super::*;
use proptest::prelude::*;

fn parse(form: &str) -> Result<TokenRequest, OAuthError> {
    TokenRequest::parse(&Params::parse(form))
}

fn code(e: Result<TokenRequest, OAuthError>) -> String {
    match e {
        Err(e) => e.to_json()["error"].as_str().unwrap().to_owned(),
        Ok(r) => format!("ok {r:?}").split('(').next().unwrap().to_owned(),
    }
}

#[test]
fn each_grant_type_parses_to_its_variant() {
    let exchange = "grant_type=authorization_code&code=c&client_id=https%3A%2F%2Fa.example%2F&redirect_uri=https%3A%2F%2Fa.example%2Fcb";
    assert!(matches!(
        parse(exchange),
        Ok(TokenRequest::AuthorizationCode(_))
    ));
    // Compatibility: no grant_type, but a code.
    assert!(matches!(
        parse("code=c&client_id=https%3A%2F%2Fa.example%2F&redirect_uri=x"),
        Ok(TokenRequest::AuthorizationCode(_))
    ));
    assert!(matches!(
        parse("grant_type=refresh_token&refresh_token=r&client_id=https%3A%2F%2Fa.example%2F"),
        Ok(TokenRequest::RefreshToken(_))
    ));
    assert!(matches!(
        parse("action=revoke&token=t"),
        Ok(TokenRequest::Revoke(_))
    ));
}

#[test]
fn tv10_wrong_shapes_get_the_rfc_error_codes() {
    assert_eq!(code(parse("grant_type=password")), "unsupported_grant_type");
    assert_eq!(code(parse("")), "invalid_request");
    assert_eq!(
        code(parse("grant_type=authorization_code")),
        "invalid_request"
    );
    assert_eq!(
        code(parse(
            "grant_type=authorization_code&code=a&code=b&client_id=x&redirect_uri=y"
        )),
        "invalid_request"
    );
    assert_eq!(
        code(parse("action=revoke&grant_type=authorization_code&token=t")),
        "invalid_request"
    );
    assert_eq!(code(parse("action=delete&token=t")), "invalid_request");
}

proptest! {
    #[test]
    fn parsing_any_form_never_panics(form in "\\PC{0,300}") {
        let _ = parse(&form);
    }
}
