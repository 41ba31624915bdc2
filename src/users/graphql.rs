//! The `User` type, the auth payload, and the account roots: signing in
//! ([`sign_in`]), the account itself ([`account`]), the email flows
//! ([`email`]) and provider sign-in and linking ([`oauth`]), merged with
//! the session and API key roots of `auth`.

pub mod account;
pub mod email;
pub mod oauth;
pub mod sign_in;

use async_graphql::{Context, ID, MergedObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::model::User;
use crate::auth::api_keys::graphql::{ApiKeysMutation, ApiKeysQuery};
use crate::auth::sessions::Issued;
use crate::auth::sessions::graphql::{SessionsMutation, SessionsQuery};
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
    /// The viewer's own; null for another user (of a fellow member only
    /// the id, display name and email are shown).
    async fn username(&self, ctx: &Context<'_>) -> Option<&str> {
        // No viewer: the account of a sign-up or sign-in payload, its own.
        let own = ctx
            .viewer()
            .map_or(true, |viewer| viewer.user_id == self.id);
        self.username.as_deref().filter(|_| own)
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

/// The viewer's account, or UNAUTHENTICATED when it is gone.
pub async fn current_user(ctx: &Context<'_>) -> AppResult<User> {
    let viewer = ctx.viewer()?;
    let mut pooled = ctx.services().db.read().await?;
    super::store::find_viewer(&mut pooled.conn(), viewer)
        .await?
        .ok_or_else(|| AppError::unauthenticated("Account no longer exists"))
}

/// The tokens of a new or refreshed session.
pub fn payload(services: &Services, user: User, issued: Issued) -> AppResult<AuthPayload> {
    let access_token = services.tokens.issue(user.id, issued.session_id)?;
    Ok(AuthPayload {
        access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer".into(),
        expires_in: i32::try_from(services.tokens.access_ttl().as_secs()).unwrap_or(i32::MAX),
        user,
    })
}

#[derive(MergedObject, Default)]
pub struct UsersQuery(
    sign_in::SignInQuery,
    SessionsQuery,
    ApiKeysQuery,
    oauth::OAuthQuery,
);

#[derive(MergedObject, Default)]
pub struct UsersMutation(
    sign_in::SignInMutation,
    account::AccountMutation,
    email::EmailMutation,
    oauth::OAuthMutation,
    SessionsMutation,
    ApiKeysMutation,
);
