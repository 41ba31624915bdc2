//! Who is asking. The HTTP layer turns the `Authorization` header into an
//! [`AuthState`] (see [`Authenticator`](super::Authenticator)); resolvers
//! ask it for a [`Viewer`], which store functions require, so no user data
//! is reachable without one.

use serde::{Deserialize, Serialize};

use crate::db::types::Id;
use crate::error::AppError;

/// What a credential allows. Access tokens of a session allow everything;
/// an API key allows what it was created with.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[graphql(name = "ApiKeyScope")]
#[serde(rename_all = "UPPERCASE")]
pub enum Scope {
    /// Queries and subscriptions.
    Read,
    /// Mutations too.
    Write,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: Id,
    /// The session (refresh-token family) behind an access token; `None` for
    /// an API key.
    pub session_id: Option<Id>,
    /// The API key used, if any.
    pub api_key_id: Option<Id>,
    pub scopes: Vec<Scope>,
}

impl Viewer {
    /// A viewer signed in through a session (all scopes).
    pub fn of_session(user_id: Id, session_id: Id) -> Self {
        Self {
            user_id,
            session_id: Some(session_id),
            api_key_id: None,
            scopes: vec![Scope::Read, Scope::Write],
        }
    }

    /// A new user's viewer that may only read, through no session or key
    /// (the subject of the guard in the statements' tests).
    #[cfg(test)]
    pub fn reader() -> Self {
        Self {
            user_id: Id::new(),
            session_id: None,
            api_key_id: None,
            scopes: vec![Scope::Read],
        }
    }

    pub fn can_write(&self) -> bool {
        self.scopes.contains(&Scope::Write)
    }

    /// FORBIDDEN for an API key: managing credentials and the account needs
    /// a signed-in session.
    pub fn require_session(&self) -> Result<Id, AppError> {
        self.session_id.ok_or_else(|| {
            AppError::Forbidden("This needs a signed-in session, not an API key".into())
        })
    }
}

/// What the request's credentials amount to.
#[derive(Debug, Clone)]
pub enum AuthState {
    Anonymous,
    Authenticated(Viewer),
    /// A credential was sent and refused; the message says why.
    Refused(String),
}

impl AuthState {
    /// The viewer, or UNAUTHENTICATED.
    pub fn viewer(&self) -> Result<&Viewer, AppError> {
        match self {
            Self::Authenticated(viewer) => Ok(viewer),
            Self::Anonymous => Err(AppError::unauthenticated("Authentication required")),
            Self::Refused(message) => Err(AppError::unauthenticated(message.clone())),
        }
    }

    pub fn viewer_opt(&self) -> Option<&Viewer> {
        match self {
            Self::Authenticated(viewer) => Some(viewer),
            _ => None,
        }
    }
}
