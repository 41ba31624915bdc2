//! Every setting, from `TASKLANE_*` environment variables (or the matching
//! flags), with defaults that run. `tasklane --help` lists them all.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::rate_limit::{Rate, RateLimits};
use crate::db::{Backend, DatabaseUrl, PoolSettings};
use crate::mail::MailTransport;

#[derive(Debug, Parser)]
#[command(
    name = "tasklane",
    version,
    about = "Tasklane: a GraphQL API server for project and task apps, on SQLite or PostgreSQL",
    long_about = "Tasklane: a GraphQL API server for project and task apps.\n\n\
        Runs on an embedded SQLite file with no set-up, or on PostgreSQL. Every \
        setting below can be given as a flag or as the TASKLANE_* environment \
        variable shown with it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// Apply migrations and serve HTTP and WebSocket (the default)
    Serve,
    /// Apply pending migrations and exit
    Migrate,
    /// Print the GraphQL schema (SDL) and exit
    Schema,
}

/// Raw settings as given; [`Config::from_settings`] checks and types them.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address and port to serve on
    #[arg(
        long,
        env = "TASKLANE_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,
    /// Database: sqlite://PATH or postgres://USER@HOST:PORT/DB
    #[arg(
        long,
        env = "TASKLANE_DATABASE_URL",
        default_value = "sqlite://./data/tasklane.db",
        global = true
    )]
    pub database_url: String,
    /// Connections per instance [default: 10 on PostgreSQL, 4 on SQLite]
    #[arg(long, env = "TASKLANE_POOL_SIZE", global = true)]
    pub pool_size: Option<String>,
    /// Longest wait for a pooled connection, in milliseconds
    #[arg(
        long,
        env = "TASKLANE_POOL_TIMEOUT_MS",
        default_value = "2000",
        global = true
    )]
    pub pool_timeout_ms: String,
    /// Longest a single SQL statement may run on PostgreSQL, in milliseconds
    #[arg(
        long,
        env = "TASKLANE_STATEMENT_TIMEOUT_MS",
        default_value = "5000",
        global = true
    )]
    pub statement_timeout_ms: String,
    /// HS256 signing key, at least 32 bytes. Required on PostgreSQL; on SQLite one
    /// is generated once and kept in the data directory (mode 0600)
    #[arg(
        long,
        env = "TASKLANE_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token, in seconds
    #[arg(
        long,
        env = "TASKLANE_ACCESS_TOKEN_TTL_SECS",
        default_value = "900",
        global = true
    )]
    pub access_token_ttl_secs: String,
    /// Lifetime of a refresh token (extended on every rotation), in days
    #[arg(
        long,
        env = "TASKLANE_REFRESH_TOKEN_TTL_DAYS",
        default_value = "30",
        global = true
    )]
    pub refresh_token_ttl_days: String,
    /// Production mode: introspection, field suggestions and GraphiQL off, JSON logs
    #[arg(
        long,
        env = "TASKLANE_PRODUCTION",
        default_value = "false",
        global = true
    )]
    pub production: String,
    /// Comma-separated origins allowed by CORS (empty: same origin only)
    #[arg(long, env = "TASKLANE_CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,
    /// Base URL of links in emails
    #[arg(
        long,
        env = "TASKLANE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub public_url: String,
    /// Mail transport: log (print messages, links included, to the log),
    /// file:DIR (one .eml file per message) or smtp://user:pass@host:port
    #[arg(
        long,
        env = "TASKLANE_MAIL",
        default_value = "log",
        hide_env_values = true,
        global = true
    )]
    pub mail: String,
    /// Sender of outgoing mail
    #[arg(
        long,
        env = "TASKLANE_MAIL_FROM",
        default_value = "Tasklane <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// Comma-separated IPs or CIDR blocks of proxies whose X-Forwarded-For is
    /// believed (empty: the socket's peer is the client)
    #[arg(
        long,
        env = "TASKLANE_TRUSTED_PROXIES",
        default_value = "",
        global = true
    )]
    pub trusted_proxies: String,
    /// Failed logins per client IP (N/WINDOW, window in s, m, h or d)
    #[arg(
        long,
        env = "TASKLANE_RATE_LOGIN_IP",
        default_value = "5/15m",
        global = true
    )]
    pub rate_login_ip: String,
    /// Failed logins per account; after 5, each further attempt is delayed more
    #[arg(
        long,
        env = "TASKLANE_RATE_LOGIN_ACCOUNT",
        default_value = "100/1h",
        global = true
    )]
    pub rate_login_account: String,
    /// Signups per client IP
    #[arg(
        long,
        env = "TASKLANE_RATE_SIGNUP_IP",
        default_value = "20/1h",
        global = true
    )]
    pub rate_signup_ip: String,
    /// Email requests (verification, password reset, magic link) per client IP
    #[arg(
        long,
        env = "TASKLANE_RATE_EMAIL_IP",
        default_value = "20/1h",
        global = true
    )]
    pub rate_email_ip: String,
    /// Email requests per email address
    #[arg(
        long,
        env = "TASKLANE_RATE_EMAIL_ADDRESS",
        default_value = "5/1h",
        global = true
    )]
    pub rate_email_address: String,
    /// Token refreshes per client IP
    #[arg(
        long,
        env = "TASKLANE_RATE_REFRESH_IP",
        default_value = "60/1m",
        global = true
    )]
    pub rate_refresh_ip: String,
    /// Deepest selection nesting a query may have
    #[arg(long, env = "TASKLANE_MAX_DEPTH", default_value = "16", global = true)]
    pub max_depth: String,
    /// Highest query cost: every field counts 1, a connection or list
    /// multiplies its selection by its page size or bound
    #[arg(
        long,
        env = "TASKLANE_MAX_COMPLEXITY",
        default_value = "25000",
        global = true
    )]
    pub max_complexity: String,
    /// Most aliased fields in one document
    #[arg(
        long,
        env = "TASKLANE_MAX_ALIASES",
        default_value = "30",
        global = true
    )]
    pub max_aliases: String,
    /// Most directives on one field
    #[arg(
        long,
        env = "TASKLANE_MAX_DIRECTIVES",
        default_value = "5",
        global = true
    )]
    pub max_directives: String,
    /// Most operations in one batched request
    #[arg(long, env = "TASKLANE_MAX_BATCH", default_value = "10", global = true)]
    pub max_batch: String,
    /// Largest page (first / last) a connection serves
    #[arg(
        long,
        env = "TASKLANE_MAX_PAGE_SIZE",
        default_value = "100",
        global = true
    )]
    pub max_page_size: String,
    /// Largest request body, in bytes (larger: 413)
    #[arg(
        long,
        env = "TASKLANE_BODY_LIMIT",
        default_value = "1048576",
        global = true
    )]
    pub body_limit: String,
    /// Longest a request may take, in seconds
    #[arg(
        long,
        env = "TASKLANE_REQUEST_TIMEOUT_SECS",
        default_value = "30",
        global = true
    )]
    pub request_timeout_secs: String,
    /// Operations (bulk jobs) one user may have pending or running at once
    #[arg(
        long,
        env = "TASKLANE_OPERATION_MAX_RUNNING",
        default_value = "2",
        global = true
    )]
    pub operation_max_running: String,
    /// Most items (tasks, projects) one operation may change
    #[arg(
        long,
        env = "TASKLANE_OPERATION_MAX_ITEMS",
        default_value = "100000",
        global = true
    )]
    pub operation_max_items: String,
    /// Items an operation changes per batch (one transaction each)
    #[arg(
        long,
        env = "TASKLANE_OPERATION_BATCH_SIZE",
        default_value = "500",
        global = true
    )]
    pub operation_batch_size: String,
    /// Seconds without a heartbeat after which a running operation is resumed elsewhere
    #[arg(
        long,
        env = "TASKLANE_OPERATION_STALE_SECS",
        default_value = "30",
        global = true
    )]
    pub operation_stale_secs: String,
    /// How often an idle operation worker on PostgreSQL looks for stale work, in milliseconds
    #[arg(
        long,
        env = "TASKLANE_OPERATION_POLL_MS",
        default_value = "1000",
        global = true
    )]
    pub operation_poll_ms: String,
    /// Run operations on this instance (false: serve the API only)
    #[arg(
        long,
        env = "TASKLANE_OPERATION_WORKER",
        default_value = "true",
        global = true
    )]
    pub operation_worker: String,
    /// Password hashes computed at once [default: the number of CPUs]
    #[arg(long, env = "TASKLANE_HASH_CONCURRENCY", global = true)]
    pub hash_concurrency: Option<String>,
    /// Longest wait for a WebSocket's connection_init, in milliseconds (then close 4408)
    #[arg(
        long,
        env = "TASKLANE_WS_INIT_TIMEOUT_MS",
        default_value = "10000",
        global = true
    )]
    pub ws_init_timeout_ms: String,
    /// Interval of WebSocket keep-alive pings, in milliseconds; a peer silent
    /// for two intervals is dropped
    #[arg(
        long,
        env = "TASKLANE_WS_KEEPALIVE_MS",
        default_value = "15000",
        global = true
    )]
    pub ws_keepalive_ms: String,
    /// Most subscriptions on one WebSocket connection
    #[arg(
        long,
        env = "TASKLANE_WS_MAX_SUBSCRIPTIONS",
        default_value = "100",
        global = true
    )]
    pub ws_max_subscriptions: String,
    /// Most WebSocket connections of one user on one instance
    #[arg(
        long,
        env = "TASKLANE_WS_MAX_CONNECTIONS_PER_USER",
        default_value = "50",
        global = true
    )]
    pub ws_max_connections_per_user: String,
    /// Messages waiting for a slow WebSocket client before it is disconnected
    #[arg(long, env = "TASKLANE_WS_BUFFER", default_value = "256", global = true)]
    pub ws_buffer: String,
    /// Attempts at presenting a one-time or refresh token (reset, verification, magic link, logout) per client IP
    #[arg(
        long,
        env = "TASKLANE_RATE_TOKEN_IP",
        default_value = "30/15m",
        global = true
    )]
    pub rate_token_ip: String,
    /// IPv6 clients are counted per network of this prefix length (e.g. 64: one /64 is one client)
    #[arg(
        long,
        env = "TASKLANE_RATE_IPV6_PREFIX",
        default_value = "64",
        global = true
    )]
    pub rate_ipv6_prefix: String,
    /// Seconds during which a just-replaced refresh token still answers with the same new pair (two tabs refreshing at once)
    #[arg(
        long,
        env = "TASKLANE_REFRESH_GRACE_SECS",
        default_value = "10",
        global = true
    )]
    pub refresh_grace_secs: String,
    /// Longest wait for a client's HTTP request headers, in milliseconds
    #[arg(
        long,
        env = "TASKLANE_HEADER_TIMEOUT_MS",
        default_value = "10000",
        global = true
    )]
    pub header_timeout_ms: String,
    /// Most open HTTP and WebSocket connections on one instance; more wait to be accepted
    #[arg(
        long,
        env = "TASKLANE_MAX_CONNECTIONS",
        default_value = "25000",
        global = true
    )]
    pub max_connections: String,
    /// Most WebSocket connections of one client IP that have not yet sent connection_init
    #[arg(
        long,
        env = "TASKLANE_WS_MAX_PENDING_PER_IP",
        default_value = "10",
        global = true
    )]
    pub ws_max_pending_per_ip: String,
    /// Most queries and mutations one WebSocket connection may run at once
    #[arg(
        long,
        env = "TASKLANE_WS_MAX_INFLIGHT",
        default_value = "8",
        global = true
    )]
    pub ws_max_inflight: String,
    /// Most distinct subscription groups (document, variables) of one user on one instance
    #[arg(
        long,
        env = "TASKLANE_WS_MAX_GROUPS_PER_USER",
        default_value = "100",
        global = true
    )]
    pub ws_max_groups_per_user: String,
    /// Events of one user waiting for delivery on one instance before that user's subscriptions resync
    #[arg(
        long,
        env = "TASKLANE_LIVE_QUEUE",
        default_value = "4096",
        global = true
    )]
    pub live_queue: String,
    /// Most projects one account may have (deleted ones included)
    #[arg(
        long,
        env = "TASKLANE_QUOTA_PROJECTS",
        default_value = "1000",
        global = true
    )]
    pub quota_projects: String,
    /// Most tasks one account may have (deleted ones included)
    #[arg(
        long,
        env = "TASKLANE_QUOTA_TASKS",
        default_value = "100000",
        global = true
    )]
    pub quota_tasks: String,
    /// Most open sessions one account may have
    #[arg(
        long,
        env = "TASKLANE_QUOTA_SESSIONS",
        default_value = "100",
        global = true
    )]
    pub quota_sessions: String,
    /// Most API keys one account may have (revoked ones excluded)
    #[arg(
        long,
        env = "TASKLANE_QUOTA_API_KEYS",
        default_value = "50",
        global = true
    )]
    pub quota_api_keys: String,
    /// Most stored operation records one account may have
    #[arg(
        long,
        env = "TASKLANE_QUOTA_OPERATION_RECORDS",
        default_value = "1000000",
        global = true
    )]
    pub quota_operation_records: String,
    /// Log filter (tracing syntax, e.g. info or tasklane=debug,info)
    #[arg(long, env = "TASKLANE_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format: auto (JSON in production, text otherwise), text or json
    #[arg(
        long,
        env = "TASKLANE_LOG_FORMAT",
        default_value = "auto",
        global = true
    )]
    pub log_format: String,
}

