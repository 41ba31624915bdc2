//! Which account a provider's identity signs in to, and linking.
//!
//! An identity already linked signs in to its account. An unknown one whose
//! email has no account creates one (that email, verified only if the
//! provider says so, no password). An unknown one whose email has an
//! account joins it only when the provider says the email is verified and
//! the account verified it too: otherwise whoever made the account (or the
//! provider account) may not own the address, so the answer is
//! ACCOUNT_EXISTS and nothing is linked; the owner signs in the usual way
//! and links from there.

use async_graphql::{Context, ID};
use scoped_futures::ScopedFutureExt as _;

use crate::auth::Viewer;
use crate::auth::oauth::identities::{self, IdentityRow, LINKED_ELSEWHERE};
use crate::auth::oauth::state::{self, Purpose};
use crate::auth::oauth::{BAD_STATE, Completion, ProviderIdentity};
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::users::graphql::sign_in::SignInSession;
use crate::users::graphql::{AuthPayload, payload};
use crate::users::model::NewUser;
use crate::users::{store, validate};

const EXISTS: &str = "An account with this email address exists. Sign in to it the usual way, \
     then link this provider from there";

/// Uses `state` (started for `purpose`) and asks its provider who signed
/// in with `code`: the provider's id and the identity. The state is gone
/// afterwards, whatever the provider answers.
async fn redeem(
    ctx: &Context<'_>,
    state: &str,
    code: &str,
    purpose: Purpose,
) -> AppResult<(String, ProviderIdentity)> {
    let services = ctx.services();
    let row = {
        let mut pooled = services.db.write().await?;
        let row = state::take(&mut pooled.conn(), state).await?;
        pooled.commit().await?;
        row
    };
    let bad_state = || AppError::unauthenticated(BAD_STATE);
    let row = row
        .filter(|row| row.purpose() == Some(purpose))
        .ok_or_else(bad_state)?;
    let provider = services
        .oauth
        .provider(&row.provider, "state")
        .map_err(|_| bad_state())?;
    let completion = Completion {
        code,
        pkce_verifier: &row.pkce_verifier,
        nonce: row.nonce.as_deref(),
        redirect_uri: &row.redirect_uri,
    };
    let identity = services.oauth.finish(provider, completion).await?;
    Ok((row.provider, identity))
}

/// `completeOAuth`: signs in the identity's account, joining or creating
/// one first, and starts a session as `login` does.
pub(super) async fn sign_in(
    ctx: &Context<'_>,
    state: &str,
    code: &str,
    device_name: Option<String>,
) -> AppResult<AuthPayload> {
    let (provider, who) = redeem(ctx, state, code, Purpose::Login).await?;
    let services = ctx.services();
    let session = SignInSession::of(ctx, device_name);
    // A first sign-in that raced another one for the same identity or
    // address lost on a unique key: once more, it finds what the other made.
    let mut tries = 0;
    let (user, issued) = loop {
        tries += 1;
        let (provider, who, session) = (&provider, &who, &session);
        let attempt = services
            .db
            .transaction(|mut conn| {
                async move {
                    let user_id = match identities::find(&mut conn, provider, &who.subject).await? {
                        Some(known) => known.user_id,
                        None => join_or_create(&mut conn, provider, who, Timestamp::now()).await?,
                    };
                    let inactive = || AppError::unauthenticated("Account is not active");
                    let issued = session.start(&mut conn, user_id, inactive()).await?;
                    let user = store::find_active(&mut conn, user_id)
                        .await?
                        .ok_or_else(inactive)?;
                    Ok((user, issued))
                }
                .scope_boxed()
            })
            .await;
        match attempt {
            Err(AppError::Conflict { message, .. }) if message == RACED && tries < 2 => continue,
            other => break other?,
        }
    };
    payload(services, user, issued)
}

/// What a first sign-in answers when it lost a race on a unique key twice.
const RACED: &str = "Another sign-in made this account at the same moment; try again";

