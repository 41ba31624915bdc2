//! The limits the rest of the code reads as they are: each field is its
//! setting's one declaration, so these structs come out of the command line
//! ready to use.

use std::time::Duration;

use clap::{ArgAction, Args};

use super::parse;

/// Limits on what one GraphQL request may ask for.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Query limits")]
pub struct QueryLimits {
    /// Deepest selection nesting a query may have
    #[arg(
        long = "max-depth",
        env = "TASKLANE_MAX_DEPTH",
        default_value = "16",
        value_parser = parse::number(2usize, 1000)
    )]
    pub depth: usize,
    /// Highest query cost: every field counts 1, a connection or list
    /// multiplies its selection by its page size or bound
    #[arg(
        long = "max-complexity",
        env = "TASKLANE_MAX_COMPLEXITY",
        default_value = "25000",
        value_parser = parse::number(10usize, 10_000_000)
    )]
    pub complexity: usize,
    /// Most aliased fields in one document
    #[arg(
        long = "max-aliases",
        env = "TASKLANE_MAX_ALIASES",
        default_value = "30",
        value_parser = parse::number(0usize, 100_000)
    )]
    pub aliases: usize,
    /// Most directives on one field
    #[arg(
        long = "max-directives",
        env = "TASKLANE_MAX_DIRECTIVES",
        default_value = "5",
        value_parser = parse::number(0usize, 1000)
    )]
    pub directives: usize,
    /// Most operations in one batched request
    #[arg(
        long = "max-batch",
        env = "TASKLANE_MAX_BATCH",
        default_value = "10",
        value_parser = parse::number(1usize, 1000)
    )]
    pub batch: usize,
    /// Largest page (first / last) a connection serves
    #[arg(
        long = "max-page-size",
        env = "TASKLANE_MAX_PAGE_SIZE",
        default_value = "100",
        value_parser = parse::number(1usize, 10_000)
    )]
    pub page_size: usize,
}

/// Limits on connections to this instance.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Server")]
pub struct ConnectionLimits {
    /// Longest wait for a client's HTTP request headers, in milliseconds
    #[arg(
        long = "header-timeout-ms",
        env = "TASKLANE_HEADER_TIMEOUT_MS",
        default_value = "10000",
        value_parser = parse::millis(10, 3_600_000)
    )]
    pub header_timeout: Duration,
    /// Most open HTTP and WebSocket connections on one instance; more wait to be accepted
    #[arg(
        long,
        env = "TASKLANE_MAX_CONNECTIONS",
        default_value = "25000",
        value_parser = parse::number(1usize, 10_000_000)
    )]
    pub max_connections: usize,
}

/// Limits and timings of WebSocket subscriptions.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "WebSocket")]
pub struct LiveLimits {
    /// Longest wait for a WebSocket's connection_init, in milliseconds (then close 4408)
    #[arg(
        long = "ws-init-timeout-ms",
        env = "TASKLANE_WS_INIT_TIMEOUT_MS",
        default_value = "10000",
        value_parser = parse::millis(10, 3_600_000)
    )]
    pub init_timeout: Duration,
    /// Interval of WebSocket keep-alive pings, in milliseconds; a peer silent
    /// for two intervals is dropped
    #[arg(
        long = "ws-keepalive-ms",
        env = "TASKLANE_WS_KEEPALIVE_MS",
        default_value = "15000",
        value_parser = parse::millis(10, 3_600_000)
    )]
    pub keepalive: Duration,
    /// Most subscriptions on one WebSocket connection
    #[arg(
        long = "ws-max-subscriptions",
        env = "TASKLANE_WS_MAX_SUBSCRIPTIONS",
        default_value = "100",
        value_parser = parse::number(1usize, 100_000)
    )]
    pub subscriptions_per_connection: usize,
    /// Most WebSocket connections of one user on one instance
    #[arg(
        long = "ws-max-connections-per-user",
        env = "TASKLANE_WS_MAX_CONNECTIONS_PER_USER",
        default_value = "50",
        value_parser = parse::number(1usize, 1_000_000)
    )]
    pub connections_per_user: usize,
    /// Messages waiting for a slow WebSocket client before it is disconnected
    #[arg(
        long = "ws-buffer",
        env = "TASKLANE_WS_BUFFER",
        default_value = "256",
        value_parser = parse::number(1usize, 1_000_000)
    )]
    pub buffer: usize,
    /// Most WebSocket connections of one client IP that have not yet sent connection_init
    #[arg(
        long = "ws-max-pending-per-ip",
        env = "TASKLANE_WS_MAX_PENDING_PER_IP",
        default_value = "10",
        value_parser = parse::number(1usize, 1_000_000)
    )]
    pub pending_per_ip: usize,
    /// Most queries and mutations one WebSocket connection may run at once
    #[arg(
        long = "ws-max-inflight",
        env = "TASKLANE_WS_MAX_INFLIGHT",
        default_value = "8",
        value_parser = parse::number(1usize, 10_000)
    )]
    pub inflight_per_connection: usize,
    /// Most distinct subscription groups (document, variables) of one user on one instance
    #[arg(
        long = "ws-max-groups-per-user",
        env = "TASKLANE_WS_MAX_GROUPS_PER_USER",
        default_value = "100",
        value_parser = parse::number(1usize, 1_000_000)
    )]
    pub groups_per_user: usize,
    /// Events of one user waiting for delivery on one instance before that user's subscriptions resync
    #[arg(
        long = "live-queue",
        env = "TASKLANE_LIVE_QUEUE",
        default_value = "4096",
        value_parser = parse::number(1usize, 10_000_000)
    )]
    pub queue: usize,
}

