//! Every setting, from `TASKLANE_*` environment variables (or the matching
//! flags), with defaults that run. Each setting is one declaration, here or
//! in `config/limits.rs`: its type, default, variable, help and rule (a
//! typed value parser from `config/parse.rs`). `tasklane --help` lists them
//! all, grouped as the README's table is.

mod build;
mod limits;
mod oauth;
mod parse;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use secrecy::SecretString;

pub use build::{Config, ConfigError, LogFormat};
pub use limits::{
    ConnectionLimits, LiveLimits, OperationLimits, QueryLimits, Quotas, SharingLimits,
};
pub use oauth::{
    OAuthConfig, OAuthSettings, OidcVariables, ProviderKind, ProviderSettings, RedirectUris,
};

use crate::auth::rate_limit::Rate;
use crate::db::DatabaseUrl;
use crate::mail::MailTransport;

#[derive(Debug, Parser)]
#[command(
    name = "tasklane",
    version,
    about = "Tasklane: a GraphQL API server for project and task apps, on SQLite or PostgreSQL",
    long_about = "Tasklane: a GraphQL API server for project and task apps.\n\n\
        Runs on an embedded SQLite file with no set-up, or on PostgreSQL. Every \
        setting below can be given as a flag or as the TASKLANE_* environment \
        variable shown with it.",
    mut_args = setting
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

/// Settings may be given before or after the command, and a value is
/// shown under its setting's name (`--pool-timeout-ms <POOL_TIMEOUT_MS>`).
fn setting(arg: clap::Arg) -> clap::Arg {
    let value_name = arg
        .get_long()
        .map(|long| long.to_ascii_uppercase().replace('-', "_"));
    match value_name {
        Some(name) => arg.value_name(name).global(true),
        None => arg.global(true),
    }
}

#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// Apply migrations and serve HTTP and WebSocket (the default)
    Serve,
    /// Apply pending migrations and exit
    Migrate,
    /// Print the GraphQL schema (SDL) and exit
    Schema,
    /// Trusted documents (TASKLANE_TRUSTED_DOCUMENTS)
    #[command(subcommand)]
    TrustedDocuments(TrustedDocumentsCommand),
    /// Copy the SQLite database, consistently, while the server runs (on
    /// PostgreSQL: use pg_dump)
    Backup {
        /// Where the copy goes: a file that does not exist yet (missing
        /// directories are created)
        path: std::path::PathBuf,
    },
    /// Print everything one user owns as one JSON document (what
    /// exportMyData gives that user)
    ExportUser {
        /// The user's email address
        email: String,
        /// Write the document to this new file instead of standard output
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum TrustedDocumentsCommand {
    /// Check that every document of a manifest parses and validates against
    /// this server's schema and limits; lists each one that does not
    Check {
        /// The manifest: one JSON object of document ids to documents
        file: std::path::PathBuf,
    },
}

/// Every setting, typed and checked one by one; [`Config::from_settings`]
/// adds the defaults that depend on other settings and the checks across
/// settings.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub server: ServerSettings,
    #[command(flatten)]
    pub connections: ConnectionLimits,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub rates: RateSettings,
    #[command(flatten)]
    pub mail: MailSettings,
    #[command(flatten)]
    pub oauth: OAuthSettings,
    #[command(flatten)]
    pub limits: QueryLimits,
    #[command(flatten)]
    pub live: LiveLimits,
    #[command(flatten)]
    pub quotas: Quotas,
    #[command(flatten)]
    pub operations: OperationLimits,
    #[command(flatten)]
    pub sharing: SharingLimits,
    #[command(flatten)]
    pub logging: LogSettings,
}

