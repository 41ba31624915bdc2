//! The opaque sync cursor: for each project the client has pulled, the last
//! `seq` of that project's change stream it has seen.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::db::types::Id;
use crate::error::{AppError, AppResult};

/// The first byte of a cursor, then 24 bytes per project: its id and the
/// last `seq` seen (big-endian).
const VERSION: u8 = b'P';
const ENTRY: usize = 16 + 8;
/// The cursor before projects were streams of their own: `seq:N`, one
/// `seq` for all of an owner's rows. It is read as no cursor (a full
/// snapshot, which a client merges as it merges any pull).
const OLD_PREFIX: &str = "seq:";
/// Most projects one cursor names: far more than anyone is a member of,
/// and few enough to bound the work a forged cursor makes.
pub const MAX_PROJECTS: usize = 100_000;

/// Where a client stands: project → last `seq` seen.
pub type Position = BTreeMap<Id, i64>;

pub fn encode(position: &Position) -> String {
    let mut bytes = Vec::with_capacity(1 + position.len() * ENTRY);
    bytes.push(VERSION);
    for (id, seq) in position {
        bytes.extend_from_slice(id.0.as_bytes());
        bytes.extend_from_slice(&seq.to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position in `raw`; empty (a full snapshot) when there is no cursor.
/// A cursor this server did not make is BAD_USER_INPUT on `field`.
pub fn decode(field: &str, raw: Option<&str>) -> AppResult<Position> {
    let Some(raw) = raw else {
        return Ok(Position::new());
    };
    let bad = || AppError::bad_input(field, "is not a cursor this server returned");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    if let Some(old) = bytes.strip_prefix(OLD_PREFIX.as_bytes()) {
        return match std::str::from_utf8(old)
            .ok()
            .and_then(|n| n.parse::<i64>().ok())
        {
            Some(seq) if seq >= 0 => Ok(Position::new()),
            _ => Err(bad()),
        };
    }
    let entries = match bytes.split_first() {
        Some((&VERSION, entries)) if entries.len() % ENTRY == 0 => entries,
        _ => return Err(bad()),
    };
    if entries.len() / ENTRY > MAX_PROJECTS {
        return Err(AppError::bad_input(
            field,
            format!("names more than {MAX_PROJECTS} projects"),
        ));
    }
    let mut position = Position::new();
    for entry in entries.chunks_exact(ENTRY) {
        let (id, seq) = entry.split_at(16);
        let id = uuid::Uuid::from_slice(id).map_err(|_| bad())?;
        let seq = i64::from_be_bytes(seq.try_into().map_err(|_| bad())?);
        if seq < 0 || position.insert(Id(id), seq).is_some() {
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
        let id = Id::new();
        let entry = |seq: i64| [id.0.as_bytes().as_slice(), &seq.to_be_bytes()].concat();
        for bad in [
            "".to_owned(),
            "nope!".to_owned(),
            URL_SAFE_NO_PAD.encode("seq:-1"),
            URL_SAFE_NO_PAD.encode("xyz:1"),
            URL_SAFE_NO_PAD.encode([b"P".as_slice(), &entry(1)[..20]].concat()),
            URL_SAFE_NO_PAD.encode([b"P".as_slice(), &entry(-3)].concat()),
            URL_SAFE_NO_PAD.encode([b"P".as_slice(), &entry(1), &entry(2)].concat()),
            URL_SAFE_NO_PAD.encode([b"Q".as_slice(), &entry(1)].concat()),
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
