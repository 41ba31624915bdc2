//! What a record keeps of an object: every field a user can change, and the
//! version, in the names the GraphQL API uses. A rollback writes `before`
//! back field by field.

use serde::{Deserialize, Serialize};

use crate::db::types::{Id, JsonDoc, StoredCode, Timestamp};
use crate::error::{AppError, AppResult};
use crate::projects::model::ProjectRow;
use crate::tasks::kinds::{TaskPriority, TaskStatus};
use crate::tasks::model::TaskRow;
use crate::tasks::model::tags_json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnapshot {
    pub project_id: Id,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub priority: Option<String>,
    pub tags: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub position: Option<f64>,
    pub completed_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    /// Absent in records kept before assignees (when no task had one).
    #[serde(default)]
    pub assignee_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSnapshot {
    pub name: String,
    pub description: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
}

fn unreadable() -> AppError {
    AppError::internal("an operation record does not parse")
}

impl TaskSnapshot {
    pub fn of(row: &TaskRow) -> Self {
        Self {
            project_id: row.project_id,
            title: row.title.clone(),
            description: row.description.clone(),
            status: row.status.name().to_owned(),
            priority: row.priority.map(|p| p.name().to_owned()),
            tags: row.tag_list(),
            due_at: row.due_at,
            position: row.position,
            completed_at: row.completed_at,
            deleted_at: row.deleted_at,
            version: row.version,
            assignee_id: row.assignee_id,
        }
    }

    pub fn json(row: &TaskRow) -> JsonDoc {
        JsonDoc(serde_json::to_value(Self::of(row)).unwrap_or_default())
    }

    pub fn parse(doc: &JsonDoc) -> AppResult<Self> {
        serde_json::from_value(doc.0.clone()).map_err(|_| unreadable())
    }

    /// Puts these fields onto `row` (version, seq and times are the writer's).
    pub fn restore(&self, row: &mut TaskRow) -> AppResult<()> {
        let status = TaskStatus::ALL
            .iter()
            .copied()
            .find(|s| s.name() == self.status)
            .ok_or_else(unreadable)?;
        let priority = match &self.priority {
            None => None,
            Some(name) => Some(
                TaskPriority::ALL
                    .iter()
                    .copied()
                    .find(|p| p.name() == name)
                    .ok_or_else(unreadable)?,
            ),
        };
        row.project_id = self.project_id;
        row.title = self.title.clone();
        row.description = self.description.clone();
        row.status = status;
        row.priority = priority;
        row.tags = tags_json(&self.tags);
        row.due_at = self.due_at;
        row.position = self.position;
        row.completed_at = self.completed_at;
        row.deleted_at = self.deleted_at;
        row.assignee_id = self.assignee_id;
        Ok(())
    }
}

impl ProjectSnapshot {
    pub fn of(row: &ProjectRow) -> Self {
        Self {
            name: row.name.clone(),
            description: row.description.clone(),
            archived_at: row.archived_at,
            deleted_at: row.deleted_at,
            version: row.version,
        }
    }

    pub fn json(row: &ProjectRow) -> JsonDoc {
        JsonDoc(serde_json::to_value(Self::of(row)).unwrap_or_default())
    }

    pub fn parse(doc: &JsonDoc) -> AppResult<Self> {
        serde_json::from_value(doc.0.clone()).map_err(|_| unreadable())
    }

    pub fn restore(&self, row: &mut ProjectRow) {
        row.name = self.name.clone();
        row.description = self.description.clone();
        row.archived_at = self.archived_at;
        row.deleted_at = self.deleted_at;
    }
}

/// The version a snapshot document names.
pub fn version_of(doc: &JsonDoc) -> Option<i32> {
    doc.get("version")
        .and_then(serde_json::Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
}
