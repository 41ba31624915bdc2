//! The email flows: verification, password reset, magic-link sign-in.
//!
//! A request mutation answers `true` whether or not the address has an
//! account, after the same work either way (checking the address and
//! counting the request against the rate limits); looking the account up,
//! issuing the token and sending the mail happen afterwards in a task of
//! their own, so the response time tells nothing.
//!
//! Presenting a token (`verifyEmail`, `resetPassword`,
//! `loginWithMagicLink`) is an attempt counted per client IP
//! (`TASKLANE_RATE_TOKEN_IP`) and given back when the token was good; a new
//! password is hashed only once the token is known to be good. The first
//! proof of an unverified address ends every session and API key made
//! before it and unlinks every provider account (they may be an attacker's,
//! who signed up with the address first); a password reset ends every
//! session and API key.

use std::sync::Arc;

use async_graphql::{Context, Object};
use scoped_futures::ScopedFutureExt as _;
use secrecy::SecretString;

use super::{AuthPayload, current_user, payload};
use crate::auth::oauth::identities;
use crate::auth::one_time_tokens::{self, Purpose};
use crate::auth::revocation::{self, Revoked};
use crate::auth::sessions;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::{ContextExt, Services};
use crate::users::model::User;
use crate::users::{store, validate};

const BAD_TOKEN: &str = "is invalid, expired or already used";

/// What a mail says, and where its link leads.
fn letter(purpose: Purpose, public_url: &str, token: &str) -> (&'static str, String) {
    let (subject, path, text, lifetime) = match purpose {
        Purpose::VerifyEmail => (
            "Confirm your email address",
            "verify-email",
            "Confirm your email address for Tasklane by opening this link:",
            "24 hours",
        ),
        Purpose::ResetPassword => (
            "Reset your password",
            "reset-password",
            "Someone asked to reset the password of your Tasklane account. If it was you, open this link:",
            "15 minutes",
        ),
        Purpose::MagicLink => (
            "Your sign-in link",
            "magic-link",
            "Sign in to Tasklane by opening this link:",
            "15 minutes",
        ),
    };
    let body = format!(
        "{text}\n\n{public_url}/{path}?token={token}\n\n\
         The link works once, for {lifetime}. If you did not ask for it, ignore this message.\n"
    );
    (subject, body)
}

/// Looks the account up, issues a token and mails the link — off the
/// request's path. Failures are logged, never shown.
fn send_in_background(services: Arc<Services>, email: String, purpose: Purpose) {
    tokio::spawn(async move {
        if let Err(AppError::Internal(detail)) = send_link(&services, &email, purpose).await {
            tracing::error!(error = %detail, kind = purpose.kind(), "could not send a link");
        }
    });
}

async fn send_link(services: &Services, email: &str, purpose: Purpose) -> AppResult<()> {
    let user = {
        let mut pooled = services.db.read().await?;
        store::find_for_login(&mut pooled.conn(), email).await?
    };
    let Some(user) = user.filter(|u| u.is_active) else {
        return Ok(());
    };
    if purpose == Purpose::VerifyEmail && user.email_verified_at.is_some() {
        return Ok(());
    }
    let user_id = user.id;
    let token = services
        .db
        .transaction(|mut conn| {
            async move { one_time_tokens::issue(&mut conn, user_id, purpose).await }.scope_boxed()
        })
        .await?;
    let (subject, body) = letter(purpose, &services.config.public_url, &token);
    services.mailer.send(&user.email, subject, body).await
}

fn shared(ctx: &Context<'_>) -> Arc<Services> {
    // Put in by `build_schema`, as ContextExt::services relies on.
    ctx.data_unchecked::<Arc<Services>>().clone()
}

/// Uses a token of `purpose` and starts a session for its user. With
/// `new_password_hash` (a reset), or when this is the first proof of the
/// address, every earlier session and API key ends; the first proof also
/// unlinks every provider account, and when it is a magic link removes the
/// password, set by whoever signed up before the address was proven.
async fn sign_in_with(
    ctx: &Context<'_>,
    token: String,
    purpose: Purpose,
    new_password_hash: Option<String>,
) -> AppResult<AuthPayload> {
    let services = ctx.services();
    let user_agent = ctx.meta().user_agent.clone();
    let ttl = services.config.refresh_token_ttl;
    let quotas = services.config.quotas;
    let (user, issued, revoked) = services
        .db
        .transaction(|mut conn| {
            async move {
                let refused = || refused_token(purpose);
                let user_id = one_time_tokens::consume(&mut conn, &token, purpose)
                    .await?
                    .ok_or_else(refused)?;
                if !store::lock(&mut conn, user_id).await? {
                    return Err(refused());
                }
                let user = store::find_active(&mut conn, user_id)
                    .await?
                    .ok_or_else(refused)?;
                let now = Timestamp::now();
                let mut revoked = Revoked::default();
                // The mail reached its owner: the address is verified.
                let first_proof = store::mark_verified(&mut conn, user_id, now).await?;
                if first_proof {
                    void_unproven(&mut conn, user_id, &mut revoked).await?;
                } else if new_password_hash.is_some() {
                    revocation::end_every_credential(&mut conn, user_id, &mut revoked).await?;
                }
                if let Some(hash) = &new_password_hash {
                    store::set_password(&mut conn, user_id, hash, now).await?;
                } else if first_proof {
                    store::clear_password(&mut conn, user_id, now).await?;
                }
                store::record_login(&mut conn, user_id, now).await?;
                let issued = sessions::start(
                    &mut conn,
                    user_id,
                    None,
                    user_agent.as_deref(),
                    ttl,
                    &quotas,
                )
                .await?;
                let user = store::find_active(&mut conn, user.id)
                    .await?
                    .unwrap_or(user);
                Ok((user, issued, revoked))
            }
            .scope_boxed()
        })
        .await?;
    services.auth.apply(revoked);
    payload(services, user, issued)
}

