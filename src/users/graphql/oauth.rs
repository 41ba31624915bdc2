//! Sign-in with Google, GitHub or an OpenID Connect provider:
//! `oauthProviders`, `identities`, `startOAuth`, `completeOAuth`,
//! `linkOAuth`, `unlinkOAuth`. The protocol is `auth::oauth`; which account
//! a provider's identity opens, joins or creates is [`accounts`].
//!
//! The four mutations refuse API keys (FORBIDDEN) and each counts as a token
//! attempt of the client IP (`TASKLANE_RATE_TOKEN_IP`): given back when
//! completing, linking or unlinking succeeds, kept for `startOAuth`, so
//! that the stored states of one client stay bounded.

mod accounts;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::AuthPayload;
use super::email::token_attempt;
use crate::auth::Viewer;
use crate::auth::oauth::identities::{self, IdentityRow};
use crate::auth::oauth::state::{self, Purpose, StateRow};
use crate::config::ProviderKind;
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::validate::bounded;

/// Longest `state` accepted (the server's own are 43 characters).
pub const STATE_MAX: usize = 256;
/// Longest authorization `code` accepted.
pub const CODE_MAX: usize = 2048;
/// Longest `redirectUri` accepted.
pub const REDIRECT_URI_MAX: usize = 2048;
/// Longest `provider` id accepted.
pub const PROVIDER_MAX: usize = 64;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OAuthProviderKind")]
pub enum OAuthProviderKind {
    Google,
    Github,
    /// Any other OpenID Connect provider.
    Oidc,
}

impl From<ProviderKind> for OAuthProviderKind {
    fn from(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Google => Self::Google,
            ProviderKind::Github => Self::Github,
            ProviderKind::Oidc => Self::Oidc,
        }
    }
}

/// A configured sign-in provider, for a frontend's buttons.
#[derive(SimpleObject)]
#[graphql(name = "OAuthProvider")]
pub struct OAuthProvider {
    /// What `startOAuth` takes: `google`, `github` or the provider's name.
    id: String,
    /// What the button says.
    name: String,
    kind: OAuthProviderKind,
}

/// Where to send the user, and the state the provider sends back.
#[derive(SimpleObject)]
#[graphql(name = "OAuthStart")]
pub struct OAuthStart {
    authorization_url: String,
    /// Give it to `completeOAuth` or `linkOAuth` with the provider's `code`.
    state: String,
}

#[Object(name = "Identity")]
impl IdentityRow {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// The provider's id (`google`, `github`, …).
    async fn provider(&self) -> &str {
        &self.provider
    }
    /// The address the provider gave when the identity was linked.
    async fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.created_at.get()
    }
}

/// The signed-in viewer, if any; FORBIDDEN for an API key, which may
/// neither sign in nor manage credentials.
fn session_viewer<'c>(ctx: &'c Context<'_>) -> AppResult<Option<&'c Viewer>> {
    match ctx.auth().viewer_opt() {
        Some(viewer) => viewer.require_session().map(|_| Some(viewer)),
        None => Ok(None),
    }
}

/// The signed-in viewer of a session: UNAUTHENTICATED without one,
/// FORBIDDEN for an API key.
fn signed_in<'c>(ctx: &'c Context<'_>) -> AppResult<&'c Viewer> {
    let viewer = ctx.viewer()?;
    viewer.require_session()?;
    Ok(viewer)
}

#[derive(Default)]
pub struct OAuthQuery;

#[Object]
impl OAuthQuery {
    /// The sign-in providers this server offers.
    async fn oauth_providers(&self, ctx: &Context<'_>) -> Vec<OAuthProvider> {
        ctx.services()
            .oauth
            .providers()
            .iter()
            .map(|p| OAuthProvider {
                id: p.id.clone(),
                name: p.name.clone(),
                kind: p.kind.into(),
            })
            .collect()
    }

