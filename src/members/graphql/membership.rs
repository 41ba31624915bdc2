//! `updateMemberRole`, `removeMember`, `leaveProject` and
//! `transferOwnership`. Each runs in one transaction that first takes the
//! project's row (membership writes of a project run one at a time), checks
//! the viewer's role through `crate::access`, writes, and stages its
//! membership events (`ROLE_CHANGED`, `MEMBER_REMOVED`) there. Membership
//! takes no `seq`; a transfer, which rewrites the project row, does (and is
//! announced as `UPDATED` too), and so does a removal or a leave that
//! clears the member's assignments: each such task is written by the
//! remover (or the leaver) and announced as `UPDATED`.

use async_graphql::{Context, ID, Object};
use scoped_futures::ScopedFutureExt as _;

use super::{ProjectMember, take};
use crate::access::{Need, ProjectRole};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::events::Outbox;
use crate::events::changes::{
    Change, ChangeType, MemberChange, stage_change, stage_changes, task_changes,
};
use crate::graphql::{ContextExt, write_and_announce};
use crate::members::model::MemberRow;
use crate::members::store;
use crate::projects::graphql::Project;
use crate::projects::model::ProjectRow;
use crate::projects::store as project_store;
use crate::projects::writes::{self, Reach};
use crate::tasks::writes as task_writes;

/// The project and user ids of a membership mutation: an id that is no
/// UUID names nothing the viewer sees.
fn ids(project: &ID, user: &ID) -> AppResult<(Id, Id)> {
    let project = Id::parse(project).ok_or_else(writes::not_found)?;
    let user = Id::parse(user).ok_or_else(store::not_a_member)?;
    Ok((project, user))
}

/// The member `user` of `project`, other than its owner (`what` says
/// which mutation refuses the owner, and why).
async fn non_owner(conn: &mut Conn<'_>, project: Id, user: Id, what: &str) -> AppResult<MemberRow> {
    let member = store::find(conn, project, user)
        .await?
        .ok_or_else(store::not_a_member)?;
    if member.role == ProjectRole::Owner {
        return Err(AppError::bad_input("userId", what));
    }
    Ok(member)
}

/// The event of a membership change of `member` in `row`.
fn announce(change_type: ChangeType, row: &ProjectRow, member: &MemberRow) -> Change {
    Change::membership(
        change_type,
        row,
        MemberChange {
            user_id: member.user_id,
            role: member.role,
            since: member.created_at,
        },
    )
}

/// Removes `member`, as `viewer` whose role allows `need`: clears its
/// assignments in the project first (tasks of at most `quota`, the task
/// quota), then stages its MEMBER_REMOVED and then each cleared task's
/// UPDATED, so that delivery, in that order, no longer reaches the member.
async fn remove(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    need: Need,
    quota: u64,
    row: &ProjectRow,
    member: &MemberRow,
) -> AppResult<Outbox> {
    let cleared = task_writes::unassign(conn, viewer, need, row.id, member.user_id, quota).await?;
    store::delete(conn, row.id, member.user_id).await?;
    let mut outbox = Outbox::default();
    stage_change(
        conn,
        &mut outbox,
        announce(ChangeType::MemberRemoved, row, member),
    )
    .await?;
    let updated = task_changes(ChangeType::Updated, &[], &cleared);
    stage_changes(conn, &mut outbox, &updated).await?;
    Ok(outbox)
}

#[derive(Default)]
pub struct MembershipMutation;

