//! Credentials and the viewer: password hashing, tokens, sessions, and the
//! `Viewer` every store function takes to scope its SQL.

pub mod api_keys;
pub mod one_time_tokens;
pub mod password;
pub mod sessions;
pub mod tokens;
pub mod viewer;

pub use password::PasswordHasher;
pub use tokens::TokenKeys;
pub use viewer::{AuthState, Viewer};
