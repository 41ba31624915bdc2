//! The statements the listings send, to the letter.

use super::*;
use crate::graphql::pagination::{KeyValue, OrderDirection};

fn listing(field: TaskOrderField, direction: OrderDirection) -> TaskListQuery {
    let order = TaskOrderSpec { field, direction };
    let at = Timestamp::now();
    TaskListQuery {
        filter: TaskFilterSpec {
            project_id: None,
            status: Some(vec![1, 2]),
            priority: Some(vec![3]),
            tag: Some("home".into()),
            search: Some("50%".into()),
            due_before: Some(at),
            due_after: Some(at),
            updated_since: Some(at),
            include_deleted: false,
            assignee_id: None,
            assigned_to_me: false,
        },
        order,
        page: PageRequest {
            size: 10,
            backward: false,
            after: Some(order.cursor_at(KeyValue::Int(3), Id::new())),
            before: Some(order.cursor_at(KeyValue::Null, Id::new())),
        },
        columns: TaskColumns::ALL,
    }
}

const POSTGRES: &str = r"SELECT t.* FROM (VALUES ($1), ($2)) AS parent(id) CROSS JOIN LATERAL (SELECT <columns> FROM tasks t WHERE t.project_id = parent.id AND EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = parent.id AND m.user_id = $3) AND t.deleted_at IS NULL AND t.status IN ($4, $5) AND t.priority IN ($6) AND t.tags @> $7 AND t.search_vector @@ to_tsquery('simple', $8) AND t.due_at < $9 AND t.due_at >= $10 AND t.updated_at >= $11 AND (t.priority IS NULL OR t.priority < $12 OR (t.priority = $13 AND t.id < $14)) AND (t.priority IS NOT NULL OR t.id > $15) ORDER BY (t.priority IS NULL) ASC, t.priority DESC, t.id DESC LIMIT $16) t ORDER BY t.project_id, (t.priority IS NULL) ASC, t.priority DESC, t.id DESC";
const SQLITE_PART: &str = r"SELECT * FROM (SELECT <columns> FROM task_search JOIN task_search_keys search_key ON search_key.id = task_search.rowid JOIN tasks t ON t.id = search_key.task_id WHERE t.project_id = ? AND EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = ? AND m.user_id = ?) AND t.deleted_at IS NULL AND t.status IN (?, ?) AND t.priority IN (?) AND EXISTS (SELECT 1 FROM json_each(t.tags) AS tag WHERE tag.value = ?) AND task_search MATCH ? AND t.due_at < ? AND t.due_at >= ? AND t.updated_at >= ? AND (t.priority IS NULL OR t.priority < ? OR (t.priority = ? AND t.id < ?)) AND (t.priority IS NOT NULL OR t.id > ?) ORDER BY (t.priority IS NULL) ASC, t.priority DESC, t.id DESC LIMIT ?)";

/// `statement` as sent: its tasks' columns named one by one, in `TaskRow`'s
/// order (written `<columns>` here for reading).
fn every_column(statement: &str) -> String {
    let columns: Vec<String> = TaskRow::COLUMNS.iter().map(|c| format!("t.{c}")).collect();
    let select = format!("SELECT {}", columns.join(", "));
    assert_eq!(select, *SELECT_TASKS);
    statement.replace("SELECT <columns>", &select)
}

/// The statement the nested benchmark's query sends, to the letter.
#[test]
fn the_per_project_page_sends_the_same_statement() {
    let viewer = Viewer::reader();
    let parents = [Id::new(), Id::new()];
    let query = listing(TaskOrderField::Priority, OrderDirection::Desc);
    let sql = |backend| {
        let b = per_project_statement(backend, &viewer, &parents, &query).expect("builds");
        b.sql().to_owned()
    };
    assert_eq!(sql(Backend::Postgres), every_column(POSTGRES));
    let part = every_column(SQLITE_PART);
    assert_eq!(sql(Backend::Sqlite), format!("{part} UNION ALL {part}"));
}

