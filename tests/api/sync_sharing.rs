//! Sync when access changes. Each project is a change stream and the
//! cursor says where the client stands in each: a project shared since the
//! cursor arrives whole (its rows' `seq`s are below anything the client has
//! seen elsewhere), a project lost is reported in `revokedProjectIds`, a
//! task that moved to a project the member can not see in `removedTaskIds`
//! (that one member's cursor never skips another member's write is in
//! `sync_concurrency.rs`).
//!
//! Membership is set here straight in the database (the invitation API is
//! tested in `sharing.rs`): what is tested is the pull.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tasklane::access::ProjectRole;
use tasklane::db::Backend;

use crate::fixtures::{Account, account, project, task};
use crate::on_both_backends;
use crate::sharing_support::set_member;
use crate::support::TestApp;
use crate::sync_support::{changes, update_task};

on_both_backends!(
    a_shared_project_arrives_whole_and_a_lost_one_is_revoked,
    a_task_moved_out_of_sight_is_removed,
    random_grants_revokes_and_writes_converge
);

fn ids(set: &Value, field: &str) -> Vec<Value> {
    set[field].as_array().expect(field).to_vec()
}

fn ids_of(set: &Value, kind: &str) -> Vec<Value> {
    set[kind]
        .as_array()
        .expect(kind)
        .iter()
        .map(|o| o["id"].clone())
        .collect()
}

async fn a_shared_project_arrives_whole_and_a_lost_one_is_revoked(app: TestApp) {
    let owner = account(&app, "owner@example.com").await;
    let member = account(&app, "member@example.com").await;
    let own = project(&app, &member.token, "Mine").await;
    let start = changes(&app, &member.token, &Value::Null, None).await;
    assert_eq!(ids_of(&start, "projects"), vec![own["id"].clone()]);
    // The owner's project and tasks, all written before the member's cursor
    // was made, and many more writes than the member's own.
    let shared = project(&app, &owner.token, "Shared").await;
    let mut tasks = Vec::new();
    for i in 0..5 {
        tasks.push(
            task(
                &app,
                &owner.token,
                &shared["id"],
                &format!("T{i}"),
                json!({}),
            )
            .await["id"]
                .clone(),
        );
    }
    let nothing = changes(&app, &member.token, &start["cursor"], None).await;
    assert_eq!(ids_of(&nothing, "projects"), Vec::<Value>::new());
    set_member(
        &app,
        &shared["id"],
        &json!(member.id),
        Some(ProjectRole::Viewer),
    )
    .await;
    // Paged in twos, the project and all its tasks arrive.
    let mut since = nothing["cursor"].clone();
    let (mut projects, mut got) = (Vec::new(), Vec::new());
    loop {
        let page = changes(&app, &member.token, &since, Some(2)).await;
        projects.extend(ids_of(&page, "projects"));
        got.extend(ids_of(&page, "tasks"));
        since = page["cursor"].clone();
        if page["hasMore"] == false {
            break;
        }
    }
    assert_eq!(projects, vec![shared["id"].clone()]);
    got.sort_by_key(|v| v.to_string());
    tasks.sort_by_key(|v| v.to_string());
    assert_eq!(got, tasks);
    // A later write by the owner reaches the member once.
    update_task(&app, &owner.token, &tasks[0], json!({ "title": "renamed" })).await;
    let next = changes(&app, &member.token, &since, None).await;
    assert_eq!(ids_of(&next, "tasks"), vec![tasks[0].clone()]);
    assert_eq!(ids(&next, "revokedProjectIds"), Vec::<Value>::new());
    // Removed: the next pull says so, once; nothing of the project comes.
    set_member(&app, &shared["id"], &json!(member.id), None).await;
    update_task(&app, &owner.token, &tasks[1], json!({ "title": "after" })).await;
    let lost = changes(&app, &member.token, &next["cursor"], None).await;
    assert_eq!(ids(&lost, "revokedProjectIds"), vec![shared["id"].clone()]);
    assert_eq!(ids_of(&lost, "tasks"), Vec::<Value>::new());
    let after = changes(&app, &member.token, &lost["cursor"], None).await;
    assert_eq!(ids(&after, "revokedProjectIds"), Vec::<Value>::new());
    // The member's own project was never disturbed.
    assert_eq!(ids_of(&after, "projects"), Vec::<Value>::new());
}

