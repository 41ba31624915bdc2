//! The task row (read, insert and update form in one), the fields a user
//! sets, and the task as the API shows it in a CONFLICT.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::kinds::{TaskPriority, TaskStatus};
use crate::db::schema::tasks;
use crate::db::types::{Id, JsonDoc, Timestamp};
use crate::error::rfc3339_opt;

/// A task as stored: also the full-row insert form (creates, restores and
/// imports) and the update form, which writes every column but the id, the
/// owner, the client mutation id and the creation time (a `None` clears).
/// `tags`: a JSON array of strings.
#[derive(Queryable, Selectable, Identifiable, Insertable, AsChangeset)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskRow {
    pub id: Id,
    pub project_id: Id,
    #[diesel(skip_update)]
    pub owner_id: Id,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: Option<TaskPriority>,
    pub tags: JsonDoc,
    pub due_at: Option<Timestamp>,
    pub position: Option<f64>,
    pub completed_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    pub seq: i64,
    pub client_id: Option<String>,
    #[diesel(skip_update)]
    pub client_mutation_id: Option<String>,
    #[diesel(skip_update)]
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A member of the project (checked when set).
    #[serde(default)]
    pub assignee_id: Option<Id>,
    /// Who made it (`None` for an account since deleted).
    #[diesel(skip_update)]
    #[serde(default)]
    pub created_by: Option<Id>,
    /// Who wrote it last (`None` for an account since deleted).
    #[serde(default)]
    pub updated_by: Option<Id>,
}

crate::read_by_position!(
    TaskRow,
    tasks,
    [
        id,
        project_id,
        owner_id,
        title,
        description,
        status,
        priority,
        tags,
        due_at,
        position,
        completed_at,
        deleted_at,
        version,
        seq,
        client_id,
        client_mutation_id,
        created_at,
        updated_at,
        assignee_id,
        created_by,
        updated_by,
    ]
);

/// Every field of a task its owner sets, checked: what a create, a sync
/// change and an import carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFields {
    pub project_id: Id,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: Option<TaskPriority>,
    pub tags: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub position: Option<f64>,
    /// A member of the project (any role), checked at each write that sets
    /// it or moves the task (see `writes::assignee_to_check`).
    #[serde(default)]
    pub assignee_id: Option<Id>,
}

#[cfg(test)]
impl TaskFields {
    /// A TODO task titled `title` in a new project, nothing else set.
    pub fn titled(title: &str) -> Self {
        Self {
            project_id: Id::new(),
            title: title.to_owned(),
            description: None,
            status: TaskStatus::Todo,
            priority: None,
            tags: Vec::new(),
            due_at: None,
            position: None,
            assignee_id: None,
        }
    }
}

pub fn tags_json(tags: &[String]) -> JsonDoc {
    JsonDoc(serde_json::Value::from(tags.to_vec()))
}

impl TaskRow {
    /// A new live task at version 1 in a project of `owner_id`, made by
    /// `author` (its `seq` is the writer's); completed now when created DONE.
    pub fn new(owner_id: Id, author: Id, id: Id, fields: TaskFields, now: Timestamp) -> Self {
        Self {
            id,
            project_id: fields.project_id,
            owner_id,
            title: fields.title,
            description: fields.description,
            status: fields.status,
            priority: fields.priority,
            tags: tags_json(&fields.tags),
            due_at: fields.due_at,
            position: fields.position,
            completed_at: (fields.status == TaskStatus::Done).then_some(now),
            deleted_at: None,
            version: 1,
            seq: 0,
            client_id: None,
            client_mutation_id: None,
            created_at: now,
            updated_at: now,
            assignee_id: fields.assignee_id,
            created_by: Some(author),
            updated_by: Some(author),
        }
    }

    /// The fields its owner sets, as they are now.
    pub fn fields(&self) -> TaskFields {
        TaskFields {
            project_id: self.project_id,
            title: self.title.clone(),
            description: self.description.clone(),
            status: self.status,
            priority: self.priority,
            tags: self.tag_list(),
            due_at: self.due_at,
            position: self.position,
            assignee_id: self.assignee_id,
        }
    }

    /// The tags as strings (anything else in the array is skipped).
    pub fn tag_list(&self) -> Vec<String> {
        self.tags().into_iter().map(str::to_owned).collect()
    }

    /// The tags, borrowed.
    pub fn tags(&self) -> Vec<&str> {
        self.tags
            .as_array()
            .map(|items| items.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default()
    }

    /// The task as its GraphQL fields, for `extensions.current` of a CONFLICT.
    pub fn api_json(&self) -> serde_json::Value {
        let fields = TaskView {
            project_id: self.project_id,
            title: &self.title,
            description: self.description.as_deref(),
            status: self.status.name(),
            priority: self.priority.map(TaskPriority::name),
            tags: self.tags(),
            due_at: self.due_at,
            position: self.position,
            completed_at: self.completed_at,
            assignee_id: self.assignee_id,
        };
        crate::current!(self, "Task", fields)
    }
}

/// The task's own fields in [`TaskRow::api_json`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskView<'a> {
    project_id: Id,
    title: &'a str,
    description: Option<&'a str>,
    status: &'static str,
    priority: Option<&'static str>,
    tags: Vec<&'a str>,
    #[serde(serialize_with = "rfc3339_opt")]
    due_at: Option<Timestamp>,
    position: Option<f64>,
    #[serde(serialize_with = "rfc3339_opt")]
    completed_at: Option<Timestamp>,
    assignee_id: Option<Id>,
}
