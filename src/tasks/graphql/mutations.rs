//! Task mutations: checked input in, one transaction per mutation.

use std::collections::HashSet;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use scoped_futures::ScopedFutureExt as _;

use super::Task;
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::events::Outbox;
use crate::events::changes::{ChangeType, stage_changes, task_changes};
use crate::graphql::{ContextExt, write_and_announce};
use crate::tasks::kinds::{TaskPriority, TaskStatus};
use crate::tasks::model::{TaskFields, TaskRow};
use crate::tasks::store;
use crate::tasks::validate;
use crate::tasks::writes::{self, NewTask, TaskEdit};
use crate::validate as shared;

/// The fields of a task a client sends whole: in a create, a sync change
/// and an import (flattened into each input, so not a type of its own).
#[derive(InputObject)]
pub struct TaskFieldsInput {
    project_id: ID,
    title: String,
    description: Option<String>,
    status: Option<TaskStatus>,
    priority: Option<TaskPriority>,
    tags: Option<Vec<String>>,
    due_at: Option<DateTime<Utc>>,
    position: Option<f64>,
    /// A member of the project (any role); null for none.
    assignee_id: Option<ID>,
}

impl TaskFieldsInput {
    /// Checks the fields; `field` is the input's path for errors.
    pub fn check(self, field: &str) -> AppResult<TaskFields> {
        let at = |name: &str| format!("{field}.{name}");
        Ok(TaskFields {
            project_id: shared::id(&at("projectId"), &self.project_id)?,
            title: validate::title(&at("title"), &self.title)?,
            description: shared::description(&at("description"), self.description)?,
            status: self.status.unwrap_or_default(),
            priority: self.priority,
            tags: validate::tags(&at("tags"), self.tags.as_deref().unwrap_or_default())?,
            due_at: self.due_at.map(Into::into),
            position: validate::position(&at("position"), self.position)?,
            assignee_id: self
                .assignee_id
                .map(|id| shared::id(&at("assigneeId"), &id))
                .transpose()?,
        })
    }
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    /// Chosen by the client (a UUID) for offline creation.
    id: Option<ID>,
    #[graphql(flatten)]
    fields: TaskFieldsInput,
    /// A retried create with the same value returns the first result.
    client_mutation_id: Option<String>,
}

/// An omitted field is unchanged; an explicit null clears it.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    title: MaybeUndefined<String>,
    description: MaybeUndefined<String>,
    status: MaybeUndefined<TaskStatus>,
    priority: MaybeUndefined<TaskPriority>,
    tags: MaybeUndefined<Vec<String>>,
    due_at: MaybeUndefined<DateTime<Utc>>,
    position: MaybeUndefined<f64>,
    project_id: MaybeUndefined<ID>,
    /// A member of the task's project (of the one it moves to, if it
    /// moves); null unassigns.
    assignee_id: MaybeUndefined<ID>,
    expected_version: Option<i32>,
}

/// The same change for many tasks.
#[derive(InputObject)]
pub struct TaskPatch {
    status: MaybeUndefined<TaskStatus>,
    priority: MaybeUndefined<TaskPriority>,
    add_tags: Option<Vec<String>>,
    remove_tags: Option<Vec<String>>,
    due_at: MaybeUndefined<DateTime<Utc>>,
    project_id: MaybeUndefined<ID>,
    /// A member of each task's project; null unassigns.
    assignee_id: MaybeUndefined<ID>,
}

fn new_task(field: &str, input: CreateTaskInput) -> AppResult<NewTask> {
    let at = |name: &str| format!("{field}.{name}");
    Ok(NewTask {
        id: input.id.map(|id| shared::id(&at("id"), &id)).transpose()?,
        fields: input.fields.check(field)?,
        client_mutation_id: shared::client_mutation_id(
            &at("clientMutationId"),
            input.client_mutation_id,
        )?,
        field: field.to_owned(),
    })
}

