//! Operations: tracked, undoable bulk jobs over tasks and projects.
//!
//! - [`start`]: `startOperation` checks the input, fixes the items (ids in
//!   `operation_items`) and counts them; a dry run stores its preview and
//!   ends there, having changed nothing.
//! - [`engine`]: the background worker. It claims an operation, then walks its
//!   items in batches; each batch commits its writes, its records, the
//!   counters and the heartbeat in one transaction, so a crash loses at most
//!   the batch in flight and a restart resumes after the last committed one.
//! - [`plan`]: what one item becomes, shared by the dry run and the real run.
//! - [`stored`]: the versioned shape of the parameters in the database.
//! - [`snapshot`]: the `before` / `after` of a record, and how a rollback puts
//!   `before` back.

pub mod engine;
pub mod graphql;
pub mod kinds;
pub mod live;
pub mod model;
pub mod plan;
pub mod snapshot;
pub mod start;
pub mod store;
pub mod stored;

pub use store::find;
