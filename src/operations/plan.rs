//! What each item of an operation becomes: a write (the object as it is and
//! as it will be), a skip, or a failure. The dry run and the worker both
//! plan with this module, so a dry run shows exactly what the run would do.

mod object;
mod read;
mod rollback;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use self::object::{Object, Write, action_name};
use super::kinds::Params;
use super::model::{OperationRecordRow, PROJECT, TASK};
use super::store;
use crate::access::{Need, ProjectRole};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::AppResult;
use crate::export::store as export_store;
use crate::projects::model::ProjectRow;
use crate::sync::counter;
use crate::sync::push::{ProjectChange, TaskChange};
use crate::tasks::list;
use crate::tasks::model::TaskRow;
use crate::tasks::writes::{self as task_writes, TaskEdit};

#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "a batch's worth, consumed at once; boxing would cost an allocation per write"
)]
pub enum Outcome {
    Write(Write),
    /// Nothing to do (already so, gone, or changed since).
    Skip,
    /// Can not be done; the reason is for the log.
    Fail(String),
}

/// The items of an operation, fixed at its start: at most `limit`.
pub async fn items(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    params: &Params,
    limit: i64,
) -> AppResult<Vec<(&'static str, Id)>> {
    let tasks = |ids: Vec<Id>| ids.into_iter().map(|id| (TASK, id)).collect::<Vec<_>>();
    Ok(match params {
        Params::UpdateTasks { filter, .. } | Params::DeleteTasks { filter } => {
            tasks(list::ids(conn, viewer, filter, limit).await?)
        }
        Params::ArchiveProject { project_id } => vec![(PROJECT, *project_id)],
        Params::DeleteProject { project_id } => {
            let mut items = tasks(store::project_task_ids(conn, viewer, *project_id, limit).await?);
            items.push((PROJECT, *project_id));
            items
        }
        Params::DeduplicateTasks { project_id } => {
            tasks(store::duplicate_tasks(conn, viewer, *project_id, limit).await?)
        }
        Params::Import {
            projects,
            tasks: task_changes,
        } => projects
            .iter()
            .map(|p| (PROJECT, p.id))
            .chain(task_changes.iter().map(|t| (TASK, t.id)))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect(),
        Params::Rollback { of } => store::recorded_entities(conn, *of)
            .await?
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(entity, id)| (if entity == PROJECT { PROJECT } else { TASK }, id))
            .collect(),
        Params::ExportData { .. } => tasks(export_store::task_ids(conn, viewer, limit).await?),
    })
}

/// Plans `items` (in order) for the viewer, reading what they name in a
/// few queries.
/// `range`: where the items are stored (the worker's batches); `None` for a
/// dry run, whose items are not stored.
pub async fn plan(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    params: &Params,
    items: &[(String, Id)],
    range: Option<store::ItemRange>,
    now: Timestamp,
) -> AppResult<Vec<Outcome>> {
    let mut batch = Batch::read(conn, viewer, params, items, range, now).await?;
    let edit = match params {
        Params::UpdateTasks { patch, .. } => Some(patch.edit()),
        _ => None,
    };
    let import = match params {
        Params::Import { projects, tasks } => Some(Import::new(projects, tasks)),
        _ => None,
    };
    let mut out = Vec::with_capacity(items.len());
    for (entity, id) in items {
        let outcome = match params {
            Params::UpdateTasks { .. } => batch.update_task(*id, edit.as_ref()),
            Params::DeleteTasks { .. }
            | Params::DeduplicateTasks { .. }
            | Params::DeleteProject { .. }
                if entity == TASK =>
            {
                batch.delete_task(*id)
            }
            Params::DeleteProject { .. } => batch.project(*id, |p, now| p.deleted_at = Some(now)),
            Params::ArchiveProject { .. } => batch.project(*id, |p, now| {
                p.archived_at = p.archived_at.or(Some(now));
            }),
            Params::Import { .. } => match &import {
                Some(import) => batch.import(import, entity, *id)?,
                None => Outcome::Skip,
            },
            Params::Rollback { .. } => batch.rollback(entity, *id)?,
            Params::DeleteTasks { .. } | Params::DeduplicateTasks { .. } => Outcome::Skip,
            // Writes nothing: its batches are `export::worker`'s.
            Params::ExportData { .. } => Outcome::Skip,
        };
        let outcome = batch.permit(outcome);
        batch.remember(&outcome);
        out.push(outcome);
    }
    Ok(out)
}

