//! Task assignees, creators and last writers in shared projects: an
//! assignee must be a member of the task's project on every write path,
//! the filters select by assignee, and the people on a task are shown only
//! to fellow members. Also what each role may do with tasks.

use serde_json::{Value, json};
use tasklane::access::ProjectRole;

use crate::fixtures::{Account, account, ids, ok, project, task};
use crate::on_both_backends;
use crate::operations_support::{rollback, start, wait};
use crate::sharing_support::{share, unshare};
use crate::support::{TestApp, error_code, error_field};
use crate::sync_support::sync;

on_both_backends!(
    an_assignee_must_be_a_member_on_single_writes,
    an_assignee_must_be_a_member_on_bulk_writes,
    an_assignee_must_be_a_member_in_sync_and_operations,
    a_rollback_does_not_give_a_task_back_to_a_former_member,
    filters_select_by_assignee,
    people_on_a_task_are_shown_to_fellow_members_only,
    each_role_does_what_it_may_with_tasks,
);

const PEOPLE: &str = "id version title project { id }
    assignee { id displayName email username } createdBy { id } updatedBy { id }";

fn create_task() -> String {
    format!("mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {PEOPLE} }} }}")
}

fn update_task() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateTaskInput!) {{ updateTask(id: $id, input: $input) {{ {PEOPLE} }} }}"
    )
}

fn create_tasks() -> String {
    format!("mutation($input: [CreateTaskInput!]!) {{ createTasks(input: $input) {{ {PEOPLE} }} }}")
}

fn update_tasks() -> String {
    format!(
        "mutation($ids: [ID!]!, $patch: TaskPatch!) {{ updateTasks(ids: $ids, patch: $patch) {{ {PEOPLE} }} }}"
    )
}

fn read_task() -> String {
    format!("query($id: ID!) {{ task(id: $id) {{ {PEOPLE} }} }}")
}

/// BAD_USER_INPUT naming `field`.
fn assert_bad(body: &Value, field: &str) {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
    assert_eq!(error_field(body), field, "{body}");
}

/// Alice's project shared with Bob (EDITOR); Carol is a stranger.
struct Team {
    alice: Account,
    bob: Account,
    carol: Account,
    project: Value,
}

async fn team(app: &TestApp) -> Team {
    let alice = account(app, "alice@example.com").await;
    let bob = account(app, "bob@example.com").await;
    let carol = account(app, "carol@example.com").await;
    let project = project(app, &alice.token, "Shared").await;
    share(app, str_of(&project["id"]), &bob.id, ProjectRole::Editor).await;
    Team {
        alice,
        bob,
        carol,
        project,
    }
}

fn str_of(value: &Value) -> &str {
    value.as_str().expect("a string")
}

/// How many live tasks the viewer sees.
async fn task_total(app: &TestApp, token: &str) -> i64 {
    let data = ok(app, token, "{ tasks { totalCount } }", json!({})).await;
    data["tasks"]["totalCount"].as_i64().expect("count")
}

