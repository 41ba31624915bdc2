//! The user row and its insert form.

use diesel::prelude::*;

use crate::db::schema::users;
use crate::db::types::{Id, Timestamp};

#[derive(
    Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable, Insertable,
)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Id,
    pub email: String,
    pub username: Option<String>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub email_verified_at: Option<Timestamp>,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// What signup writes.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Id,
    pub email: &'a str,
    pub username: Option<&'a str>,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