struct Import<'p> {
    projects: HashMap<Id, &'p ProjectChange>,
    tasks: HashMap<Id, &'p TaskChange>,
}

impl<'p> Import<'p> {
    fn new(projects: &'p [ProjectChange], tasks: &'p [TaskChange]) -> Self {
        Self {
            projects: projects.iter().map(|p| (p.id, p)).collect(),
            tasks: tasks.iter().map(|t| (t.id, t)).collect(),
        }
    }
}

struct Batch<'v> {
    viewer: &'v Viewer,
    now: Timestamp,
    tasks: HashMap<Id, TaskRow>,
    projects: HashMap<Id, ProjectRow>,
    /// The viewer's role in each project of `projects`, read with them at
    /// every batch: a member demoted or removed since the operation
    /// started writes there no more.
    roles: HashMap<Id, ProjectRole>,
    /// Rollback: the original records, by entity.
    records: HashMap<(String, Id), OperationRecordRow>,
    /// Import: ids already in use (by anyone).
    taken: HashSet<Id>,
    /// `(project, user)`: the members among the assignees the batch may
    /// write (the viewer in a project the batch creates).
    members: HashSet<(Id, Id)>,
}

/// The projects' streams a batch's writes take `seq`s in, and how many:
/// a task's (new) project, a project's own (but a new project's first
/// change, whose `seq` is fixed), and a moved task's old project too.
pub fn streams_of(writes: &[&Write]) -> BTreeMap<Id, usize> {
    counter::per_project(
        writes
            .iter()
            .flat_map(|write| match (&write.current, &write.next) {
                (Some(Object::Task(current)), Object::Task(next))
                    if current.project_id != next.project_id =>
                {
                    vec![next.project_id, current.project_id]
                }
                (_, Object::Task(next)) => vec![next.project_id],
                (Some(_), Object::Project(next)) => vec![next.id],
                (None, Object::Project(_)) => vec![],
            }),
    )
}

