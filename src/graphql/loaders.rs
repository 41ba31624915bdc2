//! Loaders, made for each request (so no cache outlives its viewer), one
//! per relation: project by id, a project's owner and a user the viewer
//! may see (DataLoaders), a page
//! of tasks per project (one window-function query for every parent),
//! task counts per project, and a page of members and member counts per
//! project (sibling batches). Each runs its store function with the
//! request's viewer.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use super::ContextExt;
use crate::auth::Viewer;
use crate::db::Db;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::Page;
use crate::members::list::{self as member_list, MemberPageQuery};
use crate::members::model::MemberRow;
use crate::projects::model::ProjectRow;
use crate::projects::store as project_store;
use crate::tasks::list::{self as task_list, ListedTask, TaskFilterSpec, TaskListQuery};
use crate::users::User;
use crate::users::store as user_store;

struct Scope {
    db: Db,
    viewer: Viewer,
}

/// The loaders of one request; each remembers what it loaded until the
/// request ends.
pub struct Loaders {
    scope: Arc<Scope>,
    pub projects: DataLoader<ProjectLoader, HashMapCache>,
    pub owners: DataLoader<OwnerLoader, HashMapCache>,
    /// Users the viewer may see, by id (a task's assignee, creator, last
    /// writer).
    pub users: DataLoader<UserLoader, HashMapCache>,
    /// Owners, roles and members (`crate::members`).
    pub members: crate::members::loaders::MemberLoaders,
    project_tasks: SiblingBatch<TaskListQuery, Page<ListedTask>>,
    task_counts: SiblingBatch<TaskFilterSpec, i64>,
    project_members: SiblingBatch<MemberPageQuery, Page<(MemberRow, User)>>,
    member_counts: SiblingBatch<(), u64>,
}

impl Loaders {
    /// Loaders that remember nothing, for a subscription: its events must
    /// show each related object as it is when the event is sent.
    pub fn uncached(db: Db, viewer: Viewer) -> Self {
        let loaders = Self::new(db, viewer);
        loaders.projects.enable_all_cache(false);
        loaders.owners.enable_all_cache(false);
        loaders.users.enable_all_cache(false);
        loaders.members.disable_cache();
        loaders
    }

