//! Tasklane: a GraphQL API server for multi-user project and task apps, on
//! SQLite or PostgreSQL. `main.rs` parses the command line and calls
//! [`app::start`]; the tests start the same server.
// The merged query and mutation roots (one more object each for exports)
// nest their resolvers' futures past the default limit of 128.
#![recursion_limit = "256"]

pub mod access;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod export;
pub mod graphql;
pub mod live;
pub mod mail;
pub mod members;
pub mod operations;
pub mod projects;
pub mod quotas;
pub mod sync;
pub mod tasks;
pub mod telemetry;
pub mod users;
pub mod validate;

pub use app::{Server, build_app, start};
pub use config::Config;

/// mimalloc: a GraphQL response allocates and frees thousands of small
/// values across worker threads, where glibc's malloc spent a third of the
/// server's CPU (measured with perf under the nested-query benchmark). Its
/// `override` feature also serves the C code's `malloc` (SQLite's), and
/// `no_thp` keeps its arenas off transparent huge pages, which held 2 MiB
/// pages resident for sparse use (about 50 MB at 10,000 WebSockets).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
