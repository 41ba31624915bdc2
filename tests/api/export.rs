//! `exportMyData` / `myDataExport` and `tasklane export-user`: the document
//! holds exactly what the user owns, nothing of anyone else's and no
//! secret, and only its owner gets it (limits: `export_limits.rs`).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use tasklane::access::ProjectRole;
use tasklane::db::schema::{api_keys, sessions, users};
use tasklane::db::types::Id;
use tasklane::db_run;

use crate::fixtures::{account, ok, project, task};
use crate::on_both_backends;
use crate::operations_support::{state, wait};
use crate::sharing_support::share;
use crate::support::{PASSWORD, TestApp, error_code, error_field};

on_both_backends!(
    the_export_holds_exactly_what_the_user_owns,
    exports_are_the_owners_alone,
    the_operator_exports_a_user_from_the_command_line,
);

pub const EXPORT: &str = "mutation { exportMyData { id kind status total processed skipped failed
    errorMessage } }";
pub const DOCUMENT: &str = "query($id: ID!) { myDataExport(id: $id) }";

/// Starts an export that must be accepted; returns the operation.
pub async fn export(app: &TestApp, token: &str) -> Value {
    ok(app, token, EXPORT, json!({})).await["exportMyData"].clone()
}

/// Exports, waits for the operation to finish and returns the document.
pub async fn exported(app: &TestApp, token: &str) -> Value {
    let op = export(app, token).await;
    assert_eq!(op["kind"], "EXPORT_DATA", "{op}");
    let done = wait(app, token, &op["id"]).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let data = ok(app, token, DOCUMENT, json!({ "id": op["id"] })).await;
    assert!(data["myDataExport"].is_object(), "{data}");
    data["myDataExport"].clone()
}

/// The ids of a list of the document.
fn ids_of(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

fn by_id(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| (item["id"].as_str().expect("id").to_owned(), item.clone()))
        .collect()
}

