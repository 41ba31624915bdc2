//! What happens to a request between the transport and the executor: it is
//! parsed once, checked against the alias and cost limits and the
//! credential's scope, and given its per-request data (credentials, request
//! facts, loaders).
//!
//! This runs here rather than as async-graphql extensions on purpose: with
//! any extension installed, async-graphql sends every field of every
//! response through the extension chain, which costs more than the SQL on a
//! large nested query.

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError, Value};

use super::cost::cost;
use super::documents::Document;
use super::loaders::Loaders;
use super::nul;
use super::persisted::{DOCUMENT_ID, Lookup};
use super::{RequestMeta, Services};
use crate::auth::AuthState;
use crate::error::{AppError, code};

/// The type of the operation the request selects, if the document says.
pub fn selected_operation(
    document: &ExecutableDocument,
    name: Option<&str>,
) -> Option<OperationType> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn to_server_error(err: AppError) -> ServerError {
    let err: async_graphql::Error = err.into();
    let mut server = ServerError::new(err.message, None);
    server.extensions = err.extensions;
    server
}

/// The parser's message quotes the whole offending line, which for a
/// hostile document is as large as the request: keep the position and the
/// reason only.
fn compact_syntax_error(mut error: ServerError) -> ServerError {
    const LONGEST: usize = 300;
    if error.message.len() > LONGEST {
        let reason = error
            .message
            .lines()
            .last()
            .map(|line| line.trim_start_matches([' ', '=']).trim())
            .filter(|reason| !reason.is_empty() && reason.len() <= LONGEST)
            .unwrap_or("invalid syntax");
        error.message = match error.locations.first() {
            Some(pos) => format!(
                "Syntax error at line {}, column {}: {reason}",
                pos.line, pos.column
            ),
            None => format!("Syntax error: {reason}"),
        };
    }
    error
}

fn over_cost(cost: u64, limit: usize) -> ServerError {
    let mut error = ServerError::new(
        format!("Query cost {cost} is over the limit of {limit} (TASKLANE_MAX_COMPLEXITY)"),
        None,
    );
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code::GRAPHQL_VALIDATION_FAILED);
    extensions.set("cost", cost);
    extensions.set("limit", limit as u64);
    error.extensions = Some(extensions);
    error
}

/// A request ready to run, and what is known of its document.
pub struct Prepared {
    pub request: Request,
    pub seen: Seen,
    /// The type of the operation it runs, if the document says.
    pub operation: Option<OperationType>,
}

/// The parsed document of `request`: sent by hash (`persisted.rs`), or by
/// text, kept parsed either way (`documents.rs`). A request sent by hash
/// leaves with its text filled in.
pub fn document_of(
    services: &Services,
    request: &mut Request,
) -> Result<Arc<Document>, ServerError> {
    let parse = |text: &str| services.documents.parse(text).map_err(compact_syntax_error);
    match services.persisted.lookup(request)? {
        Lookup::Found(document) => Ok(document),
        Lookup::Text => parse(&request.query),
        Lookup::Keep(hash) => {
            let document = parse(&request.query)?;
            services.persisted.keep(hash, document.clone());
            Ok(document)
        }
    }
}

/// `document_of` for a transport that reads the document before `prepare`
/// does (WebSocket, to tell a subscription): the request is left as if sent
/// by text, so that `prepare` finds the same document without a second look.
pub fn settle_document(
    services: &Services,
    request: &mut Request,
) -> Result<Arc<Document>, ServerError> {
    let document = document_of(services, request)?;
    request.extensions.remove("persistedQuery");
    request.extensions.remove(DOCUMENT_ID);
    Ok(document)
}

/// A request's document as kept (`documents.rs`).
pub struct Seen {
    document: Arc<Document>,
    without_variables: bool,
}

impl Seen {
    /// Full validation would pass, as it did before: the document has been
    /// run without variables, and is sent again without (validation reads
    /// nothing else). Run it on the schema that checks its limits only.
    pub fn validated(&self) -> bool {
        self.without_variables && self.document.validated()
    }

    /// After running it with full validation: remembers that it passed,
    /// which it did if anything ran.
    pub fn ran(&self, response: &Response) {
        if self.without_variables && response.data != Value::Null {
            self.document.mark_validated();
        }
    }
}

/// Checks `request` and attaches its data; an `Err` is answered without
/// executing anything.
pub fn prepare(
    request: Request,
    services: &Arc<Services>,
    auth: &AuthState,
    meta: &RequestMeta,
) -> Result<Prepared, ServerError> {
    prepare_checked(request, services, auth, meta, true)
}

/// `prepare` for a document that passed it before, at subscribe: each
/// event of a shared subscription runs it again, and its aliases and cost
/// are not counted again.
pub fn prepare_again(
    request: Request,
    services: &Arc<Services>,
    auth: &AuthState,
    meta: &RequestMeta,
) -> Result<Request, ServerError> {
    prepare_checked(request, services, auth, meta, false).map(|prepared| prepared.request)
}

fn prepare_checked(
    mut request: Request,
    services: &Arc<Services>,
    auth: &AuthState,
    meta: &RequestMeta,
    count: bool,
) -> Result<Prepared, ServerError> {
    let limits = &services.config.limits;
    let operation_name = request.operation_name.clone();
    let kept = document_of(services, &mut request)?;
    let document = &kept.document;
    let variables = &request.variables;
    if let Some(at) = kept.nul_at.clone().or_else(|| nul::in_variables(variables)) {
        return Err(to_server_error(nul::refused(at)));
    }
    if count {
        let aliases = kept.aliases;
        if aliases > limits.aliases {
            return Err(ServerError::new(
                format!(
                    "Query has {aliases} aliases, more than the limit of {}",
                    limits.aliases
                ),
                None,
            ));
        }
        let cost = cost(
            document,
            operation_name.as_deref(),
            variables,
            limits.page_size,
        );
        if cost > limits.complexity as u64 {
            return Err(over_cost(cost, limits.complexity));
        }
    }
    let selected = selected_operation(document, operation_name.as_deref());
    if let Some(viewer) = auth.viewer_opt() {
        // Fail closed: an operation whose type is not known is not a read.
        let read = matches!(
            selected,
            Some(OperationType::Query | OperationType::Subscription)
        );
        if !viewer.can_write() && !read {
            return Err(to_server_error(AppError::Forbidden(
                "This API key has the READ scope only".into(),
            )));
        }
        // No key manages credentials or the account, whatever its scopes.
        crate::auth::key_scope::check(viewer, document, operation_name.as_deref())
            .map_err(to_server_error)?;
    }
    let without_variables = variables.is_empty();
    request.set_parsed_query(document.clone());
    let mut request = request.data(auth.clone()).data(meta.clone());
    if let Some(viewer) = auth.viewer_opt() {
        request = request.data(Loaders::new(services.db.clone(), viewer.clone()));
    }
    Ok(Prepared {
        request,
        seen: Seen {
            document: kept,
            without_variables,
        },
        operation: selected,
    })
}