/// The account an unknown identity belongs to: the one with its email when
/// both sides verified it, else a new one; ACCOUNT_EXISTS when the email's
/// account may not be joined.
async fn join_or_create(
    conn: &mut Conn<'_>,
    provider: &str,
    who: &ProviderIdentity,
    now: Timestamp,
) -> AppResult<Id> {
    let email = who
        .email
        .as_deref()
        .and_then(|raw| validate::email("email", raw).ok())
        .ok_or_else(|| {
            AppError::OAuthProvider("The provider did not share a usable email address".into())
        })?;
    let user_id = match store::find_for_login(conn, &email).await? {
        Some(existing) if who.email_verified && existing.email_verified_at.is_some() => existing.id,
        Some(_) => return Err(AppError::AccountExists(EXISTS.into())),
        None => {
            let display_name = who
                .name
                .as_deref()
                .and_then(|n| validate::display_name("name", n).ok())
                .unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_owned());
            let new_user = NewUser {
                id: Id::new(),
                email: &email,
                username: None,
                display_name: &display_name,
                password_hash: None,
                is_active: true,
                created_at: now,
                updated_at: now,
            };
            // Its address taken since it was looked up: the race above.
            let user = store::insert(conn, &new_user)
                .await
                .map_err(|err| match err {
                    AppError::BadInput { .. } => raced(),
                    other => other,
                })?;
            if who.email_verified {
                store::mark_verified(conn, user.id, now).await?;
            }
            user.id
        }
    };
    let row = IdentityRow::new(user_id, provider, &who.subject, Some(&email));
    identities::insert(conn, &row)
        .await
        .map_err(|err| match err {
            AppError::Conflict { .. } => raced(),
            other => other,
        })?;
    Ok(user_id)
}

fn raced() -> AppError {
    AppError::Conflict {
        message: RACED.into(),
        current: None,
    }
}

/// `linkOAuth`: links the identity to the viewer; CONFLICT when it is
/// another account's, the existing link when it is already the viewer's.
pub(super) async fn link(
    ctx: &Context<'_>,
    viewer: &Viewer,
    state: &str,
    code: &str,
) -> AppResult<IdentityRow> {
    let user_id = viewer.user_id;
    let (provider, who) = redeem(ctx, state, code, Purpose::Link(user_id)).await?;
    ctx.services()
        .db
        .transaction(|mut conn| {
            async move {
                if let Some(known) = identities::find(&mut conn, &provider, &who.subject).await? {
                    if known.user_id == user_id {
                        return Ok(known);
                    }
                    return Err(AppError::Conflict {
                        message: LINKED_ELSEWHERE.into(),
                        current: None,
                    });
                }
                if !store::lock(&mut conn, user_id).await? {
                    return Err(AppError::unauthenticated("Account no longer exists"));
                }
                let email = who.email.as_deref();
                let row = IdentityRow::new(user_id, &provider, &who.subject, email);
                identities::insert(&mut conn, &row).await?;
                Ok(row)
            }
            .scope_boxed()
        })
        .await
}

/// `unlinkOAuth`: removes one of the viewer's identities unless the
/// account could then not sign in at all.
pub(super) async fn unlink(ctx: &Context<'_>, viewer: &Viewer, raw: &ID) -> AppResult<bool> {
    let not_found = || AppError::NotFound("Identity not found".into());
    let id = Id::parse(raw).ok_or_else(not_found)?;
    let viewer = viewer.clone();
    ctx.services()
        .db
        .transaction(|mut conn| {
            async move {
                if !store::lock(&mut conn, viewer.user_id).await? {
                    return Err(AppError::unauthenticated("Account no longer exists"));
                }
                let user = store::find_viewer(&mut conn, &viewer)
                    .await?
                    .ok_or_else(|| AppError::unauthenticated("Account no longer exists"))?;
                let linked = identities::list(&mut conn, &viewer).await?;
                if !linked.iter().any(|row| row.id == id) {
                    return Err(not_found());
                }
                if user.password_hash.is_none() && linked.len() == 1 {
                    return Err(AppError::bad_input(
                        "id",
                        "is the account's only way to sign in; set a password first \
                         (requestPasswordReset) or link another provider",
                    ));
                }
                identities::delete(&mut conn, &viewer, id).await
            }
            .scope_boxed()
        })
        .await
}
