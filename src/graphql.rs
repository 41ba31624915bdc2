//! The GraphQL schema: assembly, per-request context, limits.

pub mod context;
pub mod cost;
pub mod documents;
pub mod json;
pub mod limits;
pub mod loaders;
pub mod manifest;
pub mod node;
pub mod nul;
pub mod pagination;
pub mod persisted;
pub mod plain;
pub mod prepare;
pub mod schema;

pub use context::{ContextExt, RequestMeta, Services, write_and_announce};
pub use schema::{AppSchema, build_schema, sdl};
