//! Kinds and states of an operation, and the parameters each kind keeps.
//!
//! Kind and status are Rust enums from the row to the GraphQL enum; the
//! database keeps their names as text (`UPDATE_TASKS`, `RUNNING`, …), and a
//! stored name this build does not know is an error when the row is read,
//! never a default.

use async_graphql::Enum;
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::sql_types::Text;

use crate::db::types::{Id, Timestamp};
use crate::sync::push::{ProjectChange, TaskChange};
use crate::tasks::kinds::{TaskPriority, TaskStatus};
use crate::tasks::list::TaskFilterSpec;
use crate::tasks::writes::TaskEdit;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum OperationKind {
    UpdateTasks,
    DeleteTasks,
    ArchiveProject,
    DeleteProject,
    DeduplicateTasks,
    Import,
    Rollback,
    /// A copy of everything the user owns (started by `exportMyData`).
    ExportData,
}

crate::stored_names!(OperationKind, "operation kind", {
    UpdateTasks => "UPDATE_TASKS",
    DeleteTasks => "DELETE_TASKS",
    ArchiveProject => "ARCHIVE_PROJECT",
    DeleteProject => "DELETE_PROJECT",
    DeduplicateTasks => "DEDUPLICATE_TASKS",
    Import => "IMPORT",
    Rollback => "ROLLBACK",
    ExportData => "EXPORT_DATA",
});

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum OperationStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    RolledBack,
}

crate::stored_names!(OperationStatus, "operation status", {
    Pending => "PENDING",
    Running => "RUNNING",
    Completed => "COMPLETED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
    RolledBack => "ROLLED_BACK",
});

impl OperationStatus {
    /// Still to run or running.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// The validated input of an operation. It is stored as the versioned
/// shape of [`super::stored`], never as this type, so a change here can not
/// make a job already in the database unreadable.
#[derive(Debug, Clone)]
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
    /// Writes nothing: its items are the tasks it copies into the export,
    /// whose document may hold at most `max_bytes`.
    ExportData {
        max_bytes: u64,
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
            Self::ExportData { .. } => OperationKind::ExportData,
        }
    }
}

/// A checked `TaskPatch`: `None` leaves a field unchanged, `Some(None)`
/// clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatchParams {
    pub status: Option<TaskStatus>,
    pub priority: Option<Option<TaskPriority>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub due_at: Option<Option<Timestamp>>,
    pub project_id: Option<Id>,
    pub assignee_id: Option<Option<Id>>,
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
            assignee_id: edit.assignee_id,
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
            assignee_id: self.assignee_id,
            ..TaskEdit::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in OperationKind::ALL {
            assert_eq!(OperationKind::parse(kind.name()), Some(kind));
        }
        for status in OperationStatus::ALL {
            assert_eq!(OperationStatus::parse(status.name()), Some(status));
        }
    }

    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        kind: OperationKind,
        #[diesel(sql_type = Text)]
        status: OperationStatus,
    }

    fn read(kind: &str, status: &str) -> QueryResult<Stored> {
        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        diesel::sql_query("SELECT ? AS kind, ? AS status")
            .bind::<Text, _>(kind)
            .bind::<Text, _>(status)
            .get_result(&mut conn)
    }

    #[test]
    fn stored_names_read_back_as_the_enums() {
        let row = read("DEDUPLICATE_TASKS", "ROLLED_BACK").expect("known names");
        assert_eq!(row.kind, OperationKind::DeduplicateTasks);
        assert_eq!(row.status, OperationStatus::RolledBack);
    }

    #[test]
    fn an_unknown_stored_name_is_an_error_not_a_default() {
        let Err(err) = read("UPDATE_TASKS", "PAUSED") else {
            panic!("an unknown status was read");
        };
        assert!(
            err.to_string()
                .contains("unknown operation status `PAUSED`"),
            "{err}"
        );
        let Err(err) = read("update_tasks", "PENDING") else {
            panic!("an unknown kind was read");
        };
        assert!(
            err.to_string()
                .contains("unknown operation kind `update_tasks`"),
            "{err}"
        );
    }
}
