//! `operationProgress(id)`: the operation as it is now, then again after
//! every committed batch and status change, until it has finished.
//!
//! The engine stages a [`Progress`] event (id and owner) with each batch;
//! the subscription reloads the operation through its viewer's guard, so a
//! subscriber sees only its own operations and nothing about anyone
//! else's. It counts against the connection's subscription limit through
//! the hub, and when events may have been missed (the bus resynced) it
//! reloads the operation rather than waiting for the next event.

use async_graphql::{Context, ID, Subscription};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;

use super::graphql::Operation;
use super::model::OperationRow;
use super::store;
use crate::auth::Viewer;
use crate::db::Db;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::events::changes::{OPERATIONS, Progress};
use crate::events::{Delivery, Subscription as BusSubscription};
use crate::graphql::ContextExt;
use crate::live::graphql::connection;
use crate::live::hub::{Interest, Item, SubscriptionGuard};

fn not_found() -> AppError {
    AppError::NotFound("id: operation not found".into())
}

/// Has it reached a status it leaves only by being rolled back?
fn finished(row: &OperationRow) -> bool {
    !row.status.is_active()
}

async fn load(db: &Db, viewer: &Viewer, id: Id) -> AppResult<Option<OperationRow>> {
    let mut pooled = db.read().await?;
    store::find(&mut pooled.conn(), viewer, id).await
}

/// Everything one subscription holds between items.
struct Follow {
    db: Db,
    viewer: Viewer,
    id: Id,
    bus: BusSubscription,
    hub: mpsc::Receiver<Item>,
    _guard: SubscriptionGuard,
    /// The first item, sent before waiting for any event.
    first: Option<OperationRow>,
    done: bool,
}

impl Follow {
    /// Waits until the operation may have changed: its own progress event,
    /// or a resync. `false` when the subscription should end.
    async fn wait(&mut self) -> bool {
        loop {
            tokio::select! {
                delivery = self.bus.recv() => match delivery {
                    None => return false,
                    Some(Delivery::Resync) => return true,
                    Some(Delivery::Event(event)) => {
                        if Progress::from_event(&event).is_some_and(|p| p.id == self.id) {
                            return true;
                        }
                    }
                },
                item = self.hub.recv() => match item {
                    None | Some(Item::End) => return false,
                    Some(Item::Resync) => return true,
                    Some(_) => {}
                },
            }
        }
    }

    async fn next(mut self) -> Option<(async_graphql::Result<Operation>, Self)> {
        if self.done {
            return None;
        }
        let row = match self.first.take() {
            Some(row) => row,
            None => {
                if !self.wait().await {
                    return None;
                }
                match load(&self.db, &self.viewer, self.id).await {
                    Ok(Some(row)) => row,
                    // Gone (the account was deleted): nothing more to say.
                    Ok(None) => return None,
                    Err(err) => {
                        self.done = true;
                        return Some((Err(err.into()), self));
                    }
                }
            }
        };
        self.done = finished(&row);
        Some((Ok(Operation(row)), self))
    }
}

#[derive(Default)]
pub struct OperationsSubscription;

#[Subscription]
impl OperationsSubscription {
    /// The viewer's operation `id` now, then after every batch and status
    /// change; the stream completes once the operation has finished.
    async fn operation_progress(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<Operation>>> {
        let live = connection(ctx)?;
        let viewer = ctx.viewer()?.clone();
        let id = Id::parse(&id).ok_or_else(not_found)?;
        let services = ctx.services();
        // Listen before reading, so no batch falls between the two.
        let bus = services.events.subscribe(OPERATIONS);
        let first = load(&services.db, &viewer, id)
            .await?
            .ok_or_else(not_found)?;
        let (guard, hub) = services.live.subscribe(live.id, Interest::Operation(id))?;
        let follow = Follow {
            db: services.db.clone(),
            viewer,
            id,
            bus,
            hub,
            _guard: guard,
            first: Some(first),
            done: false,
        };
        Ok(futures_util::stream::unfold(follow, Follow::next).boxed())
    }
}
