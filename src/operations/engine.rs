//! The worker: claims operations and runs them in batches.
//!
//! One batch is one transaction: hold the operation (it must still be
//! RUNNING and claimed by this worker; this also beats the heartbeat and
//! locks its row, so a cancel waits for the batch or wins before it), plan
//! the next items, write them with fresh `seq`s, insert their records,
//! save the counters and stage the events. The position of the next batch
//! is `processed + skipped + failed`, saved with it, so a resumed run starts
//! exactly after the last committed batch.
//!
//! Claims: an operation that waits, one this worker runs, or one that runs
//! with a heartbeat older than `TASKLANE_OPERATION_STALE_SECS`. A claim is
//! one turn of one batch, given to the operation served least recently, so
//! runnable operations (of every owner) take turns batch by batch: one
//! owner's 100,000-item job holds another's 1-item job back by one batch.
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so instances share the
//! queue; SQLite has one worker per file, which at start takes back
//! whatever an earlier process left RUNNING. A stopping worker hands what
//! it holds back to the queue.

use std::collections::HashMap;
use std::time::Duration;

use scoped_futures::ScopedFutureExt as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::kinds::{OperationKind, OperationStatus, Params};
use super::model::{OperationRecordRow, OperationRow};
use super::plan::{self, Object, Outcome};
use super::start::progress;
use super::store;
use super::stored;
use crate::auth::{Scope, Viewer};
use crate::config::{OperationLimits, Quotas};
use crate::db::types::{Id, Timestamp};
use crate::db::{Backend, Conn, Db, PoolSettings};
use crate::error::{AppError, AppResult};
use crate::events::changes::{Change, OPERATIONS, Progress, stage_changes};
use crate::events::{EventBus, Outbox};
use crate::export::worker as export_worker;
use crate::projects::store as project_store;
use crate::projects::writes as project_writes;
use crate::quotas::{self, Usage};
use crate::sync::counter::{self, Streams};
use crate::tasks::model::TaskRow;
use crate::tasks::store as task_store;
use crate::tasks::writes as task_writes;

/// Attempts at a batch that failed for a reason other than its data.
const ATTEMPTS: u32 = 3;

/// The running worker; [`Worker::stop`] ends it between batches.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts the worker. On PostgreSQL it has a small pool of its own, so
    /// its polling never queues behind requests; on SQLite it shares the
    /// one writer.
    pub async fn start(
        db: &Db,
        events: EventBus,
        limits: OperationLimits,
        quotas: Quotas,
        pool: &PoolSettings,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let db = match db.backend() {
            Backend::Sqlite => db.clone(),
            Backend::Postgres => {
                let own = PoolSettings {
                    size: 2,
                    ..pool.clone()
                };
                Db::connect(db.url(), &own).unwrap_or_else(|err| {
                    tracing::warn!(error = ?err, "the operation worker shares the request pool");
                    db.clone()
                })
            }
        };
        // Open the worker's connection now, while the server starts: its
        // first claim then never opens (on SQLite: creates) the database
        // file later.
        if let Err(err) = db.write().await {
            tracing::warn!(error = ?err, "the operation worker has no connection yet");
        }
        let wake = events.subscribe(OPERATIONS);
        let runner = Runner {
            db,
            events,
            limits,
            quotas,
            id: Id::new(),
            stopped,
            wake,
        };
        let task = tokio::spawn(runner.run());
        Self { stop, task }
    }

    /// Asks the worker to stop after its current batch, and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The viewer an operation runs as: its owner.
pub fn owner(row: &OperationRow) -> Viewer {
    Viewer {
        user_id: row.owner_id,
        session_id: None,
        api_key_id: None,
        scopes: vec![Scope::Read, Scope::Write],
    }
}

struct Runner {
    db: Db,
    events: EventBus,
    limits: OperationLimits,
    quotas: Quotas,
    /// This worker, as `claimed_by`.
    id: Id,
    stopped: watch::Receiver<bool>,
    /// Operation events (any instance's): new work may be waiting.
    wake: crate::events::Subscription,
}

