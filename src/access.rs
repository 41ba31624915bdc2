//! The guard: which projects, and so which tasks, a viewer may see and
//! which it may write. The rule is membership: a viewer sees the projects
//! it has a `project_members` row for (the owner has one too) and writes
//! those where its role is OWNER or EDITOR. Every store function takes its
//! access condition from here — [`visible_projects`] and
//! [`writable_projects`] in Diesel queries, [`push_guard`] in hand-built
//! SQL — so the next change to access is one change.
//!
//! A project the viewer may not see answers exactly as a missing one
//! (NOT_FOUND, or null); one it sees but may not write answers FORBIDDEN
//! ([`require`]).

use async_graphql::Enum;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{invitations, project_members, users};
use crate::db::sql::{Bind, SqlBuilder, SqlColumn};
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::{AppError, AppResult};

/// A member's role in a project: one flat role per (project, user).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectRole {
    /// Exactly one per project: manages members, deletes, transfers.
    Owner,
    /// Reads and writes the tasks and the project's fields.
    Editor,
    /// Reads and subscribes.
    Viewer,
}

crate::stored_names!(ProjectRole, "project role", {
    Owner => "owner",
    Editor => "editor",
    Viewer => "viewer",
});

impl ProjectRole {
    /// May write the project's fields and its tasks.
    pub fn can_write(self) -> bool {
        self != Self::Viewer
    }

    /// What a role must allow for `need`.
    pub fn allows(self, need: Need) -> bool {
        match need {
            Need::Read => true,
            Need::Write => self.can_write(),
            Need::Manage => self == Self::Owner,
        }
    }
}

/// What an action needs of the viewer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// See it (every member).
    Read,
    /// Change its fields or tasks (OWNER, EDITOR).
    Write,
    /// Delete, restore, share, transfer (OWNER).
    Manage,
}

impl Need {
    /// The roles that allow it.
    pub fn roles(self) -> Vec<ProjectRole> {
        [ProjectRole::Owner, ProjectRole::Editor, ProjectRole::Viewer]
            .into_iter()
            .filter(|role| role.allows(self))
            .collect()
    }
}

/// The projects `user` may see: every project it is a member of.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn visible_projects(user: Id) -> _ {
    project_members::table
        .filter(project_members::user_id.eq(user))
        .select(project_members::project_id)
}

/// An invitation still standing at `now`: not accepted, declined or
/// revoked, and not expired. Its invitee may see the inviter (and accept).
#[diesel::dsl::auto_type(no_type_alias)]
pub fn pending_invitation(now: Timestamp) -> _ {
    invitations::accepted_at
        .is_null()
        .and(invitations::declined_at.is_null())
        .and(invitations::revoked_at.is_null())
        .and(invitations::expires_at.gt(now))
}

/// The projects `user` may write: those where it is OWNER or EDITOR.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn writable_projects(user: Id) -> _ {
    let read_only: ProjectRole = ProjectRole::Viewer;
    project_members::table
        .filter(project_members::user_id.eq(user))
        .filter(project_members::role.ne(read_only))
        .select(project_members::project_id)
}

/// The projects where `user`'s role allows `need` (for a write whose
/// need the caller chooses; [`visible_projects`] and [`writable_projects`]
/// are the usual ones).
#[diesel::dsl::auto_type(no_type_alias)]
pub fn projects_for(user: Id, need: Need) -> _ {
    let roles: Vec<ProjectRole> = need.roles();
    project_members::table
        .filter(project_members::user_id.eq(user))
        .filter(project_members::role.eq_any(roles))
        .select(project_members::project_id)
}

/// The projects `user` manages: those where it is the OWNER.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn managed_projects(user: Id) -> _ {
    let owner: ProjectRole = ProjectRole::Owner;
    project_members::table
        .filter(project_members::user_id.eq(user))
        .filter(project_members::role.eq(owner))
        .select(project_members::project_id)
}

/// The start of the membership subquery in hand-built SQL; the user
/// follows, then [`role_condition`].
const MEMBER_PROJECTS: &str = " IN (SELECT m.project_id FROM project_members m WHERE m.user_id = ";

/// What the role of the member row `m` must be for `need`.
fn role_filter(need: Need) -> &'static str {
    match need {
        Need::Read => "",
        Need::Write => " AND m.role <> 'viewer'",
        Need::Manage => " AND m.role = 'owner'",
    }
}

