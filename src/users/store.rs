//! All SQL for users. Reads of user data are scoped to the viewer.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use super::model::{NewUser, User};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{change_counters, users};
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::{AppError, AppResult};

/// The viewer's own account, if it still exists and is active.
pub async fn find_viewer(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Option<User>> {
    find_active(conn, viewer.user_id).await
}

/// The users among `ids` the viewer may see (itself and fellow members:
/// `access::visible_users`); anyone else is left out, as a missing one.
pub async fn find_visible(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    ids: &[Id],
) -> AppResult<Vec<User>> {
    let visible = crate::access::visible_users(conn, viewer, ids).await?;
    if visible.is_empty() {
        return Ok(Vec::new());
    }
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq_any(&visible))
            .select(User::as_select())
            .load(c)
            .await
    })?;
    Ok(found)
}

/// The account behind an email, for checking credentials only.
pub async fn find_for_login(conn: &mut Conn<'_>, email: &str) -> AppResult<Option<User>> {
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::email.eq(email))
            .select(User::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

/// The account behind a session, for issuing tokens after a refresh.
pub async fn find_active(conn: &mut Conn<'_>, id: Id) -> AppResult<Option<User>> {
    db_run!(conn, |c| {
        users::table
            .filter(users::id.eq(id))
            .filter(users::is_active.eq(true))
            .select(User::as_select())
            .first(c)
            .await
            .optional()
    })
    .map_err(AppError::from)
}

/// Creates the account and its change counter. A taken email or username is
/// BAD_USER_INPUT on that field.
pub async fn insert(conn: &mut Conn<'_>, new: &NewUser<'_>) -> AppResult<User> {
    let inserted = db_run!(conn, |c| {
        diesel::insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(c)
            .await
    });
    let user = inserted.map_err(taken)?;
    db_run!(conn, |c| {
        diesel::insert_into(change_counters::table)
            .values((
                change_counters::owner_id.eq(user.id),
                change_counters::value.eq(0i64),
            ))
            .execute(c)
            .await
    })?;
    Ok(user)
}

/// A unique violation as BAD_USER_INPUT on the field it concerns.
fn taken(err: DieselError) -> AppError {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let on_username = info
                .constraint_name()
                .is_some_and(|n| n.contains("username"))
                || info.message().contains("username");
            if on_username {
                AppError::bad_input("input.username", "is already taken")
            } else {
                AppError::bad_input("input.email", "is already registered")
            }
        }
        other => other.into(),
    }
}

/// What `updateProfile` changes: `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    /// `Some(None)` clears the username.
    pub username: Option<Option<String>>,
    pub updated_at: Option<Timestamp>,
}

/// Changes the viewer's profile; a taken username is BAD_USER_INPUT.
pub async fn update_profile(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    patch: &ProfilePatch,
) -> AppResult<User> {
    let updated = db_run!(conn, |c| {
        diesel::update(
            users::table
                .filter(users::id.eq(viewer.user_id))
                .filter(users::is_active.eq(true)),
        )
        .set(patch)
        .returning(User::as_returning())
        .get_result(c)
        .await
    });
    match updated {
        Err(DieselError::NotFound) => Err(AppError::unauthenticated("Account no longer exists")),
        other => other.map_err(taken),
    }
}

/// Stores a new password hash for the user.
pub async fn set_password(conn: &mut Conn<'_>, id: Id, hash: &str, at: Timestamp) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(users::table.filter(users::id.eq(id)))
            .set((users::password_hash.eq(hash), users::updated_at.eq(at)))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Marks the email verified (kept as the first time it was). True when this
/// is the first proof of the address: it was not verified until now.
pub async fn mark_verified(conn: &mut Conn<'_>, id: Id, at: Timestamp) -> AppResult<bool> {
    let first = db_run!(conn, |c| {
        diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(users::email_verified_at.is_null()),
        )
        .set(users::email_verified_at.eq(at))
        .execute(c)
        .await
    })?;
    Ok(first == 1)
}

/// Removes the password: it was set before the address was proven, by
/// whoever signed up, and the owner of the address signed in without it.
pub async fn clear_password(conn: &mut Conn<'_>, id: Id, at: Timestamp) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::password_hash.eq(None::<String>),
                users::updated_at.eq(at),
            ))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Takes the account's row for the rest of the transaction, so that
/// per-account quotas hold when requests race (PostgreSQL waits on the row
/// lock; SQLite's writer is single anyway). NOT_FOUND-free: false when the
/// account is gone.
pub async fn lock(conn: &mut Conn<'_>, id: Id) -> AppResult<bool> {
    let locked = db_run!(conn, |c| {
        diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::id.eq(users::id))
            .execute(c)
            .await
    })?;
    Ok(locked == 1)
}

/// Deletes the viewer's account; the foreign keys remove all its data.
pub async fn delete(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<bool> {
    let deleted = db_run!(conn, |c| {
        diesel::delete(users::table.filter(users::id.eq(viewer.user_id)))
            .execute(c)
            .await
    })?;
    Ok(deleted > 0)
}

pub async fn record_login(conn: &mut Conn<'_>, id: Id, at: Timestamp) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::last_login_at.eq(at))
            .execute(c)
            .await
    })?;
    Ok(())
}