async fn an_assignee_must_be_a_member_on_single_writes(app: TestApp) {
    let Team {
        alice,
        bob,
        carol,
        project: p,
    } = team(&app).await;
    let pid = p["id"].clone();

    // A member (any role) may be assigned; the creator is the writer.
    let data = ok(
        &app,
        &alice.token,
        &create_task(),
        json!({ "input": { "projectId": pid, "title": "for Bob", "assigneeId": bob.id } }),
    )
    .await;
    let t = data["createTask"].clone();
    assert_eq!(t["assignee"]["id"], bob.id.as_str());
    assert_eq!(t["assignee"]["email"], "bob@example.com");
    assert_eq!(t["createdBy"]["id"], alice.id.as_str());
    assert_eq!(t["updatedBy"]["id"], alice.id.as_str());
    // The owner is a member too.
    let mine = ok(
        &app,
        &alice.token,
        &create_task(),
        json!({ "input": { "projectId": pid, "title": "mine", "assigneeId": alice.id } }),
    )
    .await;
    assert_eq!(mine["createTask"]["assignee"]["id"], alice.id.as_str());

    // A stranger, an unknown user or no UUID: refused, nothing written.
    let before = task_total(&app, &alice.token).await;
    for (assignee, field) in [
        (json!(carol.id), "input.assigneeId"),
        (json!(uuid::Uuid::new_v4().to_string()), "input.assigneeId"),
        (json!("not-a-uuid"), "input.assigneeId"),
    ] {
        let body = app
            .gql(
                &create_task(),
                json!({ "input": { "projectId": pid, "title": "x", "assigneeId": assignee } }),
                Some(&alice.token),
            )
            .await;
        assert_bad(&body, field);
    }
    assert_eq!(task_total(&app, &alice.token).await, before);

    // Update: a stranger is refused, another member taken, null clears.
    let body = app
        .gql(
            &update_task(),
            json!({ "id": t["id"], "input": { "assigneeId": carol.id } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "input.assigneeId");
    let data = ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "assigneeId": alice.id } }),
    )
    .await;
    assert_eq!(data["updateTask"]["assignee"]["id"], alice.id.as_str());
    let data = ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "assigneeId": null } }),
    )
    .await;
    assert_eq!(data["updateTask"]["assignee"], Value::Null);
    // An omitted assignee is left as it is.
    ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "assigneeId": bob.id } }),
    )
    .await;
    let data = ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "title": "renamed" } }),
    )
    .await;
    assert_eq!(data["updateTask"]["assignee"]["id"], bob.id.as_str());
    // A CONFLICT's `current` shows the assignee.
    let body = app
        .gql(
            &update_task(),
            json!({ "id": t["id"], "input": { "title": "late", "expectedVersion": 1 } }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["current"]["assigneeId"],
        bob.id.as_str()
    );

    // A move keeps the assignee only into a project it is a member of.
    let other = project(&app, &alice.token, "Alice only").await;
    let body = app
        .gql(
            &update_task(),
            json!({ "id": t["id"], "input": { "projectId": other["id"] } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "input.assigneeId");
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["project"]["id"], pid);
    let data = ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "projectId": other["id"], "assigneeId": alice.id } }),
    )
    .await;
    assert_eq!(data["updateTask"]["project"]["id"], other["id"]);
    assert_eq!(data["updateTask"]["assignee"]["id"], alice.id.as_str());
}

