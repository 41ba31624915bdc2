//! All SQL for single tasks (listings are in `list.rs`). Every function
//! takes the viewer and puts the ownership condition into the SQL.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

mod bulk;

pub use bulk::write_tasks;

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
    db_run!(conn, |c| {
        tasks::table
            .filter(tasks::owner_id.eq(viewer.user_id))
            .filter(tasks::client_mutation_id.eq(client_mutation_id))
            .select(TaskRow::as_select())
            .first(c)
            .await
            .optional()
    })
    .map_err(AppError::from)
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
    crate::insert_row!(conn, tasks, row, TaskRow, field)
}

/// Writes `row` over the stored task if that is still at `base_version`;
/// `None` when it is not (or is not the viewer's).
pub async fn write_task(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &TaskRow,
    base_version: i32,
) -> AppResult<Option<TaskRow>> {
    crate::update_versioned_row!(conn, tasks, row, TaskRow, viewer.user_id, base_version)
}
