//! An operation's items, and what one batch reads and writes beside the
//! objects themselves: the rows its items name, its records, and (for an
//! import) the ids already taken.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::access::{self, Need, visible_projects};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{operation_items, operation_records, projects, tasks};
use crate::db::sql::{Bind, IdRow, SqlBuilder, SqlColumn};
use crate::db::types::Id;
use crate::db_run;
use crate::error::AppResult;
use crate::operations::model::{OperationItemRow, OperationRecordRow};
use crate::tasks::model::TaskRow;

/// Rows inserted per statement (well under both backends' bind limits).
const CHUNK: usize = 1000;

/// Stores the items of a new operation, numbered from 0 (SQL text: see
/// [`SqlBuilder::insert_values`]).
pub async fn insert_items(
    conn: &mut Conn<'_>,
    operation_id: Id,
    items: &[(&'static str, Id)],
) -> AppResult<()> {
    use operation_items as i;
    let columns = [
        i::operation_id::NAME,
        i::idx::NAME,
        i::entity_type::NAME,
        i::entity_id::NAME,
    ];
    for (n, chunk) in items.chunks(CHUNK).enumerate() {
        let rows = chunk.iter().enumerate().map(|(i, (entity, id))| {
            let idx = i64::try_from(n * CHUNK + i).unwrap_or(i64::MAX);
            vec![
                Some(Bind::Id(operation_id)),
                Some(Bind::I64(idx)),
                Some(Bind::Text((*entity).to_owned())),
                Some(Bind::Id(*id)),
            ]
        });
        let mut b = SqlBuilder::new(conn.backend());
        b.insert_values("operation_items", &columns, rows);
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

/// Stores records (SQL text: see [`SqlBuilder::insert_values`]).
pub async fn insert_records(conn: &mut Conn<'_>, records: &[OperationRecordRow]) -> AppResult<()> {
    use operation_records as r;
    let columns = [
        r::operation_id::NAME,
        r::seq::NAME,
        r::entity_type::NAME,
        r::entity_id::NAME,
        r::action::NAME,
        r::before::NAME,
        r::after::NAME,
    ];
    for chunk in records.chunks(CHUNK / 2) {
        let rows = chunk.iter().map(|r| {
            vec![
                Some(Bind::Id(r.operation_id)),
                Some(Bind::I64(r.seq.into())),
                Some(Bind::Text(r.entity_type.clone())),
                Some(Bind::Id(r.entity_id)),
                Some(Bind::Text(r.action.clone())),
                r.before.clone().map(Bind::Json),
                r.after.clone().map(Bind::Json),
            ]
        });
        let mut b = SqlBuilder::new(conn.backend());
        b.insert_values("operation_records", &columns, rows);
        b.execute(conn).await?;
    }
    Ok(())
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
///
/// SQL text: a filter on a window function's result (`ROW_NUMBER() OVER`
/// in a subquery), which the DSL does not express.
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
         WHERE t.deleted_at IS NULL AND p.deleted_at IS NULL AND ",
    );
    access::push_guard(
        &mut b,
        SqlColumn::of::<tasks::project_id>(Some("t")),
        viewer,
        Need::Read,
    );
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
            .filter(tasks::project_id.eq(project))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
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

/// The items of `$range`, to join with what they name.
macro_rules! in_range {
    ($range:expr) => {
        operation_items::table
            .filter(operation_items::operation_id.eq($range.operation_id))
            .filter(operation_items::idx.ge($range.from))
            .filter(operation_items::idx.lt($range.to))
    };
}
pub(crate) use in_range;

/// The viewer's tasks among the items of `range` (deleted or not), by a
/// join: a list of ids in `= ANY(…)` makes PostgreSQL's generic plan scan
/// the table once per batch.
pub async fn range_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    range: ItemRange,
) -> AppResult<Vec<TaskRow>> {
    let rows = db_run!(conn, |c| {
        in_range!(range)
            .inner_join(tasks::table.on(tasks::id.eq(operation_items::entity_id)))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
            .select(TaskRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// The records of `of` about the items of `range` (a rollback's batch).
pub async fn range_records(
    conn: &mut Conn<'_>,
    of: Id,
    range: ItemRange,
) -> AppResult<Vec<OperationRecordRow>> {
    let rows = db_run!(conn, |c| {
        in_range!(range)
            .inner_join(
                operation_records::table.on(operation_records::entity_id
                    .eq(operation_items::entity_id)
                    .and(operation_records::operation_id.eq(of))),
            )
            .select(OperationRecordRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}
