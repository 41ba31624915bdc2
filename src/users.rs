//! Accounts: the user row, its store functions, and the auth mutations.

pub mod graphql;
pub mod model;
pub mod store;
pub mod validate;

pub use model::User;
