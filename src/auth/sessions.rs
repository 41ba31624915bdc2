//! Sessions: one refresh-token family per login. Each refresh replaces the
//! family's current token with a new row; presenting a token that was
//! already replaced ends the whole family (it was stolen or replayed) —
//! except within the grace window (`TASKLANE_REFRESH_GRACE_SECS`) right
//! after the replacement, when it is answered with the same successor, so
//! that two tabs refreshing at once do not end their own session (see
//! [`TokenKeys::successor`](crate::auth::TokenKeys::successor)).
//!
//! Functions that end sessions return the families they ended, for the
//! caller to stage as revocations (see `auth::revocation`).
//!
//! On PostgreSQL, a rotation and anything that ends sessions first lock the
//! live rows concerned (`FOR UPDATE`), so a logout racing a refresh waits
//! for it and then ends the token it inserted too; on SQLite the single
//! writer already runs them one after the other.

pub mod graphql;
mod rotation;

pub use rotation::{Rotation, RotationRules, rotate};

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Viewer;
use super::tokens::{random_token, token_hash};
use crate::config::Quotas;
use crate::db::Conn;
use crate::db::schema::sessions;
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::AppResult;
use crate::quotas::Quota;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: Id,
    pub user_id: Id,
    pub family_id: Id,
    pub token_hash: Vec<u8>,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub replaced_by: Option<Id>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: Id,
    pub user_id: Id,
    pub family_id: Id,
    pub token_hash: &'a [u8],
    pub device_name: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Timestamp,
}

/// A refresh token handed to the client, and the session it belongs to.
#[derive(Debug)]
pub struct Issued {
    pub session_id: Id,
    pub refresh_token: String,
}

/// Longest device name or user agent kept.
const LABEL_MAX: usize = 200;

fn label(raw: Option<&str>) -> Option<&str> {
    let value = raw?.trim();
    if value.is_empty() {
        return None;
    }
    Some(match value.char_indices().nth(LABEL_MAX) {
        Some((cut, _)) => &value[..cut],
        None => value,
    })
}

fn expiry(now: Timestamp, ttl: Duration) -> Timestamp {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(30))
}

/// Starts a new session for `user_id`: QUOTA_EXCEEDED when the account
/// already has its quota of open sessions (`TASKLANE_QUOTA_SESSIONS`). Run
/// inside a transaction that has locked the account
/// ([`crate::users::store::lock`]), so concurrent sign-ins count each other.
pub async fn start(
    conn: &mut Conn<'_>,
    user_id: Id,
    device_name: Option<&str>,
    user_agent: Option<&str>,
    ttl: Duration,
    quotas: &Quotas,
) -> AppResult<Issued> {
    let open = count_open(conn, user_id).await?;
    Quota::Sessions.check_one_more(quotas, open)?;
    let family_id = Id::new();
    let refresh_token = random_token();
    insert_token(
        conn,
        user_id,
        family_id,
        &refresh_token,
        device_name,
        user_agent,
        ttl,
    )
    .await?;
    // The row's own id stays internal: the client knows the session by its family.
    Ok(Issued {
        session_id: family_id,
        refresh_token,
    })
}

/// The account's open sessions: families whose current token is live.
async fn count_open(conn: &mut Conn<'_>, user_id: Id) -> AppResult<u64> {
    let now = Timestamp::now();
    let open: i64 = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::replaced_by.is_null())
            .filter(sessions::expires_at.gt(now))
            .count()
            .get_result(c)
            .await
    })?;
    Ok(u64::try_from(open).unwrap_or(0))
}

async fn insert_token(
    conn: &mut Conn<'_>,
    user_id: Id,
    family_id: Id,
    refresh_token: &str,
    device_name: Option<&str>,
    user_agent: Option<&str>,
    ttl: Duration,
) -> AppResult<()> {
    let now = Timestamp::now();
    let hash = token_hash(refresh_token);
    let row = NewSession {
        id: Id::new(),
        user_id,
        family_id,
        token_hash: &hash,
        device_name: label(device_name),
        user_agent: label(user_agent),
        created_at: now,
        last_used_at: Some(now),
        expires_at: expiry(now, ttl),
    };
    db_run!(conn, |c| diesel::insert_into(sessions::table)
        .values(&row)
        .execute(c)
        .await)?;
    Ok(())
}

/// Which live rows to lock.
enum LiveRows {
    Family(Id),
    User(Id),
}

