//! Property: simulated offline clients edit, delete and restore tasks and
//! sync in random orders. The server applies exactly the changes whose base
//! was current (or that equal the server copy), reports the others as
//! conflicts with the right reason, and in the end every client equals the
//! server: no lost update, nothing silently overwritten.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tasklane::db::Backend;

use crate::fixtures::account;
use crate::on_both_backends;
use crate::support::TestApp;
use crate::sync_support::{changes, new_id, sync};

on_both_backends!(random_offline_clients_converge_with_the_server);

const CLIENTS: usize = 3;
const TASKS: usize = 4;
/// Cases per run: SQLite checks many; PostgreSQL, slower to set up, fewer.
const SQLITE_CASES: u32 = 24;
const POSTGRES_CASES: u32 = 8;

#[derive(Debug, Clone)]
enum Op {
    Edit {
        client: usize,
        task: usize,
        title: u8,
    },
    Delete {
        client: usize,
        task: usize,
    },
    Restore {
        client: usize,
        task: usize,
    },
    Sync {
        client: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..CLIENTS, 0..TASKS, 0u8..3).prop_map(|(client, task, title)| Op::Edit {
            client,
            task,
            title
        }),
        (0..CLIENTS, 0..TASKS).prop_map(|(client, task)| Op::Delete { client, task }),
        (0..CLIENTS, 0..TASKS).prop_map(|(client, task)| Op::Restore { client, task }),
        (0..CLIENTS).prop_map(|client| Op::Sync { client }),
    ]
}

/// A task as a client or the server holds it.
#[derive(Debug, Clone, PartialEq)]
struct Copy {
    title: String,
    deleted: bool,
    version: i64,
}

impl Copy {
    fn from_json(task: &Value) -> Self {
        Self {
            title: task["title"].as_str().expect("title").to_owned(),
            deleted: !task["deletedAt"].is_null(),
            version: task["version"].as_i64().expect("version"),
        }
    }
}

struct Client {
    tasks: Vec<Copy>,
    dirty: Vec<bool>,
    cursor: Value,
}

struct Case<'a> {
    app: &'a TestApp,
    token: String,
    project: Value,
    ids: Vec<Value>,
    /// What the server must hold, kept by this test.
    model: Vec<Copy>,
    clients: Vec<Client>,
}

