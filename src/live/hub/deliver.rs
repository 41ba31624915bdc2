//! The one delivery path. For each piece of a user's work (an event or a
//! resync), in the lane's order:
//!
//! 0. a change event is decoded (once per instance: its row is then shared);
//! 1. each of the user's groups says whether it wants it; a group whose
//!    project was deleted ends, and its members are told so;
//! 2. each group that wants it renders it once (its document resolved and
//!    serialised once, or the item itself, its row shared);
//! 3. each member gets it, after the one check of its credential at
//!    delivery; a revoked one closes its connection (4403), a full queue
//!    closes it as a slow consumer (1008).

use std::sync::Arc;

use super::super::group::frame;
use super::super::item::{Announced, Item, Want, Work};
use super::super::outlet::{Shared, TooSlow};
use super::super::registry::{Member, Render, Rendered, Sink, State};
use super::{Close, Hub, credential_revoked};
use crate::auth::Viewer;
use crate::db::types::Id;
use crate::events::changes::Change;

impl Hub {
    /// Delivers `work` to `owner`'s subscriptions: a change only while
    /// `owner` is a member of its project (checked now, at delivery).
    pub(super) async fn deliver(&self, owner: Id, work: Work) {
        let event = match work {
            Work::Resync => Announced::resync(),
            Work::Lost(project) => Announced::lost(project),
            Work::Event(event) => match Change::from_event(&event) {
                Some(change) if self.inner.roster.is_member(change.project_id, owner) => {
                    Announced::of(change)
                }
                Some(_) => return,
                None => {
                    tracing::warn!("ignored a malformed change event");
                    return;
                }
            },
        };
        for (key, render) in self.wanting(owner, &event) {
            let rendered = match render {
                Render::Document(run) => Rendered::Payload(run(event.item.clone()).await),
                Render::Items => Rendered::Item(event.item.clone()),
            };
            self.hand_out(owner, &key, &rendered);
        }
    }

    /// The groups of `owner` that want `event`; the ones it ends are
    /// removed, their members told.
    fn wanting(&self, owner: Id, event: &Announced) -> Vec<(Arc<str>, Render)> {
        let mut state = self.lock();
        let Some(groups) = state.groups.get(&owner) else {
            return Vec::new();
        };
        let mut wanting = Vec::new();
        let mut ended = Vec::new();
        for (key, group) in groups {
            match group.interest.wants(event) {
                Want::Send => wanting.push((key.clone(), group.render.clone())),
                Want::End => ended.push(key.clone()),
                Want::Skip => {}
            }
        }
        for key in ended {
            let Some(group) = state.remove_group(owner, &key) else {
                continue;
            };
            for (id, member) in &group.members {
                if let Err(close) = end(&state, *id, member) {
                    state.close(member.connection, close);
                }
            }
        }
        wanting
    }

    /// Hands `rendered` to each current member of `owner`'s group `key`.
    fn hand_out(&self, owner: Id, key: &str, rendered: &Rendered) {
        let state = self.lock();
        let Some(group) = state.groups.get(&owner).and_then(|g| g.get(key)) else {
            return;
        };
        for (id, member) in &group.members {
            let sent = self
                .admit(owner, &member.viewer)
                .and_then(|admitted| match admitted {
                    true => send(&state, *id, member, rendered),
                    false => Ok(()),
                });
            if let Err(close) = sent {
                state.close(member.connection, close);
            }
        }
    }

    /// May `viewer` receive `owner`'s events now? Checked at delivery: the
    /// credential may have been revoked since it subscribed.
    fn admit(&self, owner: Id, viewer: &Viewer) -> Result<bool, Close> {
        let auth = &self.inner.auth;
        if credential_revoked(viewer, |id| auth.is_revoked(id)) {
            return Err(Close::revoked());
        }
        Ok(viewer.user_id == owner)
    }
}

/// Sends `rendered` to member `id`.
fn send(state: &State, id: u64, member: &Member, rendered: &Rendered) -> Result<(), Close> {
    let sent = match (&member.sink, rendered) {
        (Sink::Frames { head, id: client }, Rendered::Payload(payload)) => {
            let text = frame(head, payload);
            match state.outlet(member.connection) {
                Some(outlet) => outlet.send(Shared::Frame(id, client.clone(), text)),
                None => Ok(()),
            }
        }
        (Sink::Items(sender), Rendered::Item(item)) => items(sender, item.clone()),
        // A group renders what its members take.
        _ => Ok(()),
    };
    sent.map_err(|TooSlow| Close::slow_consumer())
}

/// Tells member `id` that its subscription ended.
fn end(state: &State, id: u64, member: &Member) -> Result<(), Close> {
    let sent = match &member.sink {
        Sink::Frames { id: client, .. } => match state.outlet(member.connection) {
            Some(outlet) => outlet.send(Shared::Ended(id, client.clone())),
            None => Ok(()),
        },
        // The stream ends when its sender is gone (with the group); say so first.
        Sink::Items(sender) => items(sender, Item::End),
    };
    sent.map_err(|TooSlow| Close::slow_consumer())
}

fn items(sender: &tokio::sync::mpsc::Sender<Item>, item: Item) -> Result<(), TooSlow> {
    match sender.try_send(item) {
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Err(TooSlow),
        _ => Ok(()),
    }
}
