//! Who subscribes on this instance: the open connections, and every
//! subscription as a member of a group, by owner. A group is what one
//! event is turned into once: a document resolved and serialised once for
//! all its members (shared subscriptions), or the item itself for
//! subscriptions that run a stream of their own (`operationProgress`).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::closer::Closer;
use super::group::Run;
use super::item::{Interest, Item};
use super::lanes::Lane;
use super::outlet::Outlet;
use crate::auth::Viewer;
use crate::db::types::Id;

pub(super) struct Connection {
    pub viewer: Viewer,
    pub subscriptions: usize,
    pub closer: Closer,
    pub outlet: Option<Outlet>,
}

/// How a group turns an event into what its members receive.
#[derive(Clone)]
pub(super) enum Render {
    /// Its document, resolved and serialised once.
    Document(Run),
    /// The item itself.
    Items,
}

/// What a group's members receive for one event.
pub(super) enum Rendered {
    Payload(Arc<str>),
    Item(Item),
}

/// Where a member's deliveries go (a group's members all have the kind its
/// [`Render`] makes).
pub(super) enum Sink {
    /// Frames into its connection's outlet: the frame up to the payload,
    /// and the subscription id as the client sent it.
    Frames {
        head: Arc<str>,
        id: Arc<str>,
    },
    Items(mpsc::Sender<Item>),
}

pub(super) struct Member {
    pub connection: u64,
    pub viewer: Viewer,
    pub sink: Sink,
}

pub(super) struct Group {
    pub interest: Interest,
    pub render: Render,
    pub members: HashMap<u64, Member>,
}

#[derive(Default)]
pub(super) struct State {
    /// By owner, then by group key.
    pub groups: HashMap<Id, HashMap<Arc<str>, Group>>,
    pub connections: HashMap<u64, Connection>,
    /// Open connections per user.
    pub per_user: HashMap<Id, usize>,
    /// Delivery lanes of users with subscriptions here.
    pub lanes: HashMap<Id, Lane>,
}

impl State {
    /// Asks connection `id` to close (no-op if gone or already closing).
    pub fn close(&self, id: u64, close: super::closer::Close) {
        if let Some(connection) = self.connections.get(&id) {
            connection.closer.close(close);
        }
    }

    /// The outlet of connection `id`, if it has one.
    pub fn outlet(&self, id: u64) -> Option<&Outlet> {
        self.connections.get(&id)?.outlet.as_ref()
    }

    /// Groups of `owner` that resolve a document (the ones its limit counts).
    pub fn documents(&self, owner: Id) -> impl Iterator<Item = &Arc<str>> {
        self.groups.get(&owner).into_iter().flat_map(|groups| {
            groups
                .iter()
                .filter(|(_, g)| matches!(g.render, Render::Document(_)))
                .map(|(key, _)| key)
        })
    }

    /// Removes the members `leaves` picks from `owner`'s groups, and the
    /// groups (and then the lane) left empty.
    pub fn remove_members(
        &mut self,
        owner: Id,
        mut leaves: impl FnMut(&str, u64, &Member) -> bool,
    ) {
        if let Some(groups) = self.groups.get_mut(&owner) {
            groups.retain(|key, group| {
                group.members.retain(|id, member| !leaves(key, *id, member));
                !group.members.is_empty()
            });
            if groups.is_empty() {
                self.groups.remove(&owner);
                // A user without subscriptions here needs no lane.
                self.lanes.remove(&owner);
            }
        }
    }

    /// Removes `owner`'s group `key`.
    pub fn remove_group(&mut self, owner: Id, key: &str) -> Option<Group> {
        let groups = self.groups.get_mut(&owner)?;
        let group = groups.remove(key);
        if groups.is_empty() {
            self.groups.remove(&owner);
            self.lanes.remove(&owner);
        }
        group
    }
}