async fn login(app: &TestApp, email: &str, device: &str) -> Value {
    let body = app
        .gql(
            "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }",
            json!({ "input": { "email": email, "password": PASSWORD, "deviceName": device } }),
            None,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["login"].clone()
}

async fn api_key(app: &TestApp, token: &str, name: &str) -> String {
    ok(
        app,
        token,
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
        json!({ "input": { "name": name, "scopes": ["READ", "WRITE"] } }),
    )
    .await["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

/// Every secret the database keeps about `user`: its password hash, the
/// hashes of its sessions' refresh tokens and of its API keys.
async fn stored_secrets(app: &TestApp, user: &str) -> Vec<String> {
    let user = Id::parse(user).expect("id");
    let mut pooled = app.database().read().await.expect("connection");
    let conn = &mut pooled.conn();
    let password = db_run!(conn, |c| {
        users::table
            .filter(users::id.eq(user))
            .select(users::password_hash)
            .first::<Option<String>>(c)
            .await
    })
    .expect("user");
    let mut hashes = db_run!(conn, |c| {
        sessions::table
            .filter(sessions::user_id.eq(user))
            .select(sessions::token_hash)
            .load::<Vec<u8>>(c)
            .await
    })
    .expect("sessions");
    hashes.extend(
        db_run!(conn, |c| {
            api_keys::table
                .filter(api_keys::user_id.eq(user))
                .select(api_keys::key_hash)
                .load::<Vec<u8>>(c)
                .await
        })
        .expect("keys"),
    );
    assert!(hashes.len() >= 3, "sessions and a key: {hashes:?}");
    let mut secrets: Vec<String> = password.into_iter().collect();
    for hash in hashes {
        secrets.push(hex::encode(&hash));
        secrets.push(base64::engine::general_purpose::STANDARD.encode(&hash));
        secrets.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&hash));
    }
    secrets
}

/// A: two projects (one deleted), live, deleted and completed tasks, a
/// second session, an API key, an operation; a member of B's project, with
/// a task of its own there; C a member of A's project, with a task there.
async fn the_export_holds_exactly_what_the_user_owns(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let c = account(&app, "c@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    let old = project(&app, &a.token, "Old things").await;
    let kept = task(
        &app,
        &a.token,
        &home["id"],
        "Write the report",
        json!({ "description": "Due before the review", "priority": "HIGH",
                "tags": ["work", "q4"], "dueAt": "2027-01-15T09:30:00Z", "position": 2.5 }),
    )
    .await;
    let done = task(
        &app,
        &a.token,
        &home["id"],
        "Book the trip",
        json!({ "status": "DONE" }),
    )
    .await;
    let gone = task(&app, &a.token, &home["id"], "Old idea", json!({})).await;
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteTask(id: $id) { id } }",
        json!({ "id": gone["id"] }),
    )
    .await;
    let archived = task(&app, &a.token, &old["id"], "In the old project", json!({})).await;
    ok(
        &app,
        &a.token,
        "mutation($id: ID!) { deleteProject(id: $id) { id } }",
        json!({ "id": old["id"] }),
    )
    .await;
    let laptop = login(&app, "a@example.com", "laptop").await;
    let secret = api_key(&app, &a.token, "backup script").await;
    let dry = ok(
        &app,
        &a.token,
        "mutation { startOperation(input: { kind: DELETE_TASKS, dryRun: true, filter: {} }) { id } }",
        json!({}),
    )
    .await["startOperation"]["id"]
        .clone();
    // B's project, shared with A: A's own task there is A's; B's is not.
    let theirs = project(&app, &b.token, "B's garden").await;
    let b_task = task(&app, &b.token, &theirs["id"], "Water the roses", json!({})).await;
    share(
        &app,
        theirs["id"].as_str().expect("id"),
        &a.id,
        ProjectRole::Editor,
    )
    .await;
    let a_in_b = task(&app, &a.token, &theirs["id"], "Bring the hose", json!({})).await;
    // C works in A's project: the task is part of A's project.
    share(
        &app,
        home["id"].as_str().expect("id"),
        &c.id,
        ProjectRole::Editor,
    )
    .await;
    let c_in_a = task(&app, &c.token, &home["id"], "Fix the printer", json!({})).await;

    let doc = exported(&app, &a.token).await;
    let text = doc.to_string();

    assert_eq!(doc["format"], "tasklane-export");
    assert_eq!(doc["version"], 1);
    let user = &doc["user"];
    assert_eq!(user["id"], a.id.as_str());
    assert_eq!(user["email"], "a@example.com");
    assert_eq!(user["displayName"], "Test User");
    let me = ok(&app, &a.token, "{ me { createdAt } }", json!({})).await;
    assert_eq!(user["createdAt"], me["me"]["createdAt"]);

    // Projects: the ones A owns, the deleted one too.
    assert_eq!(
        ids_of(&doc["projects"]),
        BTreeSet::from([id(&home), id(&old)])
    );
    let projects = by_id(&doc["projects"]);
    assert!(projects[&id(&old)]["deletedAt"].is_string());
    assert_eq!(projects[&id(&home)]["name"], "Home");
    assert_eq!(projects[&id(&home)]["deletedAt"], Value::Null);

    // Tasks: A's projects' (deleted ones and C's included) and A's own in
    // B's project; not B's.
    let expected = BTreeSet::from([
        id(&kept),
        id(&done),
        id(&gone),
        id(&archived),
        id(&c_in_a),
        id(&a_in_b),
    ]);
    assert_eq!(ids_of(&doc["tasks"]), expected);
    // Each exactly as the API shows it to A.
    let api = state(&app, &a.token).await;
    for (task_id, exported) in by_id(&doc["tasks"]) {
        let shown = &api[&task_id];
        for field in [
            "title",
            "description",
            "status",
            "priority",
            "tags",
            "dueAt",
            "position",
            "completedAt",
            "deletedAt",
            "createdAt",
        ] {
            assert_eq!(exported[field], shown[field], "{task_id}.{field}");
        }
        assert_eq!(exported["projectId"], shown["project"]["id"]);
    }
    let tasks = by_id(&doc["tasks"]);
    assert!(tasks[&id(&gone)]["deletedAt"].is_string());
    assert_eq!(tasks[&id(&kept)]["tags"], json!(["work", "q4"]));
    assert_eq!(tasks[&id(&c_in_a)]["createdBy"], c.id.as_str());

    // Memberships: A's own projects and B's, with the role.
    let memberships: BTreeMap<String, Value> = doc["memberships"]
        .as_array()
        .expect("memberships")
        .iter()
        .map(|m| (m["projectId"].as_str().expect("id").to_owned(), m.clone()))
        .collect();
    assert_eq!(memberships.len(), 3, "{memberships:?}");
    assert_eq!(memberships[&id(&home)]["role"], "OWNER");
    assert_eq!(memberships[&id(&theirs)]["role"], "EDITOR");
    assert_eq!(memberships[&id(&theirs)]["projectName"], "B's garden");

    // Sessions (the signup's and the laptop's), the key's name, the
    // operations (the dry run and this export).
    let sessions = doc["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(sessions.iter().any(|s| s["deviceName"] == "laptop"));
    let keys = doc["apiKeys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "backup script");
    assert_eq!(keys[0]["scopes"], json!(["READ", "WRITE"]));
    let operations = by_id(&doc["operations"]);
    assert!(operations.contains_key(dry.as_str().expect("id")));
    assert!(operations.values().any(|op| op["kind"] == "EXPORT_DATA"));

    // Nothing of B's or C's but what is named above.
    for foreign in ["b@example.com", "c@example.com", "Water the roses"] {
        assert!(!text.contains(foreign), "{foreign} leaked: {text}");
    }
    assert!(!text.contains(&id(&b_task)));
    // No secret, no hash, no field that would hold one.
    let mut secrets = stored_secrets(&app, &a.id).await;
    secrets.push(secret);
    secrets.push(a.token.clone());
    secrets.push(laptop["accessToken"].as_str().expect("t").to_owned());
    secrets.push(laptop["refreshToken"].as_str().expect("t").to_owned());
    for secret in secrets {
        assert!(!text.contains(&secret), "a secret is in the export");
    }
    for field in ["password", "Hash", "hash", "secret", "token"] {
        assert!(!text.contains(field), "{field} in {text}");
    }
}

pub fn id(object: &Value) -> String {
    object["id"].as_str().expect("id").to_owned()
}

/// B can not read A's export nor follow it; an API key can not export; the
/// kind can not be started through startOperation nor rolled back.
async fn exports_are_the_owners_alone(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    task(&app, &a.token, &home["id"], "Mine", json!({})).await;
    let op = export(&app, &a.token).await;
    wait(&app, &a.token, &op["id"]).await;

    let theirs = ok(&app, &b.token, DOCUMENT, json!({ "id": op["id"] })).await;
    assert_eq!(theirs["myDataExport"], Value::Null);
    let followed = ok(
        &app,
        &b.token,
        "query($id: ID!) { operation(id: $id) { id } }",
        json!({ "id": op["id"] }),
    )
    .await;
    assert_eq!(followed["operation"], Value::Null);
    // B's own export holds none of A's.
    let b_doc = exported(&app, &b.token).await;
    assert_eq!(b_doc["tasks"], json!([]));
    assert_eq!(b_doc["projects"], json!([]));
    assert!(!b_doc.to_string().contains("a@example.com"));
    // A malformed id is no export either.
    let none = ok(&app, &a.token, DOCUMENT, json!({ "id": "nope" })).await;
    assert_eq!(none["myDataExport"], Value::Null);

    let key = api_key(&app, &a.token, "script").await;
    let refused = app.gql(EXPORT, json!({}), Some(&key)).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let anonymous = app.gql(EXPORT, json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");

    let started = app
        .gql(
            "mutation { startOperation(input: { kind: EXPORT_DATA }) { id } }",
            json!({}),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&started), "BAD_USER_INPUT", "{started}");
    assert_eq!(error_field(&started), "input.kind");
    let undone = app
        .gql(
            "mutation($id: ID!) { rollbackOperation(id: $id) { id } }",
            json!({ "id": op["id"] }),
            Some(&a.token),
        )
        .await;
    assert_eq!(error_code(&undone), "CONFLICT", "{undone}");
}

/// `tasklane export-user EMAIL`: the user's document on standard output
/// (the same as exportMyData's), or in a new file with `--output`; an
/// unknown email is one line and exit code 1.
async fn the_operator_exports_a_user_from_the_command_line(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let b = account(&app, "b@example.com").await;
    let home = project(&app, &a.token, "Home").await;
    task(&app, &a.token, &home["id"], "Mine", json!({})).await;
    project(&app, &b.token, "Theirs").await;
    let op = export(&app, &a.token).await;
    wait(&app, &a.token, &op["id"]).await;
    let online =
        ok(&app, &a.token, DOCUMENT, json!({ "id": op["id"] })).await["myDataExport"].clone();

    let url = app.db.url.clone();
    let run = move |args: Vec<String>| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                crate::support::tasklane_binary()
                    .args(&args)
                    .env("TASKLANE_DATABASE_URL", url)
                    .output()
                    .expect("runs")
            })
            .await
            .expect("joined")
        }
    };
    let printed = run(vec!["export-user".into(), "A@Example.com".into()]).await;
    assert!(printed.status.success(), "{printed:?}");
    let offline: Value = serde_json::from_slice(&printed.stdout).expect("one JSON document");
    for key in [
        "format",
        "version",
        "user",
        "projects",
        "memberships",
        "tasks",
        "sessions",
        "apiKeys",
        "identities",
    ] {
        assert_eq!(offline[key], online[key], "{key}");
    }
    // The export itself has completed since the online one was made.
    assert_eq!(
        ids_of(&offline["operations"]),
        ids_of(&online["operations"])
    );
    assert!(!printed.stdout.windows(6).any(|w| w == b"Theirs"));

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a.json");
    let written = run(vec![
        "export-user".into(),
        "a@example.com".into(),
        "--output".into(),
        file.display().to_string(),
    ])
    .await;
    assert!(written.status.success(), "{written:?}");
    assert!(written.stdout.is_empty());
    let saved_text = std::fs::read_to_string(&file).expect("written");
    let saved: Value = serde_json::from_str(&saved_text).expect("JSON");
    assert_eq!(saved["tasks"], online["tasks"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never over an existing file.
    let again = run(vec![
        "export-user".into(),
        "a@example.com".into(),
        "--output".into(),
        file.display().to_string(),
    ])
    .await;
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), saved_text);

    let unknown = run(vec!["export-user".into(), "nobody@example.com".into()]).await;
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = String::from_utf8(unknown.stderr).expect("utf-8");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("nobody@example.com"), "{stderr}");
    assert!(unknown.stdout.is_empty());
}
