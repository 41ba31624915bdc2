//! What resolvers reach through the context: the shared services, the
//! request's credentials, and facts about the request.

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::{Context, ID};
use scoped_futures::ScopedBoxFuture;

use crate::auth::oauth::OAuth;
use crate::auth::rate_limit::Limiter;
use crate::auth::{AuthState, Authenticator, PasswordHasher, TokenKeys, Viewer};
use crate::config::Config;
use crate::db::types::Id;
use crate::db::{Conn, Db};
use crate::error::{AppError, AppResult};
use crate::events::{EventBus, Outbox};
use crate::live::Hub;
use crate::mail::Mailer;

/// Shared by every request (schema data).
pub struct Services {
    pub db: Db,
    pub tokens: TokenKeys,
    pub hasher: PasswordHasher,
    pub config: Arc<Config>,
    pub events: EventBus,
    /// Credentials to viewers, and revocation.
    pub auth: Arc<Authenticator>,
    pub limiter: Limiter,
    pub mailer: Mailer,
    /// Sign-in providers.
    pub oauth: OAuth,
    /// Subscriptions' fan-out and open WebSocket connections.
    pub live: Hub,
    /// Documents seen lately, parsed.
    pub documents: super::documents::Documents,
    /// Documents sent by hash: automatic persisted queries, or the trusted
    /// documents, the only ones that run then.
    pub persisted: super::persisted::Persisted,
}

/// Per request (request data).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub user_agent: Option<String>,
    pub client_ip: Option<IpAddr>,
}

pub trait ContextExt {
    fn services(&self) -> &Services;
    fn auth(&self) -> &AuthState;
    /// The authenticated viewer, or UNAUTHENTICATED.
    fn viewer(&self) -> Result<&Viewer, AppError>;
    fn meta(&self) -> &RequestMeta;
    /// The viewer and the id a client sent for a lookup: `None` when the
    /// id is no UUID (so no object of the viewer's); UNAUTHENTICATED
    /// without a viewer.
    fn viewer_and_id(&self, raw: &ID) -> Result<Option<(&Viewer, Id)>, AppError> {
        let viewer = self.viewer()?;
        Ok(Id::parse(raw).map(|id| (viewer, id)))
    }
    /// The most items a connection page may hold (`TASKLANE_MAX_PAGE_SIZE`).
    fn page_size(&self) -> usize {
        self.services().config.limits.page_size
    }
}

/// Runs `work` in one write transaction; once it committed, delivers the
/// events `work` staged, and returns the rest of what it returned.
pub async fn write_and_announce<'a, R, F>(ctx: &Context<'_>, work: F) -> AppResult<R>
where
    F: for<'r> FnOnce(Conn<'r>) -> ScopedBoxFuture<'a, 'r, AppResult<(R, Outbox)>> + Send + 'a,
    R: Send + 'a,
{
    let (value, outbox) = ctx.services().db.transaction(work).await?;
    ctx.services().events.flush(outbox);
    Ok(value)
}

static ANONYMOUS: AuthState = AuthState::Anonymous;

impl ContextExt for Context<'_> {
    fn services(&self) -> &Services {
        // Put in by `build_schema`, so always present.
        self.data_unchecked::<Arc<Services>>()
    }

    fn auth(&self) -> &AuthState {
        self.data_opt::<AuthState>().unwrap_or(&ANONYMOUS)
    }

    fn viewer(&self) -> Result<&Viewer, AppError> {
        self.auth().viewer()
    }

    fn meta(&self) -> &RequestMeta {
        static EMPTY: std::sync::OnceLock<RequestMeta> = std::sync::OnceLock::new();
        self.data_opt::<RequestMeta>()
            .unwrap_or_else(|| EMPTY.get_or_init(RequestMeta::default))
    }
}
