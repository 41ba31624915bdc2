//! The one application error, and how it reaches a client.
//!
//! Policy: every error a client sees carries `extensions.code`. Expected
//! failures (bad input, missing object, stale version, …) say what went wrong
//! and name the field. `Internal` keeps its detail for the log only: the
//! client gets a fixed message and, added by the HTTP layer, the request id
//! under which the detail was logged.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql turns
//! any `Display` type into an error without extensions, so with `Display` a
//! `?` in a resolver would silently drop the code. Without it, the only way
//! into a GraphQL error is the `From` impl below.

use async_graphql::ErrorExtensions as _;

use crate::db::types::{Id, Timestamp};

/// Codes of `extensions.code`, as API.md names them.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// A per-account quota would be exceeded; nothing was written.
    pub const QUOTA_EXCEEDED: &str = "QUOTA_EXCEEDED";
    /// A provider sign-in matches an account by email that it may not
    /// join on its own; nothing was linked.
    pub const ACCOUNT_EXISTS: &str = "ACCOUNT_EXISTS";
    /// A sign-in provider failed: no answer in time, an error, or an
    /// unreadable answer.
    pub const OAUTH_PROVIDER_ERROR: &str = "OAUTH_PROVIDER_ERROR";
    pub const INTERNAL: &str = "INTERNAL";
    /// The database did not answer in time (or no connection to it could
    /// be had); retrying later may succeed.
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    /// A WebSocket operation ran past `TASKLANE_REQUEST_TIMEOUT_SECS`.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The document failed to parse or validate (limits included).
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// On a subscription: events may have been missed; reload.
    pub const RESYNC: &str = "RESYNC";
}

/// The message every INTERNAL error shows.
pub const INTERNAL_MESSAGE: &str = "Internal server error";
pub const UNAVAILABLE_MESSAGE: &str = "The database did not answer in time; try again shortly";

#[derive(Debug, Clone)]
pub enum AppError {
    /// No valid credential, or a refused one.
    Unauthenticated(String),
    /// Visible but not allowed.
    Forbidden(String),
    /// Missing, or not visible to this viewer (indistinguishable on purpose).
    NotFound(String),
    /// An argument broke a rule; `field` is its path in the input.
    BadInput { field: String, message: String },
    /// A stale version; `current` is the server's object as JSON.
    Conflict {
        message: String,
        current: Option<serde_json::Value>,
    },
    /// Too many attempts; try again after this many seconds.
    RateLimited { retry_after: u64 },
    /// A per-account quota (`quota` is its setting's name, e.g.
    /// `TASKLANE_QUOTA_TASKS`) of `limit` would be exceeded.
    QuotaExceeded { quota: &'static str, limit: u64 },
    /// A provider sign-in whose email belongs to an account it may not join.
    AccountExists(String),
    /// A sign-in provider failed; the message is plain, the detail logged.
    OAuthProvider(String),
    /// The database did not answer in time; the message is plain.
    Unavailable(String),
    /// Anything else. The text is logged, never shown.
    Internal(String),
}

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated(message.into())
    }

    /// The database did not answer in time (see [`code::SERVICE_UNAVAILABLE`]).
    pub fn unavailable() -> Self {
        Self::Unavailable(UNAVAILABLE_MESSAGE.to_owned())
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::Internal(detail.into())
    }

    /// A database error, where a unique violation is BAD_USER_INPUT on
    /// `field` saying `message`.
    pub fn unique_as(err: diesel::result::Error, field: &str, message: &str) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                Self::bad_input(field, message)
            }
            other => other.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::BadInput { .. } => code::BAD_USER_INPUT,
            Self::Conflict { .. } => code::CONFLICT,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::QuotaExceeded { .. } => code::QUOTA_EXCEEDED,
            Self::AccountExists(_) => code::ACCOUNT_EXISTS,
            Self::OAuthProvider(_) => code::OAUTH_PROVIDER_ERROR,
            Self::Unavailable(_) => code::SERVICE_UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL,
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        let code = err.code();
        match err {
            AppError::Unauthenticated(message)
            | AppError::Forbidden(message)
            | AppError::NotFound(message)
            | AppError::AccountExists(message)
            | AppError::OAuthProvider(message)
            | AppError::Unavailable(message) => {
                async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
            }
            AppError::BadInput { field, message } => {
                async_graphql::Error::new(format!("{field}: {message}")).extend_with(|_, e| {
                    e.set("code", code);
                    e.set("field", field.as_str());
                })
            }
            AppError::Conflict { message, current } => async_graphql::Error::new(message)
                .extend_with(|_, e| {
                    e.set("code", code);
                    if let Some(current) = &current
                        && let Ok(value) = async_graphql::Value::from_json(current.clone())
                    {
                        e.set("current", value);
                    }
                }),
            AppError::RateLimited { retry_after } => async_graphql::Error::new(format!(
                "Too many attempts; try again in {retry_after} s"
            ))
            .extend_with(|_, e| {
                e.set("code", code);
                e.set("retryAfter", retry_after);
            }),
            AppError::QuotaExceeded { quota, limit } => async_graphql::Error::new(format!(
                "Quota exceeded: this account may have at most {limit} ({quota})"
            ))
            .extend_with(|_, e| {
                e.set("code", code);
                e.set("quota", quota);
                e.set("limit", limit);
            }),
            AppError::Internal(detail) => {
                // Logged inside the request's span, which carries the request id.
                tracing::error!(error = %detail, "internal error");
                async_graphql::Error::new(INTERNAL_MESSAGE).extend_with(|_, e| e.set("code", code))
            }
        }
    }
}

