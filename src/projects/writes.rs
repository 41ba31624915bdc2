//! Project writes, each run inside the caller's transaction: check the
//! viewer's role, take a `seq` in the project's change stream, then check
//! the version and write with a conditional UPDATE, so a stale write can
//! never land.

use super::model::ProjectRow;
use super::store;
use crate::access::{self, Need};
use crate::auth::Viewer;
use crate::config::Quotas;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::quotas::{self, Usage};
use crate::sync::counter::Streams;

/// A validated `CreateProjectInput`.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub id: Option<Id>,
    pub name: String,
    pub description: Option<String>,
    pub client_mutation_id: Option<String>,
}

/// Creates the project; a retry (same id or client mutation id) returns the
/// project the first attempt made. A new one counts against
/// `TASKLANE_QUOTA_PROJECTS`.
pub async fn create(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    quotas: &Quotas,
    new: NewProject,
) -> AppResult<ProjectRow> {
    if let Some(id) = new.id
        && let Some(existing) = store::find_project_any(conn, viewer, id).await?
    {
        return Ok(existing);
    }
    if let Some(cmid) = &new.client_mutation_id
        && let Some(existing) = store::find_by_client_mutation_id(conn, viewer, cmid).await?
    {
        return Ok(existing);
    }
    let now = Timestamp::now();
    // Not `unwrap_or_default`: the default id is the nil UUID.
    let id = match new.id {
        Some(id) => id,
        None => Id::new(),
    };
    let mut row = ProjectRow::new(viewer.user_id, id, new.name, new.description, now);
    row.client_mutation_id = new.client_mutation_id;
    quotas::charge(conn, viewer, quotas, Usage::projects(1)).await?;
    store::insert_project(conn, viewer, &row, "input.id").await
}

/// CONFLICT carrying the server's copy.
pub fn conflict(current: &ProjectRow, expected: i32) -> AppError {
    AppError::Conflict {
        message: format!(
            "The project is at version {}, not {expected}",
            current.version
        ),
        current: Some(current.api_json()),
    }
}

/// Which projects a change may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Live projects only (a deleted one is NOT_FOUND).
    Live,
    /// Deleted ones too (restore).
    Any,
}

/// A project the viewer may see whose role allows `need`: NOT_FOUND when
/// it sees none (or, for `Reach::Live`, a deleted one), FORBIDDEN when its
/// role falls short.
pub async fn reachable(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    reach: Reach,
    need: Need,
    missing: impl Fn() -> AppError,
) -> AppResult<ProjectRow> {
    let found = store::find_project_any(conn, viewer, id)
        .await?
        .filter(|p| reach == Reach::Any || p.deleted_at.is_none())
        .ok_or_else(&missing)?;
    access::require(conn, viewer, id, need, missing).await?;
    Ok(found)
}

/// Changes project `id` with `change`, which says whether it changed
/// anything; a real change bumps `version` and takes a new `seq`. The
/// viewer's role must allow `need`.
pub async fn modify(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    expected_version: Option<i32>,
    (reach, need): (Reach, Need),
    change: impl FnOnce(&mut ProjectRow, Timestamp) -> AppResult<bool> + Send,
) -> AppResult<ProjectRow> {
    reachable(conn, viewer, id, reach, need, not_found).await?;
    let seq = Streams::reserve_one(conn, id, 1)
        .await?
        .next(conn, id)
        .await?;
    // Read again now that the project's stream is held.
    let current = store::find_project_any(conn, viewer, id)
        .await?
        .filter(|p| reach == Reach::Any || p.deleted_at.is_none())
        .ok_or_else(not_found)?;
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(conflict(&current, expected));
    }
    let now = Timestamp::now();
    let mut next = current.clone();
    if !change(&mut next, now)? {
        return Ok(current);
    }
    next.version = current.version + 1;
    next.seq = seq;
    next.updated_at = now;
    match store::write_project(conn, viewer, &next, current.version).await? {
        Some(written) => Ok(written),
        None => Err(conflict(&current, current.version)),
    }
}

pub fn not_found() -> AppError {
    AppError::NotFound("Project not found".into())
}