async fn a_task_moved_out_of_sight_is_removed(app: TestApp) {
    let owner = account(&app, "owner@example.com").await;
    let member = account(&app, "member@example.com").await;
    let open = project(&app, &owner.token, "Open").await;
    let closed = project(&app, &owner.token, "Closed").await;
    set_member(
        &app,
        &open["id"],
        &json!(member.id),
        Some(ProjectRole::Editor),
    )
    .await;
    let moving = task(&app, &owner.token, &open["id"], "moving", json!({})).await;
    let start = changes(&app, &member.token, &Value::Null, None).await;
    assert_eq!(ids_of(&start, "tasks"), vec![moving["id"].clone()]);
    update_task(
        &app,
        &owner.token,
        &moving["id"],
        json!({ "projectId": closed["id"] }),
    )
    .await;
    let gone = changes(&app, &member.token, &start["cursor"], None).await;
    assert_eq!(ids(&gone, "removedTaskIds"), vec![moving["id"].clone()]);
    assert_eq!(ids_of(&gone, "tasks"), Vec::<Value>::new());
    // Moved back, it arrives again as a row, not as removed.
    update_task(
        &app,
        &owner.token,
        &moving["id"],
        json!({ "projectId": open["id"] }),
    )
    .await;
    let back = changes(&app, &member.token, &gone["cursor"], None).await;
    assert_eq!(ids_of(&back, "tasks"), vec![moving["id"].clone()]);
    assert_eq!(ids(&back, "removedTaskIds"), Vec::<Value>::new());
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    /// The owner makes user `user` (1 or 2) a member of project `project`
    /// (an editor when `editor`, else a viewer).
    Grant {
        user: usize,
        project: usize,
        editor: bool,
    },
    Revoke {
        user: usize,
        project: usize,
    },
    /// User `user` (0: the owner) renames task `task` of project `project`;
    /// refused unless it may write there.
    Write {
        user: usize,
        project: usize,
        task: usize,
        title: u8,
    },
    /// User `user` pulls, two changes a page.
    Pull {
        user: usize,
    },
}

const USERS: usize = 3;
const PROJECTS: usize = 2;
const TASKS: usize = 2;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..USERS, 0..PROJECTS, any::<bool>()).prop_map(|(user, project, editor)| Op::Grant {
            user,
            project,
            editor
        }),
        (1..USERS, 0..PROJECTS).prop_map(|(user, project)| Op::Revoke { user, project }),
        (0..USERS, 0..PROJECTS, 0..TASKS, 0u8..4).prop_map(|(user, project, task, title)| {
            Op::Write {
                user,
                project,
                task,
                title,
            }
        }),
        (0..USERS).prop_map(|user| Op::Pull { user }),
    ]
}

/// A member's local copy: objects by id (id → version), and its cursor.
#[derive(Debug, Default)]
struct Replica {
    projects: BTreeMap<String, i64>,
    /// Task id → (project id, version).
    tasks: BTreeMap<String, (String, i64)>,
    cursor: Value,
}

impl Replica {
    fn take(&mut self, set: &Value) {
        for p in set["projects"].as_array().expect("projects") {
            let id = p["id"].as_str().expect("id").to_owned();
            self.projects
                .insert(id, p["version"].as_i64().expect("version"));
        }
        for t in set["tasks"].as_array().expect("tasks") {
            let id = t["id"].as_str().expect("id").to_owned();
            let project = t["project"]["id"].as_str().expect("project").to_owned();
            self.tasks
                .insert(id, (project, t["version"].as_i64().expect("version")));
        }
        for gone in set["revokedProjectIds"].as_array().expect("revoked") {
            let gone = gone.as_str().expect("id");
            self.projects.remove(gone);
            self.tasks.retain(|_, (project, _)| project != gone);
        }
        for gone in set["removedTaskIds"].as_array().expect("removed") {
            self.tasks.remove(gone.as_str().expect("id"));
        }
        self.cursor = set["cursor"].clone();
    }
}

