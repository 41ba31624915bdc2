//! How an operation's parameters are kept in `operations.params`: types of
//! their own, versioned, converted to and from the domain [`Params`] here
//! and nowhere else. A refactor of the task filter or of the sync changes
//! therefore can not break a job already in the database: its stored shape
//! stays, and only the conversion below follows the domain.
//!
//! The document carries its version as `"v"`. Rows written before the tag
//! existed have none; they are version 1, which is exactly their shape.
//! A new shape becomes version 2 beside this one, and version 1 keeps being
//! read.

use serde::{Deserialize, Serialize};

use super::kinds::{Params, PatchParams};
use crate::db::types::{Id, JsonDoc, Timestamp};
use crate::error::{AppError, AppResult};
use crate::sync::push::{ProjectChange, TaskChange};
use crate::tasks::kinds::{TaskPriority, TaskStatus};
use crate::tasks::list::TaskFilterSpec;
use crate::tasks::model::TaskFields;

/// The version this build writes.
const CURRENT: u64 = 1;
/// The key of the version in the stored document.
const VERSION_KEY: &str = "v";

/// The stored document of `params`.
pub fn encode(params: &Params) -> AppResult<JsonDoc> {
    let mut doc = serde_json::to_value(V1::from_params(params))
        .map_err(|e| AppError::internal(format!("params: {e}")))?;
    if let Some(object) = doc.as_object_mut() {
        object.insert(VERSION_KEY.to_owned(), CURRENT.into());
    }
    Ok(JsonDoc(doc))
}

/// The parameters stored for `operation`, of any version this build reads.
pub fn decode(operation: Id, doc: &JsonDoc) -> AppResult<Params> {
    let unreadable = |detail: String| {
        AppError::internal(format!(
            "operation {operation} has unreadable params: {detail}"
        ))
    };
    let version = match doc.get(VERSION_KEY) {
        None => 1,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| unreadable(format!("version {v} is not a number")))?,
    };
    match version {
        1 => serde_json::from_value::<V1>(doc.0.clone())
            .map(V1::into_params)
            .map_err(|e| unreadable(e.to_string())),
        other => Err(unreadable(format!("unknown version {other}"))),
    }
}

/// Version 1, field for field as the rows written before the version tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
enum V1 {
    /// `{"kind": "UPDATE_TASKS", "filter": {…}, "patch": {…}}`
    UpdateTasks { filter: FilterV1, patch: PatchV1 },
    /// `{"kind": "DELETE_TASKS", "filter": {…}}`
    DeleteTasks { filter: FilterV1 },
    /// `{"kind": "ARCHIVE_PROJECT", "project_id": "…"}`
    ArchiveProject { project_id: Id },
    /// `{"kind": "DELETE_PROJECT", "project_id": "…"}`
    DeleteProject { project_id: Id },
    /// `{"kind": "DEDUPLICATE_TASKS", "project_id": "…" or null}`
    DeduplicateTasks { project_id: Option<Id> },
    /// `{"kind": "IMPORT", "projects": […], "tasks": […]}`
    Import {
        projects: Vec<ProjectV1>,
        tasks: Vec<TaskV1>,
    },
    /// `{"kind": "ROLLBACK", "of": "…"}`
    Rollback { of: Id },
    /// `{"kind": "EXPORT_DATA", "max_bytes": 268435456}`
    ExportData { max_bytes: u64 },
}

impl V1 {
    fn from_params(params: &Params) -> Self {
        match params {
            Params::UpdateTasks { filter, patch } => Self::UpdateTasks {
                filter: FilterV1::from(filter),
                patch: PatchV1::from(patch),
            },
            Params::DeleteTasks { filter } => Self::DeleteTasks {
                filter: FilterV1::from(filter),
            },
            Params::ArchiveProject { project_id } => Self::ArchiveProject {
                project_id: *project_id,
            },
            Params::DeleteProject { project_id } => Self::DeleteProject {
                project_id: *project_id,
            },
            Params::DeduplicateTasks { project_id } => Self::DeduplicateTasks {
                project_id: *project_id,
            },
            Params::Import { projects, tasks } => Self::Import {
                projects: projects.iter().map(ProjectV1::from).collect(),
                tasks: tasks.iter().map(TaskV1::from).collect(),
            },
            Params::Rollback { of } => Self::Rollback { of: *of },
            Params::ExportData { max_bytes } => Self::ExportData {
                max_bytes: *max_bytes,
            },
        }
    }

