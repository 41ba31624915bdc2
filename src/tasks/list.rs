//! Task listings: filters, orderings and keyset pages, for one listing or
//! for many projects at once (one statement for all parents: a LATERAL
//! join on PostgreSQL, a UNION ALL of one ordered part per project on
//! SQLite; each part is one ordered scan of the project's index).
//!
//! SQL text, not Diesel's DSL: the per-project page needs LATERAL (or a
//! compound of per-parent parts), which the DSL can not express, and the
//! single listing shares its conditions so both keep the same plan.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::access::{self, Need, ProjectRef};
use crate::auth::Viewer;
use crate::db::keyset::{KeyPosition, SortKey, SqlColumn};
use crate::db::schema::{projects, tasks};
use crate::db::sql::{Bind, CountRow, IdCountRow, IdRow, SqlBuilder};
use crate::db::types::{Id, Timestamp};
use crate::db::{Backend, Conn};
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::{
    Cursor, KeyValue, OrderDirection, Page, PageRequest, pages_per_parent,
};
use crate::projects::list::ListOrder;

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

pub type TaskOrderSpec = ListOrder<TaskOrderField>;

impl TaskOrderSpec {
    fn sort_key(&self) -> SortKey {
        let (column, nullable) = match self.field {
            TaskOrderField::CreatedAt => (t!(created_at), false),
            TaskOrderField::UpdatedAt => (t!(updated_at), false),
            TaskOrderField::Title => (t!(title), false),
            TaskOrderField::DueAt => (t!(due_at), true),
            TaskOrderField::Priority => (t!(priority), true),
            TaskOrderField::Position => (t!(position), true),
        };
        SortKey {
            column,
            nullable,
            id_column: t!(id),
            descending: self.direction == OrderDirection::Desc,
        }
    }

    /// How `a` and `b` compare in the order a page is scanned in (reversed
    /// for `last`), as `sort_key().push_order` sorts them in SQLite: rows
    /// with no key last, then the key (text by its bytes), then the id.
    pub fn scan_order(&self, a: &TaskRow, b: &TaskRow, backward: bool) -> Ordering {
        fn key<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                (a, b) => a.is_none().cmp(&b.is_none()),
            }
        }
        let by_key = match self.field {
            TaskOrderField::CreatedAt => a.created_at.cmp(&b.created_at),
            TaskOrderField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            TaskOrderField::Title => a.title.cmp(&b.title),
            TaskOrderField::DueAt => key(a.due_at, b.due_at),
            TaskOrderField::Priority => key(a.priority, b.priority),
            TaskOrderField::Position => key(a.position, b.position),
        };
        let nulls = match self.field {
            TaskOrderField::DueAt => a.due_at.is_none().cmp(&b.due_at.is_none()),
            TaskOrderField::Priority => a.priority.is_none().cmp(&b.priority.is_none()),
            TaskOrderField::Position => a.position.is_none().cmp(&b.position.is_none()),
            _ => Ordering::Equal,
        };
        let descending = (self.direction == OrderDirection::Desc) != backward;
        let directed = |o: Ordering| if descending { o.reverse() } else { o };
        let nulls = if backward { nulls.reverse() } else { nulls };
        nulls.then(directed(by_key)).then(directed(a.id.cmp(&b.id)))
    }

    /// The cursor of `row` in this order.
    pub fn cursor(&self, row: &TaskRow) -> String {
        let micros = |t: Timestamp| KeyValue::Int(t.timestamp_micros());
        let key = match self.field {
            TaskOrderField::CreatedAt => micros(row.created_at),
            TaskOrderField::UpdatedAt => micros(row.updated_at),
            TaskOrderField::Title => KeyValue::Text(row.title.clone()),
            TaskOrderField::DueAt => row.due_at.map_or(KeyValue::Null, micros),
            TaskOrderField::Priority => row
                .priority
                .map_or(KeyValue::Null, |p| KeyValue::Int(p.into())),
            TaskOrderField::Position => row.position.map_or(KeyValue::Null, KeyValue::Float),
        };
        self.cursor_at(key, row.id)
    }

    /// Where the cursor passed as `argument` points.
    fn position(&self, argument: &str, text: &str) -> AppResult<KeyPosition> {
        let cursor = Cursor::decode(argument, text, &self.name())?;
        let invalid = || AppError::bad_input(argument, "is not a valid cursor");
        let time = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| Bind::Time(t.into()))
                .ok_or_else(invalid)
        };
        let key = match (self.field, cursor.key) {
            (_, KeyValue::Null) if self.sort_key().nullable => None,
            (
                TaskOrderField::CreatedAt | TaskOrderField::UpdatedAt | TaskOrderField::DueAt,
                KeyValue::Int(v),
            ) => Some(time(v)?),
            (TaskOrderField::Title, KeyValue::Text(v)) => Some(Bind::Text(v)),
            (TaskOrderField::Priority, KeyValue::Int(v)) => {
                Some(Bind::I16(i16::try_from(v).map_err(|_| invalid())?))
            }
            (TaskOrderField::Position, KeyValue::Float(v)) => Some(Bind::F64(v)),
            (TaskOrderField::Position, KeyValue::Int(v)) => Some(Bind::F64(v as f64)),
            _ => return Err(invalid()),
        };
        Ok(KeyPosition { key, id: cursor.id })
    }

    /// Checks the cursors of a page request (so errors surface before loading).
    pub fn check(&self, page: &PageRequest) -> AppResult<()> {
        if let Some(after) = &page.after {
            self.position("after", after)?;
        }
        if let Some(before) = &page.before {
            self.position("before", before)?;
        }
        Ok(())
    }
}

