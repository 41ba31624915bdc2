//! Offline sync: pulls with `changes`, pushes with `sync`.

use serde_json::{Value, json};
use tasklane::auth::Viewer;
use tasklane::db::types::Id;
use tasklane::tasks::store as tasks_store;

use crate::fixtures::{account, project, task};
use crate::on_both_backends;
use crate::support::{TestApp, error_code, error_field};
use crate::sync_support::{
    changes, changes_query, delete_task, find, list, new_id, restore_task, sync, sync_mutation,
    update_task,
};

on_both_backends!(
    pulls_a_snapshot_then_increments_with_tombstones,
    deleted_then_restored_arrives_restored,
    another_users_changes_never_appear,
    pages_follow_has_more_and_bad_arguments_are_rejected,
    sync_applies_and_reports_stale_bases_as_conflicts,
    retried_sync_applies_nothing_twice,
    invalid_changes_reject_the_whole_sync,
    import_with_null_bases_is_idempotent,
);

async fn pulls_a_snapshot_then_increments_with_tombstones(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t1 = task(&app, &a.token, &p["id"], "Paint", json!({})).await;
    let t2 = task(&app, &a.token, &p["id"], "Sweep", json!({})).await;

    let all = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(list(&all["projects"], "id"), vec![p["id"].clone()]);
    assert_eq!(
        list(&all["tasks"], "id"),
        vec![t1["id"].clone(), t2["id"].clone()]
    );
    assert_eq!(all["hasMore"], false);

    let none = changes(&app, &a.token, &all["cursor"], None).await;
    assert_eq!(
        (none["projects"].clone(), none["tasks"].clone()),
        (json!([]), json!([]))
    );

    update_task(&app, &a.token, &t1["id"], json!({ "title": "Paint twice" })).await;
    delete_task(&app, &a.token, &t2["id"]).await;
    let next = changes(&app, &a.token, &none["cursor"], None).await;
    assert_eq!(next["projects"], json!([]));
    assert_eq!(
        list(&next["tasks"], "id"),
        vec![t1["id"].clone(), t2["id"].clone()]
    );
    assert_eq!(find(&next["tasks"], &t1["id"])["title"], "Paint twice");
    assert_eq!(find(&next["tasks"], &t1["id"])["version"], 2);
    assert!(
        find(&next["tasks"], &t2["id"])["deletedAt"].is_string(),
        "tombstone: {next}"
    );

    let again = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(
        list(&again["tasks"], "id"),
        vec![t1["id"].clone(), t2["id"].clone()]
    );
    assert_eq!(again["cursor"], next["cursor"]);
}

async fn deleted_then_restored_arrives_restored(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let t = task(&app, &a.token, &p["id"], "Paint", json!({})).await;
    let before = changes(&app, &a.token, &Value::Null, None).await;
    delete_task(&app, &a.token, &t["id"]).await;
    restore_task(&app, &a.token, &t["id"]).await;
    let after = changes(&app, &a.token, &before["cursor"], None).await;
    assert_eq!(
        list(&after["tasks"], "id"),
        vec![t["id"].clone()],
        "once: {after}"
    );
    assert_eq!(after["tasks"][0]["deletedAt"], Value::Null);
    assert_eq!(after["tasks"][0]["version"], 3);
}

async fn another_users_changes_never_appear(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let pa = project(&app, &a.token, "A's").await;
    let ta = task(&app, &a.token, &pa["id"], "A's task", json!({})).await;
    let pb = project(&app, &b.token, "B's").await;
    task(&app, &b.token, &pb["id"], "B's task", json!({})).await;

    let seen = changes(&app, &b.token, &Value::Null, None).await;
    assert_eq!(list(&seen["projects"], "id"), vec![pb["id"].clone()]);
    assert_eq!(seen["tasks"].as_array().map(Vec::len), Some(1));

    // B names A's objects: an update is a conflict without a server copy,
    // a create is refused; nothing of A's is shown or changed.
    let pushed = sync(
        &app,
        &b.token,
        json!({ "tasks": [{ "id": ta["id"], "projectId": pb["id"],
        "title": "stolen", "baseVersion": 1 }] }),
    )
    .await;
    assert_eq!(pushed["applied"], json!([]));
    assert_eq!(
        pushed["conflicts"],
        json!([{ "id": ta["id"], "reason": "missing",
        "serverProject": null, "serverTask": null }])
    );
    let body = app
        .gql(
            &sync_mutation(),
            json!({ "input": { "tasks": [{ "id": ta["id"], "projectId": pb["id"], "title": "stolen" }] } }),
            Some(&b.token),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_field(&body), "input.tasks[0].id");
    assert!(!body.to_string().contains("A's task"));
    let body = app
        .gql(
            &sync_mutation(),
            json!({ "input": { "tasks": [{ "id": new_id(), "projectId": pa["id"], "title": "x" }] } }),
            Some(&b.token),
        )
        .await;
    assert_eq!(error_field(&body), "input.tasks[0].projectId", "{body}");
    let mine = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(mine["tasks"][0]["title"], "A's task");
    assert_eq!(mine["tasks"][0]["version"], 1);
}