    fn into_params(self) -> Params {
        match self {
            Self::UpdateTasks { filter, patch } => Params::UpdateTasks {
                filter: filter.into(),
                patch: patch.into(),
            },
            Self::DeleteTasks { filter } => Params::DeleteTasks {
                filter: filter.into(),
            },
            Self::ArchiveProject { project_id } => Params::ArchiveProject { project_id },
            Self::DeleteProject { project_id } => Params::DeleteProject { project_id },
            Self::DeduplicateTasks { project_id } => Params::DeduplicateTasks { project_id },
            Self::Import { projects, tasks } => Params::Import {
                projects: projects.into_iter().map(Into::into).collect(),
                tasks: tasks.into_iter().map(Into::into).collect(),
            },
            Self::Rollback { of } => Params::Rollback { of },
            Self::ExportData { max_bytes } => Params::ExportData { max_bytes },
        }
    }
}

/// Which tasks (version 1): every key present, `null` when unset.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FilterV1 {
    project_id: Option<Id>,
    status: Option<Vec<i16>>,
    priority: Option<Vec<i16>>,
    tag: Option<String>,
    search: Option<String>,
    due_before: Option<Timestamp>,
    due_after: Option<Timestamp>,
    updated_since: Option<Timestamp>,
    include_deleted: bool,
    /// Absent in filters stored before assignees.
    #[serde(default)]
    assignee_id: Option<Id>,
    #[serde(default)]
    assigned_to_me: bool,
}

impl From<&TaskFilterSpec> for FilterV1 {
    fn from(f: &TaskFilterSpec) -> Self {
        Self {
            project_id: f.project_id,
            status: f.status.clone(),
            priority: f.priority.clone(),
            tag: f.tag.clone(),
            search: f.search.clone(),
            due_before: f.due_before,
            due_after: f.due_after,
            updated_since: f.updated_since,
            include_deleted: f.include_deleted,
            assignee_id: f.assignee_id,
            assigned_to_me: f.assigned_to_me,
        }
    }
}

impl From<FilterV1> for TaskFilterSpec {
    fn from(f: FilterV1) -> Self {
        Self {
            project_id: f.project_id,
            status: f.status,
            priority: f.priority,
            tag: f.tag,
            search: f.search,
            due_before: f.due_before,
            due_after: f.due_after,
            updated_since: f.updated_since,
            include_deleted: f.include_deleted,
            assignee_id: f.assignee_id,
            assigned_to_me: f.assigned_to_me,
        }
    }
}

/// A task patch (version 1): an absent key is unchanged, a `null` one is
/// cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<TaskStatus>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    priority: Option<Option<TaskPriority>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    add_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    remove_tags: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    due_at: Option<Option<Timestamp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project_id: Option<Id>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    assignee_id: Option<Option<Id>>,
}

/// A key that is present: `null` means "clear it".
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl From<&PatchParams> for PatchV1 {
    fn from(p: &PatchParams) -> Self {
        Self {
            status: p.status,
            priority: p.priority,
            add_tags: p.add_tags.clone(),
            remove_tags: p.remove_tags.clone(),
            due_at: p.due_at,
            project_id: p.project_id,
            assignee_id: p.assignee_id,
        }
    }
}

impl From<PatchV1> for PatchParams {
    fn from(p: PatchV1) -> Self {
        Self {
            status: p.status,
            priority: p.priority,
            add_tags: p.add_tags,
            remove_tags: p.remove_tags,
            due_at: p.due_at,
            project_id: p.project_id,
            assignee_id: p.assignee_id,
        }
    }
}

/// A project to import (version 1); `field` is its input path.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProjectV1 {
    field: String,
    id: Id,
    name: String,
    description: Option<String>,
    archived: bool,
    deleted: bool,
    base_version: Option<i32>,
}

impl From<&ProjectChange> for ProjectV1 {
    fn from(p: &ProjectChange) -> Self {
        Self {
            field: p.field.clone(),
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            archived: p.archived,
            deleted: p.deleted,
            base_version: p.base_version,
        }
    }
}

impl From<ProjectV1> for ProjectChange {
    fn from(p: ProjectV1) -> Self {
        Self {
            field: p.field,
            id: p.id,
            name: p.name,
            description: p.description,
            archived: p.archived,
            deleted: p.deleted,
            base_version: p.base_version,
        }
    }
}

/// A task to import (version 1); `field` is its input path.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskV1 {
    field: String,
    id: Id,
    project_id: Id,
    title: String,
    description: Option<String>,
    status: TaskStatus,
    priority: Option<TaskPriority>,
    tags: Vec<String>,
    due_at: Option<Timestamp>,
    position: Option<f64>,
    /// Absent in imports stored before assignees.
    #[serde(default)]
    assignee_id: Option<Id>,
    deleted: bool,
    base_version: Option<i32>,
}

impl From<&TaskChange> for TaskV1 {
    fn from(t: &TaskChange) -> Self {
        let f = t.fields.clone();
        Self {
            field: t.field.clone(),
            id: t.id,
            project_id: f.project_id,
            title: f.title,
            description: f.description,
            status: f.status,
            priority: f.priority,
            tags: f.tags,
            due_at: f.due_at,
            position: f.position,
            assignee_id: f.assignee_id,
            deleted: t.deleted,
            base_version: t.base_version,
        }
    }
}