/// [`role_filter`], closing the subquery.
fn role_condition(need: Need) -> &'static str {
    match need {
        Need::Read => ")",
        Need::Write => " AND m.role <> 'viewer')",
        Need::Manage => " AND m.role = 'owner')",
    }
}

/// Pushes `<project_column> IN (…)`: the rows whose project the viewer may
/// see, write or manage, as `need` says.
pub fn push_guard(b: &mut SqlBuilder, project_column: SqlColumn, viewer: &Viewer, need: Need) {
    b.column(project_column)
        .push(MEMBER_PROJECTS)
        .bind(Bind::Id(viewer.user_id))
        .push(role_condition(need));
}

/// [`push_guard`] as a join: pushes ` JOIN project_members m ON …`, the
/// viewer's member rows of the projects `project_column` names, for a
/// statement that lists projects. The rows are then walked in the index of
/// the viewer's memberships, with no list of ids built first (on SQLite, a
/// member of many projects would otherwise pay for that list).
pub fn push_member_join(
    b: &mut SqlBuilder,
    project_column: SqlColumn,
    viewer: &Viewer,
    need: Need,
) {
    b.push(" JOIN project_members m ON m.project_id = ")
        .column(project_column)
        .push(" AND m.user_id = ")
        .bind(Bind::Id(viewer.user_id))
        .push(role_filter(need));
}

/// One project of a hand-built statement: an expression of it (e.g.
/// `parent.id` in a lateral join) or a bound id.
#[derive(Debug, Clone, Copy)]
pub enum ProjectRef {
    Expr(&'static str),
    Id(Id),
}

/// Pushes `EXISTS (…)`: the viewer may see (write, manage, as `need` says)
/// the one project `project`. For a statement that reads one project's
/// rows, this tests the membership once instead of the project of every
/// row (which, on SQLite, would build the viewer's whole list of projects
/// for each part of a per-project statement).
pub fn push_project_guard(b: &mut SqlBuilder, project: ProjectRef, viewer: &Viewer, need: Need) {
    b.push("EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = ");
    match project {
        ProjectRef::Expr(expr) => b.push(expr),
        ProjectRef::Id(id) => b.bind(Bind::Id(id)),
    };
    b.push(" AND m.user_id = ")
        .bind(Bind::Id(viewer.user_id))
        .push(role_condition(need));
}

/// The same condition as [`push_guard`] as text, the user given as the
/// placeholder `user_param` (for a statement built once, e.g. `$1`).
pub fn guard_sql(project_column: &str, user_param: &str, need: Need) -> String {
    format!(
        "{project_column}{MEMBER_PROJECTS}{user_param}{}",
        role_condition(need)
    )
}

/// The viewer's role in `project`; `None` when it is not a member.
pub async fn role(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    project: Id,
) -> AppResult<Option<ProjectRole>> {
    Ok(roles(conn, viewer, &[project])
        .await?
        .into_iter()
        .next()
        .map(|(_, role)| role))
}

/// The viewer's role in each of `projects` it is a member of.
pub async fn roles(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
) -> AppResult<Vec<(Id, ProjectRole)>> {
    let found = db_run!(conn, |c| {
        project_members::table
            .filter(project_members::user_id.eq(viewer.user_id))
            .filter(project_members::project_id.eq_any(projects))
            .select((project_members::project_id, project_members::role))
            .load::<(Id, ProjectRole)>(c)
            .await
    })?;
    Ok(found)
}

/// Checks that `role` (the viewer's, `None`: not a member) allows `need`:
/// not a member is `missing()` (as if there were no such object), a member
/// whose role falls short is FORBIDDEN.
pub fn check(
    role: Option<ProjectRole>,
    need: Need,
    missing: impl FnOnce() -> AppError,
) -> AppResult<ProjectRole> {
    match role {
        None => Err(missing()),
        Some(role) if role.allows(need) => Ok(role),
        Some(role) => Err(AppError::Forbidden(format!(
            "A project {} may not {}",
            role.name(),
            match need {
                Need::Read => "read it",
                Need::Write => "change it or its tasks",
                Need::Manage => "delete, share or transfer it",
            }
        ))),
    }
}

/// The viewer's role in `project`, checked against `need` as [`check`] does.
pub async fn require(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    project: Id,
    need: Need,
    missing: impl FnOnce() -> AppError,
) -> AppResult<ProjectRole> {
    check(role(conn, viewer, project).await?, need, missing)
}

/// The pairs `(project, user)` among `projects` × `users` where the user
/// is a member of the project (any role): who may be a task's assignee.
/// The caller has checked the viewer's own access to the projects.
pub async fn memberships(
    conn: &mut Conn<'_>,
    projects: &[Id],
    users: &[Id],
) -> AppResult<Vec<(Id, Id)>> {
    if projects.is_empty() || users.is_empty() {
        return Ok(Vec::new());
    }
    let found = db_run!(conn, |c| {
        project_members::table
            .filter(project_members::project_id.eq_any(projects))
            .filter(project_members::user_id.eq_any(users))
            .select((project_members::project_id, project_members::user_id))
            .load::<(Id, Id)>(c)
            .await
    })?;
    Ok(found)
}

/// The users among `users` who are members of `project` (any role).
pub async fn members_among(conn: &mut Conn<'_>, project: Id, users: &[Id]) -> AppResult<Vec<Id>> {
    Ok(memberships(conn, &[project], users)
        .await?
        .into_iter()
        .map(|(_, user)| user)
        .collect())
}

/// The address `user` has proven (its verified email, lower-cased as
/// stored); `None` while unverified. Invitations reach a user through it.
pub async fn verified_email(conn: &mut Conn<'_>, user: Id) -> AppResult<Option<String>> {
    let found: Option<String> = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq(user))
            .filter(users::email_verified_at.is_not_null())
            .select(users::email)
            .first(c)
            .await
            .optional()
    })?;
    Ok(found.map(|email| email.to_lowercase()))
}

