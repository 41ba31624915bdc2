//! The SQL of data exports: what a user's export holds (every query scoped
//! to that user in its WHERE), the parts of an export being made and the
//! finished documents.
//!
//! **Which tasks.** Every task (deleted ones too) of every project the
//! user owns (deleted ones too), and the tasks the user created in projects
//! of others where it is still a member. Tasks of others in projects shared
//! with the user are theirs and stay out; so do tasks the user created in
//! a project it has left, which it can no longer see.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::access::visible_projects;
use crate::auth::Viewer;
use crate::auth::api_keys::ApiKeyRow;
use crate::auth::sessions::SessionRow;
use crate::db::Conn;
use crate::db::schema::{
    api_keys, data_export_parts, data_exports, identities, operation_items, operations,
    project_members, projects, sessions, tasks, users,
};
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::AppResult;
use crate::operations::kinds::OperationStatus;
use crate::operations::model::OperationRow;
use crate::operations::store::{ItemRange, in_range};
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;
use crate::users::model::User;

/// The condition on `tasks` joined with `projects` for the tasks the export
/// of user `$me` holds (see the module).
macro_rules! exported {
    ($me:expr) => {
        projects::owner_id.eq($me).or(tasks::created_by
            .assume_not_null()
            .eq($me)
            .and(tasks::project_id.eq_any(visible_projects($me))))
    };
}

/// The ids of the tasks the viewer's export holds (see the module), in id
/// order (creation order: ids are UUID v7), at most `limit`.
pub async fn task_ids(conn: &mut Conn<'_>, viewer: &Viewer, limit: i64) -> AppResult<Vec<Id>> {
    let me = viewer.user_id;
    let ids = db_run!(conn, |c| {
        tasks::table
            .inner_join(projects::table)
            .filter(exported!(me))
            .order(tasks::id)
            .limit(limit)
            .select(tasks::id)
            .load::<Id>(c)
            .await
    })?;
    Ok(ids)
}

