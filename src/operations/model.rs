//! The operation and operation-record rows.

use diesel::prelude::*;

use super::kinds::{OperationKind, OperationStatus};
use crate::db::schema::{operation_items, operation_records, operations};
use crate::db::types::{Id, JsonDoc, Timestamp};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = operations)]
pub struct OperationRow {
    pub id: Id,
    pub owner_id: Id,
    pub kind: OperationKind,
    pub status: OperationStatus,
    pub dry_run: bool,
    pub params: JsonDoc,
    pub total: i32,
    pub processed: i32,
    pub skipped: i32,
    pub failed: i32,
    pub error: Option<String>,
    pub rollback_of: Option<Id>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub heartbeat_at: Option<Timestamp>,
    /// The worker holding a running operation.
    pub claimed_by: Option<Id>,
}

/// One change an operation made: enough to undo it exactly.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = operation_records)]
pub struct OperationRecordRow {
    pub operation_id: Id,
    pub seq: i32,
    pub entity_type: String,
    pub entity_id: Id,
    pub action: String,
    pub before: Option<JsonDoc>,
    pub after: Option<JsonDoc>,
}

/// One item of an operation, fixed when it started.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = operation_items)]
pub struct OperationItemRow {
    pub operation_id: Id,
    pub idx: i32,
    pub entity_type: String,
    pub entity_id: Id,
}

/// `entity_type` of a task.
pub const TASK: &str = "task";
/// `entity_type` of a project.
pub const PROJECT: &str = "project";
