//! All SQL for single projects. Every function takes the viewer and puts
//! its access condition (from `crate::access`) into the SQL.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::ProjectRow;
use crate::access::ProjectRole;
use crate::access::{visible_projects, writable_projects};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{project_members, projects};
use crate::db::types::Id;
use crate::db_run;
use crate::error::{AppError, AppResult};

/// A project the viewer may see, unless deleted.
pub async fn find_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
) -> AppResult<Option<ProjectRow>> {
    Ok(find_project_any(conn, viewer, id)
        .await?
        .filter(|p| p.deleted_at.is_none()))
}

/// A project the viewer may see, deleted or not.
pub async fn find_project_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
) -> AppResult<Option<ProjectRow>> {
    let found = db_run!(conn, |c| {
        projects::table
            .filter(projects::id.eq(id))
            .filter(projects::id.eq_any(visible_projects(viewer.user_id)))
            .select(ProjectRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The projects among `ids` the viewer may see, deleted or not.
pub async fn find_projects_any(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    ids: &[Id],
) -> AppResult<Vec<ProjectRow>> {
    let found = db_run!(conn, |c| {
        projects::table
            .filter(projects::id.eq_any(ids))
            .filter(projects::id.eq_any(visible_projects(viewer.user_id)))
            .select(ProjectRow::as_select())
            .load(c)
            .await
    })?;
    Ok(found)
}

/// The project the viewer created with this client mutation id (and
/// still owns and sees).
pub async fn find_by_client_mutation_id(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    client_mutation_id: &str,
) -> AppResult<Option<ProjectRow>> {
    db_run!(conn, |c| {
        projects::table
            .filter(projects::owner_id.eq(viewer.user_id))
            .filter(projects::id.eq_any(visible_projects(viewer.user_id)))
            .filter(projects::client_mutation_id.eq(client_mutation_id))
            .select(ProjectRow::as_select())
            .first(c)
            .await
            .optional()
    })
    .map_err(AppError::from)
}

/// Stores a new project of the viewer's, with the viewer as its OWNER
/// member. An id in use is BAD_USER_INPUT on `field`.
pub async fn insert_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    row: &ProjectRow,
    field: &str,
) -> AppResult<ProjectRow> {
    if row.owner_id != viewer.user_id {
        return Err(AppError::internal("project insert for another owner"));
    }
    let stored = crate::insert_row!(conn, projects, row, ProjectRow, field)?;
    let member = (
        project_members::project_id.eq(row.id),
        project_members::user_id.eq(viewer.user_id),
        project_members::role.eq(ProjectRole::Owner),
        project_members::created_at.eq(row.created_at),
    );
    db_run!(conn, |c| {
        diesel::insert_into(project_members::table)
            .values(member)
            .execute(c)
            .await
    })?;
    Ok(stored)
}

/// Writes `row` over the stored project if that is still at `base_version`;
/// `None` when it is not (or the viewer may not write it).
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
        projects::id.eq_any(writable_projects(viewer.user_id)),
        base_version
    )
}
