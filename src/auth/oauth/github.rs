//! GitHub: OAuth 2.0 with PKCE (`oauth2`), then who signed in from its API:
//! `/user` for the numeric id (the subject) and name, `/user/emails` for the
//! primary address and whether GitHub verified it. GitHub answers a refused
//! code with HTTP 200 and an `error` field; that is no token, so it fails
//! like any other unusable answer.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, TokenUrl,
};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::{Completion, ProviderIdentity, bad_redirect, provider_failed};
use crate::config::ProviderSettings;
use crate::error::AppResult;

type GithubClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn client(provider: &ProviderSettings, redirect_uri: &str) -> AppResult<GithubClient> {
    let base = &provider.url;
    let auth = AuthUrl::new(format!("{base}/login/oauth/authorize"))
        .map_err(|e| provider_failed(provider, "bad URL", e))?;
    let token = TokenUrl::new(format!("{base}/login/oauth/access_token"))
        .map_err(|e| provider_failed(provider, "bad URL", e))?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| bad_redirect())?;
    Ok(BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            provider.client_secret.expose_secret().to_owned(),
        ))
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_redirect_uri(redirect))
}

/// The authorization URL (GitHub has no nonce).
pub(super) fn authorize(
    provider: &ProviderSettings,
    redirect_uri: &str,
    state: CsrfToken,
    challenge: PkceCodeChallenge,
) -> AppResult<(url::Url, Option<String>)> {
    let (url, _) = client(provider, redirect_uri)?
        .authorize_url(move || state)
        .add_scope(Scope::new("read:user".into()))
        .add_scope(Scope::new("user:email".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok((url, None))
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

pub(super) async fn finish(
    http: &reqwest::Client,
    provider: &ProviderSettings,
    completion: Completion<'_>,
) -> AppResult<ProviderIdentity> {
    let client = client(provider, completion.redirect_uri)?;
    let response = client
        .exchange_code(AuthorizationCode::new(completion.code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(completion.pkce_verifier.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| provider_failed(provider, "token exchange", e))?;
    let token = response.access_token().secret();
    let user: GithubUser = get(http, provider, "/user", token).await?;
    let emails: Vec<GithubEmail> = get(http, provider, "/user/emails", token).await?;
    // The primary address if verified; else any verified one; else the primary.
    let email = emails
        .iter()
        .find(|e| e.primary && e.verified)
        .or_else(|| emails.iter().find(|e| e.verified))
        .or_else(|| emails.iter().find(|e| e.primary));
    Ok(ProviderIdentity {
        subject: user.id.to_string(),
        email: email.map(|e| e.email.clone()),
        email_verified: email.is_some_and(|e| e.verified),
        name: user.name.or(user.login),
    })
}

/// GETs `path` of GitHub's API as the user; any failure is the provider's.
async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    provider: &ProviderSettings,
    path: &str,
    token: &str,
) -> AppResult<T> {
    let base = provider
        .api_url
        .as_deref()
        .unwrap_or("https://api.github.com");
    let response = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .send()
        .await
        .map_err(|e| provider_failed(provider, path, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(provider_failed(provider, path, status));
    }
    response
        .json()
        .await
        .map_err(|e| provider_failed(provider, path, e))
}
