//! Task writes, each run inside the caller's transaction: check the
//! viewer's role in the projects written, take `seq`s in their change
//! streams, then check versions and write with a conditional UPDATE, so a
//! stale write can never land.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::kinds::{TaskPriority, TaskStatus};
use super::model::{TaskFields, TaskRow, tags_json};
use super::store;
use crate::access::{self, Need};
use crate::auth::Viewer;
use crate::config::Quotas;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::projects::model::ProjectRow;
use crate::projects::writes::{Reach, reachable};
use crate::quotas::{self, Usage};
use crate::sync::counter::{self, Streams};

/// A validated `CreateTaskInput`; `field` is its path for errors.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub field: String,
    pub id: Option<Id>,
    pub fields: TaskFields,
    pub client_mutation_id: Option<String>,
}

/// A validated change: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct TaskEdit {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Option<TaskPriority>>,
    pub tags: Option<Vec<String>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub due_at: Option<Option<Timestamp>>,
    pub position: Option<Option<f64>>,
    pub project_id: Option<Id>,
    pub assignee_id: Option<Option<Id>>,
}

impl TaskEdit {
    /// The edit that sets every field to `fields`.
    pub fn replace(fields: &TaskFields) -> Self {
        Self {
            title: Some(fields.title.clone()),
            description: Some(fields.description.clone()),
            status: Some(fields.status),
            priority: Some(fields.priority),
            tags: Some(fields.tags.clone()),
            due_at: Some(fields.due_at),
            position: Some(fields.position),
            project_id: Some(fields.project_id),
            assignee_id: Some(fields.assignee_id),
            ..Self::default()
        }
    }
}

pub fn not_found() -> AppError {
    AppError::NotFound("Task not found".into())
}

fn project_not_found(field: &str) -> AppError {
    AppError::NotFound(format!("{field}: project not found"))
}

/// The live project `id` when the viewer may write tasks there: NOT_FOUND
/// on `field` when it can not see it, FORBIDDEN when it only reads it.
pub async fn writable_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    field: &str,
) -> AppResult<ProjectRow> {
    reachable(conn, viewer, id, Reach::Live, Need::Write, || {
        project_not_found(field)
    })
    .await
}

/// CONFLICT carrying the server's copy.
pub fn conflict(current: &TaskRow, expected: i32) -> AppError {
    AppError::Conflict {
        message: format!("The task is at version {}, not {expected}", current.version),
        current: Some(current.api_json()),
    }
}

/// Creates the tasks, all or none. A retried item (same id or client
/// mutation id as an earlier create) returns the task made the first time.
/// The new ones count against `TASKLANE_QUOTA_TASKS`: over it, none is.
pub async fn create(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    quotas: &Quotas,
    items: Vec<NewTask>,
) -> AppResult<Vec<TaskRow>> {
    let mut projects: HashMap<Id, ProjectRow> = HashMap::new();
    for item in &items {
        let id = item.fields.project_id;
        if let Entry::Vacant(vacant) = projects.entry(id) {
            let field = format!("{}.projectId", item.field);
            vacant.insert(writable_project(conn, viewer, id, &field).await?);
        }
    }
    let assignees: Vec<(String, Id, Id)> = items
        .iter()
        .filter_map(|item| {
            let assignee = item.fields.assignee_id?;
            Some((item.field.clone(), item.fields.project_id, assignee))
        })
        .collect();
    check_assignees(conn, &assignees).await?;
    let counts = counter::per_project(items.iter().map(|i| i.fields.project_id));
    let mut streams = Streams::reserve(conn, &counts).await?;
    let now = Timestamp::now();
    let mut out = Vec::with_capacity(items.len());
    let mut created = 0;
    for item in items {
        if let Some(id) = item.id
            && let Some(existing) = store::find_task_any(conn, viewer, id).await?
        {
            out.push(existing);
            continue;
        }
        if let Some(cmid) = &item.client_mutation_id
            && let Some(existing) = store::find_by_client_mutation_id(conn, viewer, cmid).await?
        {
            out.push(existing);
            continue;
        }
        let project_id = item.fields.project_id;
        let owner = projects
            .get(&project_id)
            .map(|p| p.owner_id)
            .ok_or_else(|| AppError::internal("task create in an unchecked project"))?;
        let id = item.id.unwrap_or_else(Id::new);
        let mut row = TaskRow::new(owner, viewer.user_id, id, item.fields, now);
        row.seq = streams.next(conn, project_id).await?;
        row.client_mutation_id = item.client_mutation_id;
        let field = format!("{}.id", item.field);
        out.push(store::insert_task(conn, viewer, &row, &field).await?);
        created += 1;
    }
    // After the inserts (a retried item is not new), before the commit.
    quotas::charge(conn, viewer, quotas, Usage::tasks(created)).await?;
    Ok(out)
}

