//! Input rules for accounts. Each failure names the field and the rule.

use crate::error::AppError;

pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 128;
pub const DISPLAY_NAME_MAX: usize = 100;
pub const EMAIL_MAX: usize = 254;

/// Trimmed, lower-cased and checked.
pub fn email(field: &str, raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if email.len() > EMAIL_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {EMAIL_MAX} characters"),
        ));
    }
    let (_, domain) = email.split_once('@').unwrap_or_default();
    if !email_address::EmailAddress::is_valid(&email)
        || !domain.contains('.')
        || domain.starts_with('[')
    {
        return Err(AppError::bad_input(field, "must be a valid email address"));
    }
    Ok(email)
}

pub fn password(field: &str, raw: &str) -> Result<(), AppError> {
    let chars = raw.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&chars) {
        return Err(AppError::bad_input(
            field,
            format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"),
        ));
    }
    Ok(())
}

/// Trimmed, 1 to 100 characters, no control characters.
pub fn display_name(field: &str, raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > DISPLAY_NAME_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must be 1 to {DISPLAY_NAME_MAX} characters long"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// 3 to 32 of a-z, 0-9, `_` and `-` (case-insensitive; stored lower-case).
pub fn username(field: &str, raw: &str) -> Result<String, AppError> {
    let name = raw.trim().to_lowercase();
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(AppError::bad_input(
            field,
            "must be 3 to 32 of a-z, 0-9, _ and -",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, AppError>) -> String {
        match result {
            Err(AppError::BadInput { field, .. }) => field,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        }
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            email("input.email", "  Ada@Example.COM ").expect("valid"),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "ada@@example.com",
        ] {
            assert_eq!(
                field_of(email("input.email", bad)),
                "input.email",
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(field_of(email("input.email", &long)), "input.email");
    }

    #[test]
    fn passwords_are_12_to_128_characters() {
        assert!(password("p", &"x".repeat(12)).is_ok());
        assert!(password("p", &"é".repeat(128)).is_ok());
        assert_eq!(field_of(password("p", &"x".repeat(11))), "p");
        assert_eq!(field_of(password("p", &"x".repeat(129))), "p");
    }

    #[test]
    fn display_names_and_usernames() {
        assert_eq!(display_name("d", "  Ada  ").expect("ok"), "Ada");
        assert_eq!(field_of(display_name("d", "   ")), "d");
        assert_eq!(field_of(display_name("d", &"x".repeat(101))), "d");
        assert_eq!(field_of(display_name("d", "a\u{0}b")), "d");
        assert_eq!(username("u", "Ada_L-1").expect("ok"), "ada_l-1");
        for bad in ["ab", "has space", "ünï", &"x".repeat(33)] {
            assert_eq!(field_of(username("u", bad)), "u", "{bad:?}");
        }
    }
}
