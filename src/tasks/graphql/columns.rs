//! The columns a task connection's selection needs read (see
//! `tasks::list::TaskColumns`): each field of `Task` names what it shows.
//! A field not named here reads every column, so a new field is right
//! before it is fast.

use async_graphql::SelectionField;

use crate::tasks::list::TaskColumns;

/// What the selection of a task connection (`edges`, `pageInfo`,
/// `totalCount`) reads of its tasks. Fragments count with their fields,
/// whatever their directives say (reading more is only slower).
pub fn read_by(connection: SelectionField<'_>) -> TaskColumns {
    let mut columns = TaskColumns::NONE;
    for field in connection.selection_set() {
        match field.name() {
            // Cursors read what the listing reads for itself.
            "pageInfo" | "totalCount" | "__typename" => {}
            "edges" => {
                for edge in field.selection_set() {
                    match edge.name() {
                        "cursor" | "__typename" => {}
                        "node" => columns = columns.union(node_columns(edge)),
                        _ => return TaskColumns::ALL,
                    }
                }
            }
            _ => return TaskColumns::ALL,
        }
    }
    columns
}

/// What the selection of a `Task` reads of its row.
fn node_columns(node: SelectionField<'_>) -> TaskColumns {
    let mut columns = TaskColumns::NONE;
    for field in node.selection_set() {
        let read: &[&str] = match field.name() {
            "__typename" => &[],
            "id" => &["id"],
            "project" => &["project_id"],
            "title" => &["title"],
            "description" => &["description"],
            "status" => &["status"],
            "priority" => &["priority"],
            "tags" => &["tags"],
            "dueAt" => &["due_at"],
            "position" => &["position"],
            "completedAt" => &["completed_at"],
            "deletedAt" => &["deleted_at"],
            "version" => &["version"],
            "createdAt" => &["created_at"],
            "updatedAt" => &["updated_at"],
            "assignee" => &["assignee_id"],
            "createdBy" => &["created_by"],
            "updatedBy" => &["updated_by"],
            "searchSnippet" => &["title", "description", "tags"],
            _ => return TaskColumns::ALL,
        };
        columns = read
            .iter()
            .fold(columns, |columns, name| columns.with(name));
    }
    columns
}
