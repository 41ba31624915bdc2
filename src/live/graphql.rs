//! `taskEvents` and `projectEvents`. Each resolver checks its arguments,
//! whatever its [`SubscriptionMode`], then registers with the hub (its own
//! stream, or a join of its group) or turns a group's event into its one
//! item. A subscription ends when its project is deleted, and reports
//! `RESYNC` (an error item, the stream goes on) when events may have been
//! missed, so the client reloads.

use async_graphql::{Context, ErrorExtensions as _, ID, SimpleObject, Subscription};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::LiveConnection;
use super::hub::{Interest, Item, SubscriptionGuard};
use super::shared::SubscriptionMode;
use crate::db::types::Id;
use crate::error::{AppError, AppResult, code};
use crate::events::changes::ChangeType;
use crate::graphql::ContextExt;
use crate::members::graphql::ProjectMember;
use crate::projects::graphql::Project;
use crate::projects::store as project_store;
use crate::tasks::graphql::Task;

#[derive(SimpleObject)]
pub struct TaskEvent {
    #[graphql(name = "type")]
    change_type: ChangeType,
    task: Task,
}

#[derive(SimpleObject)]
pub struct ProjectEvent {
    #[graphql(name = "type")]
    change_type: ChangeType,
    project: Project,
    /// The member a MEMBER_ADDED, MEMBER_REMOVED or ROLE_CHANGED is about
    /// (its role after the change; for a removal, the role it had); null
    /// for the other types.
    member: Option<ProjectMember>,
}

fn resync() -> async_graphql::Error {
    async_graphql::Error::new("Events may have been missed; reload what you show")
        .extend_with(|_, e| e.set("code", code::RESYNC))
}

/// The hub's items as a stream, until the hub ends it or the client stops.
fn events<T: Send + 'static>(
    guard: SubscriptionGuard,
    receiver: mpsc::Receiver<Item>,
    wanted: fn(Item) -> Option<T>,
) -> impl Stream<Item = async_graphql::Result<T>> {
    futures_util::stream::unfold((receiver, guard), move |(mut receiver, guard)| async move {
        loop {
            match receiver.recv().await? {
                Item::End => return None,
                Item::Resync => return Some((Err(resync()), (receiver, guard))),
                item => {
                    if let Some(event) = wanted(item) {
                        return Some((Ok(event), (receiver, guard)));
                    }
                }
            }
        }
    })
}

/// The WebSocket connection a subscription arrives on (none over HTTP).
pub(crate) fn connection(ctx: &Context<'_>) -> AppResult<LiveConnection> {
    ctx.viewer()?;
    ctx.data_opt::<LiveConnection>().copied().ok_or_else(|| {
        AppError::bad_input(
            "subscription",
            "subscriptions need a WebSocket (/graphql/ws)",
        )
    })
}

/// The subscription's stream, as its mode asks, its arguments (and so
/// `interest`) checked already. Registering with the hub needs the
/// WebSocket connection; a group's run for one event belongs to none.
fn open<T: Send + 'static>(
    ctx: &Context<'_>,
    interest: Interest,
    wanted: fn(Item) -> Option<T>,
) -> AppResult<BoxStream<'static, async_graphql::Result<T>>> {
    let hub = &ctx.services().live;
    Ok(match ctx.data_opt::<SubscriptionMode>() {
        None | Some(SubscriptionMode::Own) => {
            let (guard, receiver) = hub.subscribe(connection(ctx)?.id, interest)?;
            events(guard, receiver, wanted).boxed()
        }
        // The group's runs deliver its events; this execution ends at once.
        Some(SubscriptionMode::Join(join)) => {
            let (head, id) = (join.head.clone(), join.id.clone());
            let live = connection(ctx)?;
            join.put(hub.join(live.id, interest, &join.template, head, id)?);
            futures_util::stream::empty().boxed()
        }
        Some(SubscriptionMode::Event(item)) => {
            let event = match item.clone() {
                Item::Resync => Some(Err(resync())),
                item => wanted(item).map(Ok),
            };
            futures_util::stream::iter(event).boxed()
        }
    })
}

/// The project `taskEvents` follows: `raw` must name one of the viewer's
/// projects, not deleted when subscribing. A group's run for one event
/// checks only that `raw` is an id: its group was joined after this whole
/// check passed, and the hub checked the event's owner, so a run reads
/// nothing (one read per group and event would put the database on the
/// fan-out path; the project may also be deleted by then, as its deletion
/// ends the subscription and earlier events may still be on their way).
async fn followed_project(ctx: &Context<'_>, raw: Option<ID>) -> AppResult<Option<Id>> {
    let viewer = ctx.viewer()?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    let not_found = || AppError::NotFound("projectId: project not found".into());
    let id = Id::parse(&raw).ok_or_else(not_found)?;
    if let Some(SubscriptionMode::Event(_)) = ctx.data_opt::<SubscriptionMode>() {
        return Ok(Some(id));
    }
    let mut pooled = ctx.services().db.read().await?;
    let found = project_store::find_project(&mut pooled.conn(), viewer, id).await?;
    found.map(|_| Some(id)).ok_or_else(not_found)
}

fn task_event(item: Item) -> Option<TaskEvent> {
    match item {
        Item::Task(change_type, row) => Some(TaskEvent {
            change_type,
            task: Task::from(row.clone()),
        }),
        _ => None,
    }
}

fn project_event(item: Item) -> Option<ProjectEvent> {
    match item {
        Item::Project(change_type, row) => Some(ProjectEvent {
            change_type,
            project: Project::new((*row).clone()),
            member: None,
        }),
        Item::Member(change_type, row, member) => Some(ProjectEvent {
            change_type,
            project: Project::new((*row).clone()),
            member: Some(ProjectMember::of_change(&member)),
        }),
        _ => None,
    }
}

#[derive(Default)]
pub struct ChangesSubscription;

#[Subscription]
impl ChangesSubscription {
    /// Changes of the viewer's tasks in `projectId`, or in every project the
    /// viewer can see when null. Ends when that project is deleted.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<TaskEvent>>> {
        let project = followed_project(ctx, project_id).await?;
        Ok(open(ctx, Interest::Tasks(project), task_event)?)
    }

    /// Changes of the viewer's projects.
    async fn project_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<ProjectEvent>>> {
        ctx.viewer()?;
        Ok(open(ctx, Interest::Projects, project_event)?)
    }
}
