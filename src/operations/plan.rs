//! What each item of an operation becomes: a write (the object as it is and
//! as it will be), a skip, or a failure. The dry run and the worker both
//! plan with this module, so a dry run shows exactly what the run would do.

use std::collections::{HashMap, HashSet};

use super::kinds::Params;
use super::model::{OperationRecordRow, PROJECT, TASK};
use super::snapshot::{ProjectSnapshot, TaskSnapshot, version_of};
use super::store;
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::{Id, JsonDoc, Timestamp};
use crate::error::AppResult;
use crate::events::changes::{Change, ChangeType};
use crate::projects::model::ProjectRow;
use crate::projects::store as project_store;
use crate::sync::push::{ProjectChange, TaskChange};
use crate::tasks::list;
use crate::tasks::model::TaskRow;
use crate::tasks::store as task_store;
use crate::tasks::writes::{self as task_writes, TaskEdit};

/// An object as a plan holds it.
#[derive(Debug, Clone)]
pub enum Object {
    Task(TaskRow),
    Project(ProjectRow),
}

impl Object {
    pub fn version(&self) -> i32 {
        match self {
            Self::Task(t) => t.version,
            Self::Project(p) => p.version,
        }
    }

    fn deleted(&self) -> bool {
        match self {
            Self::Task(t) => t.deleted_at.is_some(),
            Self::Project(p) => p.deleted_at.is_some(),
        }
    }

    pub fn snapshot(&self) -> JsonDoc {
        match self {
            Self::Task(t) => TaskSnapshot::json(t),
            Self::Project(p) => ProjectSnapshot::json(p),
        }
    }

    /// The bus event for this object, having changed as `change_type`.
    pub fn change(&self, change_type: ChangeType) -> Change {
        match self {
            Self::Task(t) => Change::task(change_type, t),
            Self::Project(p) => Change::project(change_type, p),
        }
    }
}

/// One planned write: `current` is `None` for a create.
#[derive(Debug, Clone)]
pub struct Write {
    pub current: Option<Object>,
    pub next: Object,
}

impl Write {
    pub fn change_type(&self) -> ChangeType {
        match &self.current {
            None => ChangeType::Created,
            Some(current) => match (current.deleted(), self.next.deleted()) {
                (false, true) => ChangeType::Deleted,
                (true, false) => ChangeType::Restored,
                _ => ChangeType::Updated,
            },
        }
    }

    /// The record of this write, `after` being what was written.
    pub fn record(&self, operation_id: Id, seq: i32, written: &Object) -> OperationRecordRow {
        let (entity_type, entity_id) = match written {
            Object::Task(t) => (TASK, t.id),
            Object::Project(p) => (PROJECT, p.id),
        };
        OperationRecordRow {
            operation_id,
            seq,
            entity_type: entity_type.to_owned(),
            entity_id,
            action: action_name(self.change_type()).to_owned(),
            before: self.current.as_ref().map(Object::snapshot),
            after: Some(written.snapshot()),
        }
    }
}