impl Case<'_> {
    fn index(&self, id: &Value) -> usize {
        self.ids.iter().position(|i| i == id).expect("known id")
    }

    /// The index of a task of this case (the account also holds the tasks
    /// of earlier cases).
    fn ours(&self, id: &Value) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Takes a change set into the client's copies.
    fn take(&mut self, client: usize, set: &Value) {
        for task in set["tasks"].as_array().expect("tasks") {
            if let Some(i) = self.ours(&task["id"]) {
                self.clients[client].tasks[i] = Copy::from_json(task);
            }
        }
        self.clients[client].cursor = set["cursor"].clone();
    }

    async fn pull_rest(&mut self, client: usize, mut set: Value) {
        loop {
            self.take(client, &set);
            if set["hasMore"] == false {
                return;
            }
            set = changes(self.app, &self.token, &self.clients[client].cursor, Some(2)).await;
        }
    }

    async fn sync(&mut self, client: usize) {
        let mut changes = Vec::new();
        let mut expected_applied = Vec::new();
        let mut expected_conflicts = Vec::new();
        for i in 0..TASKS {
            if !self.clients[client].dirty[i] {
                continue;
            }
            let local = self.clients[client].tasks[i].clone();
            changes.push(json!({ "id": self.ids[i], "projectId": self.project,
                "title": local.title, "deleted": local.deleted, "baseVersion": local.version }));
            let server = &mut self.model[i];
            if (&server.title, server.deleted) == (&local.title, local.deleted) {
                expected_applied.push(self.ids[i].clone());
            } else if server.version == local.version {
                *server = Copy {
                    version: server.version + 1,
                    ..local
                };
                expected_applied.push(self.ids[i].clone());
            } else {
                let reason = if server.deleted { "deleted" } else { "updated" };
                expected_conflicts.push((self.ids[i].clone(), json!(reason)));
            }
        }
        let pushed = sync(
            self.app,
            &self.token,
            json!({ "since": self.clients[client].cursor, "clientId": format!("client-{client}"),
                "tasks": changes }),
        )
        .await;
        assert_eq!(pushed["applied"], json!(expected_applied), "{pushed}");
        let conflicts: Vec<(Value, Value)> = pushed["conflicts"]
            .as_array()
            .expect("conflicts")
            .iter()
            .map(|c| (c["id"].clone(), c["reason"].clone()))
            .collect();
        assert_eq!(conflicts, expected_conflicts, "{pushed}");
        for c in pushed["conflicts"].as_array().expect("conflicts") {
            let i = self.index(&c["id"]);
            assert_eq!(
                Copy::from_json(&c["serverTask"]),
                self.model[i],
                "server copy"
            );
            self.clients[client].tasks[i] = Copy::from_json(&c["serverTask"]);
        }
        self.clients[client].dirty = vec![false; TASKS];
        self.pull_rest(client, pushed["changes"].clone()).await;
    }

    async fn run(&mut self, ops: Vec<Op>) {
        for op in ops {
            match op {
                Op::Edit {
                    client,
                    task,
                    title,
                } => {
                    self.clients[client].tasks[task].title = format!("c{client} t{title}");
                    self.clients[client].dirty[task] = true;
                }
                Op::Delete { client, task } | Op::Restore { client, task } => {
                    self.clients[client].tasks[task].deleted = matches!(op, Op::Delete { .. });
                    self.clients[client].dirty[task] = true;
                }
                Op::Sync { client } => self.sync(client).await,
            }
        }
        // Everyone pushes what is left, then everyone catches up.
        for client in 0..CLIENTS {
            self.sync(client).await;
        }
        for client in 0..CLIENTS {
            self.sync(client).await;
        }
        let server = changes(self.app, &self.token, &Value::Null, Some(1000)).await;
        let mut on_server = vec![None; TASKS];
        for task in server["tasks"].as_array().expect("tasks") {
            if let Some(i) = self.ours(&task["id"]) {
                on_server[i] = Some(Copy::from_json(task));
            }
        }
        let on_server: Vec<Copy> = on_server
            .into_iter()
            .map(|c| c.expect("every task"))
            .collect();
        assert_eq!(
            on_server, self.model,
            "the server holds every accepted change"
        );
        for (n, client) in self.clients.iter().enumerate() {
            assert_eq!(client.tasks, on_server, "client {n} equals the server");
        }
    }
}

/// One case on a fresh project of the test's account (signups are rate
/// limited, so the cases share the account).
async fn run_case(app: &TestApp, token: &str, ops: Vec<Op>) {
    let project = new_id();
    let ids: Vec<Value> = (0..TASKS).map(|_| new_id()).collect();
    let created = sync(
        app,
        token,
        json!({ "projects": [{ "id": project, "name": "Shared" }],
            "tasks": ids.iter().enumerate().map(|(i, id)| json!({ "id": id, "projectId": project,
                "title": format!("T{i}") })).collect::<Vec<_>>() }),
    )
    .await;
    let model: Vec<Copy> = (0..TASKS)
        .map(|i| Copy {
            title: format!("T{i}"),
            deleted: false,
            version: 1,
        })
        .collect();
    let mut case = Case {
        app,
        token: token.to_owned(),
        project,
        ids,
        model: model.clone(),
        clients: (0..CLIENTS)
            .map(|_| Client {
                tasks: model.clone(),
                dirty: vec![false; TASKS],
                cursor: created["changes"]["cursor"].clone(),
            })
            .collect(),
    };
    case.run(ops).await;
}

async fn random_offline_clients_converge_with_the_server(app: TestApp) {
    let cases = match app.database().backend() {
        Backend::Sqlite => SQLITE_CASES,
        Backend::Postgres => POSTGRES_CASES,
    };
    let mut config = Config::with_cases(cases);
    config.max_shrink_iters = 64;
    let mut runner = TestRunner::new(config);
    let a = account(&app, "prop@example.com").await;
    let handle = tokio::runtime::Handle::current();
    let count = AtomicUsize::new(0);
    let result = tokio::task::block_in_place(|| {
        runner.run(&prop::collection::vec(op(), 1..40), |ops| {
            count.fetch_add(1, Ordering::SeqCst);
            handle.block_on(run_case(&app, &a.token, ops));
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(count.load(Ordering::SeqCst) >= cases as usize);
}
