//! All SQL for members but their listings (`list.rs`). Reads check the
//! viewer through `crate::access` first; writes run in the caller's
//! transaction after it took the project ([`lock_project`]) and checked the
//! viewer's role through `crate::access`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::MemberRow;
use crate::access::{ProjectRole, visible_projects};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{project_members, projects, tasks, users};
use crate::db::types::Id;
use crate::db_run;
use crate::error::{AppError, AppResult};
use crate::users::User;

/// The owner of each of `projects` the viewer sees.
pub async fn owners(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
) -> AppResult<Vec<(Id, User)>> {
    let found = db_run!(conn, |c| {
        projects::table
            .inner_join(users::table.on(users::id.eq(projects::owner_id)))
            .filter(projects::id.eq_any(projects))
            .filter(projects::id.eq_any(visible_projects(viewer.user_id)))
            .select((projects::id, User::as_select()))
            .load::<(Id, User)>(c)
            .await
    })?;
    Ok(found)
}

/// The users `ids`, for a caller that holds the right to show them: a
/// membership event names its member, and it reaches only viewers
/// allowed to see that project's membership when it is delivered (the
/// member may have just left, so `access::visible_users` would no longer
/// show it).
pub async fn named(conn: &mut Conn<'_>, ids: &[Id]) -> AppResult<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq_any(ids))
            .select(User::as_select())
            .load(c)
            .await
    })?;
    Ok(found)
}

/// Takes the project's row until the commit (without changing it), so
/// that membership writes of one project run one at a time; `false` when
/// there is no such project.
pub async fn lock_project(conn: &mut Conn<'_>, project: Id) -> AppResult<bool> {
    let found = db_run!(conn, |c| {
        diesel::update(projects::table.filter(projects::id.eq(project)))
            .set(projects::last_seq.eq(projects::last_seq))
            .execute(c)
            .await
    })?;
    Ok(found == 1)
}

/// The member `user` of `project` (the caller checked the viewer's role).
pub async fn find(conn: &mut Conn<'_>, project: Id, user: Id) -> AppResult<Option<MemberRow>> {
    let found = db_run!(conn, |c| {
        project_members::table
            .filter(project_members::project_id.eq(project))
            .filter(project_members::user_id.eq(user))
            .select(MemberRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// Whether the account with address `email` is a member of `project`.
pub async fn has_member_with_email(
    conn: &mut Conn<'_>,
    project: Id,
    email: &str,
) -> AppResult<bool> {
    let found: i64 = db_run!(conn, |c| {
        project_members::table
            .inner_join(users::table.on(users::id.eq(project_members::user_id)))
            .filter(project_members::project_id.eq(project))
            .filter(users::email.eq(email))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(found > 0)
}

/// How many members `project` has, its owner included.
pub async fn count(conn: &mut Conn<'_>, project: Id) -> AppResult<u64> {
    let n: i64 = db_run!(conn, |c| {
        project_members::table
            .filter(project_members::project_id.eq(project))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Adds `row`.
pub async fn insert(conn: &mut Conn<'_>, row: &MemberRow) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::insert_into(project_members::table)
            .values(row)
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Sets the role of member `user` of `project`; the row as written.
pub async fn set_role(
    conn: &mut Conn<'_>,
    project: Id,
    user: Id,
    role: ProjectRole,
) -> AppResult<MemberRow> {
    let written = db_run!(conn, |c| {
        diesel::update(
            project_members::table
                .filter(project_members::project_id.eq(project))
                .filter(project_members::user_id.eq(user)),
        )
        .set(project_members::role.eq(role))
        .returning(MemberRow::as_returning())
        .get_result(c)
        .await
        .optional()
    })?;
    written.ok_or_else(not_a_member)
}

/// Removes member `user` of `project`.
pub async fn delete(conn: &mut Conn<'_>, project: Id, user: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::delete(
            project_members::table
                .filter(project_members::project_id.eq(project))
                .filter(project_members::user_id.eq(user)),
        )
        .execute(c)
        .await
    })?;
    Ok(())
}

/// Makes `owner` the owner of `project` and of its tasks (`owner_id`; the
/// member rows are the caller's).
pub async fn set_owner(conn: &mut Conn<'_>, project: Id, owner: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(projects::table.filter(projects::id.eq(project)))
            .set(projects::owner_id.eq(owner))
            .execute(c)
            .await
    })?;
    db_run!(conn, |c| {
        diesel::update(tasks::table.filter(tasks::project_id.eq(project)))
            .set(tasks::owner_id.eq(owner))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// NOT_FOUND for a user who is not a member (or not visible).
pub fn not_a_member() -> AppError {
    AppError::NotFound("Member not found".into())
}