pub fn action_name(change: ChangeType) -> &'static str {
    match change {
        ChangeType::Created => "CREATED",
        ChangeType::Updated => "UPDATED",
        ChangeType::Deleted => "DELETED",
        ChangeType::Restored => "RESTORED",
    }
}

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
    let task_ids: Vec<Id> = items
        .iter()
        .filter(|(e, _)| e == TASK)
        .map(|(_, id)| *id)
        .collect();
    let mut project_ids: Vec<Id> = items
        .iter()
        .filter(|(e, _)| e == PROJECT)
        .map(|(_, id)| *id)
        .collect();
    let found = match range {
        Some(range) => store::range_tasks(conn, viewer, range).await?,
        None => task_store::find_tasks_any(conn, viewer, &task_ids).await?,
    };
    let tasks: HashMap<Id, TaskRow> = found.into_iter().map(|t| (t.id, t)).collect();
    project_ids.extend(tasks.values().map(|t| t.project_id));
    if let Params::Import { tasks: changes, .. } = params {
        project_ids.extend(changes.iter().map(|t| t.fields.project_id));
    }
    if let Params::UpdateTasks { patch, .. } = params
        && let Some(target) = patch.project_id
    {
        project_ids.push(target);
    }
    project_ids.sort_unstable();
    project_ids.dedup();
    let projects: HashMap<Id, ProjectRow> =
        project_store::find_projects_any(conn, viewer, &project_ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
    let mut batch = Batch {
        viewer,
        now,
        tasks,
        projects,
        records: HashMap::new(),
        taken: HashSet::new(),
    };
    match params {
        Params::Rollback { of } => {
            let ids: Vec<Id> = items.iter().map(|(_, id)| *id).collect();
            let found = match range {
                Some(range) => store::range_records(conn, *of, range).await?,
                None => store::records_of(conn, *of, &ids).await?,
            };
            batch.records = found
                .into_iter()
                .map(|r| ((r.entity_type.clone(), r.entity_id), r))
                .collect();
        }
        Params::Import { .. } => {
            let mut taken = store::task_ids_taken(conn, &task_ids).await?;
            taken.extend(store::project_ids_taken(conn, &project_ids).await?);
            batch.taken = taken.into_iter().collect();
        }
        _ => {}
    }
    let mut out = Vec::with_capacity(items.len());
    let edit = match params {
        Params::UpdateTasks { patch, .. } => Some(patch.edit()),
        _ => None,
    };
    let import = match params {
        Params::Import { projects, tasks } => Some(Import::new(projects, tasks)),
        _ => None,
    };
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
        };
        // Later items of the batch see what earlier ones will have written.
        if let Outcome::Write(write) = &outcome {
            match &write.next {
                Object::Task(t) => {
                    batch.tasks.insert(t.id, t.clone());
                }
                Object::Project(p) => {
                    batch.projects.insert(p.id, p.clone());
                }
            }
        }
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
    /// Rollback: the original records, by entity.
    records: HashMap<(String, Id), OperationRecordRow>,
    /// Import: ids already in use (by anyone).
    taken: HashSet<Id>,
}

impl Batch<'_> {
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
        // The project is the viewer's, or one this import creates.
        let project_ok = self.projects.contains_key(&change.fields.project_id)
            || (import.projects.contains_key(&change.fields.project_id)
                && !self.taken.contains(&change.fields.project_id));
        if !project_ok {
            return Ok(Outcome::Fail("the project is not the viewer's".into()));
        }
        let mut row = TaskRow::new(self.viewer.user_id, id, change.fields.clone(), now);
        row.deleted_at = change.deleted.then_some(now);
        Ok(Outcome::Write(Write {
            current: None,
            next: Object::Task(row),
        }))
    }

    fn rollback(&self, entity: &str, id: Id) -> AppResult<Outcome> {
        let Some(record) = self.records.get(&(entity.to_owned(), id)) else {
            return Ok(Outcome::Skip);
        };
        let after_version = record.after.as_ref().and_then(version_of);
        if entity == PROJECT {
            let Some(current) = self.projects.get(&id) else {
                return Ok(Outcome::Skip);
            };
            if Some(current.version) != after_version {
                return Ok(Outcome::Skip);
            }
            let mut next = current.clone();
            match &record.before {
                Some(before) => ProjectSnapshot::parse(before)?.restore(&mut next),
                None => next.deleted_at = next.deleted_at.or(Some(self.now)),
            }
            next.version = current.version + 1;
            return Ok(Outcome::Write(Write {
                current: Some(Object::Project(current.clone())),
                next: Object::Project(next),
            }));
        }
        let Some(current) = self.tasks.get(&id) else {
            return Ok(Outcome::Skip);
        };
        if Some(current.version) != after_version {
            return Ok(Outcome::Skip);
        }
        let mut next = current.clone();
        match &record.before {
            Some(before) => TaskSnapshot::parse(before)?.restore(&mut next)?,
            None => next.deleted_at = next.deleted_at.or(Some(self.now)),
        }
        next.version = current.version + 1;
        Ok(Outcome::Write(Write {
            current: Some(Object::Task(current.clone())),
            next: Object::Task(next),
        }))
    }
}