/// A setting that can not be used: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Limits on what one GraphQL request may ask for.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub directives: usize,
    pub batch: usize,
    pub page_size: usize,
}

/// Limits and timings of WebSocket subscriptions.
#[derive(Debug, Clone)]
pub struct LiveLimits {
    pub init_timeout: Duration,
    pub keepalive: Duration,
    pub subscriptions_per_connection: usize,
    pub connections_per_user: usize,
    pub buffer: usize,
    /// WebSockets of one client IP that have not sent `connection_init`.
    pub pending_per_ip: usize,
    /// Queries and mutations one connection may run at once.
    pub inflight_per_connection: usize,
    /// Distinct subscription groups of one user on this instance.
    pub groups_per_user: usize,
    /// Loaded events waiting for delivery on this instance.
    pub queue: usize,
}

/// Limits on connections to this instance.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Longest wait for a request's headers.
    pub header_timeout: Duration,
    /// Most open connections at once.
    pub max_connections: usize,
}

/// Per-account quotas: how much one account may store. One place, so that
/// they can become per-plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub projects: u64,
    pub tasks: u64,
    pub sessions: u64,
    pub api_keys: u64,
    pub operation_records: u64,
}

/// Limits and timing of operations (bulk jobs).
#[derive(Debug, Clone)]
pub struct OperationLimits {
    pub max_running: usize,
    pub max_items: usize,
    pub batch_size: usize,
    /// A running operation whose heartbeat is older is resumed by any worker.
    pub stale_after: Duration,
    /// How often an idle worker on PostgreSQL looks for stale work (new
    /// work wakes it through the event bus).
    pub poll: Duration,
    /// Whether this instance runs operations at all.
    pub worker: bool,
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
    pub cors_origins: Vec<http::HeaderValue>,
    pub public_url: String,
    pub mail: MailTransport,
    pub mail_from: String,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub rate_limits: RateLimits,
    /// IPv6 client addresses are counted per network of this prefix length.
    pub ipv6_prefix: u8,
    /// How long a just-replaced refresh token still answers with its successor.
    pub refresh_grace: Duration,
    pub connections: ConnectionLimits,
    pub quotas: Quotas,
    pub limits: QueryLimits,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub hash_concurrency: usize,
    pub live: LiveLimits,
    pub operations: OperationLimits,
    pub log: String,
    pub log_format: LogFormat,
}

