//! Starting, cancelling and rolling back operations (the mutations' work).

use scoped_futures::ScopedFutureExt as _;

use super::kinds::{OperationKind, OperationStatus, Params};
use super::model::{OperationRecordRow, OperationRow};
use super::plan::{self, Outcome};
use super::store;
use super::stored;
use crate::access::{self, Need};
use crate::auth::Viewer;
use crate::config::{OperationLimits, Quotas};
use crate::db::types::{Id, Timestamp};
use crate::db::{Conn, Db};
use crate::error::{AppError, AppResult};
use crate::events::changes::{Progress, stage_progress};
use crate::events::{EventBus, Outbox};
use crate::projects::store as project_store;
use crate::projects::writes::{Reach, reachable};
use crate::quotas::{self, Usage};
use crate::sync::counter;

/// Changes a dry run shows.
pub const PREVIEW: usize = 20;

pub fn not_found() -> AppError {
    AppError::NotFound("Operation not found".into())
}

/// Stages the progress event of `row` (its counters or status changed).
pub(super) async fn progress(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    row: &OperationRow,
) -> AppResult<()> {
    stage_progress(
        conn,
        outbox,
        Progress {
            id: row.id,
            owner_id: row.owner_id,
        },
    )
    .await
}

/// `row`, just written, with its progress event staged for the commit.
async fn with_progress(
    conn: &mut Conn<'_>,
    row: OperationRow,
) -> AppResult<(OperationRow, Outbox)> {
    let mut outbox = Outbox::default();
    progress(conn, &mut outbox, &row).await?;
    Ok((row, outbox))
}

/// Checks what the kind needs from the database, fixes the items and
/// stores the operation, PENDING for a worker. A dry run goes to
/// [`dry_run`] instead.
#[expect(
    clippy::too_many_arguments,
    reason = "the mutation's inputs and the services it needs"
)]
pub async fn start(
    db: &Db,
    events: &EventBus,
    limits: &OperationLimits,
    quotas: &Quotas,
    viewer: &Viewer,
    params: Params,
    dry_run: bool,
    rollback_of: Option<Id>,
) -> AppResult<OperationRow> {
    if dry_run {
        return self::dry_run(db, limits, quotas, viewer, params).await;
    }
    let viewer = viewer.clone();
    let limits = limits.clone();
    let quotas = *quotas;
    let (row, outbox) = db
        .transaction(|mut conn| {
            async move {
                let conn = &mut conn;
                // One start at a time per user: the limit holds under races.
                counter::lock(conn, &viewer).await?;
                check_running(conn, &viewer, &limits).await?;
                check_targets(conn, &viewer, &params).await?;
                let items = fixed_items(conn, &viewer, &params, &limits).await?;
                // What it will store, against the quotas (checked again
                // per batch: other operations may fill them meanwhile).
                quotas::check(
                    &quotas_for(&params, &quotas),
                    quotas::used(conn, &viewer).await?,
                    expected_usage(&params, items.len()),
                )?;
                let now = Timestamp::now();
                let row = new_row(
                    &viewer,
                    &params,
                    OperationStatus::Pending,
                    items.len(),
                    rollback_of,
                    now,
                )?;
                store::insert(conn, &viewer, &row).await?;
                store::insert_items(conn, row.id, &items).await?;
                with_progress(conn, row).await
            }
            .scope_boxed()
        })
        .await?;
    events.flush(outbox);
    Ok(row)
}

/// A dry run: it counts against `TASKLANE_OPERATION_MAX_RUNNING` while it
/// plans, as a run would, and plans on a read connection, outside any
/// write transaction (so a large one holds neither the owner's counter row
/// nor, on SQLite, the single writer). Three steps: store it RUNNING (the
/// worker never claims a dry run), plan, then store the preview and mark it
/// COMPLETED — or, when planning fails, delete it and return the error.
async fn dry_run(
    db: &Db,
    limits: &OperationLimits,
    quotas: &Quotas,
    viewer: &Viewer,
    params: Params,
) -> AppResult<OperationRow> {
    let now = Timestamp::now();
    let row = new_row(viewer, &params, OperationStatus::Running, 0, None, now)?;
    let inserted = row.clone();
    db.transaction(|mut conn| {
        let (viewer, limits) = (viewer.clone(), limits.clone());
        async move {
            let conn = &mut conn;
            counter::lock(conn, &viewer).await?;
            check_running(conn, &viewer, &limits).await?;
            store::insert(conn, &viewer, &inserted).await
        }
        .scope_boxed()
    })
    .await?;
    let planned = async {
        let mut pooled = db.read().await?;
        let conn = &mut pooled.conn();
        check_targets(conn, viewer, &params).await?;
        let items = fixed_items(conn, viewer, &params, limits).await?;
        let records = preview(
            conn,
            viewer,
            &params,
            &items,
            row.id,
            limits.batch_size,
            now,
        )
        .await?;
        Ok::<_, AppError>((items.len(), records))
    }
    .await;
    let viewer = viewer.clone();
    let quotas = *quotas;
    let id = row.id;
    // The error of planning (or of the quota) comes back inside `Ok`, so
    // that the removal of the dry run commits.
    db.transaction(|mut conn| {
        async move {
            let conn = &mut conn;
            counter::lock(conn, &viewer).await?;
            let (total, records) = match planned {
                Ok(planned) => planned,
                Err(err) => {
                    store::delete_dry_run(conn, &viewer, id).await?;
                    return Ok(Err(err));
                }
            };
            if let Err(err) = quotas::charge(
                conn,
                &viewer,
                &quotas,
                Usage::operation_records(records.len()),
            )
            .await
            {
                store::delete_dry_run(conn, &viewer, id).await?;
                return Ok(Err(err));
            }
            store::insert_records(conn, &records).await?;
            let total = i32::try_from(total).unwrap_or(i32::MAX);
            let row = store::complete_dry_run(conn, &viewer, id, total, Timestamp::now())
                .await?
                .ok_or_else(not_found)?;
            Ok(Ok(row))
        }
        .scope_boxed()
    })
    .await?
}

