//! Change counters. Each project is a change stream: [`Streams`] bumps its
//! `last_seq` inside every writing transaction, and the new values are the
//! `seq`s of the rows the transaction writes there. Each user also has a
//! counter row, which [`lock`] takes to order that user's own writers.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::schema::{change_counters, projects};
use crate::db::types::Id;
use crate::db_run;
use crate::error::{AppError, AppResult};

/// Takes the viewer's counter row without reserving anything, so that what
/// the transaction reads next is not changed by another of the viewer's
/// writers before it commits.
pub async fn lock(conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<()> {
    let found: Option<i64> = db_run!(conn, |c| {
        diesel::update(change_counters::table.filter(change_counters::owner_id.eq(viewer.user_id)))
            .set(change_counters::value.eq(change_counters::value))
            .returning(change_counters::value)
            .get_result(c)
            .await
            .optional()
    })?;
    found
        .map(|_| ())
        .ok_or_else(|| AppError::unauthenticated("Account no longer exists"))
}

/// `seq`s reserved in projects' change streams (each project is one: its
/// `last_seq`), handed out one write at a time. Reserving takes each
/// project's row until the commit, so a later `seq` of a project never
/// commits before an earlier one; the rows are taken in id order, so two
/// writers of the same projects can not deadlock.
#[derive(Debug, Default)]
pub struct Streams {
    next: HashMap<Id, (i64, i64)>,
}

impl Streams {
    /// Reserves `count` `seq`s in each project of `counts`. A project that
    /// does not exist reserves nothing: a write there fails its guard.
    pub async fn reserve(conn: &mut Conn<'_>, counts: &BTreeMap<Id, usize>) -> AppResult<Self> {
        let mut next = HashMap::with_capacity(counts.len());
        for (project, count) in counts {
            let count = i64::try_from((*count).max(1))
                .map_err(|_| AppError::internal("too many sequence numbers at once"))?;
            let project = *project;
            let last: Option<i64> = db_run!(conn, |c| {
                diesel::update(projects::table.filter(projects::id.eq(project)))
                    .set(projects::last_seq.eq(projects::last_seq + count))
                    .returning(projects::last_seq)
                    .get_result(c)
                    .await
                    .optional()
            })?;
            if let Some(last) = last {
                next.insert(project, (last - count + 1, last));
            }
        }
        Ok(Self { next })
    }

    /// Reserves `count` `seq`s in one project.
    pub async fn reserve_one(conn: &mut Conn<'_>, project: Id, count: usize) -> AppResult<Self> {
        Self::reserve(conn, &BTreeMap::from([(project, count)])).await
    }

    /// The next reserved `seq` of `project`; one more is reserved when
    /// none is left (a write the caller could not foresee, e.g. a task
    /// moved by another writer since it was read).
    pub async fn next(&mut self, conn: &mut Conn<'_>, project: Id) -> AppResult<i64> {
        if let Some(seq) = self.take(project) {
            return Ok(seq);
        }
        let more = Self::reserve_one(conn, project, 1).await?;
        self.next.extend(more.next);
        self.take(project)
            .ok_or_else(|| AppError::NotFound("Project not found".into()))
    }

    /// The next reserved `seq` of `project`, if one is left.
    pub fn take(&mut self, project: Id) -> Option<i64> {
        let slot = self.next.get_mut(&project)?;
        if slot.0 > slot.1 {
            return None;
        }
        slot.0 += 1;
        Some(slot.0 - 1)
    }
}

/// Counts, per project, the writes of `projects` (one each).
pub fn per_project(projects: impl IntoIterator<Item = Id>) -> BTreeMap<Id, usize> {
    let mut counts = BTreeMap::new();
    for project in projects {
        *counts.entry(project).or_insert(0) += 1;
    }
    counts
}