/// tokio-postgres' words for a connection that closed or failed under a
/// statement (its other errors without an SQLSTATE are not about the link).
fn lost_connection(message: &str) -> bool {
    message.starts_with("connection closed")
        || message.starts_with("error communicating with the server")
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => Self::NotFound("Not found".into()),
            // The connection was dropped under the statement (the database
            // stopped answering: see db::watchdog) or the link failed.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UnableToSendCommand
                | diesel::result::DatabaseErrorKind::ClosedConnection,
                info,
            ) if lost_connection(info.message()) => {
                tracing::warn!(error = %info.message(), "database connection lost");
                Self::unavailable()
            }
            other => {
                // The causes too: "Error deserializing field 'status'" alone
                // would not say which value was wrong.
                let mut detail = format!("database error: {other}");
                let mut source = std::error::Error::source(&other);
                while let Some(cause) = source {
                    detail.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                Self::Internal(detail)
            }
        }
    }
}

/// The server's copy of an object in a CONFLICT (`extensions.current`), in
/// its GraphQL field names: what every versioned object shows is here once,
/// each noun's own fields are `fields`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Current<F> {
    #[serde(rename = "__typename")]
    pub typename: &'static str,
    pub id: Id,
    #[serde(flatten)]
    pub fields: F,
    #[serde(serialize_with = "rfc3339_opt")]
    pub deleted_at: Option<Timestamp>,
    pub version: i32,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: Timestamp,
}

/// `Current` of `$row` (a project or task row), its own fields `$fields`,
/// as JSON.
#[macro_export]
macro_rules! current {
    ($row:expr, $typename:literal, $fields:expr) => {
        $crate::error::Current {
            typename: $typename,
            id: $row.id,
            fields: $fields,
            deleted_at: $row.deleted_at,
            version: $row.version,
            created_at: $row.created_at,
            updated_at: $row.updated_at,
        }
        .json()
    };
}

impl<F: serde::Serialize> Current<F> {
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// An instant as `to_rfc3339` writes it (`+00:00`), as CONFLICTs always have.
pub fn rfc3339<S: serde::Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339())
}

pub fn rfc3339_opt<S: serde::Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, s),
        None => s.serialize_none(),
    }
}

/// A result whose error is the application error.
pub type AppResult<T> = Result<T, AppError>;
