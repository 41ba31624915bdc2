//! The search index follows every write: single writes, soft delete and
//! restore (of a task and of its project), bulk writes, sync, operations
//! and their rollback, a deleted account; the migration indexes the tasks
//! already there.

use diesel_async::SimpleAsyncConnection;
use serde_json::{Value, json};
use tasklane::db::{Backend, Conn};

use crate::fixtures::{account, ok, project, task};
use crate::on_both_backends;
use crate::operations_support::{count, rollback, start, wait};
use crate::search::{found, search};
use crate::support::{PASSWORD, TestApp};
use crate::sync_support::{delete_task, new_id, restore_task, sync, update_task};

on_both_backends!(
    single_writes_deletes_and_restores_keep_the_index_in_step,
    bulk_writes_and_sync_keep_the_index_in_step,
    operations_and_their_rollback_keep_the_index_in_step,
    the_migration_indexes_the_tasks_already_there,
);

fn id(task: &Value) -> String {
    task["id"].as_str().expect("id").to_owned()
}

/// The index holds one entry per task, whatever was written or removed.
async fn index_matches_the_tasks(app: &TestApp) {
    let db = app.database();
    let entries: &[&str] = match db.backend() {
        Backend::Sqlite => &[
            "SELECT COUNT(*) AS n FROM task_search",
            "SELECT COUNT(*) AS n FROM task_search_keys",
            "SELECT COUNT(*) AS n FROM task_search_keys k JOIN tasks t ON t.id = k.task_id",
        ],
        Backend::Postgres => &["SELECT COUNT(*) AS n FROM tasks WHERE search_vector IS NOT NULL"],
    };
    let tasks = count(db, "SELECT COUNT(*) AS n FROM tasks", vec![]).await;
    for sql in entries {
        assert_eq!(count(db, sql, vec![]).await, tasks, "{sql}");
    }
}

async fn single_writes_deletes_and_restores_keep_the_index_in_step(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let made = task(&app, &a.token, &p["id"], "Buy paint", json!({})).await;
    let t = id(&made);
    assert_eq!(found(&app, &a.token, "paint").await, [t.as_str()]);

    let retitle =
        json!({ "title": "Buy varnish", "description": "for the shed", "tags": ["wood"] });
    update_task(&app, &a.token, &made["id"], retitle).await;
    assert!(
        found(&app, &a.token, "paint").await.is_empty(),
        "old words go"
    );
    for words in ["varnish", "shed", "wood", "buy var she woo"] {
        assert_eq!(found(&app, &a.token, words).await, [t.as_str()], "{words}");
    }
    update_task(&app, &a.token, &made["id"], json!({ "status": "DONE" })).await;
    assert_eq!(
        found(&app, &a.token, "varnish").await,
        [t.as_str()],
        "other fields leave it"
    );
    update_task(
        &app,
        &a.token,
        &made["id"],
        json!({ "description": null, "tags": [] }),
    )
    .await;
    assert!(found(&app, &a.token, "shed").await.is_empty());
    assert!(found(&app, &a.token, "wood").await.is_empty());

    delete_task(&app, &a.token, &made["id"]).await;
    assert!(found(&app, &a.token, "varnish").await.is_empty(), "deleted");
    let with_deleted = ok(
        &app,
        &a.token,
        "{ tasks(filter: { search: \"varnish\", includeDeleted: true }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(with_deleted["tasks"]["totalCount"], 1);
    restore_task(&app, &a.token, &made["id"]).await;
    assert_eq!(
        found(&app, &a.token, "varnish").await,
        [t.as_str()],
        "restored"
    );

    let project_call = |name: &'static str| {
        let (app, tok, pid) = (&app, a.token.clone(), p["id"].clone());
        async move {
            let query = format!("mutation($id: ID!) {{ {name}(id: $id) {{ id }} }}");
            ok(app, &tok, &query, json!({ "id": pid })).await;
        }
    };
    project_call("deleteProject").await;
    assert!(
        found(&app, &a.token, "varnish").await.is_empty(),
        "project deleted"
    );
    project_call("restoreProject").await;
    assert_eq!(found(&app, &a.token, "varnish").await, [t.as_str()]);
    index_matches_the_tasks(&app).await;

    // Deleting the account removes its tasks, and their entries with them.
    let b = account(&app, "b@example.com").await;
    let q = project(&app, &b.token, "Theirs").await;
    task(&app, &b.token, &q["id"], "Buy varnish", json!({})).await;
    index_matches_the_tasks(&app).await;
    let gone = app
        .gql(
            "mutation($p: String!) { deleteAccount(password: $p) }",
            json!({ "p": PASSWORD }),
            Some(&b.token),
        )
        .await;
    assert_eq!(gone["data"]["deleteAccount"], true, "{gone}");
    index_matches_the_tasks(&app).await;
    assert_eq!(found(&app, &a.token, "varnish").await, [t.as_str()]);
}

