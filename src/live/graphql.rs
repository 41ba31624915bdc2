//! `taskEvents` and `projectEvents`. A subscription registers with the hub
//! and turns what the hub hands it into events; it ends when its project is
//! deleted, and reports `RESYNC` (an error item, the stream goes on) when
//! events may have been missed, so the client reloads.

use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::LiveConnection;
use super::hub::{Interest, Item, SubscriptionGuard};
use super::shared::{Join, JoinRequest, OneShot};
use crate::db::types::Id;
use crate::error::{AppError, AppResult, code};
use crate::events::changes::ChangeType;
use crate::graphql::ContextExt;
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

use async_graphql::ErrorExtensions as _;

/// A shared group's run for one event: that item, or the resync error.
fn one_shot<T: Send + 'static>(
    ctx: &Context<'_>,
    wanted: fn(Item) -> Option<T>,
) -> Option<BoxStream<'static, async_graphql::Result<T>>> {
    let OneShot(item) = ctx.data_opt::<OneShot>()?;
    let event = match item.clone() {
        Item::Resync => Some(Err(resync())),
        item => wanted(item).map(Ok),
    };
    Some(futures_util::stream::iter(event).boxed())
}

/// A subscribe run as a join: the subscription joins its group and this
/// execution ends at once (the group's runs deliver its events).
fn joined<T: Send + 'static>(
    ctx: &Context<'_>,
    live: LiveConnection,
    interest: Interest,
) -> AppResult<Option<BoxStream<'static, async_graphql::Result<T>>>> {
    let Some(join) = ctx.data_opt::<std::sync::Arc<Join>>() else {
        return Ok(None);
    };
    let guard = ctx
        .services()
        .live
        .join(live.id, JoinRequest { interest, join })?;
    join.put(guard);
    Ok(Some(futures_util::stream::empty().boxed()))
}

fn task_event(item: Item) -> Option<TaskEvent> {
    match item {
        Item::Task(change_type, row) => Some(TaskEvent {
            change_type,
            task: Task(row.clone()),
        }),
        _ => None,
    }
}

fn project_event(item: Item) -> Option<ProjectEvent> {
    match item {
        Item::Project(change_type, row) => Some(ProjectEvent {
            change_type,
            project: Project::new((*row).clone()),
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
        // Checked when the group was joined.
        if let Some(stream) = one_shot(ctx, task_event) {
            return Ok(stream);
        }
        let live = connection(ctx)?;
        let viewer = ctx.viewer()?;
        let project = match project_id {
            None => None,
            Some(raw) => {
                let not_found = || AppError::NotFound("projectId: project not found".into());
                let id = Id::parse(&raw).ok_or_else(not_found)?;
                let mut pooled = ctx.services().db.read().await?;
                project_store::find_project(&mut pooled.conn(), viewer, id)
                    .await?
                    .ok_or_else(not_found)?;
                Some(id)
            }
        };
        if let Some(stream) = joined(ctx, live, Interest::Tasks(project))? {
            return Ok(stream);
        }
        let (guard, receiver) = ctx
            .services()
            .live
            .subscribe(live.id, Interest::Tasks(project))?;
        Ok(events(guard, receiver, task_event).boxed())
    }

    /// Changes of the viewer's projects.
    async fn project_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<ProjectEvent>>> {
        if let Some(stream) = one_shot(ctx, project_event) {
            return Ok(stream);
        }
        let live = connection(ctx)?;
        if let Some(stream) = joined(ctx, live, Interest::Projects)? {
            return Ok(stream);
        }
        let (guard, receiver) = ctx.services().live.subscribe(live.id, Interest::Projects)?;
        Ok(events(guard, receiver, project_event).boxed())
    }
}
