//! The instance's one follower of the bus for subscriptions: it hears every
//! change once, loads the changed object once (through the viewer of a
//! subscriber who owns it), and hands it to each subscriber allowed to see
//! it. It also keeps the open WebSocket connections, so that a revoked
//! credential or a slow consumer closes its connection and nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::ws::Message;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{Semaphore, mpsc};

use super::lanes::{Host, Lane, Work};
use super::shared::{JoinRequest, Run, Template, frame};

use crate::auth::Authenticator;
use crate::auth::Viewer;
use crate::auth::revocation::{self, revoked_ids};
use crate::db::Db;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::events::changes::{CHANGES, Change, ChangeType, Entity};
use crate::events::{Delivery, EventBus};
use crate::projects::model::ProjectRow;
use crate::projects::store as project_store;
use crate::tasks::model::TaskRow;
use crate::tasks::store as task_store;

/// Items waiting for one subscription before its connection counts as too
/// slow. The connection's loop takes them at once (its socket has its own
/// queue, `TASKLANE_WS_BUFFER`), so this fills only when the loop is starved.
const SUBSCRIPTION_QUEUE: usize = 1024;

/// Why the server closes a connection: a WebSocket close code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: String,
}

impl Close {
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// How the hub asks a connection to close; the first request wins. (A
/// mutex and a `Notify`: a few dozen bytes per connection, where a channel
/// allocates a block of slots.)
#[derive(Clone, Default)]
pub struct Closer(Arc<(Mutex<Option<Close>>, tokio::sync::Notify)>);

impl Closer {
    /// Asks for `close`, unless a close is already asked for.
    pub fn close(&self, close: Close) {
        let mut asked = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        if asked.is_none() {
            *asked = Some(close);
            drop(asked);
            self.0.1.notify_one();
        }
    }

    /// The close asked for, once there is one.
    pub async fn asked(&self) -> Close {
        loop {
            if let Some(close) = self
                .0
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return close;
            }
            self.0.1.notified().await;
        }
    }
}

/// Close codes (graphql-transport-ws where it defines one).
pub mod close {
    pub const INVALID_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    /// Too many connections of this user (or too many init messages).
    pub const TOO_MANY: u16 = 4429;
    /// The client read too slowly and its buffer overflowed.
    pub const SLOW_CONSUMER: u16 = 1008;
    /// The client stopped answering keep-alive pings.
    pub const PING_TIMEOUT: u16 = 1001;
}

/// What a subscription receives.
#[derive(Debug, Clone)]
pub enum Item {
    Task(ChangeType, Arc<TaskRow>),
    Project(ChangeType, Arc<ProjectRow>),
    /// Events may have been missed (the bus listener reconnected).
    Resync,
    /// Its project was deleted: the subscription ends.
    End,
}

/// What a subscription wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Tasks of one project, or of every visible project.
    Tasks(Option<Id>),
    Projects,
    /// One operation's progress (delivered from the bus by the subscription
    /// itself; the hub counts it and tells it to resync).
    Operation(Id),
}

struct Subscriber {
    connection: u64,
    viewer: Viewer,
    interest: Interest,
    sender: mpsc::Sender<Item>,
}

struct Connection {
    viewer: Viewer,
    subscriptions: usize,
    closer: Closer,
    outlet: Option<Outlet>,
}

/// Where shared subscriptions of a connection are delivered, in order:
/// straight into its socket queue while that has room and nothing waits
/// before it; else into one bounded queue per connection (not per
/// subscription), which the connection's loop moves into its socket queue,
/// giving a slow reader its grace.
#[derive(Clone)]
pub struct Outlet {
    pub direct: mpsc::Sender<Message>,
    pub queue: mpsc::Sender<Shared>,
    /// Items in `queue`, or taken from it and not yet in the socket queue.
    pub pending: Arc<AtomicUsize>,
}

