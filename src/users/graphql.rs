//! The `User` type, `me`, and the core auth mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use scoped_futures::ScopedFutureExt as _;
use secrecy::SecretString;

use super::model::{NewUser, User};
use super::{store, validate};
use crate::auth::sessions::{self, Issued};
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::{ContextExt, Services};

/// One message for every failed login, whatever failed.
pub const LOGIN_FAILED: &str = "Invalid email or password";

#[Object(name = "User")]
impl User {
    pub(crate) async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    async fn email(&self) -> &str {
        &self.email
    }
    async fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }
    async fn display_name(&self) -> &str {
        &self.display_name
    }
    async fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at.get()
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`.
    access_token: String,
    /// Exchange with `refreshToken` for a new pair; single use.
    refresh_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds until the access token expires.
    expires_in: i32,
    user: User,
}

#[derive(InputObject)]
pub struct SignupInput {
    email: String,
    password: String,
    display_name: String,
    /// Optional, unique case-insensitively, 3–32 of a-z 0-9 _ -
    username: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    email: String,
    password: String,
    /// Shown in the session list.
    device_name: Option<String>,
}

#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<User> {
        let viewer = ctx.viewer()?;
        let mut pooled = ctx.services().db.read().await?;
        store::find_viewer(&mut pooled.conn(), viewer)
            .await?
            .ok_or_else(|| AppError::unauthenticated("Account no longer exists"))
    }
}

fn payload(services: &Services, user: User, issued: Issued) -> AppResult<AuthPayload> {
    let access_token = services.tokens.issue(user.id, issued.session_id)?;
    Ok(AuthPayload {
        access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer".into(),
        expires_in: i32::try_from(services.tokens.access_ttl().as_secs()).unwrap_or(i32::MAX),
        user,
    })
}

#[derive(Default)]
pub struct UsersMutation;

#[Object]
impl UsersMutation {
    /// Creates an account and signs it in.
    async fn signup(&self, ctx: &Context<'_>, input: SignupInput) -> AppResult<AuthPayload> {
        let services = ctx.services();
        let email = validate::email("input.email", &input.email)?;
        validate::password("input.password", &input.password)?;
        let display_name = validate::display_name("input.displayName", &input.display_name)?;
        let username = match input.username.as_deref() {
            Some(raw) => Some(validate::username("input.username", raw)?),
            None => None,
        };
        let password_hash = services
            .hasher
            .hash(&SecretString::from(input.password))
            .await?;
        let user_agent = ctx.meta().user_agent.clone();
        let ttl = services.config.refresh_token_ttl;
        let now = Timestamp::now();
        let new_user = NewUser {
            id: Id::new(),
            email: &email,
            username: username.as_deref(),
            display_name: &display_name,
            password_hash: Some(&password_hash),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        let (user, issued) = services
            .db
            .transaction(|mut conn| {
                async move {
                    let user = store::insert(&mut conn, &new_user).await?;
                    let issued =
                        sessions::start(&mut conn, user.id, None, user_agent.as_deref(), ttl)
                            .await?;
                    Ok((user, issued))
                }
                .scope_boxed()
            })
            .await?;
        payload(services, user, issued)
    }

    /// Signs in with email and password. Any failure is the same
    /// UNAUTHENTICATED message, in about the same time.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> AppResult<AuthPayload> {
        let services = ctx.services();
        let email = input.email.trim().to_lowercase();
        let password = SecretString::from(input.password);
        let user = {
            let mut pooled = services.db.read().await?;
            store::find_for_login(&mut pooled.conn(), &email).await?
        };
        let stored = user
            .as_ref()
            .filter(|u| u.is_active)
            .and_then(|u| u.password_hash.as_deref());
        let matched = services.hasher.verify(&password, stored).await?;
        let user = match user {
            Some(user) if matched => user,
            _ => return Err(AppError::unauthenticated(LOGIN_FAILED)),
        };
        let user_agent = ctx.meta().user_agent.clone();
        let device_name = input.device_name;
        let ttl = services.config.refresh_token_ttl;
        let user_id = user.id;
        let issued = services
            .db
            .transaction(|mut conn| {
                async move {
                    store::record_login(&mut conn, user_id, Timestamp::now()).await?;
                    sessions::start(
                        &mut conn,
                        user_id,
                        device_name.as_deref(),
                        user_agent.as_deref(),
                        ttl,
                    )
                    .await
                }
                .scope_boxed()
            })
            .await?;
        payload(services, user, issued)
    }

    /// Exchanges a refresh token for a new access and refresh token. A token
    /// can be used once; using it again ends its session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> AppResult<AuthPayload> {
        let services = ctx.services();
        let user_agent = ctx.meta().user_agent.clone();
        let ttl = services.config.refresh_token_ttl;
        let rotation = services
            .db
            .transaction(|mut conn| {
                async move {
                    sessions::rotate(&mut conn, &refresh_token, user_agent.as_deref(), ttl).await
                }
                .scope_boxed()
            })
            .await?;
        let (user_id, issued) = rotation.into_result()?;
        let user = {
            let mut pooled = services.db.read().await?;
            store::find_active(&mut pooled.conn(), user_id).await?
        };
        let user = user.ok_or_else(|| AppError::unauthenticated("Account is not active"))?;
        payload(services, user, issued)
    }

    /// Ends this session: the one the refresh token belongs to, or else the
    /// one of the access token. False when it had already ended.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> AppResult<bool> {
        let services = ctx.services();
        let viewer = match &refresh_token {
            Some(_) => None,
            None => Some(ctx.viewer()?.clone()),
        };
        services
            .db
            .transaction(|mut conn| {
                async move {
                    match (refresh_token, viewer) {
                        (Some(token), _) => sessions::end_by_token(&mut conn, &token).await,
                        (None, Some(viewer)) => {
                            sessions::end_for_user(&mut conn, viewer.user_id, viewer.session_id)
                                .await
                        }
                        (None, None) => Err(AppError::unauthenticated("Authentication required")),
                    }
                }
                .scope_boxed()
            })
            .await
    }
}
