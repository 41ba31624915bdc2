//! What a batch reads before it plans: the objects its items name (and the
//! projects they are in or go to), and what its kind needs besides.

use std::collections::{HashMap, HashSet};

use super::Batch;
use crate::access;
use crate::auth::Viewer;
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::AppResult;
use crate::operations::kinds::Params;
use crate::operations::model::{PROJECT, TASK};
use crate::operations::snapshot::TaskSnapshot;
use crate::operations::store;
use crate::projects::model::ProjectRow;
use crate::projects::store as project_store;
use crate::tasks::model::TaskRow;
use crate::tasks::store as task_store;

/// The ids of `items` that name an `entity`.
fn ids_of(items: &[(String, Id)], entity: &str) -> Vec<Id> {
    items
        .iter()
        .filter(|(e, _)| e == entity)
        .map(|(_, id)| *id)
        .collect()
}

impl<'v> Batch<'v> {
    /// Reads, in a few queries, everything planning `items` looks at.
    pub(super) async fn read(
        conn: &mut Conn<'_>,
        viewer: &'v Viewer,
        params: &Params,
        items: &[(String, Id)],
        range: Option<store::ItemRange>,
        now: Timestamp,
    ) -> AppResult<Self> {
        let task_ids = ids_of(items, TASK);
        let mut project_ids = ids_of(items, PROJECT);
        let found = match range {
            Some(range) => store::range_tasks(conn, viewer, range).await?,
            None => task_store::find_tasks_any(conn, viewer, &task_ids).await?,
        };
        let tasks: HashMap<Id, TaskRow> = found.into_iter().map(|t| (t.id, t)).collect();
        project_ids.extend(tasks.values().map(|t| t.project_id));
        if let Params::Import { tasks: changes, .. } = params {
            project_ids.extend(changes.iter().map(|t| t.fields.project_id));
        }
        if let Params::UpdateTasks { patch, .. } = params
            && let Some(target) = patch.project_id
        {
            project_ids.push(target);
        }
        project_ids.sort_unstable();
        project_ids.dedup();
        let projects: HashMap<Id, ProjectRow> =
            project_store::find_projects_any(conn, viewer, &project_ids)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
        let roles = access::roles(conn, viewer, &project_ids)
            .await?
            .into_iter()
            .collect();
        let mut batch = Batch {
            viewer,
            now,
            tasks,
            projects,
            roles,
            records: HashMap::new(),
            taken: HashSet::new(),
            members: HashSet::new(),
        };
        match params {
            Params::Rollback { of } => {
                let found = match range {
                    Some(range) => store::range_records(conn, *of, range).await?,
                    None => {
                        let ids: Vec<Id> = items.iter().map(|(_, id)| *id).collect();
                        store::records_of(conn, *of, &ids).await?
                    }
                };
                batch.records = found
                    .into_iter()
                    .map(|r| ((r.entity_type.clone(), r.entity_id), r))
                    .collect();
            }
            Params::Import { .. } => {
                let mut taken = store::task_ids_taken(conn, &task_ids).await?;
                taken.extend(store::project_ids_taken(conn, &project_ids).await?);
                batch.taken = taken.into_iter().collect();
            }
            _ => {}
        }
        batch.members = batch.assignee_members(conn, params).await?;
        Ok(batch)
    }

    /// Which of the assignees the batch may write are members of which of
    /// the projects it may write them in: those of the tasks read, of the
    /// patch, of the imported tasks and of the records a rollback restores.
    async fn assignee_members(
        &self,
        conn: &mut Conn<'_>,
        params: &Params,
    ) -> AppResult<HashSet<(Id, Id)>> {
        let mut users: Vec<Id> = self.tasks.values().filter_map(|t| t.assignee_id).collect();
        let mut projects: Vec<Id> = self.projects.keys().copied().collect();
        match params {
            Params::UpdateTasks { patch, .. } => users.extend(patch.assignee_id.flatten()),
            Params::Import { tasks, .. } => {
                users.extend(tasks.iter().filter_map(|t| t.fields.assignee_id));
            }
            Params::Rollback { .. } => {
                let restored = self
                    .records
                    .values()
                    .filter(|r| r.entity_type == TASK)
                    .filter_map(|r| r.before.as_ref())
                    .filter_map(|doc| TaskSnapshot::parse(doc).ok());
                for snapshot in restored {
                    users.extend(snapshot.assignee_id);
                    projects.push(snapshot.project_id);
                }
            }
            _ => {}
        }
        users.sort_unstable();
        users.dedup();
        projects.sort_unstable();
        projects.dedup();
        Ok(access::memberships(conn, &projects, &users)
            .await?
            .into_iter()
            .collect())
    }
}
