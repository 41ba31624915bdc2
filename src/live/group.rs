//! Execute once, send many: what a group of subscriptions shares. Members
//! whose document, operation name, variables, user and scopes are the same
//! form a group in the hub; for each event the group's document is
//! resolved once and serialised once, and each member receives that
//! payload in a frame carrying its own subscription id.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::item::Item;
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

/// A member's frame for a payload.
pub fn frame(head: &str, payload: &str) -> String {
    let mut frame = String::with_capacity(head.len() + payload.len() + 1);
    frame.push_str(head);
    frame.push_str(payload);
    frame.push('}');
    frame
}
