//! The `Project` type and the project queries (mutations are in
//! `graphql/mutations.rs`).

pub mod mutations;

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::list::{self, ProjectFilterSpec, ProjectListQuery, ProjectOrderField, ProjectOrderSpec};
use super::model::ProjectRow;
use super::store;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{OrderDirection, Page, PageInfo, PageRequest};
use crate::tasks::graphql::{TaskConnection, TaskFilter, TaskOrder, TaskTotal, task_list_query};
use crate::tasks::kinds::TaskStatus;
use crate::tasks::list::TaskFilterSpec;
use crate::users::User;

/// A project as GraphQL shows it, with the projects listed beside it (its
/// siblings), for whom its relations are loaded together.
#[derive(Debug, Clone)]
pub struct Project {
    pub row: ProjectRow,
    siblings: Arc<[Id]>,
}

impl Project {
    /// A project on its own.
    pub fn new(row: ProjectRow) -> Self {
        let siblings = Arc::from([row.id]);
        Self { row, siblings }
    }

    /// A project of a listing of `siblings`.
    pub fn listed(row: ProjectRow, siblings: Arc<[Id]>) -> Self {
        Self { row, siblings }
    }
}

#[Object]
impl Project {
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

    async fn owner(&self, ctx: &Context<'_>) -> AppResult<User> {
        loaders(ctx)?
            .owners
            .load_one(self.row.owner_id)
            .await?
            .ok_or_else(|| AppError::NotFound("Owner not found".into()))
    }

    /// The project's tasks (none while the project is deleted, unless
    /// `filter.includeDeleted`).
    #[expect(clippy::too_many_arguments, reason = "the Relay arguments")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> AppResult<TaskConnection> {
        let query = task_list_query(ctx, first, after, last, before, filter, order_by)?;
        let order = query.order;
        if self.row.deleted_at.is_some() && !query.filter.include_deleted {
            let page = Page::from_scan(Vec::new(), &query.page);
            return Ok(TaskConnection::new(page, order, TaskTotal::Zero));
        }
        let total = TaskTotal::Project {
            project: self.row.id,
            siblings: self.siblings.clone(),
            filter: query.filter.clone(),
        };
        let pages = loaders(ctx)?.project_tasks(&self.siblings, query).await?;
        let page = pages.get(&self.row.id).cloned().unwrap_or(Page {
            rows: Vec::new(),
            has_next: false,
            has_previous: false,
        });
        Ok(TaskConnection::new(page, order, total))
    }

    /// Live tasks of the project, of one status when given.
    async fn task_count(&self, ctx: &Context<'_>, status: Option<TaskStatus>) -> AppResult<i32> {
        if self.row.deleted_at.is_some() {
            return Ok(0);
        }
        let filter = TaskFilterSpec {
            status: status.map(|s| vec![s.code()]),
            ..TaskFilterSpec::default()
        };
        let counts = loaders(ctx)?.task_counts(&self.siblings, filter).await?;
        let n = counts.get(&self.row.id).copied().unwrap_or(0);
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

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
        self.order.cursor(&self.node.row)
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
        let viewer = ctx.viewer()?;
        let Some(id) = Id::parse(&id) else {
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
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProjectFilter>,
        order_by: Option<ProjectOrder>,
    ) -> AppResult<ProjectConnection> {
        let viewer = ctx.viewer()?;
        let services = ctx.services();
        let page =
            PageRequest::from_args(first, after, last, before, services.config.limits.page_size)?;
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
            let mut pooled = services.db.read().await?;
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
