//! The two kinds of domain event on the bus, shared by every writer and by
//! the subscriptions that deliver them.
//!
//! - [`CHANGES`]: a task or project was created, updated, deleted or
//!   restored. The payload names the object, its project, its owner and its
//!   new version, and carries the row exactly as that change wrote it (a
//!   [`Snapshot`]), so every subscriber sees the state of that change, not
//!   of a later one. Subscribers check, per viewer, that it may be seen.
//!   An event too large for a notification travels through the spool
//!   ([`super::spool`]).
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
use crate::access::ProjectRole;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::AppResult;
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;

/// Topic of task and project changes.
pub const CHANGES: &str = "changes";
/// Topic of operation progress.
pub const OPERATIONS: &str = "operations";

/// What happened to the object (the GraphQL `ChangeType`). The last three
/// are membership changes of a project, announced with the project and the
/// member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    Restored,
    /// A user became a member (an invitation was accepted).
    MemberAdded,
    /// A member was removed or left.
    MemberRemoved,
    /// A member's role changed (also both sides of an ownership transfer).
    RoleChanged,
}

/// The member a membership change is about: who, its role (after the
/// change; for a removal, the role it had) and since when it is a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberChange {
    pub user_id: Id,
    pub role: ProjectRole,
    pub since: Timestamp,
}

/// Which kind of object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Task,
    Project,
}

/// The object as the change wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Snapshot {
    Task(TaskRow),
    Project(ProjectRow),
}

/// One change of one object. For a project, `project_id` is its own id;
/// for a task, the project it is announced in (see [`task_changes`]).
/// Made by [`Change::task`] and [`Change::project`] from the row as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub entity: Entity,
    #[serde(rename = "type")]
    pub change_type: ChangeType,
    pub id: Id,
    pub project_id: Id,
    pub owner_id: Id,
    pub version: i32,
    pub row: Snapshot,
    /// Set for a membership change only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberChange>,
}

/// Where a task's `position` sits in an event's payload. A float read back
/// from JSON text can be one unit in the last place off (serde_json parses
/// for speed), so the position travels as its bits.
const POSITION: &str = "/row/task/position";

impl Change {
    /// The bus event announcing this change.
    pub fn event(&self) -> AppResult<Event> {
        let mut payload = json!(self);
        if let (Snapshot::Task(row), Some(slot)) = (&self.row, payload.pointer_mut(POSITION)) {
            *slot = json!(row.position.map(f64::to_bits));
        }
        Event::large(CHANGES, payload)
    }

    /// The owner of the change `event` announces, read without decoding
    /// the rest (`None` for anything else).
    pub fn owner_of(event: &Event) -> Option<Id> {
        if event.topic != CHANGES {
            return None;
        }
        Id::parse(event.payload.get("ownerId")?.as_str()?)
    }

    /// The project the change `event` announces is announced in, read
    /// without decoding the rest (`None` for anything else).
    pub fn project_of(event: &Event) -> Option<Id> {
        if event.topic != CHANGES {
            return None;
        }
        Id::parse(event.payload.get("projectId")?.as_str()?)
    }

    /// Does `event` announce a membership change? (Read without decoding
    /// the rest.)
    pub fn is_membership(event: &Event) -> bool {
        event.topic == CHANGES && event.payload.get("member").is_some_and(|m| !m.is_null())
    }

    /// Reads a change back from a bus event (`None` for anything else).
    pub fn from_event(event: &Event) -> Option<Self> {
        if event.topic != CHANGES {
            return None;
        }
        let mut payload = event.payload.clone();
        let bits = payload
            .pointer_mut(POSITION)
            .and_then(|slot| slot.take().as_u64());
        let mut change: Self = serde_json::from_value(payload).ok()?;
        if let Snapshot::Task(row) = &mut change.row {
            row.position = bits.map(f64::from_bits);
        }
        Some(change)
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
            row: Snapshot::Task(row.clone()),
            member: None,
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
            row: Snapshot::Project(row.clone()),
            member: None,
        }
    }

    /// A membership change (`MemberAdded`, `MemberRemoved`, `RoleChanged`)
    /// of `member` in the project `row`, announced with the project as it
    /// is: membership takes no `seq`, the project row is unchanged.
    pub fn membership(change_type: ChangeType, row: &ProjectRow, member: MemberChange) -> Self {
        Self {
            member: Some(member),
            ..Self::project(change_type, row)
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
        .map(Change::event)
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
    stage(conn, outbox, change.event()?).await
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

    fn task() -> TaskRow {
        let now = crate::db::types::Timestamp::now();
        TaskRow {
            id: Id::new(),
            project_id: Id::new(),
            owner_id: Id::new(),
            title: "t".into(),
            description: Some("é\u{0}\"".repeat(3000)),
            status: crate::tasks::kinds::TaskStatus::Todo,
            priority: Some(crate::tasks::kinds::TaskPriority::Medium),
            tags: crate::db::types::JsonDoc(json!(["a"])),
            due_at: Some(now),
            position: Some(0.1 + 0.2),
            completed_at: None,
            deleted_at: None,
            version: 7,
            seq: 9,
            client_id: None,
            client_mutation_id: Some("m".into()),
            created_at: now,
            updated_at: now,
            assignee_id: Some(Id::new()),
            created_by: Some(Id::new()),
            updated_by: None,
        }
    }

    #[test]
    fn a_change_carries_its_row_through_the_bus_text_exactly() {
        let mut row = task();
        for position in [Some(0.1 + 0.2), Some(1.0 / 3.0), Some(-2.5e-300), None] {
            row.position = position;
            let change = Change::task(ChangeType::Restored, &row);
            let event = change.event().expect("an event");
            assert_eq!(event.payload["type"], "RESTORED");
            assert_eq!(event.payload["entity"], "task");
            // As the PostgreSQL listener reads it: from text.
            let text = serde_json::to_string(&event).expect("text");
            let back: Event = serde_json::from_str(&text).expect("parsed");
            assert_eq!(Change::from_event(&back), Some(change.clone()));
            assert_eq!(Change::owner_of(&back), Some(row.owner_id));
            assert_eq!(Change::from_event(&event), Some(change));
        }
    }

    #[test]
    fn a_membership_change_carries_its_member_and_others_carry_none() {
        let now = crate::db::types::Timestamp::now();
        let project = ProjectRow::new(Id::new(), Id::new(), "p".into(), None, now);
        let member = MemberChange {
            user_id: Id::new(),
            role: ProjectRole::Editor,
            since: now,
        };
        let change = Change::membership(ChangeType::MemberAdded, &project, member);
        let event = change.event().expect("an event");
        assert_eq!(event.payload["type"], "MEMBER_ADDED");
        assert_eq!(event.payload["member"]["role"], "EDITOR");
        assert_eq!(Change::from_event(&event), Some(change));
        // A change written before the field existed still reads.
        let plain = Change::project(ChangeType::Updated, &project);
        let mut payload = plain.event().expect("an event").payload;
        assert!(payload.get("member").is_none());
        payload.as_object_mut().map(|o| o.remove("member"));
        let old = Event::large(CHANGES, payload).expect("event");
        assert_eq!(Change::from_event(&old).map(|c| c.member), Some(None));
    }

    #[test]
    fn progress_is_not_a_change_and_stays_small() {
        let progress = Event::new(
            OPERATIONS,
            json!(Progress {
                id: Id::new(),
                owner_id: Id::new()
            }),
        )
        .expect("fits");
        assert_eq!(Change::from_event(&progress), None);
        assert!(Progress::from_event(&progress).is_some());
        assert!(serde_json::to_string(&progress).expect("text").len() < 250);
    }
}
