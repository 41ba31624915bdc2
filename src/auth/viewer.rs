//! Who is asking. The HTTP layer turns the `Authorization` header into an
//! [`AuthState`]; resolvers ask it for a [`Viewer`], which store functions
//! require, so no user data is reachable without one.

use crate::db::types::Id;

use super::TokenKeys;
use crate::error::AppError;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: Id,
    /// The session (refresh-token family) behind the access token.
    pub session_id: Id,
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
    /// Reads an `Authorization` header value (`Bearer <token>`).
    pub fn from_header(value: Option<&str>, keys: &TokenKeys) -> Self {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Self::Anonymous;
        };
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Self::Refused("Authorization must be 'Bearer <token>'".into()),
        };
        match keys.verify(token) {
            Ok(claims) => Self::Authenticated(Viewer {
                user_id: Id(claims.sub),
                session_id: Id(claims.sid),
            }),
            Err(AppError::Unauthenticated(message)) => Self::Refused(message),
            Err(_) => Self::Refused("Invalid access token".into()),
        }
    }

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
