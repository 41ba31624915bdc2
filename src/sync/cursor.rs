//! The opaque sync cursor: for each project the client has pulled, the last
//! `seq` of that project's change stream it has seen.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::db::types::Id;
use crate::error::{AppError, AppResult};

const PREFIX: &str = "p1:";
/// The cursor before projects were streams of their own: one `seq` for all
/// of an owner's rows. It is read as no cursor (a full snapshot, which a
/// client merges as it merges any pull).
const OLD_PREFIX: &str = "seq:";
/// Most projects one cursor names: more than anyone is a member of (the
/// account quota bounds the projects one owns), few enough to bound the
/// work a forged cursor makes.
pub const MAX_PROJECTS: usize = 10_000;

/// Where a client stands: project → last `seq` seen.
pub type Position = BTreeMap<Id, i64>;

pub fn encode(position: &Position) -> String {
    let entries: Vec<String> = position
        .iter()
        .map(|(id, seq)| format!("{}.{seq}", id.0.simple()))
        .collect();
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", entries.join(",")))
}

/// The position in `raw`; empty (a full snapshot) when there is no cursor.
/// A cursor this server did not make is BAD_USER_INPUT on `field`.
pub fn decode(field: &str, raw: Option<&str>) -> AppResult<Position> {
    let Some(raw) = raw else {
        return Ok(Position::new());
    };
    let bad = || AppError::bad_input(field, "is not a cursor this server returned");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    if let Some(old) = text.strip_prefix(OLD_PREFIX) {
        return match old.parse::<i64>() {
            Ok(seq) if seq >= 0 => Ok(Position::new()),
            _ => Err(bad()),
        };
    }
    let body = text.strip_prefix(PREFIX).ok_or_else(bad)?;
    let mut position = Position::new();
    if body.is_empty() {
        return Ok(position);
    }
    for entry in body.split(',') {
        if position.len() == MAX_PROJECTS {
            return Err(AppError::bad_input(
                field,
                format!("names more than {MAX_PROJECTS} projects"),
            ));
        }
        let (id, seq) = entry.split_once('.').ok_or_else(bad)?;
        let id = Id::parse(id).ok_or_else(bad)?;
        let seq: i64 = seq.parse().map_err(|_| bad())?;
        if seq < 0 || position.insert(id, seq).is_some() {
            return Err(bad());
        }
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_rejected() {
        let position = Position::from([(Id::new(), 42), (Id::new(), 0)]);
        assert_eq!(
            decode("since", Some(&encode(&position))).ok(),
            Some(position)
        );
        assert_eq!(
            decode("since", Some(&encode(&Position::new()))).ok(),
            Some(Position::new())
        );
        assert_eq!(decode("since", None).ok(), Some(Position::new()));
        // An old single-stream cursor starts over.
        let old = URL_SAFE_NO_PAD.encode("seq:42");
        assert_eq!(decode("since", Some(&old)).ok(), Some(Position::new()));
        let id = Id::new().0.simple().to_string();
        for bad in [
            "".to_owned(),
            "nope!".to_owned(),
            URL_SAFE_NO_PAD.encode("seq:-1"),
            URL_SAFE_NO_PAD.encode("xyz:1"),
            URL_SAFE_NO_PAD.encode(format!("p1:{id}")),
            URL_SAFE_NO_PAD.encode(format!("p1:{id}.-3")),
            URL_SAFE_NO_PAD.encode(format!("p1:{id}.1,{id}.2")),
            URL_SAFE_NO_PAD.encode("p1:not-an-id.1"),
        ] {
            let err = decode("since", Some(&bad)).err();
            assert!(
                matches!(&err, Some(AppError::BadInput { field, .. }) if field == "since"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn a_cursor_names_a_bounded_number_of_projects() {
        let many: Position = (0..=MAX_PROJECTS).map(|_| (Id::new(), 1)).collect();
        let err = decode("since", Some(&encode(&many))).err();
        assert!(
            matches!(&err, Some(AppError::BadInput { message, .. }) if message.contains("10000"))
        );
    }
}
