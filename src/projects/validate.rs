//! Input rules of projects (the rules shared with other nouns are in
//! `crate::validate`).

use crate::error::AppResult;
use crate::validate::text;

pub const NAME_MAX: usize = 200;

pub fn name(field: &str, raw: &str) -> AppResult<String> {
    text(field, raw, NAME_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("input.name", "  Home ").ok().as_deref(), Some("Home"));
        assert!(name("input.name", "   ").is_err());
        assert!(name("input.name", &"x".repeat(200)).is_ok());
        let err = name("input.name", &"é".repeat(201)).err();
        assert!(matches!(err, Some(AppError::BadInput { field, .. }) if field == "input.name"));
    }
}