    pub fn new(db: Db, viewer: Viewer) -> Self {
        let members = crate::members::loaders::MemberLoaders::new(db.clone(), viewer.clone());
        let scope = Arc::new(Scope { db, viewer });
        Self {
            projects: DataLoader::with_cache(
                ProjectLoader(scope.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            owners: DataLoader::with_cache(
                OwnerLoader(scope.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            users: DataLoader::with_cache(
                UserLoader(scope.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            members,
            project_tasks: SiblingBatch::default(),
            task_counts: SiblingBatch::default(),
            project_members: SiblingBatch::default(),
            member_counts: SiblingBatch::default(),
            scope,
        }
    }

    /// The page of tasks `query` selects in each of `siblings` (the projects
    /// listed beside the one asking), loaded once for all of them with one
    /// window-function query.
    pub async fn project_tasks(
        &self,
        siblings: &Arc<[Id]>,
        query: TaskListQuery,
    ) -> AppResult<Arc<HashMap<Id, Page<ListedTask>>>> {
        let scope = &self.scope;
        self.project_tasks
            .get(siblings, query, |query| async move {
                let mut pooled = scope.db.read().await?;
                task_list::page_per_project(&mut pooled.conn(), &scope.viewer, siblings, &query)
                    .await
            })
            .await
    }

    /// How many tasks `filter` selects in each of `siblings`, in one query.
    pub async fn task_counts(
        &self,
        siblings: &Arc<[Id]>,
        filter: TaskFilterSpec,
    ) -> AppResult<Arc<HashMap<Id, i64>>> {
        let scope = &self.scope;
        self.task_counts
            .get(siblings, filter, |filter| async move {
                let mut pooled = scope.db.read().await?;
                task_list::count_per_project(&mut pooled.conn(), &scope.viewer, siblings, &filter)
                    .await
            })
            .await
    }

    /// The page of members `query` selects in each of `siblings`, each
    /// with its user, in one statement (empty where the viewer is not a
    /// member).
    pub async fn project_members(
        &self,
        siblings: &Arc<[Id]>,
        query: MemberPageQuery,
    ) -> AppResult<Arc<HashMap<Id, Page<(MemberRow, User)>>>> {
        let scope = &self.scope;
        self.project_members
            .get(siblings, query, |query| async move {
                let mut pooled = scope.db.read().await?;
                member_list::page_per_project(&mut pooled.conn(), &scope.viewer, siblings, &query)
                    .await
            })
            .await
    }

    /// How many members each of `siblings` has, in one query (0 where the
    /// viewer is not a member).
    pub async fn member_counts(&self, siblings: &Arc<[Id]>) -> AppResult<Arc<HashMap<Id, u64>>> {
        let scope = &self.scope;
        self.member_counts
            .get(siblings, (), |()| async move {
                let mut pooled = scope.db.read().await?;
                member_list::count_per_project(&mut pooled.conn(), &scope.viewer, siblings).await
            })
            .await
    }
}

type Cell<V> = Arc<OnceCell<Arc<HashMap<Id, V>>>>;
/// Parents listed together, and what is asked of them.
type BatchKey<Q> = (Arc<[Id]>, Q);

/// Batches a relation over the parents listed together. The first parent
/// to ask loads the answer for all its siblings; the others wait for that
/// same load. Unlike a timed batch window, this gives one statement per
/// listing however long the resolvers take to get there.
struct SiblingBatch<Q, V> {
    cells: Mutex<HashMap<BatchKey<Q>, Cell<V>>>,
}

impl<Q, V> Default for SiblingBatch<Q, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<Q: Clone + Hash + Eq, V> SiblingBatch<Q, V> {
    async fn get<F, Fut>(
        &self,
        siblings: &Arc<[Id]>,
        query: Q,
        load: F,
    ) -> AppResult<Arc<HashMap<Id, V>>>
    where
        F: FnOnce(Q) -> Fut,
        Fut: Future<Output = AppResult<HashMap<Id, V>>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
            cells
                .entry((siblings.clone(), query.clone()))
                .or_default()
                .clone()
        };
        let loaded = cell
            .get_or_try_init(|| async move { load(query).await.map(Arc::new) })
            .await?;
        Ok(loaded.clone())
    }
}

/// The request's loaders; UNAUTHENTICATED without a viewer.
pub fn loaders<'a>(ctx: &Context<'a>) -> AppResult<&'a Loaders> {
    ctx.viewer()?;
    ctx.data_opt::<Loaders>()
        .ok_or_else(|| AppError::unauthenticated("Authentication required"))
}

/// A project by id (deleted or not), if it is the viewer's.
pub struct ProjectLoader(Arc<Scope>);

impl Loader<Id> for ProjectLoader {
    type Value = ProjectRow;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, ProjectRow>, AppError> {
        let mut pooled = self.0.db.read().await?;
        let rows =
            project_store::find_projects_any(&mut pooled.conn(), &self.0.viewer, keys).await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// A project's owner: only ever the viewer, who alone sees their projects.
pub struct OwnerLoader(Arc<Scope>);

impl Loader<Id> for OwnerLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, User>, AppError> {
        let viewer = &self.0.viewer;
        if !keys.contains(&viewer.user_id) {
            return Ok(HashMap::new());
        }
        let mut pooled = self.0.db.read().await?;
        let user = user_store::find_viewer(&mut pooled.conn(), viewer).await?;
        Ok(user.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// A user by id, if the viewer may see it: itself or a fellow member (see
/// `access::visible_users`); anyone else is missing.
pub struct UserLoader(Arc<Scope>);

impl Loader<Id> for UserLoader {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, User>, AppError> {
        let mut pooled = self.0.db.read().await?;
        let users = user_store::find_visible(&mut pooled.conn(), &self.0.viewer, keys).await?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}