/// Origins of one setting, as one value (an alias, so that clap does not
/// read `Vec` as a flag given many times).
pub type Origins = Vec<http::HeaderValue>;
/// Proxies of one setting, as one value (see [`Origins`]).
pub type Proxies = Vec<ipnet::IpNet>;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server")]
pub struct ServerSettings {
    /// Address and port to serve on
    #[arg(
        long,
        env = "TASKLANE_LISTEN",
        default_value = "127.0.0.1:8080",
        value_parser = parse::listen()
    )]
    pub listen: SocketAddr,
    /// Production mode: introspection, field suggestions and GraphiQL off, JSON logs
    #[arg(
        long,
        env = "TASKLANE_PRODUCTION",
        default_value = "false",
        value_parser = parse::boolean(),
        action = ArgAction::Set
    )]
    pub production: bool,
    /// Comma-separated origins allowed by CORS (empty: same origin only)
    #[arg(long, env = "TASKLANE_CORS_ORIGINS", default_value = "", value_parser = parse::origins())]
    pub cors_origins: Origins,
    /// Comma-separated IPs or CIDR blocks of proxies whose X-Forwarded-For is
    /// believed (empty: the socket's peer is the client)
    #[arg(
        long,
        env = "TASKLANE_TRUSTED_PROXIES",
        default_value = "",
        value_parser = parse::proxies()
    )]
    pub trusted_proxies: Proxies,
    /// Largest request body, in bytes (larger: 413)
    #[arg(
        long,
        env = "TASKLANE_BODY_LIMIT",
        default_value = "1048576",
        value_parser = parse::number(1024usize, 1 << 30)
    )]
    pub body_limit: usize,
    /// Longest a request may take, in seconds
    #[arg(
        long = "request-timeout-secs",
        env = "TASKLANE_REQUEST_TIMEOUT_SECS",
        default_value = "30",
        value_parser = parse::secs(1, 3600)
    )]
    pub request_timeout: Duration,
    /// Longest a shutdown (SIGTERM) may take, in seconds: WebSockets are
    /// closed with 1001, requests in flight finish, then the process exits
    #[arg(
        long = "shutdown-timeout-secs",
        env = "TASKLANE_SHUTDOWN_TIMEOUT_SECS",
        default_value = "30",
        value_parser = parse::secs(1, 3600)
    )]
    pub shutdown_timeout: Duration,
    /// Password hashes computed at once [default: the number of CPUs]
    #[arg(long, env = "TASKLANE_HASH_CONCURRENCY", value_parser = parse::number(1usize, 1024))]
    pub hash_concurrency: Option<usize>,
    /// Documents kept for automatic persisted queries (sent by SHA-256
    /// hash); 0 turns them off
    #[arg(
        long,
        env = "TASKLANE_PERSISTED_QUERIES_MAX",
        default_value = "1000",
        value_parser = parse::number(0usize, 100_000)
    )]
    pub persisted_queries_max: usize,
    /// A manifest of trusted documents (JSON: id to document); when set,
    /// only those documents run [default: any document runs]
    #[arg(long, env = "TASKLANE_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseSettings {
    /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        default_value = "sqlite://./data/tasklane.db",
        value_parser = parse::database_url()
    )]
    pub database_url: DatabaseUrl,
    /// Connections per instance [default: 10 on PostgreSQL, 4 on SQLite]
    #[arg(long, env = "TASKLANE_POOL_SIZE", value_parser = parse::number(1usize, 1000))]
    pub pool_size: Option<usize>,
    /// Longest wait for a pooled connection, in milliseconds
    #[arg(
        long = "pool-timeout-ms",
        env = "TASKLANE_POOL_TIMEOUT_MS",
        default_value = "2000",
        value_parser = parse::millis(1, 600_000)
    )]
    pub pool_timeout: Duration,
    /// Longest a single SQL statement may run on PostgreSQL, in milliseconds
    #[arg(
        long = "statement-timeout-ms",
        env = "TASKLANE_STATEMENT_TIMEOUT_MS",
        default_value = "5000",
        value_parser = parse::millis(1, 86_400_000)
    )]
    pub statement_timeout: Duration,
    /// PostgreSQL URL for what needs a session of its own (LISTEN, migrations
    /// and their lock), beside a pooled TASKLANE_DATABASE_URL [default: the same as TASKLANE_DATABASE_URL]
    #[arg(
        long,
        env = "TASKLANE_DATABASE_DIRECT_URL",
        value_parser = parse::database_url()
    )]
    pub database_direct_url: Option<DatabaseUrl>,
    /// Keep prepared statements per PostgreSQL connection; false behind a
    /// transaction-mode pooler that can not carry them (PgBouncer before 1.21)
    #[arg(
        long,
        env = "TASKLANE_DATABASE_STATEMENT_CACHE",
        default_value = "true",
        value_parser = parse::boolean(),
        action = ArgAction::Set
    )]
    pub database_statement_cache: bool,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Accounts")]
pub struct AuthSettings {
    /// HS256 signing key, at least 32 bytes; on SQLite a generated one is kept in
    /// the data directory (mode 0600) [default: generated on SQLite, required on PostgreSQL]
    #[arg(
        long,
        env = "TASKLANE_JWT_SECRET",
        hide_env_values = true,
        value_parser = parse::secret()
    )]
    pub jwt_secret: Option<SecretString>,
    /// Lifetime of an access token, in seconds
    #[arg(
        long = "access-token-ttl-secs",
        env = "TASKLANE_ACCESS_TOKEN_TTL_SECS",
        default_value = "900",
        value_parser = parse::secs(10, 86_400)
    )]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token (extended on every rotation), in days
    #[arg(
        long = "refresh-token-ttl-days",
        env = "TASKLANE_REFRESH_TOKEN_TTL_DAYS",
        default_value = "30",
        value_parser = parse::days(1, 365)
    )]
    pub refresh_token_ttl: Duration,
    /// Seconds during which a just-replaced refresh token still answers with the
    /// same new pair (two tabs refreshing at once)
    #[arg(
        long = "refresh-grace-secs",
        env = "TASKLANE_REFRESH_GRACE_SECS",
        default_value = "10",
        value_parser = parse::secs(0, 300)
    )]
    pub refresh_grace: Duration,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Rate limits")]
