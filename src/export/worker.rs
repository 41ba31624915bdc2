//! One batch of an EXPORT_DATA operation, run by the operations worker
//! inside its batch transaction (`operations::engine`): the JSON of the next
//! tasks becomes one part; when no item is left, the parts and everything
//! else the user owns become the document, kept for [`super::KEEP`].

use super::{document, store};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::Timestamp;
use crate::error::AppResult;
use crate::events::Outbox;
use crate::events::changes::{Progress, stage_progress};
use crate::operations::kinds::OperationStatus;
use crate::operations::model::OperationRow;
use crate::operations::store::{self as operation_store, ItemRange};

/// Whether the export has ended (completed, or failed over its size).
pub enum Step {
    Continue,
    Done,
}

/// Runs the next batch of the held export `op` as `viewer` (its owner):
/// at most `size` items from its position on.
pub async fn batch(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    viewer: &Viewer,
    mut op: OperationRow,
    size: i64,
    max_bytes: u64,
    now: Timestamp,
) -> AppResult<Step> {
    let position = op.processed + op.skipped + op.failed;
    // The items are numbered 0..total (see `operations::start`): the batch
    // is the next `size` of them, with no read of the items themselves.
    let count = i32::try_from(size)
        .unwrap_or(i32::MAX)
        .min(op.total.saturating_sub(position));
    if count <= 0 {
        finish(conn, viewer, &op, max_bytes, now).await?;
        progress(conn, outbox, &op).await?;
        return Ok(Step::Done);
    }
    let range = ItemRange {
        operation_id: op.id,
        from: position,
        to: position.saturating_add(count),
    };
    let rows = store::range_tasks(conn, viewer, range).await?;
    // A task that left the user's projects since the start is skipped.
    let read = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    op.processed += read;
    op.skipped += count - read;
    let tasks: Vec<serde_json::Value> = rows.iter().map(document::task).collect();
    let body = serde_json::Value::Array(tasks).to_string();
    store::insert_part(conn, op.id, position, &body).await?;
    let held = store::parts_bytes(conn, op.id).await?;
    if held > max_bytes {
        fail_too_large(conn, &op, max_bytes, now).await?;
        progress(conn, outbox, &op).await?;
        return Ok(Step::Done);
    }
    operation_store::save_counters(conn, &op).await?;
    progress(conn, outbox, &op).await?;
    Ok(Step::Continue)
}

/// Makes the document from the parts and the rest, read now, and ends the
/// operation: COMPLETED, or FAILED when the document is over `max_bytes`.
async fn finish(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    op: &OperationRow,
    max_bytes: u64,
    now: Timestamp,
) -> AppResult<()> {
    let header = document::header(conn, viewer).await?;
    let parts = store::parts(conn, op.id).await?;
    let text = document::finish_with_parts(header, &parts)?;
    if text.len() as u64 > max_bytes {
        return fail_too_large(conn, op, max_bytes, now).await;
    }
    store::delete_parts(conn, op.id).await?;
    let expires_at = now + super::keep();
    store::insert_document(conn, viewer, op.id, &text, now, expires_at).await?;
    operation_store::finish(conn, op.id, OperationStatus::Completed, None, now).await
}

/// Ends the export as FAILED: its document would be over `max_bytes`.
async fn fail_too_large(
    conn: &mut Conn<'_>,
    op: &OperationRow,
    max_bytes: u64,
    now: Timestamp,
) -> AppResult<()> {
    store::delete_parts(conn, op.id).await?;
    let message = format!(
        "The export is larger than {max_bytes} bytes (TASKLANE_EXPORT_MAX_BYTES); \
         ask the operator for `tasklane export-user`"
    );
    operation_store::finish(conn, op.id, OperationStatus::Failed, Some(message), now).await
}

async fn progress(conn: &mut Conn<'_>, outbox: &mut Outbox, op: &OperationRow) -> AppResult<()> {
    let progress = Progress {
        id: op.id,
        owner_id: op.owner_id,
    };
    stage_progress(conn, outbox, progress).await
}
