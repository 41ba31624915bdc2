//! Schema assembly: each domain contributes its query and mutation roots.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::DocumentOperations;
use async_graphql::{
    MergedObject, MergedSubscription, Request, Response, Schema, SchemaBuilder, ValidationMode,
    Value,
};

use super::Services;
use super::documents::Document;
use super::node::NodeQuery;
use crate::config::QueryLimits;
use crate::export::graphql::{ExportMutation, ExportQuery};
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
    ExportQuery,
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
    ExportMutation,
);

// One more subscription root is one more field here.
#[derive(MergedSubscription, Default)]
pub struct Subscription(ChangesSubscription, OperationsSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema with its limits; `services` is `None` only for printing SDL
/// and checking documents.
pub fn build_schema(
    services: Option<Arc<Services>>,
    limits: &QueryLimits,
    production: bool,
    validation: ValidationMode,
) -> AppSchema {
    builder(services, limits, production, validation).finish()
}

fn builder(
    services: Option<Arc<Services>>,
    limits: &QueryLimits,
    production: bool,
    validation: ValidationMode,
) -> SchemaBuilder<Query, Mutation, Subscription> {
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
    builder
}

/// Checks documents against the schema (full validation, with the depth
/// and directive limits) without running them: for trusted documents.
pub struct DocumentCheck(AppSchema);

impl DocumentCheck {
    pub fn new(limits: &QueryLimits, production: bool) -> Self {
        Self(
            builder(None, limits, production, ValidationMode::Strict)
                .extension(StopBeforeExecution)
                .finish(),
        )
    }

    /// The document's errors, if it does not validate; each operation of a
    /// document of several is checked.
    pub async fn errors(&self, document: &Document) -> Vec<String> {
        let names: Vec<Option<String>> = match &document.document.operations {
            DocumentOperations::Single(_) => vec![None],
            DocumentOperations::Multiple(operations) => operations
                .keys()
                .map(|name| Some(name.to_string()))
                .collect(),
        };
        let mut errors = Vec::new();
        for name in names {
            let mut request = Request::new(document.text());
            request.operation_name = name;
            request.set_parsed_query(document.document.clone());
            let response = self.0.execute(request).await;
            errors.extend(response.errors.into_iter().map(|error| error.message));
        }
        errors.dedup();
        errors
    }
}

/// Ends a request once it passed validation, before anything runs.
struct StopBeforeExecution;

impl ExtensionFactory for StopBeforeExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopBeforeExecution)
    }
}

#[async_trait::async_trait]
impl Extension for StopBeforeExecution {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::new(Value::Null)
    }
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
