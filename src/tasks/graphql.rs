//! The `Task` type, task connections and the task queries (mutations are
//! in `graphql/mutations.rs`).

pub mod mutations;

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::kinds::{TaskOrderField, TaskPriority, TaskStatus};
use super::list::{self, TaskFilterSpec, TaskListQuery, TaskOrderSpec};
use super::model::TaskRow;
use super::store;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{OrderDirection, Page, PageInfo, PageRequest};
use crate::projects::graphql::Project;
use crate::validate;

/// A task as GraphQL shows it (shared: a page of tasks is handed to its
/// connection, edges and events without copying rows).
#[derive(Debug, Clone)]
pub struct Task(pub Arc<TaskRow>);

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Self(Arc::new(row))
    }
}

// Fields resolve one after another: they are plain reads of the row, and
// the concurrent path costs more than they do.
#[Object(serial)]
impl Task {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn project(&self, ctx: &Context<'_>) -> AppResult<Project> {
        loaders(ctx)?
            .projects
            .load_one(self.0.project_id)
            .await?
            .map(Project::new)
            .ok_or_else(|| AppError::NotFound("Project not found".into()))
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn status(&self) -> TaskStatus {
        self.0.status
    }
    async fn priority(&self) -> Option<TaskPriority> {
        self.0.priority
    }
    async fn tags(&self) -> Vec<&str> {
        self.0.tags()
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at.map(|t| t.get())
    }
    async fn position(&self) -> Option<f64> {
        self.0.position
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at.map(|t| t.get())
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at.map(|t| t.get())
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.get()
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.get()
    }
}

/// An edge; its cursor is made only when asked for.
pub struct TaskEdge {
    node: Task,
    order: TaskOrderSpec,
}

#[Object(serial)]
impl TaskEdge {
    async fn node(&self) -> &Task {
        &self.node
    }
    async fn cursor(&self) -> String {
        self.order.cursor(&self.node.0)
    }
}

/// Where a connection's `totalCount` comes from.
pub enum TaskTotal {
    /// All the viewer's tasks the filter selects.
    Viewer(TaskFilterSpec),
    /// One project's tasks the filter selects (counted with its siblings).
    Project {
        project: Id,
        siblings: Arc<[Id]>,
        filter: TaskFilterSpec,
    },
    Zero,
}

pub struct TaskConnection {
    page: Page<Task>,
    order: TaskOrderSpec,
    total: TaskTotal,
}

impl TaskConnection {
    pub fn new(page: Page<Task>, order: TaskOrderSpec, total: TaskTotal) -> Self {
        Self { page, order, total }
    }
}

#[Object(serial)]
impl TaskConnection {
    async fn edges(&self) -> Vec<TaskEdge> {
        self.page
            .rows
            .iter()
            .map(|task| TaskEdge {
                node: task.clone(),
                order: self.order,
            })
            .collect()
    }
    async fn page_info(&self) -> PageInfo {
        self.page.info(|task| self.order.cursor(&task.0))
    }
    /// Tasks matching the filter, on every page.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i32> {
        let n = match &self.total {
            TaskTotal::Zero => 0,
            TaskTotal::Viewer(filter) => {
                let viewer = ctx.viewer()?;
                let mut pooled = ctx.services().db.read().await?;
                list::count(&mut pooled.conn(), viewer, filter).await?
            }
            TaskTotal::Project {
                project,
                siblings,
                filter,
            } => {
                let counts = loaders(ctx)?.task_counts(siblings, filter.clone()).await?;
                counts.get(project).copied().unwrap_or(0)
            }
        };
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

#[derive(InputObject, Default)]
pub struct TaskFilter {
    project_id: Option<ID>,
    status: Option<Vec<TaskStatus>>,
    priority: Option<Vec<TaskPriority>>,
    /// Tasks carrying this tag.
    tag: Option<String>,
    /// Case-insensitive, in the title and description.
    search: Option<String>,
    /// Due strictly before this instant.
    due_before: Option<DateTime<Utc>>,
    /// Due at or after this instant.
    due_after: Option<DateTime<Utc>>,
    /// Changed at or after this instant.
    updated_since: Option<DateTime<Utc>>,
    include_deleted: Option<bool>,
}

#[derive(InputObject)]
pub struct TaskOrder {
    field: TaskOrderField,
    direction: Option<OrderDirection>,
}

/// Checks a `TaskFilter` (fields named `filter.*` in errors).
pub fn filter_spec(filter: TaskFilter) -> AppResult<TaskFilterSpec> {
    Ok(TaskFilterSpec {
        project_id: filter
            .project_id
            .map(|id| validate::id("filter.projectId", &id))
            .transpose()?,
        status: filter
            .status
            .map(|list| validate::enum_values("filter.status", list))
            .transpose()?
            .map(|list| list.into_iter().map(TaskStatus::code).collect()),
        priority: filter
            .priority
            .map(|list| validate::enum_values("filter.priority", list))
            .transpose()?
            .map(|list| list.into_iter().map(TaskPriority::code).collect()),
        tag: crate::tasks::validate::tag_filter("filter.tag", filter.tag)?,
        search: validate::search("filter.search", filter.search)?,
        due_before: filter.due_before.map(Into::into),
        due_after: filter.due_after.map(Into::into),
        updated_since: filter.updated_since.map(Into::into),
        include_deleted: filter.include_deleted.unwrap_or(false),
    })
}

/// Checks the arguments of a task connection and makes its listing.
pub fn task_list_query(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    filter: Option<TaskFilter>,
    order_by: Option<TaskOrder>,
) -> AppResult<TaskListQuery> {
    let max = ctx.services().config.limits.page_size;
    let page = PageRequest::from_args(first, after, last, before, max)?;
    let filter = filter_spec(filter.unwrap_or_default())?;
    let order = order_by.map_or_else(TaskOrderSpec::default, |o| TaskOrderSpec {
        field: o.field,
        direction: o.direction.unwrap_or_default(),
    });
    order.check(&page)?;
    Ok(TaskListQuery {
        filter,
        order,
        page,
    })
}

#[derive(Default)]
pub struct TasksQuery;

#[Object]
impl TasksQuery {
    /// Null when missing, deleted (or in a deleted project) or not the viewer's.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Task>> {
        let viewer = ctx.viewer()?;
        let Some(id) = Id::parse(&id) else {
            return Ok(None);
        };
        let mut pooled = ctx.services().db.read().await?;
        Ok(store::find_task(&mut pooled.conn(), viewer, id)
            .await?
            .map(Task::from))
    }

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
        let viewer = ctx.viewer()?;
        let query = task_list_query(ctx, first, after, last, before, filter, order_by)?;
        let page = {
            let mut pooled = ctx.services().db.read().await?;
            list::page(&mut pooled.conn(), viewer, &query).await?
        }
        .map(Task::from);
        Ok(TaskConnection::new(
            page,
            query.order,
            TaskTotal::Viewer(query.filter),
        ))
    }
}
