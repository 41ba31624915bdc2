//! One lane per user with subscriptions on this instance, so that one
//! user's events never wait behind another's.
//!
//! The hub's dispatcher hands each change to its owner's lane and moves on.
//! A lane has two tasks: its loader loads each changed object as soon as it
//! can (so it is the state of that change, not of a later one, however long
//! deliveries take), and its deliverer resolves the user's groups and hands
//! out frames, in order. A user's heavy documents and bulk writes thus cost
//! that user's lane its time; another user's lane runs beside it.
//!
//! Bounds:
//! - Loaded events wait for delivery under one budget per instance,
//!   `TASKLANE_LIVE_QUEUE` permits: a loader takes a permit before loading
//!   and the deliverer gives it back once delivered. A loader waits for
//!   one (backpressure, not memory); the permits go to waiting loaders in
//!   turn, so users share them. Each lane also loads at most
//!   [`LOADED_AHEAD`] events ahead of its delivery, so one user can not take
//!   the whole budget.
//! - Changes not yet loaded wait in the lane, at most `TASKLANE_LIVE_QUEUE`
//!   of them; past that the lane drops them and, once it has caught up,
//!   tells the user's subscriptions to resync (`RESYNC`: reload), as the bus
//!   does for a subscriber that fell behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::db::types::Id;
use crate::events::changes::Change;

/// What a lane needs of the hub that owns it. The hub implements it, so the
/// lanes know nothing of the hub: dependencies point one way.
pub(super) trait Host: Send + Sync + 'static {
    /// A loaded event.
    type Item: Send + 'static;
    /// The instance's budget of loaded events waiting for delivery.
    fn budget(&self) -> Arc<Semaphore>;
    /// The changed object as `change` left it; `None` when there is nothing
    /// to deliver.
    fn load(self: Arc<Self>, change: &Change) -> impl Future<Output = Option<Self::Item>> + Send;
    /// Delivers a loaded event to its user's subscribers.
    fn deliver(
        self: Arc<Self>,
        change: Change,
        item: Self::Item,
    ) -> impl Future<Output = ()> + Send;
    /// Tells `owner`'s subscriptions to reload.
    fn resync(self: Arc<Self>, owner: Id) -> impl Future<Output = ()> + Send;
}

/// Loaded events one lane may hold ahead of its delivery.
pub(super) const LOADED_AHEAD: usize = 16;

/// What a lane is given.
pub(super) enum Work {
    Change(Change),
    /// Events may have been missed: the user's subscriptions reload.
    Resync,
}

/// An event loaded, waiting for delivery; its permit counts it against the
/// instance's budget until it is delivered.
enum Loaded<I> {
    Item(Change, I, OwnedSemaphorePermit),
    Resync,
}

pub(super) struct Lane {
    work: mpsc::Sender<Work>,
    /// Changes were dropped: a resync is owed.
    missed: Arc<AtomicBool>,
}

impl Lane {
    /// Starts the lane of `owner`, holding at most `backlog` changes.
    pub(super) fn start<H: Host>(hub: Weak<H>, owner: Id, backlog: usize) -> Self {
        let (work, mut incoming) = mpsc::channel::<Work>(backlog.max(1));
        let missed = Arc::new(AtomicBool::new(false));
        let (to_deliver, mut loaded) = mpsc::channel::<Loaded<H::Item>>(LOADED_AHEAD);
        let owed = missed.clone();
        let weak = hub.clone();
        tokio::spawn(async move {
            while let Some(work) = incoming.recv().await {
                let next = match work {
                    Work::Resync => Some(Loaded::Resync),
                    Work::Change(change) => {
                        let Some(hub) = weak.upgrade() else { break };
                        let Ok(permit) = hub.budget().acquire_owned().await else {
                            break;
                        };
                        hub.load(&change)
                            .await
                            .map(|item| Loaded::Item(change, item, permit))
                    }
                };
                if let Some(next) = next
                    && to_deliver.send(next).await.is_err()
                {
                    break;
                }
                if incoming.is_empty()
                    && owed.swap(false, Ordering::AcqRel)
                    && to_deliver.send(Loaded::Resync).await.is_err()
                {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(next) = loaded.recv().await {
                let Some(hub) = hub.upgrade() else { break };
                match next {
                    Loaded::Item(change, item, permit) => {
                        hub.deliver(change, item).await;
                        drop(permit);
                    }
                    Loaded::Resync => hub.resync(owner).await,
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
