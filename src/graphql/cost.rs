//! The cost of a document, counted on the parsed document before validation
//! and execution (see `prepare`), so that a query whose answer would be huge
//! is refused in microseconds instead of being run.
//!
//! Every field costs 1 plus the cost of its selection. A list multiplies the
//! cost of its selection by the most items it can hold:
//!
//! - a connection (`…Connection`) holds its page: `first` or `last` (a
//!   literal or a variable), the largest page when absent, capped at the
//!   largest page. Its `edges` (and any other list in it) count once per
//!   row; `totalCount` and `pageInfo` count once.
//! - a `ChangeSet` holds the page of `changes(first:)` (its default when
//!   absent); its `projects` and `tasks` share that page, so the larger of
//!   the two counts.
//! - any other list of objects holds its known bound (`BOUNDS`), or the
//!   largest page when it has none; a list argument (`createTasks(input:)`,
//!   `updateTasks(ids:)`) lowers it to that list's length.
//! - a list of scalars or enums (`tags`) counts as one field.
//!
//! Fragments count where they are spread, each computed once per document;
//! a fragment that spreads itself counts nothing (validation refuses it).
//! Only the operation that runs is counted. The walk visits every
//! selection once, so its time is linear in the size of the document.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_graphql::Variables;
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql_value::{ConstValue, Value};

use crate::operations::start::PREVIEW;
use crate::sync::pull;
use crate::tasks::validate::BULK_MAX;

/// Object lists other than pages, by parent type and field, with the most
/// items each can hold.
const BOUNDS: &[(&str, &str, u64)] = &[
    ("Operation", "preview", PREVIEW as u64),
    ("Mutation", "createTasks", BULK_MAX as u64),
    ("Mutation", "updateTasks", BULK_MAX as u64),
    // A conflict per pushed project or task.
    ("SyncPayload", "conflicts", 2 * BULK_MAX as u64),
];

/// The schema as the walk needs it: for each object or interface type, its
/// fields' named types and whether they are lists.
struct Model {
    types: HashMap<String, HashMap<String, FieldType>>,
}

struct FieldType {
    name: String,
    list: bool,
}

/// Built once from the schema's SDL.
static MODEL: LazyLock<Model> = LazyLock::new(|| Model::new(&super::schema::sdl()));

/// Builds the schema model now rather than on the first request.
pub fn warm_up() {
    LazyLock::force(&MODEL);
}

impl Model {
    fn new(sdl: &str) -> Self {
        let mut types = HashMap::new();
        // The SDL is printed by async-graphql from our own types.
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return Self { types };
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let fields = match ty.node.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                _ => continue,
            };
            let fields = fields
                .into_iter()
                .map(|field| {
                    let (name, list) = named(&field.node.ty.node);
                    (field.node.name.node.to_string(), FieldType { name, list })
                })
                .collect();
            types.insert(ty.node.name.node.to_string(), fields);
        }
        Self { types }
    }

    fn field(&self, parent: &str, name: &str) -> Option<&FieldType> {
        self.types.get(parent)?.get(name)
    }

    /// Objects, interfaces: anything with a selection.
    fn composite(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }
}

fn named(ty: &Type) -> (String, bool) {
    match &ty.base {
        BaseType::Named(name) => (name.to_string(), false),
        BaseType::List(inner) => (named(inner).0, true),
    }
}

/// How a type holds a page of rows.
#[derive(Clone, Copy, PartialEq)]
enum Paging {
    /// `edges`: one per row.
    Connection,
    /// `projects` and `tasks` share the page.
    ChangeSet,
}

fn paging(type_name: &str) -> Option<Paging> {
    if type_name.ends_with("Connection") {
        Some(Paging::Connection)
    } else if type_name == "ChangeSet" {
        Some(Paging::ChangeSet)
    } else {
        None
    }
}

/// The cost of a selection: `fixed`, plus `per_row` for each row of the page
/// when the selection is on a paged type.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Cost {
    fixed: u64,
    per_row: u64,
}

impl Cost {
    fn fixed(fixed: u64) -> Self {
        Self { fixed, per_row: 0 }
    }
}