#[Object]
impl MembershipMutation {
    /// Sets a member's role to EDITOR or VIEWER (OWNER only). The owner's
    /// own role, and making an owner, go through `transferOwnership`.
    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: ID,
        role: ProjectRole,
    ) -> AppResult<ProjectMember> {
        let viewer = ctx.viewer()?.clone();
        let (project, user) = ids(&project_id, &user_id)?;
        if role == ProjectRole::Owner {
            return Err(AppError::bad_input(
                "role",
                "can not be OWNER: use transferOwnership",
            ));
        }
        write_and_announce(ctx, |mut conn| {
            async move {
                let row = take(&mut conn, &viewer, project, Reach::Live, Need::Manage).await?;
                let member = non_owner(
                    &mut conn,
                    project,
                    user,
                    "is the owner, whose role changes only by transferOwnership",
                )
                .await?;
                let mut outbox = Outbox::default();
                let member = if member.role == role {
                    member
                } else {
                    let written = store::set_role(&mut conn, project, user, role).await?;
                    let event = announce(ChangeType::RoleChanged, &row, &written);
                    stage_change(&mut conn, &mut outbox, event).await?;
                    written
                };
                let shown = store::named(&mut conn, &[user])
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(store::not_a_member)?;
                Ok((ProjectMember::listed(member, shown), outbox))
            }
            .scope_boxed()
        })
        .await
    }

    /// Removes a member other than the owner (OWNER only).
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: ID,
    ) -> AppResult<bool> {
        let viewer = ctx.viewer()?.clone();
        let (project, user) = ids(&project_id, &user_id)?;
        let quota = ctx.services().config.quotas.tasks;
        write_and_announce(ctx, |mut conn| {
            async move {
                let row = take(&mut conn, &viewer, project, Reach::Live, Need::Manage).await?;
                let member = non_owner(
                    &mut conn,
                    project,
                    user,
                    "is the owner, who can not be removed (transferOwnership first)",
                )
                .await?;
                let outbox = remove(&mut conn, &viewer, Need::Manage, quota, &row, &member).await?;
                Ok((true, outbox))
            }
            .scope_boxed()
        })
        .await
    }

    /// Leaves a project the viewer is a member of, but not the owner (who
    /// transfers ownership first).
    async fn leave_project(&self, ctx: &Context<'_>, project_id: ID) -> AppResult<bool> {
        let viewer = ctx.viewer()?.clone();
        let project = Id::parse(&project_id).ok_or_else(writes::not_found)?;
        let quota = ctx.services().config.quotas.tasks;
        write_and_announce(ctx, |mut conn| {
            async move {
                let row = take(&mut conn, &viewer, project, Reach::Any, Need::Read).await?;
                let member = store::find(&mut conn, project, viewer.user_id)
                    .await?
                    .ok_or_else(writes::not_found)?;
                if member.role == ProjectRole::Owner {
                    return Err(AppError::bad_input(
                        "projectId",
                        "is yours: the owner can not leave its project; \
                         transfer it first (transferOwnership)",
                    ));
                }
                // Any member may leave, a VIEWER too: it clears its own
                // assignments with the access it has.
                let outbox = remove(&mut conn, &viewer, Need::Read, quota, &row, &member).await?;
                Ok((true, outbox))
            }
            .scope_boxed()
        })
        .await
    }

    /// Makes another member the owner (OWNER only); the viewer becomes an
    /// EDITOR. The project and its tasks change owner; the project takes a
    /// new version and `seq`, announced as UPDATED, and both role changes
    /// as ROLE_CHANGED.
    async fn transfer_ownership(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: ID,
    ) -> AppResult<Project> {
        let viewer = ctx.viewer()?.clone();
        let (project, user) = ids(&project_id, &user_id)?;
        let row = write_and_announce(ctx, |mut conn| {
            async move {
                take(&mut conn, &viewer, project, Reach::Live, Need::Manage).await?;
                if user == viewer.user_id {
                    return Err(AppError::bad_input("userId", "is already the owner"));
                }
                store::find(&mut conn, project, user)
                    .await?
                    .ok_or_else(store::not_a_member)?;
                // A new version and seq: the row's owner changes.
                writes::modify(
                    &mut conn,
                    &viewer,
                    project,
                    None,
                    (Reach::Live, Need::Manage),
                    |_, _| Ok(true),
                )
                .await?;
                // One owner at a time (a unique index): demote, then promote.
                let old = store::set_role(&mut conn, project, viewer.user_id, ProjectRole::Editor)
                    .await?;
                let new = store::set_role(&mut conn, project, user, ProjectRole::Owner).await?;
                store::set_owner(&mut conn, project, user).await?;
                let row = project_store::find_project(&mut conn, &viewer, project)
                    .await?
                    .ok_or_else(writes::not_found)?;
                let mut outbox = Outbox::default();
                for change in [
                    Change::project(ChangeType::Updated, &row),
                    announce(ChangeType::RoleChanged, &row, &old),
                    announce(ChangeType::RoleChanged, &row, &new),
                ] {
                    stage_change(&mut conn, &mut outbox, change).await?;
                }
                Ok((row, outbox))
            }
            .scope_boxed()
        })
        .await?;
        Ok(Project::new(row))
    }
}
