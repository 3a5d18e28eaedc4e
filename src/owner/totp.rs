//! RFC 6238 time-based codes from an authenticator app, through `totp-rs`:
//! 6 digits, 30-second steps, HMAC-SHA1 (what every app supports). A code
//! is accepted for the current step or one step either side (clock skew);
//! `matching_step` says which step matched, so the store can refuse that
//! step — and every older one — ever after. The enrolment QR code is drawn
//! here as SVG: nothing leaves the server.

use totp_rs::{Algorithm, TOTP};

pub const DIGITS: usize = 6;
pub const STEP: i64 = 30;
/// 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
const SECRET_BYTES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("invalid TOTP parameters: {0}")]
    Params(String),
    #[error("could not draw the QR code")]
    Qr,
}

/// A fresh secret from the operating system's RNG.
pub fn new_secret() -> Vec<u8> {
    crate::domain::Secret::random_bytes(SECRET_BYTES)
}

/// `account` is how the app lists the entry (the owner's host); it must
/// not contain `:`, which the otpauth format reserves.
fn totp(secret: &[u8], account: &str) -> Result<TOTP, TotpError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP as u64,
        secret.to_vec(),
        Some("doorstep".to_owned()),
        account.replace(':', ""),
    )
    .map_err(|e| TotpError::Params(e.to_string()))
}

/// The time step (`now / 30`) whose code `code` is, if it is the code of
/// the current step or one step either side. Compared in constant time.
/// Spaces anywhere are ignored: authenticator apps show the code as
/// "123 456", and the owner types what they see, on the enrolment page and
/// at sign-in alike.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "owner").ok()?;
    let current = now.div_euclid(STEP);
    let mut found = None;
    // Every candidate is computed, so timing does not tell which matched.
    for step in [current - 1, current, current + 1] {
        if step < 0 {
            continue;
        }
        let expected = t.generate((step * STEP) as u64);
        if crate::domain::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

/// The code for `now` (tests and the enrolment page's self-check).
pub fn code_at(secret: &[u8], now: i64) -> Option<String> {
    let t = totp(secret, "owner").ok()?;
    Some(t.generate(now.max(0) as u64))
}

/// The `otpauth://` URL an app scans.
pub fn provisioning_url(secret: &[u8], account: &str) -> Result<String, TotpError> {
    Ok(totp(secret, account)?.get_url())
}

/// The secret in base32, for typing into an app by hand.
pub fn secret_base32(secret: &[u8]) -> String {
    totp_rs::Secret::Raw(secret.to_vec())
        .to_encoded()
        .to_string()
}

/// The QR code of `text` as an inline SVG element (no XML declaration).
pub fn qr_svg(text: &str) -> Result<String, TotpError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| TotpError::Qr)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, truncated to 6 digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(code_at(secret, 1_111_111_109).unwrap(), "081804");
        assert_eq!(code_at(secret, 2_000_000_000).unwrap(), "279037");
    }

    #[test]
    fn one_step_of_skew_either_side_and_no_more() {
        let secret = new_secret();
        let now = 1_700_000_015;
        let step = now / STEP;
        for (offset, expected) in [(-1, Some(step - 1)), (0, Some(step)), (1, Some(step + 1))] {
            let code = code_at(&secret, now + offset * STEP).unwrap();
            assert_eq!(matching_step(&secret, &code, now), expected, "{offset}");
        }
        for offset in [-2, 2] {
            let code = code_at(&secret, now + offset * STEP).unwrap();
            // A far code could collide with a near one by chance (1 in 10^6).
            if Some(code.clone()) != code_at(&secret, now)
                && Some(code.clone()) != code_at(&secret, now - STEP)
                && Some(code.clone()) != code_at(&secret, now + STEP)
            {
                assert_eq!(matching_step(&secret, &code, now), None, "{offset}");
            }
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn the_url_and_qr_code_carry_the_secret() {
        let secret = new_secret();
        let url = provisioning_url(&secret, "example.com").unwrap();
        assert!(
            url.starts_with("otpauth://totp/doorstep:example.com?"),
            "{url}"
        );
        assert!(url.contains(&secret_base32(&secret)), "{url}");
        let svg = qr_svg(&url).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
    }
}
