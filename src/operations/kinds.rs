//! Kinds and states of an operation, and the parameters each kind keeps.

use async_graphql::Enum;
use serde::{Deserialize, Serialize};

use crate::db::types::{Id, Timestamp};
use crate::sync::push::{ProjectChange, TaskChange};
use crate::tasks::kinds::{TaskPriority, TaskStatus};
use crate::tasks::list::TaskFilterSpec;
use crate::tasks::writes::TaskEdit;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationKind {
    UpdateTasks,
    DeleteTasks,
    ArchiveProject,
    DeleteProject,
    DeduplicateTasks,
    Import,
    Rollback,
}

impl OperationKind {
    pub const ALL: [Self; 7] = [
        Self::UpdateTasks,
        Self::DeleteTasks,
        Self::ArchiveProject,
        Self::DeleteProject,
        Self::DeduplicateTasks,
        Self::Import,
        Self::Rollback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::UpdateTasks => "UPDATE_TASKS",
            Self::DeleteTasks => "DELETE_TASKS",
            Self::ArchiveProject => "ARCHIVE_PROJECT",
            Self::DeleteProject => "DELETE_PROJECT",
            Self::DeduplicateTasks => "DEDUPLICATE_TASKS",
            Self::Import => "IMPORT",
            Self::Rollback => "ROLLBACK",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    RolledBack,
}

impl OperationStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::RolledBack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::RolledBack => "ROLLED_BACK",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Still to run or running.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// The validated input of an operation, kept in `operations.params` so that
/// any worker can run (or resume) it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Params {
    UpdateTasks {
        filter: TaskFilterSpec,
        patch: PatchParams,
    },
    DeleteTasks {
        filter: TaskFilterSpec,
    },
    ArchiveProject {
        project_id: Id,
    },
    DeleteProject {
        project_id: Id,
    },
    DeduplicateTasks {
        project_id: Option<Id>,
    },
    Import {
        projects: Vec<ProjectChange>,
        tasks: Vec<TaskChange>,
    },
    Rollback {
        of: Id,
    },
}

impl Params {
    pub fn kind(&self) -> OperationKind {
        match self {
            Self::UpdateTasks { .. } => OperationKind::UpdateTasks,
            Self::DeleteTasks { .. } => OperationKind::DeleteTasks,
            Self::ArchiveProject { .. } => OperationKind::ArchiveProject,
            Self::DeleteProject { .. } => OperationKind::DeleteProject,
            Self::DeduplicateTasks { .. } => OperationKind::DeduplicateTasks,
            Self::Import { .. } => OperationKind::Import,
            Self::Rollback { .. } => OperationKind::Rollback,
        }
    }
}

/// A checked `TaskPatch` as stored: an absent field is unchanged, a null one
/// is cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub priority: Option<Option<TaskPriority>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub due_at: Option<Option<Timestamp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<Id>,
}

/// A field that is present: `null` means "clear it".
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl PatchParams {
    pub fn from_edit(edit: &TaskEdit) -> Self {
        Self {
            status: edit.status,
            priority: edit.priority,
            add_tags: edit.add_tags.clone(),
            remove_tags: edit.remove_tags.clone(),
            due_at: edit.due_at,
            project_id: edit.project_id,
        }
    }

    pub fn edit(&self) -> TaskEdit {
        TaskEdit {
            status: self.status,
            priority: self.priority,
            add_tags: self.add_tags.clone(),
            remove_tags: self.remove_tags.clone(),
            due_at: self.due_at,
            project_id: self.project_id,
            ..TaskEdit::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleared_field_survives_storage_and_an_absent_one_stays_absent() {
        let patch = PatchParams {
            priority: Some(None),
            status: Some(TaskStatus::Done),
            ..PatchParams::default()
        };
        let json = serde_json::to_value(&patch).expect("serialises");
        assert_eq!(json, serde_json::json!({ "status": 3, "priority": null }));
        let back: PatchParams = serde_json::from_value(json).expect("parses");
        assert_eq!(back, patch);
        assert_eq!(back.due_at, None);
    }

    #[test]
    fn names_round_trip() {
        for kind in OperationKind::ALL {
            assert_eq!(OperationKind::parse(kind.name()), Some(kind));
        }
        for status in OperationStatus::ALL {
            assert_eq!(OperationStatus::parse(status.name()), Some(status));
        }
    }
}
