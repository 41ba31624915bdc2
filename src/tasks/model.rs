//! The task row.

use diesel::prelude::*;

use crate::db::schema::tasks;
use crate::db::types::{Id, JsonDoc, Timestamp};

/// A task as stored (also the full-row insert form, for restores and imports).
/// `status`: 1 TODO, 2 IN_PROGRESS, 3 DONE; `priority`: 1 LOW … 4 URGENT;
/// `tags`: a JSON array of strings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = tasks)]
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