impl Batch<'_> {
    /// Later items of the batch see what earlier ones will have written.
    fn remember(&mut self, outcome: &Outcome) {
        if let Outcome::Write(write) = outcome {
            match &write.next {
                Object::Task(t) => {
                    self.tasks.insert(t.id, t.clone());
                }
                Object::Project(p) => {
                    if write.current.is_none() {
                        self.roles.insert(p.id, ProjectRole::Owner);
                        self.members.insert((p.id, self.viewer.user_id));
                    }
                    self.projects.insert(p.id, p.clone());
                }
            }
        }
    }

    /// The guard over a planned write: the viewer's role must allow it in
    /// every project it touches (for a project's deletion or restore, the
    /// OWNER's), else the item fails. A new project is the viewer's own.
    /// An assignee the write sets (or a moved task keeps) must be a member
    /// of the task's project, else the item fails too.
    fn permit(&self, outcome: Outcome) -> Outcome {
        let Outcome::Write(write) = &outcome else {
            return outcome;
        };
        if let Object::Task(next) = &write.next {
            let current = match &write.current {
                Some(Object::Task(current)) => Some(current),
                _ => None,
            };
            if let Some(user) = task_writes::assignee_to_check(current, next)
                && !self.members.contains(&(next.project_id, user))
            {
                return Outcome::Fail("the assignee is not a member of the project".into());
            }
        }
        let allows = |project: Id, need: Need| {
            self.roles
                .get(&project)
                .is_some_and(|role| role.allows(need))
        };
        let permitted = match (&write.current, &write.next) {
            (Some(Object::Task(current)), Object::Task(next)) => {
                allows(current.project_id, Need::Write) && allows(next.project_id, Need::Write)
            }
            (None, Object::Task(next)) => allows(next.project_id, Need::Write),
            (Some(Object::Project(current)), Object::Project(next)) => {
                let need = match current.deleted_at.is_some() == next.deleted_at.is_some() {
                    true => Need::Write,
                    false => Need::Manage,
                };
                allows(current.id, need)
            }
            (None, Object::Project(_)) => true,
            _ => false,
        };
        match permitted {
            true => outcome,
            false => Outcome::Fail("the viewer's role in the project does not allow it".into()),
        }
    }

    fn live_project(&self, id: Id) -> Option<&ProjectRow> {
        self.projects.get(&id).filter(|p| p.deleted_at.is_none())
    }

    /// The viewer's live task in a live project.
    fn live_task(&self, id: Id) -> Option<&TaskRow> {
        self.tasks
            .get(&id)
            .filter(|t| t.deleted_at.is_none() && self.live_project(t.project_id).is_some())
    }

    fn task_write(current: &TaskRow, mut next: TaskRow) -> Outcome {
        if next == *current {
            return Outcome::Skip;
        }
        next.version = current.version + 1;
        Outcome::Write(Write {
            current: Some(Object::Task(current.clone())),
            next: Object::Task(next),
        })
    }

    fn update_task(&self, id: Id, edit: Option<&TaskEdit>) -> Outcome {
        let (Some(current), Some(edit)) = (self.live_task(id), edit) else {
            return Outcome::Skip;
        };
        if let Some(target) = edit.project_id
            && self.live_project(target).is_none()
        {
            return Outcome::Fail("the target project is gone".into());
        }
        let mut next = current.clone();
        if task_writes::apply(&mut next, edit, "patch", self.now).is_err() {
            return Outcome::Fail("the patch breaks a rule of this task".into());
        }
        Self::task_write(current, next)
    }

    fn delete_task(&self, id: Id) -> Outcome {
        let Some(current) = self.live_task(id) else {
            return Outcome::Skip;
        };
        let mut next = current.clone();
        next.deleted_at = Some(self.now);
        Self::task_write(current, next)
    }

    fn project(&self, id: Id, change: impl FnOnce(&mut ProjectRow, Timestamp)) -> Outcome {
        let Some(current) = self.live_project(id) else {
            return Outcome::Skip;
        };
        let mut next = current.clone();
        change(&mut next, self.now);
        if next == *current {
            return Outcome::Skip;
        }
        next.version = current.version + 1;
        Outcome::Write(Write {
            current: Some(Object::Project(current.clone())),
            next: Object::Project(next),
        })
    }

    fn import(&self, import: &Import<'_>, entity: &str, id: Id) -> AppResult<Outcome> {
        let now = self.now;
        if entity == PROJECT {
            let Some(change) = import.projects.get(&id) else {
                return Ok(Outcome::Skip);
            };
            if self.projects.contains_key(&id) {
                return Ok(Outcome::Skip);
            }
            if self.taken.contains(&id) {
                return Ok(Outcome::Fail("the id is in use".into()));
            }
            let mut row = ProjectRow::new(
                self.viewer.user_id,
                id,
                change.name.clone(),
                change.description.clone(),
                now,
            );
            row.archived_at = change.archived.then_some(now);
            row.deleted_at = change.deleted.then_some(now);
            return Ok(Outcome::Write(Write {
                current: None,
                next: Object::Project(row),
            }));
        }
        let Some(change) = import.tasks.get(&id) else {
            return Ok(Outcome::Skip);
        };
        if self.tasks.contains_key(&id) {
            return Ok(Outcome::Skip);
        }
        if self.taken.contains(&id) {
            return Ok(Outcome::Fail("the id is in use".into()));
        }
        // A project the viewer sees, or one this import creates.
        let project_ok = self.projects.contains_key(&change.fields.project_id)
            || (import.projects.contains_key(&change.fields.project_id)
                && !self.taken.contains(&change.fields.project_id));
        if !project_ok {
            return Ok(Outcome::Fail("the viewer can not see the project".into()));
        }
        // A project the viewer sees has its owner; one this import creates
        // will be the viewer's.
        let owner = self
            .projects
            .get(&change.fields.project_id)
            .map_or(self.viewer.user_id, |p| p.owner_id);
        let mut row = TaskRow::new(owner, self.viewer.user_id, id, change.fields.clone(), now);
        row.deleted_at = change.deleted.then_some(now);
        Ok(Outcome::Write(Write {
            current: None,
            next: Object::Task(row),
        }))
    }
}