async fn pages_follow_has_more_and_bad_arguments_are_rejected(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let mut made = vec![p["id"].clone()];
    for i in 0..7 {
        made.push(task(&app, &a.token, &p["id"], &format!("T{i}"), json!({})).await["id"].clone());
    }
    let mut seen = Vec::new();
    let mut since = Value::Null;
    let mut pages = Vec::new();
    loop {
        let page = changes(&app, &a.token, &since, Some(3)).await;
        seen.extend(list(&page["projects"], "id"));
        seen.extend(list(&page["tasks"], "id"));
        pages.push(page["hasMore"].clone());
        since = page["cursor"].clone();
        if page["hasMore"] == false {
            break;
        }
    }
    assert_eq!(pages, vec![json!(true), json!(true), json!(false)]);
    assert_eq!(seen, made, "each once, in seq order");

    for (variables, field) in [
        (json!({ "since": "not-a-cursor" }), "since"),
        (json!({ "since": "c2VxOi01" }), "since"),
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 1001 }), "first"),
    ] {
        let body = app.gql(&changes_query(), variables, Some(&a.token)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(error_field(&body), field);
    }
    let body = app.gql(&changes_query(), json!({}), None).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

/// A project and three tasks created by a sync; returns (project id, task ids).
async fn seeded(app: &TestApp, token: &str) -> (Value, Vec<Value>) {
    let p = new_id();
    let tasks: Vec<Value> = (0..3).map(|_| new_id()).collect();
    let pushed = sync(
        app,
        token,
        json!({ "projects": [{ "id": p, "name": "Home" }],
            "tasks": tasks.iter().enumerate().map(|(i, id)| json!({ "id": id,
                "projectId": p, "title": format!("T{i}") })).collect::<Vec<_>>() }),
    )
    .await;
    assert_eq!(
        pushed["applied"].as_array().map(Vec::len),
        Some(4),
        "{pushed}"
    );
    (p, tasks)
}

fn task_change(id: &Value, project: &Value, title: &str, base: i64) -> Value {
    json!({ "id": id, "projectId": project, "title": title, "baseVersion": base })
}

async fn sync_applies_and_reports_stale_bases_as_conflicts(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let (p, t) = seeded(&app, &a.token).await;
    let start = changes(&app, &a.token, &Value::Null, None).await;

    // Equal base: applied, and the pull carries the new version.
    let pushed = sync(
        &app,
        &a.token,
        json!({ "since": start["cursor"],
        "tasks": [task_change(&t[0], &p, "T0 edited", 1)] }),
    )
    .await;
    assert_eq!(pushed["applied"], json!([t[0]]));
    assert_eq!(pushed["conflicts"], json!([]));
    assert_eq!(list(&pushed["changes"]["tasks"], "version"), vec![json!(2)]);
    assert_eq!(pushed["changes"]["tasks"][0]["title"], "T0 edited");

    // Stale base on a server-updated task; an update of a server-deleted
    // task; a delete of a server-changed task.
    delete_task(&app, &a.token, &t[1]).await;
    update_task(&app, &a.token, &t[2], json!({ "title": "T2 on server" })).await;
    let mut delete = task_change(&t[2], &p, "T2", 1);
    delete["deleted"] = json!(true);
    let pushed = sync(
        &app,
        &a.token,
        json!({ "since": pushed["changes"]["cursor"], "tasks": [
        task_change(&t[0], &p, "T0 other", 1),
        task_change(&t[1], &p, "T1 edited", 1),
        delete,
    ] }),
    )
    .await;
    assert_eq!(pushed["applied"], json!([]));
    let conflicts = &pushed["conflicts"];
    assert_eq!(
        list(conflicts, "reason"),
        vec![json!("updated"), json!("deleted"), json!("updated")]
    );
    assert_eq!(find(conflicts, &t[0])["serverTask"]["title"], "T0 edited");
    assert_eq!(find(conflicts, &t[0])["serverTask"]["version"], 2);
    assert!(find(conflicts, &t[1])["serverTask"]["deletedAt"].is_string());
    assert_eq!(
        find(conflicts, &t[2])["serverTask"]["deletedAt"],
        Value::Null
    );
    assert_eq!(
        find(conflicts, &t[2])["serverTask"]["title"],
        "T2 on server"
    );
    // Nothing was written: the pull holds only the two server writes.
    assert_eq!(
        list(&pushed["changes"]["tasks"], "id"),
        vec![t[1].clone(), t[2].clone()]
    );

    // A client that saw the deletion restores the task; a project delete
    // with the current base applies.
    let mut restore = task_change(&t[1], &p, "T1 back", 2);
    restore["deleted"] = json!(false);
    let pushed = sync(
        &app,
        &a.token,
        json!({ "tasks": [restore],
        "projects": [{ "id": p, "name": "Home", "deleted": true, "baseVersion": 1 }] }),
    )
    .await;
    assert_eq!(pushed["applied"], json!([p, t[1]]));
    let restored = find(&pushed["changes"]["tasks"], &t[1]);
    assert_eq!(
        (restored["title"].clone(), restored["deletedAt"].clone()),
        (json!("T1 back"), Value::Null)
    );
    assert!(find(&pushed["changes"]["projects"], &p)["deletedAt"].is_string());
    // A stale project change is a conflict with the server copy.
    let pushed = sync(
        &app,
        &a.token,
        json!({
        "projects": [{ "id": p, "name": "Renamed", "baseVersion": 1 }] }),
    )
    .await;
    assert_eq!(pushed["conflicts"][0]["reason"], "deleted");
    assert_eq!(pushed["conflicts"][0]["serverProject"]["version"], 2);
}

async fn retried_sync_applies_nothing_twice(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let (p, t) = seeded(&app, &a.token).await;
    let mut delete = task_change(&t[1], &p, "T1", 1);
    delete["deleted"] = json!(true);
    let input = json!({ "clientId": "phone-1",
        "projects": [{ "id": p, "name": "Home renamed", "baseVersion": 1 }],
        "tasks": [task_change(&t[0], &p, "T0 edited", 1), delete] });
    let first = sync(&app, &a.token, input.clone()).await;
    let retry = sync(&app, &a.token, input).await;
    assert_eq!(first["applied"], json!([p, t[0], t[1]]));
    assert_eq!(
        retry["applied"], first["applied"],
        "the retry reports them applied"
    );
    assert_eq!(retry["conflicts"], json!([]));
    assert_eq!(retry["changes"], first["changes"], "and wrote nothing new");
    let all = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(
        list(&all["tasks"], "version"),
        vec![json!(1), json!(2), json!(2)]
    );
    assert_eq!(list(&all["projects"], "version"), vec![json!(2)]);
    // The tasks it wrote record the client that wrote them.
    let mut conn = app.database().read().await.expect("connection");
    let viewer = Viewer::of_session(a.id.parse::<uuid::Uuid>().expect("uuid").into(), Id::new());
    for id in &t[..2] {
        let id = id
            .as_str()
            .expect("id")
            .parse::<uuid::Uuid>()
            .expect("uuid")
            .into();
        let row = tasks_store::find_task_any(&mut conn.conn(), &viewer, id)
            .await
            .expect("read")
            .expect("the task");
        assert_eq!(row.client_id.as_deref(), Some("phone-1"));
    }
}

async fn invalid_changes_reject_the_whole_sync(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = new_id();
    let good = json!({ "id": new_id(), "projectId": p, "title": "fine" });
    for (tasks, field) in [
        (
            json!([good, { "id": new_id(), "projectId": p, "title": "  " }]),
            "input.tasks[1].title",
        ),
        (
            json!([good, { "id": "nope", "projectId": p, "title": "x" }]),
            "input.tasks[1].id",
        ),
        (
            json!([good, { "id": new_id(), "projectId": new_id(), "title": "x" }]),
            "input.tasks[1].projectId",
        ),
        (
            json!([good, { "id": new_id(), "projectId": p, "title": "x", "tags": [""] }]),
            "input.tasks[1].tags[0]",
        ),
    ] {
        let body = app
            .gql(
                &sync_mutation(),
                json!({ "input": { "projects": [{ "id": p, "name": "New" }], "tasks": tasks } }),
                Some(&a.token),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(error_field(&body), field, "{body}");
    }
    let body = app
        .gql(
            &sync_mutation(),
            json!({ "input": { "since": "bad" } }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_field(&body), "input.since", "{body}");
    let all = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(
        (all["projects"].clone(), all["tasks"].clone()),
        (json!([]), json!([]))
    );
}

async fn import_with_null_bases_is_idempotent(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = new_id();
    let tasks: Vec<Value> = (0..5)
        .map(|i| {
            json!({ "id": new_id(), "projectId": p, "title": format!("Local {i}"),
            "status": "DONE", "tags": ["offline"], "position": f64::from(i) })
        })
        .collect();
    let input =
        json!({ "projects": [{ "id": p, "name": "Local", "archived": true }], "tasks": tasks });
    let first = sync(&app, &a.token, input.clone()).await;
    assert_eq!(first["applied"].as_array().map(Vec::len), Some(6));
    let again = sync(&app, &a.token, input).await;
    assert_eq!(again["applied"], first["applied"]);
    assert_eq!(again["conflicts"], json!([]));
    let all = changes(&app, &a.token, &Value::Null, None).await;
    assert_eq!(all["tasks"].as_array().map(Vec::len), Some(5));
    assert_eq!(all["projects"][0]["archived"], true);
    assert!(
        list(&all["tasks"], "version").iter().all(|v| v == 1),
        "{all}"
    );
    assert!(list(&all["tasks"], "status").iter().all(|v| v == "DONE"));
    // The same id with other content is a conflict, not an overwrite.
    let pushed = sync(
        &app,
        &a.token,
        json!({ "projects": [{ "id": p, "name": "Other" }] }),
    )
    .await;
    assert_eq!(pushed["conflicts"][0]["reason"], "updated");
    assert_eq!(pushed["conflicts"][0]["serverProject"]["name"], "Local");
}
