//! `me`, `signup`, `login`, `refreshToken`, `logout`.

use std::time::Duration;

use async_graphql::{Context, InputObject, Object};
use scoped_futures::ScopedFutureExt as _;
use secrecy::SecretString;

use super::{AuthPayload, LOGIN_FAILED, current_user, payload};
use crate::auth::revocation::Revoked;
use crate::auth::sessions::{self, Issued, Rotation, RotationRules};
use crate::config::Quotas;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::users::model::{NewUser, User};
use crate::users::{store, validate};

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

/// What the session of a sign-in takes from the request and the settings:
/// `login` and `completeOAuth` start theirs alike.
pub(super) struct SignInSession {
    device_name: Option<String>,
    user_agent: Option<String>,
    ttl: Duration,
    quotas: Quotas,
}

impl SignInSession {
    pub(super) fn of(ctx: &Context<'_>, device_name: Option<String>) -> Self {
        let config = &ctx.services().config;
        Self {
            device_name,
            user_agent: ctx.meta().user_agent.clone(),
            ttl: config.refresh_token_ttl,
            quotas: config.quotas,
        }
    }

    /// Inside the caller's transaction: takes the account's row (so the
    /// session quota holds under races), records the login and starts the
    /// session; `gone` when the account no longer exists.
    pub(super) async fn start(
        &self,
        conn: &mut Conn<'_>,
        user_id: Id,
        gone: AppError,
    ) -> AppResult<Issued> {
        if !store::lock(conn, user_id).await? {
            return Err(gone);
        }
        store::record_login(conn, user_id, Timestamp::now()).await?;
        sessions::start(
            conn,
            user_id,
            self.device_name.as_deref(),
            self.user_agent.as_deref(),
            self.ttl,
            &self.quotas,
        )
        .await
    }
}

#[derive(Default)]
pub struct SignInQuery;

#[Object]
impl SignInQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<User> {
        current_user(ctx).await
    }
}

#[derive(Default)]
pub struct SignInMutation;

#[Object]
impl SignInMutation {
    /// Creates an account and signs it in. Rate limited per client IP.
    async fn signup(&self, ctx: &Context<'_>, input: SignupInput) -> AppResult<AuthPayload> {
        let services = ctx.services();
        let email = validate::email("input.email", &input.email)?;
        validate::password("input.password", &input.password)?;
        let display_name = validate::display_name("input.displayName", &input.display_name)?;
        let username = match input.username.as_deref() {
            Some(raw) => Some(validate::username("input.username", raw)?),
            None => None,
        };
        services.limiter.signup(ctx.meta().client_ip).await?;
        let password_hash = services
            .hasher
            .hash(&SecretString::from(input.password))
            .await?;
        let user_agent = ctx.meta().user_agent.clone();
        let ttl = services.config.refresh_token_ttl;
        let quotas = services.config.quotas;
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
                    let issued = sessions::start(
                        &mut conn,
                        user.id,
                        None,
                        user_agent.as_deref(),
                        ttl,
                        &quotas,
                    )
                    .await?;
                    Ok((user, issued))
                }
                .scope_boxed()
            })
            .await?;
        payload(services, user, issued)
    }

    /// Signs in with email and password. Any failure is the same
    /// UNAUTHENTICATED message, in about the same time. At most 5 failures
    /// per client IP in 15 minutes and 100 per account in an hour (by
    /// default; then RATE_LIMITED), each failure past the 5th on an account
    /// answered more slowly.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> AppResult<AuthPayload> {
        let services = ctx.services();
        let email = input.email.trim().to_lowercase();
        let attempt = services
            .limiter
            .login_attempt(ctx.meta().client_ip, &email)
            .await?;
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
        services.limiter.login_succeeded(attempt).await?;
        let session = SignInSession::of(ctx, input.device_name);
        let user_id = user.id;
        let issued = services
            .db
            .transaction(|mut conn| {
                async move {
                    let gone = AppError::unauthenticated(LOGIN_FAILED);
                    session.start(&mut conn, user_id, gone).await
                }
                .scope_boxed()
            })
            .await?;
        payload(services, user, issued)
    }

    /// Exchanges a refresh token for a new access and refresh token. A token
    /// can be used once; using it again ends its session everywhere —
    /// except within a few seconds of its first use (another tab refreshing
    /// at the same time), which get the same new refresh token.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> AppResult<AuthPayload> {
        let services = ctx.services();
        services.limiter.refresh(ctx.meta().client_ip).await?;
        let user_agent = ctx.meta().user_agent.clone();
        let rules = RotationRules {
            keys: &services.tokens,
            ttl: services.config.refresh_token_ttl,
            grace: services.config.refresh_grace,
        };
        let (rotation, revoked) = services
            .db
            .transaction(|mut conn| {
                async move {
                    let rotation =
                        sessions::rotate(&mut conn, &refresh_token, user_agent.as_deref(), &rules)
                            .await?;
                    let mut revoked = Revoked::default();
                    if let Rotation::Refused {
                        ended: Some(family),
                        ..
                    } = &rotation
                    {
                        revoked.add(&mut conn, vec![*family]).await?;
                    }
                    Ok((rotation, revoked))
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        let (user_id, issued) = rotation.into_result()?;
        let user = {
            let mut pooled = services.db.read().await?;
            store::find_active(&mut pooled.conn(), user_id).await?
        };
        let user = user.ok_or_else(|| AppError::unauthenticated("Account is not active"))?;
        payload(services, user, issued)
    }

    /// Ends this session: the one the refresh token belongs to, or else the
    /// one of the access token. False when it had already ended. A refresh
    /// token given counts against the client IP's token attempts.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> AppResult<bool> {
        let services = ctx.services();
        let attempt = match &refresh_token {
            Some(_) => Some(services.limiter.token_attempt(ctx.meta().client_ip).await?),
            None => None,
        };
        let viewer = match &refresh_token {
            Some(_) => None,
            None => Some(ctx.viewer()?.clone()),
        };
        let (ended, revoked) = services
            .db
            .transaction(|mut conn| {
                async move {
                    let family = match (refresh_token, viewer) {
                        (Some(token), _) => sessions::end_by_token(&mut conn, &token).await?,
                        (None, Some(viewer)) => {
                            let session = viewer.require_session()?;
                            sessions::end_for_viewer(&mut conn, &viewer, session)
                                .await?
                                .then_some(session)
                        }
                        (None, None) => {
                            return Err(AppError::unauthenticated("Authentication required"));
                        }
                    };
                    let mut revoked = Revoked::default();
                    if let Some(family) = family {
                        revoked.add(&mut conn, vec![family]).await?;
                    }
                    Ok((family.is_some(), revoked))
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        if let Some(attempt) = attempt.filter(|_| ended) {
            services.limiter.token_accepted(attempt).await?;
        }
        Ok(ended)
    }
}
