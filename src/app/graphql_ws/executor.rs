//! How a WebSocket connection runs its operations.
//!
//! - **Queries and mutations** go through async-graphql's protocol, which
//!   runs them beside the connection's loop. Each runs under
//!   `TASKLANE_REQUEST_TIMEOUT_SECS`, as an HTTP request does (where the
//!   answer is 503): past it, the operation is cancelled and answered with
//!   the error code `TIMEOUT`. At most `TASKLANE_WS_MAX_INFLIGHT` run at
//!   once per connection; one more is **refused at once** with
//!   `RATE_LIMITED` (`retryAfter` 1) rather than queued, so that a flood of
//!   operations costs the server nothing but the refusal, and the client
//!   learns of it instead of waiting behind its own backlog.
//! - **Subscriptions** are joined by [`join_group`]: the resolver checks the
//!   arguments and either joins a shared group (execute once, send many) or
//!   returns a stream of its own (`operationProgress`), which the connection
//!   runs on a task of its own. Neither blocks the loop.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::http::WebSocketProtocols as Protocols;
use async_graphql::{Data, ErrorExtensions as _, Executor};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use tokio::sync::Semaphore;

use super::super::AppState;
use super::super::graphql_http::finish_errors;
use super::frames::complete_frame;
use crate::auth::AuthState;
use crate::error::{AppError, code};
use crate::graphql::RequestMeta;
use crate::graphql::loaders::Loaders;
use crate::graphql::prepare::{prepare, prepare_again, selected_operation, settle_document};
use crate::live::LiveConnection;
use crate::live::hub::SharedGuard;
use crate::live::shared::{Join, SubscriptionMode, Template, frame, group_key};

pub use crate::error::code::TIMEOUT;

/// What the connection learnt at `connection_init`, and what its
/// operations share.
pub(super) struct Session {
    pub accepted: OnceLock<(AuthState, LiveConnection)>,
    pub meta: RequestMeta,
    /// Permits for queries and mutations running at once.
    pub inflight: Arc<Semaphore>,
}

/// Runs each operation of the connection the way HTTP runs a request:
/// prepared (limits, scope, per-request data), errors given codes.
#[derive(Clone)]
pub(super) struct ConnectionExecutor {
    pub state: Arc<AppState>,
    pub session: Arc<Session>,
}

fn error_response(error: async_graphql::Error) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![error.into_server_error(Default::default())])
}

fn timed_out(limit: Duration) -> async_graphql::Response {
    let error = async_graphql::Error::new(format!(
        "The operation took longer than {} ms, the request timeout",
        limit.as_millis()
    ))
    .extend_with(|_, e| e.set("code", TIMEOUT));
    error_response(error)
}

fn too_many(limit: usize) -> async_graphql::Response {
    let error = async_graphql::Error::new(format!(
        "This connection already runs {limit} operations, the limit per connection \
         (TASKLANE_WS_MAX_INFLIGHT); wait for an answer first"
    ))
    .extend_with(|_, e| {
        e.set("code", code::RATE_LIMITED);
        e.set("retryAfter", 1);
    });
    error_response(error)
}

impl ConnectionExecutor {
    /// Runs `request` without the per-operation limits.
    fn run(&self, request: async_graphql::Request) -> BoxStream<'static, async_graphql::Response> {
        let services = &self.state.services;
        let request_id = self.session.meta.request_id.clone();
        let Some((auth, live)) = self.session.accepted.get() else {
            let response =
                error_response(AppError::unauthenticated("Send connection_init first").into());
            return futures_util::stream::once(async move { response }).boxed();
        };
        match prepare(request, services, auth, &self.session.meta) {
            Err(error) => {
                let mut response = async_graphql::Response::from_errors(vec![error]);
                finish_errors(&mut response, &request_id);
                futures_util::stream::once(async move { response }).boxed()
            }
            Ok(prepared) => {
                let mut request = prepared.request.data(*live);
                if let Some(viewer) = auth.viewer_opt() {
                    // No cache lives as long as a subscription.
                    request = request.data(Loaders::uncached(services.db.clone(), viewer.clone()));
                }
                self.state
                    .schema
                    .execute_stream(request)
                    .map(move |mut response| {
                        finish_errors(&mut response, &request_id);
                        response
                    })
                    .boxed()
            }
        }
    }
}

/// The protocol's way in: queries and mutations (subscriptions are joined
/// by the connection, see [`join_group`]), under the request timeout and
/// the per-connection limit.
impl Executor for ConnectionExecutor {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        _data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let config = &self.state.services.config;
        let Ok(permit) = self.session.inflight.clone().try_acquire_owned() else {
            let response = too_many(config.live.inflight_per_connection);
            return futures_util::stream::once(async move { response }).boxed();
        };
        let limit = config.request_timeout;
        let mut responses = self.run(request);
        futures_util::stream::once(async move {
            let response = match tokio::time::timeout(limit, responses.next()).await {
                Ok(response) => response.unwrap_or_default(),
                Err(_) => timed_out(limit),
            };
            drop(permit);
            response
        })
        .boxed()
    }
}