    /// The provider accounts linked to the signed-in user, oldest first.
    async fn identities(&self, ctx: &Context<'_>) -> AppResult<Vec<IdentityRow>> {
        let viewer = ctx.viewer()?;
        let mut pooled = ctx.services().db.read().await?;
        identities::list(&mut pooled.conn(), viewer).await
    }
}

#[derive(Default)]
pub struct OAuthMutation;

#[Object]
impl OAuthMutation {
    /// Starts a sign-in with `provider` (an id from `oauthProviders`) that
    /// returns to `redirectUri`, which must be on the server's list. Signed
    /// in, the state is for `linkOAuth`; otherwise for `completeOAuth`. It
    /// works once, for 10 minutes.
    #[graphql(name = "startOAuth")]
    async fn start_oauth(
        &self,
        ctx: &Context<'_>,
        provider: String,
        redirect_uri: String,
    ) -> AppResult<OAuthStart> {
        let viewer = session_viewer(ctx)?;
        let services = ctx.services();
        let provider = bounded("provider", &provider, PROVIDER_MAX)?;
        let redirect_uri = bounded("redirectUri", &redirect_uri, REDIRECT_URI_MAX)?;
        let provider = services.oauth.provider(provider, "provider")?;
        if !services.oauth.redirect_allowed(redirect_uri) {
            return Err(AppError::bad_input(
                "redirectUri",
                "is not one of the server's allowed redirect URIs",
            ));
        }
        // Counted and kept: every start stores a state.
        let _kept = services.limiter.token_attempt(ctx.meta().client_ip).await?;
        let started = services.oauth.start(provider, redirect_uri).await?;
        let purpose = viewer.map_or(Purpose::Login, |v| Purpose::Link(v.user_id));
        let row = StateRow::new(
            &started.state,
            &provider.id,
            purpose,
            started.pkce_verifier,
            started.nonce,
            redirect_uri,
        );
        {
            let mut pooled = services.db.write().await?;
            state::insert(&mut pooled.conn(), &row).await?;
            pooled.commit().await?;
        }
        Ok(OAuthStart {
            authorization_url: started.authorization_url,
            state: started.state,
        })
    }

    /// Completes a sign-in with the `state` of `startOAuth` and the `code`
    /// the provider sent back: signs in the account of that identity,
    /// creating it on first use. An email of an existing account is joined
    /// only when both the provider and the account have verified it (else
    /// ACCOUNT_EXISTS, nothing linked). The session is named `deviceName`.
    #[graphql(name = "completeOAuth")]
    async fn complete_oauth(
        &self,
        ctx: &Context<'_>,
        state: String,
        code: String,
        device_name: Option<String>,
    ) -> AppResult<AuthPayload> {
        session_viewer(ctx)?;
        bounded("state", &state, STATE_MAX)?;
        bounded("code", &code, CODE_MAX)?;
        token_attempt(ctx, accounts::sign_in(ctx, &state, &code, device_name)).await
    }

    /// Links the provider account of this sign-in (started while signed in)
    /// to the signed-in user; CONFLICT when it is another account's.
    #[graphql(name = "linkOAuth")]
    async fn link_oauth(
        &self,
        ctx: &Context<'_>,
        state: String,
        code: String,
    ) -> AppResult<IdentityRow> {
        let viewer = signed_in(ctx)?;
        bounded("state", &state, STATE_MAX)?;
        bounded("code", &code, CODE_MAX)?;
        token_attempt(ctx, accounts::link(ctx, viewer, &state, &code)).await
    }

    /// Unlinks one of the signed-in user's provider accounts, unless it is
    /// the account's only way to sign in (no password, no other identity:
    /// BAD_USER_INPUT). No session ends.
    #[graphql(name = "unlinkOAuth")]
    async fn unlink_oauth(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let viewer = signed_in(ctx)?;
        bounded("id", &id, STATE_MAX)?;
        token_attempt(ctx, accounts::unlink(ctx, viewer, &id)).await
    }
}
