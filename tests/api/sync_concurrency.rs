//! A pull running while the same owner writes never skips a change: a
//! reader following `hasMore` sees every object's versions in order, each at
//! most once, and ends with the final version of every object. One writer
//! changes the project and its task in the same transaction, so a pull that
//! reads projects and tasks in separate statements is exercised too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scoped_futures::ScopedFutureExt as _;
use serde_json::{Value, json};
use tasklane::access::ProjectRole;
use tasklane::auth::Viewer;
use tasklane::db::types::Id;
use tasklane::tasks::writes::{self, TaskEdit};
use tokio::sync::oneshot;

use crate::fixtures::{Account, account, project, task};
use crate::on_both_backends;
use crate::sharing_support::set_member;
use crate::support::TestApp;
use crate::sync_support::{changes, sync, update_task};

on_both_backends!(
    concurrent_writers_and_pullers_see_every_change_once,
    a_change_that_commits_late_is_not_skipped,
    another_members_late_commit_is_not_skipped
);

const WRITERS: usize = 4;
const UPDATES: usize = 25;

/// Records a page into `seen` (object id → versions seen, in order).
fn record(page: &Value, seen: &mut HashMap<String, Vec<i64>>) {
    for kind in ["projects", "tasks"] {
        for object in page[kind].as_array().expect(kind) {
            let id = object["id"].as_str().expect("id").to_owned();
            let version = object["version"].as_i64().expect("version");
            seen.entry(id).or_default().push(version);
        }
    }
}

async fn concurrent_writers_and_pullers_see_every_change_once(app: TestApp) {
    let app = Arc::new(app);
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Busy").await;
    let mut ids = Vec::new();
    for i in 0..WRITERS {
        ids.push(task(&app, &a.token, &p["id"], &format!("T{i}"), json!({})).await["id"].clone());
    }
    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (w, id) in ids.iter().cloned().enumerate() {
        let (app, token, project_id) = (app.clone(), a.token.clone(), p["id"].clone());
        writers.push(tokio::spawn(async move {
            for n in 0..UPDATES {
                // Half through updateTask, half through sync with the
                // current version as base (only this writer writes the task).
                if n % 2 == 0 {
                    update_task(&app, &token, &id, json!({ "title": format!("W{w} #{n}") })).await;
                } else {
                    let version = 1 + i64::try_from(n).expect("small");
                    let mut input = json!({ "tasks": [{ "id": id, "projectId": project_id,
                        "title": format!("W{w} #{n}"), "baseVersion": version }] });
                    let mut applied = vec![id.clone()];
                    if w == 0 {
                        // Only writer 0 renames the project: 1 + n / 2 is its version.
                        let base = 1 + i64::try_from(n / 2).expect("small");
                        input["projects"] = json!([{ "id": project_id,
                            "name": format!("Busy #{n}"), "baseVersion": base }]);
                        applied.insert(0, project_id.clone());
                    }
                    let pushed = sync(&app, &token, input).await;
                    assert_eq!(pushed["applied"], json!(applied), "{pushed}");
                }
            }
        }));
    }
    let puller = {
        let (app, token, done) = (app.clone(), a.token.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen: HashMap<String, Vec<i64>> = HashMap::new();
            let mut since = Value::Null;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = changes(&app, &token, &since, Some(3)).await;
                record(&page, &mut seen);
                since = page["cursor"].clone();
                if finished && page["hasMore"] == false {
                    return seen;
                }
            }
        })
    };
    for writer in writers {
        writer.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let seen = puller.await.expect("puller");
    let final_version = 1 + i64::try_from(UPDATES).expect("small");
    let project_final = 1 + i64::try_from(UPDATES / 2).expect("small");
    let project_versions = &seen[p["id"].as_str().expect("id")];
    assert!(
        project_versions.windows(2).all(|w| w[0] < w[1]),
        "{project_versions:?}"
    );
    assert_eq!(
        project_versions.last(),
        Some(&project_final),
        "{project_versions:?}"
    );
    for id in &ids {
        let versions = &seen[id.as_str().expect("id")];
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "{id}: versions out of order or repeated: {versions:?}"
        );
        assert_eq!(versions.last(), Some(&final_version), "{id}: {versions:?}");
    }
}

fn id_of(value: &Value) -> Id {
    Id::from(uuid::Uuid::parse_str(value.as_str().expect("id")).expect("uuid"))
}

/// The case a plain sequence gets wrong, made to happen every time: one
/// transaction takes its `seq` and holds its commit while another write to
/// the same project is attempted and a pull runs. The late change must still
/// reach the reader's next pull from the cursor it was given. (With a
/// sequence, the other write would commit a higher `seq` first, the pull
/// would move the cursor past the held one, and it would be skipped.)
async fn a_change_that_commits_late_is_not_skipped(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Held").await;
    late_commit_is_not_skipped(app, &a, &a, &p).await;
}

/// As above with two members of a shared project: the member's write holds
/// its commit while the owner writes and pulls; the owner's cursor must not
/// pass the member's change.
async fn another_members_late_commit_is_not_skipped(app: TestApp) {
    let owner = account(&app, "owner@example.com").await;
    let member = account(&app, "member@example.com").await;
    let p = project(&app, &owner.token, "Shared").await;
    set_member(&app, &p["id"], &json!(member.id), Some(ProjectRole::Editor)).await;
    late_commit_is_not_skipped(app, &owner, &member, &p).await;
}

/// `holder` writes a task of `p` in a transaction it keeps open while
/// `reader` writes another task of `p` and pulls.
async fn late_commit_is_not_skipped(app: TestApp, reader: &Account, holder: &Account, p: &Value) {
    let app = Arc::new(app);
    let held = task(&app, &reader.token, &p["id"], "held", json!({})).await;
    let other = task(&app, &reader.token, &p["id"], "other", json!({})).await;
    let start = changes(&app, &reader.token, &Value::Null, None).await;
    let viewer = Viewer::of_session(id_of(&json!(holder.id)), Id::new());
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (written_tx, written_rx) = oneshot::channel::<()>();
    let db = app.database().clone();
    let held_id = id_of(&held["id"]);
    let holder = tokio::spawn(async move {
        db.transaction(|mut conn| {
            async move {
                let edit = TaskEdit {
                    title: Some("committed late".into()),
                    ..TaskEdit::default()
                };
                writes::edit(&mut conn, &viewer, &[held_id], &edit, None, "input").await?;
                let _ = written_tx.send(());
                let _ = release_rx.await;
                Ok(())
            }
            .scope_boxed()
        })
        .await
    });
    written_rx.await.expect("the held write happened");
    // Another write to the same project, and a pull, while the first is held.
    let writer = {
        let (app, token, id) = (app.clone(), reader.token.clone(), other["id"].clone());
        tokio::spawn(
            async move { update_task(&app, &token, &id, json!({ "title": "quick" })).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = changes(&app, &reader.token, &start["cursor"], None).await;
    release_tx.send(()).expect("holder waits");
    holder
        .await
        .expect("holder")
        .expect("held transaction commits");
    writer.await.expect("writer");
    let mut seen: HashMap<String, Vec<i64>> = HashMap::new();
    record(&during, &mut seen);
    let mut since = during["cursor"].clone();
    loop {
        let page = changes(&app, &reader.token, &since, None).await;
        record(&page, &mut seen);
        since = page["cursor"].clone();
        if page["hasMore"] == false {
            break;
        }
    }
    for id in [&held["id"], &other["id"]] {
        assert_eq!(
            seen.get(id.as_str().expect("id")),
            Some(&vec![2]),
            "{id}: every change seen once: {seen:?}"
        );
    }
}
