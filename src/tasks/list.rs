//! Task listings: filters, orderings and keyset pages, for one listing or
//! for many projects at once (one statement for all parents: a LATERAL
//! join on PostgreSQL, a UNION ALL of one ordered part per project on
//! SQLite; each part is one ordered scan of the project's index).
//!
//! SQL text, not Diesel's DSL: the per-project page needs LATERAL (or a
//! compound of per-parent parts), which the DSL can not express, and the
//! single listing shares its conditions so both keep the same plan.
//!
//! A page reads the columns of a task its selection shows, and those it
//! needs itself (`TaskColumns`); a statement for anything else (sync, the
//! operations) reads whole rows.
//!
//! A `search` reads the full-text index (`crate::db::search`). Ordered by
//! relevance, a page ranks the matching tasks in a derived table `t`
//! (the columns it reads and their `relevance`), then applies the
//! cursors, the order and the limit to it.

mod columns;
mod order;

use std::collections::HashMap;
use std::sync::LazyLock;

pub use columns::TaskColumns;
pub use order::{ListedTask, TaskOrderSpec};

use crate::access::{self, Need, ProjectRef};
use crate::auth::Viewer;
use crate::db::keyset::SqlColumn;
use crate::db::schema::{projects, tasks};
use crate::db::search::{self, SearchTerms};
use crate::db::sql::{Bind, CountRow, IdCountRow, IdRow, SqlBuilder};
use crate::db::types::{Id, Timestamp};
use crate::db::{Backend, Conn};
use crate::error::AppResult;
use crate::graphql::pagination::{Page, PageRequest, pages_per_parent};

use super::kinds::TaskOrderField;
use super::model::TaskRow;

/// The alias of `tasks` in every statement here.
const TASK: &str = "t";

/// Column `$c` of `tasks`, as the statements here name it (`t.$c`).
macro_rules! t {
    ($c:ident) => {
        SqlColumn::of::<tasks::$c>(Some(TASK))
    };
}

/// Column `$c` of `projects` (`p.$c`).
macro_rules! p {
    ($c:ident) => {
        SqlColumn::of::<projects::$c>(Some("p"))
    };
}

/// Which tasks a listing holds (besides the viewer's ownership).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TaskFilterSpec {
    pub project_id: Option<Id>,
    pub status: Option<Vec<i16>>,
    pub priority: Option<Vec<i16>>,
    pub tag: Option<String>,
    pub search: Option<String>,
    pub due_before: Option<Timestamp>,
    pub due_after: Option<Timestamp>,
    pub updated_since: Option<Timestamp>,
    pub include_deleted: bool,
    /// Assigned to this user.
    pub assignee_id: Option<Id>,
    /// Assigned to the viewer (of the listing: an operation's owner).
    pub assigned_to_me: bool,
}

impl TaskFilterSpec {
    /// The words of the search, if there is one.
    pub fn search_terms(&self) -> Option<SearchTerms> {
        self.search.as_deref().map(SearchTerms::parse)
    }
}

/// One listing: what, in which order, which page, and which columns of
/// the tasks its rows need (besides those the listing itself needs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskListQuery {
    pub filter: TaskFilterSpec,
    pub order: TaskOrderSpec,
    pub page: PageRequest,
    pub columns: TaskColumns,
}

/// How a statement applies the guard to the tasks it reads.
#[derive(Debug, Clone, Copy)]
enum Guard {
    /// Each row's project must be one the viewer sees, and live.
    Rows,
    /// Each row's project must be one the viewer sees; the caller has
    /// made sure the projects named are live.
    LiveProjects,
    /// The rows are of this one project, which the caller has made sure is
    /// live: the viewer's membership is tested once.
    Project(ProjectRef),
}

