//! The export document: one JSON object with everything a user owns, the
//! same from `exportMyData` and from `tasklane export-user`.
//!
//! ```text
//! { "format": "tasklane-export", "version": 1, "exportedAt": "…",
//!   "user": {…}, "projects": […], "memberships": […], "tasks": […],
//!   "sessions": […], "apiKeys": […], "identities": […], "operations": […] }
//! ```
//!
//! Each object lists its fields by name here, so that nothing is exported
//! by accident: no password hash, no token or key hash, no key secret, no
//! operation parameters or records (they hold other objects' copies).

use serde_json::{Map, Value, json};

use super::store;
use crate::auth::Viewer;
use crate::auth::api_keys::ApiKeyRow;
use crate::auth::sessions::SessionRow;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::operations::model::OperationRow;
use crate::projects::model::ProjectRow;
use crate::tasks::kinds::TaskPriority;
use crate::tasks::model::TaskRow;

/// `format` of the document.
pub const FORMAT: &str = "tasklane-export";
/// `version` of the document's shape.
pub const VERSION: u64 = 1;
/// Tasks read per statement when the whole document is made at once.
const CHUNK: i64 = 500;

/// A time as the API shows it (RFC 3339 in UTC).
fn at(t: Timestamp) -> Value {
    Value::String(t.get().to_rfc3339())
}

fn at_opt(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, at)
}

fn id(id: Id) -> Value {
    Value::String(id.to_string())
}

fn id_opt(value: Option<Id>) -> Value {
    value.map_or(Value::Null, id)
}

/// One task, as the document holds it.
pub fn task(row: &TaskRow) -> Value {
    json!({
        "id": id(row.id),
        "projectId": id(row.project_id),
        "title": row.title,
        "description": row.description,
        "status": row.status.name(),
        "priority": row.priority.map(TaskPriority::name),
        "tags": row.tags(),
        "dueAt": at_opt(row.due_at),
        "position": row.position,
        "completedAt": at_opt(row.completed_at),
        "deletedAt": at_opt(row.deleted_at),
        "assigneeId": id_opt(row.assignee_id),
        "createdBy": id_opt(row.created_by),
        "updatedBy": id_opt(row.updated_by),
        "version": row.version,
        "createdAt": at(row.created_at),
        "updatedAt": at(row.updated_at),
    })
}

fn project(row: &ProjectRow) -> Value {
    json!({
        "id": id(row.id),
        "name": row.name,
        "description": row.description,
        "archivedAt": at_opt(row.archived_at),
        "deletedAt": at_opt(row.deleted_at),
        "version": row.version,
        "createdAt": at(row.created_at),
        "updatedAt": at(row.updated_at),
    })
}

fn session(row: &SessionRow) -> Value {
    json!({
        "id": id(row.id),
        "deviceName": row.device_name,
        "userAgent": row.user_agent,
        "createdAt": at(row.created_at),
        "lastUsedAt": at_opt(row.last_used_at),
        "expiresAt": at(row.expires_at),
        "revokedAt": at_opt(row.revoked_at),
    })
}

fn api_key(row: &ApiKeyRow) -> Value {
    json!({
        "id": id(row.id),
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scope_list(),
        "createdAt": at(row.created_at),
        "lastUsedAt": at_opt(row.last_used_at),
        "expiresAt": at_opt(row.expires_at),
        "revokedAt": at_opt(row.revoked_at),
    })
}

fn operation(row: &OperationRow) -> Value {
    json!({
        "id": id(row.id),
        "kind": row.kind.name(),
        "status": row.status.name(),
        "dryRun": row.dry_run,
        "total": row.total,
        "processed": row.processed,
        "skipped": row.skipped,
        "failed": row.failed,
        "errorMessage": row.error,
        "createdAt": at(row.created_at),
        "startedAt": at_opt(row.started_at),
        "finishedAt": at_opt(row.finished_at),
    })
}

