//! All SQL for API keys. Everything a user sees is scoped to the viewer;
//! [`find_by_hash`] serves authentication only.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::ApiKeyRow;
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::api_keys;
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::AppResult;

pub async fn insert(conn: &mut Conn<'_>, row: &ApiKeyRow) -> AppResult<()> {
    db_run!(conn, |c| diesel::insert_into(api_keys::table)
        .values(row)
        .execute(c)
        .await)?;
    Ok(())
}

/// The viewer's keys, newest first (revoked ones included).
pub async fn list(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<ApiKeyRow>> {
    let rows = db_run!(conn, |c| {
        api_keys::table
            .filter(api_keys::user_id.eq(viewer.user_id))
            .order((api_keys::created_at.desc(), api_keys::id.desc()))
            .select(ApiKeyRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// Revokes one of the viewer's keys (a no-op when already revoked); the key
/// as it now is, or `None` when the viewer has no such key.
pub async fn revoke(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    id: Id,
    now: Timestamp,
) -> AppResult<Option<ApiKeyRow>> {
    db_run!(conn, |c| {
        diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(id))
                .filter(api_keys::user_id.eq(viewer.user_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    let row = db_run!(conn, |c| {
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::user_id.eq(viewer.user_id))
            .select(ApiKeyRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(row)
}

/// Revokes every live key of `user_id` (a password reset, a first proof of
/// the address); the keys revoked.
pub async fn revoke_all(conn: &mut Conn<'_>, user_id: Id, now: Timestamp) -> AppResult<Vec<Id>> {
    let ids = db_run!(conn, |c| {
        diesel::update(
            api_keys::table
                .filter(api_keys::user_id.eq(user_id))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(now))
        .returning(api_keys::id)
        .get_results(c)
        .await
    })?;
    Ok(ids)
}

/// The viewer's usable keys: not revoked, not expired.
pub async fn count_live(conn: &mut Conn<'_>, viewer: &Viewer, now: Timestamp) -> AppResult<u64> {
    let live: i64 = db_run!(conn, |c| {
        api_keys::table
            .filter(api_keys::user_id.eq(viewer.user_id))
            .filter(api_keys::revoked_at.is_null())
            .filter(
                api_keys::expires_at
                    .is_null()
                    .or(api_keys::expires_at.gt(now)),
            )
            .count()
            .get_result(c)
            .await
    })?;
    Ok(u64::try_from(live).unwrap_or(0))
}

/// The key with this hash, for authenticating a request.
pub async fn find_by_hash(conn: &mut Conn<'_>, hash: &[u8]) -> AppResult<Option<ApiKeyRow>> {
    Ok(db_run!(conn, |c| {
        api_keys::table
            .filter(api_keys::key_hash.eq(hash))
            .select(ApiKeyRow::as_select())
            .first(c)
            .await
            .optional()
    })?)
}

pub async fn touch(conn: &mut Conn<'_>, id: Id, now: Timestamp) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(api_keys::table.filter(api_keys::id.eq(id)))
            .set(api_keys::last_used_at.eq(now))
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Keys revoked since `since`, with when.
pub async fn revoked_since(
    conn: &mut Conn<'_>,
    since: Timestamp,
) -> AppResult<Vec<(Id, Timestamp)>> {
    let rows = db_run!(conn, |c| {
        api_keys::table
            .filter(api_keys::revoked_at.gt(since))
            .select((api_keys::id, api_keys::revoked_at.assume_not_null()))
            .load(c)
            .await
    })?;
    Ok(rows)
}
