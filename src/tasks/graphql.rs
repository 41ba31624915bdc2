//! The `Task` type, task connections, the task queries, and the `Project`
//! type, whose tasks join the project's own fields (`fields.rs` of
//! projects): the two types refer to each other, so they are defined
//! together here and both modules depend on this one, never the reverse.
//! Mutations are in `graphql/mutations.rs`, connection arguments in
//! `graphql/filter.rs`.

mod columns;
pub mod filter;
pub mod mutations;

pub use filter::{TaskFilter, TaskOrder, filter_spec, task_list_query};

use std::sync::Arc;

use async_graphql::{Context, ID, MergedObject, Object};
use chrono::{DateTime, Utc};

use super::kinds::{TaskPriority, TaskStatus};
use super::list::{self, ListedTask, TaskFilterSpec, TaskOrderSpec};
use super::model::TaskRow;
use super::{snippet, store};
use crate::db::search::SearchTerms;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::graphql::loaders::loaders;
use crate::graphql::pagination::{Page, PageInfo, PageRequest};
use crate::graphql::plain::{Plain, PlainFields, PlainList, Strings};
use crate::projects::graphql::fields::ProjectFields;
use crate::projects::model::ProjectRow;
use crate::users::User;

/// A task as GraphQL shows it (shared: a page of tasks is handed to its
/// connection, edges and events without copying rows). Listed through a
/// search, it keeps the search's words (for its snippet) and, in an order
/// by relevance, its relevance (for its cursor).
#[derive(Debug, Clone)]
pub struct Task {
    pub row: Arc<TaskRow>,
    relevance: Option<f64>,
    search: Option<Arc<SearchTerms>>,
}

impl From<Arc<TaskRow>> for Task {
    fn from(row: Arc<TaskRow>) -> Self {
        Self {
            row,
            relevance: None,
            search: None,
        }
    }
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Self::from(Arc::new(row))
    }
}

impl Task {
    /// A task of a listing whose filter searched for `search`.
    pub fn listed(listed: ListedTask, search: Option<&Arc<SearchTerms>>) -> Self {
        Self {
            row: listed.row,
            relevance: listed.relevance,
            search: search.cloned(),
        }
    }

    fn cursor(&self, order: &TaskOrderSpec) -> String {
        order.cursor(&self.row, self.relevance)
    }
}

// Fields resolve one after another: they are plain reads of the row, and
// the concurrent path costs more than they do.
#[Object(serial)]
impl Task {
    pub(crate) async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn project(&self, ctx: &Context<'_>) -> AppResult<Project> {
        loaders(ctx)?
            .projects
            .load_one(self.row.project_id)
            .await?
            .map(Project::new)
            .ok_or_else(|| AppError::NotFound("Project not found".into()))
    }
    async fn title(&self) -> &str {
        &self.row.title
    }
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    async fn status(&self) -> TaskStatus {
        self.row.status
    }
    async fn priority(&self) -> Option<TaskPriority> {
        self.row.priority
    }
    async fn tags(&self) -> Strings<'_> {
        Strings(self.row.tags())
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.row.due_at.map(|t| t.get())
    }
    async fn position(&self) -> Option<f64> {
        self.row.position
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.row.completed_at.map(|t| t.get())
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
    /// A member of the project; null when none, or when the viewer may not
    /// see that user (no longer a fellow member).
    async fn assignee(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.row.assignee_id).await
    }
    /// Who made it; null when unknown or not visible to the viewer.
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.row.created_by).await
    }
    /// Who changed it last; null when unknown or not visible to the viewer.
    async fn updated_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.row.updated_by).await
    }
    /// Listed through `filter.search`: a short excerpt of the title,
    /// description or tags around the words found, each marked
    /// `<b>…</b>`; the task's own text in it is HTML-escaped (`&lt;` …), so
    /// those marks are the only markup. Null when not listed by a search.
    async fn search_snippet(&self) -> Option<String> {
        let search = self.search.as_deref()?;
        Some(snippet::snippet(&self.row, search))
    }
}

impl PlainFields for Task {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "title",
        "description",
        "status",
        "priority",
        "tags",
        "dueAt",
        "position",
        "completedAt",
        "deletedAt",
        "version",
        "createdAt",
        "updatedAt",
        "searchSnippet",
    ];
}

/// The user `id`, if there is one and the viewer may see it.
async fn user(ctx: &Context<'_>, id: Option<Id>) -> AppResult<Option<User>> {
    match id {
        Some(id) => loaders(ctx)?.users.load_one(id).await,
        None => Ok(None),
    }
}

/// An edge; its cursor is made only when asked for.
pub struct TaskEdge {
    node: Task,
    order: TaskOrderSpec,
}

#[Object(serial)]
impl TaskEdge {
    async fn node(&self) -> Plain<Task> {
        Plain(self.node.clone())
    }
    async fn cursor(&self) -> String {
        self.node.cursor(&self.order)
    }
}

