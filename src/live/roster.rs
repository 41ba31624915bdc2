//! Who may receive a project's events on this instance: each project's
//! members and their roles, read from the database when first needed and
//! then kept current by the membership events themselves, which reach the
//! hub in commit order with every other change. A delivery checks the
//! roster at the moment it delivers, so a member removed receives nothing
//! of the project after its removal, on every instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::access::ProjectRole;
use crate::db::Db;
use crate::db::schema::project_members;
use crate::db::types::Id;
use crate::db_run;
use crate::error::AppResult;
use crate::events::changes::{Change, ChangeType};

/// Projects whose members one instance remembers at most; past it the
/// roster starts over (and reads again what it needs).
const MAX_PROJECTS: usize = 50_000;

/// A project's members, by user.
pub type Members = Arc<HashMap<Id, ProjectRole>>;

#[derive(Default)]
pub struct Roster {
    projects: Mutex<HashMap<Id, Members>>,
}

impl Roster {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Members>> {
        self.projects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The members of `project`, read from the database if not known.
    pub async fn members(&self, db: &Db, project: Id) -> AppResult<Members> {
        if let Some(members) = self.lock().get(&project) {
            return Ok(members.clone());
        }
        let mut pooled = db.read().await?;
        let mut conn = pooled.conn();
        let conn = &mut conn;
        let rows: Vec<(Id, ProjectRole)> = db_run!(conn, |c| {
            project_members::table
                .filter(project_members::project_id.eq(project))
                .select((project_members::user_id, project_members::role))
                .load(c)
                .await
        })?;
        let members: Members = Arc::new(rows.into_iter().collect());
        let mut projects = self.lock();
        if projects.len() >= MAX_PROJECTS {
            projects.clear();
        }
        // A membership event applied meanwhile is newer than this read.
        Ok(projects.entry(project).or_insert(members).clone())
    }

    /// Is `user` a member of `project` now? (Unknown projects: no.)
    pub fn is_member(&self, project: Id, user: Id) -> bool {
        self.lock()
            .get(&project)
            .is_some_and(|members| members.contains_key(&user))
    }

    /// Applies a membership change; returns the user who lost the project,
    /// if it is a removal.
    pub fn apply(&self, change: &Change) -> Option<Id> {
        let member = change.member.as_ref()?;
        let mut projects = self.lock();
        let known = projects.get_mut(&change.project_id);
        match change.change_type {
            ChangeType::MemberRemoved => {
                if let Some(members) = known {
                    Arc::make_mut(members).remove(&member.user_id);
                }
                Some(member.user_id)
            }
            _ => {
                if let Some(members) = known {
                    Arc::make_mut(members).insert(member.user_id, member.role);
                }
                None
            }
        }
    }

    /// Forgets everything (events may have been missed).
    pub fn clear(&self) {
        self.lock().clear();
    }
}
