//! What the hub hands out, and which subscriptions want it.

use std::sync::Arc;

use crate::db::types::Id;
use crate::events::Event;
use crate::events::changes::{Change, ChangeType, MemberChange, Snapshot};
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;

/// What a subscription receives.
#[derive(Debug, Clone)]
pub enum Item {
    Task(ChangeType, Arc<TaskRow>),
    Project(ChangeType, Arc<ProjectRow>),
    /// A membership change of the project (`MEMBER_ADDED`,
    /// `MEMBER_REMOVED`, `ROLE_CHANGED`): the project as it is, and the member.
    Member(ChangeType, Arc<ProjectRow>, MemberChange),
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

/// What a user's lane is given: a change event as the bus brought it
/// (decoded by the lane, so that one user's events cost that user's lane),
/// word that events may have been missed, or that a project was lost.
#[derive(Debug, Clone)]
pub enum Work {
    Event(Arc<Event>),
    Resync,
    /// The user is no longer a member of this project: its subscriptions
    /// to that project's tasks end.
    Lost(Id),
}

/// An event as the hub delivers it: an item, announced in a project; or
/// a resync.
#[derive(Debug, Clone)]
pub struct Announced {
    /// The project a task change is announced in (a task that moved is
    /// announced in its old project too); for a project, its own id.
    pub project: Option<Id>,
    pub item: Item,
}

impl Announced {
    /// The event of `change`, its row shared by every subscriber.
    pub fn of(change: Change) -> Self {
        let item = match (change.row, change.member) {
            (Snapshot::Task(row), _) => Item::Task(change.change_type, Arc::new(row)),
            (Snapshot::Project(row), Some(member)) => {
                Item::Member(change.change_type, Arc::new(row), member)
            }
            (Snapshot::Project(row), None) => Item::Project(change.change_type, Arc::new(row)),
        };
        Self {
            project: Some(change.project_id),
            item,
        }
    }

    /// The user lost `project`: its subscriptions there end.
    pub fn lost(project: Id) -> Self {
        Self {
            project: Some(project),
            item: Item::End,
        }
    }

    pub fn resync() -> Self {
        Self {
            project: None,
            item: Item::Resync,
        }
    }
}

/// What a subscription does with an announced event.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    Send,
    /// The subscription ends (its project was deleted).
    End,
    Skip,
}

impl Interest {
    pub fn wants(self, event: &Announced) -> Want {
        let announced = event.project;
        match (self, &event.item) {
            (_, Item::Resync) => Want::Send,
            // A task moved to another project is announced twice: in its
            // new project (to everyone) and in its old one (to that
            // project's subscribers, who see it leave).
            (Self::Tasks(None), Item::Task(_, row)) if announced == Some(row.project_id) => {
                Want::Send
            }
            (Self::Tasks(Some(project)), Item::Task(..)) if announced == Some(project) => {
                Want::Send
            }
            (Self::Projects, Item::Project(..) | Item::Member(..)) => Want::Send,
            (Self::Tasks(Some(project)), Item::Project(ChangeType::Deleted, row))
                if project == row.id =>
            {
                Want::End
            }
            (Self::Tasks(Some(project)), Item::End) if announced == Some(project) => Want::End,
            _ => Want::Skip,
        }
    }
}
