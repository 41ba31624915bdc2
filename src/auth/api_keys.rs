//! API keys: the stored row (the secret itself is never stored, only its hash).

use diesel::prelude::*;

use crate::db::schema::api_keys;
use crate::db::types::{Id, JsonDoc, Timestamp};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
    /// A JSON array of scope names.
    pub scopes: JsonDoc,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}