enum Step {
    /// A batch committed; more may follow.
    Continue,
    /// Finished, cancelled, or no longer ours.
    Done,
}

impl Runner {
    fn stopping(&self) -> bool {
        *self.stopped.borrow()
    }

    async fn run(mut self) {
        tracing::info!(worker = %self.id, "operation worker started");
        while !self.stopping() {
            match self.claim().await {
                Ok(Some((claimed, now))) => {
                    // Its first turn: it went from PENDING to RUNNING (both
                    // backends keep microseconds).
                    let micros = |t: Timestamp| t.get().timestamp_micros();
                    if claimed.started_at.map(micros) == Some(micros(now)) {
                        let progress = Progress {
                            id: claimed.id,
                            owner_id: claimed.owner_id,
                        };
                        if let Err(err) = self
                            .events
                            .publish(OPERATIONS, serde_json::json!(progress))
                            .await
                        {
                            tracing::warn!(error = ?err, "publishing an operation's start failed");
                        }
                    }
                    self.turn(claimed.id).await;
                }
                Ok(None) => {
                    // SQLite has no other instance: only its own new work
                    // (announced on the bus) can appear. PostgreSQL also
                    // polls for work a stopped instance left behind.
                    let poll = async {
                        match self.db.backend() {
                            Backend::Postgres => tokio::time::sleep(self.limits.poll).await,
                            Backend::Sqlite => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        () = poll => {}
                        _ = self.wake.recv() => {}
                        _ = self.stopped.changed() => {}
                    }
                    // One look covers every event that piled up meanwhile.
                    while let Ok(Some(_)) =
                        tokio::time::timeout(Duration::ZERO, self.wake.recv()).await
                    {
                    }
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "claiming an operation failed");
                    tokio::time::sleep(self.limits.poll.max(Duration::from_millis(500))).await;
                }
            }
        }
        // Stopping between batches: hand back what this worker holds.
        let worker = self.id;
        let released = async {
            let mut pooled = self.db.write().await?;
            store::release(&mut pooled.conn(), worker).await?;
            pooled.commit().await
        };
        if let Err(err) = released.await {
            tracing::warn!(error = ?err, "releasing operations failed");
        }
        tracing::info!(worker = %self.id, "operation worker stopped");
    }

    async fn claim(&self) -> AppResult<Option<(store::Claimed, Timestamp)>> {
        let now = Timestamp::now();
        let stale = chrono::Duration::from_std(self.limits.stale_after)
            .unwrap_or_else(|_| chrono::Duration::seconds(30));
        let stale_before = Timestamp::from(now.get() - stale);
        let worker = self.id;
        let mut pooled = self.db.write().await?;
        let claimed = store::claim(&mut pooled.conn(), worker, stale_before, now).await?;
        pooled.commit().await?;
        Ok(claimed.map(|claimed| (claimed, now)))
    }

