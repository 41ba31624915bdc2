//! No text may hold U+0000: PostgreSQL can not store it (and SQLite would
//! keep a string that PostgreSQL refuses, so the two would differ). One
//! rule for every argument, checked before anything runs: in the
//! document's literals once per kept document, in the variables on each
//! request. The error names where the character was (`input.title`, or
//! `$input.title` for a variable).

use async_graphql::Variables;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql_value::{ConstValue, Value};

use crate::error::AppError;

pub const RULE: &str = "must not contain the character U+0000";

/// Where a literal of `document` holds U+0000, as `argument.field[i]…`.
pub fn in_document(document: &ExecutableDocument) -> Option<String> {
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    for op in operations {
        for definition in &op.node.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                let name = format!("${}", definition.node.name.node);
                if let Some(at) = in_const(&default.node, name) {
                    return Some(at);
                }
            }
        }
        if let Some(at) = in_set(&op.node.selection_set.node) {
            return Some(at);
        }
    }
    document
        .fragments
        .values()
        .find_map(|f| in_set(&f.node.selection_set.node))
}

/// Where a variable holds U+0000, as `$name.field[i]…`.
pub fn in_variables(variables: &Variables) -> Option<String> {
    variables
        .iter()
        .find_map(|(name, value)| in_const(value, format!("${name}")))
}

/// The error for U+0000 found at `at`.
pub fn refused(at: String) -> AppError {
    AppError::bad_input(at, RULE)
}

fn in_set(set: &SelectionSet) -> Option<String> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            let directives = field.directives.iter().flat_map(|d| &d.node.arguments);
            field
                .arguments
                .iter()
                .chain(directives)
                .find_map(|(name, value)| in_value(&value.node, name.node.to_string()))
                .or_else(|| in_set(&field.selection_set.node))
        }
        Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
        Selection::FragmentSpread(_) => None,
    })
}

fn in_value(value: &Value, at: String) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then_some(at),
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_value(v, format!("{at}[{i}]"))),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_value(v, format!("{at}.{k}"))),
        _ => None,
    }
}

fn in_const(value: &ConstValue, at: String) -> Option<String> {
    match value {
        ConstValue::String(s) => s.contains('\0').then_some(at),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_const(v, format!("{at}[{i}]"))),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_const(v, format!("{at}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    #[test]
    fn finds_the_character_where_it_is() {
        let found = |text: &str| in_document(&parse_query(text).expect("parses"));
        assert_eq!(found("{ a(x: \"fine\") }"), None);
        assert_eq!(
            found("{ a { b(input: { tags: [\"ok\", \"n\\u0000\"] }) } }"),
            Some("input.tags[1]".into())
        );
        assert_eq!(
            found("query($v: String = \"\\u0000\") { a(x: $v) }"),
            Some("$v".into())
        );
        assert_eq!(
            found("{ ...F } fragment F on Q { a(s: \"\\u0000\") }"),
            Some("s".into())
        );
        let variables = Variables::from_json(serde_json::json!({
            "ok": "text", "input": { "title": "a\u{0}b" }
        }));
        assert_eq!(in_variables(&variables), Some("$input.title".into()));
    }
}
