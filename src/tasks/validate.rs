//! Input rules of tasks (the rules shared with other nouns are in
//! `crate::validate`).

use std::collections::HashSet;

use crate::error::{AppError, AppResult};
use crate::validate::text;

pub const TITLE_MAX: usize = 500;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 50;
/// Most tasks `createTasks` / `updateTasks` take at once.
pub const BULK_MAX: usize = 500;

pub fn title(field: &str, raw: &str) -> AppResult<String> {
    text(field, raw, TITLE_MAX)
}

/// Trimmed, without repeats, at most 20 (counted as sent, before anything
/// else) of 1 to 50 characters.
pub fn tags(field: &str, raw: &[String]) -> AppResult<Vec<String>> {
    if raw.len() > TAGS_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must hold at most {TAGS_MAX} tags"),
        ));
    }
    let mut seen: HashSet<String> = HashSet::with_capacity(raw.len());
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, tag) in raw.iter().enumerate() {
        let tag = text(&format!("{field}[{i}]"), tag, TAG_MAX)?;
        if seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A tag filter: trimmed, at most 50 characters (no tag is longer).
pub fn tag_filter(field: &str, raw: Option<String>) -> AppResult<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let tag = raw.trim();
    if tag.chars().count() > TAG_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must be at most {TAG_MAX} characters"),
        ));
    }
    Ok(Some(tag.to_owned()))
}

pub fn position(field: &str, raw: Option<f64>) -> AppResult<Option<f64>> {
    match raw {
        Some(p) if !p.is_finite() => Err(AppError::bad_input(field, "must be a finite number")),
        other => Ok(other),
    }
}

pub fn bulk_size(field: &str, len: usize) -> AppResult<()> {
    if len > BULK_MAX {
        return Err(AppError::bad_input(
            field,
            format!("must hold at most {BULK_MAX} items"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_bounded() {
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(tags("input.tags", &many).is_err());
        let long = vec!["x".repeat(51)];
        let err = tags("input.tags", &long).err();
        assert!(matches!(err, Some(AppError::BadInput { field, .. }) if field == "input.tags[0]"));
        let same = vec!["a".to_owned(), " a ".to_owned()];
        assert_eq!(tags("t", &same).ok(), Some(vec!["a".to_owned()]));
    }
}