    /// One turn of the claimed operation: one batch (retried on a passing
    /// failure). Then it goes to the back of the queue (see
    /// [`store::claim`]), so operations take turns batch by batch.
    async fn turn(&self, id: Id) {
        tracing::debug!(operation = %id, "running a batch");
        let mut failures = 0;
        while !self.stopping() {
            match self.batch(id).await {
                Ok(Step::Continue | Step::Done) => return,
                // The batch was rolled back; the data decides, no retry.
                Err(err @ AppError::QuotaExceeded { .. }) => {
                    let message = async_graphql::Error::from(err).message;
                    self.fail(id, message).await;
                    return;
                }
                Err(err) => {
                    failures += 1;
                    tracing::error!(operation = %id, error = ?err, attempt = failures, "operation batch failed");
                    if failures >= ATTEMPTS {
                        self.fail(id, "The operation stopped on an internal error".into())
                            .await;
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(failures))).await;
                }
            }
        }
    }

    /// Ends the operation as FAILED with `message` (shown to its owner).
    async fn fail(&self, id: Id, message: String) {
        let worker = self.id;
        let result = self
            .db
            .transaction(|mut conn| {
                async move {
                    let mut outbox = Outbox::default();
                    let now = Timestamp::now();
                    if let Some(row) = store::hold(&mut conn, id, worker, now).await? {
                        store::finish(&mut conn, id, OperationStatus::Failed, Some(message), now)
                            .await?;
                        progress(&mut conn, &mut outbox, &row).await?;
                    }
                    Ok(outbox)
                }
                .scope_boxed()
            })
            .await;
        match result {
            Ok(outbox) => self.events.flush(outbox),
            Err(err) => {
                tracing::error!(operation = %id, error = ?err, "marking an operation failed")
            }
        }
    }

    async fn batch(&self, id: Id) -> AppResult<Step> {
        let worker = self.id;
        let size = i64::try_from(self.limits.batch_size).unwrap_or(500);
        let quotas = self.quotas;
        let (step, outbox) = self
            .db
            .transaction(|mut conn| {
                async move {
                    let mut outbox = Outbox::default();
                    let step = run_batch(&mut conn, &mut outbox, id, worker, size, &quotas).await?;
                    Ok((step, outbox))
                }
                .scope_boxed()
            })
            .await?;
        self.events.flush(outbox);
        Ok(step)
    }
}

/// One batch of the held operation `id`, inside the caller's transaction.
async fn run_batch(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    id: Id,
    worker: Id,
    size: i64,
    quotas: &Quotas,
) -> AppResult<Step> {
    let now = Timestamp::now();
    let Some(mut op) = store::hold(conn, id, worker, now).await? else {
        return Ok(Step::Done);
    };
    let viewer = owner(&op);
    // Orders this batch among the owner's writes, before reading anything.
    counter::lock(conn, &viewer).await?;
    let params = stored::decode(op.id, &op.params)?;
    if let Params::ExportData { max_bytes } = params {
        // Writes no object: its batches copy tasks into the export.
        return Ok(
            match export_worker::batch(conn, outbox, &viewer, op, size, max_bytes, now).await? {
                export_worker::Step::Continue => Step::Continue,
                export_worker::Step::Done => Step::Done,
            },
        );
    }
    let position = op.processed + op.skipped + op.failed;
    let items = store::items(conn, id, position, size).await?;
    if items.is_empty() {
        complete(conn, outbox, op, &params, now).await?;
        return Ok(Step::Done);
    }
    let range = store::ItemRange {
        operation_id: id,
        from: position,
        to: items.last().map_or(position, |i| i.idx + 1),
    };
    let items: Vec<(String, Id)> = items
        .into_iter()
        .map(|i| (i.entity_type, i.entity_id))
        .collect();
    let outcomes = plan::plan(conn, &viewer, &params, &items, Some(range), now).await?;
    let (records, changes) = write(conn, &viewer, &mut op, outcomes, now).await?;
    // What this batch stores, against the owner's quotas: over one, the
    // batch rolls back and the operation fails (see `Runner::turn`).
    let created = Usage::created(&changes) + Usage::operation_records(records.len());
    let quotas = super::start::quotas_for(&params, quotas);
    quotas::charge(conn, &viewer, &quotas, created).await?;
    stage_changes(conn, outbox, &changes).await?;
    store::insert_records(conn, &records).await?;
    store::save_counters(conn, &op).await?;
    progress(conn, outbox, &op).await?;
    Ok(Step::Continue)
}

/// Ends the held operation `op`, all its items done (and marks the
/// original of a rollback).
async fn complete(
    conn: &mut Conn<'_>,
    outbox: &mut Outbox,
    op: OperationRow,
    params: &Params,
    now: Timestamp,
) -> AppResult<()> {
    store::finish(conn, op.id, OperationStatus::Completed, None, now).await?;
    progress(conn, outbox, &op).await?;
    if let Params::Rollback { of } = *params
        && op.kind == OperationKind::Rollback
    {
        store::mark_rolled_back(conn, of).await?;
        let original = OperationRow { id: of, ..op };
        progress(conn, outbox, &original).await?;
    }
    Ok(())
}