/// Everything but the tasks, read now: the document's other members.
pub async fn header(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Map<String, Value>> {
    let user = store::user(conn, viewer)
        .await?
        .ok_or_else(|| AppError::NotFound("User not found".into()))?;
    let mut doc = Map::new();
    doc.insert("format".into(), FORMAT.into());
    doc.insert("version".into(), VERSION.into());
    doc.insert("exportedAt".into(), at(Timestamp::now()));
    doc.insert(
        "user".into(),
        json!({
            "id": id(user.id),
            "email": user.email,
            "username": user.username,
            "displayName": user.display_name,
            "emailVerifiedAt": at_opt(user.email_verified_at),
            "createdAt": at(user.created_at),
            "updatedAt": at(user.updated_at),
            "lastLoginAt": at_opt(user.last_login_at),
        }),
    );
    let projects = store::owned_projects(conn, viewer).await?;
    doc.insert(
        "projects".into(),
        projects.iter().map(project).collect::<Vec<_>>().into(),
    );
    let memberships = store::memberships(conn, viewer).await?;
    doc.insert(
        "memberships".into(),
        memberships
            .into_iter()
            .map(|(project_id, name, role, since)| {
                json!({
                    "projectId": id(project_id),
                    "projectName": name,
                    "role": role.to_uppercase(),
                    "since": at(since),
                })
            })
            .collect::<Vec<_>>()
            .into(),
    );
    let sessions = store::sessions(conn, viewer).await?;
    doc.insert(
        "sessions".into(),
        sessions.iter().map(session).collect::<Vec<_>>().into(),
    );
    let keys = store::api_keys(conn, viewer).await?;
    doc.insert(
        "apiKeys".into(),
        keys.iter().map(api_key).collect::<Vec<_>>().into(),
    );
    let identities = store::identities(conn, viewer).await?;
    doc.insert(
        "identities".into(),
        identities
            .into_iter()
            .map(|(provider, email, since)| {
                json!({ "provider": provider, "email": email, "createdAt": at(since) })
            })
            .collect::<Vec<_>>()
            .into(),
    );
    let operations = store::operations(conn, viewer).await?;
    doc.insert(
        "operations".into(),
        operations.iter().map(operation).collect::<Vec<_>>().into(),
    );
    Ok(doc)
}

/// The document of `header` and `tasks`, as text.
pub fn finish(mut header: Map<String, Value>, tasks: Vec<Value>) -> AppResult<String> {
    header.insert("tasks".into(), Value::Array(tasks));
    serde_json::to_string(&Value::Object(header))
        .map_err(|e| AppError::internal(format!("export document: {e}")))
}

/// The document of `header` and the tasks of `parts` (each the JSON text
/// of an array of tasks), spliced as text: the parts are not parsed again.
pub fn finish_with_parts(header: Map<String, Value>, parts: &[String]) -> AppResult<String> {
    let mut text = finish(header, Vec::new())?;
    // `…,"tasks":[]}` (keys in order) or `…"tasks":[],…}`: find the empty
    // array this function just put there.
    let marker = "\"tasks\":[]";
    let at = text
        .find(marker)
        .ok_or_else(|| AppError::internal("export document without its tasks"))?
        + marker.len()
        - 1;
    let inner: Vec<&str> = parts
        .iter()
        .map(|part| part.trim())
        .filter_map(|part| part.strip_prefix('[')?.strip_suffix(']'))
        .filter(|inner| !inner.trim().is_empty())
        .collect();
    text.insert_str(at, &inner.join(","));
    Ok(text)
}

/// The whole document at once (the operator's `tasklane export-user`, with
/// no operation and no size limit).
pub async fn build(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<String> {
    let header = header(conn, viewer).await?;
    let mut tasks = Vec::new();
    let mut after = None;
    loop {
        let page = store::tasks_after(conn, viewer, after, CHUNK).await?;
        tasks.extend(page.iter().map(task));
        match page.last() {
            Some(last) if page.len() as i64 == CHUNK => after = Some(last.id),
            _ => break,
        }
    }
    finish(header, tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_spliced_into_the_tasks_in_order() {
        let mut header = Map::new();
        header.insert("user".into(), json!({ "name": "a \"tasks\":[] b" }));
        header.insert("apiKeys".into(), json!([]));
        let parts = [
            r#"[{"id":1},{"id":2}]"#.to_owned(),
            "[]".to_owned(),
            r#"[{"id":3}]"#.to_owned(),
        ];
        let text = finish_with_parts(header, &parts).expect("spliced");
        let doc: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(doc["tasks"], json!([{ "id": 1 }, { "id": 2 }, { "id": 3 }]));
        assert_eq!(doc["user"]["name"], "a \"tasks\":[] b");
        let empty = finish_with_parts(Map::new(), &[]).expect("no parts");
        assert_eq!(empty, r#"{"tasks":[]}"#);
    }
}
