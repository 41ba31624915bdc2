//! All SQL for invitations. An invitation is seen by the project's OWNER
//! and by its invitee (the account whose verified address it was sent
//! to); the mailed token stands for the invitee.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::InvitationRow;
use crate::access::{managed_projects, pending_invitation};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{invitations, projects, users};
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::AppResult;
use crate::users::User;

/// An invitation as shown: with its project's name and its inviter.
pub type Shown = (InvitationRow, String, User);

/// How an invitation left the pending state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Declined,
    Revoked,
}

/// The pending invitations of a live project, with the project's name and
/// the inviter: one query for whichever condition `pick` adds.
macro_rules! shown {
    ($conn:expr, $now:expr, |$q:ident| $pick:expr) => {{
        let now: Timestamp = $now;
        db_run!($conn, |c| {
            let $q = invitations::table
                .inner_join(projects::table.on(projects::id.eq(invitations::project_id)))
                .inner_join(users::table.on(users::id.eq(invitations::invited_by)))
                .filter(projects::deleted_at.is_null())
                .filter(pending_invitation(now));
            $pick
                .order((invitations::created_at.asc(), invitations::id.asc()))
                .select((
                    InvitationRow::as_select(),
                    projects::name,
                    User::as_select(),
                ))
                .load::<Shown>(c)
                .await
        })
    }};
}

/// The pending invitations of `projects` the viewer owns (none of the
/// others), in the order they were made.
pub async fn pending_of_projects(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
) -> AppResult<Vec<Shown>> {
    let found = shown!(conn, Timestamp::now(), |q| q
        .filter(invitations::project_id.eq_any(projects))
        .filter(invitations::project_id.eq_any(managed_projects(viewer.user_id))))?;
    Ok(found)
}

/// The pending invitations to `email` (the viewer's verified address, as
/// the caller found it).
pub async fn pending_to(conn: &mut Conn<'_>, email: &str) -> AppResult<Vec<Shown>> {
    let found = shown!(conn, Timestamp::now(), |q| q
        .filter(invitations::email.eq(email)))?;
    Ok(found)
}

/// The pending invitation `id` to `email`, shown.
pub async fn pending_by_id_to(
    conn: &mut Conn<'_>,
    id: Id,
    email: &str,
) -> AppResult<Option<Shown>> {
    let found = shown!(conn, Timestamp::now(), |q| q
        .filter(invitations::id.eq(id))
        .filter(invitations::email.eq(email)))?;
    Ok(found.into_iter().next())
}

/// The pending invitation whose token hashes to `hash`, shown.
pub async fn pending_by_token(conn: &mut Conn<'_>, hash: &[u8]) -> AppResult<Option<Shown>> {
    let found = shown!(conn, Timestamp::now(), |q| q
        .filter(invitations::token_hash.eq(hash)))?;
    Ok(found.into_iter().next())
}

/// Invitation `id`, in any state, if it is to a project the viewer owns.
pub async fn find_managed(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
) -> AppResult<Option<InvitationRow>> {
    let found = db_run!(conn, |c| {
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::project_id.eq_any(managed_projects(viewer.user_id)))
            .select(InvitationRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The project of invitation `id`, whatever its state (the caller then
/// checks the viewer's role there).
pub async fn project_of(conn: &mut Conn<'_>, id: Id) -> AppResult<Option<Id>> {
    let found = db_run!(conn, |c| {
        invitations::table
            .filter(invitations::id.eq(id))
            .select(invitations::project_id)
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// Pending invitations of `project`.
pub async fn count_pending(conn: &mut Conn<'_>, project: Id, now: Timestamp) -> AppResult<u64> {
    let n: i64 = db_run!(conn, |c| {
        invitations::table
            .filter(invitations::project_id.eq(project))
            .filter(pending_invitation(now))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Revokes the pending invitations of `project` to `email` (a new one
/// replaces them); how many there were.
pub async fn revoke_pending_to(
    conn: &mut Conn<'_>,
    project: Id,
    email: &str,
    now: Timestamp,
) -> AppResult<usize> {
    let n = db_run!(conn, |c| {
        diesel::update(
            invitations::table
                .filter(invitations::project_id.eq(project))
                .filter(invitations::email.eq(email))
                .filter(pending_invitation(now)),
        )
        .set(invitations::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok(n)
}

pub async fn insert(conn: &mut Conn<'_>, row: &InvitationRow) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::insert_into(invitations::table)
            .values(row)
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Ends invitation `id` as `outcome` if it is still pending; `false` when
/// it is not (of two concurrent uses, one wins).
pub async fn finish(
    conn: &mut Conn<'_>,
    id: Id,
    outcome: Outcome,
    now: Timestamp,
) -> AppResult<bool> {
    let pending = invitations::table
        .filter(invitations::id.eq(id))
        .filter(pending_invitation(now));
    let n = db_run!(conn, |c| {
        match outcome {
            Outcome::Accepted => {
                diesel::update(pending)
                    .set(invitations::accepted_at.eq(now))
                    .execute(c)
                    .await
            }
            Outcome::Declined => {
                diesel::update(pending)
                    .set(invitations::declined_at.eq(now))
                    .execute(c)
                    .await
            }
            Outcome::Revoked => {
                diesel::update(pending)
                    .set(invitations::revoked_at.eq(now))
                    .execute(c)
                    .await
            }
        }
    })?;
    Ok(n == 1)
}
