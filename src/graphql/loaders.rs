//! DataLoaders, made for each request (so no cache outlives its viewer),
//! one per relation: project by id, a page of tasks per project (one
//! window-function query for every parent), task counts per project, and a
//! project's owner. Each runs its store function with the request's viewer.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Context, Request, ServerResult};

use super::{ContextExt, Services};
use crate::auth::{AuthState, Viewer};
use crate::db::Db;
use crate::db::types::Id;
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::Page;
use crate::projects::model::ProjectRow;
use crate::projects::store as project_store;
use crate::tasks::list::{self as task_list, TaskFilterSpec, TaskListQuery};
use crate::tasks::model::TaskRow;
use crate::users::User;
use crate::users::store as user_store;

struct Scope {
    db: Db,
    viewer: Viewer,
}

/// The loaders of one request.
pub struct Loaders {
    pub projects: DataLoader<ProjectLoader>,
    pub project_tasks: DataLoader<ProjectTasksLoader>,
    pub task_counts: DataLoader<TaskCountLoader>,
    pub owners: DataLoader<OwnerLoader>,
}

impl Loaders {
    pub fn new(db: Db, viewer: Viewer) -> Self {
        let scope = Arc::new(Scope { db, viewer });
        Self {
            projects: DataLoader::new(ProjectLoader(scope.clone()), tokio::spawn),
            project_tasks: DataLoader::new(ProjectTasksLoader(scope.clone()), tokio::spawn),
            task_counts: DataLoader::new(TaskCountLoader(scope.clone()), tokio::spawn),
            owners: DataLoader::new(OwnerLoader(scope), tokio::spawn),
        }
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

/// One project's page of tasks, for a listing shared by all parents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectTasksKey {
    pub project: Id,
    pub query: Arc<TaskListQuery>,
}

pub struct ProjectTasksLoader(Arc<Scope>);

impl Loader<ProjectTasksKey> for ProjectTasksLoader {
    type Value = Page<TaskRow>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[ProjectTasksKey],
    ) -> Result<HashMap<ProjectTasksKey, Page<TaskRow>>, AppError> {
        let mut by_query: HashMap<Arc<TaskListQuery>, Vec<Id>> = HashMap::new();
        for key in keys {
            by_query
                .entry(key.query.clone())
                .or_default()
                .push(key.project);
        }
        let mut pooled = self.0.db.read().await?;
        let mut out = HashMap::with_capacity(keys.len());
        for (query, projects) in by_query {
            let pages =
                task_list::page_per_project(&mut pooled.conn(), &self.0.viewer, &projects, &query)
                    .await?;
            for (project, page) in pages {
                let key = ProjectTasksKey {
                    project,
                    query: query.clone(),
                };
                out.insert(key, page);
            }
        }
        Ok(out)
    }
}

/// How many of one project's tasks a filter selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskCountKey {
    pub project: Id,
    pub filter: Arc<TaskFilterSpec>,
}

pub struct TaskCountLoader(Arc<Scope>);

impl Loader<TaskCountKey> for TaskCountLoader {
    type Value = i64;
    type Error = AppError;

    async fn load(&self, keys: &[TaskCountKey]) -> Result<HashMap<TaskCountKey, i64>, AppError> {
        let mut by_filter: HashMap<Arc<TaskFilterSpec>, Vec<Id>> = HashMap::new();
        for key in keys {
            by_filter
                .entry(key.filter.clone())
                .or_default()
                .push(key.project);
        }
        let mut pooled = self.0.db.read().await?;
        let mut out = HashMap::with_capacity(keys.len());
        for (filter, projects) in by_filter {
            let counts = task_list::count_per_project(
                &mut pooled.conn(),
                &self.0.viewer,
                &projects,
                &filter,
            )
            .await?;
            for (project, n) in counts {
                let key = TaskCountKey {
                    project,
                    filter: filter.clone(),
                };
                out.insert(key, n);
            }
        }
        Ok(out)
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

/// Puts fresh [`Loaders`] into every request that has a viewer.
pub struct RequestLoaders;

impl ExtensionFactory for RequestLoaders {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestLoaders)
    }
}

#[async_trait::async_trait]
impl Extension for RequestLoaders {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let viewer = request
            .data
            .get(&TypeId::of::<AuthState>())
            .and_then(|data| data.downcast_ref::<AuthState>())
            .and_then(AuthState::viewer_opt)
            .cloned();
        let services = ctx.data_opt::<Arc<Services>>();
        let request = match (viewer, services) {
            (Some(viewer), Some(services)) => {
                request.data(Loaders::new(services.db.clone(), viewer))
            }
            _ => request,
        };
        next.run(ctx, request).await
    }
}