/// The users among `ids` the viewer may see (id, display name, email):
/// itself, a fellow member (a user it shares a project with, whatever
/// either's role), and whoever invited it by a pending invitation to its
/// verified address. Anyone else answers as if there were no such user.
pub async fn visible_users(conn: &mut Conn<'_>, viewer: &Viewer, ids: &[Id]) -> AppResult<Vec<Id>> {
    let me = viewer.user_id;
    let fellow = diesel::alias!(project_members as fellow);
    let mut found: Vec<Id> = db_run!(conn, |c| {
        fellow
            .filter(fellow.field(project_members::user_id).eq_any(ids))
            .filter(
                fellow
                    .field(project_members::project_id)
                    .eq_any(visible_projects(me)),
            )
            .select(fellow.field(project_members::user_id))
            .distinct()
            .load::<Id>(c)
            .await
    })?;
    if ids.contains(&me) {
        found.push(me);
    }
    let unexplained = ids.iter().any(|id| !found.contains(id));
    if unexplained && let Some(email) = verified_email(conn, me).await? {
        let now = Timestamp::now();
        let inviters: Vec<Id> = db_run!(conn, |c| {
            invitations::table
                .filter(invitations::invited_by.eq_any(ids))
                .filter(invitations::email.eq(&email))
                .filter(pending_invitation(now))
                .select(invitations::invited_by)
                .load::<Id>(c)
                .await
        })?;
        found.extend(inviters);
    }
    found.sort_by_key(|id| id.0);
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_the_issue_lists() {
        use Need::*;
        use ProjectRole::*;
        let allowed = |role: ProjectRole| {
            [Read, Write, Manage]
                .into_iter()
                .filter(|need| role.allows(*need))
                .collect::<Vec<_>>()
        };
        assert_eq!(allowed(Owner), vec![Read, Write, Manage]);
        assert_eq!(allowed(Editor), vec![Read, Write]);
        assert_eq!(allowed(Viewer), vec![Read]);
    }

    #[test]
    fn a_stranger_is_missing_and_a_reader_is_forbidden() {
        let missing = || AppError::NotFound("Project not found".into());
        assert!(matches!(
            check(None, Need::Read, missing),
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            check(Some(ProjectRole::Viewer), Need::Write, missing),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            check(Some(ProjectRole::Editor), Need::Manage, missing),
            Err(AppError::Forbidden(_))
        ));
        assert_eq!(
            check(Some(ProjectRole::Editor), Need::Write, missing).ok(),
            Some(ProjectRole::Editor)
        );
    }
}
