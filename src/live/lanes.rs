//! One lane per user with subscriptions on this instance, so that one
//! user's events never wait behind another's.
//!
//! The hub's dispatcher hands each event (already the state of its change:
//! it carries the row that change wrote) to its owner's lane and moves on.
//! The lane's task decodes and delivers them one after another, in the
//! order the bus gave them, resolving the user's groups for each. A user's heavy
//! documents and bulk writes thus cost that user's lane its time; another
//! user's lane runs beside it.
//!
//! A lane holds at most `TASKLANE_LIVE_QUEUE` events; past that it drops
//! them and, once it has caught up, tells the user's subscriptions to
//! resync (`RESYNC`: reload), as the bus does for a subscriber that fell
//! behind. Nothing is dropped silently.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::mpsc;

use super::item::Work;
use crate::db::types::Id;

/// What a lane needs of the hub that owns it. The hub implements it, so the
/// lanes know nothing of the hub: dependencies point one way.
pub(super) trait Host: Send + Sync + 'static {
    /// Delivers `work` to `owner`'s subscriptions.
    fn deliver(self: Arc<Self>, owner: Id, work: Work) -> impl Future<Output = ()> + Send;
}

pub(super) struct Lane {
    work: mpsc::Sender<Work>,
    /// Events were dropped: a resync is owed.
    missed: Arc<AtomicBool>,
}

impl Lane {
    /// Starts the lane of `owner`, holding at most `backlog` events.
    pub(super) fn start<H: Host>(hub: Weak<H>, owner: Id, backlog: usize) -> Self {
        let (work, mut incoming) = mpsc::channel::<Work>(backlog.max(1));
        let missed = Arc::new(AtomicBool::new(false));
        let owed = missed.clone();
        tokio::spawn(async move {
            while let Some(work) = incoming.recv().await {
                let Some(host) = hub.upgrade() else { break };
                host.clone().deliver(owner, work).await;
                if incoming.is_empty() && owed.swap(false, Ordering::AcqRel) {
                    host.deliver(owner, Work::Resync).await;
                }
            }
        });
        Self { work, missed }
    }

    /// Queues `work`; a full lane drops it and owes its user a resync.
    /// `Err` when the lane has stopped.
    pub(super) fn push(&self, work: Work) -> Result<(), Work> {
        match self.work.try_send(work) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.missed.store(true, Ordering::Release);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(work)) => Err(work),
        }
    }
}
