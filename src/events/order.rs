//! Commit order on SQLite. A transaction's events wait in its [`Outbox`]
//! until the writer flushes it after the commit, and by then the single
//! write connection may already serve the next transaction, whose flush
//! could come first: two updates of one task would reach subscribers as
//! version 3, then version 2. So the first event a transaction stages takes
//! a turn (on SQLite, the order transactions stage in is the order they
//! commit: one writer at a time), and a flush delivers only once every
//! earlier turn is settled, flushed or rolled back (its outbox dropped).
//!
//! The turns are kept per process: in production one process serves one
//! database; the tests' many servers in one process only wait, at most, for
//! each other's commits. (On PostgreSQL the commit itself delivers
//! notifications in commit order, and no turn is taken.)
//!
//! [`Outbox`]: super::Outbox

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use super::{Event, Message};

/// What a settled turn delivers: to whom, and what.
pub(super) type Batch = (broadcast::Sender<Message>, Vec<Event>);

struct Turns {
    /// The next turn to hand out.
    next: u64,
    /// The oldest turn not yet delivered.
    head: u64,
    /// Turns settled out of order, waiting for the ones before them.
    settled: BTreeMap<u64, Option<Batch>>,
}

static TURNS: Mutex<Turns> = Mutex::new(Turns {
    next: 0,
    head: 0,
    settled: BTreeMap::new(),
});

/// A turn, taken by a transaction's first staged event.
pub(super) fn take() -> u64 {
    let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
    let turn = turns.next;
    turns.next += 1;
    turn
}

/// Settles `turn` with what it delivers (`None`: rolled back), then
/// delivers every batch whose turn has come.
pub(super) fn settle(turn: u64, batch: Option<Batch>) {
    let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
    turns.settled.insert(turn, batch);
    loop {
        let head = turns.head;
        let Some(batch) = turns.settled.remove(&head) else {
            break;
        };
        turns.head += 1;
        if let Some((sender, events)) = batch {
            for event in events {
                // No subscriber is not an error.
                let _ = sender.send(Message::Event(Arc::new(event)));
            }
        }
    }
}
