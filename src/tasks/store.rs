//! All SQL for single tasks (listings are in `list.rs`). Every function
//! takes the viewer and puts the ownership condition into the SQL.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use super::model::TaskRow;
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{projects, tasks};
use crate::db::types::Id;
use crate::db_run;
use crate::error::{AppError, AppResult};

/// The viewer's task, unless it or its project is deleted.
pub async fn find_task(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<Option<TaskRow>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .inner_join(projects::table)
            .filter(tasks::id.eq(id))
            .filter(tasks::owner_id.eq(viewer.user_id))
            .filter(tasks::deleted_at.is_null())
            .filter(projects::deleted_at.is_null())
            .select(TaskRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The viewer's tasks among `ids`, deleted or not.
pub async fn find_tasks_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    ids: &[Id],
) -> AppResult<Vec<TaskRow>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::id.eq_any(ids))
            .filter(tasks::owner_id.eq(viewer.user_id))
            .select(TaskRow::as_select())
            .load(c)
            .await
    })?;
    Ok(found)
}

/// The viewer's task, deleted or not.
pub async fn find_task_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
) -> AppResult<Option<TaskRow>> {
    Ok(find_tasks_any(conn, viewer, &[id])
        .await?
        .into_iter()
        .next())
}

/// The viewer's task created with this client mutation id.
pub async fn find_by_client_mutation_id(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    client_mutation_id: &str,
) -> AppResult<Option<TaskRow>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::owner_id.eq(viewer.user_id))
            .filter(tasks::client_mutation_id.eq(client_mutation_id))
            .select(TaskRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// Stores a new task of the viewer's. An id in use is BAD_USER_INPUT on `field`.
pub async fn insert_task(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &TaskRow,
    field: &str,
) -> AppResult<TaskRow> {
    if row.owner_id != viewer.user_id {
        return Err(AppError::internal("task insert for another owner"));
    }
    let inserted = db_run!(conn, |c| {
        diesel::insert_into(tasks::table)
            .values(row)
            .returning(TaskRow::as_returning())
            .get_result(c)
            .await
    });
    match inserted {
        Ok(row) => Ok(row),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Err(
            AppError::bad_input(field, "is already in use; choose another id"),
        ),
        Err(other) => Err(other.into()),
    }
}

/// Writes `row` over the stored task if that is still at `base_version`;
/// `None` when it is not (or is not the viewer's).
pub async fn write_task(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &TaskRow,
    base_version: i32,
) -> AppResult<Option<TaskRow>> {
    let changes = row.changes();
    let written = db_run!(conn, |c| {
        diesel::update(
            tasks::table
                .filter(tasks::id.eq(row.id))
                .filter(tasks::owner_id.eq(viewer.user_id))
                .filter(tasks::version.eq(base_version)),
        )
        .set(&changes)
        .returning(TaskRow::as_returning())
        .get_result(c)
        .await
        .optional()
    })?;
    Ok(written)
}

/// The PostgreSQL form of [`write_tasks`]: every row in one statement, each
/// still conditional on its own base version.
const WRITE_TASKS_PG: &str = "UPDATE tasks AS t SET project_id = v.project_id, title = v.title, \
    description = v.description, status = v.status, priority = v.priority, tags = v.tags, \
    due_at = v.due_at, position = v.position, completed_at = v.completed_at, \
    deleted_at = v.deleted_at, version = v.version, seq = v.seq, client_id = v.client_id, \
    updated_at = v.updated_at \
    FROM unnest($2::uuid[], $3::int4[], $4::uuid[], $5::text[], $6::text[], $7::int2[], \
    $8::int2[], $9::jsonb[], $10::timestamptz[], $11::float8[], $12::timestamptz[], \
    $13::timestamptz[], $14::int4[], $15::int8[], $16::text[], $17::timestamptz[]) \
    AS v(id, base_version, project_id, title, description, status, priority, tags, due_at, \
    position, completed_at, deleted_at, version, seq, client_id, updated_at) \
    WHERE t.id = v.id AND t.owner_id = $1 AND t.version = v.base_version \
    RETURNING t.*";

/// Writes each `(row, base_version)` as [`write_task`] does — in one
/// statement on PostgreSQL, in one call of the blocking pool on SQLite.
/// Returns the rows written; a row whose stored version moved on, or that
/// is not the viewer's, is missing from the result.
pub async fn write_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    rows: &[(TaskRow, i32)],
) -> AppResult<Vec<TaskRow>> {
    use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, SmallInt, Text};

    use crate::db::types::{DbJson, DbTime, DbUuid};

    match conn {
        Conn::Postgres(c) => {
            let written = diesel::sql_query(WRITE_TASKS_PG)
                .bind::<DbUuid, _>(viewer.user_id)
                .bind::<Array<DbUuid>, _>(rows.iter().map(|(row, _)| row.id).collect::<Vec<_>>())
                .bind::<Array<Integer>, _>(rows.iter().map(|(_, base)| *base).collect::<Vec<_>>())
                .bind::<Array<DbUuid>, _>(
                    rows.iter().map(|(r, _)| r.project_id).collect::<Vec<_>>(),
                )
                .bind::<Array<Text>, _>(
                    rows.iter()
                        .map(|(r, _)| r.title.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<Text>>, _>(
                    rows.iter()
                        .map(|(r, _)| r.description.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<SmallInt>, _>(rows.iter().map(|(r, _)| r.status).collect::<Vec<_>>())
                .bind::<Array<Nullable<SmallInt>>, _>(
                    rows.iter().map(|(r, _)| r.priority).collect::<Vec<_>>(),
                )
                .bind::<Array<DbJson>, _>(rows.iter().map(|(r, _)| &r.tags).collect::<Vec<_>>())
                .bind::<Array<Nullable<DbTime>>, _>(
                    rows.iter().map(|(r, _)| r.due_at).collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<Double>>, _>(
                    rows.iter().map(|(r, _)| r.position).collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<DbTime>>, _>(
                    rows.iter().map(|(r, _)| r.completed_at).collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<DbTime>>, _>(
                    rows.iter().map(|(r, _)| r.deleted_at).collect::<Vec<_>>(),
                )
                .bind::<Array<Integer>, _>(rows.iter().map(|(r, _)| r.version).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(rows.iter().map(|(r, _)| r.seq).collect::<Vec<_>>())
                .bind::<Array<Nullable<Text>>, _>(
                    rows.iter()
                        .map(|(r, _)| r.client_id.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<DbTime>, _>(
                    rows.iter().map(|(r, _)| r.updated_at).collect::<Vec<_>>(),
                )
                .load::<TaskRow>(*c)
                .await?;
            Ok(written)
        }
        Conn::Sqlite(c) => {
            // Every row in one trip to the blocking pool.
            let owner = viewer.user_id;
            let rows = rows.to_vec();
            let written = c
                .spawn_blocking(move |sqlite| {
                    let mut written = Vec::with_capacity(rows.len());
                    for (row, base) in &rows {
                        let update = diesel::update(
                            tasks::table
                                .filter(tasks::id.eq(row.id))
                                .filter(tasks::owner_id.eq(owner))
                                .filter(tasks::version.eq(*base)),
                        )
                        .set(row.changes())
                        .returning(TaskRow::as_returning());
                        written.extend(diesel::RunQueryDsl::get_result(update, sqlite).optional()?);
                    }
                    Ok(written)
                })
                .await?;
            Ok(written)
        }
    }
}
