//! What a plan holds and produces: an object (task or project) and one
//! planned write of it, with its record and its bus event.

use crate::db::types::{Id, JsonDoc};
use crate::events::changes::{Change, ChangeType};
use crate::operations::model::{OperationRecordRow, PROJECT, TASK};
use crate::operations::snapshot::{ProjectSnapshot, TaskSnapshot};
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;

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
        // Operations change no membership; named for completeness.
        ChangeType::MemberAdded => "MEMBER_ADDED",
        ChangeType::MemberRemoved => "MEMBER_REMOVED",
        ChangeType::RoleChanged => "ROLE_CHANGED",
    }
}
