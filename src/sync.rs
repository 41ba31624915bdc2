//! Offline sync: the per-owner change counter, the pull of changes since a
//! cursor (`changes`), and the push that applies a client's offline work
//! and pulls in the same transaction (`sync`).

pub mod counter;
pub mod cursor;
pub mod graphql;
pub mod model;
pub mod pull;
pub mod push;