impl PlainFields for TaskEdge {
    const PLAIN: &'static [&'static str] = &["node", "cursor"];
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
    async fn edges(&self) -> PlainList<TaskEdge> {
        PlainList(
            self.page
                .rows
                .iter()
                .map(|task| TaskEdge {
                    node: task.clone(),
                    order: self.order,
                })
                .collect(),
        )
    }
    async fn page_info(&self) -> PageInfo {
        self.page.info(|task| task.cursor(&self.order))
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

// A project as GraphQL shows it: its own fields, then its tasks. (A `//`
// comment: a doc comment would become the type's description.)
#[derive(MergedObject, Debug, Clone)]
#[graphql(name = "Project")]
pub struct Project(ProjectFields, ProjectTasks);

impl Project {
    /// A project on its own.
    pub fn new(row: ProjectRow) -> Self {
        let siblings = Arc::from([row.id]);
        Self::listed(row, siblings)
    }

    /// A project of a listing of `siblings`.
    pub fn listed(row: ProjectRow, siblings: Arc<[Id]>) -> Self {
        let tasks = ProjectTasks {
            id: row.id,
            deleted: row.deleted_at.is_some(),
            siblings: siblings.clone(),
        };
        Self(ProjectFields { row, siblings }, tasks)
    }

    pub fn row(&self) -> &ProjectRow {
        &self.0.row
    }

    /// `Node.id` (the interface calls it by name).
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> async_graphql::Result<ID> {
        self.0.id(ctx).await
    }
}

/// The tasks half of `Project`.
#[derive(Debug, Clone)]
pub struct ProjectTasks {
    id: Id,
    deleted: bool,
    siblings: Arc<[Id]>,
}

#[Object]
impl ProjectTasks {
    /// The project's tasks (none while the project is deleted, unless
    /// `filter.includeDeleted`).
    #[expect(clippy::too_many_arguments, reason = "the Relay arguments")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Forward: at most this many of the project's tasks.")] first: Option<i32>,
        #[graphql(desc = "Forward: the project's tasks after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many of the project's tasks.")] last: Option<i32>,
        #[graphql(desc = "Backward: project tasks before this cursor.")] before: Option<String>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> AppResult<TaskConnection> {
        let page = PageRequest::from_args(first, after, last, before, ctx.page_size())?;
        let query = task_list_query(page, filter, order_by, ctx.field())?;
        let order = query.order;
        if self.deleted && !query.filter.include_deleted {
            let page = Page::from_scan(Vec::new(), &query.page);
            return Ok(TaskConnection::new(page, order, TaskTotal::Zero));
        }
        let total = TaskTotal::Project {
            project: self.id,
            siblings: self.siblings.clone(),
            filter: query.filter.clone(),
        };
        let search = query.filter.search_terms().map(Arc::new);
        let pages = loaders(ctx)?.project_tasks(&self.siblings, query).await?;
        let page = pages.get(&self.id).cloned().unwrap_or(Page {
            rows: Vec::new(),
            has_next: false,
            has_previous: false,
        });
        let page = page.map(|listed| Task::listed(listed, search.as_ref()));
        Ok(TaskConnection::new(page, order, total))
    }

    /// Live tasks of the project, of one status when given.
    async fn task_count(&self, ctx: &Context<'_>, status: Option<TaskStatus>) -> AppResult<i32> {
        if self.deleted {
            return Ok(0);
        }
        let filter = TaskFilterSpec {
            status: status.map(|s| vec![s.code()]),
            ..TaskFilterSpec::default()
        };
        let counts = loaders(ctx)?.task_counts(&self.siblings, filter).await?;
        let n = counts.get(&self.id).copied().unwrap_or(0);
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

#[derive(Default)]
pub struct TasksQuery;

#[Object]
impl TasksQuery {
    /// Null when missing, deleted (or in a deleted project) or not the viewer's.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Task>> {
        let Some((viewer, id)) = ctx.viewer_and_id(&id)? else {
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
        #[graphql(desc = "Forward: at most this many of the viewer's tasks.")] first: Option<i32>,
        #[graphql(desc = "Forward: the viewer's tasks after this cursor.")] after: Option<String>,
        #[graphql(desc = "Backward: at most this many of the viewer's tasks.")] last: Option<i32>,
        #[graphql(desc = "Backward: viewer's tasks before this cursor.")] before: Option<String>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
    ) -> AppResult<TaskConnection> {
        let viewer = ctx.viewer()?;
        let page = PageRequest::from_args(first, after, last, before, ctx.page_size())?;
        let query = task_list_query(page, filter, order_by, ctx.field())?;
        let search = query.filter.search_terms().map(Arc::new);
        let page = {
            let mut pooled = ctx.services().db.read().await?;
            list::page(&mut pooled.conn(), viewer, &query).await?
        }
        .map(|listed| Task::listed(listed, search.as_ref()));
        Ok(TaskConnection::new(
            page,
            query.order,
            TaskTotal::Viewer(query.filter),
        ))
    }
}