fn number<T>(variable: &'static str, raw: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value: T = raw.trim().parse().map_err(|_| ConfigError {
        variable,
        message: format!("{raw:?} is not a whole number"),
    })?;
    if value < min || value > max {
        return Err(ConfigError {
            variable,
            message: format!("{value} is out of range ({min} to {max})"),
        });
    }
    Ok(value)
}

fn boolean(variable: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError {
            variable,
            message: format!("{raw:?} is not a boolean (true or false)"),
        }),
    }
}

impl Config {
    /// Checks every setting; the first bad one is the error.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let listen = s
            .listen
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError {
                variable: "TASKLANE_LISTEN",
                message: format!(
                    "{:?} is not an address and port such as 127.0.0.1:8080",
                    s.listen
                ),
            })?;
        let database_url = DatabaseUrl::parse(&s.database_url).map_err(|message| ConfigError {
            variable: "TASKLANE_DATABASE_URL",
            message,
        })?;
        let backend = database_url.backend();
        let pool_size = match &s.pool_size {
            Some(raw) => number("TASKLANE_POOL_SIZE", raw, 1usize, 1000)?,
            None if backend == Backend::Postgres => 10,
            None => 4,
        };
        let pool = PoolSettings {
            size: pool_size,
            checkout_timeout: Duration::from_millis(number(
                "TASKLANE_POOL_TIMEOUT_MS",
                &s.pool_timeout_ms,
                1u64,
                600_000,
            )?),
            statement_timeout: Duration::from_millis(number(
                "TASKLANE_STATEMENT_TIMEOUT_MS",
                &s.statement_timeout_ms,
                1u64,
                86_400_000,
            )?),
        };
        let jwt_secret = match s.jwt_secret.as_deref().map(str::trim) {
            Some(secret) if !secret.is_empty() => {
                if secret.len() < 32 {
                    return Err(ConfigError {
                        variable: "TASKLANE_JWT_SECRET",
                        message: format!(
                            "is {} bytes long; at least 32 are required",
                            secret.len()
                        ),
                    });
                }
                Some(SecretString::from(secret.to_owned()))
            }
            _ if backend == Backend::Postgres => {
                return Err(ConfigError {
                    variable: "TASKLANE_JWT_SECRET",
                    message:
                        "is required when TASKLANE_DATABASE_URL is PostgreSQL (at least 32 bytes)"
                            .into(),
                });
            }
            _ => None,
        };
        let production = boolean("TASKLANE_PRODUCTION", &s.production)?;
        let cors_origins = s
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|origin| {
                let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin
                        .trim_end_matches('/')
                        .contains(|c: char| c.is_whitespace());
                match http::HeaderValue::from_str(origin.trim_end_matches('/')) {
                    Ok(value) if valid => Ok(value),
                    _ => Err(ConfigError {
                        variable: "TASKLANE_CORS_ORIGINS",
                        message: format!(
                            "{origin:?} is not an origin such as https://app.example.com"
                        ),
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let public_url = s.public_url.trim().trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError {
                variable: "TASKLANE_PUBLIC_URL",
                message: format!("{:?} is not an http(s) URL", s.public_url),
            });
        }
        let mail = MailTransport::parse(&s.mail).map_err(|message| ConfigError {
            variable: "TASKLANE_MAIL",
            message,
        })?;
        if production && matches!(mail, MailTransport::Log) {
            return Err(ConfigError {
                variable: "TASKLANE_MAIL",
                message: "log writes sign-in links to the log and is refused with \
                          TASKLANE_PRODUCTION; use smtp://…, file:DIR or disabled"
                    .into(),
            });
        }
        if s.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError {
                variable: "TASKLANE_MAIL_FROM",
                message: format!(
                    "{:?} is not a mailbox such as Tasklane <no-reply@example.com>",
                    s.mail_from
                ),
            });
        }
        let trusted_proxies =
            crate::auth::client_ip::parse_proxies(&s.trusted_proxies).map_err(|message| {
                ConfigError {
                    variable: "TASKLANE_TRUSTED_PROXIES",
                    message,
                }
            })?;
        let rate = |variable: &'static str, raw: &str| {
            Rate::parse(raw).map_err(|message| ConfigError { variable, message })
        };
        let rate_limits = RateLimits {
            login_ip: rate("TASKLANE_RATE_LOGIN_IP", &s.rate_login_ip)?,
            login_account: rate("TASKLANE_RATE_LOGIN_ACCOUNT", &s.rate_login_account)?,
            signup_ip: rate("TASKLANE_RATE_SIGNUP_IP", &s.rate_signup_ip)?,
            email_ip: rate("TASKLANE_RATE_EMAIL_IP", &s.rate_email_ip)?,
            email_address: rate("TASKLANE_RATE_EMAIL_ADDRESS", &s.rate_email_address)?,
            refresh_ip: rate("TASKLANE_RATE_REFRESH_IP", &s.rate_refresh_ip)?,
            token_ip: rate("TASKLANE_RATE_TOKEN_IP", &s.rate_token_ip)?,
        };
        let quotas = Quotas {
            projects: number("TASKLANE_QUOTA_PROJECTS", &s.quota_projects, 0u64, u64::MAX)?,
            tasks: number("TASKLANE_QUOTA_TASKS", &s.quota_tasks, 0u64, u64::MAX)?,
            sessions: number("TASKLANE_QUOTA_SESSIONS", &s.quota_sessions, 1u64, u64::MAX)?,
            api_keys: number("TASKLANE_QUOTA_API_KEYS", &s.quota_api_keys, 0u64, u64::MAX)?,
            operation_records: number(
                "TASKLANE_QUOTA_OPERATION_RECORDS",
                &s.quota_operation_records,
                0u64,
                u64::MAX,
            )?,
        };
        let limits = QueryLimits {
            depth: number("TASKLANE_MAX_DEPTH", &s.max_depth, 2usize, 1000)?,
            complexity: number(
                "TASKLANE_MAX_COMPLEXITY",
                &s.max_complexity,
                10usize,
                10_000_000,
            )?,
            aliases: number("TASKLANE_MAX_ALIASES", &s.max_aliases, 0usize, 100_000)?,
            directives: number("TASKLANE_MAX_DIRECTIVES", &s.max_directives, 0usize, 1000)?,
            batch: number("TASKLANE_MAX_BATCH", &s.max_batch, 1usize, 1000)?,
            page_size: number("TASKLANE_MAX_PAGE_SIZE", &s.max_page_size, 1usize, 10_000)?,
        };
        let log_format = match s.log_format.trim() {
            "auto" if production => LogFormat::Json,
            "auto" | "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError {
                    variable: "TASKLANE_LOG_FORMAT",
                    message: format!("{other:?} is not one of auto, text, json"),
                });
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&s.log).is_err() {
            return Err(ConfigError {
                variable: "TASKLANE_LOG",
                message: format!("{:?} is not a valid log filter", s.log),
            });
        }
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            listen,
            database_url,
            pool,
            jwt_secret,
            access_token_ttl: Duration::from_secs(number(
                "TASKLANE_ACCESS_TOKEN_TTL_SECS",
                &s.access_token_ttl_secs,
                10u64,
                86_400,
            )?),
            refresh_token_ttl: Duration::from_secs(
                number(
                    "TASKLANE_REFRESH_TOKEN_TTL_DAYS",
                    &s.refresh_token_ttl_days,
                    1u64,
                    365,
                )? * 86_400,
            ),
            production,
            cors_origins,
            public_url,
            mail,
            mail_from: s.mail_from.trim().to_owned(),
            trusted_proxies,
            rate_limits,
            ipv6_prefix: number("TASKLANE_RATE_IPV6_PREFIX", &s.rate_ipv6_prefix, 16u8, 128)?,
            refresh_grace: Duration::from_secs(number(
                "TASKLANE_REFRESH_GRACE_SECS",
                &s.refresh_grace_secs,
                0u64,
                300,
            )?),
            connections: ConnectionLimits {
                header_timeout: Duration::from_millis(number(
                    "TASKLANE_HEADER_TIMEOUT_MS",
                    &s.header_timeout_ms,
                    10u64,
                    3_600_000,
                )?),
                max_connections: number(
                    "TASKLANE_MAX_CONNECTIONS",
                    &s.max_connections,
                    1usize,
                    10_000_000,
                )?,
            },
            quotas,
            limits,
            body_limit: number("TASKLANE_BODY_LIMIT", &s.body_limit, 1024usize, 1 << 30)?,
            request_timeout: Duration::from_secs(number(
                "TASKLANE_REQUEST_TIMEOUT_SECS",
                &s.request_timeout_secs,
                1u64,
                3600,
            )?),
            hash_concurrency: match &s.hash_concurrency {
                Some(raw) => number("TASKLANE_HASH_CONCURRENCY", raw, 1usize, 1024)?,
                None => cpus,
            },
            live: LiveLimits {
                init_timeout: Duration::from_millis(number(
                    "TASKLANE_WS_INIT_TIMEOUT_MS",
                    &s.ws_init_timeout_ms,
                    10u64,
                    3_600_000,
                )?),
                keepalive: Duration::from_millis(number(
                    "TASKLANE_WS_KEEPALIVE_MS",
                    &s.ws_keepalive_ms,
                    10u64,
                    3_600_000,
                )?),
                subscriptions_per_connection: number(
                    "TASKLANE_WS_MAX_SUBSCRIPTIONS",
                    &s.ws_max_subscriptions,
                    1usize,
                    100_000,
                )?,
                connections_per_user: number(
                    "TASKLANE_WS_MAX_CONNECTIONS_PER_USER",
                    &s.ws_max_connections_per_user,
                    1usize,
                    1_000_000,
                )?,
                buffer: number("TASKLANE_WS_BUFFER", &s.ws_buffer, 1usize, 1_000_000)?,
                pending_per_ip: number(
                    "TASKLANE_WS_MAX_PENDING_PER_IP",
                    &s.ws_max_pending_per_ip,
                    1usize,
                    1_000_000,
                )?,
                inflight_per_connection: number(
                    "TASKLANE_WS_MAX_INFLIGHT",
                    &s.ws_max_inflight,
                    1usize,
                    10_000,
                )?,
                groups_per_user: number(
                    "TASKLANE_WS_MAX_GROUPS_PER_USER",
                    &s.ws_max_groups_per_user,
                    1usize,
                    1_000_000,
                )?,
                queue: number("TASKLANE_LIVE_QUEUE", &s.live_queue, 1usize, 10_000_000)?,
            },
            operations: OperationLimits {
                max_running: number(
                    "TASKLANE_OPERATION_MAX_RUNNING",
                    &s.operation_max_running,
                    1usize,
                    1000,
                )?,
                max_items: number(
                    "TASKLANE_OPERATION_MAX_ITEMS",
                    &s.operation_max_items,
                    1usize,
                    10_000_000,
                )?,
                batch_size: number(
                    "TASKLANE_OPERATION_BATCH_SIZE",
                    &s.operation_batch_size,
                    1usize,
                    10_000,
                )?,
                stale_after: Duration::from_secs(number(
                    "TASKLANE_OPERATION_STALE_SECS",
                    &s.operation_stale_secs,
                    1u64,
                    86_400,
                )?),
                poll: Duration::from_millis(number(
                    "TASKLANE_OPERATION_POLL_MS",
                    &s.operation_poll_ms,
                    10u64,
                    60_000,
                )?),
                worker: boolean("TASKLANE_OPERATION_WORKER", &s.operation_worker)?,
            },
            log: s.log.clone(),
            log_format,
        })
    }

    /// The defaults, for a given database, with no environment read: what
    /// tests and embedders start from.
    pub fn with_database(
        database_url: &str,
        jwt_secret: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let settings = Settings {
            database_url: database_url.to_owned(),
            jwt_secret: jwt_secret.map(str::to_owned),
            ..Settings::defaults()
        };
        Self::from_settings(&settings)
    }

    pub fn secret_bytes(&self) -> Option<&[u8]> {
        self.jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
    }
}