/// The viewer's tasks that `filter` selects, guarded as `guard` says
/// (`search`: the filter's words, read from the index the FROM joins).
fn push_conditions(
    b: &mut SqlBuilder,
    viewer: &Viewer,
    filter: &TaskFilterSpec,
    search: Option<&SearchTerms>,
    guard: Guard,
) {
    match guard {
        Guard::Project(project) => access::push_project_guard(b, project, viewer, Need::Read),
        Guard::Rows | Guard::LiveProjects => {
            access::push_guard(b, t!(project_id), viewer, Need::Read);
        }
    }
    if !filter.include_deleted {
        b.push(" AND ").column(t!(deleted_at)).push(" IS NULL");
        if let Guard::Rows = guard {
            b.push(" AND EXISTS (SELECT 1 FROM projects p WHERE ")
                .column(p!(id))
                .push(" = ")
                .column(t!(project_id))
                .push(" AND ")
                .column(p!(deleted_at))
                .push(" IS NULL)");
        }
    }
    if let Some(project) = filter.project_id {
        b.push(" AND ").column(t!(project_id)).push(" = ");
        b.bind(Bind::Id(project));
    }
    let assignees = [
        filter.assignee_id,
        filter.assigned_to_me.then_some(viewer.user_id),
    ];
    for assignee in assignees.into_iter().flatten() {
        b.push(" AND ").column(t!(assignee_id)).push(" = ");
        b.bind(Bind::Id(assignee));
    }
    if let Some(status) = &filter.status {
        b.push(" AND ")
            .in_list(t!(status), status.iter().map(|s| Bind::I16(*s)));
    }
    if let Some(priority) = &filter.priority {
        b.push(" AND ")
            .in_list(t!(priority), priority.iter().map(|p| Bind::I16(*p)));
    }
    if let Some(tag) = &filter.tag {
        b.push(" AND ").json_array_contains(t!(tags), tag);
    }
    if let Some(search) = search {
        b.push(" AND ");
        search::push_task_matches(b, TASK, search);
    }
    let times = [
        (t!(due_at), " < ", filter.due_before),
        (t!(due_at), " >= ", filter.due_after),
        (t!(updated_at), " >= ", filter.updated_since),
    ];
    for (column, cmp, at) in times {
        if let Some(at) = at {
            b.push(" AND ")
                .column(column)
                .push(cmp)
                .bind(Bind::Time(at));
        }
    }
}

/// The conditions of the page's cursors, then its ORDER BY and LIMIT.
fn push_keyset(b: &mut SqlBuilder, query: &TaskListQuery) -> AppResult<()> {
    let (order, page) = (&query.order, &query.page);
    let after = page.after.as_deref().map(|c| order.position("after", c));
    let before = page.before.as_deref().map(|c| order.position("before", c));
    let key = order.sort_key();
    key.push_bounds(b, after.transpose()?.as_ref(), before.transpose()?.as_ref());
    key.push_order_limit(b, page.backward, page.size);
    Ok(())
}

/// `SELECT t.id, t.project_id, …`: every column, in the order `TaskRow`
/// reads fastest (by position rather than by name).
static SELECT_TASKS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = TaskRow::COLUMNS.iter().map(|c| format!("t.{c}")).collect();
    format!("SELECT {}", columns.join(", "))
});

/// `SELECT t.id, t.project_id, …` of `TaskRow`, for a statement over
/// `tasks t` (not `t.*`: on PostgreSQL that would also carry the search
/// vector).
pub fn select_task_columns() -> &'static str {
    &SELECT_TASKS
}

/// One page of `query`: the viewer's tasks the filter selects (of
/// `project` alone when given), beyond the cursors, in order, cut at the
/// page size (plus one, to tell whether more follow).
fn push_page(
    b: &mut SqlBuilder,
    viewer: &Viewer,
    query: &TaskListQuery,
    project: Option<ProjectRef>,
) -> AppResult<()> {
    let search = query.filter.search_terms();
    let ranked = query.order.field == TaskOrderField::Relevance;
    if ranked {
        b.push("SELECT t.* FROM (");
    }
    let columns = query.columns.listed_in(&query.order);
    for (i, name) in columns.names().enumerate() {
        b.push(if i == 0 { "SELECT t." } else { ", t." }).push(name);
    }
    if ranked {
        b.push(", ");
        search::push_task_relevance(b, TASK, &search.clone().unwrap_or_default());
        b.push(" AS relevance");
    }
    b.push(" FROM ");
    search::push_tasks_from(b, TASK, search.as_ref());
    b.push(" WHERE ");
    let guard = match project {
        Some(project) => {
            b.column(t!(project_id)).push(" = ");
            match project {
                ProjectRef::Expr(expr) => b.push(expr),
                ProjectRef::Id(id) => b.bind(Bind::Id(id)),
            };
            b.push(" AND ");
            Guard::Project(project)
        }
        None => Guard::Rows,
    };
    push_conditions(b, viewer, &query.filter, search.as_ref(), guard);
    if ranked {
        b.push(") t WHERE TRUE");
    }
    push_keyset(b, query)
}

/// One page of the viewer's tasks.
pub async fn page(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    query: &TaskListQuery,
) -> AppResult<Page<ListedTask>> {
    let mut b = SqlBuilder::new(conn.backend());
    push_page(&mut b, viewer, query, None)?;
    let rows = b.load::<ListedTask>(conn).await?;
    Ok(Page::from_scan(rows, &query.page))
}

