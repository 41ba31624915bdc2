//! Objects listed by the hundred (tasks, their edges) resolved without a
//! future per field.
//!
//! async-graphql resolves every selected field of an object as its own
//! boxed future, then gathers the results in a map: for a page of tasks
//! that is a heap allocation and a copy of a large future per field and
//! row, which costs more than reading the rows. Most fields of these
//! objects only read the object itself, so their resolver is ready at its
//! first poll. `Plain<T>` is `T` as the schema shows it (same name, same
//! fields); when every selected field is one of `T::PLAIN`, it polls each
//! field's own generated resolver once, in place, and builds the object's
//! value directly. Any other selection (a fragment, a directive, a field
//! that loads something, a response key given twice) takes async-graphql's
//! own path, as does a plain field that is unexpectedly not ready or fails:
//! the result is the same either way, only the cost differs.
//!
//! This relies on the schema having no extensions (see `schema.rs`):
//! extensions see each field resolve, and this path skips them.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};
use futures_util::FutureExt;

/// An object whose fields named in `PLAIN` read the object only: their
/// resolvers never wait.
pub trait PlainFields: ContainerType + OutputType {
    /// Fields whose resolvers are ready at their first poll. A field listed
    /// here by mistake is only slower (it falls back); a field that loads
    /// must not be listed (polling it once would start its load).
    const PLAIN: &'static [&'static str];
}

/// `T`, resolved without per-field futures when the selection allows.
pub struct Plain<T>(pub T);

impl<T: PlainFields + Send + Sync> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match resolve_now(&self.0, ctx) {
            Some(value) => Ok(value),
            None => self.0.resolve(ctx, field).await,
        }
    }
}

/// The object's value when every selected field is plain and ready; `None`
/// to take the general path.
fn resolve_now<T: PlainFields>(object: &T, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
    let items = &ctx.item.node.items;
    let mut fields = IndexMap::with_capacity(items.len());
    for selection in items {
        let Selection::Field(field) = &selection.node else {
            return None;
        };
        if !field.node.directives.is_empty() {
            return None;
        }
        let key = &field.node.response_key().node;
        if fields.contains_key(key) {
            return None;
        }
        let name = field.node.name.node.as_str();
        let value = if name == "__typename" {
            Value::String(object.introspection_type_name().into_owned())
        } else if T::PLAIN.contains(&name) {
            let ctx_field = ctx.with_field(field);
            match object.resolve_field(&ctx_field).now_or_never()? {
                Ok(value) => value.unwrap_or_default(),
                Err(_) => return None,
            }
        } else {
            return None;
        };
        fields.insert(key.clone(), value);
    }
    Some(if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    })
}