pub struct RateSettings {
    /// Failed logins per client IP (N/WINDOW, window in s, m, h or d)
    #[arg(
        long = "rate-login-ip",
        env = "TASKLANE_RATE_LOGIN_IP",
        default_value = "5/15m",
        value_parser = parse::rate()
    )]
    pub login_ip: Rate,
    /// Failed logins per account; after 5, each further attempt is delayed more
    #[arg(
        long = "rate-login-account",
        env = "TASKLANE_RATE_LOGIN_ACCOUNT",
        default_value = "100/1h",
        value_parser = parse::rate()
    )]
    pub login_account: Rate,
    /// Signups per client IP
    #[arg(
        long = "rate-signup-ip",
        env = "TASKLANE_RATE_SIGNUP_IP",
        default_value = "20/1h",
        value_parser = parse::rate()
    )]
    pub signup_ip: Rate,
    /// Email requests (verification, password reset, magic link) per client IP
    #[arg(
        long = "rate-email-ip",
        env = "TASKLANE_RATE_EMAIL_IP",
        default_value = "20/1h",
        value_parser = parse::rate()
    )]
    pub email_ip: Rate,
    /// Email requests per email address
    #[arg(
        long = "rate-email-address",
        env = "TASKLANE_RATE_EMAIL_ADDRESS",
        default_value = "5/1h",
        value_parser = parse::rate()
    )]
    pub email_address: Rate,
    /// Token refreshes per client IP
    #[arg(
        long = "rate-refresh-ip",
        env = "TASKLANE_RATE_REFRESH_IP",
        default_value = "60/1m",
        value_parser = parse::rate()
    )]
    pub refresh_ip: Rate,
    /// Attempts at presenting a one-time or refresh token (reset, verification,
    /// magic link, logout) per client IP
    #[arg(
        long = "rate-token-ip",
        env = "TASKLANE_RATE_TOKEN_IP",
        default_value = "30/15m",
        value_parser = parse::rate()
    )]
    pub token_ip: Rate,
    /// Invitations to projects (inviteToProject) per inviting user
    #[arg(
        long = "rate-invite-user",
        env = "TASKLANE_RATE_INVITE_USER",
        default_value = "20/1h",
        value_parser = parse::rate()
    )]
    pub invite_user: Rate,
    /// Data exports (exportMyData) per user
    #[arg(
        long = "rate-export-user",
        env = "TASKLANE_RATE_EXPORT_USER",
        default_value = "5/1h",
        value_parser = parse::rate()
    )]
    pub export_user: Rate,
    /// IPv6 clients are counted per network of this prefix length (e.g. 64: one /64 is one client)
    #[arg(
        long = "rate-ipv6-prefix",
        env = "TASKLANE_RATE_IPV6_PREFIX",
        default_value = "64",
        value_parser = parse::number(16u8, 128)
    )]
    pub ipv6_prefix: u8,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mail")]
pub struct MailSettings {
    /// Base URL of links in emails
    #[arg(
        long,
        env = "TASKLANE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        value_parser = parse::public_url()
    )]
    pub public_url: String,
    /// Mail transport: log (print messages, links included, to the log),
    /// disabled (send nothing), file:DIR (one .eml file per message) or
    /// smtp://user:pass@host:port
    #[arg(
        long,
        env = "TASKLANE_MAIL",
        default_value = "log",
        hide_env_values = true,
        value_parser = parse::mail()
    )]
    pub mail: MailTransport,
    /// Sender of outgoing mail
    #[arg(
        long,
        env = "TASKLANE_MAIL_FROM",
        default_value = "Tasklane <no-reply@localhost>",
        value_parser = parse::mailbox()
    )]
    pub mail_from: String,
}

/// `TASKLANE_LOG_FORMAT` as given: `auto` is settled by `TASKLANE_PRODUCTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormatChoice {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logging")]
pub struct LogSettings {
    /// Log filter (tracing syntax, e.g. info or tasklane=debug,info)
    #[arg(long, env = "TASKLANE_LOG", default_value = "info", value_parser = parse::log_filter())]
    pub log: String,
    /// Log format: auto (JSON in production, text otherwise), text or json
    #[arg(
        long,
        env = "TASKLANE_LOG_FORMAT",
        default_value = "auto",
        value_parser = parse::log_format()
    )]
    pub log_format: LogFormatChoice,
}
