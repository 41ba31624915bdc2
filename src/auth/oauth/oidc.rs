//! OpenID Connect (Google and the generic providers), with `openidconnect`:
//! the provider's discovery document and keys are fetched for each step, and
//! the ID token's signature (never `alg: none`), `iss`, `aud`, `exp` and
//! nonce are checked before anything in it is believed.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
};
use secrecy::ExposeSecret as _;

use super::{Completion, ProviderIdentity, bad_redirect, provider_failed};
use crate::config::ProviderSettings;
use crate::error::{AppError, AppResult};

/// The provider's metadata and keys, from its discovery document.
async fn discover(
    http: &reqwest::Client,
    provider: &ProviderSettings,
) -> AppResult<CoreProviderMetadata> {
    let issuer = IssuerUrl::new(provider.url.clone())
        .map_err(|e| provider_failed(provider, "bad issuer URL", e))?;
    CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| provider_failed(provider, "discovery", e))
}

fn redirect_url(uri: &str) -> AppResult<RedirectUrl> {
    RedirectUrl::new(uri.to_owned()).map_err(|_| bad_redirect())
}

fn credentials(provider: &ProviderSettings) -> (ClientId, Option<ClientSecret>) {
    (
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(
            provider.client_secret.expose_secret().to_owned(),
        )),
    )
}

/// The authorization URL and the nonce the ID token must carry.
pub(super) async fn authorize(
    http: &reqwest::Client,
    provider: &ProviderSettings,
    redirect_uri: &str,
    state: CsrfToken,
    challenge: PkceCodeChallenge,
) -> AppResult<(url::Url, Option<String>)> {
    let redirect = redirect_url(redirect_uri)?;
    let metadata = discover(http, provider).await?;
    let (id, secret) = credentials(provider);
    let client =
        CoreClient::from_provider_metadata(metadata, id, secret).set_redirect_uri(redirect);
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || state,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok((url, Some(nonce.secret().clone())))
}

pub(super) async fn finish(
    http: &reqwest::Client,
    provider: &ProviderSettings,
    completion: Completion<'_>,
) -> AppResult<ProviderIdentity> {
    let redirect = redirect_url(completion.redirect_uri)?;
    let nonce = completion
        .nonce
        .ok_or_else(|| AppError::unauthenticated(super::BAD_STATE))?;
    let metadata = discover(http, provider).await?;
    let (id, secret) = credentials(provider);
    let client =
        CoreClient::from_provider_metadata(metadata, id, secret).set_redirect_uri(redirect);
    let response = client
        .exchange_code(AuthorizationCode::new(completion.code.to_owned()))
        .map_err(|e| provider_failed(provider, "no token endpoint", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(completion.pkce_verifier.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| provider_failed(provider, "token exchange", e))?;
    let id_token = response
        .id_token()
        .ok_or_else(|| provider_failed(provider, "token exchange", "no ID token in the answer"))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
        .map_err(|e| {
            tracing::warn!(provider = %provider.id, error = %e, "ID token refused");
            AppError::unauthenticated("The provider's ID token did not pass its checks")
        })?;
    Ok(identity(claims))
}

/// Who signed in, from checked claims.
fn identity(claims: &CoreIdTokenClaims) -> ProviderIdentity {
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned())
        .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()));
    ProviderIdentity {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
        name,
    }
}
