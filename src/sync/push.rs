//! The push: a client's offline changes, each checked against the server's
//! version and applied or reported as a conflict, all inside the caller's
//! transaction. Every change is the client's whole copy of the object.
//!
//! - no base version: a create with the client's id; if the viewer already
//!   has the object with the same content (a retried sync), it counts as
//!   applied;
//! - base version equal to the server's: applied (a new version and `seq`);
//! - stale base: a conflict carrying the server's copy, reason `deleted`
//!   when the server deleted it, else `updated` — unless the server copy
//!   already equals the change (a retried sync), which counts as applied;
//! - a change the viewer's role does not allow (a VIEWER's edit, an
//!   EDITOR's delete of a project): a conflict, reason `forbidden`, with
//!   the server's copy, so an offline client demoted meanwhile can drop it.
//!
//! So a retry never applies anything twice: what the first attempt wrote is
//! what the retry finds.

use std::collections::{HashMap, HashSet};

use crate::access::{self, Need, ProjectRole};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::events::changes::{Change, ChangeType, task_changes};
use crate::projects::model::ProjectRow;
use crate::projects::{store as project_store, writes as project_writes};
use crate::sync::counter::{self, Streams};
use crate::tasks::model::{TaskFields, TaskRow};
use crate::tasks::store as task_store;
use crate::tasks::writes::{self as task_writes, TaskEdit};

/// A validated project change; `field` is its input path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ProjectChange {
    pub field: String,
    pub id: Id,
    pub name: String,
    pub description: Option<String>,
    pub archived: bool,
    pub deleted: bool,
    pub base_version: Option<i32>,
}

/// A validated task change; `field` is its input path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TaskChange {
    pub field: String,
    pub id: Id,
    #[serde(flatten)]
    pub fields: TaskFields,
    pub deleted: bool,
    pub base_version: Option<i32>,
}

/// A change not applied, with the server's copy when there is one.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub id: Id,
    pub reason: &'static str,
    pub project: Option<ProjectRow>,
    pub task: Option<TaskRow>,
}

#[derive(Debug, Clone, Default)]
pub struct Pushed {
    pub applied: Vec<Id>,
    pub conflicts: Vec<Conflict>,
    /// One per row written, for the caller to stage on the bus.
    pub changes: Vec<Change>,
}

fn reason(deleted: bool) -> &'static str {
    if deleted { "deleted" } else { "updated" }
}

/// One row to write, decided before any is written.
enum Write {
    InsertProject(ProjectRow, String),
    UpdateProject {
        current: ProjectRow,
        next: ProjectRow,
    },
    InsertTask(TaskRow, String),
}

/// What the push reads first (two queries) and then keeps up to date as it
/// plans: the server copy of every object it names.
struct Plan {
    projects: HashMap<Id, ProjectRow>,
    /// The viewer's role in each project it names (OWNER in one it creates).
    roles: HashMap<Id, ProjectRole>,
    tasks: HashMap<Id, TaskRow>,
    writes: Vec<Write>,
    /// Task updates, `(next, current)`: written together at the end.
    task_updates: Vec<(TaskRow, TaskRow)>,
    out: Pushed,
    now: Timestamp,
    /// The pushing client: recorded on the tasks it writes.
    client_id: Option<String>,
    /// `(project, user)`: the members among the assignees the changes name
    /// (the viewer alone in a project this push creates).
    members: HashSet<(Id, Id)>,
}