/// The group run of a shared subscription: its document resolved for one
/// item, prepared the way every operation of the connection is, and
/// serialised once.
fn group_run(
    state: &Arc<AppState>,
    auth: &AuthState,
    meta: &RequestMeta,
    request: &async_graphql::Request,
) -> crate::live::shared::Run {
    let state = state.clone();
    let auth = auth.clone();
    let meta = meta.clone();
    let query: Arc<str> = request.query.as_str().into();
    let operation = request.operation_name.clone();
    let variables = request.variables.clone();
    Arc::new(move |item| {
        let state = state.clone();
        let auth = auth.clone();
        let meta = meta.clone();
        let mut request =
            async_graphql::Request::new(query.to_string()).variables(variables.clone());
        if let Some(name) = &operation {
            request = request.operation_name(name.clone());
        }
        Box::pin(async move {
            let services = &state.services;
            // Counted once, at subscribe.
            let mut response = match prepare_again(request, services, &auth, &meta) {
                Err(error) => async_graphql::Response::from_errors(vec![error]),
                Ok(mut request) => {
                    request = request.data(SubscriptionMode::Event(item));
                    if let Some(viewer) = auth.viewer_opt() {
                        request =
                            request.data(Loaders::uncached(services.db.clone(), viewer.clone()));
                    }
                    state
                        .schema
                        .execute_stream(request)
                        .next()
                        .await
                        .unwrap_or_default()
                }
            };
            finish_errors(&mut response, &meta.request_id);
            serde_json::to_string(&response)
                .unwrap_or_else(|_| "{}".into())
                .into()
        })
    })
}

/// Is `request` a subscription the connection joins (rather than one for
/// the protocol to run)? A request sent by hash gets its text filled in.
pub(super) fn is_subscription(
    executor: &ConnectionExecutor,
    request: &mut async_graphql::Request,
) -> bool {
    let viewer = executor
        .session
        .accepted
        .get()
        .and_then(|(auth, _)| auth.viewer_opt());
    if viewer.is_none() {
        return false;
    }
    match settle_document(&executor.state.services, request) {
        Ok(kept) => matches!(
            selected_operation(&kept.document, request.operation_name.as_deref()),
            Some(async_graphql::parser::types::OperationType::Subscription)
        ),
        Err(_) => false,
    }
}

/// What became of a subscribe.
pub(super) enum Joined {
    /// In its group; the hub delivers its events.
    Shared(SharedGuard),
    /// Its own stream of whole frames, the last one its `complete` (a
    /// refusal is such a stream: the error, then `complete`).
    Own(BoxStream<'static, String>),
}

/// A subscribe joins the group of the same document, operation, variables,
/// user and scopes; its arguments are checked as a subscribe's are. A
/// subscription that does not share (`operationProgress`) comes back as its
/// stream, once its first item is ready.
pub(super) async fn join_group(
    executor: ConnectionExecutor,
    protocol: Protocols,
    id: String,
    request: async_graphql::Request,
) -> Joined {
    let template = executor.session.accepted.get().and_then(|(auth, _)| {
        let viewer = auth.viewer_opt()?;
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        let operation = request.operation_name.as_deref();
        Some(Template {
            key: group_key(viewer, &request.query, operation, &variables).into(),
            run: group_run(&executor.state, auth, &executor.session.meta, &request),
        })
    });
    let data_type = match protocol {
        Protocols::GraphQLWS => "next",
        Protocols::SubscriptionsTransportWS => "data",
    };
    let head = match template {
        Some(template) => {
            let join = Arc::new(Join::new(template, &id, data_type));
            let mut responses = executor.run(request.data(SubscriptionMode::Join(join.clone())));
            let first = responses.next().await;
            if let Some(guard) = join.take() {
                return Joined::Shared(guard);
            }
            let head = join.head.clone();
            let frames = futures_util::stream::iter(first).chain(responses);
            return Joined::Own(own_frames(frames.boxed(), head, id));
        }
        None => Join::head(&id, data_type),
    };
    let responses = executor.run(request);
    Joined::Own(own_frames(responses, head, id))
}

/// [`join_group`] under the request timeout: a subscribe whose arguments
/// take longer to check is answered `TIMEOUT` and completed.
pub(super) async fn join_group_within(
    limit: Duration,
    executor: ConnectionExecutor,
    protocol: Protocols,
    id: String,
    request: async_graphql::Request,
) -> Joined {
    let data_type = match protocol {
        Protocols::GraphQLWS => "next",
        Protocols::SubscriptionsTransportWS => "data",
    };
    let head = Join::head(&id, data_type);
    match tokio::time::timeout(limit, join_group(executor, protocol, id.clone(), request)).await {
        Ok(joined) => joined,
        Err(_) => {
            let response = timed_out(limit);
            Joined::Own(own_frames(
                futures_util::stream::once(async move { response }).boxed(),
                head,
                id,
            ))
        }
    }
}

fn own_frames(
    responses: BoxStream<'static, async_graphql::Response>,
    head: Arc<str>,
    id: String,
) -> BoxStream<'static, String> {
    responses
        .map(move |response| {
            let payload = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
            frame(&head, &payload)
        })
        .chain(futures_util::stream::once(
            async move { complete_frame(&id) },
        ))
        .boxed()
}
