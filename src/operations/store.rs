//! All SQL for operations. What a user reads goes through the viewer; what
//! the worker does names the operation it holds (claimed under its own id).
//!
//! - here: the viewer's operations and records (reads, starts, cancels);
//! - [`worker`]: claiming, holding and ending an operation;
//! - [`batch`]: an operation's items and what one batch reads and writes.

mod batch;
mod worker;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub use self::batch::*;
pub use self::worker::*;
use super::kinds::{OperationKind, OperationStatus};
use super::model::{OperationRecordRow, OperationRow};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::keyset::{KeyPosition, SortKey, SqlColumn};
use crate::db::schema::{operation_records, operations};
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::{AppError, AppResult};

/// The operation row that `$update` (an UPDATE) wrote, if it wrote one.
macro_rules! updated_row {
    ($c:expr, $update:expr) => {
        $update
            .returning(OperationRow::as_returning())
            .get_result($c)
            .await
            .optional()
    };
}
use updated_row;

/// Waiting or running.
const ACTIVE: [OperationStatus; 2] = [OperationStatus::Pending, OperationStatus::Running];

/// The viewer's operation (another user's is `None`, as a missing one).
pub async fn find(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<Option<OperationRow>> {
    let found = db_run!(conn, |c| {
        operations::table
            .filter(operations::id.eq(id))
            .filter(operations::owner_id.eq(viewer.user_id))
            .select(OperationRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// Which of the viewer's operations a listing holds.
#[derive(Debug, Clone, Default)]
pub struct OperationFilterSpec {
    pub status: Option<Vec<OperationStatus>>,
    pub kind: Option<Vec<OperationKind>>,
}

/// The viewer's operations that `$filter` selects, as a boxed query.
macro_rules! listed {
    ($viewer:expr, $filter:expr) => {{
        let mut query = operations::table
            .filter(operations::owner_id.eq($viewer.user_id))
            .into_boxed();
        if let Some(statuses) = &$filter.status {
            query = query.filter(operations::status.eq_any(statuses.clone()));
        }
        if let Some(kinds) = &$filter.kind {
            query = query.filter(operations::kind.eq_any(kinds.clone()));
        }
        query
    }};
}

/// The order of the listing: newest first.
pub fn listing_order() -> SortKey {
    SortKey {
        column: SqlColumn::of::<operations::created_at>(None),
        nullable: false,
        id_column: SqlColumn::of::<operations::id>(None),
        descending: true,
    }
}

/// Newest first: a page of `size` operations (and one more, if there is)
/// after `after`.
pub async fn page(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    filter: &OperationFilterSpec,
    after: Option<&KeyPosition>,
    size: usize,
) -> AppResult<Vec<OperationRow>> {
    let key = listing_order();
    let order = key.order(conn.backend(), false);
    let after = after.map(|at| key.beyond(conn.backend(), at, true));
    let limit = crate::db::keyset::page_limit(size);
    let rows = db_run!(conn, |c| {
        let mut query = listed!(viewer, filter)
            .select(OperationRow::as_select())
            .order(order.clone())
            .limit(limit);
        if let Some(after) = &after {
            query = query.filter(after.clone());
        }
        query.load(c).await
    })?;
    Ok(rows)
}

pub async fn count(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    filter: &OperationFilterSpec,
) -> AppResult<i64> {
    let n = db_run!(conn, |c| {
        listed!(viewer, filter).count().get_result::<i64>(c).await
    })?;
    Ok(n)
}

/// The viewer's operations waiting or running, dry runs still planning
/// included (but not one whose heartbeat is older than `stale_before`: its
/// process ended before it could finish).
pub async fn count_active(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    stale_before: Timestamp,
) -> AppResult<i64> {
    let n = db_run!(conn, |c| {
        operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .filter(operations::status.eq_any(ACTIVE))
            .filter(
                operations::dry_run
                    .eq(false)
                    .or(operations::heartbeat_at.ge(stale_before)),
            )
            .count()
            .get_result::<i64>(c)
            .await
    })?;
    Ok(n)
}

/// The viewer's dry run `id`.
macro_rules! dry_run {
    ($viewer:expr, $id:expr) => {
        operations::table
            .filter(operations::id.eq($id))
            .filter(operations::owner_id.eq($viewer.user_id))
            .filter(operations::dry_run.eq(true))
    };
}

/// Removes the viewer's dry run `id` that failed to plan (it has no records).
pub async fn delete_dry_run(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::delete(dry_run!(viewer, id)).execute(c).await
    })?;
    Ok(())
}

/// Marks the viewer's planned dry run `id` COMPLETED with its `total`.
pub async fn complete_dry_run(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    total: i32,
    now: Timestamp,
) -> AppResult<Option<OperationRow>> {
    let row = db_run!(conn, |c| {
        updated_row!(
            c,
            diesel::update(dry_run!(viewer, id)).set((
                operations::status.eq(OperationStatus::Completed),
                operations::total.eq(total),
                operations::finished_at.eq(Some(now)),
            ))
        )
    })?;
    Ok(row)
}

/// A rollback of `of` that is waiting or running.
pub async fn active_rollback_of(conn: &mut Conn<'_>, viewer: &Viewer, of: Id) -> AppResult<bool> {
    let n = db_run!(conn, |c| {
        operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .filter(operations::rollback_of.eq(of))
            .filter(operations::status.eq_any(ACTIVE))
            .count()
            .get_result::<i64>(c)
            .await
    })?;
    Ok(n > 0)
}

pub async fn insert(conn: &mut Conn<'_>, viewer: &Viewer, row: &OperationRow) -> AppResult<()> {
    if row.owner_id != viewer.user_id {
        return Err(AppError::internal("operation insert for another owner"));
    }
    db_run!(conn, |c| {
        diesel::insert_into(operations::table)
            .values(row)
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Records of an operation (checked by the caller to be the viewer's) after
/// `after_seq`, in order.
pub async fn records(
    conn: &mut Conn<'_>,
    operation_id: Id,
    after_seq: i32,
    limit: i64,
) -> AppResult<Vec<OperationRecordRow>> {
    let rows = db_run!(conn, |c| {
        operation_records::table
            .filter(operation_records::operation_id.eq(operation_id))
            .filter(operation_records::seq.gt(after_seq))
            .order(operation_records::seq)
            .limit(limit)
            .select(OperationRecordRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

pub async fn count_records(conn: &mut Conn<'_>, operation_id: Id) -> AppResult<i64> {
    let n = db_run!(conn, |c| {
        operation_records::table
            .filter(operation_records::operation_id.eq(operation_id))
            .count()
            .get_result::<i64>(c)
            .await
    })?;
    Ok(n)
}

/// Sets the viewer's operation `id` to `to` if it is in one of `from`;
/// `None` when it is not (any more).
pub async fn transition(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    from: &[OperationStatus],
    to: OperationStatus,
    now: Timestamp,
) -> AppResult<Option<OperationRow>> {
    let from = from.to_vec();
    let finished = (!to.is_active()).then_some(now);
    let row = db_run!(conn, |c| {
        updated_row!(
            c,
            diesel::update(
                operations::table
                    .filter(operations::id.eq(id))
                    .filter(operations::owner_id.eq(viewer.user_id))
                    .filter(operations::status.eq_any(from.clone())),
            )
            .set((
                operations::status.eq(to),
                operations::finished_at.eq(finished),
            ))
        )
    })?;
    Ok(row)
}