/// Applies the changes, projects first (so tasks may name a project created
/// in the same push). Every decision is made on rows read after taking the
/// counter row; then the rows to write take their `seq`s in their
/// projects' streams.
pub async fn push(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    client_id: Option<String>,
    projects: Vec<ProjectChange>,
    tasks: Vec<TaskChange>,
) -> AppResult<Pushed> {
    if projects.is_empty() && tasks.is_empty() {
        return Ok(Pushed::default());
    }
    // Taking the counter row first orders this push after every earlier
    // write of the viewer's and before every later one; `seq`s are
    // reserved only for rows written, so a retry that writes nothing moves
    // no cursor.
    counter::lock(conn, viewer).await?;
    let mut project_ids: HashSet<Id> = projects.iter().map(|p| p.id).collect();
    project_ids.extend(tasks.iter().map(|t| t.fields.project_id));
    let project_ids: Vec<Id> = project_ids.into_iter().collect();
    let task_ids: Vec<Id> = tasks.iter().map(|t| t.id).collect();
    let assignees: Vec<Id> = tasks.iter().filter_map(|t| t.fields.assignee_id).collect();
    let mut plan = Plan {
        projects: project_store::find_projects_any(conn, viewer, &project_ids)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect(),
        roles: access::roles(conn, viewer, &project_ids)
            .await?
            .into_iter()
            .collect(),
        tasks: task_store::find_tasks_any(conn, viewer, &task_ids)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect(),
        writes: Vec::new(),
        task_updates: Vec::new(),
        out: Pushed::default(),
        now: Timestamp::now(),
        client_id,
        members: access::memberships(conn, &project_ids, &assignees)
            .await?
            .into_iter()
            .collect(),
    };
    for change in projects {
        plan.project(viewer, change);
    }
    for change in tasks {
        plan.task(viewer, change)?;
    }
    let streams = plan.writes.iter().filter_map(|write| match write {
        // A new project's row is the first of its own stream.
        Write::InsertProject(..) => None,
        Write::UpdateProject { next, .. } => Some(next.id),
        Write::InsertTask(row, _) => Some(row.project_id),
    });
    let moved = plan
        .task_updates
        .iter()
        .filter(|(next, current)| next.project_id != current.project_id)
        .map(|(_, current)| current.project_id);
    let counts = counter::per_project(
        streams
            .chain(plan.task_updates.iter().map(|(next, _)| next.project_id))
            .chain(moved),
    );
    let mut streams = Streams::reserve(conn, &counts).await?;
    for write in plan.writes {
        plan.out
            .changes
            .push(apply(conn, viewer, write, &mut streams).await?);
    }
    // After the rest (projects they may move to included), in one
    // statement on PostgreSQL.
    for (next, current) in &mut plan.task_updates {
        next.seq = streams.next(conn, next.project_id).await?;
        next.updated_by = Some(viewer.user_id);
        if next.project_id != current.project_id {
            let seq = streams.next(conn, current.project_id).await?;
            task_store::mark_departure(conn, current.project_id, current.id, seq).await?;
        }
    }
    let changes = update_tasks(conn, viewer, plan.task_updates).await?;
    plan.out.changes.extend(changes);
    Ok(plan.out)
}

/// Writes every planned task update (`(next, current)`); CONFLICT (with the
/// first stale one) unless each was still at the version the plan read.
async fn update_tasks(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    updates: Vec<(TaskRow, TaskRow)>,
) -> AppResult<Vec<Change>> {
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(TaskRow, i32)> = updates
        .iter()
        .map(|(next, current)| (next.clone(), current.version))
        .collect();
    let written = task_store::write_tasks(conn, viewer, &rows).await?;
    if written.len() != updates.len() {
        let done: HashSet<Id> = written.iter().map(|row| row.id).collect();
        if let Some((_, current)) = updates.iter().find(|(next, _)| !done.contains(&next.id)) {
            return Err(task_writes::conflict(current, current.version));
        }
    }
    let before: HashMap<Id, &TaskRow> = updates
        .iter()
        .map(|(_, current)| (current.id, current))
        .collect();
    let mut changes = Vec::with_capacity(written.len());
    for row in written {
        let current = before[&row.id];
        let kind = ChangeType::of(Some(current.deleted_at.is_some()), row.deleted_at.is_some());
        changes.extend(task_changes(kind, std::slice::from_ref(current), &[row]));
    }
    Ok(changes)
}

