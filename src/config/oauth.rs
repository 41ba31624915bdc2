//! Sign-in providers: Google, GitHub and any OpenID Connect provider, and the
//! redirect URIs a frontend may ask for. The fixed settings are clap
//! declarations like every other; the generic providers' own variables
//! (`TASKLANE_OIDC_<NAME>_ISSUER`, …) depend on `TASKLANE_OIDC_PROVIDERS`, so
//! they are read from the environment by name ([`OidcVariables`]) and checked
//! here, with the same one-line errors.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::parse;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sign-in providers")]
pub struct OAuthSettings {
    /// Longest wait for any answer of a sign-in provider, in milliseconds
    #[arg(
        long = "oauth-timeout-ms",
        env = "TASKLANE_OAUTH_TIMEOUT_MS",
        default_value = "10000",
        value_parser = parse::millis(100, 120_000)
    )]
    pub timeout: Duration,
    /// Comma-separated redirect URIs a frontend may give to startOAuth (exact
    /// match; an http://127.0.0.1:* or http://localhost:* entry allows any port)
    #[arg(
        long = "oauth-redirect-uris",
        env = "TASKLANE_OAUTH_REDIRECT_URIS",
        default_value = "",
        value_parser = parse::Rule::new(RedirectUris::parse)
    )]
    pub redirect_uris: RedirectUris,
    /// Google OAuth client id (empty: Google sign-in off)
    #[arg(
        long = "oauth-google-client-id",
        env = "TASKLANE_OAUTH_GOOGLE_CLIENT_ID",
        default_value = ""
    )]
    pub google_client_id: String,
    /// Google OAuth client secret
    #[arg(
        long = "oauth-google-client-secret",
        env = "TASKLANE_OAUTH_GOOGLE_CLIENT_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = parse::client_secret()
    )]
    pub google_client_secret: SecretString,
    /// Google's OpenID Connect issuer
    #[arg(
        long = "oauth-google-issuer",
        env = "TASKLANE_OAUTH_GOOGLE_ISSUER",
        default_value = "https://accounts.google.com",
        value_parser = parse::provider_url()
    )]
    pub google_issuer: String,
    /// GitHub OAuth app client id (empty: GitHub sign-in off)
    #[arg(
        long = "oauth-github-client-id",
        env = "TASKLANE_OAUTH_GITHUB_CLIENT_ID",
        default_value = ""
    )]
    pub github_client_id: String,
    /// GitHub OAuth app client secret
    #[arg(
        long = "oauth-github-client-secret",
        env = "TASKLANE_OAUTH_GITHUB_CLIENT_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = parse::client_secret()
    )]
    pub github_client_secret: SecretString,
    /// GitHub's web address (authorize and token endpoints)
    #[arg(
        long = "oauth-github-url",
        env = "TASKLANE_OAUTH_GITHUB_URL",
        default_value = "https://github.com",
        value_parser = parse::provider_url()
    )]
    pub github_url: String,
    /// GitHub's API address (user and emails)
    #[arg(
        long = "oauth-github-api-url",
        env = "TASKLANE_OAUTH_GITHUB_API_URL",
        default_value = "https://api.github.com",
        value_parser = parse::provider_url()
    )]
    pub github_api_url: String,
    /// Comma-separated names of generic OpenID Connect providers; each is set
    /// up with TASKLANE_OIDC_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET and
    /// _DISPLAY_NAME
    #[arg(
        long = "oidc-providers",
        env = "TASKLANE_OIDC_PROVIDERS",
        default_value = "",
        value_parser = provider_names()
    )]
    pub oidc_providers: ProviderNames,
    /// The `TASKLANE_OIDC_<NAME>_*` variables, read by name (not flags).
    #[arg(skip)]
    pub oidc_variables: OidcVariables,
}

/// Names of one setting, as one value (see `super::Origins`).
pub type ProviderNames = Vec<String>;