/// One listing: what, in which order, which page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskListQuery {
    pub filter: TaskFilterSpec,
    pub order: TaskOrderSpec,
    pub page: PageRequest,
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

/// The viewer's tasks that `filter` selects, guarded as `guard` says.
fn push_conditions(b: &mut SqlBuilder, viewer: &Viewer, filter: &TaskFilterSpec, guard: Guard) {
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
    if let Some(search) = &filter.search {
        let columns = [(t!(title), false), (t!(description), true)];
        b.push(" AND ").contains_ignoring_case(&columns, search);
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

/// `SELECT t.id, t.project_id, … FROM tasks t`: every column, in the order
/// `TaskRow` reads fastest (by position rather than by name).
static SELECT_TASKS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = TaskRow::COLUMNS.iter().map(|c| format!("t.{c}")).collect();
    format!("SELECT {} FROM tasks t", columns.join(", "))
});

/// One page of the viewer's tasks.
pub async fn page(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    query: &TaskListQuery,
) -> AppResult<Page<TaskRow>> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push(&SELECT_TASKS).push(" WHERE ");
    push_conditions(&mut b, viewer, &query.filter, Guard::Rows);
    push_keyset(&mut b, query)?;
    let rows = b.load::<TaskRow>(conn).await?;
    Ok(Page::from_scan(rows, &query.page))
}

/// The rest of one project's page, after its `t.project_id = …` test: the
/// viewer's tasks the filter selects, beyond the cursors, in order, cut at
/// the page size (plus one, to tell whether more follow).
fn push_one_project_page(
    b: &mut SqlBuilder,
    viewer: &Viewer,
    project: ProjectRef,
    query: &TaskListQuery,
) -> AppResult<()> {
    push_conditions(b, viewer, &query.filter, Guard::Project(project));
    push_keyset(b, query)
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
            b.push(") AS parent(id) CROSS JOIN LATERAL (")
                .push(&SELECT_TASKS)
                .push(" WHERE ")
                .column(t!(project_id))
                .push(" = parent.id AND ");
            push_one_project_page(&mut b, viewer, ProjectRef::Expr("parent.id"), query)?;
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
                b.push("SELECT * FROM (")
                    .push(&SELECT_TASKS)
                    .push(" WHERE ")
                    .column(t!(project_id))
                    .push(" = ")
                    .bind(Bind::Id(*id))
                    .push(" AND ");
                push_one_project_page(&mut b, viewer, ProjectRef::Id(*id), query)?;
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
) -> AppResult<HashMap<Id, Page<TaskRow>>> {
    let backend = conn.backend();
    let backward = query.page.backward;
    pages_per_parent(
        conn,
        projects,
        &query.page,
        |parents| per_project_statement(backend, viewer, parents, query),
        |row: &TaskRow| row.project_id,
        // As SQLite compares (text by its bytes).
        |a, b| query.order.scan_order(a, b, backward),
    )
    .await
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
    b.push("SELECT ")
        .column(t!(id))
        .push(" AS id FROM tasks t WHERE ");
    push_conditions(&mut b, viewer, filter, Guard::Rows);
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
    b.push("SELECT COUNT(*) AS n FROM tasks t WHERE ");
    push_conditions(&mut b, viewer, filter, Guard::Rows);
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
    b.push("SELECT ")
        .column(t!(project_id))
        .push(" AS key, COUNT(*) AS n FROM tasks t WHERE ");
    push_conditions(&mut b, viewer, filter, Guard::LiveProjects);
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
