//! The HTTP server: router, layers, probes and metrics, and its lifecycle.

pub mod drain;
pub mod graphiql;
pub mod graphql_http;
pub mod graphql_ws;
pub mod metrics;
pub mod probes;
mod serve;

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::ValidationMode;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use http::{HeaderName, Method, Request, StatusCode, header};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::rate_limit::Limiter;
use crate::auth::{Authenticator, PasswordHasher, TokenKeys, tokens};
use crate::config::Config;
use crate::db::Db;
use crate::db::migrate::{self, Direction};
use crate::error::AppError;
use crate::events::EventBus;
use crate::graphql::{AppSchema, Services, build_schema};
use crate::live::pending::PendingSockets;
use crate::live::{Hub, HubLimits};
use metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What handlers share.
pub struct AppState {
    pub schema: AppSchema,
    /// The same schema, validating only what its limits need: for a
    /// document that passed full validation before and has no variables.
    pub validated_schema: AppSchema,
    pub services: Arc<Services>,
    pub metrics: Metrics,
    /// GraphiQL's page and files, unless in production.
    pub graphiql: Option<&'static graphiql::GraphiQL>,
    /// WebSockets not yet initialised, per client address.
    pub pending: PendingSockets,
    /// How large responses have been lately (`graphql::json`).
    pub response_size: crate::graphql::json::SizeHint,
    /// Set once a shutdown starts.
    pub drain: drain::Drain,
}

/// Builds services and the router for `config` (migrations already applied).
pub async fn build_app(config: Config) -> Result<(Router, Arc<AppState>), AppError> {
    // A manifest that would not run refuses the start before anything else.
    let persisted = crate::graphql::manifest::persisted(&config).await?;
    let secret = match config.secret_bytes() {
        Some(secret) => secret.to_vec(),
        None => {
            let dir = config.database_url.data_dir().ok_or_else(|| {
                AppError::internal("TASKLANE_JWT_SECRET is required with PostgreSQL")
            })?;
            tokens::load_or_create_secret(dir)?
        }
    };
    let db = Db::connect(&config.database_url, &config.pool)?;
    let concurrency = config.hash_concurrency;
    let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(concurrency))
        .await
        .map_err(|e| AppError::internal(format!("hasher setup failed: {e}")))??;
    let tokens = TokenKeys::new(&secret, config.access_token_ttl);
    let events = EventBus::start(db.clone()).await;
    let auth = Authenticator::start(tokens.clone(), events.clone(), db.clone()).await?;
    let mailer = crate::mail::Mailer::new(&config.mail, &config.mail_from)?;
    let oauth = crate::auth::oauth::OAuth::new(&config.oauth)?;
    let live = Hub::start(
        db.clone(),
        &events,
        auth.clone(),
        HubLimits {
            subscriptions_per_connection: config.live.subscriptions_per_connection,
            connections_per_user: config.live.connections_per_user,
            buffer: config.live.buffer,
            groups_per_user: config.live.groups_per_user,
            queue: config.live.queue,
        },
    );
    let services = Arc::new(Services {
        limiter: Limiter::new(db.clone(), config.rate_limits, config.ipv6_prefix),
        db,
        tokens,
        hasher,
        config: Arc::new(config),
        events,
        auth,
        mailer,
        oauth,
        live,
        documents: Default::default(),
        persisted,
    });
    let config = &services.config;
    let schema = build_schema(
        Some(services.clone()),
        &config.limits,
        config.production,
        ValidationMode::Strict,
    );
    // For documents that passed the strict one before (`documents.rs`).
    let validated_schema = build_schema(
        Some(services.clone()),
        &config.limits,
        config.production,
        ValidationMode::Fast,
    );
    // The cost model is read from the schema: built now, not on the first request.
    crate::graphql::cost::warm_up();
    let graphiql = (!config.production).then(graphiql::GraphiQL::get);
    let state = Arc::new(AppState {
        schema,
        validated_schema,
        services: services.clone(),
        metrics: Metrics::new().with_live(services.live.gauges()),
        graphiql,
        pending: PendingSockets::new(
            services.config.live.pending_per_ip,
            services.config.ipv6_prefix,
        ),
        response_size: Default::default(),
        drain: Default::default(),
    });
    Ok((router(state.clone()), state))
}

fn router(state: Arc<AppState>) -> Router {
    let config = &state.services.config;
    let cors = (!config.cors_origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(config.cors_origins.clone()))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([REQUEST_ID])
            .max_age(std::time::Duration::from_secs(3600))
    });
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .option_layer(cors)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit));
    Router::new()
        .route(
            "/graphql",
            get(graphql_ws::get_or_upgrade).post(graphql_http::post),
        )
        .route("/graphql/ws", get(graphql_ws::upgrade))
        .route(graphiql::ASSETS_ROUTE, get(graphiql::asset))
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/metrics", get(metrics::render))
        .layer(layers)
        .with_state(state)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    worker: Option<crate::operations::engine::Worker>,
}

impl Server {
    /// Drains and stops, within `TASKLANE_SHUTDOWN_TIMEOUT_SECS`: `/ready`
    /// answers 503 and every WebSocket is closed with 1001 (its client
    /// reconnects elsewhere); no new connection is accepted and requests in
    /// flight finish; the operation worker ends its batch and hands its
    /// operation back. Whatever is left at the deadline is cut (a batch's
    /// transaction then rolls back and another instance resumes it).
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let state = self.state.clone();
        state.drain.start();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let worker = self.worker.take();
        let task = &mut self.task;
        let finished = async {
            if let Some(worker) = worker {
                worker.stop().await;
            }
            state.drain.sockets_closed().await;
            task.await
        };
        let grace = state.services.config.shutdown_timeout;
        match tokio::time::timeout(grace, finished).await {
            Ok(served) => served.map_err(std::io::Error::other)?,
            Err(_) => {
                tracing::warn!(
                    seconds = grace.as_secs(),
                    "shutdown timeout reached; cutting what is left"
                );
                self.task.abort();
                Ok(())
            }
        }
    }
}

/// Migrates, builds the app and serves on `config.listen` (port 0 picks one).
pub async fn start(config: Config) -> Result<Server, AppError> {
    migrate::run_configured(&config.database_url, &config.pool, Direction::Up).await?;
    let listen = config.listen;
    let (router, state) = build_app(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| AppError::internal(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::internal(format!("no local address: {e}")))?;
    let services = &state.services;
    let worker = if services.config.operations.worker {
        Some(
            crate::operations::engine::Worker::start(
                &services.db,
                services.events.clone(),
                services.config.operations.clone(),
                services.config.quotas,
                &services.config.pool,
            )
            .await,
        )
    } else {
        None
    };
    let (tx, rx) = oneshot::channel::<()>();
    let limits = services.config.connections.clone();
    let task = tokio::spawn(serve::serve(listener, router, limits, async {
        let _ = rx.await;
    }));
    Ok(Server {
        addr,
        state,
        shutdown: Some(tx),
        task,
        worker,
    })
}