/// Also a second order, whose key is never NULL: one project, no cursor.
#[test]
fn a_page_by_title_reads_the_same_statement() {
    let viewer = Viewer::reader();
    let mut query = listing(TaskOrderField::Title, OrderDirection::Asc);
    query.filter = TaskFilterSpec::default();
    query.page.after = None;
    query.page.before = None;
    query.page.backward = true;
    let b = per_project_statement(Backend::Sqlite, &viewer, &[Id::new()], &query).expect("builds");
    assert_eq!(
        b.sql(),
        every_column(
            "SELECT * FROM (SELECT <columns> FROM tasks t WHERE t.project_id = ? AND EXISTS \
             (SELECT 1 FROM project_members m WHERE m.project_id = ? AND m.user_id = ?) \
             AND t.deleted_at IS NULL ORDER BY t.title DESC, t.id DESC LIMIT ?)"
        )
    );
}

/// Ordered by relevance: the matching tasks ranked in a derived table,
/// then the cursor, the order and the limit over it.
#[test]
fn a_page_by_relevance_ranks_before_the_cursor() {
    let viewer = Viewer::reader();
    let order = TaskOrderSpec {
        field: TaskOrderField::Relevance,
        direction: OrderDirection::Desc,
    };
    let query = TaskListQuery {
        filter: TaskFilterSpec {
            search: Some("Desi \"NEAR\"".into()),
            ..TaskFilterSpec::default()
        },
        order,
        page: PageRequest {
            size: 2,
            backward: false,
            after: Some(order.cursor_at(KeyValue::Float(0.5), Id::new())),
            before: None,
        },
        columns: TaskColumns::ALL,
    };
    let sql = |backend| {
        let mut b = SqlBuilder::new(backend);
        push_page(&mut b, &viewer, &query, None).expect("builds");
        b.sql().to_owned()
    };
    let guard = "t.project_id IN (SELECT m.project_id FROM project_members m WHERE m.user_id = ";
    let live = "t.deleted_at IS NULL AND EXISTS (SELECT 1 FROM projects p WHERE p.id = t.project_id AND p.deleted_at IS NULL)";
    assert_eq!(
        sql(Backend::Sqlite),
        every_column(&format!(
            "SELECT t.* FROM (SELECT <columns>, task_relevance(t.title, t.description, t.tags, ?) \
             AS relevance \
             FROM task_search JOIN task_search_keys search_key ON search_key.id = task_search.rowid \
             JOIN tasks t ON t.id = search_key.task_id WHERE {guard}?) AND {live} \
             AND task_search MATCH ?) t WHERE TRUE AND (t.relevance < ? OR (t.relevance = ? \
             AND t.id < ?)) ORDER BY t.relevance DESC, t.id DESC LIMIT ?"
        ))
    );
    assert_eq!(
        sql(Backend::Postgres),
        every_column(&format!(
            "SELECT t.* FROM (SELECT <columns>, round(CAST(ts_rank('{{0.1, 0.2, 0.4, 1.0}}', \
             t.search_vector, to_tsquery('simple', $1)) AS DOUBLE PRECISION) * 1000000) \
             AS relevance \
             FROM tasks t WHERE {guard}$2) AND {live} AND t.search_vector @@ \
             to_tsquery('simple', $3)) t WHERE TRUE AND (t.relevance < $4 OR (t.relevance = $5 \
             AND t.id < $6)) ORDER BY t.relevance DESC, t.id DESC LIMIT $7"
        ))
    );
}

#[test]
fn a_listing_selects_the_columns_its_selection_reads_and_its_own() {
    let viewer = Viewer::reader();
    let mut query = listing(TaskOrderField::DueAt, OrderDirection::Asc);
    query.columns = TaskColumns::NONE.with("tags").with("title");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut b = SqlBuilder::new(backend);
        push_page(&mut b, &viewer, &query, None).expect("builds");
        let select = "SELECT t.id, t.project_id, t.title, t.tags, t.due_at FROM ";
        assert!(b.sql().starts_with(select), "{}", b.sql());
    }
}
