//! What the worker does to the operation it runs: claim it, hold it for a
//! batch, save its counters, end it, or hand it back.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::operations;
use crate::db::sql::{Bind, SqlBuilder};
use crate::db::types::{Id, Timestamp};
use crate::db::{Backend, Conn};
use crate::db_run;
use crate::error::AppResult;
use crate::operations::kinds::OperationStatus;
use crate::operations::model::OperationRow;

/// Takes the next operation for `worker`: one that waits, one this worker
/// already runs, or one that runs without a heartbeat since `stale_before`
/// (its worker is gone). PostgreSQL skips rows another instance is
/// claiming; on SQLite, the only worker also takes back what it (in an
/// earlier process) had claimed.
///
/// Fairness: the worker runs one batch per claim, and the claim takes the
/// operation served least recently (the oldest heartbeat; a waiting one has
/// none, so it goes first). Runnable operations thus take turns batch by
/// batch, and a 1-item job started behind another owner's 100,000-item job
/// runs after at most one of its batches. One owner has at most
/// `TASKLANE_OPERATION_MAX_RUNNING` operations in the rotation.
///
/// SQL text: an UPDATE whose row comes from a subquery ordered `NULLS
/// FIRST` and locked `FOR UPDATE SKIP LOCKED`, which the DSL does not
/// write for both backends.
pub async fn claim(
    conn: &mut Conn<'_>,
    worker: Id,
    stale_before: Timestamp,
    now: Timestamp,
) -> AppResult<Option<Claimed>> {
    let backend = conn.backend();
    let mut b = SqlBuilder::new(backend);
    b.push("UPDATE operations SET status = ")
        .bind(Bind::Text(OperationStatus::Running.name().into()))
        .push(", claimed_by = ")
        .bind(Bind::Id(worker))
        .push(", heartbeat_at = ")
        .bind(Bind::Time(now))
        .push(", started_at = COALESCE(started_at, ")
        .bind(Bind::Time(now))
        .push(
            ") WHERE id = (SELECT o.id FROM operations o WHERE o.dry_run = false AND (o.status = ",
        )
        .bind(Bind::Text(OperationStatus::Pending.name().into()))
        .push(" OR (o.status = ")
        .bind(Bind::Text(OperationStatus::Running.name().into()))
        .push(" AND (o.claimed_by = ")
        .bind(Bind::Id(worker));
    let order = " ORDER BY o.heartbeat_at NULLS FIRST, o.created_at, o.id LIMIT 1";
    match backend {
        Backend::Postgres => {
            b.push(" OR o.heartbeat_at IS NULL OR o.heartbeat_at < ")
                .bind(Bind::Time(stale_before))
                .push(")))")
                .push(order)
                .push(" FOR UPDATE SKIP LOCKED)");
        }
        Backend::Sqlite => {
            // The only worker: whatever runs is its own or an earlier
            // process's.
            b.push(" OR o.claimed_by IS NULL OR o.claimed_by <> ")
                .bind(Bind::Id(worker))
                .push(" OR o.heartbeat_at < ")
                .bind(Bind::Time(stale_before))
                .push(")))")
                .push(order)
                .push(")");
        }
    }
    b.push(" RETURNING id AS id, owner_id AS owner_id, started_at AS started_at");
    let rows = b.load::<Claimed>(conn).await?;
    Ok(rows.into_iter().next())
}

/// What [`claim`] took.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = crate::db::types::DbUuid)]
    pub id: Id,
    #[diesel(sql_type = crate::db::types::DbUuid)]
    pub owner_id: Id,
    #[diesel(sql_type = diesel::sql_types::Nullable<crate::db::types::DbTime>)]
    pub started_at: Option<Timestamp>,
}

/// Marks the operation a completed rollback undid.
pub async fn mark_rolled_back(conn: &mut Conn<'_>, id: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(operations::table.filter(operations::id.eq(id)))
            .set(operations::status.eq(OperationStatus::RolledBack))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// The operation `id`, if `worker` still holds it and it still runs; beats
/// its heartbeat and locks its row for the rest of the transaction.
pub async fn hold(
    conn: &mut Conn<'_>,
    id: Id,
    worker: Id,
    now: Timestamp,
) -> AppResult<Option<OperationRow>> {
    let row = db_run!(conn, |c| {
        super::updated_row!(
            c,
            diesel::update(
                operations::table
                    .filter(operations::id.eq(id))
                    .filter(operations::claimed_by.eq(worker))
                    .filter(operations::status.eq(OperationStatus::Running)),
            )
            .set(operations::heartbeat_at.eq(now))
        )
    })?;
    Ok(row)
}

/// Gives every operation `worker` holds back to the queue (it is
/// stopping), so any worker resumes them at once instead of after the stale
/// timeout.
pub async fn release(conn: &mut Conn<'_>, worker: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(
            operations::table
                .filter(operations::claimed_by.eq(worker))
                .filter(operations::status.eq(OperationStatus::Running)),
        )
        .set((
            operations::status.eq(OperationStatus::Pending),
            operations::claimed_by.eq(None::<Id>),
        ))
        .execute(c)
        .await
    })?;
    Ok(())
}

/// Saves the counters of a held operation.
pub async fn save_counters(conn: &mut Conn<'_>, row: &OperationRow) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(operations::table.filter(operations::id.eq(row.id)))
            .set((
                operations::processed.eq(row.processed),
                operations::skipped.eq(row.skipped),
                operations::failed.eq(row.failed),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Ends a held operation (or marks the original of a finished rollback).
pub async fn finish(
    conn: &mut Conn<'_>,
    id: Id,
    status: OperationStatus,
    error: Option<String>,
    now: Timestamp,
) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(operations::table.filter(operations::id.eq(id)))
            .set((
                operations::status.eq(status),
                operations::error.eq(error.clone()),
                operations::finished_at.eq(Some(now)),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}
