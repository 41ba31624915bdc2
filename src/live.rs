//! Live updates: the subscriptions of API.md over WebSocket. The bus
//! ([`crate::events`]) carries each change with the row it wrote; the
//! [`hub::Hub`] of each instance decodes it once and delivers it, per user
//! in order, to every subscription allowed to see it at delivery. [`graphql`]
//! holds the `Subscription` fields, [`shared`] the modes their resolvers
//! run in. The transport is `app/graphql_ws.rs`.

mod closer;
pub mod graphql;
mod group;
pub mod hub;
mod item;
mod lanes;
mod outlet;
pub mod pending;
mod registry;
mod roster;
pub mod shared;

pub use hub::{Hub, HubLimits};

/// What a WebSocket connection puts in each of its requests: which
/// registered connection it is.
#[derive(Debug, Clone, Copy)]
pub struct LiveConnection {
    pub id: u64,
}