/// Comma-separated names of generic OpenID Connect providers: 1 to 32 of
/// A-Z, a-z and 0-9 each, distinct (case-insensitively), neither `google`
/// nor `github`.
fn provider_names() -> parse::Rule<ProviderNames> {
    parse::Rule::new(|raw| {
        let mut names: Vec<String> = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let lower = name.to_ascii_lowercase();
            if name.len() > 32 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("{name:?} must be 1 to 32 of A-Z, a-z and 0-9"));
            }
            let taken = names.iter().any(|n| n.eq_ignore_ascii_case(name));
            if lower == "google" || lower == "github" || taken {
                return Err(format!(
                    "{name:?} is used twice (google and github are built in)"
                ));
            }
            names.push(name.to_owned());
        }
        Ok(names)
    })
}

/// What kind of protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Google,
    Github,
    Oidc,
}

/// One enabled provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// `google`, `github`, or a generic provider's name in lower case.
    pub id: String,
    /// What a sign-in button says.
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The OIDC issuer, or GitHub's web address; no trailing slash.
    pub url: String,
    /// GitHub's API address.
    pub api_url: Option<String>,
}

/// The checked sign-in settings.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub timeout: Duration,
    pub redirect_uris: RedirectUris,
    pub providers: Vec<ProviderSettings>,
}

/// The `TASKLANE_OIDC_*` variables of the environment. Their values may be
/// secrets: `Debug` shows the names only.
#[derive(Clone, Default)]
pub struct OidcVariables(BTreeMap<String, SecretString>);

impl std::fmt::Debug for OidcVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl OidcVariables {
    /// Every `TASKLANE_OIDC_*` variable of this process's environment.
    pub fn from_env() -> Self {
        Self::from_pairs(std::env::vars().filter(|(k, _)| k.starts_with("TASKLANE_OIDC_")))
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), SecretString::from(v.into())))
                .collect(),
        )
    }

    /// The trimmed value, when set and not empty.
    fn get(&self, variable: &str) -> Option<String> {
        let value = self.0.get(variable)?.expose_secret().trim().to_owned();
        (!value.is_empty()).then_some(value)
    }
}

/// The redirect URIs `startOAuth` accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectUris(Vec<String>);

/// Loopback entries whose port is a wildcard.
const ANY_PORT: [&str; 2] = ["http://127.0.0.1:*", "http://localhost:*"];

impl RedirectUris {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut uris = Vec::new();
        for uri in raw.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let Some((scheme, rest)) = uri.split_once("://").or_else(|| uri.split_once(':')) else {
                return Err(format!("{uri:?} is not an absolute URI"));
            };
            let scheme_ok = !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if !scheme_ok || rest.is_empty() || uri.contains(char::is_whitespace) {
                return Err(format!("{uri:?} is not an absolute URI"));
            }
            if uri.contains('#') {
                return Err(format!("{uri:?} must not have a fragment"));
            }
            if uri.contains('*') && !ANY_PORT.iter().any(|p| uri.starts_with(p)) {
                return Err(format!(
                    "{uri:?}: only http://127.0.0.1:* and http://localhost:* may use *"
                ));
            }
            uris.push(uri.to_owned());
        }
        Ok(Self(uris))
    }

    /// Whether `uri` is on the list: equal to an entry, or to a loopback
    /// entry with `*` replaced by a port number.
    pub fn allows(&self, uri: &str) -> bool {
        self.0.iter().any(|entry| match entry.split_once('*') {
            None => entry == uri,
            Some((head, tail)) => uri
                .strip_prefix(head)
                .and_then(|rest| rest.strip_suffix(tail))
                .is_some_and(|port| {
                    (1..=5).contains(&port.len())
                        && port.bytes().all(|b| b.is_ascii_digit())
                        && port.parse::<u16>().is_ok_and(|p| p > 0)
                }),
        })
    }
}

impl OAuthSettings {
    /// The enabled providers, each fully configured, in the order Google,
    /// GitHub, then the generic ones as listed.
    pub fn build(&self) -> Result<OAuthConfig, ConfigError> {
        let mut providers = Vec::new();
        let fixed = [
            (
                ProviderKind::Google,
                "GOOGLE",
                "Google",
                &self.google_client_id,
                &self.google_client_secret,
                &self.google_issuer,
            ),
            (
                ProviderKind::Github,
                "GITHUB",
                "GitHub",
                &self.github_client_id,
                &self.github_client_secret,
                &self.github_url,
            ),
        ];
        for (kind, upper, name, id, secret, url) in fixed {
            let prefix = format!("TASKLANE_OAUTH_{upper}");
            let id = Some(id.trim().to_owned()).filter(|id| !id.is_empty());
            let secret = Some(secret.clone()).filter(|s| !s.expose_secret().is_empty());
            if let Some((client_id, client_secret)) = pair(&prefix, id, secret)? {
                providers.push(ProviderSettings {
                    id: upper.to_ascii_lowercase(),
                    name: name.to_owned(),
                    kind,
                    client_id,
                    client_secret,
                    url: url.clone(),
                    api_url: (kind == ProviderKind::Github).then(|| self.github_api_url.clone()),
                });
            }
        }
        for name in &self.oidc_providers {
            providers.push(self.generic(name)?);
        }
        Ok(OAuthConfig {
            timeout: self.timeout,
            redirect_uris: self.redirect_uris.clone(),
            providers,
        })
    }

