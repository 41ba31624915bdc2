//! What an API key may not do, whatever its scopes: manage credentials or
//! the account. A key is made for a program; if it leaks, it must not be
//! able to end the owner's sessions, mint more keys, revoke the owner's
//! keys, change the password, profile or address, or delete the account.
//!
//! One rule, checked for the whole schema before execution
//! (`graphql::prepare`): a request authenticated by an API key is
//! FORBIDDEN when any mutation of its document selects, at its root, a
//! field of the account part of the schema ([`ACCOUNT_FIELDS`]: every root
//! mutation of `users::graphql::UsersMutation`, which merges sign-in,
//! account, email flows, provider sign-in, sessions and API keys). A unit test fails when a
//! field is added to that object without being listed here. It fails
//! closed: fragments at the root are followed, and one that can not be
//! resolved counts as a forbidden field.

use std::collections::HashSet;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};

use super::Viewer;
use crate::error::AppError;

/// The root mutation fields closed to API keys: every field of
/// `UsersMutation` (see the test below).
pub const ACCOUNT_FIELDS: &[&str] = &[
    // Sign-in (`users::graphql::sign_in`).
    "signup",
    "login",
    "refreshToken",
    "logout",
    // The account (`users::graphql::account`).
    "updateProfile",
    "changePassword",
    "deleteAccount",
    // Email flows (`users::graphql::email`).
    "requestEmailVerification",
    "verifyEmail",
    "requestPasswordReset",
    "resetPassword",
    "requestMagicLink",
    "loginWithMagicLink",
    // Provider sign-in and linking (`users::graphql::oauth`).
    "startOAuth",
    "completeOAuth",
    "linkOAuth",
    "unlinkOAuth",
    // Sessions (`auth::sessions::graphql`).
    "revokeSession",
    "logoutAll",
    // API keys (`auth::api_keys::graphql`).
    "createApiKey",
    "revokeApiKey",
];

const FORBIDDEN: &str = "An API key can not manage credentials or the account; sign in instead";

/// FORBIDDEN when `viewer` is an API key and the operation the request
/// selects (`operation_name`) is a mutation that selects one of
/// [`ACCOUNT_FIELDS`] (or a root fragment that can not be resolved). When
/// the selected operation can not be told, every mutation of the document
/// is checked.
pub fn check(
    viewer: &Viewer,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<(), AppError> {
    if viewer.api_key_id.is_none() && viewer.session_id.is_some() {
        return Ok(());
    }
    let selected = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    };
    let candidates: Vec<_> = match selected {
        Some(op) => vec![op],
        None => document.operations.iter().map(|(_, op)| op).collect(),
    };
    let mutations = candidates
        .into_iter()
        .filter(|op| op.node.ty == OperationType::Mutation);
    for operation in mutations {
        let mut seen = HashSet::new();
        if touches_account(document, &operation.node.selection_set.node, &mut seen) {
            return Err(AppError::Forbidden(FORBIDDEN.into()));
        }
    }
    Ok(())
}

/// Whether a root selection set reaches a closed field, following
/// fragments (each once: a cycle is refused by validation later anyway).
fn touches_account<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    seen: &mut HashSet<&'d str>,
) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => ACCOUNT_FIELDS.contains(&field.node.name.node.as_str()),
        Selection::InlineFragment(inline) => {
            touches_account(document, &inline.node.selection_set.node, seen)
        }
        Selection::FragmentSpread(spread) => {
            let name = spread.node.fragment_name.node.as_str();
            if !seen.insert(name) {
                return false;
            }
            match document.fragments.get(&spread.node.fragment_name.node) {
                Some(fragment) => {
                    touches_account(document, &fragment.node.selection_set.node, seen)
                }
                // Unknown: fail closed.
                None => true,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::{ServiceDocument, TypeKind, TypeSystemDefinition};
    use async_graphql::{EmptySubscription, Schema};

    use super::*;
    use crate::db::types::Id;
    use crate::users::graphql::{UsersMutation, UsersQuery};

    fn key() -> Viewer {
        Viewer {
            user_id: Id::new(),
            session_id: None,
            api_key_id: Some(Id::new()),
            scopes: vec![super::super::Scope::Read, super::super::Scope::Write],
        }
    }

    fn refused(viewer: &Viewer, query: &str) -> bool {
        refused_as(viewer, query, None)
    }

    fn refused_as(viewer: &Viewer, query: &str, name: Option<&str>) -> bool {
        let document = parse_query(query).expect("parses");
        matches!(check(viewer, &document, name), Err(AppError::Forbidden(_)))
    }

    #[test]
    fn every_mutation_of_the_account_part_is_closed_to_keys() {
        let sdl = Schema::build(
            UsersQuery::default(),
            UsersMutation::default(),
            EmptySubscription,
        )
        .finish()
        .sdl();
        let document: ServiceDocument =
            async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
        let mut fields: Vec<String> = document
            .definitions
            .iter()
            .filter_map(|definition| match definition {
                TypeSystemDefinition::Type(ty) if ty.node.name.node == "UsersMutation" => {
                    Some(&ty.node.kind)
                }
                _ => None,
            })
            .flat_map(|kind| match kind {
                TypeKind::Object(object) => object
                    .fields
                    .iter()
                    .map(|f| f.node.name.node.to_string())
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        fields.sort();
        let mut listed: Vec<String> = ACCOUNT_FIELDS.iter().map(|f| f.to_string()).collect();
        listed.sort();
        assert!(!fields.is_empty(), "no UsersMutation in the SDL:\n{sdl}");
        assert_eq!(
            fields, listed,
            "every root mutation of UsersMutation must be in ACCOUNT_FIELDS, and only those"
        );
    }

    #[test]
    fn keys_are_refused_account_fields_however_they_are_selected() {
        let key = key();
        assert!(refused(&key, "mutation { logoutAll }"));
        assert!(refused(
            &key,
            "mutation { a: createProject(input: {name: \"x\"}) { id } b: revokeApiKey(id: \"1\") { id } }"
        ));
        assert!(refused(&key, "mutation { ... on Mutation { logoutAll } }"));
        assert!(refused(
            &key,
            "mutation { ...F } fragment F on Mutation { ...G } fragment G on Mutation { revokeSession(id: \"1\") }"
        ));
        assert!(refused(&key, "mutation { ...Missing }"));
        assert!(!refused(
            &key,
            "mutation { ...F } fragment F on Mutation { ...F }"
        ));
        // The selected operation; any mutation when that is unclear.
        let two = "query Q { me { id } } mutation M { deleteAccount(password: \"x\") }";
        assert!(refused(&key, two));
        assert!(refused_as(&key, two, Some("M")));
        assert!(refused_as(&key, two, Some("Nope")));
        assert!(!refused_as(&key, two, Some("Q")));
        // Other mutations, queries and nested fields of the same names pass.
        assert!(!refused(
            &key,
            "mutation { createProject(input: {name: \"x\"}) { id } }"
        ));
        assert!(!refused(&key, "query { apiKeys { id } sessions { id } }"));
        assert!(!refused(
            &key,
            "mutation { createTask(input: {projectId: \"1\", title: \"t\"}) { login: id } }"
        ));
        // A session may do all of it.
        let session = Viewer::of_session(Id::new(), Id::new());
        assert!(!refused(
            &session,
            "mutation { logoutAll revokeApiKey(id: \"1\") { id } }"
        ));
    }
}