/// Applies `edit` to `row`; `field` is the input's path for errors.
pub fn apply(row: &mut TaskRow, edit: &TaskEdit, field: &str, now: Timestamp) -> AppResult<()> {
    if let Some(title) = &edit.title {
        row.title = title.clone();
    }
    if let Some(description) = &edit.description {
        row.description = description.clone();
    }
    if let Some(status) = edit.status {
        if status == TaskStatus::Done && row.status != TaskStatus::Done {
            row.completed_at = Some(now);
        } else if status != TaskStatus::Done {
            row.completed_at = None;
        }
        row.status = status;
    }
    if let Some(priority) = edit.priority {
        row.priority = priority;
    }
    if edit.tags.is_some() || !edit.add_tags.is_empty() || !edit.remove_tags.is_empty() {
        let mut tags = edit.tags.clone().unwrap_or_else(|| row.tag_list());
        for tag in &edit.add_tags {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        tags.retain(|t| !edit.remove_tags.contains(t));
        if tags.len() > super::validate::TAGS_MAX {
            return Err(AppError::bad_input(
                format!("{field}.addTags"),
                format!("a task holds at most {} tags", super::validate::TAGS_MAX),
            ));
        }
        row.tags = tags_json(&tags);
    }
    if let Some(due_at) = edit.due_at {
        row.due_at = due_at;
    }
    if let Some(position) = edit.position {
        row.position = position;
    }
    if let Some(project_id) = edit.project_id {
        row.project_id = project_id;
    }
    if let Some(assignee_id) = edit.assignee_id {
        row.assignee_id = assignee_id;
    }
    Ok(())
}

/// The assignee a write of `next` (over `current`; `None` for a new task)
/// must check is a member of `next`'s project: one it sets, or one a task
/// keeps as it moves to another project. `None`: nothing to check (an
/// assignee left as it was stays, even once no longer a member).
pub fn assignee_to_check(current: Option<&TaskRow>, next: &TaskRow) -> Option<Id> {
    let assignee = next.assignee_id?;
    match current {
        Some(c) if c.assignee_id == Some(assignee) && c.project_id == next.project_id => None,
        _ => Some(assignee),
    }
}

/// BAD_USER_INPUT on `{field}.assigneeId`: the assignee is not a member of
/// the task's project.
pub fn not_a_member(field: &str) -> AppError {
    AppError::bad_input(
        format!("{field}.assigneeId"),
        "must be a member of the task's project",
    )
}

/// Checks that each `(field, project, assignee)` names a member of the
/// project (one query per project): else BAD_USER_INPUT on the first
/// one's `{field}.assigneeId`.
pub async fn check_assignees(conn: &mut Conn<'_>, checks: &[(String, Id, Id)]) -> AppResult<()> {
    let mut wanted: HashMap<Id, Vec<Id>> = HashMap::new();
    for (_, project, user) in checks {
        wanted.entry(*project).or_default().push(*user);
    }
    let mut members: HashSet<(Id, Id)> = HashSet::new();
    for (project, users) in wanted {
        let found = access::members_among(conn, project, &users).await?;
        members.extend(found.into_iter().map(|user| (project, user)));
    }
    match checks
        .iter()
        .find(|(_, project, user)| !members.contains(&(*project, *user)))
    {
        Some((field, ..)) => Err(not_a_member(field)),
        None => Ok(()),
    }
}

/// Changes each of `ids` (live tasks of the viewer's) with `edit`, all or
/// none. `expected_version` applies when there is one id.
pub async fn edit(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    ids: &[Id],
    edit: &TaskEdit,
    expected_version: Option<i32>,
    field: &str,
) -> AppResult<Vec<TaskRow>> {
    // Their projects, in one query (each task is read again, checked, once
    // the streams are held).
    let sources = store::find_tasks_any(conn, viewer, ids).await?;
    // One seq per task in its project's stream; a task that moves takes it
    // in the target's and leaves a mark (one more) in its old project's.
    let live = sources.iter().filter(|t| t.deleted_at.is_none());
    let mut counts = counter::per_project(live.map(|t| t.project_id));
    for project in counts.keys() {
        access::require(conn, viewer, *project, Need::Write, not_found).await?;
    }
    if let Some(target) = edit.project_id {
        writable_project(conn, viewer, target, &format!("{field}.projectId")).await?;
        *counts.entry(target).or_insert(0) += ids.len();
    }
    let mut streams = Streams::reserve(conn, &counts).await?;
    let now = Timestamp::now();
    let mut planned = Vec::with_capacity(ids.len());
    let mut assignees = Vec::new();
    for id in ids {
        let current = live_at(conn, viewer, *id, expected_version).await?;
        let mut next = current.clone();
        apply(&mut next, edit, field, now)?;
        if let Some(assignee) = assignee_to_check(Some(&current), &next) {
            assignees.push((field.to_owned(), next.project_id, assignee));
        }
        planned.push((current, next));
    }
    check_assignees(conn, &assignees).await?;
    let mut out = Vec::with_capacity(ids.len());
    for (current, next) in planned {
        out.push(write(conn, viewer, &current, next, &mut streams, now).await?);
    }
    Ok(out)
}

/// The viewer's live task `id`: NOT_FOUND when there is none, CONFLICT
/// when it is not at `expected_version` (if given).
async fn live_at(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    expected_version: Option<i32>,
) -> AppResult<TaskRow> {
    let current = store::find_task(conn, viewer, id)
        .await?
        .ok_or_else(not_found)?;
    match expected_version {
        Some(expected) if expected != current.version => Err(conflict(&current, expected)),
        _ => Ok(current),
    }
}

/// Writes `next` over `current` with the next version, the viewer as its
/// last writer and the next `seq` of its project's stream (a task that
/// moved also leaves a mark in its old project's); CONFLICT when `current`
/// is no longer what is stored.
pub async fn write(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    current: &TaskRow,
    mut next: TaskRow,
    streams: &mut Streams,
    now: Timestamp,
) -> AppResult<TaskRow> {
    next.version = current.version + 1;
    next.seq = streams.next(conn, next.project_id).await?;
    next.updated_at = now;
    next.updated_by = Some(viewer.user_id);
    if next.project_id != current.project_id {
        let seq = streams.next(conn, current.project_id).await?;
        store::mark_departure(conn, current.project_id, current.id, seq).await?;
    }
    store::write_task(conn, viewer, &next, current.version)
        .await?
        .ok_or_else(|| conflict(current, current.version))
}

/// Clears `assignee`'s assignments in `project` as the viewer's writes,
/// for a member who is removed or leaves (before its membership row goes):
/// each live task assigned to it gets no assignee, the next version, the
/// next `seq` of the project's stream and the viewer as its last writer.
/// `need` is what the viewer's role there, checked by the caller, allows
/// (a member leaving may be a VIEWER). Returns the tasks as written.
///
/// A project holds at most `quota` tasks (its owner's task quota), so this
/// is one read, one reservation and one UPDATE of at most that many rows;
/// it goes on by such batches only while the owner is over a lowered quota.
/// The caller holds the project's row, so no other writer of the project
/// can move these tasks meanwhile.
pub async fn unassign(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    need: Need,
    project: Id,
    assignee: Id,
    quota: u64,
) -> AppResult<Vec<TaskRow>> {
    let batch = i64::try_from(quota.max(1)).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    loop {
        let current = store::assigned_to(conn, viewer, project, assignee, batch).await?;
        if current.is_empty() {
            return Ok(out);
        }
        let full = i64::try_from(current.len()).is_ok_and(|n| n >= batch);
        let mut streams = Streams::reserve_one(conn, project, current.len()).await?;
        let now = Timestamp::now();
        let mut rows = Vec::with_capacity(current.len());
        for task in &current {
            let mut next = task.clone();
            next.assignee_id = None;
            next.version = task.version + 1;
            next.seq = streams.next(conn, project).await?;
            next.updated_at = now;
            next.updated_by = Some(viewer.user_id);
            rows.push((next, task.version));
        }
        let written = store::write_tasks_as(conn, viewer, need, &rows).await?;
        if written.len() != current.len() {
            return Err(AppError::internal(
                "an assignment to clear changed under the project's lock",
            ));
        }
        out.extend(written);
        if !full {
            return Ok(out);
        }
    }
}

/// Soft-deletes a live task.
pub async fn delete(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    expected_version: Option<i32>,
) -> AppResult<TaskRow> {
    let project = live_at(conn, viewer, id, expected_version)
        .await?
        .project_id;
    access::require(conn, viewer, project, Need::Write, not_found).await?;
    let mut streams = Streams::reserve_one(conn, project, 1).await?;
    let current = live_at(conn, viewer, id, expected_version).await?;
    let now = Timestamp::now();
    let mut next = current.clone();
    next.deleted_at = Some(now);
    write(conn, viewer, &current, next, &mut streams, now).await
}

/// Brings a deleted task back (its project must be live).
pub async fn restore(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<TaskRow> {
    let current = store::find_task_any(conn, viewer, id)
        .await?
        .ok_or_else(not_found)?;
    reachable(
        conn,
        viewer,
        current.project_id,
        Reach::Live,
        Need::Write,
        not_found,
    )
    .await?;
    if current.deleted_at.is_none() {
        return Ok(current);
    }
    let mut streams = Streams::reserve_one(conn, current.project_id, 1).await?;
    let now = Timestamp::now();
    let mut next = current.clone();
    next.deleted_at = None;
    write(conn, viewer, &current, next, &mut streams, now).await
}
