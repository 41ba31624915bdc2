//! Credentials and the viewer: password hashing, tokens, sessions, API keys,
//! single-use tokens, revocation, rate limits, and the `Viewer` every store
//! function takes to scope its SQL.

pub mod api_keys;
pub mod authenticate;
pub mod client_ip;
pub mod key_scope;
pub mod oauth;
pub mod one_time_tokens;
pub mod password;
pub mod rate_limit;
pub mod revocation;
pub mod sessions;
pub mod tokens;
pub mod viewer;

pub use authenticate::Authenticator;
pub use password::PasswordHasher;
pub use tokens::TokenKeys;
pub use viewer::{AuthState, Scope, Viewer};
