//! Provider accounts linked to users. An identity is `(provider, subject)`:
//! the provider's stable id for the person (an OIDC `sub`, GitHub's numeric
//! id), never an email; each is linked to one user at most.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::identities;
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = identities)]
pub struct IdentityRow {
    pub id: Id,
    pub user_id: Id,
    pub provider: String,
    pub subject: String,
    /// The address the provider gave when it was linked.
    pub email: Option<String>,
    pub created_at: Timestamp,
}

impl IdentityRow {
    pub fn new(user_id: Id, provider: &str, subject: &str, email: Option<&str>) -> Self {
        Self {
            id: Id::new(),
            user_id,
            provider: provider.to_owned(),
            subject: subject.to_owned(),
            email: email.map(str::to_owned),
            created_at: Timestamp::now(),
        }
    }
}

/// The message when an identity is already someone's.
pub const LINKED_ELSEWHERE: &str = "This provider account is already linked to another account";

/// The identity, to find whose it is when someone signs in with it.
pub async fn find(
    conn: &mut Conn<'_>,
    provider: &str,
    subject: &str,
) -> AppResult<Option<IdentityRow>> {
    let found = db_run!(conn, |c| {
        identities::table
            .filter(identities::provider.eq(provider))
            .filter(identities::subject.eq(subject))
            .select(IdentityRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// Links an identity; CONFLICT when it is already linked (a race with
/// another link of the same identity).
pub async fn insert(conn: &mut Conn<'_>, row: &IdentityRow) -> AppResult<()> {
    let inserted = db_run!(conn, |c| {
        diesel::insert_into(identities::table)
            .values(row)
            .execute(c)
            .await
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(AppError::Conflict {
                message: LINKED_ELSEWHERE.into(),
                current: None,
            })
        }
        Err(other) => Err(other.into()),
    }
}

/// The viewer's identities, oldest first.
pub async fn list(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<IdentityRow>> {
    let rows = db_run!(conn, |c| {
        identities::table
            .filter(identities::user_id.eq(viewer.user_id))
            .order((identities::created_at.asc(), identities::id.asc()))
            .select(IdentityRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// Removes one of the viewer's identities; false when it is not theirs.
pub async fn delete(conn: &mut Conn<'_>, viewer: &Viewer, id: Id) -> AppResult<bool> {
    let deleted = db_run!(conn, |c| {
        diesel::delete(
            identities::table
                .filter(identities::id.eq(id))
                .filter(identities::user_id.eq(viewer.user_id)),
        )
        .execute(c)
        .await
    })?;
    Ok(deleted > 0)
}

/// Unlinks every identity of `user_id`, for the flows where a single-use
/// token, not a viewer, proves who asks (the first proof of the address).
pub async fn delete_all(conn: &mut Conn<'_>, user_id: Id) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::delete(identities::table.filter(identities::user_id.eq(user_id)))
            .execute(c)
            .await
    })?;
    Ok(())
}
