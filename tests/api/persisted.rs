//! Documents sent by hash, over the wire as clients send them: Apollo
//! Client's persisted-query link (automatic persisted queries) over POST,
//! GET and WebSocket, and a trusted-documents manifest as GraphQL Code
//! Generator's client preset writes it.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Backend, TestApp, error_code};
use crate::ws_support::{TRANSPORT_WS, Ws, subscriptions_reach};
use crate::{on_both_backends, on_both_databases};

on_both_backends!(
    the_apollo_link_registers_then_runs_by_hash_over_post,
    a_document_kept_by_hash_runs_over_get_and_mutations_do_not,
    limits_hold_for_a_document_sent_by_hash,
    subscriptions_run_by_hash_over_websocket
);

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn extensions(text: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": sha(text) } })
}

/// POSTs a raw body; the status and the JSON answer.
async fn post(app: &TestApp, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

async fn get(app: &TestApp, params: &[(&str, String)], token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(params)
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

const PROJECTS: &str =
    "query Projects($n: Int) { projects(first: $n) { edges { node { id name } } } }";

async fn the_apollo_link_registers_then_runs_by_hash_over_post(app: TestApp) {
    let user = app.signup("apq@example.com").await;
    let token = user["accessToken"].as_str();
    let created = app
        .gql(
            "mutation { createProject(input: { name: \"Kept\" }) { id } }",
            json!({}),
            token,
        )
        .await;
    assert_eq!(created["errors"], Value::Null, "{created}");

    // The link's first try: the hash alone. Not known yet.
    let by_hash = json!({ "operationName": "Projects", "variables": { "n": 5 },
                          "extensions": extensions(PROJECTS) });
    let (status, body) = post(&app, by_hash.clone(), token).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["data"], Value::Null);

    // Its retry: the query with the hash, which registers it.
    let mut with_query = by_hash.clone();
    with_query["query"] = json!(PROJECTS);
    let (_, first) = post(&app, with_query, token).await;
    assert_eq!(first["errors"], Value::Null, "{first}");
    assert_eq!(
        first["data"]["projects"]["edges"][0]["node"]["name"],
        "Kept"
    );

    // From then on, the hash alone runs it, with other variables too.
    let (_, again) = post(&app, by_hash, token).await;
    assert_eq!(again, first);
    let (_, none) = post(
        &app,
        json!({ "variables": { "n": 0 }, "extensions": extensions(PROJECTS) }),
        token,
    )
    .await;
    assert_eq!(none["data"]["projects"]["edges"], json!([]), "{none}");

    // A hash that is not the query's: refused, and nothing registered.
    let (_, wrong) = post(
        &app,
        json!({ "query": "{ me { id } }", "extensions": extensions("{ me { email } }") }),
        token,
    )
    .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT", "{wrong}");
    assert!(
        wrong["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sha256Hash")
    );
    let (_, still_missing) = post(
        &app,
        json!({ "extensions": extensions("{ me { email } }") }),
        token,
    )
    .await;
    assert_eq!(error_code(&still_missing), "PERSISTED_QUERY_NOT_FOUND");

    // A mutation too, and in a batch beside a document sent as text.
    let rename = "mutation Rename($n: String!) { updateProfile(input: { displayName: $n }) { displayName } }";
    let (_, registered) = post(
        &app,
        json!({ "query": rename, "variables": { "n": "One" }, "extensions": extensions(rename) }),
        token,
    )
    .await;
    assert_eq!(registered["errors"], Value::Null, "{registered}");
    let (_, batch) = post(
        &app,
        json!([
            { "variables": { "n": "Two" }, "extensions": extensions(rename) },
            { "query": "{ me { displayName } }" },
        ]),
        token,
    )
    .await;
    assert_eq!(
        batch[0]["data"]["updateProfile"]["displayName"], "Two",
        "{batch}"
    );
    assert_eq!(batch[1]["data"]["me"]["displayName"], "Two", "{batch}");

    // A malformed extension names what is wrong.
    let (_, malformed) = post(
        &app,
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "xyz" } } }),
        token,
    )
    .await;
    assert_eq!(error_code(&malformed), "BAD_USER_INPUT");
    assert!(
        malformed["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("extensions.persistedQuery.sha256Hash"),
        "{malformed}"
    );
}

