//! The opaque sync cursor: the last `seq` a client has seen.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{AppError, AppResult};

const PREFIX: &str = "seq:";

pub fn encode(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{seq}"))
}

/// The `seq` in `raw`; `None` (a full snapshot) when there is no cursor.
/// A cursor this server did not make is BAD_USER_INPUT on `field`.
pub fn decode(field: &str, raw: Option<&str>) -> AppResult<i64> {
    let Some(raw) = raw else {
        return Ok(0);
    };
    let bad = || AppError::bad_input(field, "is not a cursor this server returned");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let seq: i64 = text
        .strip_prefix(PREFIX)
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if seq < 0 {
        return Err(bad());
    }
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_rejected() {
        assert_eq!(decode("since", Some(&encode(42))).ok(), Some(42));
        assert_eq!(decode("since", None).ok(), Some(0));
        for bad in ["", "nope!", "c2VxOg", "c2VxOi0x", "eHl6OjE"] {
            let err = decode("since", Some(bad)).err();
            assert!(
                matches!(&err, Some(AppError::BadInput { field, .. }) if field == "since"),
                "{bad}: {err:?}"
            );
        }
    }
}
