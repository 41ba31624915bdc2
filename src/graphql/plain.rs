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
use std::cell::RefCell;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_list};
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use std::task::Poll;

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

/// A list of `T` (`[T!]!`) whose items are resolved as [`Plain<T>`] in
/// one loop. async-graphql resolves a list's items as a future each, joined
/// (`try_join_all`); for a page of edges that is a future, a box and a join
/// per row where every item is ready at once. Any item that is not takes
/// the general path for the whole list.
pub struct PlainList<T>(pub Vec<T>);

impl<T: PlainFields + Send + Sync> OutputType for PlainList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<Plain<T>> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Plain<T>> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Plain<T>> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut values = Vec::with_capacity(self.0.len());
        for (at, item) in self.0.iter().enumerate() {
            match resolve_now(item, &ctx.with_index(at)) {
                Some(value) => values.push(value),
                None => return resolve_list(ctx, field, &self.0, Some(self.0.len())).await,
            }
        }
        Ok(Value::List(values))
    }
}

/// A list of strings (`[String!]!`), made in one loop rather than a future
/// per item (see [`PlainList`]).
pub struct Strings<'a>(pub Vec<&'a str>);

impl OutputType for Strings<'_> {
    fn type_name() -> Cow<'static, str> {
        <Vec<&str> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<&str> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<&str> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::List(
            self.0
                .iter()
                .map(|text| Value::String((*text).to_owned()))
                .collect(),
        ))
    }
}

/// Whether `shape` has the response keys of `items`, in order (a key is
/// usually the very same text, from the same document).
fn same_keys(shape: &IndexMap<Name, Value>, items: &[Positioned<Selection>]) -> bool {
    shape.len() == items.len()
        && shape
            .keys()
            .zip(items)
            .all(|(key, selection)| match &selection.node {
                Selection::Field(field) => {
                    let wanted = field.node.response_key().node.as_str();
                    std::ptr::eq(key.as_str(), wanted) || key.as_str() == wanted
                }
                _ => false,
            })
}

/// A plain field's value, resolved at its first poll; `None` when the field
/// is not plain or its resolver is not ready or fails.
fn plain_value<T: PlainFields>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<Value> {
    let name = field.node.name.node.as_str();
    if name == "__typename" {
        return Some(Value::String(object.introspection_type_name().into_owned()));
    }
    if !T::PLAIN.contains(&name) {
        return None;
    }
    let ctx_field = ctx.with_field(field);
    // Polled where it is made: moving the future into `now_or_never`
    // copied it, for every field of every row.
    let future = std::pin::pin!(object.resolve_field(&ctx_field));
    match future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(Ok(value)) => Some(value.unwrap_or_default()),
        Poll::Ready(Err(_)) | Poll::Pending => None,
    }
}

/// How many shapes each thread keeps: one per plain type of a listing
/// (tasks nest in their edges), and some room.
const SHAPES: usize = 4;

thread_local! {
    /// The keys of the last objects built here, in order (values null): the
    /// next object of the same selection starts from a clone of one. A map
    /// keeps each key's hash, so a clone hashes nothing, where inserting
    /// hashes every key again (SipHash; for a page of tasks that was the
    /// largest cost of building their values).
    static SHAPES_SEEN: RefCell<(usize, [IndexMap<Name, Value>; SHAPES])> =
        RefCell::new((0, Default::default()));
}

/// The object's value when every selected field is plain and ready; `None`
/// to take the general path.
fn resolve_now<T: PlainFields>(object: &T, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
    let items = &ctx.item.node.items;
    let shape = SHAPES_SEEN
        .with_borrow(|(_, shapes)| shapes.iter().find(|shape| same_keys(shape, items)).cloned());
    let reused = shape.is_some();
    let mut fields = shape.unwrap_or_else(|| IndexMap::with_capacity(items.len()));
    for (at, selection) in items.iter().enumerate() {
        let Selection::Field(field) = &selection.node else {
            return None;
        };
        if !field.node.directives.is_empty() {
            return None;
        }
        let value = plain_value(object, ctx, field)?;
        if reused {
            *fields.get_index_mut(at)?.1 = value;
        } else if fields
            .insert(field.node.response_key().node.clone(), value)
            .is_some()
        {
            // A response key twice (fields to merge): the general path.
            return None;
        }
    }
    if !reused && !fields.is_empty() {
        SHAPES_SEEN.with_borrow_mut(|(next, shapes)| {
            let shape = &mut shapes[*next % SHAPES];
            *next = next.wrapping_add(1);
            shape.clone_from(&fields);
            shape.values_mut().for_each(|value| *value = Value::Null);
        });
    }
    Some(if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    })
}