async fn a_document_kept_by_hash_runs_over_get_and_mutations_do_not(app: TestApp) {
    let user = app.signup("apq-get@example.com").await;
    let token = user["accessToken"].as_str().expect("token");
    let me = "query Me { me { email } }";
    let ext = extensions(me).to_string();

    // Apollo's link over GET: the hash alone, then with the query.
    let (status, missing) = get(&app, &[("extensions", ext.clone())], token).await;
    assert_eq!(status, 200);
    assert_eq!(
        error_code(&missing),
        "PERSISTED_QUERY_NOT_FOUND",
        "{missing}"
    );
    let (_, first) = get(
        &app,
        &[("query", me.to_owned()), ("extensions", ext.clone())],
        token,
    )
    .await;
    assert_eq!(
        first["data"]["me"]["email"], "apq-get@example.com",
        "{first}"
    );
    let (_, again) = get(
        &app,
        &[("operationName", "Me".to_owned()), ("extensions", ext)],
        token,
    )
    .await;
    assert_eq!(again, first);

    // A mutation kept by hash over POST is still no mutation over GET.
    let rename = "mutation { updateProfile(input: { displayName: \"Linked\" }) { displayName } }";
    let (_, registered) = post(
        &app,
        json!({ "query": rename, "extensions": extensions(rename) }),
        Some(token),
    )
    .await;
    assert_eq!(registered["errors"], Value::Null, "{registered}");
    let (status, refused) = get(
        &app,
        &[("extensions", extensions(rename).to_string())],
        token,
    )
    .await;
    assert_eq!(status, 405, "{refused}");
    let name = app
        .gql("{ me { displayName } }", json!({}), Some(token))
        .await;
    assert_eq!(name["data"]["me"]["displayName"], "Linked");
}

async fn limits_hold_for_a_document_sent_by_hash(app: TestApp) {
    let user = app.signup("apq-limits@example.com").await;
    let token = user["accessToken"].as_str();
    // Cheap with a small page, over the cost limit with a large one: the
    // cost is counted on the kept document with each request's variables.
    let nested = "query($n: Int) { projects(first: $n) { edges { node { tasks(first: 100) {
                  edges { node { id title } } } } } } }";
    let (_, small) = post(
        &app,
        json!({ "query": nested, "variables": { "n": 2 }, "extensions": extensions(nested) }),
        token,
    )
    .await;
    assert_eq!(small["errors"], Value::Null, "{small}");
    let (_, large) = post(
        &app,
        json!({ "variables": { "n": 100 }, "extensions": extensions(nested) }),
        token,
    )
    .await;
    assert_eq!(error_code(&large), "GRAPHQL_VALIDATION_FAILED", "{large}");
    assert!(
        large["errors"][0]["extensions"]["cost"].is_number(),
        "{large}"
    );
    assert_eq!(large["data"], Value::Null);

    // Aliases over the limit: refused when registered and by hash alike.
    let aliases: String = (0..100).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let aliased = format!("{{ {aliases} }}");
    for body in [
        json!({ "query": aliased, "extensions": extensions(&aliased) }),
        json!({ "extensions": extensions(&aliased) }),
    ] {
        let (_, refused) = post(&app, body, token).await;
        assert_eq!(refused["data"], Value::Null, "{refused}");
        assert!(
            ["GRAPHQL_VALIDATION_FAILED", "PERSISTED_QUERY_NOT_FOUND"]
                .contains(&error_code(&refused)),
            "{refused}"
        );
    }
}

async fn subscriptions_run_by_hash_over_websocket(app: TestApp) {
    let user = app.signup("apq-ws@example.com").await;
    let token = user["accessToken"].as_str().expect("token");
    let project = app
        .gql(
            "mutation { createProject(input: { name: \"Live\" }) { id } }",
            json!({}),
            Some(token),
        )
        .await;
    let project_id = project["data"]["createProject"]["id"].clone();
    let events = "subscription { taskEvents { type task { title } } }";
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, token).await;

    // By hash before it is known: the error (as a result, which is where
    // the link looks), then the operation is over.
    ws.send(json!({ "type": "subscribe", "id": "1",
                    "payload": { "extensions": extensions(events) } }))
        .await;
    let refused = ws.data("1").await;
    assert_eq!(
        refused["errors"][0]["message"], "PersistedQueryNotFound",
        "{refused}"
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(ws.next().await.expect("complete")["type"], "complete");

    // With the query it registers; then a second one by hash alone.
    ws.send(json!({ "type": "subscribe", "id": "2",
                    "payload": { "query": events, "extensions": extensions(events) } }))
        .await;
    ws.send(json!({ "type": "subscribe", "id": "3",
                    "payload": { "extensions": extensions(events) } }))
        .await;
    subscriptions_reach(app.addr, 2).await;
    let created = app
        .gql(
            "mutation($p: ID!) { createTask(input: { projectId: $p, title: \"Heard\" }) { id } }",
            json!({ "p": project_id }),
            Some(token),
        )
        .await;
    assert_eq!(created["errors"], Value::Null, "{created}");
    let mut heard = Vec::new();
    for _ in 0..2 {
        let message = ws.next().await.expect("an event");
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(
            message["payload"]["data"]["taskEvents"]["task"]["title"],
            "Heard"
        );
        heard.push(message["id"].as_str().expect("id").to_owned());
    }
    heard.sort();
    assert_eq!(heard, ["2", "3"]);

    // A query by hash over the socket, too.
    let me = "{ me { email } }";
    ws.send(json!({ "type": "subscribe", "id": "4",
                    "payload": { "query": me, "extensions": extensions(me) } }))
        .await;
    assert_eq!(
        ws.data("4").await["data"]["me"]["email"],
        "apq-ws@example.com"
    );
    assert_eq!(ws.next().await.expect("complete")["type"], "complete");
    ws.send(json!({ "type": "subscribe", "id": "5",
                    "payload": { "extensions": extensions(me) } }))
        .await;
    assert_eq!(
        ws.data("5").await["data"]["me"]["email"],
        "apq-ws@example.com"
    );
}

