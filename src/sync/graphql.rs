//! The sync API: `changes` (pull) and `sync` (push, then pull, in one
//! transaction).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use scoped_futures::ScopedFutureExt as _;

use super::push::{self, Conflict, ProjectChange, TaskChange};
use super::{cursor, pull};
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::events::Outbox;
use crate::events::changes::stage_changes;
use crate::graphql::{ContextExt, write_and_announce};
use crate::projects::graphql::Project;
use crate::projects::validate as project_rules;
use crate::tasks::graphql::Task;
use crate::tasks::graphql::mutations::TaskFieldsInput;
use crate::tasks::validate;
use crate::validate as shared;

/// A client's offline work: every change is its whole copy of the object.
#[derive(InputObject)]
pub struct SyncInput {
    /// The cursor of the client's last pull; null for a full snapshot.
    since: Option<String>,
    /// Names the client, for its own bookkeeping and for logs.
    client_id: Option<String>,
    projects: Option<Vec<ProjectChangeInput>>,
    tasks: Option<Vec<TaskChangeInput>>,
}

#[derive(InputObject)]
pub struct ProjectChangeInput {
    id: ID,
    name: String,
    description: Option<String>,
    archived: Option<bool>,
    /// True deletes; false on a deleted project restores it.
    deleted: Option<bool>,
    /// The version the client last saw; null for a project it created.
    base_version: Option<i32>,
}

#[derive(InputObject)]
pub struct TaskChangeInput {
    id: ID,
    #[graphql(flatten)]
    fields: TaskFieldsInput,
    /// True deletes; false on a deleted task restores it.
    deleted: Option<bool>,
    /// The version the client last saw; null for a task it created.
    base_version: Option<i32>,
}

/// Changes after a cursor, tombstones included, in order within each
/// project. A task of a deleted project arrives as it is; the project
/// arrives deleted. A project shared with the viewer since the cursor
/// arrives whole, with its tasks.
#[derive(SimpleObject)]
pub struct ChangeSet {
    projects: Vec<Project>,
    tasks: Vec<Task>,
    /// Projects the viewer has lost access to since the cursor: drop them
    /// and their tasks.
    revoked_project_ids: Vec<ID>,
    /// Tasks that moved from one of the viewer's projects to a project it
    /// can not see: drop them.
    removed_task_ids: Vec<ID>,
    /// Pass as `since` to continue.
    cursor: String,
    /// More changes wait after `cursor`.
    has_more: bool,
}

#[derive(SimpleObject)]
pub struct SyncConflict {
    id: ID,
    /// `updated` or `deleted` on the server; `missing` for an object the
    /// server does not have.
    reason: String,
    server_project: Option<Project>,
    server_task: Option<Task>,
}

#[derive(SimpleObject)]
pub struct SyncPayload {
    /// The changes now on the server (applied now or by an earlier attempt).
    applied: Vec<ID>,
    conflicts: Vec<SyncConflict>,
    /// Everything since the input's cursor, the applied changes included.
    changes: ChangeSet,
}

fn ids(ids: Vec<Id>) -> Vec<ID> {
    ids.into_iter().map(|id| ID(id.to_string())).collect()
}

fn change_set(changes: pull::Changes) -> ChangeSet {
    let siblings: Arc<[Id]> = changes.projects.iter().map(|p| p.id).collect();
    ChangeSet {
        projects: changes
            .projects
            .into_iter()
            .map(|row| Project::listed(row, siblings.clone()))
            .collect(),
        tasks: changes.tasks.into_iter().map(Task::from).collect(),
        revoked_project_ids: ids(changes.revoked),
        removed_task_ids: ids(changes.departed),
        cursor: cursor::encode(&changes.position),
        has_more: changes.has_more,
    }
}

fn conflict(conflict: Conflict) -> SyncConflict {
    SyncConflict {
        id: ID(conflict.id.to_string()),
        reason: conflict.reason.to_owned(),
        server_project: conflict.project.map(Project::new),
        server_task: conflict.task.map(Task::from),
    }
}

