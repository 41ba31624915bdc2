//! The operation and operation-record rows.

use diesel::prelude::*;

use crate::db::schema::{operation_records, operations};
use crate::db::types::{Id, JsonDoc, Timestamp};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = operations)]
pub struct OperationRow {
    pub id: Id,
    pub owner_id: Id,
    pub kind: String,
    pub status: String,
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
}

/// One change an operation made: enough to undo it exactly.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
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
