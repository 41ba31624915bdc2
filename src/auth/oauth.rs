//! Sign-in through Google, GitHub and any OpenID Connect provider
//! (authorization code flow with PKCE S256 for every provider, and a nonce
//! for OpenID Connect).
//!
//! [`OAuth::start`] makes the state, the PKCE verifier and the nonce and
//! builds the provider's authorization URL; the caller keeps them in
//! [`state`]. [`OAuth::finish`] exchanges the code the provider sent back and
//! returns who signed in ([`ProviderIdentity`]): from the checked ID token
//! for OpenID Connect (`oidc.rs`: discovery, JWKS, signature, `iss`, `aud`,
//! `exp`, nonce), from the user and verified-emails API for GitHub
//! (`github.rs`). The provider's access and refresh tokens are dropped there.
//!
//! Every call to a provider goes through one HTTP client that follows no
//! redirect and gives up after `TASKLANE_OAUTH_TIMEOUT_MS`. Any failure of
//! the provider is OAUTH_PROVIDER_ERROR with a plain message (the detail is
//! logged); an ID token that fails a check is UNAUTHENTICATED.

mod github;
pub mod identities;
mod oidc;
pub mod state;

use std::fmt::Display;

use oauth2::{CsrfToken, PkceCodeChallenge};

use crate::config::{OAuthConfig, ProviderKind, ProviderSettings};
use crate::error::{AppError, AppResult};

/// Who signed in, as the provider says.
#[derive(Debug, Clone)]
pub struct ProviderIdentity {
    /// The provider's stable id for the person.
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider says it verified `email`.
    pub email_verified: bool,
    /// A name to show, when the provider gives one.
    pub name: Option<String>,
}

/// A started sign-in: where to send the user, and what to keep until the
/// provider sends them back.
#[derive(Debug)]
pub struct Started {
    pub authorization_url: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: Option<String>,
}

/// What a completion needs: the code, and what was kept at the start.
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub code: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: Option<&'a str>,
    pub redirect_uri: &'a str,
}

/// The configured providers and the client that talks to them.
pub struct OAuth {
    config: OAuthConfig,
    http: reqwest::Client,
}

/// What a bad, replayed, expired or unknown state answers (UNAUTHENTICATED).
pub const BAD_STATE: &str = "The sign-in state is invalid, expired or already used";

/// What every failed provider call answers; the detail goes to the log.
const PROVIDER_FAILED: &str = "The sign-in provider could not be reached or gave an unusable \
     answer; try again later";

impl OAuth {
    pub fn new(config: &OAuthConfig) -> AppResult<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // GitHub's API refuses requests without one.
            .user_agent(concat!("Tasklane/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::internal(format!("cannot build the OAuth HTTP client: {e}")))?;
        Ok(Self {
            config: config.clone(),
            http,
        })
    }

    /// The enabled providers, in their configured order.
    pub fn providers(&self) -> &[ProviderSettings] {
        &self.config.providers
    }

    /// The provider with this id, or BAD_USER_INPUT on `field`.
    pub fn provider(&self, id: &str, field: &str) -> AppResult<&ProviderSettings> {
        self.config
            .providers
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::bad_input(field, "is not a configured sign-in provider"))
    }

    /// Whether `uri` is on `TASKLANE_OAUTH_REDIRECT_URIS`.
    pub fn redirect_allowed(&self, uri: &str) -> bool {
        self.config.redirect_uris.allows(uri)
    }

    /// Starts a sign-in with `provider` that will come back to `redirect_uri`.
    pub async fn start(
        &self,
        provider: &ProviderSettings,
        redirect_uri: &str,
    ) -> AppResult<Started> {
        let state = crate::auth::tokens::random_token();
        let csrf = CsrfToken::new(state.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, nonce) = match provider.kind {
            ProviderKind::Google | ProviderKind::Oidc => {
                oidc::authorize(&self.http, provider, redirect_uri, csrf, challenge).await?
            }
            ProviderKind::Github => github::authorize(provider, redirect_uri, csrf, challenge)?,
        };
        Ok(Started {
            authorization_url: url.to_string(),
            state,
            pkce_verifier: verifier.secret().clone(),
            nonce,
        })
    }

    /// Exchanges the code and says who signed in.
    pub async fn finish(
        &self,
        provider: &ProviderSettings,
        completion: Completion<'_>,
    ) -> AppResult<ProviderIdentity> {
        match provider.kind {
            ProviderKind::Google | ProviderKind::Oidc => {
                oidc::finish(&self.http, provider, completion).await
            }
            ProviderKind::Github => github::finish(&self.http, provider, completion).await,
        }
    }
}

/// OAUTH_PROVIDER_ERROR for a failed call to `provider`; `what` and the
/// detail are logged, never shown.
fn provider_failed(provider: &ProviderSettings, what: &str, detail: impl Display) -> AppError {
    tracing::warn!(provider = %provider.id, error = %detail, "sign-in provider failed: {what}");
    AppError::OAuthProvider(PROVIDER_FAILED.into())
}

/// BAD_USER_INPUT on `redirectUri` for a URI the protocol crates can not use.
fn bad_redirect() -> AppError {
    AppError::bad_input("redirectUri", "is not an absolute URI")
}
