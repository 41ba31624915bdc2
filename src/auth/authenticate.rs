//! From the `Authorization` header to an [`AuthState`], per request, without
//! a database query in the common case:
//!
//! - an access token (JWT) is checked by signature and expiry, and its
//!   session and user against the in-memory [`Revocations`];
//! - an API key (`tl_…`) is looked up by its hash once, then served from a
//!   short-lived cache; revocation reaches the cache at once through the
//!   same revocation set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api_keys::{self, ApiKeyRow};
use super::revocation::{Revocations, Revoked};
use super::tokens::token_hash;
use super::{AuthState, TokenKeys, Viewer};
use crate::db::Db;
use crate::db::types::{Id, Timestamp};
use crate::error::AppError;
use crate::events::EventBus;

/// How long a looked-up API key is served from memory.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);
/// Most keys cached; past that the cache starts over.
const KEY_CACHE_MAX: usize = 10_000;

const REVOKED: &str = "Session has been revoked";
const BAD_KEY: &str = "Invalid API key";

struct CachedKey {
    row: ApiKeyRow,
    fetched: Instant,
}

pub struct Authenticator {
    tokens: TokenKeys,
    revocations: Arc<Revocations>,
    bus: EventBus,
    db: Db,
    keys: Mutex<HashMap<Vec<u8>, CachedKey>>,
}

impl Authenticator {
    /// Loads the revocations and follows the bus.
    pub async fn start(tokens: TokenKeys, bus: EventBus, db: Db) -> Result<Arc<Self>, AppError> {
        // Longer than an access token (plus the 5 s leeway) and a cached key live.
        let keep = tokens.access_ttl().max(KEY_CACHE_TTL) + Duration::from_secs(30);
        let revocations = Arc::new(Revocations::new(keep));
        revocations.reload(&db).await?;
        let this = Arc::new(Self {
            tokens,
            revocations: revocations.clone(),
            bus: bus.clone(),
            db: db.clone(),
            keys: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&this);
        revocations.follow(&bus, db, move || {
            // Invalidations may have been missed: look keys up again.
            if let Some(this) = weak.upgrade() {
                this.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }
        });
        Ok(this)
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.tokens
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    /// Applies revocations just committed (here at once; elsewhere through the bus).
    pub fn apply(&self, revoked: Revoked) {
        self.revocations.apply(&self.bus, revoked);
    }

    pub fn is_revoked(&self, id: Id) -> bool {
        self.revocations.contains(id)
    }

    /// Reads an `Authorization` header value (`Bearer <token or key>`).
    pub async fn authenticate(&self, header: Option<&str>) -> AuthState {
        self.authenticate_until(header).await.0
    }

    /// Like [`Self::authenticate`], with when the credential stops being
    /// valid (an access token's `exp`, an API key's expiry), for
    /// connections that outlive one request.
    pub async fn authenticate_until(&self, header: Option<&str>) -> (AuthState, Option<Timestamp>) {
        let Some(value) = header.map(str::trim).filter(|v| !v.is_empty()) else {
            return (AuthState::Anonymous, None);
        };
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                let refused = AuthState::Refused("Authorization must be 'Bearer <token>'".into());
                return (refused, None);
            }
        };
        if token.starts_with(api_keys::KEY_START) {
            return self.api_key(token).await;
        }
        match self.tokens.verify(token) {
            Ok(claims) => {
                let (user, session) = (Id(claims.sub), Id(claims.sid));
                if self.revocations.contains(session) || self.revocations.contains(user) {
                    return (AuthState::Refused(REVOKED.into()), None);
                }
                let expires = chrono::DateTime::from_timestamp(claims.exp, 0).map(Timestamp::from);
                (
                    AuthState::Authenticated(Viewer::of_session(user, session)),
                    expires,
                )
            }
            Err(AppError::Unauthenticated(message)) => (AuthState::Refused(message), None),
            Err(_) => (AuthState::Refused("Invalid access token".into()), None),
        }
    }

    async fn api_key(&self, key: &str) -> (AuthState, Option<Timestamp>) {
        let hash = token_hash(key);
        let row = match self.cached(&hash) {
            Some(row) => row,
            None => match self.look_up(hash).await {
                Ok(Some(row)) => row,
                Ok(None) => return (AuthState::Refused(BAD_KEY.into()), None),
                Err(err) => {
                    if let AppError::Internal(detail) = err {
                        tracing::error!(error = %detail, "API key lookup failed");
                    }
                    let refused =
                        AuthState::Refused("Could not check the API key; try again".into());
                    return (refused, None);
                }
            },
        };
        let now = Timestamp::now();
        if !row.is_live(now)
            || self.revocations.contains(row.id)
            || self.revocations.contains(row.user_id)
        {
            let refused = AuthState::Refused("API key has been revoked or has expired".into());
            return (refused, None);
        }
        let viewer = Viewer {
            user_id: row.user_id,
            session_id: None,
            api_key_id: Some(row.id),
            scopes: row.scope_list(),
        };
        (AuthState::Authenticated(viewer), row.expires_at)
    }

    fn cached(&self, hash: &[u8]) -> Option<ApiKeyRow> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(hash)
            .filter(|c| c.fetched.elapsed() < KEY_CACHE_TTL)
            .map(|c| c.row.clone())
    }

    async fn look_up(&self, hash: Vec<u8>) -> Result<Option<ApiKeyRow>, AppError> {
        let row = {
            let mut pooled = self.db.read().await?;
            api_keys::store::find_by_hash(&mut pooled.conn(), &hash).await?
        };
        let Some(row) = row else {
            return Ok(None);
        };
        // Recorded once per cache period, off the request's path.
        let (db, id) = (self.db.clone(), row.id);
        tokio::spawn(async move {
            if let Ok(mut pooled) = db.write().await {
                let _ = api_keys::store::touch(&mut pooled.conn(), id, Timestamp::now()).await;
                let _ = pooled.commit().await;
            }
        });
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(
            hash,
            CachedKey {
                row: row.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(Some(row))
    }
}
