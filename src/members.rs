//! Sharing: the members of a project (with their roles) and invitations to
//! it. Who may do what is decided by `crate::access`; this module stores
//! membership and invitations, shows them in GraphQL and announces every
//! membership change on the bus (`MEMBER_ADDED`, `MEMBER_REMOVED`,
//! `ROLE_CHANGED`) in the transaction that makes it.

pub mod graphql;
pub mod invitations;
pub mod list;
pub mod loaders;
pub mod model;
pub mod store;