struct Walk<'a> {
    model: &'a Model,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    page_size: u64,
    fragments: HashMap<&'a str, Cost>,
    active: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet, ty: Option<&'a str>) -> Cost {
        let paged = ty.and_then(paging);
        let mut total = Cost::default();
        for item in &set.items {
            let part = match &item.node {
                Selection::Field(field) => self.field(&field.node, ty, paged.is_some()),
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str());
                    self.set(&fragment.node.selection_set.node, on.or(ty))
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())
                }
            };
            total.fixed = total.fixed.saturating_add(part.fixed);
            total.per_row = if paged == Some(Paging::ChangeSet) {
                total.per_row.max(part.per_row)
            } else {
                total.per_row.saturating_add(part.per_row)
            };
        }
        total
    }

    fn fragment(&mut self, name: &'a str) -> Cost {
        if let Some(cost) = self.fragments.get(name) {
            return *cost;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Cost::default();
        };
        if !self.active.insert(name) {
            return Cost::default();
        }
        let on = fragment.node.type_condition.node.on.node.as_str();
        let cost = self.set(&fragment.node.selection_set.node, Some(on));
        self.active.remove(name);
        self.fragments.insert(name, cost);
        cost
    }

    fn field(&mut self, field: &'a Field, parent: Option<&'a str>, in_page: bool) -> Cost {
        let name = field.name.node.as_str();
        let Some(ty) = parent.and_then(|p| self.model.field(p, name)) else {
            // `__typename`, introspection, or a field validation refuses.
            let below = self.set(&field.selection_set.node, None);
            return Cost::fixed(below.fixed.saturating_add(1));
        };
        let model = self.model;
        let below = self.set(&field.selection_set.node, Some(ty.name.as_str()));
        if let Some(paging) = paging(&ty.name) {
            let rows = self.page(field, paging);
            let cost = below.per_row.saturating_mul(rows);
            return Cost::fixed(cost.saturating_add(below.fixed).saturating_add(1));
        }
        if !ty.list || !model.composite(&ty.name) {
            return Cost::fixed(below.fixed.saturating_add(1));
        }
        if in_page {
            return Cost {
                fixed: 1,
                per_row: below.fixed,
            };
        }
        let bound = BOUNDS
            .iter()
            .find(|(p, f, _)| Some(*p) == parent && *f == name)
            .map_or(self.page_size, |(_, _, n)| *n);
        let items = self.list_argument(field).map_or(bound, |n| n.min(bound));
        Cost::fixed(below.fixed.saturating_mul(items).saturating_add(1))
    }

    /// Rows a paged field can return.
    fn page(&self, field: &Field, paging: Paging) -> u64 {
        let (default, cap) = match paging {
            Paging::Connection => (self.page_size, self.page_size),
            Paging::ChangeSet => (pull::DEFAULT_PAGE as u64, pull::MAX_PAGE as u64),
        };
        ["first", "last"]
            .into_iter()
            .filter_map(|name| field.get_argument(name))
            .map(|value| match self.resolve(&value.node) {
                Arg::Null => default,
                // Negative: the resolver refuses it.
                Arg::Number(n) => n.unwrap_or(0).min(cap),
                // Not sent or not a number: the largest page.
                Arg::List(_) | Arg::Other => cap,
            })
            .max()
            .unwrap_or(default)
    }

    /// The length of the longest list argument, if any is a list.
    fn list_argument(&self, field: &Field) -> Option<u64> {
        field
            .arguments
            .iter()
            .filter_map(|(_, value)| match self.resolve(&value.node) {
                Arg::List(len) => Some(len as u64),
                _ => None,
            })
            .max()
    }

    /// What the resolver will see of a literal or variable argument.
    fn resolve(&self, value: &Value) -> Arg {
        match value {
            Value::Null => Arg::Null,
            Value::Number(n) => Arg::Number(n.as_u64()),
            Value::List(items) => Arg::List(items.len()),
            Value::Variable(name) => match self.variables.get(name) {
                Some(ConstValue::Null) => Arg::Null,
                Some(ConstValue::Number(n)) => Arg::Number(n.as_u64()),
                Some(ConstValue::List(items)) => Arg::List(items.len()),
                _ => Arg::Other,
            },
            _ => Arg::Other,
        }
    }
}

/// An argument as far as the cost needs it.
enum Arg {
    Null,
    /// `None` when negative or not an integer.
    Number(Option<u64>),
    List(usize),
    Other,
}

/// The operation that runs: the named one, or the only one. When that is
/// unclear the request fails later, and every operation is counted.
fn operations<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Vec<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => vec![&op.node],
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| vec![&op.node]).unwrap_or_default()
        }
        (DocumentOperations::Multiple(ops), None) => ops.values().map(|op| &op.node).collect(),
    }
}