async fn an_assignee_must_be_a_member_on_bulk_writes(app: TestApp) {
    let Team {
        alice,
        bob,
        carol,
        project: p,
    } = team(&app).await;
    let pid = p["id"].clone();
    let item = |title: &str, assignee: &str| json!({ "projectId": pid, "title": title, "assigneeId": assignee });

    // createTasks: all or nothing, the item named.
    let body = app
        .gql(
            &create_tasks(),
            json!({ "input": [item("a", &bob.id), item("b", &alice.id), item("c", &carol.id)] }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "input[2].assigneeId");
    assert_eq!(task_total(&app, &alice.token).await, 0);
    let data = ok(
        &app,
        &alice.token,
        &create_tasks(),
        json!({ "input": [item("a", &bob.id), item("b", &alice.id)] }),
    )
    .await;
    let created = data["createTasks"].as_array().expect("tasks").clone();
    assert_eq!(created[0]["assignee"]["id"], bob.id.as_str());
    assert_eq!(created[1]["assignee"]["id"], alice.id.as_str());
    let both: Vec<Value> = created.iter().map(|t| t["id"].clone()).collect();

    // updateTasks: the patch's assignee must be a member of every task's
    // project.
    let body = app
        .gql(
            &update_tasks(),
            json!({ "ids": both, "patch": { "assigneeId": carol.id } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "patch.assigneeId");
    let data = ok(
        &app,
        &alice.token,
        &update_tasks(),
        json!({ "ids": both, "patch": { "assigneeId": bob.id } }),
    )
    .await;
    for t in data["updateTasks"].as_array().expect("tasks") {
        assert_eq!(t["assignee"]["id"], bob.id.as_str());
    }

    // A move of tasks assigned to Bob into a project he is not in: refused,
    // nothing moved; with the assignee cleared it goes.
    let other = project(&app, &alice.token, "Alice only").await;
    let body = app
        .gql(
            &update_tasks(),
            json!({ "ids": both, "patch": { "projectId": other["id"] } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "patch.assigneeId");
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": both[0] })).await;
    assert_eq!(data["task"]["project"]["id"], pid);
    let data = ok(
        &app,
        &alice.token,
        &update_tasks(),
        json!({ "ids": both, "patch": { "projectId": other["id"], "assigneeId": null } }),
    )
    .await;
    for t in data["updateTasks"].as_array().expect("tasks") {
        assert_eq!(t["project"]["id"], other["id"]);
        assert_eq!(t["assignee"], Value::Null);
    }
}

async fn an_assignee_must_be_a_member_in_sync_and_operations(app: TestApp) {
    let Team {
        alice,
        bob,
        carol,
        project: p,
    } = team(&app).await;
    let pid = p["id"].clone();
    let new_id = || json!(uuid::Uuid::new_v4().to_string());

    // Sync: BAD_USER_INPUT on the change, nothing of the push applied.
    let (first, second) = (new_id(), new_id());
    let body = app
        .gql(
            &crate::sync_support::sync_mutation(),
            json!({ "input": { "tasks": [
                { "id": first, "projectId": pid, "title": "ok", "assigneeId": bob.id },
                { "id": second, "projectId": pid, "title": "no", "assigneeId": carol.id },
            ] } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "input.tasks[1].assigneeId");
    assert_eq!(task_total(&app, &alice.token).await, 0);
    let pushed = sync(
        &app,
        &alice.token,
        json!({ "tasks": [{ "id": first, "projectId": pid, "title": "ok", "assigneeId": bob.id }] }),
    )
    .await;
    assert_eq!(pushed["applied"], json!([first]));
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": first })).await;
    assert_eq!(data["task"]["assignee"]["id"], bob.id.as_str());
    // An update of the whole copy: a stranger is refused there too.
    let body = app
        .gql(
            &crate::sync_support::sync_mutation(),
            json!({ "input": { "tasks": [{ "id": first, "projectId": pid, "title": "ok",
                "assigneeId": carol.id, "baseVersion": 1 }] } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "input.tasks[0].assigneeId");
    // In a project the push creates, the viewer alone is a member.
    let (q, mine, bobs) = (new_id(), new_id(), new_id());
    let body = app
        .gql(
            &crate::sync_support::sync_mutation(),
            json!({ "input": { "projects": [{ "id": q, "name": "Offline" }], "tasks": [
                { "id": bobs, "projectId": q, "title": "Bob's", "assigneeId": bob.id }] } }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "input.tasks[0].assigneeId");
    let pushed = sync(
        &app,
        &alice.token,
        json!({ "projects": [{ "id": q, "name": "Offline" }], "tasks": [
            { "id": mine, "projectId": q, "title": "mine", "assigneeId": alice.id }] }),
    )
    .await;
    assert_eq!(pushed["conflicts"], json!([]), "{pushed}");

    // Import: the item with a stranger fails, the rest is imported.
    let (good, bad) = (new_id(), new_id());
    let op = start(
        &app,
        &alice.token,
        json!({ "kind": "IMPORT", "importData": { "projects": [], "tasks": [
            { "id": good, "projectId": pid, "title": "imported", "assigneeId": bob.id },
            { "id": bad, "projectId": pid, "title": "refused", "assigneeId": carol.id },
        ] } }),
    )
    .await;
    let op = wait(&app, &alice.token, &op["id"]).await;
    assert_eq!(op["status"], "COMPLETED", "{op}");
    assert_eq!(
        (op["processed"].clone(), op["failed"].clone()),
        (json!(1), json!(1))
    );
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": good })).await;
    assert_eq!(data["task"]["assignee"]["id"], bob.id.as_str());
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": bad })).await;
    assert_eq!(data["task"], Value::Null);

    // UPDATE_TASKS: every item whose assignee would not be a member fails.
    let filter = json!({ "projectId": pid });
    let op = start(
        &app,
        &alice.token,
        json!({ "kind": "UPDATE_TASKS", "filter": filter, "patch": { "assigneeId": carol.id } }),
    )
    .await;
    let op = wait(&app, &alice.token, &op["id"]).await;
    assert_eq!(op["status"], "COMPLETED", "{op}");
    assert_eq!(
        (op["processed"].clone(), op["failed"].clone()),
        (json!(0), json!(2))
    );
    let op = start(
        &app,
        &alice.token,
        json!({ "kind": "UPDATE_TASKS", "filter": filter, "patch": { "assigneeId": alice.id } }),
    )
    .await;
    let op = wait(&app, &alice.token, &op["id"]).await;
    assert_eq!(
        (op["processed"].clone(), op["failed"].clone()),
        (json!(2), json!(0))
    );
    let data = ok(
        &app,
        &alice.token,
        "query($p: ID!) { tasks(filter: { projectId: $p, assignedToMe: true }) { totalCount } }",
        json!({ "p": pid }),
    )
    .await;
    assert_eq!(data["tasks"]["totalCount"], 2);

    // Its rollback gives both tasks their assignee back (Bob).
    let back = rollback(&app, &alice.token, &op["id"]).await;
    let back = wait(&app, &alice.token, &back["id"]).await;
    assert_eq!(
        (back["processed"].clone(), back["failed"].clone()),
        (json!(2), json!(0))
    );
    let data = ok(
        &app,
        &alice.token,
        "query($p: ID!, $b: ID!) { tasks(filter: { projectId: $p, assigneeId: $b }) { totalCount } }",
        json!({ "p": pid, "b": bob.id }),
    )
    .await;
    assert_eq!(data["tasks"]["totalCount"], 2);
}

async fn a_rollback_does_not_give_a_task_back_to_a_former_member(app: TestApp) {
    let Team {
        alice,
        bob,
        project: p,
        ..
    } = team(&app).await;
    let pid = p["id"].clone();
    let t = task(
        &app,
        &alice.token,
        &pid,
        "Bob's",
        json!({ "assigneeId": bob.id }),
    )
    .await;
    let op = start(
        &app,
        &alice.token,
        json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": pid },
            "patch": { "assigneeId": alice.id } }),
    )
    .await;
    let op = wait(&app, &alice.token, &op["id"]).await;
    assert_eq!(op["processed"], 1, "{op}");
    unshare(&app, str_of(&pid), &bob.id).await;
    let back = rollback(&app, &alice.token, &op["id"]).await;
    let back = wait(&app, &alice.token, &back["id"]).await;
    assert_eq!(
        (back["processed"].clone(), back["failed"].clone()),
        (json!(0), json!(1))
    );
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["assignee"]["id"], alice.id.as_str());
}

async fn filters_select_by_assignee(app: TestApp) {
    let Team {
        alice,
        bob,
        carol,
        project: p,
    } = team(&app).await;
    let pid = p["id"].clone();
    let for_bob = task(
        &app,
        &alice.token,
        &pid,
        "for Bob",
        json!({ "assigneeId": bob.id }),
    )
    .await;
    let for_alice = task(
        &app,
        &alice.token,
        &pid,
        "for Alice",
        json!({ "assigneeId": alice.id }),
    )
    .await;
    task(&app, &alice.token, &pid, "nobody's", json!({})).await;
    let listing = "query($filter: TaskFilter, $p: ID!) {
        tasks(filter: $filter) { totalCount edges { node { id } } }
        project(id: $p) { tasks(filter: $filter) { totalCount edges { node { id } } } } }";
    let select = |who: &Account, filter: Value| {
        let app = &app;
        let token = who.token.clone();
        let pid = pid.clone();
        async move {
            let data = ok(app, &token, listing, json!({ "filter": filter, "p": pid })).await;
            assert_eq!(
                ids(&data["tasks"]),
                ids(&data["project"]["tasks"]),
                "the nested listing agrees"
            );
            assert_eq!(
                data["tasks"]["totalCount"],
                data["project"]["tasks"]["totalCount"]
            );
            ids(&data["tasks"])
        }
    };
    let id_of = |t: &Value| vec![str_of(&t["id"]).to_owned()];
    assert_eq!(
        select(&alice, json!({ "assigneeId": bob.id })).await,
        id_of(&for_bob)
    );
    assert_eq!(
        select(&alice, json!({ "assignedToMe": true })).await,
        id_of(&for_alice)
    );
    assert_eq!(
        select(&bob, json!({ "assignedToMe": true })).await,
        id_of(&for_bob)
    );
    assert_eq!(
        select(&bob, json!({ "assigneeId": alice.id })).await,
        id_of(&for_alice)
    );
    assert_eq!(
        select(&alice, json!({ "assignedToMe": false })).await.len(),
        3
    );
    // Both: the tasks assigned to the viewer that are also the named one's.
    assert!(
        select(
            &alice,
            json!({ "assigneeId": bob.id, "assignedToMe": true })
        )
        .await
        .is_empty()
    );
    assert!(
        select(&alice, json!({ "assigneeId": carol.id }))
            .await
            .is_empty()
    );
    let body = app
        .gql(
            listing,
            json!({ "filter": { "assigneeId": "nope" }, "p": pid }),
            Some(&alice.token),
        )
        .await;
    assert_bad(&body, "filter.assigneeId");
}

async fn people_on_a_task_are_shown_to_fellow_members_only(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let bob = app
        .gql(
            "mutation($input: SignupInput!) { signup(input: $input) { accessToken user { id username } } }",
            json!({ "input": { "email": "bob@example.com", "password": crate::support::PASSWORD,
                "displayName": "Bob", "username": "bobby" } }),
            None,
        )
        .await;
    assert_eq!(bob["data"]["signup"]["user"]["username"], "bobby", "{bob}");
    let bob = Account {
        token: str_of(&bob["data"]["signup"]["accessToken"]).to_owned(),
        id: str_of(&bob["data"]["signup"]["user"]["id"]).to_owned(),
    };
    let carol = account(&app, "carol@example.com").await;
    let p = project(&app, &alice.token, "Shared").await;
    let pid = str_of(&p["id"]).to_owned();
    share(&app, &pid, &bob.id, ProjectRole::Editor).await;
    let t = task(
        &app,
        &alice.token,
        &p["id"],
        "work",
        json!({ "assigneeId": bob.id }),
    )
    .await;

    // An editor's write records it as the last writer; the creator stays.
    let data = ok(
        &app,
        &bob.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "title": "done by Bob" } }),
    )
    .await;
    assert_eq!(data["updateTask"]["updatedBy"]["id"], bob.id.as_str());
    assert_eq!(data["updateTask"]["createdBy"]["id"], alice.id.as_str());
    // Through updateTasks too, and as Alice sees it.
    ok(
        &app,
        &bob.token,
        &update_tasks(),
        json!({ "ids": [t["id"]], "patch": { "status": "DONE" } }),
    )
    .await;
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    let seen = &data["task"];
    assert_eq!(seen["updatedBy"]["id"], bob.id.as_str());
    assert_eq!(seen["createdBy"]["id"], alice.id.as_str());
    // A fellow member: id, display name and email, not the username.
    assert_eq!(
        seen["assignee"],
        json!({ "id": bob.id, "displayName": "Bob", "email": "bob@example.com", "username": null })
    );
    // Through a sync push and an operation of his too.
    ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "title": "Alice again" } }),
    )
    .await;
    let version = seen["version"].as_i64().expect("version") + 1;
    let pushed = sync(
        &app,
        &bob.token,
        json!({ "tasks": [{ "id": t["id"], "projectId": pid, "title": "synced by Bob",
            "status": "DONE", "assigneeId": bob.id, "baseVersion": version }] }),
    )
    .await;
    assert_eq!(pushed["applied"], json!([t["id"]]), "{pushed}");
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["updatedBy"]["id"], bob.id.as_str());
    ok(
        &app,
        &alice.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "title": "Alice again" } }),
    )
    .await;
    let op = start(
        &app,
        &bob.token,
        json!({ "kind": "UPDATE_TASKS", "filter": { "projectId": pid }, "patch": { "priority": "HIGH" } }),
    )
    .await;
    let op = wait(&app, &bob.token, &op["id"]).await;
    assert_eq!(op["processed"], 1, "{op}");
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["updatedBy"]["id"], bob.id.as_str());

    // Bob sees his own username.
    let data = ok(&app, &bob.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["assignee"]["username"], "bobby");
    assert_eq!(data["task"]["createdBy"]["id"], alice.id.as_str());
    // Carol sees nothing of it.
    let data = ok(&app, &carol.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"], Value::Null);

    // Bob leaves: to Alice he is a stranger now, his id resolves to nothing
    // (the task keeps it: he may come back).
    unshare(&app, &pid, &bob.id).await;
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["assignee"], Value::Null);
    assert_eq!(data["task"]["updatedBy"], Value::Null);
    assert_eq!(data["task"]["createdBy"]["id"], alice.id.as_str());
    // In a listing too (one load for all tasks), and again once shared.
    let listing = format!("{{ tasks {{ edges {{ node {{ {PEOPLE} }} }} }} }}");
    let data = ok(&app, &alice.token, &listing, json!({})).await;
    assert_eq!(data["tasks"]["edges"][0]["node"]["assignee"], Value::Null);
    share(&app, &pid, &bob.id, ProjectRole::Viewer).await;
    let data = ok(&app, &alice.token, &listing, json!({})).await;
    assert_eq!(
        data["tasks"]["edges"][0]["node"]["assignee"]["id"],
        bob.id.as_str()
    );
}