/// PostgreSQL: locks the live rows of a family (or of all the user's
/// families) until the transaction ends. A rotation holding one of them
/// makes this wait until it commits; the statements that follow then see
/// the token it inserted. SQLite: nothing to do, its writer is single.
async fn lock_live(conn: &mut Conn<'_>, rows: LiveRows) -> AppResult<()> {
    if let Conn::Postgres(c) = conn {
        let c: &mut crate::db::PgConn = c;
        let live = sessions::table
            .filter(sessions::revoked_at.is_null())
            .select(sessions::id);
        match rows {
            LiveRows::Family(family) => {
                live.filter(sessions::family_id.eq(family))
                    .for_update()
                    .load::<Id>(c)
                    .await?
            }
            LiveRows::User(user) => {
                live.filter(sessions::user_id.eq(user))
                    .for_update()
                    .load::<Id>(c)
                    .await?
            }
        };
    }
    Ok(())
}

async fn find_by_token(conn: &mut Conn<'_>, token: &str) -> AppResult<Option<SessionRow>> {
    let hash = token_hash(token);
    let row = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::token_hash.eq(&hash))
            .select(SessionRow::as_select())
            .first(c)
            .await
            .optional()
    })?;
    Ok(row)
}

/// Ends every live token of a family; how many were live.
async fn revoke_family(conn: &mut Conn<'_>, family_id: Id, now: Timestamp) -> AppResult<usize> {
    let ended = db_run!(conn, |c| {
        diesel::update(
            sessions::table
                .filter(sessions::family_id.eq(family_id))
                .filter(sessions::revoked_at.is_null()),
        )
        .set(sessions::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok(ended)
}

/// Ends the session a refresh token belongs to; the family, or `None` when
/// the token was unknown or its session already ended.
pub async fn end_by_token(conn: &mut Conn<'_>, token: &str) -> AppResult<Option<Id>> {
    let Some(row) = find_by_token(conn, token).await? else {
        return Ok(None);
    };
    lock_live(conn, LiveRows::Family(row.family_id)).await?;
    let ended = revoke_family(conn, row.family_id, Timestamp::now()).await? > 0;
    Ok(ended.then_some(row.family_id))
}

/// Ends one of the viewer's sessions; false when it was unknown or already ended.
pub async fn end_for_viewer(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    session_id: Id,
) -> AppResult<bool> {
    let now = Timestamp::now();
    lock_live(conn, LiveRows::Family(session_id)).await?;
    let ended = db_run!(conn, |c| {
        diesel::update(
            sessions::table
                .filter(sessions::family_id.eq(session_id))
                .filter(sessions::user_id.eq(viewer.user_id))
                .filter(sessions::revoked_at.is_null()),
        )
        .set(sessions::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok(ended > 0)
}

/// Ends every live session of the user behind `viewer`, except `keep`;
/// returns the families ended.
pub async fn end_all_for_viewer(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    keep: Option<Id>,
) -> AppResult<Vec<Id>> {
    end_all(conn, viewer.user_id, keep).await
}

/// Ends every live session of `user_id` except `keep`, for the flows where a
/// single-use token, not a viewer, proves who asks (password reset).
pub async fn end_all(conn: &mut Conn<'_>, user_id: Id, keep: Option<Id>) -> AppResult<Vec<Id>> {
    let now = Timestamp::now();
    let keep = keep.unwrap_or_default();
    lock_live(conn, LiveRows::User(user_id)).await?;
    let mut families: Vec<Id> = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::family_id.ne(keep))
            .select(sessions::family_id)
            .load(c)
            .await
    })?;
    families.sort();
    families.dedup();
    db_run!(conn, |c| {
        diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::family_id.ne(keep)),
        )
        .set(sessions::revoked_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok(families)
}

/// The viewer's live sessions: the current token of each family, newest first.
pub async fn list_live(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Vec<SessionRow>> {
    let now = Timestamp::now();
    let rows = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::user_id.eq(viewer.user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::replaced_by.is_null())
            .filter(sessions::expires_at.gt(now))
            .order((sessions::created_at.desc(), sessions::family_id.desc()))
            .select(SessionRow::as_select())
            .load(c)
            .await
    })?;
    Ok(rows)
}

/// Families ended since `since`, with when. A rotated token is revoked too,
/// but it has a successor: only the end of a family counts.
pub async fn revoked_since(
    conn: &mut Conn<'_>,
    since: Timestamp,
) -> AppResult<Vec<(Id, Timestamp)>> {
    let rows = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::revoked_at.gt(since))
            .filter(sessions::replaced_by.is_null())
            .select((sessions::family_id, sessions::revoked_at.assume_not_null()))
            .load(c)
            .await
    })?;
    Ok(rows)
}