fn root(operation: &OperationDefinition) -> &'static str {
    match operation.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    }
}

/// The cost of the operation `operation_name` selects (see the module
/// documentation), with `page_size` the largest page a connection serves.
pub fn cost(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    page_size: usize,
) -> u64 {
    let mut walk = Walk {
        model: &MODEL,
        document,
        variables,
        page_size: page_size as u64,
        fragments: HashMap::new(),
        active: HashSet::new(),
    };
    operations(document, operation_name)
        .into_iter()
        .map(|op| walk.set(&op.selection_set.node, Some(root(op))).fixed)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(query: &str, variables: serde_json::Value) -> u64 {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let variables = Variables::from_json(variables);
        cost(&document, None, &variables, 100)
    }

    #[test]
    fn connections_multiply_by_their_page() {
        // tasks: 1 + edges (1 + 20 × (node 1 + 4 fields)) = 102;
        // projects: 1 + edges (1 + 10 × (node 1 + id, name 2 + 102)) = 1052.
        let nested = "query { projects(first: 10) { edges { node { id name
            tasks(first: 20) { edges { node { id title status tags } } } } } } }";
        assert_eq!(cost_of(nested, serde_json::json!({})), 1052);
        // Without `first`, the largest page (100).
        assert_eq!(
            cost_of("{ tasks { edges { node { id } } } }", serde_json::json!({})),
            202
        );
        // `totalCount` and `pageInfo` count once.
        assert_eq!(
            cost_of(
                "{ tasks(first: 50) { totalCount pageInfo { hasNextPage } } }",
                serde_json::json!({})
            ),
            4
        );
    }

    #[test]
    fn variables_fragments_and_nesting_count() {
        let triple = "query($n: Int) { tasks(first: $n) { ...T } }
            fragment T on TaskConnection { edges { node { project { tasks(first: 100) {
              edges { node { ... on Task { project { tasks(last: 100) { edges { node { id } } } } } } } } } } } }";
        // inner 1 + 1 + 100 × 2 = 202; middle 2 + 100 × (1 + 1 + 202);
        // outer 2 + n × (1 + 1 + middle).
        let middle = 2 + 100 * 204;
        assert_eq!(
            cost_of(triple, serde_json::json!({ "n": 100 })),
            2 + 100 * (2 + middle)
        );
        assert_eq!(
            cost_of(triple, serde_json::json!({ "n": 3 })),
            2 + 3 * (2 + middle)
        );
        // A page larger than the limit counts as the limit (the resolver refuses it).
        assert_eq!(
            cost_of(triple, serde_json::json!({ "n": 100_000 })),
            2 + 100 * (2 + middle)
        );
    }

    #[test]
    fn change_sets_and_bounded_lists() {
        // projects and tasks share the page: the larger counts.
        let pull =
            "{ changes(first: 10) { projects { id name } tasks { id title status } cursor } }";
        assert_eq!(cost_of(pull, serde_json::json!({})), 1 + 1 + 1 + 1 + 10 * 3);
        let default = "{ changes { tasks { id } } }";
        assert_eq!(cost_of(default, serde_json::json!({})), 1 + 1 + 500);
        let bulk = "mutation($ids: [ID!]!) { updateTasks(ids: $ids, patch: {}) { id title } }";
        assert_eq!(
            cost_of(bulk, serde_json::json!({ "ids": ["a", "b", "c"] })),
            1 + 3 * 2
        );
        let sessions = "{ sessions { id } me { id } }";
        assert_eq!(cost_of(sessions, serde_json::json!({})), 1 + 100 + 2);
    }

    #[test]
    fn fragment_cycles_and_repeats_stay_cheap() {
        let cycle = "{ me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }";
        assert_eq!(cost_of(cycle, serde_json::json!({})), 2);
        // 40 fragments each spreading the previous one twice: computed once each.
        let mut query = String::from("{ me { ...F0 } } fragment F0 on User { id }");
        for i in 1..40 {
            query.push_str(&format!(
                " fragment F{i} on User {{ ...F{} ...F{} }}",
                i - 1,
                i - 1
            ));
        }
        query = query.replacen("...F0 } }", "...F39 } }", 1);
        assert_eq!(cost_of(&query, serde_json::json!({})), 1 + (1u64 << 39));
    }
}