async fn bulk_writes_and_sync_keep_the_index_in_step(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let made = ok(
        &app,
        &a.token,
        "mutation($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }",
        json!({ "input": [
            { "projectId": p["id"], "title": "Sand the door" },
            { "projectId": p["id"], "title": "Sand the floor" },
            { "projectId": p["id"], "title": "Fix the bell" },
        ] }),
    )
    .await;
    let ids: Vec<String> = (0..3).map(|i| id(&made["createTasks"][i])).collect();
    assert_eq!(found(&app, &a.token, "sand").await, ids[..2]);

    let bulk = "mutation($ids: [ID!]!, $patch: TaskPatch!) { updateTasks(ids: $ids, patch: $patch) { id } }";
    let patch = json!({ "ids": [ids[0], ids[2]], "patch": { "addTags": ["weekend"] } });
    ok(&app, &a.token, bulk, patch).await;
    assert_eq!(
        found(&app, &a.token, "weekend").await,
        [ids[2].as_str(), ids[0].as_str()],
        "by title"
    );
    let patch = json!({ "ids": [ids[0]], "patch": { "removeTags": ["weekend"] } });
    ok(&app, &a.token, bulk, patch).await;
    assert_eq!(found(&app, &a.token, "weekend").await, [ids[2].as_str()]);

    // Sync: a new task, a changed title, a delete and a restore.
    let fresh = new_id();
    let pushed = sync(
        &app,
        &a.token,
        json!({ "tasks": [
            { "id": fresh, "projectId": p["id"], "title": "Oil the hinges", "tags": ["offline"] },
            { "id": ids[2], "projectId": p["id"], "title": "Fix the gate", "baseVersion": 2 },
            { "id": ids[1], "projectId": p["id"], "title": "Sand the floor", "deleted": true, "baseVersion": 1 },
        ] }),
    )
    .await;
    assert_eq!(pushed["conflicts"], json!([]), "{pushed}");
    let fresh = fresh.as_str().expect("id").to_owned();
    assert_eq!(
        found(&app, &a.token, "hinge offline").await,
        [fresh.as_str()]
    );
    assert_eq!(found(&app, &a.token, "gate").await, [ids[2].as_str()]);
    assert!(found(&app, &a.token, "bell").await.is_empty());
    assert_eq!(
        found(&app, &a.token, "sand").await,
        [ids[0].as_str()],
        "deleted by sync"
    );
    let restored = sync(
        &app,
        &a.token,
        json!({ "tasks": [
            { "id": ids[1], "projectId": p["id"], "title": "Sand the stairs", "deleted": false, "baseVersion": 2 },
        ] }),
    )
    .await;
    assert_eq!(restored["conflicts"], json!([]), "{restored}");
    assert_eq!(found(&app, &a.token, "sand").await, ids[..2]);
    assert_eq!(found(&app, &a.token, "stairs").await, [ids[1].as_str()]);
    index_matches_the_tasks(&app).await;
}

async fn operations_and_their_rollback_keep_the_index_in_step(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    for title in ["Alpha one", "alphabet two", "Beta", "Gamma alpha"] {
        task(&app, &a.token, &p["id"], title, json!({})).await;
    }
    let listed = found(&app, &a.token, "alph").await;
    assert_eq!(listed.len(), 3);

    // The operation's filter selects what the listing shows.
    let input = json!({ "kind": "UPDATE_TASKS", "filter": { "search": "alph" },
        "patch": { "addTags": ["flagged"] } });
    let mut dry = input.clone();
    dry["dryRun"] = json!(true);
    let preview = start(&app, &a.token, dry).await;
    assert_eq!(preview["total"], 3, "{preview}");
    let mut previewed: Vec<String> = preview["preview"]
        .as_array()
        .expect("preview")
        .iter()
        .map(|item| item["entityId"].as_str().expect("id").to_owned())
        .collect();
    previewed.sort();
    let mut expected = listed.clone();
    expected.sort();
    assert_eq!(previewed, expected);

    let op = start(&app, &a.token, input).await;
    assert_eq!(wait(&app, &a.token, &op["id"]).await["status"], "COMPLETED");
    assert_eq!(found(&app, &a.token, "flagged").await, listed);
    let back = rollback(&app, &a.token, &op["id"]).await;
    assert_eq!(
        wait(&app, &a.token, &back["id"]).await["status"],
        "COMPLETED"
    );
    assert!(
        found(&app, &a.token, "flagged").await.is_empty(),
        "rolled back"
    );

    let input = json!({ "kind": "DELETE_TASKS", "filter": { "search": "alpha one" } });
    let op = start(&app, &a.token, input).await;
    assert_eq!(wait(&app, &a.token, &op["id"]).await["status"], "COMPLETED");
    assert_eq!(found(&app, &a.token, "alph").await, listed[1..]);
    let back = rollback(&app, &a.token, &op["id"]).await;
    assert_eq!(
        wait(&app, &a.token, &back["id"]).await["status"],
        "COMPLETED"
    );
    assert_eq!(found(&app, &a.token, "alph").await, listed);

    // A search without a word selects nothing.
    let dry = json!({ "kind": "DELETE_TASKS", "dryRun": true, "filter": { "search": "***" } });
    assert_eq!(start(&app, &a.token, dry).await["total"], 0);
    index_matches_the_tasks(&app).await;
}

async fn the_migration_indexes_the_tasks_already_there(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let made = task(
        &app,
        &a.token,
        &p["id"],
        "Old task",
        json!({ "tags": ["kept"] }),
    )
    .await;
    let (down, up) = match app.database().backend() {
        Backend::Sqlite => (
            include_str!("../../migrations/sqlite/2026-12-01-100000_task_search/down.sql"),
            include_str!("../../migrations/sqlite/2026-12-01-100000_task_search/up.sql"),
        ),
        Backend::Postgres => (
            include_str!("../../migrations/postgres/2026-12-01-100000_task_search/down.sql"),
            include_str!("../../migrations/postgres/2026-12-01-100000_task_search/up.sql"),
        ),
    };
    let mut pooled = app.database().write().await.expect("connection");
    for script in [down, up] {
        match pooled.conn() {
            Conn::Postgres(c) => c.batch_execute(script).await,
            Conn::Sqlite(c) => c.batch_execute(script).await,
        }
        .expect("migration script");
    }
    drop(pooled);
    let hit = search(&app, &a.token, "old kept", Value::Null).await;
    assert_eq!(hit.ids, [id(&made)]);
    assert_eq!(hit.snippets, [json!("<b>Old</b> task")]);
    index_matches_the_tasks(&app).await;
}
