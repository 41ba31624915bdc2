//! How the hub asks a connection to close, and with which code.

use std::sync::{Arc, Mutex, PoisonError};

/// Why the server closes a connection: a WebSocket close code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: String,
}

impl Close {
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// The user, session or API key was revoked.
    pub fn revoked() -> Self {
        Self::new(close::FORBIDDEN, "Credential revoked")
    }

    /// The connection's queue is full.
    pub fn slow_consumer() -> Self {
        Self::new(
            close::SLOW_CONSUMER,
            "Slow consumer: too many messages waiting",
        )
    }
}

/// How the hub asks a connection to close; the first request wins. (A
/// mutex and a `Notify`: a few dozen bytes per connection, where a channel
/// allocates a block of slots.)
#[derive(Clone, Default)]
pub struct Closer(Arc<(Mutex<Option<Close>>, tokio::sync::Notify)>);

impl Closer {
    /// Asks for `close`, unless a close is already asked for.
    pub fn close(&self, close: Close) {
        let mut asked = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        if asked.is_none() {
            *asked = Some(close);
            drop(asked);
            self.0.1.notify_one();
        }
    }

    /// The close asked for, once there is one.
    pub async fn asked(&self) -> Close {
        loop {
            if let Some(close) = self
                .0
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return close;
            }
            self.0.1.notified().await;
        }
    }
}

/// Close codes (graphql-transport-ws where it defines one).
pub mod close {
    pub const INVALID_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    /// Too many connections of this user (or too many init messages).
    pub const TOO_MANY: u16 = 4429;
    /// The client read too slowly and its buffer overflowed.
    pub const SLOW_CONSUMER: u16 = 1008;
    /// The client stopped answering keep-alive pings.
    pub const PING_TIMEOUT: u16 = 1001;
    /// A message over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server is shutting down: reconnect (to another instance).
    pub const GOING_AWAY: u16 = 1001;
}
