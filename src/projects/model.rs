//! The project row (read, insert and update form in one), and the project
//! as the API shows it in a CONFLICT.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::projects;
use crate::db::types::{Id, Timestamp};

/// A project as stored: also the full-row insert form (creates, restores
/// and imports) and the update form, which writes every column but the id,
/// the owner, the client mutation id and the creation time (a `None` clears).
#[derive(Queryable, QueryableByName, Selectable, Identifiable, Insertable, AsChangeset)]
#[diesel(table_name = projects, treat_none_as_null = true)]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProjectRow {
    pub id: Id,
    #[diesel(skip_update)]
    pub owner_id: Id,
    pub name: String,
    pub description: Option<String>,
    pub archived_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    pub seq: i64,
    #[diesel(skip_update)]
    pub client_mutation_id: Option<String>,
    #[diesel(skip_update)]
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The `seq` of a new project: the first of its own change stream, whose
/// counter (`projects.last_seq`) starts there.
pub const FIRST_SEQ: i64 = 1;

impl ProjectRow {
    /// A new live, active project of `owner_id` at version 1, the first
    /// change of its stream.
    pub fn new(
        owner_id: Id,
        id: Id,
        name: String,
        description: Option<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            owner_id,
            name,
            description,
            archived_at: None,
            deleted_at: None,
            version: 1,
            seq: FIRST_SEQ,
            client_mutation_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The project as its GraphQL fields, for `extensions.current` of a
    /// CONFLICT.
    pub fn api_json(&self) -> serde_json::Value {
        let fields = ProjectView {
            name: &self.name,
            description: self.description.as_deref(),
            archived: self.archived_at.is_some(),
        };
        crate::current!(self, "Project", fields)
    }
}

/// The project's own fields in [`ProjectRow::api_json`].
#[derive(Serialize)]
struct ProjectView<'a> {
    name: &'a str,
    description: Option<&'a str>,
    archived: bool,
}
