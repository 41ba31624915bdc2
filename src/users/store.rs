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
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq(viewer.user_id))
            .filter(users::is_active.eq(true))
            .select(User::as_select())
            .first(c)
            .await
            .optional()
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
    let found = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq(id))
            .filter(users::is_active.eq(true))
            .select(User::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
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
    let user = match inserted {
        Ok(user) => user,
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            let on_username = info
                .constraint_name()
                .is_some_and(|n| n.contains("username"))
                || info.message().contains("username");
            return Err(if on_username {
                AppError::bad_input("input.username", "is already taken")
            } else {
                AppError::bad_input("input.email", "is already registered")
            });
        }
        Err(other) => return Err(other.into()),
    };
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

pub async fn record_login(conn: &mut Conn<'_>, id: Id, at: Timestamp) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::last_login_at.eq(at))
            .execute(c)
            .await
    })?;
    Ok(())
}