impl Outlet {
    /// `Err` when the connection is too slow.
    fn send(&self, item: Shared) -> Result<(), ()> {
        let item = match item {
            Shared::Frame(sub, id, text) if self.pending.load(Ordering::Acquire) == 0 => {
                match self.direct.try_send(Message::Text(text.into())) {
                    Ok(()) => return Ok(()),
                    Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                    Err(mpsc::error::TrySendError::Full(message)) => {
                        let text = match message {
                            Message::Text(text) => text.to_string(),
                            _ => return Ok(()),
                        };
                        Shared::Frame(sub, id, text)
                    }
                }
            }
            item => item,
        };
        self.pending.fetch_add(1, Ordering::AcqRel);
        match self.queue.try_send(item) {
            Ok(()) => Ok(()),
            Err(error) => {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                match error {
                    mpsc::error::TrySendError::Full(_) => Err(()),
                    mpsc::error::TrySendError::Closed(_) => Ok(()),
                }
            }
        }
    }
}

/// What a connection receives for its shared subscriptions.
#[derive(Debug)]
pub enum Shared {
    /// A whole `next` (or `data`) frame of subscription (hub id, client id).
    Frame(u64, Arc<str>, String),
    /// Subscription (hub id, client id) ended: its project was deleted.
    Ended(u64, Arc<str>),
}

/// Frames waiting for one connection before it counts as too slow.
pub const CONNECTION_QUEUE: usize = SUBSCRIPTION_QUEUE;

/// Subscribers that share one execution per event.
struct Group {
    interest: Interest,
    run: Run,
    members: HashMap<u64, Member>,
}

struct Member {
    connection: u64,
    viewer: Viewer,
    head: Arc<str>,
    id: Arc<str>,
}

#[derive(Default)]
struct State {
    /// By owner, then by subscription id.
    subscribers: HashMap<Id, HashMap<u64, Subscriber>>,
    /// Shared subscriptions: by owner, then by group key.
    groups: HashMap<Id, HashMap<Arc<str>, Group>>,
    connections: HashMap<u64, Connection>,
    /// Open connections per user.
    per_user: HashMap<Id, usize>,
    /// Delivery lanes of users with subscriptions here.
    lanes: HashMap<Id, Lane>,
}

impl State {
    /// A user without subscriptions here needs no lane.
    fn forget_idle(&mut self, user: Id) {
        if !self.subscribers.contains_key(&user) && !self.groups.contains_key(&user) {
            self.lanes.remove(&user);
        }
    }
}

/// Limits the hub enforces.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    pub subscriptions_per_connection: usize,
    pub connections_per_user: usize,
    pub buffer: usize,
    /// Distinct groups of one user (`TASKLANE_WS_MAX_GROUPS_PER_USER`).
    pub groups_per_user: usize,
    /// Loaded events waiting for delivery (`TASKLANE_LIVE_QUEUE`).
    pub queue: usize,
}

struct Inner {
    state: Mutex<State>,
    /// Permits for loaded events waiting for delivery.
    budget: Arc<Semaphore>,
    next_id: AtomicU64,
    limits: HubLimits,
    db: Db,
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
    type Item = Item;

    fn budget(&self) -> Arc<Semaphore> {
        self.budget.clone()
    }

    async fn load(self: Arc<Self>, change: &Change) -> Option<Item> {
        Hub { inner: self }.load_change(change).await
    }

    async fn deliver(self: Arc<Self>, change: Change, item: Item) {
        let hub = Hub { inner: self };
        hub.deliver(&change, &item);
        hub.deliver_shared(&change, item).await;
    }

    async fn resync(self: Arc<Self>, owner: Id) {
        let hub = Hub { inner: self };
        hub.resync(owner);
        hub.resync_shared(owner).await;
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
        if let Some(subs) = state.subscribers.get_mut(&user) {
            subs.retain(|_, s| s.connection != self.id);
            if subs.is_empty() {
                state.subscribers.remove(&user);
            }
        }
        if let Some(groups) = state.groups.get_mut(&user) {
            groups.retain(|_, g| {
                g.members.retain(|_, m| m.connection != self.id);
                !g.members.is_empty()
            });
            if groups.is_empty() {
                state.groups.remove(&user);
            }
        }
        state.forget_idle(user);
    }
}

