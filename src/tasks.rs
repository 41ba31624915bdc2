//! Tasks: rows, listings, store functions, writes and GraphQL.

pub mod graphql;
pub mod kinds;
pub mod list;
pub mod model;
pub mod snippet;
pub mod store;
pub mod validate;
pub mod writes;
