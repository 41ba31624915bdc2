//! How a subscription resolver runs: the [`SubscriptionMode`] its request
//! carries. A WebSocket subscribe is first run as a *join* ([`Join`]): the
//! resolver checks its arguments as always and, instead of returning a
//! stream of its own, joins its group in the hub. For each event the hub
//! then runs the group's document once in [`SubscriptionMode::Event`],
//! which the resolver (its arguments checked again) turns into a one-item
//! stream. Without a mode, a resolver returns a stream of its own.

use std::sync::{Arc, Mutex};

use super::hub::SharedGuard;
use super::item::Item;

pub use super::group::{Run, Template, frame, group_key};

/// Request data: how a subscription resolver runs (absent: [`Self::Own`]).
pub enum SubscriptionMode {
    /// A stream of its own, fed by the hub.
    Own,
    /// Join the group of the request's document; the guard is left in the
    /// [`Join`] and the resolver's stream ends at once.
    Join(Arc<Join>),
    /// A group's run for one event: that item (or the resync error).
    Event(Item),
}

/// A subscribe run as a join: the group it joins, and the guard it leaves.
pub struct Join {
    pub template: Template,
    /// The frame up to the payload: `{"type":"next","id":"…","payload":`.
    pub head: Arc<str>,
    /// The subscription id, as the client sent it.
    pub id: Arc<str>,
    joined: Mutex<Option<SharedGuard>>,
}

impl Join {
    pub fn new(template: Template, id: &str, data_type: &str) -> Self {
        Self {
            template,
            head: Self::head(id, data_type),
            id: id.into(),
            joined: Mutex::new(None),
        }
    }

    /// The frame up to the payload, for subscription `id`.
    pub fn head(id: &str, data_type: &str) -> Arc<str> {
        let quoted = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
        format!(r#"{{"type":"{data_type}","id":{quoted},"payload":"#).into()
    }

    pub fn take(&self) -> Option<SharedGuard> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub(super) fn put(&self, guard: SharedGuard) {
        *self.joined.lock().unwrap_or_else(|p| p.into_inner()) = Some(guard);
    }
}
