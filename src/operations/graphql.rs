//! The GraphQL side of operations: `Operation`, its records, the queries and
//! the mutations.

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::kinds::{OperationKind, OperationStatus, Params, PatchParams};
use super::model::{OperationRecordRow, OperationRow};
use super::start::{self, not_found};
use super::store::{self, OperationFilterSpec};
use crate::auth::Viewer;
use crate::db::keyset::{KeyPosition, page_limit};
use crate::db::sql::Bind;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::graphql::pagination::{Cursor, KeyValue, PageInfo};
use crate::sync::graphql::{ProjectChangeInput, TaskChangeInput, project_change, task_change};
use crate::tasks::graphql::mutations::{TaskPatch, patch_edit};
use crate::tasks::graphql::{TaskFilter, filter_spec};
use crate::validate as common;

/// A tracked bulk job, as its owner sees it.
#[derive(Debug, Clone)]
pub struct Operation(pub OperationRow);

#[derive(SimpleObject)]
pub struct OperationRecord {
    /// `task` or `project`.
    entity_type: String,
    entity_id: ID,
    /// CREATED, UPDATED, DELETED or RESTORED.
    action: String,
    /// The object's fields before the change (null: it did not exist).
    before: Option<Json<serde_json::Value>>,
    /// The object's fields after the change.
    after: Option<Json<serde_json::Value>>,
}

impl From<OperationRecordRow> for OperationRecord {
    fn from(row: OperationRecordRow) -> Self {
        Self {
            entity_type: row.entity_type,
            entity_id: ID(row.entity_id.to_string()),
            action: row.action,
            before: row.before.map(|d| Json(d.0)),
            after: row.after.map(|d| Json(d.0)),
        }
    }
}

