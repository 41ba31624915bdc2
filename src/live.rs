//! Live updates: the subscriptions of API.md over WebSocket. The bus
//! ([`crate::events`]) carries ids and versions; the [`hub::Hub`] of each
//! instance turns them into objects once and fans them out to subscribers,
//! checking at delivery who may see what; [`graphql`] holds the
//! `Subscription` fields. The transport is `app/graphql_ws.rs`.

pub mod graphql;
pub mod hub;
mod lanes;
pub mod pending;
pub mod shared;

pub use hub::{Hub, HubLimits};

/// What a WebSocket connection puts in each of its requests: which
/// registered connection it is.
#[derive(Debug, Clone, Copy)]
pub struct LiveConnection {
    pub id: u64,
}