async fn each_role_does_what_it_may_with_tasks(app: TestApp) {
    let alice = account(&app, "alice@example.com").await;
    let editor = account(&app, "ed@example.com").await;
    let viewer = account(&app, "vi@example.com").await;
    let stranger = account(&app, "st@example.com").await;
    let p = project(&app, &alice.token, "Shared").await;
    let pid = str_of(&p["id"]).to_owned();
    share(&app, &pid, &editor.id, ProjectRole::Editor).await;
    share(&app, &pid, &viewer.id, ProjectRole::Viewer).await;
    let t = task(&app, &alice.token, &p["id"], "Alice's", json!({})).await;

    // The editor creates, updates, deletes and restores.
    let data = ok(
        &app,
        &editor.token,
        &create_task(),
        json!({ "input": { "projectId": pid, "title": "Ed's", "assigneeId": viewer.id } }),
    )
    .await;
    let mine = data["createTask"].clone();
    assert_eq!(mine["createdBy"]["id"], editor.id.as_str());
    assert_eq!(mine["assignee"]["id"], viewer.id.as_str());
    let data = ok(
        &app,
        &editor.token,
        &update_task(),
        json!({ "id": t["id"], "input": { "title": "edited" } }),
    )
    .await;
    assert_eq!(data["updateTask"]["updatedBy"]["id"], editor.id.as_str());
    let deleted = ok(
        &app,
        &editor.token,
        "mutation($id: ID!) { deleteTask(id: $id) { deletedAt updatedBy { id } } }",
        json!({ "id": mine["id"] }),
    )
    .await;
    assert_ne!(deleted["deleteTask"]["deletedAt"], Value::Null);
    ok(
        &app,
        &editor.token,
        "mutation($id: ID!) { restoreTask(id: $id) { id } }",
        json!({ "id": mine["id"] }),
    )
    .await;

    // The viewer reads, and may not write: FORBIDDEN.
    let data = ok(&app, &viewer.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["title"], "edited");
    assert_eq!(data["task"]["updatedBy"]["id"], editor.id.as_str());
    assert_eq!(task_total(&app, &viewer.token).await, 2);
    let writes = |who: &Account| {
        let token = who.token.clone();
        let (tid, pid) = (t["id"].clone(), pid.clone());
        let app = &app;
        async move {
            let mut codes = Vec::new();
            for (query, variables) in [
                (
                    create_task(),
                    json!({ "input": { "projectId": pid, "title": "x" } }),
                ),
                (
                    create_tasks(),
                    json!({ "input": [{ "projectId": pid, "title": "x" }] }),
                ),
                (
                    update_task(),
                    json!({ "id": tid, "input": { "title": "x" } }),
                ),
                (
                    update_tasks(),
                    json!({ "ids": [tid], "patch": { "status": "DONE" } }),
                ),
                (
                    "mutation($id: ID!) { deleteTask(id: $id) { id } }".to_owned(),
                    json!({ "id": tid }),
                ),
            ] {
                let body = app.gql(&query, variables, Some(&token)).await;
                codes.push(error_code(&body).to_owned());
            }
            codes
        }
    };
    assert_eq!(writes(&viewer).await, vec!["FORBIDDEN"; 5]);
    // A stranger: as if there were no such project or task.
    assert_eq!(writes(&stranger).await, vec!["NOT_FOUND"; 5]);
    let data = ok(
        &app,
        &stranger.token,
        &read_task(),
        json!({ "id": t["id"] }),
    )
    .await;
    assert_eq!(data["task"], Value::Null);
    assert_eq!(task_total(&app, &stranger.token).await, 0);
    // Nothing the refused writes tried landed.
    let data = ok(&app, &alice.token, &read_task(), json!({ "id": t["id"] })).await;
    assert_eq!(data["task"]["title"], "edited");
    assert_eq!(task_total(&app, &alice.token).await, 2);
}
