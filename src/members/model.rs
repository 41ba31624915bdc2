//! The member row and the invitation row (read and insert form in one).

use diesel::prelude::*;

use crate::access::ProjectRole;
use crate::db::schema::{invitations, project_members};
use crate::db::types::{Id, Timestamp};

/// One member of one project.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = project_members)]
pub struct MemberRow {
    pub project_id: Id,
    pub user_id: Id,
    pub role: ProjectRole,
    /// Member since.
    pub created_at: Timestamp,
}

/// An invitation to a project, mailed as a single-use link; only the
/// SHA-256 of the link's token is kept.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: Id,
    pub project_id: Id,
    /// Lower-cased, as signup stores addresses.
    pub email: String,
    /// EDITOR or VIEWER, never OWNER.
    pub role: ProjectRole,
    pub invited_by: Id,
    pub token_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub declined_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}