async fn apply(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    write: Write,
    streams: &mut Streams,
) -> AppResult<Change> {
    let change = match write {
        Write::InsertProject(row, field) => {
            let row = project_store::insert_project(conn, viewer, &row, &field).await?;
            Change::project(ChangeType::Created, &row)
        }
        Write::UpdateProject { current, mut next } => {
            next.seq = streams.next(conn, next.id).await?;
            let row = project_store::write_project(conn, viewer, &next, current.version)
                .await?
                .ok_or_else(|| project_writes::conflict(&current, current.version))?;
            let kind = ChangeType::of(Some(current.deleted_at.is_some()), row.deleted_at.is_some());
            Change::project(kind, &row)
        }
        Write::InsertTask(mut row, field) => {
            row.seq = streams.next(conn, row.project_id).await?;
            let row = task_store::insert_task(conn, viewer, &row, &field).await?;
            Change::task(ChangeType::Created, &row)
        }
    };
    Ok(change)
}

fn project_matches(row: &ProjectRow, change: &ProjectChange) -> bool {
    row.name == change.name
        && row.description == change.description
        && row.archived_at.is_some() == change.archived
        && row.deleted_at.is_some() == change.deleted
}

fn set_project(row: &mut ProjectRow, change: &ProjectChange, now: Timestamp) {
    row.name = change.name.clone();
    row.description = change.description.clone();
    row.archived_at = if change.archived {
        row.archived_at.or(Some(now))
    } else {
        None
    };
    row.deleted_at = if change.deleted {
        row.deleted_at.or(Some(now))
    } else {
        None
    };
}

fn task_matches(row: &TaskRow, change: &TaskChange) -> bool {
    row.fields() == change.fields && row.deleted_at.is_some() == change.deleted
}

fn set_task(row: &mut TaskRow, change: &TaskChange, now: Timestamp) -> AppResult<()> {
    task_writes::apply(row, &TaskEdit::replace(&change.fields), &change.field, now)?;
    row.deleted_at = if change.deleted {
        row.deleted_at.or(Some(now))
    } else {
        None
    };
    Ok(())
}

/// A change the viewer's role does not allow, with the server's copy.
fn forbidden(id: Id, project: Option<ProjectRow>, task: Option<TaskRow>) -> Conflict {
    Conflict {
        id,
        reason: "forbidden",
        project,
        task,
    }
}

fn missing(id: Id) -> Conflict {
    Conflict {
        id,
        reason: "missing",
        project: None,
        task: None,
    }
}

impl Plan {
    fn project(&mut self, viewer: &Viewer, change: ProjectChange) {
        let now = self.now;
        match (self.projects.get(&change.id), change.base_version) {
            (None, None) => {
                let mut row = ProjectRow::new(viewer.user_id, change.id, String::new(), None, now);
                set_project(&mut row, &change, now);
                self.projects.insert(row.id, row.clone());
                self.roles.insert(row.id, ProjectRole::Owner);
                self.members.insert((row.id, viewer.user_id));
                self.writes
                    .push(Write::InsertProject(row, format!("{}.id", change.field)));
                self.out.applied.push(change.id);
            }
            (None, Some(_)) => self.out.conflicts.push(missing(change.id)),
            (Some(current), _) if project_matches(current, &change) => {
                self.out.applied.push(change.id);
            }
            (Some(current), Some(base)) if base == current.version => {
                let need = match current.deleted_at.is_some() == change.deleted {
                    true => Need::Write,
                    false => Need::Manage,
                };
                if !self.allows(current.id, need) {
                    let copy = Some(current.clone());
                    self.out.conflicts.push(forbidden(change.id, copy, None));
                    return;
                }
                let current = current.clone();
                let mut next = current.clone();
                set_project(&mut next, &change, now);
                next.version = current.version + 1;
                next.updated_at = now;
                self.projects.insert(next.id, next.clone());
                self.writes.push(Write::UpdateProject { current, next });
                self.out.applied.push(change.id);
            }
            (Some(current), _) => self.out.conflicts.push(Conflict {
                id: change.id,
                reason: reason(current.deleted_at.is_some()),
                project: Some(current.clone()),
                task: None,
            }),
        }
    }

