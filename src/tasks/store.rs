//! All SQL for single tasks (listings are in `list.rs`). Every function
//! takes the viewer and puts its access condition (from `crate::access`:
//! the task's project) into the SQL.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

mod bulk;

pub use bulk::{write_tasks, write_tasks_as};

use super::model::TaskRow;
use crate::access::{visible_projects, writable_projects};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{projects, task_departures, tasks};
use crate::db::types::Id;
use crate::db_run;
use crate::error::{AppError, AppResult};

/// A task the viewer may see, unless it or its project is deleted.
pub async fn find_task(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<Option<TaskRow>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .inner_join(projects::table)
            .filter(tasks::id.eq(id))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
            .filter(tasks::deleted_at.is_null())
            .filter(projects::deleted_at.is_null())
            .select(TaskRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The tasks among `ids` the viewer may see, deleted or not.
pub async fn find_tasks_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    ids: &[Id],
) -> AppResult<Vec<TaskRow>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::id.eq_any(ids))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
            .select(TaskRow::as_select())
            .load(c)
            .await
    })?;
    Ok(found)
}

/// A task the viewer may see, deleted or not.
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

/// At most `limit` live tasks of `project` (one the viewer sees) assigned
/// to `assignee`, in id order.
pub async fn assigned_to(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    project: Id,
    assignee: Id,
    limit: i64,
) -> AppResult<Vec<TaskRow>> {
    let found = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::project_id.eq(project))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
            .filter(tasks::assignee_id.eq(assignee))
            .filter(tasks::deleted_at.is_null())
            .select(TaskRow::as_select())
            .order(tasks::id.asc())
            .limit(limit)
            .load(c)
            .await
    })?;
    Ok(found)
}

/// The task the viewer created with this client mutation id, where it
/// still sees it.
pub async fn find_by_client_mutation_id(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    client_mutation_id: &str,
) -> AppResult<Option<TaskRow>> {
    db_run!(conn, |c| {
        tasks::table
            .filter(tasks::created_by.eq(viewer.user_id))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
            .filter(tasks::client_mutation_id.eq(client_mutation_id))
            .select(TaskRow::as_select())
            .first(c)
            .await
            .optional()
    })
    .map_err(AppError::from)
}

/// Stores a new task the viewer made, in a project it may write (the
/// caller checked that). An id in use is BAD_USER_INPUT on `field`.
pub async fn insert_task(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &TaskRow,
    field: &str,
) -> AppResult<TaskRow> {
    if row.created_by != Some(viewer.user_id) {
        return Err(AppError::internal("task insert for another creator"));
    }
    crate::insert_row!(conn, tasks, row, TaskRow, field)
}

/// Writes `row` over the stored task if that is still at `base_version`;
/// `None` when it is not (or the viewer may not write it).
pub async fn write_task(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &TaskRow,
    base_version: i32,
) -> AppResult<Option<TaskRow>> {
    crate::update_versioned_row!(
        conn,
        tasks,
        row,
        TaskRow,
        tasks::project_id.eq_any(writable_projects(viewer.user_id)),
        base_version
    )
}

/// Marks in `project`'s stream (at `seq`) that `task` left it.
pub async fn mark_departure(conn: &mut Conn<'_>, project: Id, task: Id, seq: i64) -> AppResult<()> {
    let mark = (
        task_departures::project_id.eq(project),
        task_departures::task_id.eq(task),
        task_departures::seq.eq(seq),
    );
    db_run!(conn, |c| {
        diesel::insert_into(task_departures::table)
            .values(mark)
            .on_conflict((task_departures::project_id, task_departures::task_id))
            .do_update()
            .set(task_departures::seq.eq(seq))
            .execute(c)
            .await
    })?;
    Ok(())
}
