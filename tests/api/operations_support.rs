//! Helpers for the operation tests: start, wait, read records, snapshot the
//! whole visible state, and seed many tasks with bulk SQL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasklane::db::sql::{Bind, CountRow, SqlBuilder};
use tasklane::db::types::{Id, JsonDoc, Timestamp};
use tasklane::db::{Db, DbConn};

use crate::fixtures::ok;
use crate::support::TestApp;

pub const OP_FIELDS: &str = "id kind status dryRun total processed skipped failed errorMessage
    createdAt startedAt finishedAt rollbackOf { id }";

pub fn start_mutation() -> String {
    format!(
        "mutation($input: StartOperationInput!) {{ startOperation(input: $input) {{ {OP_FIELDS}
            preview {{ entityType entityId action before after }} }} }}"
    )
}

/// Starts an operation that must be accepted.
pub async fn start(app: &TestApp, token: &str, input: Value) -> Value {
    ok(app, token, &start_mutation(), json!({ "input": input })).await["startOperation"].clone()
}

pub async fn rollback(app: &TestApp, token: &str, id: &Value) -> Value {
    ok(
        app,
        token,
        &format!("mutation($id: ID!) {{ rollbackOperation(id: $id) {{ {OP_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await["rollbackOperation"]
        .clone()
}

pub async fn operation(app: &TestApp, token: &str, id: &Value) -> Value {
    ok(
        app,
        token,
        &format!("query($id: ID!) {{ operation(id: $id) {{ {OP_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await["operation"]
        .clone()
}

/// Polls until the operation has finished (or `limit` passes).
pub async fn wait(app: &TestApp, token: &str, id: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let op = operation(app, token, id).await;
        let status = op["status"].as_str().unwrap_or_default();
        if !matches!(status, "PENDING" | "RUNNING") {
            return op;
        }
        assert!(Instant::now() < deadline, "operation did not finish: {op}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every record of the operation, in order.
pub async fn records(app: &TestApp, token: &str, id: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = ok(
            app,
            token,
            "query($id: ID!, $after: String) { operation(id: $id) { records(first: 100, after: $after) {
                edges { node { entityType entityId action before after } }
                pageInfo { hasNextPage endCursor } totalCount } } }",
            json!({ "id": id, "after": after }),
        )
        .await;
        let connection = &data["operation"]["records"];
        for edge in connection["edges"].as_array().expect("edges") {
            out.push(edge["node"].clone());
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
}

/// Everything the user has (deleted included), without the fields every
/// write changes (`version`, `updatedAt`): id → fields.
pub async fn state(app: &TestApp, token: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut after = Value::Null;
    loop {
        let data = ok(
            app,
            token,
            "query($after: String) { tasks(first: 100, after: $after, filter: { includeDeleted: true }) {
                edges { node { id title description status priority tags dueAt position
                    completedAt deletedAt createdAt project { id } } }
                pageInfo { hasNextPage endCursor } } }",
            json!({ "after": after }),
        )
        .await;
        for edge in data["tasks"]["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            out.insert(node["id"].as_str().expect("id").to_owned(), node.clone());
        }
        if data["tasks"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = data["tasks"]["pageInfo"]["endCursor"].clone();
    }
    let data = ok(
        app,
        token,
        "{ projects(first: 100, filter: { includeDeleted: true }) {
            edges { node { id name description archived deletedAt createdAt } } } }",
        json!({}),
    )
    .await;
    for edge in data["projects"]["edges"].as_array().expect("edges") {
        let node = &edge["node"];
        out.insert(node["id"].as_str().expect("id").to_owned(), node.clone());
    }
    out
}

/// Inserts `n` tasks titled `"{prefix} {i}"` into the user's project, with
/// one multi-row INSERT per 200 tasks (no API round trips).
pub async fn seed_tasks(db: &Db, owner: &str, project: &str, prefix: &str, n: usize) {
    let owner = Id::parse(owner).expect("owner id");
    let project = Id::parse(project).expect("project id");
    let mut pooled: DbConn = db.write().await.expect("connection");
    let mut conn = pooled.conn();
    let now = Timestamp::now();
    for start in (0..n).step_by(200) {
        let mut b = SqlBuilder::new(conn.backend());
        b.push(
            "INSERT INTO tasks (id, project_id, owner_id, title, status, tags, version, seq, \
             created_at, updated_at) VALUES ",
        );
        for i in start..(start + 200).min(n) {
            if i > start {
                b.push(", ");
            }
            b.push("(")
                .bind(Bind::Id(Id::new()))
                .push(", ")
                .bind(Bind::Id(project))
                .push(", ")
                .bind(Bind::Id(owner))
                .push(", ")
                .bind(Bind::Text(format!("{prefix} {i}")))
                .push(", 1, ")
                .bind(Bind::Json(JsonDoc(json!(["seed"]))))
                .push(", 1, 0, ")
                .bind(Bind::Time(now))
                .push(", ")
                .bind(Bind::Time(now))
                .push(")");
        }
        b.execute(&mut conn).await.expect("seed tasks");
    }
}

/// `SELECT COUNT(*) AS n …` on `db`.
pub async fn count(db: &Db, sql: &str, binds: Vec<Bind>) -> i64 {
    let mut pooled: DbConn = db.read().await.expect("connection");
    let mut conn = pooled.conn();
    let mut b = SqlBuilder::new(conn.backend());
    // `?` marks each bind in `sql`.
    let mut binds = binds.into_iter();
    for (i, part) in sql.split('?').enumerate() {
        if i > 0 {
            b.bind(binds.next().expect("a bind per ?"));
        }
        b.push(part);
    }
    let rows: Vec<CountRow> = b.load(&mut conn).await.expect("count");
    rows[0].n
}
