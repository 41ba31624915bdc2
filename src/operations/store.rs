//! All SQL for operations. What a user reads goes through the viewer; what
//! the worker does names the operation it holds (claimed under its own id).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::kinds::{OperationKind, OperationStatus};
use super::model::{OperationItemRow, OperationRecordRow, OperationRow};
use crate::auth::Viewer;
use crate::db::schema::{operation_items, operation_records, operations, projects, tasks};
use crate::db::sql::{Bind, IdRow, SqlBuilder};
use crate::db::types::{Id, Timestamp};
use crate::db::{Backend, Conn};
use crate::db_run;
use crate::error::{AppError, AppResult};

/// Rows inserted per statement (well under both backends' bind limits).
const CHUNK: usize = 1000;

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

/// Newest first: up to `limit` operations after `(created_at, id)`.
pub async fn page(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    filter: &OperationFilterSpec,
    after: Option<(Timestamp, Id)>,
    limit: i64,
) -> AppResult<Vec<OperationRow>> {
    let statuses: Option<Vec<&str>> = filter
        .status
        .as_ref()
        .map(|s| s.iter().map(|s| s.name()).collect());
    let kinds: Option<Vec<&str>> = filter
        .kind
        .as_ref()
        .map(|k| k.iter().map(|k| k.name()).collect());
    let rows = db_run!(conn, |c| {
        let mut query = operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .select(OperationRow::as_select())
            .order((operations::created_at.desc(), operations::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(statuses) = &statuses {
            query = query.filter(operations::status.eq_any(statuses.clone()));
        }
        if let Some(kinds) = &kinds {
            query = query.filter(operations::kind.eq_any(kinds.clone()));
        }
        if let Some((at, id)) = after {
            query = query.filter(
                operations::created_at
                    .lt(at)
                    .or(operations::created_at.eq(at).and(operations::id.lt(id))),
            );
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
    let statuses: Option<Vec<&str>> = filter
        .status
        .as_ref()
        .map(|s| s.iter().map(|s| s.name()).collect());
    let kinds: Option<Vec<&str>> = filter
        .kind
        .as_ref()
        .map(|k| k.iter().map(|k| k.name()).collect());
    let n = db_run!(conn, |c| {
        let mut query = operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .count()
            .into_boxed();
        if let Some(statuses) = &statuses {
            query = query.filter(operations::status.eq_any(statuses.clone()));
        }
        if let Some(kinds) = &kinds {
            query = query.filter(operations::kind.eq_any(kinds.clone()));
        }
        query.get_result::<i64>(c).await
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
    let active = [
        OperationStatus::Pending.name(),
        OperationStatus::Running.name(),
    ];
    let n = db_run!(conn, |c| {
        operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .filter(operations::status.eq_any(active))
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

/// Removes the viewer's dry run `id` that failed to plan (it has no records).
pub async fn delete_dry_run(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::delete(
            operations::table
                .filter(operations::id.eq(id))
                .filter(operations::owner_id.eq(viewer.user_id))
                .filter(operations::dry_run.eq(true)),
        )
        .execute(c)
        .await
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
        diesel::update(
            operations::table
                .filter(operations::id.eq(id))
                .filter(operations::owner_id.eq(viewer.user_id))
                .filter(operations::dry_run.eq(true)),
        )
        .set((
            operations::status.eq(OperationStatus::Completed.name()),
            operations::total.eq(total),
            operations::finished_at.eq(Some(now)),
        ))
        .returning(OperationRow::as_returning())
        .get_result(c)
        .await
        .optional()
    })?;
    Ok(row)
}

/// A rollback of `of` that is waiting or running.
pub async fn active_rollback_of(conn: &mut Conn<'_>, viewer: &Viewer, of: Id) -> AppResult<bool> {
    let active = [
        OperationStatus::Pending.name(),
        OperationStatus::Running.name(),
    ];
    let n = db_run!(conn, |c| {
        operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .filter(operations::rollback_of.eq(of))
            .filter(operations::status.eq_any(active))
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

/// Stores the items of a new operation, numbered from 0.
pub async fn insert_items(
    conn: &mut Conn<'_>,
    operation_id: Id,
    items: &[(&'static str, Id)],
) -> AppResult<()> {
    for (n, chunk) in items.chunks(CHUNK).enumerate() {
        let mut b = SqlBuilder::new(conn.backend());
        b.push("INSERT INTO operation_items (operation_id, idx, entity_type, entity_id) VALUES ");
        for (i, (entity, id)) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            let idx = i64::try_from(n * CHUNK + i).unwrap_or(i64::MAX);
            b.push("(")
                .bind(Bind::Id(operation_id))
                .push(", ")
                .bind(Bind::I64(idx))
                .push(", ")
                .bind(Bind::Text((*entity).to_owned()))
                .push(", ")
                .bind(Bind::Id(*id))
                .push(")");
        }
        b.execute(conn).await?;
    }
    Ok(())
}

/// Items from `from` on, in order.
pub async fn items(
    conn: &mut Conn<'_>,
    operation_id: Id,
    from: i32,
    limit: i64,
) -> AppResult<Vec<OperationItemRow>> {
    let rows = db_run!(conn, |c| {
        operation_items::table
            .filter(operation_items::operation_id.eq(operation_id))
            .filter(operation_items::idx.ge(from))
            .order(operation_items::idx)
            .limit(limit)
            .select(OperationItemRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

pub async fn insert_records(conn: &mut Conn<'_>, records: &[OperationRecordRow]) -> AppResult<()> {
    for chunk in records.chunks(CHUNK / 2) {
        let mut b = SqlBuilder::new(conn.backend());
        b.push(
            "INSERT INTO operation_records \
             (operation_id, seq, entity_type, entity_id, action, before, after) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.push("(")
                .bind(Bind::Id(r.operation_id))
                .push(", ")
                .bind(Bind::I64(r.seq.into()))
                .push(", ")
                .bind(Bind::Text(r.entity_type.clone()))
                .push(", ")
                .bind(Bind::Id(r.entity_id))
                .push(", ")
                .bind(Bind::Text(r.action.clone()))
                .push(", ");
            for (j, doc) in [&r.before, &r.after].into_iter().enumerate() {
                if j > 0 {
                    b.push(", ");
                }
                match doc {
                    Some(doc) => b.bind(Bind::Json(doc.clone())),
                    None => b.push("NULL"),
                };
            }
            b.push(")");
        }
        b.execute(conn).await?;
    }
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

/// The records of `operation_id` about `ids`.
pub async fn records_of(
    conn: &mut Conn<'_>,
    operation_id: Id,
    ids: &[Id],
) -> AppResult<Vec<OperationRecordRow>> {
    let rows = db_run!(conn, |c| {
        operation_records::table
            .filter(operation_records::operation_id.eq(operation_id))
            .filter(operation_records::entity_id.eq_any(ids))
            .select(OperationRecordRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// What an operation's records name, newest first (the order to undo in).
pub async fn recorded_entities(
    conn: &mut Conn<'_>,
    operation_id: Id,
) -> AppResult<Vec<(String, Id)>> {
    let rows = db_run!(conn, |c| {
        operation_records::table
            .filter(operation_records::operation_id.eq(operation_id))
            .order(operation_records::seq.desc())
            .select((operation_records::entity_type, operation_records::entity_id))
            .load::<(String, Id)>(c)
            .await
    })?;
    Ok(rows)
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
    let from: Vec<&str> = from.iter().map(|s| s.name()).collect();
    let finished = (!to.is_active()).then_some(now);
    let row = db_run!(conn, |c| {
        diesel::update(
            operations::table
                .filter(operations::id.eq(id))
                .filter(operations::owner_id.eq(viewer.user_id))
                .filter(operations::status.eq_any(from.clone())),
        )
        .set((
            operations::status.eq(to.name()),
            operations::finished_at.eq(finished),
        ))
        .returning(OperationRow::as_returning())
        .get_result(c)
        .await
        .optional()
    })?;
    Ok(row)
}

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
            .set(operations::status.eq(OperationStatus::RolledBack.name()))
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
        diesel::update(
            operations::table
                .filter(operations::id.eq(id))
                .filter(operations::claimed_by.eq(worker))
                .filter(operations::status.eq(OperationStatus::Running.name())),
        )
        .set(operations::heartbeat_at.eq(now))
        .returning(OperationRow::as_returning())
        .get_result(c)
        .await
        .optional()
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
                .filter(operations::status.eq(OperationStatus::Running.name())),
        )
        .set((
            operations::status.eq(OperationStatus::Pending.name()),
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
                operations::status.eq(status.name()),
                operations::error.eq(error.clone()),
                operations::finished_at.eq(Some(now)),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Which of `ids` name an existing task, anyone's: an import must not reuse
/// them (and says no more than an insert would).
pub async fn task_ids_taken(conn: &mut Conn<'_>, ids: &[Id]) -> AppResult<Vec<Id>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::id.eq_any(ids))
            .select(tasks::id)
            .load::<Id>(c)
            .await
    })?;
    Ok(found)
}

/// Which of `ids` name an existing project, anyone's.
pub async fn project_ids_taken(conn: &mut Conn<'_>, ids: &[Id]) -> AppResult<Vec<Id>> {
    let found = db_run!(conn, |c| {
        projects::table
            .filter(projects::id.eq_any(ids))
            .select(projects::id)
            .load::<Id>(c)
            .await
    })?;
    Ok(found)
}

/// The viewer's live tasks that repeat the title of an older live task in
/// the same live project (in `project`, or in every project), in id order.
pub async fn duplicate_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    project: Option<Id>,
    limit: i64,
) -> AppResult<Vec<Id>> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push(
        "SELECT d.id AS id FROM (SELECT t.id, ROW_NUMBER() OVER \
         (PARTITION BY t.project_id, t.title ORDER BY t.created_at, t.id) AS rn \
         FROM tasks t JOIN projects p ON p.id = t.project_id \
         WHERE t.deleted_at IS NULL AND p.deleted_at IS NULL AND t.owner_id = ",
    )
    .bind(Bind::Id(viewer.user_id));
    if let Some(project) = project {
        b.push(" AND t.project_id = ").bind(Bind::Id(project));
    }
    b.push(") d WHERE d.rn > 1 ORDER BY d.id LIMIT ")
        .bind(Bind::I64(limit));
    let rows = b.load::<IdRow>(conn).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The viewer's live tasks of `project`, in id order.
pub async fn project_task_ids(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    project: Id,
    limit: i64,
) -> AppResult<Vec<Id>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::owner_id.eq(viewer.user_id))
            .filter(tasks::project_id.eq(project))
            .filter(tasks::deleted_at.is_null())
            .order(tasks::id)
            .limit(limit)
            .select(tasks::id)
            .load::<Id>(c)
            .await
    })?;
    Ok(found)
}

/// Items `from..to` of the held operation: which rows of the batch to read.
#[derive(Debug, Clone, Copy)]
pub struct ItemRange {
    pub operation_id: Id,
    pub from: i32,
    pub to: i32,
}

fn push_range(b: &mut SqlBuilder, range: ItemRange) {
    b.push("i.operation_id = ")
        .bind(Bind::Id(range.operation_id))
        .push(" AND i.idx >= ")
        .bind(Bind::I64(range.from.into()))
        .push(" AND i.idx < ")
        .bind(Bind::I64(range.to.into()));
}

/// The viewer's tasks among the items of `range` (deleted or not), by a
/// join: a list of ids in `= ANY(…)` makes PostgreSQL's generic plan scan
/// the table once per batch.
pub async fn range_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    range: ItemRange,
) -> AppResult<Vec<crate::tasks::model::TaskRow>> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push("SELECT t.* FROM operation_items i JOIN tasks t ON t.id = i.entity_id WHERE ");
    push_range(&mut b, range);
    b.push(" AND t.owner_id = ").bind(Bind::Id(viewer.user_id));
    b.load(conn).await
}

/// The records of `of` about the items of `range` (a rollback's batch).
pub async fn range_records(
    conn: &mut Conn<'_>,
    of: Id,
    range: ItemRange,
) -> AppResult<Vec<OperationRecordRow>> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push(
        "SELECT r.* FROM operation_items i JOIN operation_records r \
         ON r.entity_id = i.entity_id AND r.operation_id = ",
    )
    .bind(Bind::Id(of))
    .push(" WHERE ");
    push_range(&mut b, range);
    b.load(conn).await
}
