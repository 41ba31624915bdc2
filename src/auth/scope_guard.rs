//! The READ scope, enforced once for the whole schema: an async-graphql
//! extension that refuses to execute a mutation for a viewer whose
//! credential can not write (FORBIDDEN), whatever the resolvers do. It sees
//! every operation: a single request, each operation of a batch, and (once
//! they exist) WebSocket operations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerError, ServerResult, Variables};

use super::AuthState;
use crate::error::AppError;

pub struct ScopeGuard;

impl ExtensionFactory for ScopeGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ScopeGuardExtension::default())
    }
}

/// One per request: remembers the type of each operation of the document.
#[derive(Default)]
struct ScopeGuardExtension {
    operations: Mutex<Operations>,
}

#[derive(Default)]
struct Operations {
    single: Option<OperationType>,
    named: HashMap<String, OperationType>,
}

impl Operations {
    fn of(document: &ExecutableDocument) -> Self {
        match &document.operations {
            DocumentOperations::Single(op) => Self {
                single: Some(op.node.ty),
                named: HashMap::new(),
            },
            DocumentOperations::Multiple(ops) => Self {
                single: None,
                named: ops
                    .iter()
                    .map(|(name, op)| (name.to_string(), op.node.ty))
                    .collect(),
            },
        }
    }

    /// The type of the operation that runs (`None` when there is none; the
    /// executor then reports that itself).
    fn selected(&self, name: Option<&str>) -> Option<OperationType> {
        match (self.single, name) {
            (Some(ty), _) => Some(ty),
            (None, Some(name)) => self.named.get(name).copied(),
            (None, None) if self.named.len() == 1 => self.named.values().next().copied(),
            (None, None) => None,
        }
    }
}

#[async_trait::async_trait]
impl Extension for ScopeGuardExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *self.operations.lock().unwrap_or_else(|p| p.into_inner()) = Operations::of(&document);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let selected = self
            .operations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .selected(operation_name);
        let read_only = ctx
            .data_opt::<AuthState>()
            .and_then(AuthState::viewer_opt)
            .is_some_and(|viewer| !viewer.can_write());
        // Fail closed: an operation whose type is not known is not a read.
        if read_only
            && !matches!(
                selected,
                Some(OperationType::Query | OperationType::Subscription)
            )
        {
            let error: async_graphql::Error =
                AppError::Forbidden("This API key has the READ scope only".into()).into();
            return Response::from_errors(vec![ServerError {
                message: error.message,
                source: None,
                locations: Vec::new(),
                path: Vec::new(),
                extensions: error.extensions,
            }]);
        }
        next.run(ctx, operation_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selected_operation_is_found() {
        let doc = |q: &str| Operations::of(&async_graphql::parser::parse_query(q).expect("parses"));
        let single = doc("mutation { logoutAll }");
        assert_eq!(single.selected(None), Some(OperationType::Mutation));
        let many = doc("query A { me { id } } mutation B { logoutAll }");
        assert_eq!(many.selected(Some("A")), Some(OperationType::Query));
        assert_eq!(many.selected(Some("B")), Some(OperationType::Mutation));
        assert_eq!(many.selected(None), None);
        assert_eq!(many.selected(Some("C")), None);
    }
}