/// `None` unchanged, `Some(None)` cleared, `Some(Some(v))` set.
fn change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A field that can be changed but not cleared.
fn required<T>(field: &str, value: MaybeUndefined<T>) -> AppResult<Option<T>> {
    match change(value) {
        Some(None) => Err(AppError::bad_input(field, "can not be cleared")),
        other => Ok(other.flatten()),
    }
}

/// An assignee change: `None` unchanged, `Some(None)` unassigned.
fn assignee(field: &str, value: MaybeUndefined<ID>) -> AppResult<Option<Option<Id>>> {
    change(value)
        .map(|id| id.map(|id| shared::id(field, &id)).transpose())
        .transpose()
}

fn task_edit(input: UpdateTaskInput) -> AppResult<TaskEdit> {
    Ok(TaskEdit {
        title: required("input.title", input.title)?
            .map(|t| validate::title("input.title", &t))
            .transpose()?,
        description: change(input.description)
            .map(|d| shared::description("input.description", d))
            .transpose()?,
        status: required("input.status", input.status)?,
        priority: change(input.priority),
        tags: change(input.tags)
            .map(|t| validate::tags("input.tags", t.as_deref().unwrap_or_default()))
            .transpose()?,
        due_at: change(input.due_at).map(|d| d.map(Into::into)),
        position: change(input.position)
            .map(|p| validate::position("input.position", p))
            .transpose()?,
        project_id: required("input.projectId", input.project_id)?
            .map(|id| shared::id("input.projectId", &id))
            .transpose()?,
        assignee_id: assignee("input.assigneeId", input.assignee_id)?,
        ..TaskEdit::default()
    })
}

/// Checks a `TaskPatch` (fields named `patch.*` in errors).
pub fn patch_edit(patch: TaskPatch) -> AppResult<TaskEdit> {
    Ok(TaskEdit {
        status: required("patch.status", patch.status)?,
        priority: change(patch.priority),
        add_tags: validate::tags(
            "patch.addTags",
            patch.add_tags.as_deref().unwrap_or_default(),
        )?,
        remove_tags: validate::tags(
            "patch.removeTags",
            patch.remove_tags.as_deref().unwrap_or_default(),
        )?,
        due_at: change(patch.due_at).map(|d| d.map(Into::into)),
        project_id: required("patch.projectId", patch.project_id)?
            .map(|id| shared::id("patch.projectId", &id))
            .transpose()?,
        assignee_id: assignee("patch.assigneeId", patch.assignee_id)?,
        ..TaskEdit::default()
    })
}

/// An id that can not be the viewer's task: NOT_FOUND, as a missing one.
fn task_id(raw: &ID) -> AppResult<Id> {
    Id::parse(raw).ok_or_else(writes::not_found)
}

async fn edit(
    ctx: &Context<'_>,
    viewer: Viewer,
    ids: Vec<Id>,
    edit: TaskEdit,
    expected_version: Option<i32>,
    field: &'static str,
) -> AppResult<Vec<Task>> {
    let rows = write_and_announce(ctx, |mut conn| {
        async move {
            // A move is announced in the old project too (see `task_changes`).
            let before = match edit.project_id {
                Some(_) => store::find_tasks_any(&mut conn, &viewer, &ids).await?,
                None => Vec::new(),
            };
            let rows =
                writes::edit(&mut conn, &viewer, &ids, &edit, expected_version, field).await?;
            let mut outbox = Outbox::default();
            let changes = task_changes(ChangeType::Updated, &before, &rows);
            stage_changes(&mut conn, &mut outbox, &changes).await?;
            Ok((rows, outbox))
        }
        .scope_boxed()
    })
    .await?;
    Ok(tasks(rows))
}

/// Stages one change event per written task.
async fn staged(
    conn: &mut Conn<'_>,
    change_type: ChangeType,
    rows: &[TaskRow],
) -> AppResult<Outbox> {
    let mut outbox = Outbox::default();
    stage_changes(conn, &mut outbox, &task_changes(change_type, &[], rows)).await?;
    Ok(outbox)
}

fn tasks(rows: Vec<TaskRow>) -> Vec<Task> {
    rows.into_iter().map(Task::from).collect()
}

