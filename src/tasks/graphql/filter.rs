//! The arguments of a task connection: `TaskFilter`, `TaskOrder` and the
//! page, checked into a listing.

use async_graphql::{ID, InputObject, SelectionField};
use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult};
use crate::graphql::pagination::{OrderDirection, PageRequest};
use crate::tasks::kinds::{TaskOrderField, TaskPriority, TaskStatus};
use crate::tasks::list::{TaskFilterSpec, TaskListQuery, TaskOrderSpec};
use crate::validate;

#[derive(InputObject, Default)]
pub struct TaskFilter {
    project_id: Option<ID>,
    status: Option<Vec<TaskStatus>>,
    priority: Option<Vec<TaskPriority>>,
    /// Tasks carrying this tag.
    tag: Option<String>,
    /// Full-text search of the title, description and tags: the tasks
    /// holding every word given, each as the start of a word (`desi` finds
    /// "design"); case does not count, accents do. A word is a run of
    /// letters and digits; anything else is a separator, never an
    /// operator. A search without a letter or digit finds nothing.
    search: Option<String>,
    /// Due strictly before this instant.
    due_before: Option<DateTime<Utc>>,
    /// Due at or after this instant.
    due_after: Option<DateTime<Utc>>,
    /// Changed at or after this instant.
    updated_since: Option<DateTime<Utc>>,
    include_deleted: Option<bool>,
    /// Tasks assigned to this user.
    assignee_id: Option<ID>,
    /// True: only the tasks assigned to the viewer.
    assigned_to_me: Option<bool>,
}

#[derive(InputObject)]
pub struct TaskOrder {
    field: TaskOrderField,
    /// ASC when not given; for RELEVANCE, DESC (the best match first).
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
        assignee_id: filter
            .assignee_id
            .map(|id| validate::id("filter.assigneeId", &id))
            .transpose()?,
        assigned_to_me: filter.assigned_to_me.unwrap_or(false),
    })
}

/// Checks the arguments of a task connection and makes its listing, of
/// the columns its selection (`connection`) reads.
pub fn task_list_query(
    page: PageRequest,
    filter: Option<TaskFilter>,
    order_by: Option<TaskOrder>,
    connection: SelectionField<'_>,
) -> AppResult<TaskListQuery> {
    let filter = filter_spec(filter.unwrap_or_default())?;
    let order = order_by.map_or_else(TaskOrderSpec::default, |o| TaskOrderSpec {
        field: o.field,
        direction: o
            .direction
            .unwrap_or_else(|| TaskOrderSpec::default_direction(o.field)),
    });
    if order.field == TaskOrderField::Relevance && filter.search.is_none() {
        return Err(AppError::bad_input(
            "orderBy.field",
            "RELEVANCE needs a filter.search with text",
        ));
    }
    order.check(&page)?;
    Ok(TaskListQuery {
        filter,
        order,
        page,
        columns: super::columns::read_by(connection),
    })
}