/// Per-account quotas: how much one account may store. One place, so that
/// they can become per-plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
#[command(next_help_heading = "Quotas")]
pub struct Quotas {
    /// Most projects one account may have (deleted ones included)
    #[arg(
        long = "quota-projects",
        env = "TASKLANE_QUOTA_PROJECTS",
        default_value = "1000",
        value_parser = parse::number(0u64, u64::MAX)
    )]
    pub projects: u64,
    /// Most tasks one account may have (deleted ones included)
    #[arg(
        long = "quota-tasks",
        env = "TASKLANE_QUOTA_TASKS",
        default_value = "100000",
        value_parser = parse::number(0u64, u64::MAX)
    )]
    pub tasks: u64,
    /// Most open sessions one account may have
    #[arg(
        long = "quota-sessions",
        env = "TASKLANE_QUOTA_SESSIONS",
        default_value = "100",
        value_parser = parse::number(1u64, u64::MAX)
    )]
    pub sessions: u64,
    /// Most API keys one account may have (revoked ones excluded)
    #[arg(
        long = "quota-api-keys",
        env = "TASKLANE_QUOTA_API_KEYS",
        default_value = "50",
        value_parser = parse::number(0u64, u64::MAX)
    )]
    pub api_keys: u64,
    /// Most stored operation records one account may have
    #[arg(
        long = "quota-operation-records",
        env = "TASKLANE_QUOTA_OPERATION_RECORDS",
        default_value = "1000000",
        value_parser = parse::number(0u64, u64::MAX)
    )]
    pub operation_records: u64,
}

/// Limits and timing of operations (bulk jobs).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Operations")]
pub struct OperationLimits {
    /// Operations (bulk jobs) one user may have pending or running at once
    #[arg(
        long = "operation-max-running",
        env = "TASKLANE_OPERATION_MAX_RUNNING",
        default_value = "2",
        value_parser = parse::number(1usize, 1000)
    )]
    pub max_running: usize,
    /// Most items (tasks, projects) one operation may change
    #[arg(
        long = "operation-max-items",
        env = "TASKLANE_OPERATION_MAX_ITEMS",
        default_value = "100000",
        value_parser = parse::number(1usize, 10_000_000)
    )]
    pub max_items: usize,
    /// Items an operation changes per batch (one transaction each)
    #[arg(
        long = "operation-batch-size",
        env = "TASKLANE_OPERATION_BATCH_SIZE",
        default_value = "500",
        value_parser = parse::number(1usize, 10_000)
    )]
    pub batch_size: usize,
    /// Seconds without a heartbeat after which a running operation is resumed elsewhere
    #[arg(
        long = "operation-stale-secs",
        env = "TASKLANE_OPERATION_STALE_SECS",
        default_value = "30",
        value_parser = parse::secs(1, 86_400)
    )]
    pub stale_after: Duration,
    /// How often an idle operation worker on PostgreSQL looks for stale work, in milliseconds
    #[arg(
        long = "operation-poll-ms",
        env = "TASKLANE_OPERATION_POLL_MS",
        default_value = "1000",
        value_parser = parse::millis(10, 60_000)
    )]
    pub poll: Duration,
    /// Run operations on this instance (false: serve the API only)
    #[arg(
        long = "operation-worker",
        env = "TASKLANE_OPERATION_WORKER",
        default_value = "true",
        value_parser = parse::boolean(),
        action = ArgAction::Set
    )]
    pub worker: bool,
    /// Largest data export (exportMyData) kept, in bytes of JSON; a larger one fails
    #[arg(
        long = "export-max-bytes",
        env = "TASKLANE_EXPORT_MAX_BYTES",
        default_value = "268435456",
        value_parser = parse::number(1024u64, 1 << 30)
    )]
    pub export_max_bytes: u64,
}

/// Limits of sharing: invitations and members of one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
#[command(next_help_heading = "Sharing")]
pub struct SharingLimits {
    /// Lifetime of an invitation to a project, in hours
    #[arg(
        long = "invitation-ttl-hours",
        env = "TASKLANE_INVITATION_TTL_HOURS",
        default_value = "168",
        value_parser = parse::hours(1, 24 * 365)
    )]
    pub invitation_ttl: Duration,
    /// Most members one project may have, its owner included
    #[arg(
        long = "project-max-members",
        env = "TASKLANE_PROJECT_MAX_MEMBERS",
        default_value = "100",
        value_parser = parse::number(1u64, 1_000_000)
    )]
    pub max_members: u64,
    /// Most pending invitations one project may have
    #[arg(
        long = "project-max-pending-invitations",
        env = "TASKLANE_PROJECT_MAX_PENDING_INVITATIONS",
        default_value = "50",
        value_parser = parse::number(1u64, 1_000_000)
    )]
    pub max_pending_invitations: u64,
}
