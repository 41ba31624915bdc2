//! The alias limit, which async-graphql does not have: counted on the parsed
//! document before validation and execution (see `prepare`). The cost is in
//! `cost.rs`; depth, directives per field and parser recursion use
//! async-graphql's own limits.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};

/// Aliased fields written in the document (operations and fragments).
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = match &document.operations {
        DocumentOperations::Single(op) => in_set(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops
            .values()
            .map(|op| in_set(&op.node.selection_set.node))
            .sum(),
    };
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| in_set(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_aliases_everywhere() {
        let doc = async_graphql::parser::parse_query(
            "query { a: me { id } b: me { x: id } ... on Query { c: me { id } } ...F }
             fragment F on Query { d: me { id } }",
        )
        .expect("parses");
        assert_eq!(count_aliases(&doc), 5);
    }
}
