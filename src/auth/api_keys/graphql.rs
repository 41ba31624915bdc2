//! `apiKeys`, `createApiKey`, `revokeApiKey`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use scoped_futures::ScopedFutureExt as _;
use serde_json::json;

use super::{ApiKeyRow, generate, store};
use crate::auth::Scope;
use crate::auth::revocation::Revoked;
use crate::db::types::{Id, JsonDoc, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;

/// Longest key name.
const NAME_MAX: usize = 100;

#[Object(name = "ApiKey")]
impl ApiKeyRow {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.name
    }
    /// The start of the key, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.prefix
    }
    async fn scopes(&self) -> Vec<Scope> {
        self.scope_list()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at.get()
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.last_used_at.map(Timestamp::get)
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at.map(Timestamp::get)
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at.map(Timestamp::get)
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    name: String,
    /// READ: queries and subscriptions; WRITE: mutations too.
    scopes: Vec<Scope>,
    /// Never expires when omitted.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    api_key: ApiKeyRow,
    /// The key itself: shown this once, never again.
    secret: String,
}

/// Parses an `ID!` argument.
pub fn parse_id(field: &str, id: &ID) -> AppResult<Id> {
    Id::parse(id).ok_or_else(|| AppError::bad_input(field, "is not a valid ID"))
}

#[derive(Default)]
pub struct ApiKeysQuery;

#[Object]
impl ApiKeysQuery {
    /// The signed-in user's API keys, newest first, revoked ones included.
    async fn api_keys(&self, ctx: &Context<'_>) -> AppResult<Vec<ApiKeyRow>> {
        let viewer = ctx.viewer()?;
        let mut pooled = ctx.services().db.read().await?;
        store::list(&mut pooled.conn(), viewer).await
    }
}

#[derive(Default)]
pub struct ApiKeysMutation;

#[Object]
impl ApiKeysMutation {
    /// Creates an API key; the payload's `secret` is the only time the key is
    /// shown. QUOTA_EXCEEDED when the account already has as many usable
    /// keys as `TASKLANE_QUOTA_API_KEYS` allows.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> AppResult<CreateApiKeyPayload> {
        let viewer = ctx.viewer()?;
        viewer.require_session()?;
        let name = input.name.trim().to_owned();
        let chars = name.chars().count();
        if chars == 0 || chars > NAME_MAX || name.chars().any(char::is_control) {
            return Err(AppError::bad_input(
                "input.name",
                format!("must be 1 to {NAME_MAX} characters, without control characters"),
            ));
        }
        let mut scopes = input.scopes;
        scopes.sort_by_key(|s| *s as u8);
        scopes.dedup();
        if scopes.is_empty() {
            return Err(AppError::bad_input(
                "input.scopes",
                "must name at least one scope",
            ));
        }
        let now = Timestamp::now();
        let expires_at = input.expires_at.map(Timestamp::from);
        if expires_at.is_some_and(|at| at <= now) {
            return Err(AppError::bad_input(
                "input.expiresAt",
                "must be in the future",
            ));
        }
        let key = generate();
        let row = ApiKeyRow {
            id: Id::new(),
            user_id: viewer.user_id,
            name,
            prefix: key.prefix,
            key_hash: key.hash,
            scopes: JsonDoc(json!(scopes)),
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        let quotas = ctx.services().config.quotas;
        let viewer = viewer.clone();
        let row = ctx
            .services()
            .db
            .transaction(|mut conn| {
                async move {
                    // Concurrent creations count each other.
                    if !crate::users::store::lock(&mut conn, viewer.user_id).await? {
                        return Err(AppError::unauthenticated("Account no longer exists"));
                    }
                    let live = store::count_live(&mut conn, &viewer, now).await?;
                    crate::quotas::Quota::ApiKeys.check_one_more(&quotas, live)?;
                    store::insert(&mut conn, &row).await?;
                    Ok(row)
                }
                .scope_boxed()
            })
            .await?;
        Ok(CreateApiKeyPayload {
            api_key: row,
            secret: key.secret,
        })
    }

    /// Revokes an API key, on every instance at once. Revoking a revoked key
    /// changes nothing.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> AppResult<ApiKeyRow> {
        let viewer = ctx.viewer()?.clone();
        let id = parse_id("id", &id)?;
        let services = ctx.services();
        let (row, revoked) = services
            .db
            .transaction(|mut conn| {
                async move {
                    let now = Timestamp::now();
                    let row = store::revoke(&mut conn, &viewer, id, now)
                        .await?
                        .ok_or_else(|| AppError::NotFound("No such API key".into()))?;
                    let mut revoked = Revoked::default();
                    revoked.add(&mut conn, vec![row.id]).await?;
                    Ok((row, revoked))
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        Ok(row)
    }
}