/// The statement of [`page_per_project`] for `parents`.
fn per_project_statement(
    backend: Backend,
    viewer: &Viewer,
    parents: &[Id],
    query: &TaskListQuery,
) -> AppResult<SqlBuilder> {
    let mut b = SqlBuilder::new(backend);
    match backend {
        Backend::Postgres => {
            b.push("SELECT t.* FROM (VALUES ");
            for (i, id) in parents.iter().enumerate() {
                b.push(if i == 0 { "(" } else { ", (" })
                    .bind(Bind::Id(*id))
                    .push(")");
            }
            b.push(") AS parent(id) CROSS JOIN LATERAL (");
            push_page(&mut b, viewer, query, Some(ProjectRef::Expr("parent.id")))?;
            b.push(") t ORDER BY ").column(t!(project_id)).push(", ");
            query
                .order
                .sort_key()
                .push_order(&mut b, query.page.backward);
        }
        Backend::Sqlite => {
            // SQLite has no LATERAL: one part per project.
            for (i, id) in parents.iter().enumerate() {
                if i > 0 {
                    b.push(" UNION ALL ");
                }
                b.push("SELECT * FROM (");
                push_page(&mut b, viewer, query, Some(ProjectRef::Id(*id)))?;
                b.push(")");
            }
        }
    }
    Ok(b)
}

/// The same page of tasks for each of `projects` (visible ones, checked by
/// the caller), in one statement (per 200 projects on SQLite): one ordered
/// scan of the project's index per project, cut at the page size.
pub async fn page_per_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
    query: &TaskListQuery,
) -> AppResult<HashMap<Id, Page<ListedTask>>> {
    let backend = conn.backend();
    let backward = query.page.backward;
    pages_per_parent(
        conn,
        projects,
        &query.page,
        |parents| per_project_statement(backend, viewer, parents, query),
        |listed: &ListedTask| listed.row.project_id,
        // As SQLite compares (text by its bytes).
        |a, b| query.order.scan_order(a, b, backward),
    )
    .await
}

/// `SELECT … FROM … WHERE …`: what `select` pushes, of the viewer's tasks
/// that `filter` selects.
fn push_selected(
    b: &mut SqlBuilder,
    select: impl FnOnce(&mut SqlBuilder),
    viewer: &Viewer,
    filter: &TaskFilterSpec,
    guard: Guard,
) {
    let search = filter.search_terms();
    b.push("SELECT ");
    select(b);
    b.push(" FROM ");
    search::push_tasks_from(b, TASK, search.as_ref());
    b.push(" WHERE ");
    push_conditions(b, viewer, filter, search.as_ref(), guard);
}

/// The ids of the viewer's tasks that `filter` selects, in id order, at
/// most `limit` (an operation's items).
pub async fn ids(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    filter: &TaskFilterSpec,
    limit: i64,
) -> AppResult<Vec<Id>> {
    let mut b = SqlBuilder::new(conn.backend());
    let select = |b: &mut SqlBuilder| {
        b.column(t!(id)).push(" AS id");
    };
    push_selected(&mut b, select, viewer, filter, Guard::Rows);
    b.push(" ORDER BY ").column(t!(id)).push(" LIMIT ");
    b.bind(Bind::I64(limit));
    let rows = b.load::<IdRow>(conn).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// How many of the viewer's tasks `filter` selects.
pub async fn count(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    filter: &TaskFilterSpec,
) -> AppResult<i64> {
    let mut b = SqlBuilder::new(conn.backend());
    let select = |b: &mut SqlBuilder| {
        b.push("COUNT(*) AS n");
    };
    push_selected(&mut b, select, viewer, filter, Guard::Rows);
    let rows = b.load::<CountRow>(conn).await?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// How many tasks `filter` selects in each of `projects` (visible ones).
pub async fn count_per_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
    filter: &TaskFilterSpec,
) -> AppResult<HashMap<Id, i64>> {
    let mut b = SqlBuilder::new(conn.backend());
    let select = |b: &mut SqlBuilder| {
        b.column(t!(project_id)).push(" AS key, COUNT(*) AS n");
    };
    push_selected(&mut b, select, viewer, filter, Guard::LiveProjects);
    b.push(" AND ")
        .in_list(t!(project_id), projects.iter().map(|id| Bind::Id(*id)));
    b.push(" GROUP BY ").column(t!(project_id));
    let rows = b.load::<IdCountRow>(conn).await?;
    let mut counts: HashMap<Id, i64> = projects.iter().map(|id| (*id, 0)).collect();
    for row in rows {
        counts.insert(row.key, row.n);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests;
