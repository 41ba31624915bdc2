//! Instant revocation without a database query per request: every instance
//! keeps the ids of recently revoked sessions (refresh-token families), API
//! keys and deleted users in memory, and the [`Authenticator`](super::Authenticator)
//! refuses a credential whose id is in the set.
//!
//! - An id stays for [`Revocations::keep`]: longer than any access token
//!   issued before the revocation lives (and than an API key stays cached).
//! - At start, and whenever the event bus may have missed events, the set is
//!   loaded from the database: sessions and keys revoked within that span.
//! - A revocation is staged on the bus in the transaction that writes it
//!   ([`Revoked::add`]), so every instance hears of it (PostgreSQL NOTIFY, or
//!   in process on SQLite); the writing instance also applies it at once.
//!
//! Deleted accounts are carried by the bus too, but not reloaded after a
//! restart (their rows are gone); their tokens then find no data anyway.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{api_keys, sessions};
use crate::db::types::{Id, Timestamp};
use crate::db::{Conn, Db};
use crate::error::{AppError, AppResult};
use crate::events::{self, Delivery, Event, EventBus, Outbox};

/// The bus topic.
pub const TOPIC: &str = "auth.revoked";
/// Ids per event, so that an event stays well below the size limit.
const IDS_PER_EVENT: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    ids: Vec<Id>,
}

/// The ids an event on [`TOPIC`] revokes (`None` for anything else).
pub fn revoked_ids(event: &Event) -> Option<Vec<Id>> {
    if event.topic != TOPIC {
        return None;
    }
    serde_json::from_value::<Notice>(event.payload.clone())
        .ok()
        .map(|notice| notice.ids)
}

/// Revocations written in one transaction: staged on the bus, and applied
/// here by [`Revocations::apply`] after the commit.
#[derive(Debug, Default)]
#[must_use = "apply after the commit"]
pub struct Revoked {
    ids: Vec<Id>,
    outbox: Outbox,
}

impl Revoked {
    /// Stages the revocation of `ids` in the current transaction.
    pub async fn add(&mut self, conn: &mut Conn<'_>, ids: Vec<Id>) -> AppResult<()> {
        for chunk in ids.chunks(IDS_PER_EVENT) {
            let event = Event::new(
                TOPIC,
                json!(Notice {
                    ids: chunk.to_vec()
                }),
            )?;
            events::stage(conn, &mut self.outbox, event).await?;
        }
        self.ids.extend(ids);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Ends every session and every API key of `user_id` and stages their
/// revocation in `revoked` (a password reset; the first proof of the
/// account's address, which voids what was made before anyone had proven
/// to own it). Run inside the transaction that calls for it.
pub async fn end_every_credential(
    conn: &mut Conn<'_>,
    user_id: Id,
    revoked: &mut Revoked,
) -> AppResult<()> {
    let families = sessions::end_all(conn, user_id, None).await?;
    let keys = api_keys::store::revoke_all(conn, user_id, Timestamp::now()).await?;
    revoked.add(conn, [families, keys].concat()).await
}

/// The in-memory set.
pub struct Revocations {
    entries: RwLock<HashMap<Id, Instant>>,
    keep: Duration,
}

impl Revocations {
    pub fn new(keep: Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            keep,
        }
    }

    /// How long an id is kept.
    pub fn keep(&self) -> Duration {
        self.keep
    }

    pub fn contains(&self, id: Id) -> bool {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&id)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Adds `ids`, each kept until `until` (or longer, if already there).
    fn insert_until(&self, ids: impl IntoIterator<Item = (Id, Instant)>) {
        let now = Instant::now();
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        for (id, until) in ids {
            let slot = entries.entry(id).or_insert(until);
            *slot = (*slot).max(until);
        }
        entries.retain(|_, until| *until > now);
    }

    pub fn insert(&self, ids: impl IntoIterator<Item = Id>) {
        let until = Instant::now() + self.keep;
        self.insert_until(ids.into_iter().map(|id| (id, until)));
    }

    /// Applies revocations just committed here, and sends them to the bus's
    /// local subscribers (SQLite).
    pub fn apply(&self, bus: &EventBus, revoked: Revoked) {
        self.insert(revoked.ids);
        bus.flush(revoked.outbox);
    }

    /// Loads what was revoked within [`Self::keep`].
    pub async fn reload(&self, db: &Db) -> AppResult<()> {
        let now = Timestamp::now();
        let since =
            now + -chrono::Duration::from_std(self.keep).unwrap_or(chrono::Duration::zero());
        let mut found = {
            let mut pooled = db.read().await?;
            let mut conn = pooled.conn();
            let mut found = sessions::revoked_since(&mut conn, since).await?;
            found.extend(api_keys::store::revoked_since(&mut conn, since).await?);
            found
        };
        let instant_now = Instant::now();
        let until = |at: Timestamp| {
            let age = (now.get() - at.get()).to_std().unwrap_or(Duration::ZERO);
            instant_now + self.keep.saturating_sub(age)
        };
        self.insert_until(found.drain(..).map(|(id, at)| (id, until(at))));
        Ok(())
    }

    /// Follows the bus: adds what other instances revoke, reloads after a
    /// possible gap. `on_resync` runs after each reload (to drop caches).
    pub fn follow(
        self: &Arc<Self>,
        bus: &EventBus,
        db: Db,
        on_resync: impl Fn() + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let mut subscription = bus.subscribe(TOPIC);
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(delivery) = subscription.recv().await {
                match delivery {
                    Delivery::Event(event) => {
                        match serde_json::from_value::<Notice>(event.payload.clone()) {
                            Ok(notice) => this.insert(notice.ids),
                            Err(err) => tracing::warn!(error = %err, "malformed revocation"),
                        }
                    }
                    Delivery::Resync => {
                        on_resync();
                        if let Err(err) = this.reload(&db).await {
                            let AppError::Internal(detail) = err else {
                                continue;
                            };
                            tracing::error!(error = %detail, "cannot reload revocations");
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_for_the_configured_span() {
        let set = Revocations::new(Duration::from_secs(60));
        let (a, b) = (Id::new(), Id::new());
        set.insert([a]);
        assert!(set.contains(a));
        assert!(!set.contains(b));
        set.insert_until([(b, Instant::now())]);
        assert!(!set.contains(b), "an expired entry no longer counts");
        // A longer keep wins over a shorter one.
        set.insert_until([(a, Instant::now())]);
        assert!(set.contains(a));
    }
}