    /// A generic provider from its `TASKLANE_OIDC_<NAME>_*` variables.
    fn generic(&self, name: &str) -> Result<ProviderSettings, ConfigError> {
        let upper = name.to_ascii_uppercase();
        let prefix = format!("TASKLANE_OIDC_{upper}");
        let vars = &self.oidc_variables;
        let listed = || format!("is required for {name}, listed in TASKLANE_OIDC_PROVIDERS");
        let client_id = vars.get(&format!("{prefix}_CLIENT_ID"));
        let client_secret = vars
            .get(&format!("{prefix}_CLIENT_SECRET"))
            .map(SecretString::from);
        let Some((client_id, client_secret)) = pair(&prefix, client_id, client_secret)? else {
            return Err(ConfigError::new(&format!("{prefix}_CLIENT_ID"), listed()));
        };
        let issuer_var = format!("{prefix}_ISSUER");
        let issuer = vars
            .get(&issuer_var)
            .ok_or_else(|| ConfigError::new(&issuer_var, listed()))?;
        let url = parse::check_provider_url(&issuer)
            .map_err(|message| ConfigError::new(&issuer_var, message))?;
        let display = vars
            .get(&format!("{prefix}_DISPLAY_NAME"))
            .unwrap_or_else(|| name.to_owned());
        if display.chars().count() > 100 || display.chars().any(char::is_control) {
            return Err(ConfigError::new(
                &format!("{prefix}_DISPLAY_NAME"),
                "must be at most 100 characters, without control characters",
            ));
        }
        Ok(ProviderSettings {
            id: name.to_ascii_lowercase(),
            name: display,
            kind: ProviderKind::Oidc,
            client_id,
            client_secret,
            url,
            api_url: None,
        })
    }
}

/// A client id and secret given together, or neither; one without the
/// other names the missing variable.
fn pair(
    prefix: &str,
    id: Option<String>,
    secret: Option<SecretString>,
) -> Result<Option<(String, SecretString)>, ConfigError> {
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            &format!("{prefix}_CLIENT_SECRET"),
            format!("is required when {prefix}_CLIENT_ID is set"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            &format!("{prefix}_CLIENT_ID"),
            format!("is required when {prefix}_CLIENT_SECRET is set"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_or_any_loopback_port() {
        let uris = RedirectUris::parse(
            "https://app.example.com/callback, com.example.app:/oauth, http://127.0.0.1:*/cb, http://localhost:*",
        )
        .expect("valid");
        assert!(uris.allows("https://app.example.com/callback"));
        assert!(!uris.allows("https://app.example.com/callback/"));
        assert!(!uris.allows("https://app.example.com/callback?x=1"));
        assert!(uris.allows("com.example.app:/oauth"));
        assert!(uris.allows("http://127.0.0.1:8123/cb"));
        assert!(!uris.allows("http://127.0.0.1:8123/cb/x"));
        assert!(!uris.allows("http://127.0.0.1:/cb"));
        assert!(!uris.allows("http://127.0.0.1:99999/cb"));
        assert!(!uris.allows("http://127.0.0.1:80@evil.example/cb"));
        assert!(uris.allows("http://localhost:3000"));
        assert!(!uris.allows("http://localhost:3000/"));
        assert!(!uris.allows("http://localhost.evil.example:3000"));
        for bad in [
            "nope",
            "https://a.example/*",
            "https://a.example/#x",
            "https://a b",
        ] {
            assert!(RedirectUris::parse(bad).is_err(), "{bad}");
        }
    }
}
