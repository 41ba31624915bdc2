//! Single-use tokens for email verification, password reset and magic
//! links: 256 random bits, stored hashed, expiring, used at most once.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::tokens::{random_token, token_hash};
use crate::db::Conn;
use crate::db::schema::one_time_tokens;
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::AppResult;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = one_time_tokens)]
pub struct OneTimeTokenRow {
    pub id: Id,
    pub user_id: Id,
    /// `verify_email`, `reset_password` or `magic_link`.
    pub kind: String,
    pub token_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// What a token is for, and how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    MagicLink,
}

impl Purpose {
    pub fn kind(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::MagicLink => "magic_link",
        }
    }

    pub fn lifetime(self) -> Duration {
        match self {
            Self::VerifyEmail => Duration::from_secs(24 * 3600),
            Self::ResetPassword | Self::MagicLink => Duration::from_secs(15 * 60),
        }
    }
}

/// Issues a token for `user_id`; earlier unused tokens of the same purpose
/// stop working. Returns the token (for the link) — only its hash is stored.
pub async fn issue(conn: &mut Conn<'_>, user_id: Id, purpose: Purpose) -> AppResult<String> {
    let now = Timestamp::now();
    let token = random_token();
    db_run!(conn, |c| {
        diesel::update(
            one_time_tokens::table
                .filter(one_time_tokens::user_id.eq(user_id))
                .filter(one_time_tokens::kind.eq(purpose.kind()))
                .filter(one_time_tokens::used_at.is_null()),
        )
        .set(one_time_tokens::used_at.eq(now))
        .execute(c)
        .await
    })?;
    let row = OneTimeTokenRow {
        id: Id::new(),
        user_id,
        kind: purpose.kind().to_owned(),
        token_hash: token_hash(&token),
        created_at: now,
        expires_at: now
            + chrono::Duration::from_std(purpose.lifetime()).unwrap_or(chrono::Duration::zero()),
        used_at: None,
    };
    db_run!(conn, |c| diesel::insert_into(one_time_tokens::table)
        .values(&row)
        .execute(c)
        .await)?;
    Ok(token)
}

/// Uses a token: the user it was issued to, or `None` when it is unknown,
/// of another purpose, expired or already used. Of two concurrent uses,
/// one wins.
pub async fn consume(conn: &mut Conn<'_>, token: &str, purpose: Purpose) -> AppResult<Option<Id>> {
    let now = Timestamp::now();
    let Some((id, user_id)) = find_usable(conn, token, purpose, now).await? else {
        return Ok(None);
    };
    let claimed = db_run!(conn, |c| {
        diesel::update(
            one_time_tokens::table
                .filter(one_time_tokens::id.eq(id))
                .filter(one_time_tokens::used_at.is_null()),
        )
        .set(one_time_tokens::used_at.eq(now))
        .execute(c)
        .await
    })?;
    Ok((claimed == 1).then_some(user_id))
}

/// Whether `token` could be used now, without using it: a read, so that
/// work worth doing only for a good token (hashing a new password) is done
/// only then. [`consume`] decides.
pub async fn is_usable(conn: &mut Conn<'_>, token: &str, purpose: Purpose) -> AppResult<bool> {
    Ok(find_usable(conn, token, purpose, Timestamp::now())
        .await?
        .is_some())
}

/// The token's row id and user, when it is of `purpose`, unused and unexpired.
async fn find_usable(
    conn: &mut Conn<'_>,
    token: &str,
    purpose: Purpose,
    now: Timestamp,
) -> AppResult<Option<(Id, Id)>> {
    let hash = token_hash(token);
    let found: Option<(Id, Id)> = db_run!(conn, |c| {
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(&hash))
            .filter(one_time_tokens::kind.eq(purpose.kind()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now))
            .select((one_time_tokens::id, one_time_tokens::user_id))
            .first(c)
            .await
            .optional()
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_follow_the_purpose() {
        assert_eq!(Purpose::VerifyEmail.lifetime(), Duration::from_secs(86_400));
        assert_eq!(Purpose::ResetPassword.lifetime(), Duration::from_secs(900));
        assert_eq!(Purpose::MagicLink.lifetime(), Duration::from_secs(900));
        assert_eq!(Purpose::MagicLink.kind(), "magic_link");
    }
}
