//! The project's own fields. Its tasks are the other half of the `Project`
//! type, merged in by `tasks::graphql` (which also resolves `Task.project`),
//! so the GraphQL types of tasks and projects depend one way only.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use crate::access::ProjectRole;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::graphql::loaders::loaders;
use crate::members::graphql::{
    Invitation, ProjectMemberConnection, members_page, project_invitations,
};
use crate::projects::model::ProjectRow;
use crate::users::User;

/// A project as GraphQL shows it, with the projects listed beside it (its
/// siblings), for whom its relations are loaded together.
#[derive(Debug, Clone)]
pub struct ProjectFields {
    pub row: ProjectRow,
    pub siblings: Arc<[Id]>,
}

#[Object]
impl ProjectFields {
    pub(crate) async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    async fn archived(&self) -> bool {
        self.row.archived_at.is_some()
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.row.deleted_at.map(|t| t.get())
    }
    async fn version(&self) -> i32 {
        self.row.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.get()
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at.get()
    }

    /// The project's owner (every member sees it).
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<User> {
        loaders(ctx)?
            .members
            .owners
            .load_one(self.row.id)
            .await?
            .ok_or_else(|| AppError::NotFound("Owner not found".into()))
    }

    /// The viewer's role in the project.
    async fn viewer_role(&self, ctx: &Context<'_>) -> AppResult<ProjectRole> {
        loaders(ctx)?
            .members
            .roles
            .load_one(self.row.id)
            .await?
            .ok_or_else(|| AppError::NotFound("Project not found".into()))
    }

    /// The members, the owner included, by since, then user id.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many members.")] first: Option<i32>,
        #[graphql(desc = "The members after this cursor.")] after: Option<String>,
    ) -> AppResult<ProjectMemberConnection> {
        members_page(ctx, self.row.id, &self.siblings, first, after).await
    }

    /// The pending invitations, for the OWNER; empty for anyone else.
    async fn invitations(&self, ctx: &Context<'_>) -> AppResult<Vec<Invitation>> {
        project_invitations(ctx, self.row.id).await
    }
}
