//! The task row and its write form.

use diesel::prelude::*;

use crate::db::schema::tasks;
use crate::db::types::{Id, JsonDoc, Timestamp};

/// A task as stored (also the full-row insert form, for creates, restores
/// and imports). `status`: 1 TODO, 2 IN_PROGRESS, 3 DONE; `priority`:
/// 1 LOW … 4 URGENT; `tags`: a JSON array of strings.
#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable, Insertable,
)]
#[diesel(table_name = tasks)]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct TaskRow {
    pub id: Id,
    pub project_id: Id,
    pub owner_id: Id,
    pub title: String,
    pub description: Option<String>,
    pub status: i16,
    pub priority: Option<i16>,
    pub tags: JsonDoc,
    pub due_at: Option<Timestamp>,
    pub position: Option<f64>,
    pub completed_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    pub seq: i64,
    pub client_id: Option<String>,
    pub client_mutation_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub const STATUS_TODO: i16 = 1;
pub const STATUS_DONE: i16 = 3;

impl TaskRow {
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

    /// The write form that stores every changeable column of this row.
    pub fn changes(&self) -> TaskChanges {
        TaskChanges {
            project_id: self.project_id,
            title: self.title.clone(),
            description: self.description.clone(),
            status: self.status,
            priority: self.priority,
            tags: self.tags.clone(),
            due_at: self.due_at,
            position: self.position,
            completed_at: self.completed_at,
            deleted_at: self.deleted_at,
            version: self.version,
            seq: self.seq,
            client_id: self.client_id.clone(),
            updated_at: self.updated_at,
        }
    }
}

/// Every column a write may change (NULL clears).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
pub struct TaskChanges {
    pub project_id: Id,
    pub title: String,
    pub description: Option<String>,
    pub status: i16,
    pub priority: Option<i16>,
    pub tags: JsonDoc,
    pub due_at: Option<Timestamp>,
    pub position: Option<f64>,
    pub completed_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    pub seq: i64,
    pub client_id: Option<String>,
    pub updated_at: Timestamp,
}
