//! Started provider sign-ins, between `startOAuth` and its completion: the
//! SHA-256 of the state handed to the client, and what the completion needs
//! (PKCE verifier, OIDC nonce, redirect URI). A row lives 10 minutes and is
//! deleted by the statement that uses it, so a state works once even when
//! two completions race; expired rows are pruned whenever a sign-in starts.

use std::time::Duration;

use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use crate::auth::tokens::token_hash;
use crate::db::Conn;
use crate::db::schema::oauth_states;
use crate::db::types::{Id, Timestamp};
use crate::db_run;
use crate::error::AppResult;

/// How long a started sign-in can be completed.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A sign-in (`login`) or linking to the signed-in user (`link`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Link(Id),
}

/// What a stored state is for, as its `purpose` column holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum PurposeKind {
    Login,
    Link,
}

crate::stored_names!(PurposeKind, "sign-in state purpose", {
    Login => "login",
    Link => "link",
});

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_states)]
pub struct StateRow {
    pub state_hash: Vec<u8>,
    pub provider: String,
    pub purpose: PurposeKind,
    /// The user to link to (`link` only).
    pub user_id: Option<Id>,
    pub pkce_verifier: String,
    pub nonce: Option<String>,
    pub redirect_uri: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl StateRow {
    /// The row for a state just made; only its hash is kept.
    pub fn new(
        state: &str,
        provider: &str,
        purpose: Purpose,
        pkce_verifier: String,
        nonce: Option<String>,
        redirect_uri: &str,
    ) -> Self {
        let now = Timestamp::now();
        let (purpose, user_id) = match purpose {
            Purpose::Login => (PurposeKind::Login, None),
            Purpose::Link(user) => (PurposeKind::Link, Some(user)),
        };
        Self {
            state_hash: token_hash(state),
            provider: provider.to_owned(),
            purpose,
            user_id,
            pkce_verifier,
            nonce,
            redirect_uri: redirect_uri.to_owned(),
            created_at: now,
            expires_at: now
                + chrono::Duration::from_std(LIFETIME).unwrap_or(chrono::Duration::zero()),
        }
    }

    pub fn purpose(&self) -> Option<Purpose> {
        match (self.purpose, self.user_id) {
            (PurposeKind::Login, None) => Some(Purpose::Login),
            (PurposeKind::Link, Some(user)) => Some(Purpose::Link(user)),
            _ => None,
        }
    }
}

/// Stores a started sign-in, after pruning the expired ones.
pub async fn insert(conn: &mut Conn<'_>, row: &StateRow) -> AppResult<()> {
    let now = Timestamp::now();
    db_run!(conn, |c| {
        diesel::delete(oauth_states::table.filter(oauth_states::expires_at.le(now)))
            .execute(c)
            .await
    })?;
    db_run!(conn, |c| {
        diesel::insert_into(oauth_states::table)
            .values(row)
            .execute(c)
            .await
    })?;
    Ok(())
}

/// Uses a state: deletes its row and returns it when it was there and had
/// not expired. One statement, so of two concurrent uses one gets the row.
pub async fn take(conn: &mut Conn<'_>, state: &str) -> AppResult<Option<StateRow>> {
    let hash = token_hash(state);
    let row = db_run!(conn, |c| {
        diesel::delete(oauth_states::table.filter(oauth_states::state_hash.eq(&hash)))
            .returning(StateRow::as_returning())
            .get_result(c)
            .await
            .optional()
    })?;
    let now = Timestamp::now();
    Ok(row.filter(|row| row.expires_at > now))
}
