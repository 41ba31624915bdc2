//! A pull running while the same owner writes never skips a change: a
//! reader following `hasMore` sees every object's versions in order, each at
//! most once, and ends with the final version of every object. One writer
//! changes the project and its task in the same transaction, so a pull that
//! reads projects and tasks in separate statements is exercised too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::fixtures::{account, project, task};
use crate::on_both_backends;
use crate::support::TestApp;
use crate::sync_support::{changes, sync, update_task};

on_both_backends!(concurrent_writers_and_pullers_see_every_change_once);

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
