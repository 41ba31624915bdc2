//! Where a connection's subscription frames go.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ws::Message;
use tokio::sync::mpsc;

/// Items waiting for one subscription (or one connection) before it counts
/// as too slow. The connection's loop takes them at once (its socket has
/// its own queue, `TASKLANE_WS_BUFFER`), so this fills only when the loop
/// is starved.
pub const SUBSCRIPTION_QUEUE: usize = 1024;

/// Frames waiting for one connection before it counts as too slow.
pub const CONNECTION_QUEUE: usize = SUBSCRIPTION_QUEUE;

/// Where the frames of a connection's subscriptions are delivered, in
/// order: straight into its socket queue while that has room and nothing
/// waits before it; else into one bounded queue per connection (not per
/// subscription), which the connection's loop moves into its socket queue,
/// giving a slow reader its grace.
#[derive(Clone)]
pub struct Outlet {
    pub direct: mpsc::Sender<Message>,
    pub queue: mpsc::Sender<Shared>,
    /// Items in `queue`, or taken from it and not yet in the socket queue.
    pub pending: Arc<AtomicUsize>,
}

/// A connection that can not keep up.
#[derive(Debug, PartialEq, Eq)]
pub struct TooSlow;

impl Outlet {
    pub fn send(&self, item: Shared) -> Result<(), TooSlow> {
        let item = match item {
            Shared::Frame(sub, id, text) if self.pending.load(Ordering::Acquire) == 0 => {
                match self.direct.try_send(Message::Text(text.into())) {
                    Ok(()) => return Ok(()),
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                    Err(mpsc::error::TrySendError::Full(message)) => {
                        let text = match message {
                            Message::Text(text) => text.to_string(),
                            _ => return Ok(()),
                        };
                        Shared::Frame(sub, id, text)
                    }
                }
            }
            item => item,
        };
        self.pending.fetch_add(1, Ordering::AcqRel);
        match self.queue.try_send(item) {
            Ok(()) => Ok(()),
            Err(error) => {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                match error {
                    mpsc::error::TrySendError::Full(_) => Err(TooSlow),
                    mpsc::error::TrySendError::Closed(_) => Ok(()),
                }
            }
        }
    }
}

/// What a connection receives for its shared subscriptions.
#[derive(Debug)]
pub enum Shared {
    /// A whole `next` (or `data`) frame of subscription (hub id, client id).
    Frame(u64, Arc<str>, String),
    /// Subscription (hub id, client id) ended: its project was deleted.
    Ended(u64, Arc<str>),
}