    /// The task's project must be one the viewer sees (a deleted one will
    /// do: the task then stays hidden with it); returns its owner.
    fn check_project(&self, change: &TaskChange) -> AppResult<Id> {
        match self.projects.get(&change.fields.project_id) {
            Some(project) => Ok(project.owner_id),
            None => Err(AppError::bad_input(
                format!("{}.projectId", change.field),
                "project not found",
            )),
        }
    }

    /// An assignee `next` sets (or keeps as it moves) must be a member of
    /// its project: else BAD_USER_INPUT on the change's `assigneeId`.
    fn check_assignee(
        &self,
        current: Option<&TaskRow>,
        next: &TaskRow,
        field: &str,
    ) -> AppResult<()> {
        match task_writes::assignee_to_check(current, next) {
            Some(user) if !self.members.contains(&(next.project_id, user)) => {
                Err(task_writes::not_a_member(field))
            }
            _ => Ok(()),
        }
    }

    /// Does the viewer's role in `project` allow `need`?
    fn allows(&self, project: Id, need: Need) -> bool {
        self.roles
            .get(&project)
            .is_some_and(|role| role.allows(need))
    }

    fn task(&mut self, viewer: &Viewer, change: TaskChange) -> AppResult<()> {
        let now = self.now;
        match (self.tasks.get(&change.id), change.base_version) {
            (None, None) => {
                let owner = self.check_project(&change)?;
                if !self.allows(change.fields.project_id, Need::Write) {
                    self.out.conflicts.push(forbidden(change.id, None, None));
                    return Ok(());
                }
                let mut row =
                    TaskRow::new(owner, viewer.user_id, change.id, change.fields.clone(), now);
                row.client_id.clone_from(&self.client_id);
                set_task(&mut row, &change, now)?;
                self.check_assignee(None, &row, &change.field)?;
                self.tasks.insert(row.id, row.clone());
                self.writes
                    .push(Write::InsertTask(row, format!("{}.id", change.field)));
                self.out.applied.push(change.id);
            }
            (None, Some(_)) => self.out.conflicts.push(missing(change.id)),
            (Some(current), _) if task_matches(current, &change) => {
                self.out.applied.push(change.id);
            }
            (Some(current), Some(base)) if base == current.version => {
                let current = current.clone();
                if change.fields.project_id != current.project_id {
                    self.check_project(&change)?;
                }
                if !self.allows(current.project_id, Need::Write)
                    || !self.allows(change.fields.project_id, Need::Write)
                {
                    self.out
                        .conflicts
                        .push(forbidden(change.id, None, Some(current)));
                    return Ok(());
                }
                let mut next = current.clone();
                set_task(&mut next, &change, now)?;
                self.check_assignee(Some(&current), &next, &change.field)?;
                next.client_id.clone_from(&self.client_id);
                next.version = current.version + 1;
                next.updated_at = now;
                self.tasks.insert(next.id, next.clone());
                // A second change of the same task in one push replaces the
                // planned row, still conditional on the stored version.
                match self
                    .task_updates
                    .iter_mut()
                    .find(|(row, _)| row.id == next.id)
                {
                    Some(planned) => planned.0 = next,
                    None => self.task_updates.push((next, current)),
                }
                self.out.applied.push(change.id);
            }
            (Some(current), _) => self.out.conflicts.push(Conflict {
                id: change.id,
                reason: reason(current.deleted_at.is_some()),
                project: None,
                task: Some(current.clone()),
            }),
        }
        Ok(())
    }
}
