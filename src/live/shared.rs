//! Execute once, send many. Subscribers whose document, operation name,
//! variables, user and scopes are the same form a group in the hub; for each
//! event the group's document is resolved once and serialised once, and each
//! member receives that payload in a frame carrying its own subscription id.
//!
//! A WebSocket subscribe is first run as a *join*: the resolver checks its
//! arguments as usual (project found, per-connection limit) and, instead of
//! returning a stream of its own, joins the group. For each event the hub
//! then runs the group's document once with a [`OneShot`] item, which the
//! resolver turns into a one-item stream.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::hub::{Interest, Item, SharedGuard};
use crate::auth::Viewer;

/// Resolves the group's document for one item into a serialised `payload`.
pub type Run = Arc<dyn Fn(Item) -> BoxFuture<'static, Arc<str>> + Send + Sync>;

/// How a group resolves an event.
#[derive(Clone)]
pub struct Template {
    /// Who may share it: the user, scopes, document, operation and variables.
    pub key: Arc<str>,
    pub run: Run,
}

/// The key of a group: nobody shares another user's (or another scope's)
/// result, nor a different selection or different variables.
pub fn group_key(
    viewer: &Viewer,
    document: &str,
    operation: Option<&str>,
    variables: &str,
) -> String {
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{variables}\u{0}{document}",
        viewer.user_id, viewer.scopes, operation
    )
}

/// Request data of a subscribe run as a join: the resolver joins the group
/// and leaves its guard here.
pub struct Join {
    pub template: Template,
    /// The frame up to the payload: `{"type":"next","id":"…","payload":`.
    pub head: Arc<str>,
    /// The subscription id, as the client sent it.
    pub id: Arc<str>,
    pub joined: Mutex<Option<SharedGuard>>,
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

/// Request data of a group's run for one event.
pub struct OneShot(pub Item);

/// What a join asks the hub for.
pub(super) struct JoinRequest<'a> {
    pub interest: Interest,
    pub join: &'a Join,
}

/// A member's frame for a payload.
pub fn frame(head: &str, payload: &str) -> String {
    let mut frame = String::with_capacity(head.len() + payload.len() + 1);
    frame.push_str(head);
    frame.push_str(payload);
    frame.push('}');
    frame
}
