//! The pull: the viewer's project and task rows with a `seq` above a cursor,
//! tombstones included, in `seq` order.
//!
//! Every query is bounded by a watermark: the committed value of the
//! viewer's change counter, read first. A writer holds the counter row from
//! its reservation to its commit, so every row with a `seq` at or below the
//! committed value is already visible, and a row written later gets a
//! higher `seq`. Rows read in separate statements therefore never let the
//! cursor pass a change that is still to commit.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{change_counters, projects, tasks};
use crate::db_run;
use crate::error::AppResult;
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;

/// Changes one page holds when the client does not say.
pub const DEFAULT_PAGE: usize = 500;
/// Most changes one page holds.
pub const MAX_PAGE: usize = 1000;

/// One page of changes, and the `seq` to continue after.
#[derive(Debug, Clone)]
pub struct Changes {
    pub projects: Vec<ProjectRow>,
    pub tasks: Vec<TaskRow>,
    pub last_seq: i64,
    pub has_more: bool,
}

/// The committed value of the viewer's change counter.
pub async fn watermark(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<i64> {
    let value: Option<i64> = db_run!(conn, |c| {
        change_counters::table
            .filter(change_counters::owner_id.eq(viewer.user_id))
            .select(change_counters::value)
            .first(c)
            .await
            .optional()
    })?;
    Ok(value.unwrap_or(0))
}

/// At most `first` of the viewer's changes with a `seq` above `since`.
pub async fn changes_since(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    since: i64,
    first: usize,
) -> AppResult<Changes> {
    let high = watermark(conn, viewer).await?;
    let limit = i64::try_from(first + 1).unwrap_or(i64::MAX);
    let project_rows: Vec<ProjectRow> = db_run!(conn, |c| {
        projects::table
            .filter(projects::owner_id.eq(viewer.user_id))
            .filter(projects::seq.gt(since))
            .filter(projects::seq.le(high))
            .order(projects::seq.asc())
            .limit(limit)
            .select(ProjectRow::as_select())
            .load(c)
            .await
    })?;
    let task_rows: Vec<TaskRow> = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::owner_id.eq(viewer.user_id))
            .filter(tasks::seq.gt(since))
            .filter(tasks::seq.le(high))
            .order(tasks::seq.asc())
            .limit(limit)
            .select(TaskRow::as_select())
            .load(c)
            .await
    })?;
    Ok(merge(project_rows, task_rows, since.max(high), first))
}

/// The first `first` rows of both lists by `seq`. With nothing left over
/// the page ends at the watermark `high`.
fn merge(projects: Vec<ProjectRow>, tasks: Vec<TaskRow>, high: i64, first: usize) -> Changes {
    let mut out = Changes {
        projects: Vec::new(),
        tasks: Vec::new(),
        last_seq: high,
        has_more: false,
    };
    let mut projects = projects.into_iter().peekable();
    let mut tasks = tasks.into_iter().peekable();
    let mut taken = 0;
    loop {
        let next_project = projects.peek().map(|p| p.seq);
        let next_task = tasks.peek().map(|t| t.seq);
        let take_project = match (next_project, next_task) {
            (None, None) => return out,
            (Some(p), Some(t)) => p <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if taken == first {
            out.has_more = true;
            return out;
        }
        if take_project {
            if let Some(row) = projects.next() {
                out.last_seq = row.seq;
                out.projects.push(row);
            }
        } else if let Some(row) = tasks.next() {
            out.last_seq = row.seq;
            out.tasks.push(row);
        }
        taken += 1;
    }
}