async fn pull_all(app: &TestApp, token: &str, replica: &mut Replica, first: Option<i64>) {
    loop {
        let page = changes(app, token, &replica.cursor, first).await;
        replica.take(&page);
        if page["hasMore"] == false {
            return;
        }
    }
}

/// One case: fresh projects of the owner (`users[0]`); every replica
/// starts from nothing (so it also holds what earlier cases left shared).
async fn converge_once(app: &TestApp, users: &[Account], ops: Vec<Op>) {
    let mut projects = Vec::new();
    let mut tasks = Vec::new();
    for p in 0..PROJECTS {
        let project = project(app, &users[0].token, &format!("P{p}")).await;
        let mut ids = Vec::new();
        for t in 0..TASKS {
            ids.push(
                task(
                    app,
                    &users[0].token,
                    &project["id"],
                    &format!("T{t}"),
                    json!({}),
                )
                .await["id"]
                    .clone(),
            );
        }
        projects.push(project);
        tasks.push(ids);
    }
    let mut replicas: Vec<Replica> = (0..USERS).map(|_| Replica::default()).collect();
    for op in ops {
        match op {
            Op::Grant {
                user,
                project,
                editor,
            } => {
                let role = if editor {
                    ProjectRole::Editor
                } else {
                    ProjectRole::Viewer
                };
                set_member(
                    app,
                    &projects[project]["id"],
                    &json!(users[user].id),
                    Some(role),
                )
                .await;
            }
            Op::Revoke { user, project } => {
                set_member(app, &projects[project]["id"], &json!(users[user].id), None).await;
            }
            Op::Write {
                user,
                project,
                task,
                title,
            } => {
                // Refused (NOT_FOUND, FORBIDDEN) unless the user may write.
                let _ = app
                    .gql(
                        "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }",
                        json!({ "id": tasks[project][task], "input": { "title": format!("u{user} {title}") } }),
                        Some(&users[user].token),
                    )
                    .await;
            }
            Op::Pull { user } => {
                pull_all(app, &users[user].token, &mut replicas[user], Some(2)).await
            }
        }
    }
    for (user, replica) in replicas.iter_mut().enumerate() {
        pull_all(app, &users[user].token, replica, Some(2)).await;
        let mut fresh = Replica::default();
        pull_all(app, &users[user].token, &mut fresh, None).await;
        assert_eq!(replica.projects, fresh.projects, "user {user}: projects");
        assert_eq!(replica.tasks, fresh.tasks, "user {user}: tasks");
        // And that is exactly what the server shows the member.
        let shown = app
            .gql(
                "{ projects(first: 50) { edges { node { id version tasks(first: 10) { edges { node { id version } } } } } } }",
                json!({}),
                Some(&users[user].token),
            )
            .await;
        let mut visible_projects = BTreeMap::new();
        let mut visible_tasks = BTreeMap::new();
        for edge in shown["data"]["projects"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("projects: {shown}"))
        {
            let node = &edge["node"];
            let id = node["id"].as_str().expect("id").to_owned();
            visible_projects.insert(id.clone(), node["version"].as_i64().expect("version"));
            for t in node["tasks"]["edges"].as_array().expect("tasks") {
                let t = &t["node"];
                visible_tasks.insert(
                    t["id"].as_str().expect("id").to_owned(),
                    (id.clone(), t["version"].as_i64().expect("version")),
                );
            }
        }
        assert_eq!(
            replica.projects, visible_projects,
            "user {user}: projects shown"
        );
        assert_eq!(replica.tasks, visible_tasks, "user {user}: tasks shown");
    }
}

async fn random_grants_revokes_and_writes_converge(app: TestApp) {
    let cases = match app.database().backend() {
        Backend::Sqlite => 12,
        Backend::Postgres => 4,
    };
    let mut config = Config::with_cases(cases);
    config.max_shrink_iters = 32;
    let mut runner = TestRunner::new(config);
    let mut users = Vec::new();
    for u in 0..USERS {
        users.push(account(&app, &format!("u{u}@example.com")).await);
    }
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&prop::collection::vec(op(), 1..24), |ops| {
            handle.block_on(converge_once(&app, &users, ops));
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
