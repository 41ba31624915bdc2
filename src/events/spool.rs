//! Events too large for a PostgreSQL notification (a change event carries
//! the row it wrote, and a task's description alone may be 10,000
//! characters). The writing transaction stores the event's text in
//! `event_snapshots` and notifies a small reference instead; each listener
//! reads the text back by that reference before it forwards the event, in
//! the order of the notifications. The commit makes the row and the
//! notification visible together, so a listener always finds it.
//!
//! Rows are pruned by age as later large events are written: a listener
//! resolves a reference within moments of the commit, and one that lagged
//! past [`KEEP`] finds nothing and tells its subscribers to resync.

use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::types::Id;
use crate::error::AppResult;

/// How long a spooled event is kept for the listeners.
pub const KEEP: &str = "5 minutes";
/// The start of a reference notification (no event starts so).
const PREFIX: &str = "{\"spooled\":\"";

/// The notification that stands for the spooled event `id`.
pub fn reference(id: Id) -> String {
    format!("{PREFIX}{id}\"}}")
}

/// The spooled event a notification refers to, if it is a reference.
pub fn referred(note: &str) -> Option<Id> {
    let id = note.strip_prefix(PREFIX)?.strip_suffix("\"}")?;
    Id::parse(id)
}

/// Stores `events` (id, text) in the current transaction and prunes what
/// is older than [`KEEP`]. Rows another transaction is pruning are skipped,
/// so concurrent writers never wait on each other here.
pub(super) async fn store(
    conn: &mut AsyncPgConnection,
    events: Vec<(String, String)>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (ids, texts): (Vec<String>, Vec<String>) = events.into_iter().unzip();
    diesel::sql_query(
        "INSERT INTO event_snapshots (id, payload) \
         SELECT CAST(i AS uuid), p FROM unnest($1::text[], $2::text[]) AS s(i, p)",
    )
    .bind::<Array<Text>, _>(ids)
    .bind::<Array<Text>, _>(texts)
    .execute(conn)
    .await?;
    diesel::sql_query(format!(
        "DELETE FROM event_snapshots WHERE id IN (SELECT id FROM event_snapshots \
         WHERE created_at < now() - interval '{KEEP}' LIMIT 1000 FOR UPDATE SKIP LOCKED)"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// The text of spooled event `id`, read on the listener's own connection
/// (`None` once pruned).
pub(super) async fn resolve(
    client: &tokio_postgres::Client,
    id: Id,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT payload FROM event_snapshots WHERE id = CAST($1::text AS uuid)",
            &[&id.to_string()],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_read_back_and_nothing_else_is_one() {
        let id = Id::new();
        let note = reference(id);
        assert!(note.len() < 60);
        assert_eq!(referred(&note), Some(id));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&note).expect("JSON")["spooled"],
            id.to_string()
        );
        assert_eq!(referred(r#"{"topic":"changes","payload":{}}"#), None);
        assert_eq!(referred(r#"{"spooled":"nonsense"}"#), None);
    }
}
