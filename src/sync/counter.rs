//! The per-owner change counter: bumped inside every writing transaction, its
//! new value is the `seq` of the rows that transaction writes. The row lock
//! it takes also orders an owner's writes, so a later `seq` never commits
//! before an earlier one.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::change_counters;
use crate::db_run;
use crate::error::{AppError, AppResult};

/// Reserves `count` sequence numbers for the viewer's writes; returns the
/// first. Call it first in the transaction.
pub async fn reserve(conn: &mut Conn<'_>, viewer: &Viewer, count: usize) -> AppResult<i64> {
    let count = i64::try_from(count.max(1))
        .map_err(|_| AppError::internal("too many sequence numbers at once"))?;
    let last: Option<i64> = db_run!(conn, |c| {
        diesel::update(change_counters::table.filter(change_counters::owner_id.eq(viewer.user_id)))
            .set(change_counters::value.eq(change_counters::value + count))
            .returning(change_counters::value)
            .get_result(c)
            .await
            .optional()
    })?;
    let last = last.ok_or_else(|| AppError::unauthenticated("Account no longer exists"))?;
    Ok(last - count + 1)
}

/// Takes the viewer's counter row without reserving anything, so that what
/// the transaction reads next is not changed by another of the viewer's
/// writers before it commits.
pub async fn lock(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<()> {
    let found: Option<i64> = db_run!(conn, |c| {
        diesel::update(change_counters::table.filter(change_counters::owner_id.eq(viewer.user_id)))
            .set(change_counters::value.eq(change_counters::value))
            .returning(change_counters::value)
            .get_result(c)
            .await
            .optional()
    })?;
    found
        .map(|_| ())
        .ok_or_else(|| AppError::unauthenticated("Account no longer exists"))
}