impl Settings {
    /// The documented defaults, independent of the environment.
    pub fn defaults() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/tasklane.db".into(),
            pool_size: None,
            pool_timeout_ms: "2000".into(),
            statement_timeout_ms: "5000".into(),
            jwt_secret: None,
            access_token_ttl_secs: "900".into(),
            refresh_token_ttl_days: "30".into(),
            production: "false".into(),
            cors_origins: String::new(),
            public_url: "http://127.0.0.1:8080".into(),
            mail: "log".into(),
            mail_from: "Tasklane <no-reply@localhost>".into(),
            trusted_proxies: String::new(),
            rate_login_ip: "5/15m".into(),
            rate_login_account: "100/1h".into(),
            rate_signup_ip: "20/1h".into(),
            rate_email_ip: "20/1h".into(),
            rate_email_address: "5/1h".into(),
            rate_refresh_ip: "60/1m".into(),
            max_depth: "16".into(),
            max_complexity: "25000".into(),
            max_aliases: "30".into(),
            max_directives: "5".into(),
            max_batch: "10".into(),
            max_page_size: "100".into(),
            body_limit: "1048576".into(),
            request_timeout_secs: "30".into(),
            operation_max_running: "2".into(),
            operation_max_items: "100000".into(),
            operation_batch_size: "500".into(),
            operation_stale_secs: "30".into(),
            operation_poll_ms: "1000".into(),
            operation_worker: "true".into(),
            hash_concurrency: None,
            ws_init_timeout_ms: "10000".into(),
            ws_keepalive_ms: "15000".into(),
            ws_max_subscriptions: "100".into(),
            ws_max_connections_per_user: "50".into(),
            ws_buffer: "256".into(),
            rate_token_ip: "30/15m".into(),
            rate_ipv6_prefix: "64".into(),
            refresh_grace_secs: "10".into(),
            header_timeout_ms: "10000".into(),
            max_connections: "25000".into(),
            ws_max_pending_per_ip: "10".into(),
            ws_max_inflight: "8".into(),
            ws_max_groups_per_user: "100".into(),
            live_queue: "4096".into(),
            quota_projects: "1000".into(),
            quota_tasks: "100000".into(),
            quota_sessions: "100".into(),
            quota_api_keys: "50".into(),
            quota_operation_records: "1000000".into(),
            log: "info".into(),
            log_format: "auto".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_the_cli() {
        let cli = Cli::try_parse_from(["tasklane"]).expect("parses");
        assert_eq!(cli.command, None);
        if std::env::vars()
            .all(|(k, _)| !k.starts_with("TASKLANE_") || k.starts_with("TASKLANE_TEST_"))
        {
            assert_eq!(
                format!("{:?}", cli.settings),
                format!("{:?}", Settings::defaults())
            );
        }
        let config = Config::from_settings(&Settings::defaults()).expect("defaults are valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.pool.size, 4);
        assert_eq!(config.limits.page_size, 100);
        assert_eq!(config.body_limit, 1 << 20);
        assert_eq!(config.live.init_timeout, Duration::from_secs(10));
        assert_eq!(config.live.subscriptions_per_connection, 100);
        assert_eq!(config.live.connections_per_user, 50);
        assert_eq!(config.operations.max_running, 2);
        assert_eq!(config.operations.max_items, 100_000);
        assert_eq!(config.operations.batch_size, 500);
    }

    #[test]
    fn a_bad_setting_names_its_variable() {
        let bad = |f: fn(&mut Settings)| {
            let mut s = Settings::defaults();
            f(&mut s);
            Config::from_settings(&s)
                .expect_err("must be refused")
                .variable
        };
        assert_eq!(bad(|s| s.listen = "nope".into()), "TASKLANE_LISTEN");
        assert_eq!(
            bad(|s| s.database_url = "mysql://x".into()),
            "TASKLANE_DATABASE_URL"
        );
        assert_eq!(
            bad(|s| s.pool_size = Some("0".into())),
            "TASKLANE_POOL_SIZE"
        );
        assert_eq!(
            bad(|s| s.jwt_secret = Some("short".into())),
            "TASKLANE_JWT_SECRET"
        );
        assert_eq!(
            bad(|s| s.database_url = "postgres://u@h/db".into()),
            "TASKLANE_JWT_SECRET"
        );
        assert_eq!(
            bad(|s| s.production = "maybe".into()),
            "TASKLANE_PRODUCTION"
        );
        assert_eq!(
            bad(|s| s.cors_origins = "example.com".into()),
            "TASKLANE_CORS_ORIGINS"
        );
        assert_eq!(bad(|s| s.max_depth = "x".into()), "TASKLANE_MAX_DEPTH");
        assert_eq!(
            bad(|s| s.operation_batch_size = "0".into()),
            "TASKLANE_OPERATION_BATCH_SIZE"
        );
        assert_eq!(bad(|s| s.log_format = "xml".into()), "TASKLANE_LOG_FORMAT");
        assert_eq!(bad(|s| s.ws_buffer = "0".into()), "TASKLANE_WS_BUFFER");
        assert_eq!(bad(|s| s.mail = "pigeon".into()), "TASKLANE_MAIL");
        assert_eq!(
            bad(|s| s.production = "true".into()),
            "TASKLANE_MAIL",
            "the log mailer writes sign-in links to the log: refused in production"
        );
        assert_eq!(
            bad(|s| s.rate_token_ip = "30".into()),
            "TASKLANE_RATE_TOKEN_IP"
        );
        assert_eq!(
            bad(|s| s.rate_ipv6_prefix = "129".into()),
            "TASKLANE_RATE_IPV6_PREFIX"
        );
        assert_eq!(bad(|s| s.quota_tasks = "-1".into()), "TASKLANE_QUOTA_TASKS");
        assert_eq!(bad(|s| s.mail_from = "nobody".into()), "TASKLANE_MAIL_FROM");
        assert_eq!(
            bad(|s| s.trusted_proxies = "10.0.0.0/33".into()),
            "TASKLANE_TRUSTED_PROXIES"
        );
        assert_eq!(
            bad(|s| s.rate_login_ip = "5 per minute".into()),
            "TASKLANE_RATE_LOGIN_IP"
        );
    }

    #[test]
    fn postgres_url_password_is_not_shown() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db:5432/tasklane").expect("parses");
        assert_eq!(format!("{url:?}"), "postgres://app@db:5432/tasklane");
    }
}
