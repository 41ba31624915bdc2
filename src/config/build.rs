//! From parsed settings to the [`Config`] the application reads: the
//! defaults that depend on another setting, and the checks across settings.

use std::error::Error as _;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use secrecy::{ExposeSecret, SecretString};

use super::{
    Cli, ConnectionLimits, LiveLimits, LogFormatChoice, OAuthConfig, OperationLimits, Origins,
    Proxies, QueryLimits, Quotas, RateSettings, Settings, SharingLimits,
};
use crate::auth::rate_limit::Rate;
use crate::auth::rate_limit::RateLimits;
use crate::db::{Backend, DatabaseUrl, PoolSettings};
use crate::mail::MailTransport;

/// A setting that can not be used: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub(super) fn new(variable: &str, message: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            message: message.into(),
        }
    }

    /// The refused setting inside a clap error, if that is what it is (not,
    /// say, an unknown flag or `--help`).
    pub fn from_clap(err: &clap::Error) -> Option<Self> {
        err.source()?.downcast_ref::<Self>().cloned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The checked, typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: DatabaseUrl,
    pub pool: PoolSettings,
    pub jwt_secret: Option<SecretString>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub production: bool,
    pub cors_origins: Origins,
    pub public_url: String,
    pub mail: MailTransport,
    pub mail_from: String,
    pub trusted_proxies: Proxies,
    pub rate_limits: RateLimits,
    /// IPv6 client addresses are counted per network of this prefix length.
    pub ipv6_prefix: u8,
    /// How long a just-replaced refresh token still answers with its successor.
    pub refresh_grace: Duration,
    pub connections: ConnectionLimits,
    pub quotas: Quotas,
    pub limits: QueryLimits,
    pub body_limit: usize,
    /// Documents kept for automatic persisted queries (0: off).
    pub persisted_queries_max: usize,
    /// When set, only this manifest's documents run.
    pub trusted_documents: Option<std::path::PathBuf>,
    pub request_timeout: Duration,
    /// How long a shutdown may take before what is left is cut.
    pub shutdown_timeout: Duration,
    pub hash_concurrency: usize,
    pub live: LiveLimits,
    pub operations: OperationLimits,
    /// Invitation lifetime, member and invitation limits of a project.
    pub sharing: SharingLimits,
    /// Invitations per inviting user (`TASKLANE_RATE_INVITE_USER`).
    pub invite_rate: Rate,
    /// Data exports per user (`TASKLANE_RATE_EXPORT_USER`).
    pub export_rate: Rate,
    /// Sign-in providers and the redirect URIs frontends may use.
    pub oauth: OAuthConfig,
    pub log: String,
    pub log_format: LogFormat,
}