fn page_size(first: Option<i32>) -> AppResult<usize> {
    match first {
        None => Ok(pull::DEFAULT_PAGE),
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=pull::MAX_PAGE).contains(n))
            .ok_or_else(|| {
                AppError::bad_input("first", format!("must be from 1 to {}", pull::MAX_PAGE))
            }),
    }
}

pub fn project_change(field: String, input: ProjectChangeInput) -> AppResult<ProjectChange> {
    let at = |name: &str| format!("{field}.{name}");
    Ok(ProjectChange {
        id: shared::id(&at("id"), &input.id)?,
        name: project_rules::name(&at("name"), &input.name)?,
        description: shared::description(&at("description"), input.description)?,
        archived: input.archived.unwrap_or(false),
        deleted: input.deleted.unwrap_or(false),
        base_version: input.base_version,
        field,
    })
}

pub fn task_change(field: String, input: TaskChangeInput) -> AppResult<TaskChange> {
    let at = |name: &str| format!("{field}.{name}");
    Ok(TaskChange {
        id: shared::id(&at("id"), &input.id)?,
        fields: input.fields.check(&field)?,
        deleted: input.deleted.unwrap_or(false),
        base_version: input.base_version,
        field,
    })
}

#[derive(Default)]
pub struct SyncQuery;

#[Object]
impl SyncQuery {
    /// The viewer's project and task changes after `since` (all of them
    /// when null), oldest first.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        since: Option<String>,
        first: Option<i32>,
    ) -> AppResult<ChangeSet> {
        let viewer = ctx.viewer()?;
        let since = cursor::decode("since", since.as_deref())?;
        let first = page_size(first)?;
        let mut pooled = ctx.services().db.read().await?;
        let changes = pull::changes_since(&mut pooled.conn(), viewer, &since, first).await?;
        Ok(change_set(changes))
    }
}

#[derive(Default)]
pub struct SyncMutation;

#[Object]
impl SyncMutation {
    /// Applies the client's changes (all checked first: a bad one rejects
    /// the request with nothing written), then returns the changes since
    /// `input.since`, in one transaction.
    async fn sync(&self, ctx: &Context<'_>, input: SyncInput) -> AppResult<SyncPayload> {
        let viewer = ctx.viewer()?.clone();
        let since = cursor::decode("input.since", input.since.as_deref())?;
        let client_id = shared::client_mutation_id("input.clientId", input.client_id)?;
        let project_inputs = input.projects.unwrap_or_default();
        let task_inputs = input.tasks.unwrap_or_default();
        validate::bulk_size("input.projects", project_inputs.len())?;
        validate::bulk_size("input.tasks", task_inputs.len())?;
        let projects = project_inputs
            .into_iter()
            .enumerate()
            .map(|(i, p)| project_change(format!("input.projects[{i}]"), p))
            .collect::<AppResult<Vec<_>>>()?;
        let tasks = task_inputs
            .into_iter()
            .enumerate()
            .map(|(i, t)| task_change(format!("input.tasks[{i}]"), t))
            .collect::<AppResult<Vec<_>>>()?;
        let quotas = ctx.services().config.quotas;
        let (pushed, changes) = write_and_announce(ctx, |mut conn| {
            async move {
                let pushed = push::push(&mut conn, &viewer, client_id, projects, tasks).await?;
                let created = crate::quotas::Usage::created(&pushed.changes);
                crate::quotas::charge(&mut conn, &viewer, &quotas, created).await?;
                let mut outbox = Outbox::default();
                stage_changes(&mut conn, &mut outbox, &pushed.changes).await?;
                let changes =
                    pull::changes_since(&mut conn, &viewer, &since, pull::DEFAULT_PAGE).await?;
                Ok(((pushed, changes), outbox))
            }
            .scope_boxed()
        })
        .await?;
        Ok(SyncPayload {
            applied: ids(pushed.applied),
            conflicts: pushed.conflicts.into_iter().map(conflict).collect(),
            changes: change_set(changes),
        })
    }
}
