//! Frames the connection itself writes or looks into (the protocol writes
//! the rest).

use serde_json::json;

/// The `complete` of operation `id` (the same in both protocols).
pub(super) fn complete_frame(id: &str) -> String {
    json!({ "type": "complete", "id": id }).to_string()
}

/// The id of a `complete` message the server sends.
pub(super) fn completed_id(text: &str) -> Option<String> {
    if !text.starts_with(r#"{"type":"complete""#) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("id")?.as_str().map(str::to_owned)
}