impl Config {
    /// Settles what one setting alone can not: defaults that depend on the
    /// database, the signing key PostgreSQL requires, the mailer production
    /// refuses and the log format production implies.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let s = s.clone();
        let postgres = s.database.database_url.backend() == Backend::Postgres;
        let jwt_secret = s
            .auth
            .jwt_secret
            .filter(|secret| !secret.expose_secret().is_empty());
        if jwt_secret.is_none() && postgres {
            return Err(ConfigError::new(
                "TASKLANE_JWT_SECRET",
                "is required when TASKLANE_DATABASE_URL is PostgreSQL (at least 32 bytes)",
            ));
        }
        let production = s.server.production;
        if production && matches!(s.mail.mail, MailTransport::Log) {
            return Err(ConfigError::new(
                "TASKLANE_MAIL",
                "log writes sign-in links to the log and is refused with \
                 TASKLANE_PRODUCTION; use smtp://…, file:DIR or disabled",
            ));
        }
        if let Some(direct) = &s.database.database_direct_url
            && (!postgres || direct.backend() != Backend::Postgres)
        {
            return Err(ConfigError::new(
                "TASKLANE_DATABASE_DIRECT_URL",
                format!(
                    "is a postgres:// URL beside a PostgreSQL TASKLANE_DATABASE_URL; \
                     here TASKLANE_DATABASE_URL is {} and this one {}",
                    s.database.database_url.backend().name(),
                    direct.backend().name()
                ),
            ));
        }
        let log_format = match s.logging.log_format {
            LogFormatChoice::Auto if production => LogFormat::Json,
            LogFormatChoice::Auto | LogFormatChoice::Text => LogFormat::Text,
            LogFormatChoice::Json => LogFormat::Json,
        };
        let oauth = s.oauth.build()?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            listen: s.server.listen,
            pool: PoolSettings {
                size: s
                    .database
                    .pool_size
                    .unwrap_or(if postgres { 10 } else { 4 }),
                checkout_timeout: s.database.pool_timeout,
                statement_timeout: s.database.statement_timeout,
                statement_cache: s.database.database_statement_cache,
                direct_url: s.database.database_direct_url.clone(),
            },
            database_url: s.database.database_url,
            jwt_secret,
            access_token_ttl: s.auth.access_token_ttl,
            refresh_token_ttl: s.auth.refresh_token_ttl,
            production,
            cors_origins: s.server.cors_origins,
            public_url: s.mail.public_url,
            mail: s.mail.mail,
            mail_from: s.mail.mail_from,
            trusted_proxies: s.server.trusted_proxies,
            rate_limits: s.rates.limits(),
            ipv6_prefix: s.rates.ipv6_prefix,
            refresh_grace: s.auth.refresh_grace,
            connections: s.connections,
            quotas: s.quotas,
            limits: s.limits,
            body_limit: s.server.body_limit,
            persisted_queries_max: s.server.persisted_queries_max,
            trusted_documents: s.server.trusted_documents,
            request_timeout: s.server.request_timeout,
            shutdown_timeout: s.server.shutdown_timeout,
            hash_concurrency: s.server.hash_concurrency.unwrap_or(cpus),
            live: s.live,
            operations: s.operations,
            sharing: s.sharing,
            invite_rate: s.rates.invite_user,
            export_rate: s.rates.export_user,
            oauth,
            log: s.logging.log,
            log_format,
        })
    }

    /// The defaults, for a given database, with no environment read: what
    /// tests and embedders start from.
    pub fn with_database(
        database_url: &str,
        jwt_secret: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut flags = vec![format!("--database-url={database_url}")];
        flags.extend(jwt_secret.map(|secret| format!("--jwt-secret={secret}")));
        Self::from_settings(&Settings::from_flags(flags)?)
    }

    pub fn secret_bytes(&self) -> Option<&[u8]> {
        self.jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
    }
}

impl RateSettings {
    fn limits(&self) -> RateLimits {
        RateLimits {
            login_ip: self.login_ip,
            login_account: self.login_account,
            signup_ip: self.signup_ip,
            email_ip: self.email_ip,
            email_address: self.email_address,
            refresh_ip: self.refresh_ip,
            token_ip: self.token_ip,
        }
    }
}

impl Settings {
    /// The documented defaults, independent of the environment.
    pub fn defaults() -> Self {
        Self::from_flags(Vec::<OsString>::new())
            .unwrap_or_else(|err| panic!("the declared defaults are refused: {err}"))
    }

    /// The settings from these flags alone (`--max-depth=8`), the
    /// environment not read; the rest are the defaults.
    pub fn from_flags<I>(flags: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        let args =
            std::iter::once(OsString::from("tasklane")).chain(flags.into_iter().map(Into::into));
        Cli::command()
            .mut_args(|arg| arg.env(None))
            .try_get_matches_from(args)
            .and_then(|matches| Cli::from_arg_matches(&matches))
            .map(|cli| cli.settings)
            .map_err(|err| {
                ConfigError::from_clap(&err)
                    .unwrap_or_else(|| ConfigError::new("arguments", err.kind().to_string()))
            })
    }
}

impl Cli {
    /// Whether this process's command line asks for `schema`, whatever the
    /// settings' values (the one command that reads none).
    pub fn wants_schema() -> bool {
        Self::command()
            .mut_args(|arg| arg.value_parser(clap::builder::ValueParser::os_string()))
            .try_get_matches()
            .is_ok_and(|matches| matches.subcommand_name() == Some("schema"))
    }
}
