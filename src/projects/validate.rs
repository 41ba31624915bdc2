//! Input rules shared by projects and tasks. Each error names the field path
//! it was found at (`input.name`, `input[3].title`).

use async_graphql::ID;

use crate::db::types::Id;
use crate::error::{AppError, AppResult};

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const CLIENT_MUTATION_ID_MAX: usize = 200;

/// A UUID sent by a client.
pub fn id(field: &str, raw: &ID) -> AppResult<Id> {
    Id::parse(raw).ok_or_else(|| AppError::bad_input(field, "must be a UUID"))
}

/// Trimmed text of 1 to `max` characters.
pub fn text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

pub fn name(field: &str, raw: &str) -> AppResult<String> {
    text(field, raw, NAME_MAX)
}

/// At most 10,000 characters; kept as written.
pub fn description(field: &str, raw: Option<String>) -> AppResult<Option<String>> {
    match raw {
        Some(text) if text.chars().count() > DESCRIPTION_MAX => Err(AppError::bad_input(
            field,
            format!("must be at most {DESCRIPTION_MAX} characters"),
        )),
        other => Ok(other),
    }
}

pub fn client_mutation_id(field: &str, raw: Option<String>) -> AppResult<Option<String>> {
    raw.map(|text| self::text(field, &text, CLIENT_MUTATION_ID_MAX))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("input.name", "  Home ").ok().as_deref(), Some("Home"));
        assert!(name("input.name", "   ").is_err());
        assert!(name("input.name", &"x".repeat(200)).is_ok());
        let err = name("input.name", &"é".repeat(201)).err();
        assert!(matches!(err, Some(AppError::BadInput { field, .. }) if field == "input.name"));
        assert!(description("d", Some("x".repeat(10_001))).is_err());
        assert!(id("input.id", &ID::from("nope")).is_err());
    }
}
