//! The two kinds of domain event on the bus, shared by every writer and by
//! the subscriptions that deliver them.
//!
//! - [`CHANGES`]: a task or project was created, updated, deleted or
//!   restored. The payload names the object, its project, its owner and its
//!   new version; subscribers load the object themselves (once per event and
//!   instance) and check, per viewer, that it may still be seen.
//! - [`OPERATIONS`]: an operation's counters or status changed. Subscribers
//!   load the operation by id, through the guard.
//!
//! Writers stage events inside the transaction that makes the change
//! ([`stage_change`], [`stage_progress`]), so an event is seen only when its
//! change committed; on SQLite the caller flushes the [`Outbox`] after the
//! commit.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Event, Outbox, stage, stage_all};
use crate::db::Conn;
use crate::db::types::Id;
use crate::error::AppResult;
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;

/// Topic of task and project changes.
pub const CHANGES: &str = "changes";
/// Topic of operation progress.
pub const OPERATIONS: &str = "operations";

/// What happened to the object (the GraphQL `ChangeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    Restored,
}

/// Which kind of object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Task,
    Project,
}

/// One change of one object. For a project, `project_id` is its own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub entity: Entity,
    #[serde(rename = "type")]
    pub change_type: ChangeType,
    pub id: Id,
    pub project_id: Id,
    pub owner_id: Id,
    pub version: i32,
}

impl Change {
    /// Reads a change back from a bus event (`None` for anything else).
    pub fn from_event(event: &Event) -> Option<Self> {
        if event.topic != CHANGES {
            return None;
        }
        serde_json::from_value(event.payload.clone()).ok()
    }
}

impl ChangeType {
    /// What a write did, from whether the object was deleted before (`None`:
    /// it did not exist) and after.
    pub fn of(deleted_before: Option<bool>, deleted_after: bool) -> Self {
        match (deleted_before, deleted_after) {
            (None, _) => Self::Created,
            (Some(false), true) => Self::Deleted,
            (Some(true), false) => Self::Restored,
            _ => Self::Updated,
        }
    }
}

impl Change {
    /// A change of `row`, a task as it is after the write.
    pub fn task(change_type: ChangeType, row: &TaskRow) -> Self {
        Self {
            entity: Entity::Task,
            change_type,
            id: row.id,
            project_id: row.project_id,
            owner_id: row.owner_id,
            version: row.version,
        }
    }

    /// A change of `row`, a project as it is after the write.
    pub fn project(change_type: ChangeType, row: &ProjectRow) -> Self {
        Self {
            entity: Entity::Project,
            change_type,
            id: row.id,
            project_id: row.id,
            owner_id: row.owner_id,
            version: row.version,
        }
    }
}

/// The changes of tasks written over `before`: one of `change_type` per
/// row, and for a task that moved to another project one more `UPDATED`
/// under its old project, so that subscribers there see it leave.
pub fn task_changes(change_type: ChangeType, before: &[TaskRow], after: &[TaskRow]) -> Vec<Change> {
    let mut changes: Vec<Change> = after
        .iter()
        .map(|row| Change::task(change_type, row))
        .collect();
    for row in after {
        if let Some(old) = before
            .iter()
            .find(|b| b.id == row.id && b.project_id != row.project_id)
        {
            changes.push(Change {
                project_id: old.project_id,
                ..Change::task(ChangeType::Updated, row)
            });
        }
    }
    changes
}

/// Stages every change of `changes` in the current transaction.
pub async fn stage_changes(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    changes: &[Change],
) -> AppResult<()> {
    let events = changes
        .iter()
        .map(|change| Event::new(CHANGES, json!(change)))
        .collect::<AppResult<Vec<_>>>()?;
    stage_all(conn, outbox, events).await
}

/// An operation's progress: subscribers reload the operation itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub id: Id,
    pub owner_id: Id,
}

impl Progress {
    pub fn from_event(event: &Event) -> Option<Self> {
        if event.topic != OPERATIONS {
            return None;
        }
        serde_json::from_value(event.payload.clone()).ok()
    }
}

/// Stages `change` in the current transaction.
pub async fn stage_change(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    change: Change,
) -> AppResult<()> {
    stage(conn, outbox, Event::new(CHANGES, json!(change))?).await
}

/// Stages an operation's progress in the current transaction.
pub async fn stage_progress(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    progress: Progress,
) -> AppResult<()> {
    stage(conn, outbox, Event::new(OPERATIONS, json!(progress))?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_type_follows_the_deleted_state() {
        assert_eq!(ChangeType::of(None, false), ChangeType::Created);
        assert_eq!(ChangeType::of(Some(false), false), ChangeType::Updated);
        assert_eq!(ChangeType::of(Some(false), true), ChangeType::Deleted);
        assert_eq!(ChangeType::of(Some(true), false), ChangeType::Restored);
        assert_eq!(ChangeType::of(Some(true), true), ChangeType::Updated);
    }

    #[test]
    fn a_change_survives_the_bus_and_stays_small() {
        let change = Change {
            entity: Entity::Task,
            change_type: ChangeType::Restored,
            id: Id::new(),
            project_id: Id::new(),
            owner_id: Id::new(),
            version: 7,
        };
        let event = Event::new(CHANGES, json!(change)).expect("fits");
        assert_eq!(event.payload["type"], "RESTORED");
        assert_eq!(event.payload["entity"], "task");
        assert_eq!(Change::from_event(&event), Some(change));
        assert!(event.encode().expect("encodes").len() < 250);
        let progress = Event::new(
            OPERATIONS,
            json!(Progress {
                id: change.id,
                owner_id: change.owner_id
            }),
        )
        .expect("fits");
        assert_eq!(Change::from_event(&progress), None);
        assert!(Progress::from_event(&progress).is_some());
    }
}
