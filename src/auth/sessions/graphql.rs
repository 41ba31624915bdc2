//! `sessions`, `revokeSession`, `logoutAll`.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use scoped_futures::ScopedFutureExt as _;

use super::SessionRow;
use crate::auth::api_keys::graphql::parse_id;
use crate::auth::revocation::Revoked;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;

/// One signed-in device: a refresh-token family.
pub struct Session {
    row: SessionRow,
    current: bool,
}

#[Object]
impl Session {
    /// The session's id (stable across refreshes).
    async fn id(&self) -> ID {
        ID(self.row.family_id.to_string())
    }
    /// As given to `login`.
    async fn device_name(&self) -> Option<&str> {
        self.row.device_name.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.row.user_agent.as_deref()
    }
    /// When the user signed in.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.get()
    }
    /// The last refresh.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_used_at.map(Timestamp::get)
    }
    /// The session of the access token that asks.
    async fn current(&self) -> bool {
        self.current
    }
}

#[derive(Default)]
pub struct SessionsQuery;

#[Object]
impl SessionsQuery {
    /// The signed-in user's live sessions, newest first.
    async fn sessions(&self, ctx: &Context<'_>) -> AppResult<Vec<Session>> {
        let viewer = ctx.viewer()?;
        let rows = {
            let mut pooled = ctx.services().db.read().await?;
            super::list_live(&mut pooled.conn(), viewer).await?
        };
        Ok(rows
            .into_iter()
            .map(|row| Session {
                current: viewer.session_id == Some(row.family_id),
                row,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct SessionsMutation;

#[Object]
impl SessionsMutation {
    /// Ends one of the user's sessions; its access tokens stop working at
    /// once. NOT_FOUND when there is no such live session.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let viewer = ctx.viewer()?.clone();
        let id: Id = parse_id("id", &id)?;
        let services = ctx.services();
        let revoked = services
            .db
            .transaction(|mut conn| {
                async move {
                    if !super::end_for_viewer(&mut conn, &viewer, id).await? {
                        return Err(AppError::NotFound("No such session".into()));
                    }
                    let mut revoked = Revoked::default();
                    revoked.add(&mut conn, vec![id]).await?;
                    Ok(revoked)
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        Ok(true)
    }

    /// Ends every session of the user, this one included; how many ended.
    async fn logout_all(&self, ctx: &Context<'_>) -> AppResult<i32> {
        let viewer = ctx.viewer()?.clone();
        let services = ctx.services();
        let (count, revoked) = services
            .db
            .transaction(|mut conn| {
                async move {
                    let ended = super::end_all_for_viewer(&mut conn, &viewer, None).await?;
                    let count = ended.len();
                    let mut revoked = Revoked::default();
                    revoked.add(&mut conn, ended).await?;
                    Ok((count, revoked))
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}
