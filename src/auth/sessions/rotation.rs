//! Refreshing: a refresh token is exchanged for its successor in one
//! transaction; a replaced token presented again ends the family, except
//! within the grace window, when it gets the same successor (see
//! [`TokenKeys::successor`]).

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    Issued, LiveRows, NewSession, SessionRow, expiry, find_by_token, label, lock_live,
    revoke_family,
};
use crate::auth::TokenKeys;
use crate::auth::tokens::token_hash;
use crate::db::Conn;
use crate::db::schema::sessions;
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::{AppError, AppResult};

/// What a refresh came to.
#[derive(Debug)]
pub enum Rotation {
    Rotated {
        user_id: Id,
        issued: Issued,
    },
    /// Not rotated; the message is for the client. Any family revocation it
    /// implies is already written (`ended`), so the caller commits before
    /// refusing.
    Refused {
        message: &'static str,
        ended: Option<Id>,
    },
}

const REUSED: &str = "Refresh token was already used; the session has been ended";

/// How a refresh is done: the keys that derive successors, the new token's
/// lifetime, and how long a replaced token still gets its successor.
pub struct RotationRules<'a> {
    pub keys: &'a TokenKeys,
    pub ttl: Duration,
    pub grace: Duration,
}

/// Exchanges a refresh token for its successor. Run inside a transaction.
///
/// A token replaced less than `rules.grace` ago is answered with the same
/// successor, as long as that is still the family's current token; any
/// other presentation of a replaced token ends the family.
pub async fn rotate(
    conn: &mut Conn<'_>,
    token: &str,
    user_agent: Option<&str>,
    rules: &RotationRules<'_>,
) -> AppResult<Rotation> {
    let now = Timestamp::now();
    let refused = |message| {
        Ok(Rotation::Refused {
            message,
            ended: None,
        })
    };
    let Some(row) = find_by_token(conn, token).await? else {
        return refused("Invalid refresh token");
    };
    // One rotation or ending of a family at a time; read the row again
    // under the lock, as a concurrent refresh may just have replaced it.
    lock_live(conn, LiveRows::Family(row.family_id)).await?;
    let Some(row) = find_by_token(conn, token).await? else {
        return refused("Invalid refresh token");
    };
    let successor = rules.keys.successor(token);
    if let Some(next_id) = row.replaced_by {
        return replaced(conn, row, next_id, &successor, now, rules.grace).await;
    }
    if row.revoked_at.is_some() {
        return refused("Refresh token has been revoked");
    }
    if row.expires_at <= now {
        return refused("Refresh token expired");
    }
    // Claim the token. Under the family lock (and SQLite's single writer)
    // the row read above is current, so this finds it; the condition
    // stays as a guard, and a miss is a refusal, never a second successor.
    let claimed = db_run!(conn, |c| {
        diesel::update(
            sessions::table
                .filter(sessions::id.eq(row.id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::replaced_by.is_null()),
        )
        .set((sessions::revoked_at.eq(now), sessions::last_used_at.eq(now)))
        .execute(c)
        .await
    })?;
    if claimed != 1 {
        return refused("Refresh token has been revoked");
    }
    let new_id = Id::new();
    let hash = token_hash(&successor);
    let next = NewSession {
        id: new_id,
        user_id: row.user_id,
        family_id: row.family_id,
        token_hash: &hash,
        device_name: row.device_name.as_deref(),
        user_agent: label(user_agent).or(row.user_agent.as_deref()),
        created_at: row.created_at,
        last_used_at: Some(now),
        expires_at: expiry(now, rules.ttl),
    };
    db_run!(conn, |c| diesel::insert_into(sessions::table)
        .values(&next)
        .execute(c)
        .await)?;
    db_run!(conn, |c| {
        diesel::update(sessions::table.filter(sessions::id.eq(row.id)))
            .set(sessions::replaced_by.eq(new_id))
            .execute(c)
            .await
    })?;
    Ok(Rotation::Rotated {
        user_id: row.user_id,
        issued: Issued {
            session_id: row.family_id,
            refresh_token: successor,
        },
    })
}

/// A replaced token presented again: within the grace window and while its
/// successor is the family's live token, the same successor; else the
/// family ends (theft or replay), unless it already has.
async fn replaced(
    conn: &mut Conn<'_>,
    row: SessionRow,
    next_id: Id,
    successor: &str,
    now: Timestamp,
    grace: Duration,
) -> AppResult<Rotation> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
    let just_replaced = row.revoked_at.is_some_and(|at| at + grace > now);
    if just_replaced {
        let next = db_run!(conn, |c| {
            sessions::table
                .filter(sessions::id.eq(next_id))
                .select(SessionRow::as_select())
                .first(c)
                .await
                .optional()
        })?;
        if let Some(next) = next.filter(|n| n.token_hash == token_hash(successor)) {
            if next.replaced_by.is_none() && next.revoked_at.is_some() {
                return Ok(Rotation::Refused {
                    message: "Refresh token has been revoked",
                    ended: None,
                });
            }
            if next.replaced_by.is_none() && next.expires_at > now {
                return Ok(Rotation::Rotated {
                    user_id: row.user_id,
                    issued: Issued {
                        session_id: row.family_id,
                        refresh_token: successor.to_owned(),
                    },
                });
            }
        }
    }
    revoke_family(conn, row.family_id, now).await?;
    Ok(Rotation::Refused {
        message: REUSED,
        ended: Some(row.family_id),
    })
}

impl Rotation {
    /// The user and the new token, or UNAUTHENTICATED with the reason.
    pub fn into_result(self) -> AppResult<(Id, Issued)> {
        match self {
            Rotation::Rotated { user_id, issued } => Ok((user_id, issued)),
            Rotation::Refused { message, .. } => Err(AppError::unauthenticated(message)),
        }
    }
}