/// Writes the planned outcomes of a batch with fresh `seq`s and counts
/// them into `op`; returns their records and change events.
async fn write(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    op: &mut OperationRow,
    outcomes: Vec<Outcome>,
    now: Timestamp,
) -> AppResult<(Vec<OperationRecordRow>, Vec<Change>)> {
    let planned: Vec<&plan::Write> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Write(write) => Some(write),
            _ => None,
        })
        .collect();
    let writes = planned.len();
    let mut streams = Streams::reserve(conn, &plan::streams_of(&planned)).await?;
    let mut records = Vec::with_capacity(writes);
    let mut changes = Vec::with_capacity(writes);
    // Task updates (most of any batch) are written together at the end:
    // the write, the record's number, and the row with its base version.
    let mut task_updates = Vec::new();
    let mut task_rows = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Skip => op.skipped += 1,
            Outcome::Fail(reason) => {
                tracing::debug!(operation = %op.id, reason, "operation item failed");
                op.failed += 1;
            }
            Outcome::Write(write) => {
                op.processed += 1;
                if let (Some(Object::Task(current)), Object::Task(next)) =
                    (&write.current, &write.next)
                {
                    let mut next = next.clone();
                    next.version = current.version + 1;
                    next.seq = streams.next(conn, next.project_id).await?;
                    next.updated_at = now;
                    next.updated_by = Some(viewer.user_id);
                    if next.project_id != current.project_id {
                        let seq = streams.next(conn, current.project_id).await?;
                        task_store::mark_departure(conn, current.project_id, current.id, seq)
                            .await?;
                    }
                    task_rows.push((next, current.version));
                    task_updates.push((write, op.processed));
                } else {
                    let written = apply(conn, viewer, &write, &mut streams, now).await?;
                    records.push(write.record(op.id, op.processed, &written));
                    changes.push(written.change(write.change_type()));
                }
            }
        }
    }
    if !task_rows.is_empty() {
        let mut written: HashMap<Id, TaskRow> = task_store::write_tasks(conn, viewer, &task_rows)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        for (write, number) in task_updates {
            let Some(Object::Task(current)) = &write.current else {
                continue;
            };
            let row = written
                .remove(&current.id)
                .ok_or_else(|| task_writes::conflict(current, current.version))?;
            let row = Object::Task(row);
            records.push(write.record(op.id, number, &row));
            changes.push(row.change(write.change_type()));
        }
    }
    Ok((records, changes))
}

/// Writes one planned insert, or a project update, with the next `seq` of
/// its project's stream; returns the row as stored.
async fn apply(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    write: &plan::Write,
    streams: &mut Streams,
    now: Timestamp,
) -> AppResult<Object> {
    // Task updates are written together by `run_batch`, not here.
    Ok(match (&write.current, &write.next) {
        (None, Object::Task(next)) => {
            let mut row = next.clone();
            row.seq = streams.next(conn, row.project_id).await?;
            Object::Task(task_store::insert_task(conn, viewer, &row, "importData.tasks").await?)
        }
        (Some(Object::Project(current)), Object::Project(next)) => {
            let mut row = next.clone();
            row.version = current.version + 1;
            row.seq = streams.next(conn, row.id).await?;
            row.updated_at = now;
            let written = project_store::write_project(conn, viewer, &row, current.version)
                .await?
                .ok_or_else(|| project_writes::conflict(current, current.version))?;
            Object::Project(written)
        }
        (None, Object::Project(next)) => Object::Project(
            // The first change of its own stream.
            project_store::insert_project(conn, viewer, next, "importData.projects").await?,
        ),
        _ => {
            return Err(AppError::internal(
                "a planned write changes the kind of object",
            ));
        }
    })
}