/// CONFLICT when the viewer already has the most operations waiting or
/// running (dry runs that are planning included).
async fn check_running(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    limits: &OperationLimits,
) -> AppResult<()> {
    let stale = chrono::Duration::from_std(limits.stale_after)
        .unwrap_or_else(|_| chrono::Duration::seconds(30));
    let stale_before = Timestamp::from(Timestamp::now().get() - stale);
    let active = store::count_active(conn, viewer, stale_before).await?;
    if usize::try_from(active).unwrap_or(usize::MAX) >= limits.max_running {
        return Err(AppError::Conflict {
            message: format!(
                "You already have {active} operations waiting or running \
                 (at most {}); wait for one to finish or cancel it",
                limits.max_running
            ),
            current: None,
        });
    }
    Ok(())
}

/// The operation's items, at most `TASKLANE_OPERATION_MAX_ITEMS`.
async fn fixed_items(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    params: &Params,
    limits: &OperationLimits,
) -> AppResult<Vec<(&'static str, Id)>> {
    let limit = i64::try_from(limits.max_items).unwrap_or(i64::MAX - 1) + 1;
    let items = plan::items(conn, viewer, params, limit).await?;
    if items.len() > limits.max_items {
        return Err(AppError::bad_input(
            items_field(params),
            format!(
                "selects more than {} items, the most one operation may change",
                limits.max_items
            ),
        ));
    }
    Ok(items)
}

/// The most an operation of `total` items stores: a record per item, and
/// for an import the objects it creates.
fn expected_usage(params: &Params, total: usize) -> Usage {
    let created = match params {
        // Stores no records (its document is bounded on its own).
        Params::ExportData { .. } => return Usage::default(),
        Params::Import { projects, tasks } => {
            Usage::projects(projects.len()) + Usage::tasks(tasks.len())
        }
        _ => Usage::default(),
    };
    created + Usage::operation_records(total)
}

/// The quotas an operation is held to: a rollback's records are not
/// limited (undoing must stay possible at the quota; it stores at most one
/// record per record of its original).
pub fn quotas_for(params: &Params, quotas: &Quotas) -> Quotas {
    match params {
        Params::Rollback { .. } => Quotas {
            operation_records: u64::MAX,
            ..*quotas
        },
        _ => *quotas,
    }
}

fn new_row(
    viewer: &Viewer,
    params: &Params,
    status: OperationStatus,
    total: usize,
    rollback_of: Option<Id>,
    now: Timestamp,
) -> AppResult<OperationRow> {
    let dry_run = status != OperationStatus::Pending;
    Ok(OperationRow {
        id: Id::new(),
        owner_id: viewer.user_id,
        kind: params.kind(),
        status,
        dry_run,
        params: stored::encode(params)?,
        total: i32::try_from(total).unwrap_or(i32::MAX),
        processed: 0,
        skipped: 0,
        failed: 0,
        error: None,
        rollback_of,
        created_at: now,
        started_at: dry_run.then_some(now),
        finished_at: None,
        // A dry run's heartbeat: one left by a crash stops counting
        // against the limit once it is stale.
        heartbeat_at: dry_run.then_some(now),
        claimed_by: None,
    })
}