/// The tasks of the export after `after` in id order, at most `limit` (a
/// keyset page, for the operator's whole document).
pub async fn tasks_after(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    after: Option<Id>,
    limit: i64,
) -> AppResult<Vec<TaskRow>> {
    let me = viewer.user_id;
    let rows = db_run!(conn, |c| {
        let mut query = tasks::table
            .inner_join(projects::table)
            .filter(exported!(me))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(tasks::id.gt(after));
        }
        query
            .order(tasks::id)
            .limit(limit)
            .select(TaskRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// The tasks of the items of `range` that the viewer's export still holds
/// (a task moved out of the viewer's projects since the export started is
/// left out). By a join with the items, as the operations' batches read:
/// a list of ids in `= ANY(…)` makes PostgreSQL's generic plan scan the
/// table once per batch.
pub async fn range_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    range: ItemRange,
) -> AppResult<Vec<TaskRow>> {
    let me = viewer.user_id;
    let rows = db_run!(conn, |c| {
        in_range!(range)
            .inner_join(tasks::table.on(tasks::id.eq(operation_items::entity_id)))
            .inner_join(projects::table.on(projects::id.eq(tasks::project_id)))
            .filter(exported!(me))
            .order(tasks::id)
            .select(TaskRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// The viewer's account, active or not (`users::store::find_viewer` reads
/// active ones only; an operator may export a deactivated account).
pub async fn user(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Option<User>> {
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq(viewer.user_id))
            .select(User::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The account of `email` (exactly as stored, which is lower case), for
/// the operator's `tasklane export-user`.
pub async fn user_by_email(conn: &mut Conn<'_>, email: &str) -> AppResult<Option<Id>> {
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first::<Id>(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The projects the viewer owns, deleted ones included, oldest first.
pub async fn owned_projects(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<ProjectRow>> {
    let rows = db_run!(conn, |c| {
        projects::table
            .filter(projects::owner_id.eq(viewer.user_id))
            .order(projects::id)
            .select(ProjectRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// One membership of the viewer: the project's id and name, the role and
/// since when.
pub type Membership = (Id, String, String, Timestamp);

/// Every project the viewer is a member of (its own included), by project.
pub async fn memberships(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<Membership>> {
    let rows = db_run!(conn, |c| {
        project_members::table
            .inner_join(projects::table)
            .filter(project_members::user_id.eq(viewer.user_id))
            .order(project_members::project_id)
            .select((
                project_members::project_id,
                projects::name,
                project_members::role,
                project_members::created_at,
            ))
            .load::<Membership>(c)
            .await
    })?;
    Ok(rows)
}

/// The viewer's sessions, ended ones included, oldest first.
pub async fn sessions(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<SessionRow>> {
    let rows = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::user_id.eq(viewer.user_id))
            .order((sessions::created_at, sessions::id))
            .select(SessionRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// The viewer's API keys, revoked ones included, oldest first.
pub async fn api_keys(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<ApiKeyRow>> {
    let rows = db_run!(conn, |c| {
        api_keys::table
            .filter(api_keys::user_id.eq(viewer.user_id))
            .order((api_keys::created_at, api_keys::id))
            .select(ApiKeyRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// One linked sign-in provider: provider, its email, linked since.
pub type Identity = (String, Option<String>, Timestamp);

/// The sign-in providers linked to the viewer's account.
pub async fn identities(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<Identity>> {
    let rows = db_run!(conn, |c| {
        identities::table
            .filter(identities::user_id.eq(viewer.user_id))
            .order((identities::created_at, identities::id))
            .select((
                identities::provider,
                identities::email,
                identities::created_at,
            ))
            .load::<Identity>(c)
            .await
    })?;
    Ok(rows)
}

/// The viewer's operations, oldest first.
pub async fn operations(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<OperationRow>> {
    let rows = db_run!(conn, |c| {
        operations::table
            .filter(operations::owner_id.eq(viewer.user_id))
            .order((operations::created_at, operations::id))
            .select(OperationRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// Stores part `idx` of the export `operation_id` (the JSON array of one
/// batch's tasks).
pub async fn insert_part(
    conn: &mut Conn<'_>,
    operation_id: Id,
    idx: i32,
    body: &str,
) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::insert_into(data_export_parts::table)
            .values((
                data_export_parts::operation_id.eq(operation_id),
                data_export_parts::idx.eq(idx),
                data_export_parts::body.eq(body),
                data_export_parts::bytes.eq(i64::try_from(body.len()).unwrap_or(i64::MAX)),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// The parts of the export `operation_id`, in order.
pub async fn parts(conn: &mut Conn<'_>, operation_id: Id) -> AppResult<Vec<String>> {
    let rows = db_run!(conn, |c| {
        data_export_parts::table
            .filter(data_export_parts::operation_id.eq(operation_id))
            .order(data_export_parts::idx)
            .select(data_export_parts::body)
            .load::<String>(c)
            .await
    })?;
    Ok(rows)
}

/// The sum of the lengths of the parts of `operation_id`, in bytes.
pub async fn parts_bytes(conn: &mut Conn<'_>, operation_id: Id) -> AppResult<u64> {
    // One row per batch: a few hundred at most.
    let lengths = db_run!(conn, |c| {
        data_export_parts::table
            .filter(data_export_parts::operation_id.eq(operation_id))
            .select(data_export_parts::bytes)
            .load::<i64>(c)
            .await
    })?;
    Ok(lengths
        .into_iter()
        .map(|n| u64::try_from(n).unwrap_or(0))
        .sum())
}

pub async fn delete_parts(conn: &mut Conn<'_>, operation_id: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::delete(
            data_export_parts::table.filter(data_export_parts::operation_id.eq(operation_id)),
        )
        .execute(c)
        .await
    })?;
    Ok(())
}

/// Stores the finished document of the export `operation_id`.
pub async fn insert_document(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    operation_id: Id,
    document: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> AppResult<()> {
    let bytes = i64::try_from(document.len()).unwrap_or(i64::MAX);
    db_run!(conn, |c| {
        diesel::insert_into(data_exports::table)
            .values((
                data_exports::operation_id.eq(operation_id),
                data_exports::owner_id.eq(viewer.user_id),
                data_exports::document.eq(document),
                data_exports::bytes.eq(bytes),
                data_exports::created_at.eq(now),
                data_exports::expires_at.eq(expires_at),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// The viewer's finished export `operation_id`, unless it has expired.
pub async fn document(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    operation_id: Id,
    now: Timestamp,
) -> AppResult<Option<String>> {
    let found = db_run!(conn, |c| {
        data_exports::table
            .filter(data_exports::operation_id.eq(operation_id))
            .filter(data_exports::owner_id.eq(viewer.user_id))
            .filter(data_exports::expires_at.gt(now))
            .select(data_exports::document)
            .first::<String>(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// Deletes every expired document (anyone's: they are due), and the parts
/// the viewer's ended exports left behind (cancelled or failed).
pub async fn prune(conn: &mut Conn<'_>, viewer: &Viewer, now: Timestamp) -> AppResult<()> {
    let active = [OperationStatus::Pending, OperationStatus::Running];
    db_run!(conn, |c| {
        diesel::delete(data_exports::table.filter(data_exports::expires_at.le(now)))
            .execute(c)
            .await?;
        diesel::delete(
            data_export_parts::table.filter(
                data_export_parts::operation_id.eq_any(
                    operations::table
                        .filter(operations::owner_id.eq(viewer.user_id))
                        .filter(operations::status.ne_all(active))
                        .select(operations::id),
                ),
            ),
        )
        .execute(c)
        .await
    })?;
    Ok(())
}