fn single(tasks: Vec<Task>) -> AppResult<Task> {
    tasks
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal("a write returned no task"))
}

#[derive(Default)]
pub struct TasksMutation;

#[Object]
impl TasksMutation {
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> AppResult<Task> {
        ctx.viewer()?;
        let tasks = self
            .create_tasks_checked(ctx, vec![new_task("input", input)?])
            .await?;
        single(tasks)
    }

    async fn update_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTaskInput,
    ) -> AppResult<Task> {
        let viewer = ctx.viewer()?.clone();
        let id = task_id(&id)?;
        let expected = input.expected_version;
        let change = task_edit(input)?;
        single(edit(ctx, viewer, vec![id], change, expected, "input").await?)
    }

    /// Soft delete.
    async fn delete_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: Option<i32>,
    ) -> AppResult<Task> {
        let viewer = ctx.viewer()?.clone();
        let id = task_id(&id)?;
        let rows = write_and_announce(ctx, |mut conn| {
            async move {
                let rows = vec![writes::delete(&mut conn, &viewer, id, expected_version).await?];
                let outbox = staged(&mut conn, ChangeType::Deleted, &rows).await?;
                Ok((rows, outbox))
            }
            .scope_boxed()
        })
        .await?;
        single(tasks(rows))
    }

    async fn restore_task(&self, ctx: &Context<'_>, id: ID) -> AppResult<Task> {
        let viewer = ctx.viewer()?.clone();
        let id = task_id(&id)?;
        let rows = write_and_announce(ctx, |mut conn| {
            async move {
                let before = store::find_task_any(&mut conn, &viewer, id).await?;
                let row = writes::restore(&mut conn, &viewer, id).await?;
                // Restoring a live task changes nothing: no event.
                let changed = before.is_some_and(|b| b.version != row.version);
                let rows = vec![row];
                let outbox = if changed {
                    staged(&mut conn, ChangeType::Restored, &rows).await?
                } else {
                    Outbox::default()
                };
                Ok((rows, outbox))
            }
            .scope_boxed()
        })
        .await?;
        single(tasks(rows))
    }

    /// All or nothing, at most 500.
    async fn create_tasks(
        &self,
        ctx: &Context<'_>,
        input: Vec<CreateTaskInput>,
    ) -> AppResult<Vec<Task>> {
        ctx.viewer()?;
        validate::bulk_size("input", input.len())?;
        let items = input
            .into_iter()
            .enumerate()
            .map(|(i, item)| new_task(&format!("input[{i}]"), item))
            .collect::<AppResult<Vec<_>>>()?;
        self.create_tasks_checked(ctx, items).await
    }

    /// The same patch for every task, all or nothing, at most 500.
    async fn update_tasks(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        patch: TaskPatch,
    ) -> AppResult<Vec<Task>> {
        let viewer = ctx.viewer()?.clone();
        validate::bulk_size("ids", ids.len())?;
        let mut seen = HashSet::with_capacity(ids.len());
        let mut parsed: Vec<Id> = Vec::with_capacity(ids.len());
        for raw in &ids {
            let id = task_id(raw)?;
            if seen.insert(id) {
                parsed.push(id);
            }
        }
        let change = patch_edit(patch)?;
        edit(ctx, viewer, parsed, change, None, "patch").await
    }
}

impl TasksMutation {
    async fn create_tasks_checked(
        &self,
        ctx: &Context<'_>,
        items: Vec<NewTask>,
    ) -> AppResult<Vec<Task>> {
        let viewer = ctx.viewer()?.clone();
        let quotas = ctx.services().config.quotas;
        let rows = write_and_announce(ctx, |mut conn| {
            async move {
                let rows = writes::create(&mut conn, &viewer, &quotas, items).await?;
                // A retried create returns the earlier task; one changed
                // since is not announced again.
                let created: Vec<_> = rows.iter().filter(|r| r.version == 1).cloned().collect();
                let outbox = staged(&mut conn, ChangeType::Created, &created).await?;
                Ok((rows, outbox))
            }
            .scope_boxed()
        })
        .await?;
        Ok(tasks(rows))
    }
}
