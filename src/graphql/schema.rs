//! Schema assembly: each domain contributes its query and mutation roots.

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, ValidationMode};

use super::Services;
use super::node::NodeQuery;
use crate::config::QueryLimits;
use crate::live::graphql::ChangesSubscription;
use crate::members::graphql::{InvitationsMutation, MembersQuery, MembershipMutation};
use crate::operations::graphql::{OperationsMutation, OperationsQuery};
use crate::operations::live::OperationsSubscription;
use crate::projects::graphql::ProjectsQuery;
use crate::projects::graphql::mutations::ProjectsMutation;
use crate::sync::graphql::{SyncMutation, SyncQuery};
use crate::tasks::graphql::TasksQuery;
use crate::tasks::graphql::mutations::TasksMutation;
use crate::users::graphql::{UsersMutation, UsersQuery};

#[derive(MergedObject, Default)]
pub struct Query(
    UsersQuery,
    NodeQuery,
    ProjectsQuery,
    TasksQuery,
    SyncQuery,
    OperationsQuery,
    MembersQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    UsersMutation,
    ProjectsMutation,
    TasksMutation,
    SyncMutation,
    OperationsMutation,
    InvitationsMutation,
    MembershipMutation,
);

// One more subscription root is one more field here.
#[derive(MergedSubscription, Default)]
pub struct Subscription(ChangesSubscription, OperationsSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema with its limits; `services` is `None` only for printing SDL.
pub fn build_schema(
    services: Option<Arc<Services>>,
    limits: &QueryLimits,
    production: bool,
    validation: ValidationMode,
) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(limits.depth)
    .limit_directives(limits.directives)
    .limit_recursive_depth(64)
    .validation_mode(validation);
    if production {
        builder = builder.disable_introspection().disable_suggestions();
    }
    // No extensions: `prepare.rs` does their work once per request, and
    // `plain.rs` resolves listed objects without the per-field path that
    // extensions observe.
    if let Some(services) = services {
        // The cost (`cost.rs`, in `prepare`) replaces async-graphql's
        // complexity, which counts a list like a single field.
        builder = builder.data(services);
    }
    builder.finish()
}

/// The SDL that `tasklane schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    let limits = QueryLimits {
        depth: 1,
        complexity: 1,
        aliases: 0,
        directives: 0,
        batch: 1,
        page_size: 1,
    };
    build_schema(None, &limits, false, ValidationMode::Strict).sdl()
}

#[cfg(test)]
mod task_field_places;
