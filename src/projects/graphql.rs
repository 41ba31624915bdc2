//! The `Project` type and the project queries (mutations are in
//! `graphql/mutations.rs`).

pub mod fields;
pub mod mutations;

pub use crate::tasks::graphql::Project;

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};

use super::list::{self, ProjectFilterSpec, ProjectListQuery, ProjectOrderField, ProjectOrderSpec};
use super::model::ProjectRow;
use super::store;
use crate::db::types::Id;
use crate::error::AppResult;
use crate::graphql::ContextExt;
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{OrderDirection, Page, PageInfo, PageRequest};

/// An edge; its cursor is made only when asked for.
pub struct ProjectEdge {
    node: Project,
    order: ProjectOrderSpec,
}

#[Object(serial)]
impl ProjectEdge {
    async fn node(&self) -> &Project {
        &self.node
    }
    async fn cursor(&self) -> String {
        self.order.cursor(self.node.row())
    }
}

pub struct ProjectConnection {
    page: Page<ProjectRow>,
    order: ProjectOrderSpec,
    filter: ProjectFilterSpec,
}

#[Object(serial)]
impl ProjectConnection {
    async fn edges(&self) -> Vec<ProjectEdge> {
        let siblings: Arc<[Id]> = self.page.rows.iter().map(|row| row.id).collect();
        self.page
            .rows
            .iter()
            .map(|row| ProjectEdge {
                node: Project::listed(row.clone(), siblings.clone()),
                order: self.order,
            })
            .collect()
    }
    async fn page_info(&self) -> PageInfo {
        self.page.info(|row| self.order.cursor(row))
    }
    /// Projects matching the filter, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i32> {
        let viewer = ctx.viewer()?;
        let mut pooled = ctx.services().db.read().await?;
        let n = list::count(&mut pooled.conn(), viewer, &self.filter).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

#[derive(InputObject, Default)]
pub struct ProjectFilter {
    /// Case-insensitive, in the name and description.
    search: Option<String>,
    /// Only archived (true) or only active (false) projects; both when omitted.
    archived: Option<bool>,
    include_deleted: Option<bool>,
}

#[derive(InputObject)]
pub struct ProjectOrder {
    field: ProjectOrderField,
    direction: Option<OrderDirection>,
}

#[derive(Default)]
pub struct ProjectsQuery;

#[Object]
impl ProjectsQuery {
    /// Null when missing, deleted or not the viewer's.
    async fn project(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Project>> {
        let Some((viewer, id)) = ctx.viewer_and_id(&id)? else {
            return Ok(None);
        };
        let mut pooled = ctx.services().db.read().await?;
        let found = store::find_project(&mut pooled.conn(), viewer, id).await?;
        Ok(found.map(Project::new))
    }

    #[expect(clippy::too_many_arguments, reason = "the Relay arguments")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many projects.")] first: Option<i32>,
        #[graphql(desc = "Forward: the projects after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many projects.")] last: Option<i32>,
        #[graphql(desc = "Backward: the projects before this cursor.")] before: Option<String>,
        filter: Option<ProjectFilter>,
        order_by: Option<ProjectOrder>,
    ) -> AppResult<ProjectConnection> {
        let viewer = ctx.viewer()?;
        let page = PageRequest::from_args(first, after, last, before, ctx.page_size())?;
        let filter = filter.unwrap_or_default();
        let filter = ProjectFilterSpec {
            search: crate::validate::search("filter.search", filter.search)?,
            archived: filter.archived,
            include_deleted: filter.include_deleted.unwrap_or(false),
        };
        let order = order_by.map_or_else(ProjectOrderSpec::default, |o| ProjectOrderSpec {
            field: o.field,
            direction: o.direction.unwrap_or_default(),
        });
        let query = ProjectListQuery {
            filter,
            order,
            page,
        };
        let page = {
            let mut pooled = ctx.services().db.read().await?;
            list::page(&mut pooled.conn(), viewer, &query).await?
        };
        if let Ok(loaders) = loaders(ctx) {
            // Task.project below needs no query for these.
            loaders
                .projects
                .feed_many(page.rows.iter().map(|row| (row.id, row.clone())))
                .await;
        }
        Ok(ProjectConnection {
            page,
            order: query.order,
            filter: query.filter,
        })
    }
}
