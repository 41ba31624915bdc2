//! The counters: one atomic upsert per hit, the same statement on both
//! backends.

use std::time::Duration;

use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;

use crate::db::Conn;
use crate::db::types::{DbTime, Timestamp};
use crate::db_run;
use crate::error::AppResult;

// Declared here rather than in db/schema.rs: nothing else reads this table.
diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::DbTime;

    rate_limits (bucket) {
        bucket -> Text,
        window_start -> DbTime,
        hits -> Integer,
    }
}

/// A bucket after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub hits: i32,
    pub window_start: Timestamp,
}

/// Windows end within a day; older rows are dropped now and then.
const KEEP: chrono::Duration = chrono::Duration::days(2);

fn ago(now: Timestamp, span: Duration) -> Timestamp {
    now + -chrono::Duration::from_std(span).unwrap_or(chrono::Duration::zero())
}

/// Counts one hit: a new window when the bucket is new or its window ended,
/// else one more in the current window.
pub async fn hit(
    conn: &mut Conn<'_>,
    bucket: &str,
    window: Duration,
    now: Timestamp,
) -> AppResult<Counted> {
    let cutoff = ago(now, window);
    let (hits, window_start) = db_run!(conn, |c| {
        diesel::insert_into(rate_limits::table)
            .values((
                rate_limits::bucket.eq(bucket),
                rate_limits::window_start.eq(now),
                rate_limits::hits.eq(1),
            ))
            .on_conflict(rate_limits::bucket)
            .do_update()
            .set((
                rate_limits::hits.eq(case_when(
                    rate_limits::window_start.le(cutoff),
                    1.into_sql::<Integer>(),
                )
                .otherwise(rate_limits::hits + 1)),
                rate_limits::window_start.eq(case_when(
                    rate_limits::window_start.le(cutoff),
                    now.into_sql::<DbTime>(),
                )
                .otherwise(rate_limits::window_start)),
            ))
            .returning((rate_limits::hits, rate_limits::window_start))
            .get_result::<(i32, Timestamp)>(c)
            .await
    })?;
    if rand::random::<u16>().is_multiple_of(512) {
        prune(conn, now).await?;
    }
    Ok(Counted { hits, window_start })
}

/// Takes one hit back.
pub async fn forgive(conn: &mut Conn<'_>, bucket: &str) -> AppResult<()> {
    db_run!(conn, |c| {
        diesel::update(
            rate_limits::table
                .filter(rate_limits::bucket.eq(bucket))
                .filter(rate_limits::hits.gt(0)),
        )
        .set(rate_limits::hits.eq(rate_limits::hits - 1))
        .execute(c)
        .await
    })?;
    Ok(())
}

/// Drops buckets whose window ended long ago.
async fn prune(conn: &mut Conn<'_>, now: Timestamp) -> AppResult<()> {
    let before = now + -KEEP;
    db_run!(conn, |c| {
        diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(before)))
            .execute(c)
            .await
    })?;
    Ok(())
}
