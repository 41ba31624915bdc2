//! The `Node` interface and `node(id:)`: any object by its global id, through
//! the same viewer-scoped store functions as the typed queries.

use async_graphql::{Context, ID, Interface, Object};

use crate::error::AppResult;
use crate::graphql::ContextExt;
use crate::operations::graphql::Operation;
use crate::operations::store as operation_store;
use crate::projects::graphql::Project;
use crate::projects::store as project_store;
use crate::tasks::graphql::Task;
use crate::tasks::store as task_store;
use crate::users::User;
use crate::users::store as user_store;

#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    User(User),
    Project(Project),
    Task(Task),
    Operation(Operation),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this id, if the viewer may see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Node>> {
        let Some((viewer, id)) = ctx.viewer_and_id(&id)? else {
            return Ok(None);
        };
        let mut pooled = ctx.services().db.read().await?;
        let mut conn = pooled.conn();
        if let Some(task) = task_store::find_task(&mut conn, viewer, id).await? {
            return Ok(Some(Node::Task(Task::from(task))));
        }
        if let Some(project) = project_store::find_project(&mut conn, viewer, id).await? {
            return Ok(Some(Node::Project(Project::new(project))));
        }
        if let Some(operation) = operation_store::find(&mut conn, viewer, id).await? {
            return Ok(Some(Node::Operation(Operation(operation))));
        }
        if id == viewer.user_id {
            return Ok(user_store::find_viewer(&mut conn, viewer)
                .await?
                .map(Node::User));
        }
        Ok(None)
    }
}
