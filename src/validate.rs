//! Input rules shared by every domain (ids, text, descriptions, searches,
//! enum lists, client ids). Each error names the field path it was found at
//! (`input.name`, `input[3].title`); the rules of one noun live in its own
//! `validate.rs`.

use async_graphql::ID;
use async_graphql::resolver_utils::EnumType;

use crate::db::types::Id;
use crate::error::{AppError, AppResult};

pub const DESCRIPTION_MAX: usize = 10_000;
pub const CLIENT_MUTATION_ID_MAX: usize = 200;
/// Longest `search` of a project or task filter, in characters.
pub const SEARCH_MAX: usize = 200;

/// A UUID sent by a client.
pub fn id(field: &str, raw: &ID) -> AppResult<Id> {
    Id::parse(raw).ok_or_else(|| AppError::bad_input(field, "must be a UUID"))
}

/// Trimmed text of 1 to `max` characters.
pub fn text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    bounded(field, raw.trim(), max).map(str::to_owned)
}

/// `raw` as sent, when it is 1 to `max` characters.
pub fn bounded<'a>(field: &str, raw: &'a str, max: usize) -> AppResult<&'a str> {
    if raw.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if raw.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(raw)
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

/// A filter's `search`: trimmed, `None` when empty, at most `SEARCH_MAX`
/// characters.
pub fn search(field: &str, raw: Option<String>) -> AppResult<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let trimmed = raw.trim();
    if trimmed.chars().count() > SEARCH_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {SEARCH_MAX} characters"),
        ));
    }
    Ok(Some(trimmed.to_owned()).filter(|s| !s.is_empty()))
}

/// A list of enum values, in order without repeats: no longer than the
/// enum has values, checked before anything else.
pub fn enum_values<T: EnumType>(field: &str, raw: Vec<T>) -> AppResult<Vec<T>> {
    let max = T::items().len();
    if raw.len() > max {
        return Err(AppError::bad_input(
            field,
            format!("must hold at most {max} values"),
        ));
    }
    let mut out: Vec<T> = Vec::with_capacity(raw.len());
    for value in raw {
        // At most `max` (a handful) to look through.
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

pub fn client_mutation_id(field: &str, raw: Option<String>) -> AppResult<Option<String>> {
    raw.map(|text| self::text(field, &text, CLIENT_MUTATION_ID_MAX))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("t", "  Home ", 10).ok().as_deref(), Some("Home"));
        assert!(text("t", "   ", 10).is_err());
        assert!(description("d", Some("x".repeat(10_001))).is_err());
        assert!(id("input.id", &ID::from("nope")).is_err());
    }

    #[test]
    fn searches_and_enum_lists_are_bounded() {
        assert_eq!(search("s", Some("  ".into())).ok(), Some(None));
        assert!(search("s", Some("x".repeat(SEARCH_MAX))).is_ok());
        assert!(search("s", Some("x".repeat(SEARCH_MAX + 1))).is_err());
        use crate::tasks::kinds::TaskStatus::{Done, Todo};
        assert_eq!(
            enum_values("s", vec![Todo, Done, Todo]).ok(),
            Some(vec![Todo, Done])
        );
        assert!(enum_values("s", vec![Todo; 4]).is_err());
    }
}
