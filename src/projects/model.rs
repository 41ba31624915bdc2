//! The project row and its write form.

use diesel::prelude::*;

use crate::db::schema::projects;
use crate::db::types::{Id, Timestamp};

/// A project as stored (also the full-row insert form, for creates, restores
/// and imports).
#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable, Insertable,
)]
#[diesel(table_name = projects)]
#[derive(serde::Serialize, serde::Deserialize)]
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

impl ProjectRow {
    /// The write form that stores every changeable column of this row.
    pub fn changes(&self) -> ProjectChanges {
        ProjectChanges {
            name: self.name.clone(),
            description: self.description.clone(),
            archived_at: self.archived_at,
            deleted_at: self.deleted_at,
            version: self.version,
            seq: self.seq,
            updated_at: self.updated_at,
        }
    }
}

/// Every column a write may change (NULL clears).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = projects, treat_none_as_null = true)]
pub struct ProjectChanges {
    pub name: String,
    pub description: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    pub seq: i64,
    pub updated_at: Timestamp,
}
