//! The instance's one follower of the bus for subscriptions. Every change
//! event carries the row its change wrote, so the hub loads no rows: it
//! hands each event to the lane of every member of its project (the
//! [`Roster`](super::roster) knows them), which decodes it once and
//! delivers it along one path ([`deliver`]) to each subscription allowed
//! to see it at that moment. It also keeps the open WebSocket connections,
//! so that a revoked credential or a slow consumer closes its connection
//! and nothing else.
//!
//! Every subscription is a member of a group (see [`super::registry`]): a
//! shared one, whose document is resolved once per event for all its
//! members, or one whose members receive the items themselves.

mod deliver;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::mpsc;

use super::group::Template;
use super::lanes::{Host, Lane};
use super::registry::{Connection, Group, Member, Render, Sink, State};
use super::roster::Roster;
use crate::auth::Authenticator;
use crate::auth::Viewer;
use crate::auth::revocation::{self, revoked_ids};
use crate::db::Db;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::events::changes::{CHANGES, Change};
use crate::events::{Delivery, Event, EventBus};

pub use super::closer::{Close, Closer, close};
pub use super::item::{Interest, Item, Work};
pub use super::outlet::{CONNECTION_QUEUE, Outlet, SUBSCRIPTION_QUEUE, Shared};

/// Limits the hub enforces.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    pub subscriptions_per_connection: usize,
    pub connections_per_user: usize,
    pub buffer: usize,
    /// Distinct groups of one user (`TASKLANE_WS_MAX_GROUPS_PER_USER`).
    pub groups_per_user: usize,
    /// Events waiting in one user's lane (`TASKLANE_LIVE_QUEUE`).
    pub queue: usize,
}

struct Inner {
    state: Mutex<State>,
    db: Db,
    roster: Roster,
    next_id: AtomicU64,
    limits: HubLimits,
    auth: Arc<Authenticator>,
    connections_open: Gauge,
    subscriptions_active: Gauge,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// What each user's lane (`lanes.rs`) calls back for.
impl Host for Inner {
    async fn deliver(self: Arc<Self>, owner: Id, work: Work) {
        Hub { inner: self }.deliver(owner, work).await;
    }
}

/// A registered connection; dropping it unregisters it.
pub struct ConnectionGuard {
    hub: Hub,
    pub id: u64,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        let Some(connection) = state.connections.remove(&self.id) else {
            return;
        };
        let user = connection.viewer.user_id;
        if let Some(open) = state.per_user.get_mut(&user) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                state.per_user.remove(&user);
            }
        }
        // Its subscriptions normally went first; none may stay behind.
        state.remove_members(user, |_, _, member| member.connection == self.id);
    }
}

/// A subscription registered with the hub; dropping it unregisters it.
pub struct Membership {
    hub: Hub,
    owner: Id,
    key: Arc<str>,
    id: u64,
    connection: u64,
}

/// A shared subscription (its frames go to the connection's outlet).
pub type SharedGuard = Membership;
/// A subscription that receives items on a channel of its own.
pub type SubscriptionGuard = Membership;

impl Membership {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.inner.subscriptions_active.dec();
        let mut state = self.hub.lock();
        let left = state
            .groups
            .get_mut(&self.owner)
            .and_then(|groups| groups.get_mut(&self.key))
            .map(|group| {
                group.members.remove(&self.id);
                group.members.is_empty()
            });
        if left == Some(true) {
            state.remove_group(self.owner, &self.key);
        }
        if let Some(connection) = state.connections.get_mut(&self.connection) {
            connection.subscriptions = connection.subscriptions.saturating_sub(1);
        }
    }
}

/// Counts one open WebSocket while alive.
pub struct OpenSocket(Gauge);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Is any of `viewer`'s user, session or API key revoked?
fn credential_revoked(viewer: &Viewer, revoked: impl Fn(Id) -> bool) -> bool {
    revoked(viewer.user_id)
        || viewer.session_id.is_some_and(&revoked)
        || viewer.api_key_id.is_some_and(&revoked)
}