/// The first proof of an address voids what was made before anyone had
/// proven to own it: every session and API key, and every linked provider
/// account (whoever signed up with the address first may have linked one of
/// their own).
async fn void_unproven(conn: &mut Conn<'_>, user_id: Id, revoked: &mut Revoked) -> AppResult<()> {
    revocation::end_every_credential(conn, user_id, revoked).await?;
    identities::delete_all(conn, user_id).await
}

/// The error for a token that can not be used.
fn refused_token(purpose: Purpose) -> AppError {
    match purpose {
        Purpose::MagicLink => {
            AppError::unauthenticated("The sign-in link is invalid, expired or already used")
        }
        _ => AppError::bad_input("token", BAD_TOKEN),
    }
}

/// Runs `use_token` as one counted token attempt: refused when the client
/// IP has made too many, given back when it succeeds.
pub(super) async fn token_attempt<T>(
    ctx: &Context<'_>,
    use_token: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let limiter = &ctx.services().limiter;
    let attempt = limiter.token_attempt(ctx.meta().client_ip).await?;
    let used = use_token.await?;
    limiter.token_accepted(attempt).await?;
    Ok(used)
}

async fn verify(ctx: &Context<'_>, token: String) -> AppResult<User> {
    let services = ctx.services();
    let (user, revoked) = services
        .db
        .transaction(|mut conn| {
            async move {
                let refused = || refused_token(Purpose::VerifyEmail);
                let user_id = one_time_tokens::consume(&mut conn, &token, Purpose::VerifyEmail)
                    .await?
                    .ok_or_else(refused)?;
                let mut revoked = Revoked::default();
                if store::mark_verified(&mut conn, user_id, Timestamp::now()).await? {
                    void_unproven(&mut conn, user_id, &mut revoked).await?;
                }
                let user = store::find_active(&mut conn, user_id)
                    .await?
                    .ok_or_else(refused)?;
                Ok((user, revoked))
            }
            .scope_boxed()
        })
        .await?;
    services.auth.apply(revoked);
    Ok(user)
}

async fn reset(ctx: &Context<'_>, token: String, new_password: String) -> AppResult<AuthPayload> {
    let services = ctx.services();
    // Hashing costs tens of milliseconds of a core: only for a good token.
    let usable = {
        let mut pooled = services.db.read().await?;
        one_time_tokens::is_usable(&mut pooled.conn(), &token, Purpose::ResetPassword).await?
    };
    if !usable {
        return Err(refused_token(Purpose::ResetPassword));
    }
    let hash = services
        .hasher
        .hash(&SecretString::from(new_password))
        .await?;
    sign_in_with(ctx, token, Purpose::ResetPassword, Some(hash)).await
}

#[derive(Default)]
pub struct EmailMutation;

#[Object]
impl EmailMutation {
    /// Mails the signed-in user a link to confirm their address (valid 24 h).
    async fn request_email_verification(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let services = ctx.services();
        let user = current_user(ctx).await?;
        services
            .limiter
            .email_request(ctx.meta().client_ip, &user.email)
            .await?;
        send_in_background(shared(ctx), user.email, Purpose::VerifyEmail);
        Ok(true)
    }

    /// Confirms the address with the token from the mail. The first
    /// confirmation ends every session and API key of the account made
    /// before it and unlinks its provider accounts. Counted against the
    /// client IP's token attempts.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> AppResult<User> {
        token_attempt(ctx, verify(ctx, token)).await
    }

    /// Mails a password-reset link (valid 15 min) if the address has an
    /// account. Always true.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> AppResult<bool> {
        request_link(ctx, &email, Purpose::ResetPassword).await
    }

    /// Sets a new password with the token from the mail, ends every session
    /// and API key, and signs in anew. Counted against the client IP's
    /// token attempts.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> AppResult<AuthPayload> {
        validate::password("newPassword", &new_password)?;
        token_attempt(ctx, reset(ctx, token, new_password)).await
    }

    /// Mails a sign-in link (valid 15 min) if the address has an account.
    /// Always true.
    async fn request_magic_link(&self, ctx: &Context<'_>, email: String) -> AppResult<bool> {
        request_link(ctx, &email, Purpose::MagicLink).await
    }

    /// Signs in with the token from a magic-link mail. When the address was
    /// not verified yet, every earlier session and API key ends and the
    /// password set at signup is removed. Counted against the client IP's
    /// token attempts.
    async fn login_with_magic_link(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> AppResult<AuthPayload> {
        token_attempt(ctx, sign_in_with(ctx, token, Purpose::MagicLink, None)).await
    }
}

async fn request_link(ctx: &Context<'_>, email: &str, purpose: Purpose) -> AppResult<bool> {
    let email = validate::email("email", email)?;
    ctx.services()
        .limiter
        .email_request(ctx.meta().client_ip, &email)
        .await?;
    send_in_background(shared(ctx), email, purpose);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_carry_a_link_under_the_public_url() {
        let (subject, body) = letter(Purpose::ResetPassword, "https://app.example.com", "abc-_1");
        assert_eq!(subject, "Reset your password");
        assert!(body.contains("https://app.example.com/reset-password?token=abc-_1\n"));
        assert!(body.contains("15 minutes"));
        let (_, body) = letter(Purpose::VerifyEmail, "http://x", "t");
        assert!(body.contains("http://x/verify-email?token=t"));
        assert!(body.contains("24 hours"));
    }
}