#[derive(SimpleObject)]
pub struct OperationRecordEdge {
    node: OperationRecord,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct OperationRecordConnection {
    edges: Vec<OperationRecordEdge>,
    page_info: PageInfo,
    total_count: i32,
}

#[derive(SimpleObject)]
pub struct OperationEdge {
    node: Operation,
    cursor: String,
}

#[derive(SimpleObject)]
pub struct OperationConnection {
    edges: Vec<OperationEdge>,
    page_info: PageInfo,
    total_count: i32,
}

const RECORD_ORDER: &str = "seq";
const OPERATION_ORDER: &str = "createdAt:Desc";

fn record_cursor(row: &OperationRecordRow) -> String {
    Cursor {
        ordering: RECORD_ORDER.into(),
        key: KeyValue::Int(row.seq.into()),
        id: row.operation_id,
    }
    .encode()
}

fn operation_cursor(row: &OperationRow) -> String {
    Cursor {
        ordering: OPERATION_ORDER.into(),
        key: KeyValue::Int(row.created_at.timestamp_micros()),
        id: row.id,
    }
    .encode()
}

fn page_size(ctx: &Context<'_>, first: Option<i32>) -> AppResult<usize> {
    let max = ctx.services().config.limits.page_size;
    match first {
        None => Ok(max),
        Some(n) => {
            let n = usize::try_from(n)
                .map_err(|_| AppError::bad_input("first", "must not be negative"))?;
            if n > max {
                return Err(AppError::bad_input(
                    "first",
                    format!("must be at most {max} (the page size limit)"),
                ));
            }
            Ok(n)
        }
    }
}

/// A forward page read with one row more than `size`: its rows with their
/// cursors, and whether more follow.
fn cut<R>(
    mut rows: Vec<R>,
    size: usize,
    has_previous_page: bool,
    cursor: impl Fn(&R) -> String,
) -> (Vec<(String, R)>, PageInfo) {
    let has_next_page = rows.len() > size;
    rows.truncate(size);
    let page_info = PageInfo {
        has_next_page,
        has_previous_page,
        start_cursor: rows.first().map(&cursor),
        end_cursor: rows.last().map(&cursor),
    };
    let rows = rows.into_iter().map(|row| (cursor(&row), row)).collect();
    (rows, page_info)
}

fn count(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

#[Object]
impl Operation {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> OperationKind {
        self.0.kind
    }
    async fn status(&self) -> OperationStatus {
        self.0.status
    }
    /// A dry run changed nothing: `total` and `preview` say what it would do.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// Items the operation covers, fixed when it started.
    async fn total(&self) -> i32 {
        self.0.total
    }
    /// Items changed.
    async fn processed(&self) -> i32 {
        self.0.processed
    }
    /// Items left as they were: already so, gone, or (rollback) changed since.
    async fn skipped(&self) -> i32 {
        self.0.skipped
    }
    /// Items that could not be changed (a rule of the object refused it).
    async fn failed(&self) -> i32 {
        self.0.failed
    }
    async fn error_message(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.get()
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at.map(Timestamp::get)
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at.map(Timestamp::get)
    }
    /// The operation a ROLLBACK undoes.
    async fn rollback_of(&self, ctx: &Context<'_>) -> AppResult<Option<Operation>> {
        let Some(of) = self.0.rollback_of else {
            return Ok(None);
        };
        let viewer = ctx.viewer()?;
        let mut pooled = ctx.services().db.read().await?;
        Ok(store::find(&mut pooled.conn(), viewer, of)
            .await?
            .map(Operation))
    }
    /// The changes made, in order (for a dry run: its preview).
    async fn records(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<OperationRecordConnection> {
        let size = page_size(ctx, first)?;
        let after_seq = match &after {
            None => 0,
            Some(text) => {
                let cursor = Cursor::decode("after", text, RECORD_ORDER)?;
                match cursor.key {
                    KeyValue::Int(seq) if cursor.id == self.0.id => i32::try_from(seq)
                        .map_err(|_| AppError::bad_input("after", "is not a valid cursor"))?,
                    _ => return Err(AppError::bad_input("after", "is not a valid cursor")),
                }
            }
        };
        let mut pooled = ctx.services().db.read().await?;
        let conn = &mut pooled.conn();
        let rows = store::records(conn, self.0.id, after_seq, page_limit(size)).await?;
        let total = store::count_records(conn, self.0.id).await?;
        let (rows, page_info) = cut(rows, size, after.is_some(), record_cursor);
        Ok(OperationRecordConnection {
            edges: rows
                .into_iter()
                .map(|(cursor, row)| OperationRecordEdge {
                    cursor,
                    node: row.into(),
                })
                .collect(),
            page_info,
            total_count: count(total),
        })
    }
    /// Dry run: the first 20 changes it would make (empty otherwise).
    async fn preview(&self, ctx: &Context<'_>) -> AppResult<Vec<OperationRecord>> {
        if !self.0.dry_run {
            return Ok(Vec::new());
        }
        let mut pooled = ctx.services().db.read().await?;
        let limit = i64::try_from(start::PREVIEW).unwrap_or(20);
        let rows = store::records(&mut pooled.conn(), self.0.id, 0, limit).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[derive(InputObject, Default)]
pub struct OperationFilter {
    status: Option<Vec<OperationStatus>>,
    kind: Option<Vec<OperationKind>>,
}

#[derive(InputObject)]
pub struct ImportInput {
    projects: Vec<ProjectChangeInput>,
    tasks: Vec<TaskChangeInput>,
}

#[derive(InputObject)]
pub struct StartOperationInput {
    kind: OperationKind,
    /// Count and preview only; nothing is written.
    dry_run: Option<bool>,
    /// UPDATE_TASKS, DELETE_TASKS: which tasks.
    filter: Option<TaskFilter>,
    /// UPDATE_TASKS: the change.
    patch: Option<TaskPatch>,
    /// ARCHIVE_PROJECT, DELETE_PROJECT; DEDUPLICATE_TASKS (all projects when null).
    project_id: Option<ID>,
    /// IMPORT: the client's local data, with its ids.
    import_data: Option<ImportInput>,
}

/// A field error of a nested input, named from `input`.
fn under_input(err: AppError) -> AppError {
    match err {
        AppError::BadInput { field, message } => AppError::BadInput {
            field: format!("input.{field}"),
            message,
        },
        other => other,
    }
}

fn required<T>(value: Option<T>, field: &str, kind: OperationKind) -> AppResult<T> {
    value.ok_or_else(|| AppError::bad_input(field, format!("is required for {}", kind.name())))
}

fn params(input: StartOperationInput, max_items: usize) -> AppResult<Params> {
    let kind = input.kind;
    let project = |raw: Option<ID>| -> AppResult<Option<Id>> {
        raw.map(|id| common::id("input.projectId", &id)).transpose()
    };
    Ok(match kind {
        OperationKind::UpdateTasks => {
            let filter =
                filter_spec(required(input.filter, "input.filter", kind)?).map_err(under_input)?;
            let edit =
                patch_edit(required(input.patch, "input.patch", kind)?).map_err(under_input)?;
            let patch = PatchParams::from_edit(&edit);
            if patch.is_empty() {
                return Err(AppError::bad_input("input.patch", "changes nothing"));
            }
            Params::UpdateTasks { filter, patch }
        }
        OperationKind::DeleteTasks => Params::DeleteTasks {
            filter: filter_spec(required(input.filter, "input.filter", kind)?)
                .map_err(under_input)?,
        },
        OperationKind::ArchiveProject => Params::ArchiveProject {
            project_id: required(project(input.project_id)?, "input.projectId", kind)?,
        },
        OperationKind::DeleteProject => Params::DeleteProject {
            project_id: required(project(input.project_id)?, "input.projectId", kind)?,
        },
        OperationKind::DeduplicateTasks => Params::DeduplicateTasks {
            project_id: project(input.project_id)?,
        },
        OperationKind::Import => {
            let data = required(input.import_data, "input.importData", kind)?;
            // Counted before any item is checked.
            if data.projects.len().saturating_add(data.tasks.len()) > max_items {
                return Err(AppError::bad_input(
                    "input.importData",
                    format!("holds more than {max_items} items, the most one operation may change"),
                ));
            }
            let projects = data
                .projects
                .into_iter()
                .enumerate()
                .map(|(i, p)| project_change(format!("input.importData.projects[{i}]"), p))
                .collect::<AppResult<Vec<_>>>()?;
            let tasks = data
                .tasks
                .into_iter()
                .enumerate()
                .map(|(i, t)| task_change(format!("input.importData.tasks[{i}]"), t))
                .collect::<AppResult<Vec<_>>>()?;
            Params::Import { projects, tasks }
        }
        OperationKind::Rollback => {
            return Err(AppError::bad_input(
                "input.kind",
                "a rollback is started with rollbackOperation",
            ));
        }
        OperationKind::ExportData => {
            return Err(AppError::bad_input(
                "input.kind",
                "an export is started with exportMyData",
            ));
        }
    })
}

/// An id that can not be the viewer's operation: NOT_FOUND, as a missing one.
fn operation_id(raw: &ID) -> AppResult<Id> {
    Id::parse(raw).ok_or_else(not_found)
}

#[derive(Default)]
pub struct OperationsQuery;

#[Object]
impl OperationsQuery {
    /// The viewer's operation; null when missing or another user's.
    async fn operation(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Operation>> {
        let viewer = ctx.viewer()?;
        let Some(id) = Id::parse(&id) else {
            return Ok(None);
        };
        let mut pooled = ctx.services().db.read().await?;
        Ok(store::find(&mut pooled.conn(), viewer, id)
            .await?
            .map(Operation))
    }

    /// The viewer's operations, newest first.
    async fn operations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OperationFilter>,
    ) -> AppResult<OperationConnection> {
        let viewer = ctx.viewer()?;
        let size = page_size(ctx, first)?;
        let after_key = match &after {
            None => None,
            Some(text) => {
                let cursor = Cursor::decode("after", text, OPERATION_ORDER)?;
                let KeyValue::Int(micros) = cursor.key else {
                    return Err(AppError::bad_input("after", "is not a valid cursor"));
                };
                let at = DateTime::from_timestamp_micros(micros)
                    .ok_or_else(|| AppError::bad_input("after", "is not a valid cursor"))?;
                Some(KeyPosition {
                    key: Some(Bind::Time(Timestamp::from(at))),
                    id: cursor.id,
                })
            }
        };
        let filter = filter.unwrap_or_default();
        let spec = OperationFilterSpec {
            status: filter
                .status
                .map(|list| common::enum_values("filter.status", list))
                .transpose()?,
            kind: filter
                .kind
                .map(|list| common::enum_values("filter.kind", list))
                .transpose()?,
        };
        let mut pooled = ctx.services().db.read().await?;
        let conn = &mut pooled.conn();
        let rows = store::page(conn, viewer, &spec, after_key.as_ref(), size).await?;
        let total = store::count(conn, viewer, &spec).await?;
        let (rows, page_info) = cut(rows, size, after.is_some(), operation_cursor);
        Ok(OperationConnection {
            edges: rows
                .into_iter()
                .map(|(cursor, row)| OperationEdge {
                    cursor,
                    node: Operation(row),
                })
                .collect(),
            page_info,
            total_count: count(total),
        })
    }
}

#[derive(Default)]
pub struct OperationsMutation;

/// Starts (or dry-runs) a job with the services and limits of the request.
pub(crate) async fn start_job(
    ctx: &Context<'_>,
    viewer: &Viewer,
    params: Params,
    dry_run: bool,
    rollback_of: Option<Id>,
) -> AppResult<Operation> {
    let services = ctx.services();
    let config = &services.config;
    let row = start::start(
        &services.db,
        &services.events,
        &config.operations,
        &config.quotas,
        viewer,
        params,
        dry_run,
        rollback_of,
    )
    .await?;
    Ok(Operation(row))
}

#[Object]
impl OperationsMutation {
    /// Starts a bulk job (or, with `dryRun`, shows what it would do).
    async fn start_operation(
        &self,
        ctx: &Context<'_>,
        input: StartOperationInput,
    ) -> AppResult<Operation> {
        let viewer = ctx.viewer()?;
        let dry_run = input.dry_run.unwrap_or(false);
        let params = params(input, ctx.services().config.operations.max_items)?;
        start_job(ctx, viewer, params, dry_run, None).await
    }

    /// Stops a waiting or running operation between batches; what it did stays.
    async fn cancel_operation(&self, ctx: &Context<'_>, id: ID) -> AppResult<Operation> {
        let viewer = ctx.viewer()?;
        let id = operation_id(&id)?;
        let services = ctx.services();
        Ok(Operation(
            start::cancel(&services.db, &services.events, viewer, id).await?,
        ))
    }

    /// Starts a ROLLBACK operation that puts back what `id` changed.
    async fn rollback_operation(&self, ctx: &Context<'_>, id: ID) -> AppResult<Operation> {
        let viewer = ctx.viewer()?;
        let id = operation_id(&id)?;
        start::check_rollback(&ctx.services().db, viewer, id).await?;
        start_job(ctx, viewer, Params::Rollback { of: id }, false, Some(id)).await
    }
}