impl From<TaskV1> for TaskChange {
    fn from(t: TaskV1) -> Self {
        Self {
            field: t.field,
            id: t.id,
            fields: TaskFields {
                project_id: t.project_id,
                title: t.title,
                description: t.description,
                status: t.status,
                priority: t.priority,
                tags: t.tags,
                due_at: t.due_at,
                position: t.position,
                assignee_id: t.assignee_id,
            },
            deleted: t.deleted,
            base_version: t.base_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "0190f5d2-7a3c-7b1e-8c4d-2f6a9e0b1c3d";

    fn id() -> Id {
        Id::parse(ID).expect("uuid")
    }

    fn round_trip(params: &Params) -> Params {
        decode(id(), &encode(params).expect("encodes")).expect("decodes")
    }

    #[test]
    fn a_cleared_field_survives_storage_and_an_absent_one_stays_absent() {
        let patch = PatchParams {
            priority: Some(None),
            status: Some(TaskStatus::Done),
            ..PatchParams::default()
        };
        let json = serde_json::to_value(PatchV1::from(&patch)).expect("serialises");
        assert_eq!(json, json!({ "status": 3, "priority": null }));
        let back = PatchParams::from(serde_json::from_value::<PatchV1>(json).expect("parses"));
        assert_eq!(back, patch);
        assert_eq!(back.due_at, None);
    }

    #[test]
    fn assignees_survive_storage_and_old_imports_have_none() {
        let patch = PatchParams {
            assignee_id: Some(None),
            ..PatchParams::default()
        };
        let json = serde_json::to_value(PatchV1::from(&patch)).expect("serialises");
        assert_eq!(json, json!({ "assigneeId": null }));
        let filter = TaskFilterSpec {
            assignee_id: Some(id()),
            assigned_to_me: true,
            ..TaskFilterSpec::default()
        };
        let params = Params::UpdateTasks {
            filter,
            patch: PatchParams {
                assignee_id: Some(Some(id())),
                ..PatchParams::default()
            },
        };
        let Params::UpdateTasks { filter, patch } = round_trip(&params) else {
            panic!("not an update");
        };
        assert_eq!(filter.assignee_id, Some(id()));
        assert!(filter.assigned_to_me);
        assert_eq!(patch.assignee_id, Some(Some(id())));
        let old = JsonDoc(json!({
            "kind": "IMPORT",
            "projects": [],
            "tasks": [{ "field": "input.importData.tasks[0]", "id": ID, "project_id": ID,
                "title": "t", "description": null, "status": 1, "priority": null, "tags": [],
                "due_at": null, "position": null, "deleted": false, "base_version": null }]
        }));
        let Params::Import { tasks, .. } = decode(id(), &old).expect("decodes") else {
            panic!("not an import");
        };
        assert_eq!(tasks[0].fields.assignee_id, None);
    }

    #[test]
    fn new_documents_carry_the_version_and_the_shape_of_version_1() {
        let params = Params::ArchiveProject { project_id: id() };
        let doc = encode(&params).expect("encodes");
        assert_eq!(
            doc.0,
            json!({ "v": 1, "kind": "ARCHIVE_PROJECT", "project_id": ID })
        );
        assert!(
            matches!(round_trip(&params), Params::ArchiveProject { project_id } if project_id == id())
        );
    }

    #[test]
    fn an_untagged_document_is_version_1() {
        let doc = JsonDoc(json!({
            "kind": "UPDATE_TASKS",
            "filter": { "project_id": ID, "status": [1, 2], "priority": null, "tag": "a",
                "search": null, "due_before": null, "due_after": "2027-01-02T03:04:05Z",
                "updated_since": null, "include_deleted": false },
            "patch": { "status": 3, "priority": null, "addTags": ["x"] }
        }));
        let Params::UpdateTasks { filter, patch } = decode(id(), &doc).expect("decodes") else {
            panic!("not an update");
        };
        assert_eq!(filter.project_id, Some(id()));
        assert_eq!(filter.status, Some(vec![1, 2]));
        assert_eq!(filter.tag.as_deref(), Some("a"));
        assert!(filter.due_after.is_some());
        // Stored before assignees: neither key, neither condition.
        assert_eq!(filter.assignee_id, None);
        assert!(!filter.assigned_to_me);
        assert_eq!(patch.status, Some(TaskStatus::Done));
        assert_eq!(patch.priority, Some(None));
        assert_eq!(patch.add_tags, vec!["x".to_owned()]);
        assert_eq!(patch.due_at, None);
    }

    #[test]
    fn an_unknown_version_or_kind_is_an_error() {
        let future = JsonDoc(json!({ "v": 2, "kind": "ROLLBACK", "of": ID }));
        assert!(decode(id(), &future).is_err());
        let unknown = JsonDoc(json!({ "kind": "PAUSE", "of": ID }));
        assert!(decode(id(), &unknown).is_err());
    }
}
