//! The request's loaders of membership, kept in `graphql::loaders::Loaders`
//! (made per request, so no cache outlives its viewer): a project's owner
//! the viewer's role in a project and a project's pending invitations,
//! each batched over the projects a response shows, and the users named
//! by membership events.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use super::invitations::{self, Shown};
use super::store;
use crate::access::{self, ProjectRole};
use crate::auth::Viewer;
use crate::db::Db;
use crate::db::types::Id;
use crate::error::AppError;
use crate::users::User;

struct Scope {
    db: Db,
    viewer: Viewer,
}

/// The membership loaders of one request.
pub struct MemberLoaders {
    /// A project's owner, by project id (projects the viewer sees).
    pub owners: DataLoader<OwnerOfProject, HashMapCache>,
    /// The viewer's role, by project id (projects it is a member of).
    pub roles: DataLoader<ViewerRole, HashMapCache>,
    /// A user named by a membership event, by user id.
    pub named: DataLoader<NamedUser, HashMapCache>,
    /// The pending invitations of each project the viewer owns.
    pub invitations: DataLoader<PendingInvitations, HashMapCache>,
}

impl MemberLoaders {
    pub fn new(db: Db, viewer: Viewer) -> Self {
        let scope = Arc::new(Scope { db, viewer });
        Self {
            owners: DataLoader::with_cache(
                OwnerOfProject(scope.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            roles: DataLoader::with_cache(
                ViewerRole(scope.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            named: DataLoader::with_cache(
                NamedUser(scope.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            invitations: DataLoader::with_cache(
                PendingInvitations(scope),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }

    /// Remembers nothing (a subscription shows each object as it is when
    /// its event is sent).
    pub fn disable_cache(&self) {
        self.owners.enable_all_cache(false);
        self.roles.enable_all_cache(false);
        self.named.enable_all_cache(false);
        self.invitations.enable_all_cache(false);
    }
}

/// The owner of each project the viewer sees.
pub struct OwnerOfProject(Arc<Scope>);

impl Loader<Id> for OwnerOfProject {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, User>, AppError> {
        let mut pooled = self.0.db.read().await?;
        let found = store::owners(&mut pooled.conn(), &self.0.viewer, keys).await?;
        Ok(found.into_iter().collect())
    }
}

/// The viewer's role in each project it is a member of.
pub struct ViewerRole(Arc<Scope>);

impl Loader<Id> for ViewerRole {
    type Value = ProjectRole;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, ProjectRole>, AppError> {
        let mut pooled = self.0.db.read().await?;
        let found = access::roles(&mut pooled.conn(), &self.0.viewer, keys).await?;
        Ok(found.into_iter().collect())
    }
}

/// The users membership events name (see `store::named`).
pub struct NamedUser(Arc<Scope>);

impl Loader<Id> for NamedUser {
    type Value = User;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, User>, AppError> {
        let mut pooled = self.0.db.read().await?;
        let found = store::named(&mut pooled.conn(), keys).await?;
        Ok(found.into_iter().map(|user| (user.id, user)).collect())
    }
}

/// The pending invitations of each project the viewer owns, oldest first
/// (none for the others).
pub struct PendingInvitations(Arc<Scope>);

impl Loader<Id> for PendingInvitations {
    type Value = Vec<Shown>;
    type Error = AppError;

    async fn load(&self, keys: &[Id]) -> Result<HashMap<Id, Vec<Shown>>, AppError> {
        let mut pooled = self.0.db.read().await?;
        let found =
            invitations::pending_of_projects(&mut pooled.conn(), &self.0.viewer, keys).await?;
        let mut per_project: HashMap<Id, Vec<Shown>> = HashMap::new();
        for shown in found {
            per_project
                .entry(shown.0.project_id)
                .or_default()
                .push(shown);
        }
        Ok(per_project)
    }
}
