//! The pull: the rows of every project the viewer is a member of whose
//! `seq` is above the cursor's for that project, tombstones included, in
//! (project, `seq`) order; the projects it has lost since; and the tasks
//! that left its projects for ones it can not see.
//!
//! Each project is a change stream (see `counter.rs`). Every query is
//! bounded by a watermark per project: its `last_seq` as committed, read
//! first with the viewer's memberships. A writer holds the project row
//! from its reservation to its commit, so every row with a `seq` at or
//! below the committed value is already visible, and a row written later
//! gets a higher `seq`. Rows read in separate statements therefore never
//! let the cursor pass a change that is still to commit — whoever the
//! writer was.
//!
//! A project the cursor does not name starts at 0: a member who was just
//! granted access receives the project and all its tasks in its next pull.
//! A project the cursor names that the viewer is no longer a member of is
//! reported in `revoked` and left out of the next cursor.

use std::collections::{BTreeMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::cursor::Position;
use crate::access::{Need, visible_projects};
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{project_members, projects, tasks};
use crate::db::sql::{Bind, SqlBuilder};
use crate::db::types::Id;
use crate::db_run;
use crate::error::AppResult;
use crate::projects::model::ProjectRow;
use crate::tasks::model::TaskRow;

/// Changes one page holds when the client does not say.
pub const DEFAULT_PAGE: usize = 500;
/// Most changes one page holds.
pub const MAX_PAGE: usize = 1000;

/// One page of changes, and the position to continue after.
#[derive(Debug, Clone)]
pub struct Changes {
    pub projects: Vec<ProjectRow>,
    pub tasks: Vec<TaskRow>,
    /// Projects the cursor named that the viewer may no longer see.
    pub revoked: Vec<Id>,
    /// Tasks that left one of the viewer's projects for one it can not see.
    pub departed: Vec<Id>,
    pub position: Position,
    pub has_more: bool,
}

/// A task's move out of a project, at `seq` of that project's stream.
#[derive(Debug, Clone, QueryableByName)]
struct Departure {
    #[diesel(sql_type = crate::db::types::DbUuid)]
    project_id: Id,
    #[diesel(sql_type = crate::db::types::DbUuid)]
    task_id: Id,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// The committed `last_seq` of every project the viewer is a member of.
pub async fn watermarks(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<BTreeMap<Id, i64>> {
    let found: Vec<(Id, i64)> = db_run!(conn, |c| {
        project_members::table
            .inner_join(projects::table)
            .filter(project_members::user_id.eq(viewer.user_id))
            .select((projects::id, projects::last_seq))
            .load(c)
            .await
    })?;
    Ok(found.into_iter().collect())
}

/// The part of each project's stream a pull reads: above `since`, at or
/// below the watermark.
#[derive(Debug, Clone, Copy)]
struct Range {
    project: Id,
    since: i64,
    high: i64,
}

/// Pushes `(<project> = p AND <seq> > since AND <seq> <= high) OR …`.
fn push_ranges(b: &mut SqlBuilder, project: &str, seq: &str, ranges: &[Range]) {
    b.push("(");
    for (i, range) in ranges.iter().enumerate() {
        if i > 0 {
            b.push(" OR ");
        }
        b.push("(")
            .push(project)
            .push(" = ")
            .bind(Bind::Id(range.project))
            .push(" AND ")
            .push(seq)
            .push(" > ")
            .bind(Bind::I64(range.since))
            .push(" AND ")
            .push(seq)
            .push(" <= ")
            .bind(Bind::I64(range.high))
            .push(")");
    }
    b.push(")");
}

/// At most `first` of the viewer's changes after `since`.
pub async fn changes_since(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    since: &Position,
    first: usize,
) -> AppResult<Changes> {
    let highs = watermarks(conn, viewer).await?;
    let revoked: Vec<Id> = since
        .keys()
        .filter(|id| !highs.contains_key(id))
        .copied()
        .collect();
    let ranges: Vec<Range> = highs
        .iter()
        .map(|(project, high)| Range {
            project: *project,
            since: since.get(project).copied().unwrap_or(0),
            high: *high,
        })
        .filter(|r| r.since < r.high)
        .collect();
    let mut position: Position = highs
        .keys()
        .map(|id| (*id, since.get(id).copied().unwrap_or(0)))
        .collect();
    let empty = Changes {
        projects: Vec::new(),
        tasks: Vec::new(),
        revoked,
        departed: Vec::new(),
        position: Position::new(),
        has_more: false,
    };
    if ranges.is_empty() {
        return Ok(Changes { position, ..empty });
    }
    let limit = i64::try_from(first + 1).unwrap_or(i64::MAX);
    let ids: Vec<Id> = ranges.iter().map(|r| r.project).collect();
    let project_rows: Vec<ProjectRow> = db_run!(conn, |c| {
        projects::table
            .filter(projects::id.eq_any(&ids))
            .filter(projects::id.eq_any(visible_projects(viewer.user_id)))
            .order(projects::id.asc())
            .select(ProjectRow::as_select())
            .load(c)
            .await
    })?;
    let project_rows: Vec<ProjectRow> = project_rows
        .into_iter()
        .filter(|p| {
            ranges
                .iter()
                .any(|r| r.project == p.id && p.seq > r.since && p.seq <= r.high)
        })
        .collect();
    let mut b = SqlBuilder::new(conn.backend());
    b.push(crate::tasks::list::select_task_columns())
        .push(" FROM tasks t WHERE ");
    push_ranges(&mut b, "t.project_id", "t.seq", &ranges);
    b.push(" AND ");
    crate::access::push_guard(
        &mut b,
        crate::db::sql::SqlColumn::of::<tasks::project_id>(Some("t")),
        viewer,
        Need::Read,
    );
    b.push(" ORDER BY t.project_id, t.seq LIMIT ")
        .bind(Bind::I64(limit));
    let task_rows: Vec<TaskRow> = b.load(conn).await?;
    let mut b = SqlBuilder::new(conn.backend());
    b.push("SELECT d.project_id AS project_id, d.task_id AS task_id, d.seq AS seq FROM task_departures d WHERE ");
    push_ranges(&mut b, "d.project_id", "d.seq", &ranges);
    b.push(" ORDER BY d.project_id, d.seq LIMIT ")
        .bind(Bind::I64(limit));
    let departures: Vec<Departure> = b.load(conn).await?;
    let page = merge(project_rows, task_rows, departures, first);
    // Where each project stands after this page: past its watermark if the
    // page went past it, at the last row taken where the page ended.
    for range in &ranges {
        let at = match page.end {
            Some((project, seq)) if project == range.project => seq,
            Some((project, _)) if project < range.project => range.since,
            _ => range.high,
        };
        position.insert(range.project, at);
    }
    let departed = still_hidden(conn, viewer, page.departed).await?;
    Ok(Changes {
        projects: page.projects,
        tasks: page.tasks,
        departed,
        position,
        has_more: page.end.is_some(),
        ..empty
    })
}

/// The tasks of `departed` the viewer can not see now (one that came back,
/// or moved to another project of the viewer's, arrives as a row).
async fn still_hidden(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    departed: Vec<Id>,
) -> AppResult<Vec<Id>> {
    if departed.is_empty() {
        return Ok(departed);
    }
    let seen: HashSet<Id> = db_run!(conn, |c| {
        tasks::table
            .filter(tasks::id.eq_any(&departed))
            .filter(tasks::project_id.eq_any(visible_projects(viewer.user_id)))
            .select(tasks::id)
            .load::<Id>(c)
            .await
    })?
    .into_iter()
    .collect();
    Ok(departed
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect())
}

/// The first `first` items of the three lists by (project, `seq`).
struct Page {
    projects: Vec<ProjectRow>,
    tasks: Vec<TaskRow>,
    departed: Vec<Id>,
    /// Where the page ended, when more items wait: the last item's
    /// (project, `seq`).
    end: Option<(Id, i64)>,
}

fn merge(
    projects: Vec<ProjectRow>,
    tasks: Vec<TaskRow>,
    departures: Vec<Departure>,
    first: usize,
) -> Page {
    let mut out = Page {
        projects: Vec::new(),
        tasks: Vec::new(),
        departed: Vec::new(),
        end: None,
    };
    let mut projects = projects.into_iter().peekable();
    let mut tasks = tasks.into_iter().peekable();
    let mut departures = departures.into_iter().peekable();
    let mut last = None;
    for _ in 0..=first {
        let keys = [
            projects.peek().map(|p| (p.id, p.seq)),
            tasks.peek().map(|t| (t.project_id, t.seq)),
            departures.peek().map(|d| (d.project_id, d.seq)),
        ];
        let Some((which, key)) = keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|k| (i, k)))
            .min_by_key(|(_, k)| *k)
        else {
            return out;
        };
        if out.projects.len() + out.tasks.len() + out.departed.len() == first {
            out.end = last;
            return out;
        }
        last = Some(key);
        match which {
            0 => out.projects.extend(projects.next()),
            1 => out.tasks.extend(tasks.next()),
            _ => out.departed.extend(departures.next().map(|d| d.task_id)),
        }
    }
    out
}
