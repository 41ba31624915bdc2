//! The GraphQL types of sharing (`ProjectMember`, its connection,
//! `Invitation`) and `myInvitations`. The mutations are in
//! `graphql/invitations.rs` (invite, accept, decline, revoke) and
//! `graphql/membership.rs` (roles, removal, leaving, transfer); the
//! project's `owner`, `viewerRole`, `members` and `invitations` are among
//! its fields (`projects/graphql/fields.rs`).

pub mod invitations;
pub mod membership;

pub use invitations::InvitationsMutation;
pub use membership::MembershipMutation;

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::invitations::{self as invitation_store, Shown};
use super::list::{MemberKey, MemberPageQuery};
use super::model::MemberRow;
use super::store;
use crate::access::{self, Need, ProjectRole};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::events::changes::MemberChange;
use crate::graphql::ContextExt;
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{Cursor, KeyValue, Page, PageInfo, PageRequest};
use crate::projects::model::ProjectRow;
use crate::projects::writes::{self, Reach};
use crate::users::User;

/// Takes `project` for this transaction and checks that the viewer's role
/// there allows `need` (NOT_FOUND for a stranger, FORBIDDEN when it falls
/// short); the project as it is.
pub(crate) async fn take(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    project: Id,
    reach: Reach,
    need: Need,
) -> AppResult<ProjectRow> {
    if !store::lock_project(conn, project).await? {
        return Err(writes::not_found());
    }
    writes::reachable(conn, viewer, project, reach, need, writes::not_found).await
}

/// The one ordering of members: since, then user id.
const MEMBER_ORDER: &str = "SINCE:ASC";

/// A member of a project: the user, its role, and since when.
#[derive(Debug, Clone)]
pub struct ProjectMember {
    user_id: Id,
    role: ProjectRole,
    since: Timestamp,
    /// Loaded with the member (a listing); `None` for a membership event,
    /// whose member is loaded when asked for.
    user: Option<User>,
}

impl ProjectMember {
    /// A member row as listed, with its user.
    pub fn listed(row: MemberRow, user: User) -> Self {
        Self {
            user_id: row.user_id,
            role: row.role,
            since: row.created_at,
            user: Some(user),
        }
    }

    /// The member a membership event names.
    pub fn of_change(member: &MemberChange) -> Self {
        Self {
            user_id: member.user_id,
            role: member.role,
            since: member.since,
            user: None,
        }
    }

    fn cursor(&self) -> String {
        Cursor {
            ordering: MEMBER_ORDER.into(),
            key: KeyValue::Int(self.since.timestamp_micros()),
            id: self.user_id,
        }
        .encode()
    }
}

#[Object]
impl ProjectMember {
    async fn user(&self, ctx: &Context<'_>) -> AppResult<User> {
        if let Some(user) = &self.user {
            return Ok(user.clone());
        }
        loaders(ctx)?
            .members
            .named
            .load_one(self.user_id)
            .await?
            .ok_or_else(store::not_a_member)
    }
    async fn role(&self) -> ProjectRole {
        self.role
    }
    async fn since(&self) -> DateTime<Utc> {
        self.since.get()
    }
}

/// An edge of [`ProjectMemberConnection`].
pub struct ProjectMemberEdge {
    node: ProjectMember,
}

#[Object]
impl ProjectMemberEdge {
    async fn node(&self) -> &ProjectMember {
        &self.node
    }
    async fn cursor(&self) -> String {
        self.node.cursor()
    }
}

/// A page of a project's members, ordered by since, then user id; its
/// project was listed with `siblings`, whose members are counted with it.
pub struct ProjectMemberConnection {
    project: Id,
    siblings: Arc<[Id]>,
    page: Page<ProjectMember>,
}

#[Object]
impl ProjectMemberConnection {
    async fn edges(&self) -> Vec<ProjectMemberEdge> {
        self.page
            .rows
            .iter()
            .map(|node| ProjectMemberEdge { node: node.clone() })
            .collect()
    }
    async fn page_info(&self) -> PageInfo {
        self.page.info(ProjectMember::cursor)
    }
    /// Members of the project, its owner included, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i32> {
        let counts = loaders(ctx)?.member_counts(&self.siblings).await?;
        let n = counts.get(&self.project).copied().unwrap_or(0);
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Where the cursor `after` points.
fn after_key(after: Option<&str>) -> AppResult<Option<MemberKey>> {
    let Some(text) = after else {
        return Ok(None);
    };
    let cursor = Cursor::decode("after", text, MEMBER_ORDER)?;
    let KeyValue::Int(micros) = cursor.key else {
        return Err(AppError::bad_input("after", "is not a valid cursor"));
    };
    let since = DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| AppError::bad_input("after", "is not a valid cursor"))?;
    Ok(Some((Timestamp::from(since), cursor.id)))
}

/// `Project.members(first, after)`: a page of the members of `project`,
/// loaded with the same page of each of its `siblings` (the projects
/// listed with it) in one statement; empty when the viewer is not a
/// member.
pub async fn members_page(
    ctx: &Context<'_>,
    project: Id,
    siblings: &Arc<[Id]>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<ProjectMemberConnection> {
    let request = PageRequest::from_args(first, after, None, None, ctx.page_size())?;
    let query = MemberPageQuery {
        after: after_key(request.after.as_deref())?,
        page: request,
    };
    let pages = loaders(ctx)?
        .project_members(siblings, query.clone())
        .await?;
    let page = match pages.get(&project) {
        Some(page) => page.clone(),
        None => Page::from_scan(Vec::new(), &query.page),
    };
    Ok(ProjectMemberConnection {
        project,
        siblings: siblings.clone(),
        page: page.map(|(row, user)| ProjectMember::listed(row, user)),
    })
}

/// An invitation to a project. Its invitee sees the project's id and name
/// only, until it accepts.
#[derive(Debug, Clone)]
pub struct Invitation(pub Shown);

#[Object]
impl Invitation {
    async fn id(&self) -> ID {
        ID(self.0.0.id.to_string())
    }
    async fn project_id(&self) -> ID {
        ID(self.0.0.project_id.to_string())
    }
    async fn project_name(&self) -> &str {
        &self.0.1
    }
    async fn email(&self) -> &str {
        &self.0.0.email
    }
    async fn role(&self) -> ProjectRole {
        self.0.0.role
    }
    async fn invited_by(&self) -> &User {
        &self.0.2
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.0.expires_at.get()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.0.created_at.get()
    }
}

/// `Project.invitations`: the pending invitations of `project` when the
/// viewer owns it, else none (loaded for every project shown at once).
pub async fn project_invitations(ctx: &Context<'_>, project: Id) -> AppResult<Vec<Invitation>> {
    let found = loaders(ctx)?.members.invitations.load_one(project).await?;
    Ok(found
        .unwrap_or_default()
        .into_iter()
        .map(Invitation)
        .collect())
}

#[derive(Default)]
pub struct MembersQuery;

#[Object]
impl MembersQuery {
    /// Pending invitations to the viewer's verified email address (none
    /// while it is unverified: accept by the mailed link then).
    async fn my_invitations(&self, ctx: &Context<'_>) -> AppResult<Vec<Invitation>> {
        let viewer = ctx.viewer()?;
        let mut pooled = ctx.services().db.read().await?;
        let mut conn = pooled.conn();
        let Some(email) = access::verified_email(&mut conn, viewer.user_id).await? else {
            return Ok(Vec::new());
        };
        let found = invitation_store::pending_to(&mut conn, &email).await?;
        Ok(found.into_iter().map(Invitation).collect())
    }
}