/// A shared subscription; dropping it leaves its group.
pub struct SharedGuard {
    hub: Hub,
    owner: Id,
    key: Arc<str>,
    id: u64,
    connection: u64,
}

impl SharedGuard {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for SharedGuard {
    fn drop(&mut self) {
        self.hub.inner.subscriptions_active.dec();
        let mut state = self.hub.lock();
        if let Some(groups) = state.groups.get_mut(&self.owner) {
            if let Some(group) = groups.get_mut(&self.key) {
                group.members.remove(&self.id);
                if group.members.is_empty() {
                    groups.remove(&self.key);
                }
            }
            if groups.is_empty() {
                state.groups.remove(&self.owner);
            }
        }
        state.forget_idle(self.owner);
        if let Some(connection) = state.connections.get_mut(&self.connection) {
            connection.subscriptions = connection.subscriptions.saturating_sub(1);
        }
    }
}

/// A live subscription; dropping it unregisters it.
pub struct SubscriptionGuard {
    hub: Hub,
    owner: Id,
    id: u64,
    connection: u64,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.hub.inner.subscriptions_active.dec();
        let mut state = self.hub.lock();
        if let Some(subs) = state.subscribers.get_mut(&self.owner) {
            subs.remove(&self.id);
            if subs.is_empty() {
                state.subscribers.remove(&self.owner);
            }
        }
        state.forget_idle(self.owner);
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

impl Hub {
    /// Starts following the bus.
    pub fn start(db: Db, bus: &EventBus, auth: Arc<Authenticator>, limits: HubLimits) -> Self {
        let hub = Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                budget: Arc::new(Semaphore::new(limits.queue.max(1))),
                next_id: AtomicU64::new(1),
                limits,
                db,
                auth,
                connections_open: Gauge::default(),
                subscriptions_active: Gauge::default(),
            }),
        };
        let mut changes = bus.subscribe(CHANGES);
        let mut revocations = bus.subscribe(revocation::TOPIC);
        // The tasks hold the hub weakly, so it ends with the app.
        let weak = Arc::downgrade(&hub.inner);
        // The dispatcher: each change goes to its owner's lane at once.
        tokio::spawn(async move {
            while let Some(delivery) = changes.recv().await {
                let Some(inner) = weak.upgrade() else { break };
                let hub = Hub { inner };
                match delivery {
                    Delivery::Event(event) => match Change::from_event(&event) {
                        Some(change) => hub.dispatch(change),
                        None => tracing::warn!("ignored a malformed change event"),
                    },
                    Delivery::Resync => hub.dispatch_resync(),
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

    /// Counts one more subscription on `connection` (refused past the limit
    /// per connection; `shared` ones need the connection's outlet) and
    /// returns the connection's viewer.
    fn count_subscription(
        &self,
        state: &mut State,
        connection: u64,
        shared: bool,
    ) -> AppResult<Viewer> {
        let limit = self.inner.limits.subscriptions_per_connection;
        let conn = state
            .connections
            .get_mut(&connection)
            .ok_or_else(|| AppError::unauthenticated("The connection is closed"))?;
        if shared && conn.outlet.is_none() {
            return Err(AppError::internal(
                "a shared subscription without an outlet",
            ));
        }
        if conn.subscriptions >= limit {
            return Err(AppError::bad_input(
                "subscription",
                format!(
                    "this connection already has {limit} subscriptions, the limit per connection"
                ),
            ));
        }
        conn.subscriptions += 1;
        Ok(conn.viewer.clone())
    }

    /// Adds a subscription of `connection`'s viewer.
    pub fn subscribe(
        &self,
        connection: u64,
        interest: Interest,
    ) -> AppResult<(SubscriptionGuard, mpsc::Receiver<Item>)> {
        let mut state = self.lock();
        let viewer = self.count_subscription(&mut state, connection, false)?;
        let owner = viewer.user_id;
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_QUEUE);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        state.subscribers.entry(owner).or_default().insert(
            id,
            Subscriber {
                connection,
                viewer,
                interest,
                sender,
            },
        );
        self.inner.subscriptions_active.inc();
        let guard = SubscriptionGuard {
            hub: self.clone(),
            owner,
            id,
            connection,
        };
        Ok((guard, receiver))
    }

    /// A new group of `connection`'s user past the per-user limit is
    /// refused; joining one of its existing groups costs nothing more.
    fn check_groups(&self, state: &State, connection: u64, key: &str) -> AppResult<()> {
        let limit = self.inner.limits.groups_per_user;
        let Some(conn) = state.connections.get(&connection) else {
            return Ok(());
        };
        let Some(groups) = state.groups.get(&conn.viewer.user_id) else {
            return Ok(());
        };
        if groups.len() >= limit && !groups.contains_key(key) {
            return Err(AppError::bad_input(
                "subscription",
                format!(
                    "this user already has {limit} distinct subscriptions (different documents, \
                     operations or variables) on this server, the limit per user; \
                     subscriptions with the same document and variables share one"
                ),
            ));
        }
        Ok(())
    }

    /// Adds a shared subscription of `connection`'s viewer to its group.
    pub(super) fn join(&self, connection: u64, request: JoinRequest<'_>) -> AppResult<SharedGuard> {
        let mut state = self.lock();
        self.check_groups(&state, connection, &request.join.template.key)?;
        let viewer = self.count_subscription(&mut state, connection, true)?;
        let owner = viewer.user_id;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let Template { key, run } = request.join.template.clone();
        let group = state
            .groups
            .entry(owner)
            .or_default()
            .entry(key.clone())
            .or_insert_with(|| Group {
                interest: request.interest,
                run,
                members: HashMap::new(),
            });
        group.members.insert(
            id,
            Member {
                connection,
                viewer,
                head: request.join.head.clone(),
                id: request.join.id.clone(),
            },
        );
        self.inner.subscriptions_active.inc();
        Ok(SharedGuard {
            hub: self.clone(),
            owner,
            key,
            id,
            connection,
        })
    }

    /// Asks connection `id` to close (no-op if gone or already closing).
    fn close(&self, state: &State, id: u64, close: Close) {
        if let Some(connection) = state.connections.get(&id) {
            connection.closer.close(close);
        }
    }

    /// Closes every connection whose user, session or API key is revoked.
    fn close_revoked(&self, revoked: impl Fn(Id) -> bool) {
        let state = self.lock();
        for (id, connection) in &state.connections {
            let viewer = &connection.viewer;
            let gone = revoked(viewer.user_id)
                || viewer.session_id.is_some_and(&revoked)
                || viewer.api_key_id.is_some_and(&revoked);
            if gone {
                self.close(
                    &state,
                    *id,
                    Close::new(close::FORBIDDEN, "Credential revoked"),
                );
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

    /// A change goes to its owner's lane, if the owner subscribes here.
    fn dispatch(&self, change: Change) {
        let mut state = self.lock();
        let owner = change.owner_id;
        if !state.subscribers.contains_key(&owner) && !state.groups.contains_key(&owner) {
            return;
        }
        self.push(&mut state, owner, Work::Change(change));
    }

    /// Every user with subscriptions here hears that events may have been
    /// missed, in order with its events.
    fn dispatch_resync(&self) {
        let mut state = self.lock();
        let mut owners: Vec<Id> = state.subscribers.keys().copied().collect();
        owners.extend(state.groups.keys().copied());
        owners.sort_unstable();
        owners.dedup();
        for owner in owners {
            self.push(&mut state, owner, Work::Resync);
        }
    }

    /// The changed object through the viewer of a subscriber who owns it
    /// (`None` when nobody here does any more, or it is gone).
    async fn load_change(&self, change: &Change) -> Option<Item> {
        let viewer = {
            let state = self.lock();
            let plain = state
                .subscribers
                .get(&change.owner_id)
                .and_then(|subs| subs.values().next().map(|s| s.viewer.clone()));
            plain.or_else(|| {
                let groups = state.groups.get(&change.owner_id)?;
                let member = groups.values().flat_map(|g| g.members.values()).next()?;
                Some(member.viewer.clone())
            })
        }?;
        match self.load(&viewer, change).await {
            Ok(item) => item,
            Err(err) => {
                if let AppError::Internal(detail) = err {
                    tracing::error!(error = %detail, "cannot load a changed object");
                }
                None
            }
        }
    }

    /// The changed object, once, through the owner's viewer.
    async fn load(&self, viewer: &Viewer, change: &Change) -> AppResult<Option<Item>> {
        let mut pooled = self.inner.db.read().await?;
        let mut conn = pooled.conn();
        Ok(match change.entity {
            Entity::Task => task_store::find_task_any(&mut conn, viewer, change.id)
                .await?
                .map(|row| Item::Task(change.change_type, Arc::new(row))),
            Entity::Project => project_store::find_project_any(&mut conn, viewer, change.id)
                .await?
                .map(|row| Item::Project(change.change_type, Arc::new(row))),
        })
    }

    fn deliver(&self, change: &Change, item: &Item) {
        let mut state = self.lock();
        let auth = &self.inner.auth;
        let mut closing = Vec::new();
        let mut ended = Vec::new();
        let Some(subs) = state.subscribers.get(&change.owner_id) else {
            return;
        };
        for (id, sub) in subs {
            // Checked at delivery: the credential may have been revoked.
            let viewer = &sub.viewer;
            if viewer.user_id != change.owner_id {
                continue;
            }
            if auth.is_revoked(viewer.user_id)
                || viewer.session_id.is_some_and(|s| auth.is_revoked(s))
                || viewer.api_key_id.is_some_and(|k| auth.is_revoked(k))
            {
                closing.push((
                    sub.connection,
                    Close::new(close::FORBIDDEN, "Credential revoked"),
                ));
                continue;
            }
            let send = match (sub.interest, item) {
                // A task moved to another project is announced twice: in
                // its new project (to everyone) and in its old one (to
                // that project's subscribers, who see it leave).
                (Interest::Tasks(None), Item::Task(_, row)) => change.project_id == row.project_id,
                (Interest::Tasks(Some(project)), Item::Task(..)) => project == change.project_id,
                (Interest::Projects, Item::Project(..)) => true,
                (Interest::Tasks(Some(project)), Item::Project(ChangeType::Deleted, row))
                    if project == row.id =>
                {
                    ended.push(*id);
                    continue;
                }
                _ => false,
            };
            if send {
                match sub.sender.try_send(item.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => closing.push((
                        sub.connection,
                        Close::new(
                            close::SLOW_CONSUMER,
                            "Slow consumer: too many messages waiting",
                        ),
                    )),
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        if let Some(subs) = state.subscribers.get_mut(&change.owner_id) {
            for id in ended {
                if let Some(sub) = subs.remove(&id) {
                    // The stream ends when its sender is gone; say so first.
                    let _ = sub.sender.try_send(Item::End);
                }
            }
        }
        for (id, close) in closing {
            self.close(&state, id, close);
        }
    }

    /// `owner`'s own subscriptions hear that events may have been missed.
    fn resync(&self, owner: Id) {
        let state = self.lock();
        let Some(subs) = state.subscribers.get(&owner) else {
            return;
        };
        for sub in subs.values() {
            if let Err(mpsc::error::TrySendError::Full(_)) = sub.sender.try_send(Item::Resync) {
                self.close(&state, sub.connection, slow_consumer());
            }
        }
    }
}

/// What a subscription does with an item.
enum Want {
    Send,
    End,
    Skip,
}

fn wants(interest: Interest, change: &Change, item: &Item) -> Want {
    match (interest, item) {
        // A task moved to another project is announced twice: in its new
        // project (to everyone) and in its old one (to that project's
        // subscribers, who see it leave).
        (Interest::Tasks(None), Item::Task(_, row)) if change.project_id == row.project_id => {
            Want::Send
        }
        (Interest::Tasks(Some(project)), Item::Task(..)) if project == change.project_id => {
            Want::Send
        }
        (Interest::Projects, Item::Project(..)) => Want::Send,
        (Interest::Tasks(Some(project)), Item::Project(ChangeType::Deleted, row))
            if project == row.id =>
        {
            Want::End
        }
        _ => Want::Skip,
    }
}

fn slow_consumer() -> Close {
    Close::new(
        close::SLOW_CONSUMER,
        "Slow consumer: too many messages waiting",
    )
}

fn revoked(auth: &Authenticator, viewer: &Viewer) -> bool {
    auth.is_revoked(viewer.user_id)
        || viewer.session_id.is_some_and(|s| auth.is_revoked(s))
        || viewer.api_key_id.is_some_and(|k| auth.is_revoked(k))
}

impl Hub {
    /// Each group that wants the item resolves it once; every member gets
    /// the same payload in a frame of its own.
    async fn deliver_shared(&self, change: &Change, item: Item) {
        let runs: Vec<(Arc<str>, Run)> = {
            let mut state = self.lock();
            let state = &mut *state;
            let Some(groups) = state.groups.get_mut(&change.owner_id) else {
                return;
            };
            let mut runs = Vec::new();
            let mut ended = Vec::new();
            let mut slow = Vec::new();
            for (key, group) in groups.iter() {
                match wants(group.interest, change, &item) {
                    Want::Send => runs.push((key.clone(), group.run.clone())),
                    Want::End => ended.push(key.clone()),
                    Want::Skip => {}
                }
            }
            for key in ended {
                let Some(group) = groups.remove(&key) else {
                    continue;
                };
                for (id, member) in group.members {
                    let outlet = state
                        .connections
                        .get(&member.connection)
                        .and_then(|c| c.outlet.as_ref());
                    if let Some(outlet) = outlet
                        && outlet.send(Shared::Ended(id, member.id)).is_err()
                    {
                        slow.push(member.connection);
                    }
                }
            }
            if groups.is_empty() {
                state.groups.remove(&change.owner_id);
            }
            for id in slow {
                self.close(state, id, slow_consumer());
            }
            runs
        };
        for (key, run) in runs {
            let payload = run(item.clone()).await;
            self.send_shared(change.owner_id, &key, &payload);
        }
    }

    /// Every group of `owner` hears that events may have been missed.
    async fn resync_shared(&self, owner: Id) {
        let runs: Vec<(Arc<str>, Run)> = {
            let state = self.lock();
            let Some(groups) = state.groups.get(&owner) else {
                return;
            };
            groups
                .iter()
                .map(|(key, g)| (key.clone(), g.run.clone()))
                .collect()
        };
        for (key, run) in runs {
            let payload = run(Item::Resync).await;
            self.send_shared(owner, &key, &payload);
        }
    }

    /// Hands `payload` to each current member of a group, checking each
    /// member's credential at delivery.
    fn send_shared(&self, owner: Id, key: &str, payload: &str) {
        let state = self.lock();
        let auth = &self.inner.auth;
        let Some(group) = state.groups.get(&owner).and_then(|g| g.get(key)) else {
            return;
        };
        let mut closing = Vec::new();
        for (id, member) in &group.members {
            if member.viewer.user_id != owner {
                continue;
            }
            if revoked(auth, &member.viewer) {
                closing.push((
                    member.connection,
                    Close::new(close::FORBIDDEN, "Credential revoked"),
                ));
                continue;
            }
            let Some(outlet) = state
                .connections
                .get(&member.connection)
                .and_then(|c| c.outlet.as_ref())
            else {
                continue;
            };
            let text = frame(&member.head, payload);
            if outlet
                .send(Shared::Frame(*id, member.id.clone(), text))
                .is_err()
            {
                closing.push((member.connection, slow_consumer()));
            }
        }
        for (id, close) in closing {
            self.close(&state, id, close);
        }
    }
}
