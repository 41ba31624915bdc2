//! `updateProfile`, `changePassword`, `deleteAccount`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object};
use scoped_futures::ScopedFutureExt as _;
use secrecy::SecretString;

use super::current_user;
use crate::auth::revocation::Revoked;
use crate::auth::sessions;
use crate::db::types::Timestamp;
use crate::error::{AppError, AppResult};
use crate::graphql::{ContextExt, Services};
use crate::users::model::User;
use crate::users::store::{self, ProfilePatch};
use crate::users::validate;

#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// Omitted: unchanged. Can not be null.
    display_name: MaybeUndefined<String>,
    /// Omitted: unchanged; null: removed.
    username: MaybeUndefined<String>,
}

/// Checks the viewer's password, counting a wrong one as a failed login on
/// the account (so it can not be guessed here instead).
async fn check_password(
    services: &Services,
    ctx: &Context<'_>,
    user: &User,
    password: String,
    field: &str,
) -> AppResult<()> {
    let attempt = services
        .limiter
        .login_attempt(ctx.meta().client_ip, &user.email)
        .await?;
    let matched = services
        .hasher
        .verify(&SecretString::from(password), user.password_hash.as_deref())
        .await?;
    if !matched {
        return Err(AppError::bad_input(field, "is not the account's password"));
    }
    services.limiter.login_succeeded(attempt).await
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Changes the display name and username (rules as for `signup`).
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> AppResult<User> {
        let viewer = ctx.viewer()?;
        let display_name = match input.display_name {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => {
                return Err(AppError::bad_input("input.displayName", "can not be null"));
            }
            MaybeUndefined::Value(raw) => Some(validate::display_name("input.displayName", &raw)?),
        };
        let username = match input.username {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(raw) => Some(Some(validate::username("input.username", &raw)?)),
        };
        let patch = ProfilePatch {
            display_name,
            username,
            updated_at: Some(Timestamp::now()),
        };
        let mut pooled = ctx.services().db.write().await?;
        let user = store::update_profile(&mut pooled.conn(), viewer, &patch).await?;
        pooled.commit().await?;
        Ok(user)
    }

    /// Sets a new password after checking the current one (BAD_USER_INPUT
    /// on `currentPassword` when wrong), and ends every other session.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> AppResult<bool> {
        let services = ctx.services();
        let viewer = ctx.viewer()?.clone();
        let session = viewer.require_session()?;
        validate::password("newPassword", &new_password)?;
        let user = current_user(ctx).await?;
        check_password(services, ctx, &user, current_password, "currentPassword").await?;
        let hash = services
            .hasher
            .hash(&SecretString::from(new_password))
            .await?;
        let revoked = services
            .db
            .transaction(|mut conn| {
                async move {
                    store::set_password(&mut conn, viewer.user_id, &hash, Timestamp::now()).await?;
                    let ended =
                        sessions::end_all_for_viewer(&mut conn, &viewer, Some(session)).await?;
                    let mut revoked = Revoked::default();
                    revoked.add(&mut conn, ended).await?;
                    Ok(revoked)
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        Ok(true)
    }

    /// Deletes the account and everything it owns, after checking the
    /// password (BAD_USER_INPUT on `password` when wrong). Every session and
    /// API key stops working at once.
    async fn delete_account(&self, ctx: &Context<'_>, password: String) -> AppResult<bool> {
        let services = ctx.services();
        let viewer = ctx.viewer()?.clone();
        viewer.require_session()?;
        let user = current_user(ctx).await?;
        check_password(services, ctx, &user, password, "password").await?;
        let revoked = services
            .db
            .transaction(|mut conn| {
                async move {
                    let ended = sessions::end_all_for_viewer(&mut conn, &viewer, None).await?;
                    if !store::delete(&mut conn, &viewer).await? {
                        return Err(AppError::unauthenticated("Account no longer exists"));
                    }
                    let mut revoked = Revoked::default();
                    // The user's id covers their API keys and any token.
                    revoked
                        .add(&mut conn, [vec![viewer.user_id], ended].concat())
                        .await?;
                    Ok(revoked)
                }
                .scope_boxed()
            })
            .await?;
        services.auth.apply(revoked);
        Ok(true)
    }
}
