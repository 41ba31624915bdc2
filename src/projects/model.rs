//! The project row.

use diesel::prelude::*;

use crate::db::schema::projects;
use crate::db::types::{Id, Timestamp};

/// A project as stored (also the full-row insert form, for restores and imports).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub id: Id,
    pub owner_id: Id,
    pub name: String,
    pub description: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    pub seq: i64,
    pub client_mutation_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
