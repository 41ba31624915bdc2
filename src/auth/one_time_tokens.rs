//! Single-use tokens for email verification, password reset and magic links:
//! the stored row (hashed, expiring).

use diesel::prelude::*;

use crate::db::schema::one_time_tokens;
use crate::db::types::{Id, Timestamp};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = one_time_tokens)]
pub struct OneTimeTokenRow {
    pub id: Id,
    pub user_id: Id,
    /// `verify_email`, `reset_password` or `magic_link`.
    pub kind: String,
    pub token_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}
