//! All SQL for single projects. Every function takes the viewer and puts
//! the ownership condition into the SQL.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::ProjectRow;
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::projects;
use crate::db::types::Id;
use crate::db_run;
use crate::error::{AppError, AppResult};

/// The viewer's project, unless deleted.
pub async fn find_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
) -> AppResult<Option<ProjectRow>> {
    Ok(find_project_any(conn, viewer, id)
        .await?
        .filter(|p| p.deleted_at.is_none()))
}

/// The viewer's project, deleted or not.
pub async fn find_project_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
) -> AppResult<Option<ProjectRow>> {
    let found = db_run!(conn, |c| {
        projects::table
            .filter(projects::id.eq(id))
            .filter(projects::owner_id.eq(viewer.user_id))
            .select(ProjectRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The viewer's projects among `ids`, deleted or not.
pub async fn find_projects_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    ids: &[Id],
) -> AppResult<Vec<ProjectRow>> {
    let found = db_run!(conn, |c| {
        projects::table
            .filter(projects::id.eq_any(ids))
            .filter(projects::owner_id.eq(viewer.user_id))
            .select(ProjectRow::as_select())
            .load(c)
            .await
    })?;
    Ok(found)
}

/// The viewer's project created with this client mutation id.
pub async fn find_by_client_mutation_id(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    client_mutation_id: &str,
) -> AppResult<Option<ProjectRow>> {
    db_run!(conn, |c| {
        projects::table
            .filter(projects::owner_id.eq(viewer.user_id))
            .filter(projects::client_mutation_id.eq(client_mutation_id))
            .select(ProjectRow::as_select())
            .first(c)
            .await
            .optional()
    })
    .map_err(AppError::from)
}

/// Stores a new project of the viewer's. An id in use is BAD_USER_INPUT on
/// `field`.
pub async fn insert_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &ProjectRow,
    field: &str,
) -> AppResult<ProjectRow> {
    if row.owner_id != viewer.user_id {
        return Err(AppError::internal("project insert for another owner"));
    }
    crate::insert_row!(conn, projects, row, ProjectRow, field)
}

/// Writes `row` over the stored project if that is still at `base_version`;
/// `None` when it is not (or is not the viewer's).
pub async fn write_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &ProjectRow,
    base_version: i32,
) -> AppResult<Option<ProjectRow>> {
    crate::update_versioned_row!(
        conn,
        projects,
        row,
        ProjectRow,
        viewer.user_id,
        base_version
    )
}