impl Hub {
    /// Starts following the bus. (`db` is read only for the members of a
    /// project the roster does not know yet.)
    pub fn start(db: Db, bus: &EventBus, auth: Arc<Authenticator>, limits: HubLimits) -> Self {
        let hub = Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                db,
                roster: Roster::default(),
                next_id: AtomicU64::new(1),
                limits,
                auth,
                connections_open: Gauge::default(),
                subscriptions_active: Gauge::default(),
            }),
        };
        let mut changes = bus.subscribe(CHANGES);
        let mut revocations = bus.subscribe(revocation::TOPIC);
        // The tasks hold the hub weakly, so it ends with the app.
        let weak = Arc::downgrade(&hub.inner);
        // The dispatcher: each change goes to its project's members' lanes.
        tokio::spawn(async move {
            while let Some(delivery) = changes.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                let hub = Hub { inner };
                match delivery {
                    Delivery::Event(event) => hub.route(event).await,
                    Delivery::Resync => {
                        // Membership events may be among the missed ones.
                        hub.inner.roster.clear();
                        hub.dispatch_resync();
                    }
                }
            }
        });
        let weak = Arc::downgrade(&hub.inner);
        tokio::spawn(async move {
            while let Some(delivery) = revocations.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                let hub = Hub { inner };
                match delivery {
                    Delivery::Event(event) => {
                        if let Some(ids) = revoked_ids(&event) {
                            hub.close_revoked(|id| ids.contains(&id));
                        }
                    }
                    // The authenticator reloads its set; check against it.
                    Delivery::Resync => hub.close_revoked(|id| hub.inner.auth.is_revoked(id)),
                }
            }
        });
        hub
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limits(&self) -> HubLimits {
        self.inner.limits
    }

    /// Gauges: open WebSocket connections, active subscriptions.
    pub fn gauges(&self) -> (Gauge, Gauge) {
        (
            self.inner.connections_open.clone(),
            self.inner.subscriptions_active.clone(),
        )
    }

    /// Counts an open socket (authenticated or not) until the guard drops.
    pub fn socket_opened(&self) -> OpenSocket {
        self.inner.connections_open.inc();
        OpenSocket(self.inner.connections_open.clone())
    }

    /// Registers an authenticated connection; `closer` is how the hub asks
    /// it to close. Refused past the per-user limit.
    pub fn connect(
        &self,
        viewer: &Viewer,
        closer: Closer,
        outlet: Option<Outlet>,
    ) -> Result<ConnectionGuard, Close> {
        let limit = self.inner.limits.connections_per_user;
        let mut state = self.lock();
        let open = state.per_user.get(&viewer.user_id).copied().unwrap_or(0);
        if open >= limit {
            return Err(Close::new(
                close::TOO_MANY,
                format!("Too many connections: this user already has {open}, the limit"),
            ));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        *state.per_user.entry(viewer.user_id).or_default() += 1;
        state.connections.insert(
            id,
            Connection {
                viewer: viewer.clone(),
                subscriptions: 0,
                closer,
                outlet,
            },
        );
        Ok(ConnectionGuard {
            hub: self.clone(),
            id,
        })
    }

    /// Adds a subscription of `connection`'s viewer that receives the items
    /// on a channel of its own.
    pub fn subscribe(
        &self,
        connection: u64,
        interest: Interest,
    ) -> AppResult<(SubscriptionGuard, mpsc::Receiver<Item>)> {
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_QUEUE);
        // Such subscriptions of one interest share a group, apart from
        // every document's (whose key starts with the user id).
        let key = format!("\u{1}{interest:?}").into();
        let guard = self.add(
            connection,
            interest,
            key,
            Render::Items,
            Sink::Items(sender),
        )?;
        Ok((guard, receiver))
    }

    /// Adds a shared subscription of `connection`'s viewer to the group of
    /// `template`: `head` is its frame up to the payload, `id` the
    /// subscription id as the client sent it.
    pub fn join(
        &self,
        connection: u64,
        interest: Interest,
        template: &Template,
        head: Arc<str>,
        id: Arc<str>,
    ) -> AppResult<SharedGuard> {
        let render = Render::Document(template.run.clone());
        let sink = Sink::Frames { head, id };
        self.add(connection, interest, template.key.clone(), render, sink)
    }

    /// Adds a member to group `key` of the connection's user, made if need
    /// be. Refused past the limits: groups per user (a new group of
    /// documents), subscriptions per connection.
    fn add(
        &self,
        connection: u64,
        interest: Interest,
        key: Arc<str>,
        render: Render,
        sink: Sink,
    ) -> AppResult<Membership> {
        let mut state = self.lock();
        let limits = self.inner.limits;
        let conn = state
            .connections
            .get(&connection)
            .ok_or_else(|| AppError::unauthenticated("The connection is closed"))?;
        let owner = conn.viewer.user_id;
        if let Render::Document(_) = render {
            let mut groups = state.documents(owner);
            let count = groups.by_ref().count();
            let existing = state.documents(owner).any(|k| *k == key);
            if count >= limits.groups_per_user && !existing {
                return Err(too_many_groups(limits.groups_per_user));
            }
            if conn.outlet.is_none() {
                return Err(AppError::internal(
                    "a shared subscription without an outlet",
                ));
            }
        }
        if conn.subscriptions >= limits.subscriptions_per_connection {
            return Err(AppError::bad_input(
                "subscription",
                format!(
                    "this connection already has {} subscriptions, the limit per connection",
                    limits.subscriptions_per_connection
                ),
            ));
        }
        let viewer = conn.viewer.clone();
        if let Some(conn) = state.connections.get_mut(&connection) {
            conn.subscriptions += 1;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let group = state
            .groups
            .entry(owner)
            .or_default()
            .entry(key.clone())
            .or_insert_with(|| Group {
                interest,
                render,
                members: HashMap::new(),
            });
        let member = Member {
            connection,
            viewer,
            sink,
        };
        group.members.insert(id, member);
        self.inner.subscriptions_active.inc();
        Ok(Membership {
            hub: self.clone(),
            owner,
            key,
            id,
            connection,
        })
    }

    /// Closes every connection whose user, session or API key is revoked.
    fn close_revoked(&self, revoked: impl Fn(Id) -> bool) {
        let state = self.lock();
        for connection in state.connections.values() {
            if credential_revoked(&connection.viewer, &revoked) {
                connection.closer.close(Close::revoked());
            }
        }
    }

    /// Hands `work` to `owner`'s lane, started if need be.
    fn push(&self, state: &mut State, owner: Id, work: Work) {
        let start = || Lane::start(Arc::downgrade(&self.inner), owner, self.inner.limits.queue);
        let lane = state.lanes.entry(owner).or_insert_with(start);
        if let Err(work) = lane.push(work) {
            let lane = start();
            let _ = lane.push(work);
            state.lanes.insert(owner, lane);
        }
    }

    /// Hands a change event to the lane of each member of its project who
    /// subscribes here; a membership change first updates the roster (and
    /// tells a removed member's lane that the project is lost).
    async fn route(&self, event: Arc<Event>) {
        let Some(project) = Change::project_of(&event) else {
            tracing::warn!("ignored a malformed change event");
            return;
        };
        if self.lock().groups.is_empty() {
            return;
        }
        let members = match self.inner.roster.members(&self.inner.db, project).await {
            Ok(members) => members,
            Err(err) => {
                // Nobody can be told what they may see: all reload.
                tracing::warn!(error = ?err, "could not read a project's members");
                self.dispatch_resync();
                return;
            }
        };
        let mut lost = None;
        if Change::is_membership(&event)
            && let Some(change) = Change::from_event(&event)
        {
            lost = self.inner.roster.apply(&change);
        }
        // (A removed member is in `members`, read before the removal; the
        // check at delivery passes it by.)
        for user in members.keys() {
            self.dispatch(*user, Work::Event(event.clone()));
        }
        if let Some(user) = lost {
            self.dispatch(user, Work::Lost(project));
        }
    }

    /// Hands `work` to `user`'s lane, if the user subscribes here.
    fn dispatch(&self, user: Id, work: Work) {
        let mut state = self.lock();
        if state.groups.contains_key(&user) {
            self.push(&mut state, user, work);
        }
    }

    /// Every user with subscriptions here hears that events may have been
    /// missed, in order with its events.
    fn dispatch_resync(&self) {
        let mut state = self.lock();
        let owners: Vec<Id> = state.groups.keys().copied().collect();
        for owner in owners {
            self.push(&mut state, owner, Work::Resync);
        }
    }
}

fn too_many_groups(limit: usize) -> AppError {
    AppError::bad_input(
        "subscription",
        format!(
            "this user already has {limit} distinct subscriptions (different documents, \
             operations or variables) on this server, the limit per user; \
             subscriptions with the same document and variables share one"
        ),
    )
}