/// A manifest as GraphQL Code Generator's client preset writes it
/// (`persisted-documents.json`: SHA-256 of each document to the document).
fn manifest(documents: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("persisted-documents.json");
    let entries: serde_json::Map<String, Value> = documents
        .iter()
        .map(|document| (sha(document), json!(document)))
        .collect();
    std::fs::write(&path, Value::Object(entries).to_string()).expect("written");
    (dir, path)
}

const SIGNUP: &str =
    "mutation Signup($input: SignupInput!) { signup(input: $input) { accessToken } }";
const ME: &str = "query Me { me { email } }";

on_both_databases!(only_trusted_documents_run_when_a_manifest_is_set);

async fn only_trusted_documents_run_when_a_manifest_is_set(backend: Backend) {
    let (_dir, path) = manifest(&[SIGNUP, ME]);
    let app = TestApp::spawn_with(backend, |config| {
        config.trusted_documents = Some(path.clone());
    })
    .await
    .expect("serves");

    // By documentId (the client preset's form), with variables.
    let input = json!({ "email": "trusted@example.com", "password": crate::support::PASSWORD,
                        "displayName": "T" });
    let (_, signed) = post(
        &app,
        json!({ "documentId": format!("sha256:{}", sha(SIGNUP)), "variables": { "input": input } }),
        None,
    )
    .await;
    assert_eq!(signed["errors"], Value::Null, "{signed}");
    let token = signed["data"]["signup"]["accessToken"]
        .as_str()
        .expect("token");

    // By the persisted-query extension (Apollo's link), and by exact text.
    let (_, by_hash) = post(&app, json!({ "extensions": extensions(ME) }), Some(token)).await;
    assert_eq!(
        by_hash["data"]["me"]["email"], "trusted@example.com",
        "{by_hash}"
    );
    let by_text = app.gql(ME, json!({}), Some(token)).await;
    assert_eq!(by_text, by_hash);
    let (_, by_get) = get(&app, &[("documentId", sha(ME))], token).await;
    assert_eq!(by_get, by_hash);

    // Anything else is refused, and registering is no way in.
    let other = app.gql("{ me { id email } }", json!({}), Some(token)).await;
    assert_eq!(error_code(&other), "TRUSTED_DOCUMENTS_ONLY", "{other}");
    assert_eq!(other["data"], Value::Null);
    let other_text = "{ me { id } }";
    for body in [
        json!({ "query": other_text, "extensions": extensions(other_text) }),
        json!({ "extensions": extensions(other_text) }),
        json!({ "documentId": "unknown-id" }),
    ] {
        let (_, refused) = post(&app, body, Some(token)).await;
        assert_eq!(
            error_code(&refused),
            "PERSISTED_QUERY_NOT_FOUND",
            "{refused}"
        );
        assert_eq!(refused["data"], Value::Null);
    }
    let (_, swapped) = post(
        &app,
        json!({ "query": other_text, "extensions": extensions(ME) }),
        Some(token),
    )
    .await;
    assert_eq!(error_code(&swapped), "BAD_USER_INPUT", "{swapped}");
}

#[tokio::test]
async fn a_manifest_with_a_document_that_does_not_validate_refuses_the_start() {
    let (_dir, path) = manifest(&[ME, "query Nope { me { nope } }", "{ me { id }"]);
    let db = crate::support::TestDb::create(Backend::Sqlite)
        .await
        .expect("SQLite");
    let mut config =
        tasklane::config::Config::with_database(&db.url, Some(crate::support::TEST_SECRET))
            .expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.trusted_documents = Some(path);
    let Err(err) = tasklane::start(config).await else {
        panic!("started with a bad manifest");
    };
    let shown = format!("{err:?}");
    assert!(shown.contains("TASKLANE_TRUSTED_DOCUMENTS"), "{shown}");
    assert!(shown.contains("document "), "{shown}");
}
