//! Every place a task field goes (README, "Adding a task field") carries
//! every field of `TaskFields`: the places the compiler does not point at
//! are checked here, so that a field added to `TaskFields` and forgotten in
//! one of them fails a test.

use chrono::{Duration, TimeZone, Utc};

use crate::db::types::{Id, Timestamp};
use crate::operations::snapshot::TaskSnapshot;
use crate::tasks::kinds::{TaskPriority, TaskStatus};
use crate::tasks::model::{TaskFields, TaskRow};
use crate::tasks::writes::{TaskEdit, apply};

fn at(days: i64) -> Timestamp {
    (Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(days)).into()
}

/// Every field set, none to its default (a literal: a new field is a
/// compile error here first).
fn full() -> TaskFields {
    TaskFields {
        project_id: Id(uuid::Uuid::from_u128(1)),
        title: "full".into(),
        description: Some("every field set".into()),
        status: TaskStatus::InProgress,
        priority: Some(TaskPriority::Urgent),
        tags: vec!["a".into(), "b".into()],
        due_at: Some(at(3)),
        position: Some(2.5),
        assignee_id: Some(Id(uuid::Uuid::from_u128(2))),
    }
}

fn other() -> TaskFields {
    TaskFields::titled("other")
}

/// The API names of `TaskFields`' fields.
fn api_names() -> Vec<String> {
    let value = serde_json::to_value(full()).expect("TaskFields serialises");
    let object = value.as_object().expect("an object");
    object
        .keys()
        .map(|key| {
            let mut parts = key.split('_');
            let mut name = parts.next().unwrap_or_default().to_owned();
            for part in parts {
                let mut chars = part.chars();
                if let Some(first) = chars.next() {
                    name.extend(first.to_uppercase());
                    name.push_str(chars.as_str());
                }
            }
            name
        })
        .collect()
}

#[test]
fn an_update_carries_every_field() {
    let now = at(1);
    let mut row = TaskRow::new(Id::new(), Id::new(), Id::new(), other(), now);
    apply(&mut row, &TaskEdit::replace(&full()), "input", now).expect("applies");
    assert_eq!(row.fields(), full());
}

#[test]
fn a_snapshot_restores_every_field() {
    let mut before = TaskRow::new(Id::new(), Id::new(), Id::new(), full(), at(1));
    before.completed_at = Some(at(2));
    before.deleted_at = Some(at(4));
    let stored = TaskSnapshot::json(&before);
    let mut row = TaskRow::new(Id::new(), Id::new(), Id::new(), other(), at(5));
    TaskSnapshot::parse(&stored)
        .and_then(|snapshot| snapshot.restore(&mut row))
        .expect("restores");
    assert_eq!(row.fields(), full());
    assert_eq!(row.completed_at, before.completed_at);
    assert_eq!(row.deleted_at, before.deleted_at);
}

#[test]
fn a_conflicts_current_shows_every_field() {
    let row = TaskRow::new(Id::new(), Id::new(), Id::new(), full(), at(1));
    let current = row.api_json();
    for name in api_names() {
        assert!(current.get(&name).is_some(), "`current` lacks {name}");
    }
}

/// The `Task` type shows every field, and the create and update inputs
/// take each (a sync change and an import flatten the create input).
#[test]
fn the_schema_has_every_field() {
    let sdl = super::sdl();
    let block = |head: &str| -> String {
        let start = sdl
            .find(head)
            .unwrap_or_else(|| panic!("{head} in the schema"));
        let rest = &sdl[start..];
        rest[..rest.find("\n}").unwrap_or(rest.len())].to_owned()
    };
    for head in [
        "type Task implements Node {",
        "input CreateTaskInput {",
        "input TaskChangeInput {",
        "input UpdateTaskInput {",
    ] {
        let fields = block(head);
        for name in api_names() {
            // `Task` shows its project and its assignee as objects.
            let shown = match (head.starts_with("type"), name.as_str()) {
                (true, "projectId") => "project".to_owned(),
                (true, "assigneeId") => "assignee".to_owned(),
                _ => name,
            };
            assert!(
                fields.contains(&format!("\t{shown}:")),
                "{head} lacks {shown}"
            );
        }
    }
}