/// The first changes the operation would make, as records (nothing written).
async fn preview(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    params: &Params,
    items: &[(&'static str, Id)],
    operation_id: Id,
    batch: usize,
    now: Timestamp,
) -> AppResult<Vec<OperationRecordRow>> {
    let mut out = Vec::with_capacity(PREVIEW);
    for chunk in items.chunks(batch.max(PREVIEW)) {
        let chunk: Vec<(String, Id)> = chunk.iter().map(|(e, id)| ((*e).to_owned(), *id)).collect();
        for outcome in plan::plan(conn, viewer, params, &chunk, None, now).await? {
            if let Outcome::Write(write) = outcome {
                let seq = i32::try_from(out.len() + 1).unwrap_or(i32::MAX);
                out.push(write.record(operation_id, seq, &write.next));
                if out.len() == PREVIEW {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Which input field the item limit is about.
fn items_field(params: &Params) -> &'static str {
    match params {
        Params::UpdateTasks { .. } | Params::DeleteTasks { .. } => "input.filter",
        Params::Import { .. } => "input.importData",
        Params::ExportData { .. } => "exportMyData",
        _ => "input.projectId",
    }
}

/// The projects an operation names must be the viewer's and live.
async fn check_targets(conn: &mut Conn<'_>, viewer: &Viewer, params: &Params) -> AppResult<()> {
    // Tasks picked by a filter on one project: the viewer must write there.
    if let Params::UpdateTasks { filter, .. } | Params::DeleteTasks { filter } = params
        && let Some(id) = filter.project_id
    {
        reachable(conn, viewer, id, Reach::Live, Need::Write, || {
            AppError::NotFound("input.filter.projectId: project not found".into())
        })
        .await?;
    }
    let named = match params {
        Params::UpdateTasks { patch, .. } => patch
            .project_id
            .map(|id| ("input.patch.projectId", id, Need::Write)),
        Params::ArchiveProject { project_id } => {
            Some(("input.projectId", *project_id, Need::Write))
        }
        Params::DeleteProject { project_id } => {
            Some(("input.projectId", *project_id, Need::Manage))
        }
        Params::DeduplicateTasks { project_id } => {
            project_id.map(|id| ("input.projectId", id, Need::Write))
        }
        Params::Import { projects, tasks } => {
            // A task goes into a project of this import or one the viewer
            // may write.
            let outside: Vec<(String, Id)> = tasks
                .iter()
                .filter(|t| !projects.iter().any(|p| p.id == t.fields.project_id))
                .map(|t| (format!("{}.projectId", t.field), t.fields.project_id))
                .collect();
            let ids: Vec<Id> = outside.iter().map(|(_, id)| *id).collect();
            let found = project_store::find_projects_any(conn, viewer, &ids).await?;
            let roles = access::roles(conn, viewer, &ids).await?;
            for (field, id) in outside {
                if !found.iter().any(|p| p.id == id) {
                    return Err(AppError::bad_input(field, "project not found"));
                }
                let role = roles.iter().find(|(p, _)| *p == id).map(|(_, r)| *r);
                access::check(role, Need::Write, || {
                    AppError::bad_input(field.clone(), "project not found")
                })?;
            }
            None
        }
        _ => None,
    };
    if let Some((field, id, need)) = named {
        reachable(conn, viewer, id, Reach::Live, need, || {
            AppError::NotFound(format!("{field}: project not found"))
        })
        .await?;
    }
    Ok(())
}

/// Cancels the viewer's waiting or running operation; the work done stays.
pub async fn cancel(
    db: &Db,
    events: &EventBus,
    viewer: &Viewer,
    id: Id,
) -> AppResult<OperationRow> {
    let viewer = viewer.clone();
    let (row, outbox) = db
        .transaction(|mut conn| {
            async move {
                let conn = &mut conn;
                let current = store::find(conn, &viewer, id)
                    .await?
                    .ok_or_else(not_found)?;
                let active = [OperationStatus::Pending, OperationStatus::Running];
                let row = store::transition(
                    conn,
                    &viewer,
                    id,
                    &active,
                    OperationStatus::Cancelled,
                    Timestamp::now(),
                )
                .await?
                .ok_or_else(|| AppError::Conflict {
                    message: format!(
                        "The operation is {}; only a waiting or running one can be cancelled",
                        current.status
                    ),
                    current: None,
                })?;
                with_progress(conn, row).await
            }
            .scope_boxed()
        })
        .await?;
    events.flush(outbox);
    Ok(row)
}

/// Checks that the viewer's operation `id` can be undone.
pub async fn check_rollback(db: &Db, viewer: &Viewer, id: Id) -> AppResult<()> {
    let mut pooled = db.read().await?;
    let conn = &mut pooled.conn();
    let original = store::find(conn, viewer, id).await?.ok_or_else(not_found)?;
    let conflict = |message: &str| AppError::Conflict {
        message: message.to_owned(),
        current: None,
    };
    if original.dry_run {
        return Err(conflict("A dry run changed nothing to roll back"));
    }
    if original.kind == OperationKind::Rollback {
        return Err(conflict("A rollback can not be rolled back"));
    }
    if original.kind == OperationKind::ExportData {
        return Err(conflict("An export changed nothing to roll back"));
    }
    match original.status {
        OperationStatus::Completed | OperationStatus::Cancelled | OperationStatus::Failed => {}
        OperationStatus::RolledBack => {
            return Err(conflict("The operation is already rolled back"));
        }
        _ => {
            return Err(conflict(
                "The operation has not finished; cancel it or wait for it to finish",
            ));
        }
    }
    if store::active_rollback_of(conn, viewer, id).await? {
        return Err(conflict(
            "A rollback of this operation is already under way",
        ));
    }
    Ok(())
}
